"""Streaming writers for CSV, XLSX and JSON that write cells back exactly as they were read.

A chunk's text cells go out unchanged; for JSON the cell kinds the reader kept
(number, string, boolean, null, object, array, absent) restore each value's JSON type,
so ``123.90`` stays the number literal ``123.90``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from types import TracebackType
from typing import IO, Self

import pandas as pd
import xlsxwriter

from omnimig.io.table import Chunk

#: The format a file is written in when it was read in another one (xlsxwriter cannot write .xls).
WRITE_FORMAT = {"csv": "csv", "xlsx": "xlsx", "xls": "xlsx", "json": "json"}
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}
REPRODUCIBLE_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class TableWriter:
    """Write rows of one table to ``path`` in ``fmt``; use as a context manager."""

    def __init__(self, path: Path, fmt: str, columns: list[str]) -> None:
        self.path = path
        self.fmt = fmt
        self.columns = columns
        self.rows = 0
        self._handle: IO[str] | None = None
        self._csv: csv.writer | None = None  # type: ignore[valid-type]
        self._book: xlsxwriter.Workbook | None = None
        self._sheet = None
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            self._handle = path.open("w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._handle, lineterminator="\r\n")
            self._csv.writerow(columns)
        elif fmt == "xlsx":
            self._book = xlsxwriter.Workbook(
                str(path),
                {
                    "constant_memory": True,
                    "strings_to_numbers": False,
                    "strings_to_formulas": False,
                    "strings_to_urls": False,
                },
            )
            # A fixed creation time keeps the same rows byte-identical from run to run.
            self._book.set_properties({"created": REPRODUCIBLE_TIME})
            self._sheet = self._book.add_worksheet()
            for col, name in enumerate(columns):
                self._sheet.write_string(0, col, name)
        elif fmt == "json":
            self._handle = path.open("w", encoding="utf-8")
            self._handle.write("[")
        else:
            raise ValueError(f"cannot write format {fmt!r}")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def write(self, chunk: Chunk, mask: pd.Series, extra: dict[str, list[str]] | None = None) -> None:
        """Write the rows of ``chunk`` where ``mask`` holds, plus ``extra`` columns (same length as the rows)."""
        data = chunk.data[mask]
        kinds = chunk.kinds[mask] if chunk.kinds is not None else None
        names = list(data.columns)
        values = data.astype(object).where(data.notna(), None).to_numpy().tolist()
        kind_rows = kinds.astype(str).to_numpy().tolist() if kinds is not None else None
        extra = extra or {}
        for i, row in enumerate(values):
            more = [extra[c][i] for c in extra]
            if self.fmt == "csv":
                self._csv.writerow([*("" if v is None else v for v in row), *more])  # type: ignore[union-attr]
            elif self.fmt == "xlsx":
                r = self.rows + 1
                for col, value in enumerate([*row, *more]):
                    if value not in (None, ""):
                        self._sheet.write_string(r, col, value)  # type: ignore[union-attr]
            else:
                kind_row = kind_rows[i] if kind_rows is not None else ["string"] * len(row)
                parts = []
                for name, value, kind in zip(names, row, kind_row, strict=True):
                    if kind == "absent":
                        continue
                    parts.append(f"{json.dumps(name, ensure_ascii=False)}: {_json_value(value, kind)}")
                for name, column in extra.items():
                    parts.append(f"{json.dumps(name, ensure_ascii=False)}: {json.dumps(column[i], ensure_ascii=False)}")
                sep = "\n  " if self.rows == 0 else ",\n  "
                self._handle.write(sep + "{" + ", ".join(parts) + "}")  # type: ignore[union-attr]
            self.rows += 1

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None
        if self._handle is not None:
            if self.fmt == "json":
                self._handle.write("\n]\n" if self.rows else "]\n")
            self._handle.close()
            self._handle = None


def _json_value(text: str | None, kind: str) -> str:
    if kind == "null" or text is None:
        return "null"
    if kind in ("number", "boolean", "object", "array"):
        return text
    return json.dumps(text, ensure_ascii=False)
