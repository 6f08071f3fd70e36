"""Read any supported migration file into chunks of text columns; tell a file's type from its name."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from omnimig.exceptions import ReadError
from omnimig.i18n import N_, _
from omnimig.io.sniff import sniff_format
from omnimig.io.table import Chunk, Notice, ReadOptions, Source
from omnimig.schemas.rules import migration_types

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}

__all__ = [
    "FORMATS",
    "Chunk",
    "Notice",
    "ReadError",
    "Source",
    "file_format",
    "open_source",
    "regular_file",
    "type_from_name",
]


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise ReadError(
            _("{path}: unsupported file extension {extension}; use one of {allowed}").format(
                path=path, extension=repr(path.suffix) if path.suffix else repr(_("(none)")), allowed=allowed
            )
        )
    return fmt


def type_from_name(path: Path) -> str | None:
    """The migration type a file name says, from the stems in ``datapackage.json``.

    The stem is split into words (``test_order-item`` -> test, order, item); the longest stem
    whose words appear consecutively wins, so ``order_items`` is not taken for ``order``.
    Returns ``None`` when no stem, or two different types, match.
    """
    words = [w for w in re.split(r"[^a-z]+", path.stem.lower()) if w]
    found: dict[str, int] = {}
    for mtype in migration_types():
        for stem in mtype.stems:
            parts = stem.lower().split("_")
            for i in range(len(words) - len(parts) + 1):
                if words[i : i + len(parts)] == parts:
                    found[mtype.name] = max(found.get(mtype.name, 0), len(parts))
    if not found:
        return None
    longest = max(found.values())
    best = [name for name, size in found.items() if size == longest]
    return best[0] if len(best) == 1 else None


_KINDS = (
    (stat.S_ISFIFO, N_("a named pipe (FIFO)")),
    (stat.S_ISCHR, N_("a character device")),
    (stat.S_ISBLK, N_("a block device")),
    (stat.S_ISSOCK, N_("a socket")),
)


def cannot_read(path: Path | str, exc: OSError) -> str:
    """``orders.csv: cannot read the file: Permission denied``: an operating system's refusal, in one line.

    The system's own reason (``strerror``) stays as the system gives it.
    """
    return _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)


def regular_file(path: Path) -> os.stat_result:
    """``os.stat`` of a file that may be opened; ReadError for anything else.

    Checked before any open: opening a FIFO blocks until a writer comes, so it is never opened.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ReadError(_("{path}: no such file or directory").format(path=path)) from None
    except OSError as exc:
        raise ReadError(cannot_read(path, exc)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ReadError(_("{path}: is a directory").format(path=path))
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _KINDS if test(info.st_mode)), N_("not a regular file"))
        raise ReadError(
            _("{path}: is {kind}, not a regular file; give the path of a saved file").format(path=path, kind=_(kind))
        )
    return info


def open_source(path: Path, chunk_rows: int = 200_000, options: ReadOptions | None = None) -> Source:
    """Open ``path`` for reading; raises ``ReadError`` with a one-line reason.

    The format comes from the file's first bytes where they contradict the extension (a web
    panel's ``.xls`` that is an HTML table or CSV text, an ``.xlsx`` named ``.xls``, a CSV named
    ``.xlsx``), with a ``file-format`` notice saying what the file really is.
    """
    regular_file(path)
    named = file_format(path)
    fmt, notice = sniff_format(path, named)
    options = options or ReadOptions()
    source = _open(path, fmt, chunk_rows, named, options)
    source.options = options
    if notice is not None:
        source.notices.insert(0, notice)
    return source


def _open(path: Path, fmt: str, chunk_rows: int, named: str, options: ReadOptions) -> Source:
    if fmt == "csv":
        from omnimig.io.read_csv import read_csv

        return read_csv(path, chunk_rows)
    if fmt == "html":
        from omnimig.io.read_html import read_html

        # Written back (--split, upload parts) as the workbook it is named as.
        return read_html(path, chunk_rows, named if named in SUFFIXES else "csv")
    if fmt == "json":
        from omnimig.io.read_json import read_json

        return read_json(path, chunk_rows)
    return _read_workbook(path, fmt, chunk_rows, options)


def _read_workbook(path: Path, fmt: str, chunk_rows: int, options: ReadOptions) -> Source:
    """Read a workbook; one whose extension lies is read through a private link with the right one.

    The Excel reader chooses its parser by the extension, so an XLSX named ``.xls`` would be
    parsed as XLS; a link named for what the file is fixes that without copying it. The link
    lives in a private folder until the chunks are read, and messages name the real path.
    """
    from omnimig.io.read_excel import read_excel

    if path.suffix.lower() in SUFFIXES[fmt]:
        return read_excel(path, fmt, chunk_rows, sheet=options.sheet, header_row=options.header_row)
    folder = Path(tempfile.mkdtemp(prefix="omnimig-"))  # 0700
    link = folder / f"file{SUFFIXES[fmt][0]}"
    try:
        link.symlink_to(path.resolve())
        source = read_excel(link, fmt, chunk_rows, sheet=options.sheet, header_row=options.header_row)
    except ReadError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise ReadError(str(exc).replace(str(link), str(path))) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    source.path = str(path)
    source.chunks = _then_remove(source.chunks, folder, link, path)
    return source


SUFFIXES = {"xlsx": (".xlsx", ".xlsm"), "xls": (".xls",)}


def _then_remove(chunks: Iterator[Chunk], folder: Path, link: Path, path: Path) -> Iterator[Chunk]:
    try:
        yield from chunks
    except ReadError as exc:
        raise ReadError(str(exc).replace(str(link), str(path))) from None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
