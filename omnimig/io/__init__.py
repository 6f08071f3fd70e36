"""Read any supported migration file into chunks of text columns; tell a file's type from its name."""

from __future__ import annotations

import re
from pathlib import Path

from omnimig.io.table import Chunk, Notice, ReadError, Source
from omnimig.validate.rules import migration_types

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".xls": "xls",
    ".json": "json",
}

__all__ = ["FORMATS", "Chunk", "Notice", "ReadError", "Source", "file_format", "open_source", "type_from_name"]


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        allowed = ", ".join(sorted(FORMATS))
        raise ReadError(f"{path}: unsupported file extension {path.suffix or '(none)'!r}; use one of {allowed}")
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


def open_source(path: Path, chunk_rows: int = 200_000) -> Source:
    """Open ``path`` for reading; raises ``ReadError`` with a one-line reason."""
    if not path.exists():
        raise ReadError(f"{path}: no such file or directory")
    if path.is_dir():
        raise ReadError(f"{path}: is a directory")
    fmt = file_format(path)
    if fmt == "csv":
        from omnimig.io.read_csv import read_csv

        return read_csv(path, chunk_rows)
    if fmt == "json":
        from omnimig.io.read_json import read_json

        return read_json(path, chunk_rows)
    from omnimig.io.read_excel import read_excel

    return read_excel(path, fmt, chunk_rows)
