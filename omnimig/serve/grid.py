"""The rows of each validated file, paged from disk, with their problems placed on cells.

A 1,000,000-row file must scroll without the browser (or the server) holding it. After
validation each file is read once more (as the annotated workbook reads it) into a private
SQLite file: one table of rows per file (position, file row, the cells as JSON) and one table of
problems (file, row, column). A page is then one indexed query, whatever its position, and "rows
with problems of rule X" is another. SQLite is in the standard library; nothing here judges a
value: the problems are the report's, placed on the columns the engine itself mapped.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimig.i18n import _
from omnimig.io.private import open_private

if TYPE_CHECKING:
    from omnimig.validation.problem import FileResult, Problem
    from omnimig.validation.result import Report

#: Rows read per chunk when the file is read again.
READ_CHUNK_ROWS = 10_000
#: Characters of a cell shown in the grid (the whole value is in the downloads).
CELL_CHARS = 300
#: Characters of one problem message kept for a cell.
MESSAGE_CHARS = 500


@dataclass
class Cell:
    text: str
    severity: str | None = None  # error, warning, or None when the cell has no problem
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # (severity, rule, message)


@dataclass
class Row:
    row: int  # the row number a person finds in the file (header = 1; JSON: the record number)
    cells: list[Cell]
    severity: str | None  # the worst problem of the row
    problems: list[tuple[str, str, str]]  # problems of the whole row (no column)


@dataclass
class Page:
    """One page of a file's rows: what the grid shows and what the JSON endpoint returns."""

    columns: list[str]
    header: list[Cell]
    rows: list[Row]
    total: int  # rows matching the filter
    page: int
    pages: int
    size: int

    def to_dict(self) -> dict[str, Any]:
        def cell(c: Cell) -> dict[str, Any]:
            return {"text": c.text, "severity": c.severity, "problems": [list(p) for p in c.problems]}

        return {
            "columns": self.columns,
            "header": [cell(c) for c in self.header],
            "rows": [
                {
                    "row": r.row,
                    "severity": r.severity,
                    "problems": [list(p) for p in r.problems],
                    "cells": [cell(c) for c in r.cells],
                }
                for r in self.rows
            ],
            "total": self.total,
            "page": self.page,
            "pages": self.pages,
            "size": self.size,
        }


@dataclass
class FileGrid:
    """What the index holds of one file: its columns and how far the copy of its rows has got."""

    number: int
    result: FileResult
    columns: list[str] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)
    copied: int = 0
    ready: bool = False
    note: str | None = None  # why the rows cannot be shown (the file could not be read again)


class Grid:
    """The paged rows of every file of one report, in ``path`` (created 0600, deleted with the session)."""

    def __init__(self, path: Path, report: Report) -> None:
        open_private(path, "wb").close()
        self.path = path
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=OFF")  # no journal file beside it; a crash loses only a cache
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("PRAGMA temp_store=MEMORY")
        self._db.execute(
            "CREATE TABLE problems (file INTEGER, row INTEGER, col INTEGER, severity TEXT, rule TEXT, message TEXT)"
        )
        self._lock = threading.Lock()
        self.files = [FileGrid(n, r) for n, r in enumerate(report.files)]
        self.header_rows = {n: r.header_row for n, r in enumerate(report.files)}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- building -------------------------------------------------------------------------------
    def build(self) -> None:
        """Copy every file's rows and problems into the index, file by file (run in a background thread)."""
        for f in self.files:
            try:
                self._build_file(f)
            except sqlite3.ProgrammingError:  # the session was deleted meanwhile
                return
            except Exception as exc:  # one file that cannot be read again: its grid says why
                f.note = _("the rows cannot be shown: {reason}").format(reason=exc)
            f.ready = True

    def _build_file(self, f: FileGrid) -> None:
        from omnimig.exceptions import ReadError
        from omnimig.io import open_source
        from omnimig.io.write import column_keys
        from omnimig.validation.workbook import column_positions  # as the workbook places problems

        r = f.result
        if not r.readable or r.format is None:
            f.note = _("the file could not be read, so it has no rows to show")
            return
        try:
            source = open_source(Path(r.path), READ_CHUNK_ROWS, r.read_options)
        except ReadError as exc:
            f.note = _("the file could not be read again: {reason}").format(reason=exc)
            return
        f.columns = column_keys(source)
        f.positions = column_positions(r, tuple(f.columns))
        table = f"rows_{f.number}"
        with self._lock:
            self._db.execute(f"CREATE TABLE {table} (pos INTEGER PRIMARY KEY, row INTEGER, cells TEXT)")
            self._db.execute(f"CREATE INDEX {table}_row ON {table}(row)")
        self._copy_problems(f)
        pos = 0
        for chunk in source.chunks:
            data = chunk.data.reindex(columns=f.columns)
            values = data.to_numpy(dtype=object, na_value=None).tolist() if f.columns else [[]] * len(chunk.rows)
            batch = [
                (pos + i, row, json.dumps(cells, ensure_ascii=True))
                for i, (row, cells) in enumerate(zip(chunk.rows.tolist(), values, strict=True))
            ]
            with self._lock:
                self._db.executemany(f"INSERT INTO {table} VALUES (?, ?, ?)", batch)
            pos += len(batch)
            f.copied = pos
        with self._lock:
            self._db.commit()  # one transaction per file: its rows are on disk, not held by the connection

    def _copy_problems(self, f: FileGrid) -> None:
        batch: list[tuple[Any, ...]] = []

        def flush() -> None:
            with self._lock:
                self._db.executemany("INSERT INTO problems VALUES (?, ?, ?, ?, ?, ?)", batch)
            batch.clear()

        for p in f.result.problems:
            batch.append((f.number, p.row, self._column(f, p), p.severity, p.rule, p.message[:MESSAGE_CHARS]))
            if len(batch) >= 10_000:
                flush()
        flush()
        with self._lock:
            self._db.execute(
                f"CREATE INDEX IF NOT EXISTS problems_{f.number} ON problems(file, row) WHERE file = {f.number}"
            )

    @staticmethod
    def _column(f: FileGrid, p: Problem) -> int | None:
        """The 0-based column of a problem; -1 for the row as a whole; None when it has no cell."""
        if p.row is None:
            return None
        if p.field is None:
            return -1
        return f.positions.get(p.field)

    # -- reading --------------------------------------------------------------------------------
    def rules(self, number: int) -> list[tuple[str, int]]:
        """The rules with problems on rows of file ``number``, with how many rows each."""
        with self._lock:
            found = self._db.execute(
                "SELECT rule, COUNT(DISTINCT row) FROM problems WHERE file = ? AND row IS NOT NULL "
                "AND col IS NOT NULL GROUP BY rule ORDER BY rule",
                (number,),
            ).fetchall()
        return [(rule, n) for rule, n in found]

    def page(
        self, number: int, page: int = 0, size: int = 50, only_problems: bool = False, rule: str | None = None
    ) -> Page:
        """Rows of file ``number``: page ``page`` (0-based) of ``size``, every row or only those with problems."""
        from omnimig.io.safe_text import cut, visible
        from omnimig.io.write import header_label

        f = self.files[number]
        header_row = self.header_rows[number]
        filtered = only_problems or rule is not None
        where, args = self._filter(number, rule, header_row)
        with self._lock:
            if filtered:
                total = self._db.execute(f"SELECT COUNT(DISTINCT row) FROM problems WHERE {where}", args).fetchone()[0]
            else:
                total = f.copied
        pages = max(1, -(-total // size))
        page = max(0, min(page, pages - 1))
        with self._lock:
            if not f.columns and not f.copied:
                found: list[tuple[int, str]] = []
            elif filtered:
                wanted = [
                    r
                    for (r,) in self._db.execute(
                        f"SELECT DISTINCT row FROM problems WHERE {where} ORDER BY row LIMIT ? OFFSET ?",
                        (*args, size, page * size),
                    )
                ]
                marks = ",".join("?" * len(wanted))
                found = (
                    self._db.execute(
                        f"SELECT row, cells FROM rows_{number} WHERE row IN ({marks}) ORDER BY row", wanted
                    ).fetchall()
                    if wanted
                    else []
                )
            else:
                found = self._db.execute(
                    f"SELECT row, cells FROM rows_{number} WHERE pos >= ? AND pos < ? ORDER BY pos",
                    (page * size, (page + 1) * size),
                ).fetchall()
            rows = [r for r, _ in found]
            marks = ",".join("?" * len(rows))
            problems = (
                self._db.execute(
                    f"SELECT row, col, severity, rule, message FROM problems WHERE file = ? AND row IN ({marks}) "
                    "AND col IS NOT NULL ORDER BY rowid",
                    (number, *rows),
                ).fetchall()
                if rows
                else []
            )
            head = (
                self._db.execute(
                    "SELECT row, col, severity, rule, message FROM problems WHERE file = ? AND row = ? AND col >= 0",
                    (number, header_row),
                ).fetchall()
                if header_row is not None
                else []
            )
        placed: dict[tuple[int, int], list[tuple[str, str, str]]] = {}
        for row, col, severity, rule_, message in problems:
            placed.setdefault((row, col), []).append((severity, rule_, visible(message)))
        out: list[Row] = []
        for row, cells in found:
            values = json.loads(cells)
            whole = placed.get((row, -1), [])
            shown = [
                _cell(cut(visible("" if v is None else str(v)), CELL_CHARS), placed.get((row, i), []))
                for i, v in enumerate(values)
            ]
            marks_ = [p for c in shown for p in c.problems] + whole
            out.append(Row(row, shown, _worst(marks_), whole))
        header_marks: dict[int, list[tuple[str, str, str]]] = {}
        for _row, col, severity, rule_, message in head:
            header_marks.setdefault(col, []).append((severity, rule_, visible(message)))
        header = [_cell(visible(header_label(c)), header_marks.get(i, [])) for i, c in enumerate(f.columns)]
        return Page([visible(header_label(c)) for c in f.columns], header, out, total, page, pages, size)

    def page_of(self, number: int, row: int, size: int, only_problems: bool = False, rule: str | None = None) -> int:
        """The page on which file row ``row`` is shown (0 when it is not in the filtered rows)."""
        filtered = only_problems or rule is not None
        with self._lock:
            if filtered:
                where, args = self._filter(number, rule, self.header_rows[number])
                before = self._db.execute(
                    f"SELECT COUNT(DISTINCT row) FROM problems WHERE {where} AND row < ?", (*args, row)
                ).fetchone()[0]
            else:
                found = self._db.execute(f"SELECT pos FROM rows_{number} WHERE row = ?", (row,)).fetchone()
                before = 0 if found is None else found[0]
        return before // size

    @staticmethod
    def _filter(number: int, rule: str | None, header_row: int | None) -> tuple[str, tuple[Any, ...]]:
        """Problems on data rows (not the header, not the whole file) of one file, of one rule or any."""
        where = "file = ? AND row IS NOT NULL AND col IS NOT NULL"
        args: tuple[Any, ...] = (number,)
        if header_row is not None:
            where += " AND row != ?"
            args += (header_row,)
        if rule is not None:
            where += " AND rule = ?"
            args += (rule,)
        return where, args


def _worst(problems: list[tuple[str, str, str]]) -> str | None:
    if not problems:
        return None
    return "error" if any(p[0] == "error" for p in problems) else "warning"


def _cell(text: str, problems: list[tuple[str, str, str]]) -> Cell:
    ordered = sorted(problems, key=lambda p: p[0] != "error")
    return Cell(text, _worst(ordered), ordered)
