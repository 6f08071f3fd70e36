"""Streaming writers for CSV, XLSX and JSON that write cells back exactly as they were read.

A chunk's text cells go out unchanged; for JSON the cell kinds the reader kept
(number, string, boolean, null, object, array, absent) restore each value's JSON type,
so ``123.90`` stays the number literal ``123.90`` and ``1.5E2`` stays ``1.5E2``.

Nothing is cut or dropped on the way out. Where a format cannot hold a value as it is (an XLSX
cell longer than 32,767 characters, a sheet longer than 1,048,576 rows, text UTF-8 cannot
encode) the writer raises ``WriteError`` naming the file, the input row and the column instead
of writing something else. Every column of the chunk is written, repeated header columns
included (``repeat_key`` names them in the chunk; the file gets their own label back).

Files are created 0600 and missing folders 0700: they hold customer data.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from omnimig.exceptions import WriteError
from omnimig.io.private import make_private, open_private, private_dir
from omnimig.io.safe_text import neutralise_formula
from omnimig.io.table import Chunk, Source, repeat_key

#: The format a file is written in when it was read in another one (xlsxwriter cannot write .xls).
WRITE_FORMAT = {"csv": "csv", "xlsx": "xlsx", "xls": "xlsx", "json": "json"}
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}
REPRODUCIBLE_TIME = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

#: Excel's limits (https://support.microsoft.com/en-us/office/excel-specifications-and-limits).
XLSX_MAX_CELL = 32_767
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_COLUMNS = 16_384
#: Python's ``json`` refuses an integer literal with more digits than this (``sys.int_max_str_digits``
#: default); other readers choke on them too.
JSON_MAX_INT_DIGITS = 4_300
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: The characters that make Python's ``csv`` module (QUOTE_MINIMAL, ``\r\n`` lines) quote a cell.
_CSV_QUOTED = '[,"\r\n]'
#: Rows per slice of ``csv_bytes``: a slice's copies (quoted cells, joined lines) stay a few MB, far below 2 GB offsets.
_CSV_SLICE_ROWS = 16_384
# OOXML escapes a character as ``_xHHHH_``; a literal text of that shape needs its ``_`` escaped.
_OOXML_ESCAPE_LIKE = re.compile(r"_(?=x[0-9a-fA-F]{4}_)")
_OOXML_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")


class CellTooLong(WriteError):
    """A value is longer than the output format holds (an XLSX cell: 32,767 characters).

    ``path``, ``row`` (the input row, ``None`` for the header), ``column`` and ``length`` let a
    caller say it in its own words (``--split`` names the input file to re-save).
    """

    def __init__(self, message: str, *, path: Path, row: object, column: str, length: int) -> None:
        super().__init__(message)
        self.path = path
        self.row = row
        self.column = column
        self.length = length


def header_label(key: str) -> str:
    """The header label of a chunk column: ``repeat_key(name, n)`` is written back as ``name``."""
    return key.partition("\x00")[0]


def column_keys(source: Source) -> list[str]:
    """The chunk columns of ``source`` in file order, each repeat of a header label included.

    Pass this as ``columns`` to ``TableWriter`` to write a file back with its own header.
    """
    seen: Counter[str] = Counter()
    keys = []
    for name in source.header or source.columns:
        seen[name] += 1
        keys.append(name if seen[name] == 1 else repeat_key(name, seen[name]))
    return keys


class _FaithfulSheet(Worksheet):
    """A worksheet whose text escaping reads back exactly.

    xlsxwriter escapes a literal ``_xHHHH_`` with a non-overlapping search, so in
    ``_x005F_x0041_`` the second pattern (which shares the first one's ``_``) is not escaped
    and reads back as ``A``. Escaping every ``_`` that starts such a pattern reads back right.
    """

    @staticmethod
    def _escape_control_characters(data: Any) -> Any:
        if not isinstance(data, str):
            return data
        data = _OOXML_ESCAPE_LIKE.sub("_x005F_", data)
        data = _OOXML_CONTROL.sub(lambda m: f"_x{ord(m.group()):04X}_", data)
        return data.replace("\ufffe", "_xFFFE_").replace("\uffff", "_xFFFF_")


class TableWriter:
    """Write rows of one table to ``path`` in ``fmt``; use as a context manager.

    ``columns`` are chunk column names in the order to write them (``column_keys(source)`` for a
    file read back; a ``repeat_key`` column is headed with its own label). ``for_people`` marks a
    file people open (``held/``): its CSV cells are neutralised against formula injection (OWASP:
    a leading ``'``; plain numbers such as ``-12.5`` are kept). Upload data (``ready/``, parts)
    is never changed.

    Leaving the ``with`` block through an exception removes the half-written file. ``shown_as``
    is the path messages name when ``path`` is a temporary one.
    """

    def __init__(
        self, path: Path, fmt: str, columns: Sequence[str], *, for_people: bool = False, shown_as: Path | None = None
    ) -> None:
        if fmt not in SUFFIX:
            raise ValueError(f"cannot write format {fmt!r}")
        self.path = path
        # The path messages name: a file written under a temporary name is named as it will be.
        self.shown = shown_as if shown_as is not None else path
        self.fmt = fmt
        self.columns = list(columns)
        self.labels = [header_label(c) for c in self.columns]
        self.for_people = for_people
        self.rows = 0
        self._handle: IO[str] | None = None
        self._csv: Any = None
        self._book: xlsxwriter.Workbook | None = None
        self._sheet: Any = None
        if not path.parent.exists():
            private_dir(path.parent)
        if fmt == "csv":
            self._handle = open_private(path, "w", encoding="utf-8", newline="")
            self._csv = csv.writer(self._handle, lineterminator="\r\n")
            self._header(lambda: self._write_csv_row(None, self.labels))
        elif fmt == "xlsx":
            if len(self.columns) > XLSX_MAX_COLUMNS:
                raise WriteError(
                    f"{self.shown}: {len(self.columns):,} columns do not fit an XLSX sheet, which holds at most "
                    f"{XLSX_MAX_COLUMNS:,}; use CSV or JSON for this file"
                )
            open_private(path, "wb").close()  # xlsxwriter then writes into a file that is already 0600
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
            self._sheet = self._book.add_worksheet(worksheet_class=_FaithfulSheet)
            self._header(lambda: self._write_xlsx_row(0, None, self.labels))
        else:
            # backslashreplace: a lone surrogate (only possible inside a JSON string) is written as
            # its JSON escape, ``\ud800``, which reads back as the same text.
            self._handle = open_private(path, "w", encoding="utf-8", errors="backslashreplace")
            self._handle.write("[")

    def _header(self, write: Callable[[], None]) -> None:
        """Write the header; a header the format cannot hold leaves no file behind."""
        try:
            write()
        except BaseException:
            self.abort()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()

    def write(self, chunk: Chunk, mask: pd.Series, extra: dict[str, list[str]] | None = None) -> None:
        """Write the rows of ``chunk`` where ``mask`` holds, plus ``extra`` columns (same length as the rows).

        Every writer column comes from ``extra`` or the chunk (missing from both: empty, or absent
        in JSON). A chunk column the writer has no place for raises ``WriteError``: it would be lost.
        """
        extra = extra or {}
        known = set(self.columns)
        lost = [c for c in chunk.data.columns if c not in known]
        if lost:
            raise WriteError(
                f"{self.shown}: the input's column {header_label(lost[0])!r} has no place in the file being "
                "written, so its values would be lost"
            )
        keep = pd.Series(mask).to_numpy(dtype=bool)
        in_chunk = set(chunk.data.columns)
        present = [c for c in self.columns if c in in_chunk and c not in extra]
        # Column by column: a wide file (thousands of columns) costs one conversion per column,
        # never a frame-wide pandas operation per block.
        columns = [chunk.data[c].to_numpy(dtype=object, na_value=None)[keep] for c in present]
        n = int(keep.sum())
        values: list[tuple[Any, ...]] = list(zip(*columns, strict=True)) if columns else [()] * n
        rows = chunk.rows.to_numpy()[keep].tolist()
        kind_rows: list[tuple[str, ...]] | None = None
        if self.fmt == "json" and chunk.kinds is not None:
            kinds = chunk.kinds
            kind_columns = [
                kinds[c].astype(str).to_numpy()[keep] if c in kinds.columns else ["string"] * n for c in present
            ]
            kind_rows = list(zip(*kind_columns, strict=True)) if kind_columns else [()] * n
        where = {c: i for i, c in enumerate(present)}
        if self.fmt == "csv" and not self.for_people:
            self._write_csv_rows(columns, where, extra, rows, n)
            return
        for i, row in enumerate(values):
            cells: list[str | None] = []
            cell_kinds: list[str] = []
            for c in self.columns:
                if c in extra:
                    cells.append(extra[c][i])
                    cell_kinds.append("string")
                elif c in where:
                    cells.append(row[where[c]])
                    cell_kinds.append(kind_rows[i][where[c]] if kind_rows is not None else "string")
                else:
                    cells.append(None)
                    cell_kinds.append("absent")
            if self.fmt == "csv":
                self._write_csv_row(rows[i], ["" if v is None else v for v in cells])
            elif self.fmt == "xlsx":
                if self.rows + 2 > XLSX_MAX_ROWS:
                    raise WriteError(
                        f"{self.shown}: row {rows[i]} of the input does not fit: an XLSX sheet holds at most "
                        f"{XLSX_MAX_ROWS:,} rows with the header; use CSV or JSON for this file"
                    )
                self._write_xlsx_row(self.rows + 1, rows[i], cells)
            else:
                self._write_json_record(cells, cell_kinds)
            self.rows += 1

    # ------------------------------------------------------------------ per format

    def _write_csv_rows(
        self,
        columns: list[Any],
        where: dict[str, int],
        extra: dict[str, list[str]],
        rows: list[Any],
        n: int,
    ) -> None:
        """A whole chunk of upload data to CSV in one ``writerows`` call (C), not a Python loop per row.

        The csv module writes ``None`` as an empty cell, as the row-by-row path does. A lone
        surrogate (which UTF-8 cannot encode) is looked for only when writing fails, to name its row
        and column; the file is then removed by the ``with`` block, so no half row survives.
        """
        empty = [None] * n
        ordered = [extra[c] if c in extra else columns[where[c]] if c in where else empty for c in self.columns]
        try:
            self._csv.writerows(zip(*ordered, strict=True) if ordered else [()] * n)
        except UnicodeEncodeError:
            for j, column in enumerate(ordered):
                for i, value in enumerate(column):
                    if isinstance(value, str) and _SURROGATE.search(value):
                        raise WriteError(
                            f"{self.shown}: {_where(rows[i], self.labels[j])} holds a lone surrogate that UTF-8 "
                            "cannot encode; fix the text in the input"
                        ) from None
            raise
        self.rows += n

    def write_arrow(self, table: pa.Table) -> None:
        """Write the rows of an Arrow table whose columns are this writer's, in order (CSV upload data only).

        The CSV text is made by Arrow kernels, column by column (``csv_bytes``), with no Python per
        row or cell, and is byte for byte what ``write`` (the ``csv`` module) writes for the same
        rows: a million-row file costs seconds less. Other formats and people's files take ``write``.
        """
        if table.column_names != self.columns:
            raise ValueError("write_arrow needs the writer's columns, in order")
        if self.fmt != "csv" or self.for_people or len(self.columns) < 2:
            frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
            self.write(Chunk(frame, pd.Series(range(len(frame)))), pd.Series(True, index=frame.index))
            return
        handle = self._handle
        assert isinstance(handle, io.TextIOWrapper)
        handle.flush()  # the header went through the text layer; the lines go under it, already UTF-8
        for data in csv_bytes(table):
            handle.buffer.write(data)
        self.rows += table.num_rows

    def _write_csv_row(self, row: object, cells: list[str]) -> None:
        if self.for_people:
            cells = [neutralise_formula(v) for v in cells]
        try:
            self._csv.writerow(cells)
        except UnicodeEncodeError:
            column = next(self.labels[j] for j, v in enumerate(cells) if _SURROGATE.search(v))
            raise WriteError(
                f"{self.shown}: {_where(row, column)} holds a lone surrogate that UTF-8 cannot encode; "
                "fix the text in the input"
            ) from None

    def _write_xlsx_row(self, r: int, row: object, cells: Iterable[str | None]) -> None:
        for col, value in enumerate(cells):
            if value in (None, ""):
                continue
            if len(value) > XLSX_MAX_CELL:
                raise CellTooLong(
                    f"{self.shown}: {_where(row, self.labels[col])} holds {len(value):,} characters; an XLSX "
                    f"cell holds at most {XLSX_MAX_CELL:,}, so it would be cut: use CSV or JSON for this file",
                    path=self.shown,
                    row=row,
                    column=self.labels[col],
                    length=len(value),
                )
            if not value.isascii() and _SURROGATE.search(value):
                raise WriteError(
                    f"{self.shown}: {_where(row, self.labels[col])} holds a lone surrogate that UTF-8 "
                    "cannot encode; fix the text in the input"
                )
            self._sheet.write_string(r, col, value)

    def _write_json_record(self, cells: list[str | None], kinds: list[str]) -> None:
        parts = []
        for name, value, kind in zip(self.labels, cells, kinds, strict=True):
            if kind == "absent":
                continue
            parts.append(f"{json.dumps(name, ensure_ascii=False)}: {json_value(value, kind)}")
        sep = "\n  " if self.rows == 0 else ",\n  "
        self._handle.write(sep + "{" + ", ".join(parts) + "}")  # type: ignore[union-attr]

    # ------------------------------------------------------------------ closing

    def close(self) -> None:
        if self._book is not None:
            self._book.close()
            self._book = None
            make_private(self.path)
        if self._handle is not None:
            if self.fmt == "json":
                self._handle.write("\n]\n" if self.rows else "]\n")
            self._handle.close()
            self._handle = None

    def abort(self) -> None:
        """Stop writing and remove the file: a half-written table must not pass for a whole one."""
        if self._book is not None:
            with contextlib.suppress(Exception):  # the half-built workbook is thrown away anyway
                self._book.close()
            self._book = None
        if self._handle is not None:
            with contextlib.suppress(OSError):
                self._handle.close()
            self._handle = None
        self.path.unlink(missing_ok=True)


def csv_bytes(table: pa.Table) -> Iterable[memoryview]:
    """The UTF-8 CSV lines of ``table``'s string columns, as ``csv.writer(lineterminator="\\r\\n")`` writes them.

    QUOTE_MINIMAL, done by Arrow kernels: a cell holding a comma, a quote, CR or LF is quoted
    with its quotes doubled, any other cell (empty and null included) is written as it is; the
    cells are joined with commas and each line ends with CRLF. The lines of a slice are one
    contiguous run of the joined array's character buffer, handed on without a copy per row.
    A table of fewer than two columns is the caller's (``csv`` quotes a lone empty cell).
    """
    for start in range(0, table.num_rows, _CSV_SLICE_ROWS):
        part = table.slice(start, _CSV_SLICE_ROWS)
        cells = []
        for column in part.columns:
            text = pc.fill_null(column.combine_chunks().cast(pa.string()), "")
            quoted = pc.match_substring_regex(text, _CSV_QUOTED)
            if pc.any(quoted).as_py():
                doubled = pc.replace_substring(text, '"', '""')
                text = pc.if_else(quoted, pc.binary_join_element_wise('"', doubled, '"', ""), text)
            cells.append(text)
        lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*cells, ","), "", "\r\n")
        if len(lines):
            offsets = lines.buffers()[1]
            first, last = _offset(offsets, lines.offset), _offset(offsets, lines.offset + len(lines))
            yield memoryview(lines.buffers()[2])[first:last]


def _offset(offsets: pa.Buffer, i: int) -> int:
    return int.from_bytes(memoryview(offsets)[4 * i : 4 * i + 4], "little", signed=True)


def _where(row: object, column: str) -> str:
    return f"column {column!r}" if row is None else f"row {row}, column {column!r},"


def json_value(text: str | None, kind: str) -> str:
    """The JSON text of one cell of ``kind``, as it was read.

    A number is its literal (``1.5E2``, ``123.90``). Text a JSON reader would refuse is never
    written raw: a "number" that is not a JSON number literal (``+5``, ``007``), an integer of
    more than 4,300 digits (Python's ``json`` refuses it), an object or array that does not
    parse (bad text, or nested too deep) is written as a JSON string holding the same text, so
    nothing is lost and the file always reads back.
    """
    if kind == "null" or text is None:
        return "null"
    if kind == "number":
        raw = _JSON_NUMBER.fullmatch(text) is not None and not _too_many_digits(text)
    elif kind == "boolean":
        raw = text in ("true", "false")
    elif kind in ("object", "array"):
        raw = text[:1] == ("{" if kind == "object" else "[") and _parses(text)
    else:
        raw = False
    return text if raw else json.dumps(text, ensure_ascii=False)


def _too_many_digits(literal: str) -> bool:
    return (
        len(literal) > JSON_MAX_INT_DIGITS
        and not any(c in literal for c in ".eE")
        and (len(literal.lstrip("-")) > JSON_MAX_INT_DIGITS)
    )


def _parses(text: str) -> bool:
    """Whether a strict JSON reader takes ``text`` (Python's also takes ``NaN``; JSON does not)."""
    try:
        json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        return False
    return True


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")
