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
        grid = sheet.to_python(skip_empty_area=False)
    except ReadError:
        raise
    except FileNotFoundError:
        raise ReadError(f"{path}: no such file") from None
    except Exception as exc:  # calamine raises its own error types for corrupt files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReadError(f"{path}: not a readable {file_format.upper()} workbook ({reason})") from None
    if not grid or not any(cell_text(c).strip() for c in grid[0]):
        raise ReadError(f"{path}: row 1 of the first sheet is empty; row 1 must hold the column names")
    header = [cell_text(c) for c in grid[0]]
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


def _chunks(grid: list[list[object]], header: list[str], chunk_rows: int) -> Iterator[Chunk]:
    keep = [i for i, name in enumerate(header) if name not in header[:i]]
    body = grid[1:]
    # Trailing rows with nothing in them are Excel's formatting residue, not data.
    while body and not any(cell_text(c) for c in body[-1]):
        body.pop()
    for start in range(0, len(body), chunk_rows):
        part = body[start : start + chunk_rows]
        records = [[cell_text(row[i]) if i < len(row) else "" for i in keep] for row in part]
        frame = pd.DataFrame(records, columns=[header[i] for i in keep], dtype="string[pyarrow]")
        if not keep:
            frame = pd.DataFrame(index=range(len(part)))
        rows = pd.Series(range(start + 2, start + 2 + len(part)), index=frame.index)
        yield Chunk(data=frame, rows=rows)
