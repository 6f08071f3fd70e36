"""``--split OUT``: migrate what is ready today, hold back the rest with the reason.

A row is ready when it has no error and every row it refers to (through the foreign keys in
``datapackage.json``) is ready. Held rows keep their data and gain a ``problems`` column;
a row held only because its parent is held says so (``held: order ORD-1 has errors``).
Per file, ready + held = the rows read, and every column of a row is kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from omnimig.exceptions import ReadError
from omnimig.i18n import _
from omnimig.i18n import number as figure
from omnimig.io import Chunk, open_source
from omnimig.io.private import private_dir, write_privately
from omnimig.io.write import (
    SUFFIX,
    WRITE_FORMAT,
    XLSX_MAX_CELL,
    CellTooLong,
    TableWriter,
    WriteError,
    column_keys,
    header_label,
)
from omnimig.schemas.rules import migration_types
from omnimig.validation.bundle import key_series, member
from omnimig.validation.problem import FileResult

PROBLEMS_COLUMN = "problems"
#: The list of files the last split into a folder wrote, so the next one can remove what it no longer writes.
MANIFEST = ".omnimig-split.json"
MANIFEST_MAX_BYTES = 1 << 20

#: ``progress(input path, rows written, rows in the file)``, called after each chunk.
Progress = Callable[[Path, int, int], None]


@dataclass(frozen=True)
class SplitCount:
    path: str
    rows: int
    ready: int
    held: int
    ready_path: str
    held_path: str

    def line(self) -> str:
        """``split orders.csv: 4 rows = 3 ready (out/ready/orders.csv) + 1 held (out/held/orders.csv)``."""
        ready = (
            _("{n} ready ({path})").format(n=figure(self.ready), path=self.ready_path) if self.ready else _("0 ready")
        )
        held = _("{n} held ({path})").format(n=figure(self.held), path=self.held_path) if self.held else _("0 held")
        return _("split {file}: {rows} rows = {ready} + {held}").format(
            file=self.path, rows=figure(self.rows), ready=ready, held=held
        )


def _file_level(result: FileResult) -> list[str]:
    """Errors that concern every row: the whole file, or (for tables) the header row."""
    header = result.header_row
    return [
        f"[{p.rule}] {p.message}"
        for p in result.problems
        if p.severity == "error" and (p.row is None or p.row == header)
    ]


def _row_reasons(result: FileResult) -> dict[int, list[str]]:
    header = result.header_row
    reasons: dict[int, list[str]] = defaultdict(list)
    for p in result.problems:
        if p.severity == "error" and p.row is not None and p.row != header:
            reasons[p.row].append(f"[{p.rule}] {p.message}")
    return reasons


def held_reasons(results: list[FileResult]) -> dict[str, dict[int, list[str]]]:
    """For each file, the rows to hold and why; dependants of held rows are held too."""
    readable = [r for r in results if r.format is not None and r.keys is not None]
    held: dict[str, dict[int, list[str]]] = {}
    for r in readable:
        reasons = _row_reasons(r)
        whole = _file_level(r)
        if whole and r.keys is not None:
            for row in r.keys["row"].tolist():
                reasons[int(row)].extend(whole)
        held[r.path] = reasons
    by_type: dict[str, list[FileResult]] = defaultdict(list)
    for r in readable:
        by_type[r.type or ""].append(r)
    # Upload order: a parent's held rows are final before its children are looked at.
    for mtype in migration_types():
        for fk in mtype.foreign_keys:
            parent_type = fk["reference"]["resource"]
            ready_keys, held_keys = _key_states(by_type.get(parent_type, []), fk["reference"]["fields"], held)
            for child in by_type.get(mtype.name, []):
                keys = child.keys
                if keys is None or any(f not in keys for f in fk["fields"]):
                    continue
                values = key_series(keys, fk["fields"])
                blocked = member(values, held_keys) & ~member(values, ready_keys)
                for row, value in zip(keys["row"][blocked].tolist(), values[blocked].tolist(), strict=True):
                    held[child.path][int(row)].append(
                        _("held: {type} {key} has errors").format(type=parent_type, key=value)
                    )
    return held


def _key_states(
    parents: list[FileResult], fields: list[str], held: dict[str, dict[int, list[str]]]
) -> tuple[set[str], set[str]]:
    ready: set[str] = set()
    blocked: set[str] = set()
    for p in parents:
        keys = p.keys
        if keys is None or any(f not in keys for f in fields):
            continue
        values = key_series(keys, fields)
        is_held = keys["row"].isin(list(held[p.path]))
        blocked.update(values[is_held].dropna().tolist())
        ready.update(values[~is_held].dropna().tolist())
    return ready, blocked


def split_bundle(results: list[FileResult], out: Path, progress: Progress | None = None) -> list[SplitCount]:
    """Write ``out/ready/`` and ``out/held/``; one file each per input file that could be read.

    Every column of every row is written back as read (repeated header columns included); the
    ``held/`` CSV, which people open, has formula-like cells neutralised. The files are written
    into a private staging folder first and moved into place only when all of them are written,
    so a failure (``WriteError``: a value the format cannot hold; ``OSError``) leaves no
    half-split bundle behind. ``progress(path, rows_done, rows_total)`` is called after each chunk.
    """
    held = held_reasons(results)
    if not out.exists():
        private_dir(out)
    staging = Path(tempfile.mkdtemp(prefix=".split-", dir=out))
    try:
        counts, moves = _write_all(results, held, staging, out, progress)
        earlier = _written_before(out)
        for staged, final in moves:
            private_dir(final.parent)
            os.replace(staged, final)
        written = {final.relative_to(out).as_posix() for _, final in moves}
        # A file an earlier split wrote here that this one does not (every row of that input is
        # held now) would be uploaded again with old rows: it goes. Nothing else is touched.
        for name in sorted(earlier - written):
            (out / name).unlink(missing_ok=True)
        write_privately(out / MANIFEST, json.dumps(sorted(written)).encode("utf-8"))  # all of it, or the last one
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return counts


def _written_before(out: Path) -> set[str]:
    """The files the last split into ``out`` wrote (``ready/x`` and ``held/x`` names only)."""
    path = out / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > MANIFEST_MAX_BYTES:
            return set()  # not ours, or not a list we wrote: nothing is removed
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return set()
    if not isinstance(names, list):
        return set()
    return {
        n
        for n in names
        if isinstance(n, str) and re.fullmatch(r"(ready|held)/[^/\\]+", n) and n.split("/")[1] not in (".", "..")
    }


def _write_all(
    results: list[FileResult],
    held: dict[str, dict[int, list[str]]],
    staging: Path,
    out: Path,
    progress: Progress | None,
) -> tuple[list[SplitCount], list[tuple[Path, Path]]]:
    counts = []
    moves: list[tuple[Path, Path]] = []
    used: set[str] = set()
    for r in results:
        if r.path not in held:
            continue
        fmt = WRITE_FORMAT[r.format or "csv"]
        name = _unique_name(Path(r.path).stem + SUFFIX[fmt], used)
        reasons = held[r.path]
        held_rows = {row for row in reasons if reasons[row]}
        try:
            source = open_source(Path(r.path), options=r.read_options)
        except ReadError as exc:  # changed or gone since it was validated
            raise WriteError(_("cannot split: {error}; nothing was written").format(error=exc)) from None
        # A held file split again gets its problems column replaced, not doubled.
        columns = [c for c in column_keys(source) if header_label(c) != PROBLEMS_COLUMN]
        ready_path, held_path = out / "ready" / name, out / "held" / name
        staged_ready, staged_held = staging / "ready" / name, staging / "held" / name
        # An output with no rows is not written: an empty ready file whose header lacks a
        # required column would make the ready bundle fail validation for nothing.
        done = 0
        try:
            with (
                _writer(staged_ready, ready_path, fmt, columns, r.rows - len(held_rows)) as ready,
                _writer(staged_held, held_path, fmt, [*columns, PROBLEMS_COLUMN], len(held_rows), people=True) as hold,
            ):
                for chunk in source.chunks:
                    chunk = _without(chunk, PROBLEMS_COLUMN)
                    is_held = chunk.rows.isin(held_rows)
                    ready.write(chunk, ~is_held)
                    texts = [_problems_text(reasons[int(row)], fmt) for row in chunk.rows[is_held].tolist()]
                    hold.write(chunk, is_held, {PROBLEMS_COLUMN: texts})
                    done += len(chunk.rows)
                    if progress is not None:
                        progress(Path(r.path), done, r.rows)
        except CellTooLong as exc:
            where = _("the header") if exc.row is None else _("row {row}").format(row=exc.row)
            raise CellTooLong(
                _(
                    "{file}: cannot split: {where}, column {column}, holds {length} characters and {path} would cut "
                    "it (an XLSX cell holds at most {limit}); nothing was written: save the file as CSV or JSON and "
                    "split that"
                ).format(
                    file=r.path,
                    where=where,
                    column=repr(exc.column),
                    length=figure(exc.length),
                    path=exc.path,
                    limit=figure(XLSX_MAX_CELL),
                ),
                path=exc.path,
                row=exc.row,
                column=exc.column,
                length=exc.length,
            ) from None
        except WriteError as exc:
            raise WriteError(
                _("{file}: cannot split: {error}; nothing was written").format(file=r.path, error=exc)
            ) from None
        except ReadError as exc:
            raise WriteError(_("cannot split: {error}; nothing was written").format(error=exc)) from None
        if done != r.rows:
            raise WriteError(
                _(
                    "{file}: cannot split: the file has {rows} rows now but {before} when it was validated; "
                    "nothing was written: validate and split it again"
                ).format(file=r.path, rows=done, before=r.rows)
            )
        if ready.rows:
            moves.append((staged_ready, ready_path))
        if hold.rows:
            moves.append((staged_held, held_path))
        counts.append(
            SplitCount(
                r.path,
                r.rows,
                ready.rows,
                hold.rows,
                str(ready_path) if ready.rows else "",
                str(held_path) if hold.rows else "",
            )
        )
    return counts, moves


def _problems_text(reasons: list[str], fmt: str) -> str:
    """The ``problems`` cell of a held row. In XLSX it is kept within a cell's 32,767 characters
    (a wide file's header errors repeat on every row): the rest are counted, never cut mid-word."""
    text = "; ".join(reasons)
    if fmt != "xlsx" or len(text) <= XLSX_MAX_CELL:
        return text
    kept: list[str] = []
    size = 0
    for n, reason in enumerate(reasons):
        tail = "; " + _("… and {n} more problems (see the validation report)").format(n=figure(len(reasons) - n))
        if size + len(reason) + 2 + len(tail) > XLSX_MAX_CELL:
            return "; ".join(kept) + tail
        kept.append(reason)
        size += len(reason) + 2
    return text


class _NoFile:
    """Stands in for a writer when an output would have no rows."""

    rows = 0

    def __enter__(self) -> _NoFile:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, chunk: Chunk, mask: pd.Series, extra: dict[str, list[str]] | None = None) -> None:
        if mask.any():  # the count of rows to write was wrong: never drop them silently
            raise WriteError(f"internal error: {int(mask.sum())} rows to write but no file was planned for them")


def _writer(
    path: Path, final: Path, fmt: str, columns: list[str], rows: int, people: bool = False
) -> TableWriter | _NoFile:
    return TableWriter(path, fmt, columns, for_people=people, shown_as=final) if rows else _NoFile()


def _without(chunk: Chunk, label: str) -> Chunk:
    """``chunk`` without the columns headed ``label`` (repeats included)."""
    drop = [c for c in chunk.data.columns if header_label(c) == label]
    if not drop:
        return chunk
    kinds = chunk.kinds.drop(columns=[c for c in drop if c in chunk.kinds]) if chunk.kinds is not None else None
    return Chunk(chunk.data.drop(columns=drop), chunk.rows, kinds, chunk.notices)


def _unique_name(name: str, used: set[str]) -> str:
    """Two inputs with one name (from two folders) must not overwrite each other."""
    candidate, n = name, 1
    stem, dot, suffix = name.rpartition(".")
    while candidate.lower() in used:
        n += 1
        candidate = f"{stem}-{n}{dot}{suffix}"
    used.add(candidate.lower())
    return candidate
