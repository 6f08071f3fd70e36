"""XLSX and legacy XLS: the first sheet, header in row 1, every cell turned into text."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from python_calamine import CalamineWorkbook

from omnimig.io.read_csv import _unique_header
from omnimig.io.table import Chunk, ReadError, Source


def cell_text(value: object) -> str:
    """Excel stores numbers as floats and dates as serials; give the text a person typed.

    ``1.0`` becomes ``1``, dates become ISO text, booleans ``true``/``false``. A number stored as
    text (``00123``) is already a string and stays as it is.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return text[:-7] if text.endswith(".000000") else text
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def read_excel(path: Path, file_format: str, chunk_rows: int = 200_000) -> Source:
    try:
        book = CalamineWorkbook.from_path(str(path))
        if not book.sheet_names:
            raise ReadError(f"{path}: the workbook has no sheets")
        sheet = book.get_sheet_by_index(0)
        # Row by row: calamine holds the sheet's cells compactly in Rust; only a chunk of rows
        # becomes Python objects at a time (to_python() would make the whole sheet Python lists).
        grid = sheet.iter_rows()
        first = next(grid, None)
    except ReadError:
        raise
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file") from None
    except Exception as exc:  # calamine raises its own error types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReadError(f"{path}: not a readable {file_format.upper()} workbook ({reason})") from None
    if first is None or not any(cell_text(c).strip() for c in first):
        raise ReadError(f"{path}: row 1 of the first sheet is empty; row 1 must hold the column names")
    header = [cell_text(c) for c in first]
    while header and header[-1] == "":
        header.pop()
    columns, duplicates = _unique_header(header)
    return Source(
        path=str(path),
        format=file_format,
        columns=tuple(columns),
        chunks=_chunks(grid, header, chunk_rows),
        duplicate_columns=tuple(duplicates),
    )


def _column_text(values: tuple[object, ...]) -> list[str]:
    """``cell_text`` of a column; a column of strings (the usual case) is taken as it is."""
    if all(type(v) is str for v in values):
        return list(values)  # type: ignore[arg-type]
    return [cell_text(v) for v in values]


def _chunks(grid: Iterator[list[object]], header: list[str], chunk_rows: int) -> Iterator[Chunk]:
    keep = [i for i, name in enumerate(header) if name not in header[:i]]
    names = [header[i] for i in keep]
    width = max(keep, default=-1) + 1
    part: list[list[object]] = []
    blank: list[list[object]] = []  # empty rows held back: trailing ones are formatting residue
    start = 2  # sheet row of part[0]

    def frame(rows: list[list[object]], first: int) -> Chunk:
        padded = [row if len(row) >= width else [*row, *([""] * (width - len(row)))] for row in rows]
        cells = list(zip(*padded, strict=True)) if padded and width else []
        data = {name: _column_text(cells[i]) for name, i in zip(names, keep, strict=True)} if cells else {}
        frame = pd.DataFrame(
            {name: pd.array(values, dtype="string[pyarrow]") for name, values in data.items()},
            index=pd.RangeIndex(len(rows)),
        )
        if not keep:
            frame = pd.DataFrame(index=range(len(rows)))
        return Chunk(data=frame, rows=pd.Series(range(first, first + len(rows)), index=frame.index))

    for row in grid:
        if row.count("") + row.count(None) == len(row):
            blank.append(row)
            continue
        for held in (*blank, row):
            part.append(held)
            if len(part) == chunk_rows:
                yield frame(part, start)
                start += len(part)
                part = []
        blank = []
    if part:
        yield frame(part, start)
