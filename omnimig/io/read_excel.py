"""XLSX and legacy XLS: the sheet that holds the data, from its header row, every cell turned into text.

An XLSX sheet is streamed out of its archive (``xlsx_stream``), so a 1,000,000-row sheet is read
in bounded memory; the same pass bounds the sheet (``xlsx_scan``) and sees what a cell's value
alone misreads: Excel error cells, formulas never calculated, Excel's phantom 1900-02-29. A legacy
XLS (at most 65,536 rows) is read by python-calamine, after a memory-limited child process has
opened it once (a damaged one can make calamine abort the whole process) and found, with xlrd, the
error cells and serial-60 dates calamine hides. Those, merged-over cells and numbers Excel has
rounded become cell notices at the sheet's own row, so a person finds the cell and ``--split``
holds the row. Anything else that goes wrong is a one-line ``ReadError``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import itertools
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import pyarrow as pa
from python_calamine import CalamineSheet, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from omnimig.exceptions import ReadError
from omnimig.i18n import _, ngettext
from omnimig.io.read_csv import _unique_header
from omnimig.io.safe_text import cut, visible
from omnimig.io.table import MAX_COLUMNS, TEXT, Chunk, Notice, Source, repeat_key
from omnimig.io.xlsx_scan import ScanError, SheetScan, cell_ref
from omnimig.io.xlsx_stream import XlsxWorkbook

# The header is looked for among a sheet's first rows: title rows, a date line or blank rows above
# it are common in exports and accountants' workbooks.
HEADER_SEARCH_ROWS = 20
# Excel keeps 15 significant digits: a number at or above 10**15 has lost digits when it was typed.
EXACT_LIMIT = 10**15
# Rows turned into Arrow columns at a time: a chunk of 200,000 rows of Python strings would be
# hundreds of MB; a batch of this many is a tenth of that.
BATCH_ROWS = 20_000
# Not failures of the file: a person's Ctrl-C, an exit, a generator being closed.
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit)


@functools.cache
def documented_columns() -> frozenset[str]:
    """Every column name the rule files document (all types, aliases included)."""
    from omnimig.schemas.rules import table_rules, type_names

    names: set[str] = set()
    for type_name in type_names():
        for f in table_rules(type_name).fields:
            names.add(f.name)
            names.update(f.aliases)
    return frozenset(names)


def cell_text(value: object) -> str:
    """Excel stores numbers as floats and dates as serials; give the text a person typed.

    ``1.0`` becomes ``1``; a fraction is shown to Excel's 15 significant digits, so a cached
    formula result ``59.970000000000006`` reads ``59.97``; a whole number keeps every digit it has
    (``1234567890123456``). Dates become ISO text, booleans ``true``/``false``. A number stored as
    text (``00123``) is already a string and stays as it is.
    """
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return repr(value)
        if value.is_integer():
            return str(int(value))
        text = f"{value:.15g}"
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return text[:-7] if text.endswith(".000000") else text
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def read_excel(
    path: Path,
    file_format: str,
    chunk_rows: int = 200_000,
    *,
    sheet: str | int | None = None,
    header_row: int | None = None,
    columns: Collection[str] | None = None,
) -> Source:
    """Open a workbook; raises ``ReadError`` (one line naming the file) for anything unreadable.

    ``sheet`` is a sheet name or its 1-based position (hidden sheets only when named so); by
    default the first visible sheet, or the first visible one whose header holds documented
    columns. ``header_row`` is the sheet row of the header; by default the first of the first 20
    rows that holds documented columns (``columns``, default: every type's), else row 1.
    """
    known = frozenset(columns) if columns is not None else documented_columns()
    try:
        return _open(path, file_format, chunk_rows, sheet, header_row, known)
    except ReadError:
        raise
    except FileNotFoundError:
        raise ReadError(_("{path}: no such file").format(path=path)) from None
    except ScanError as exc:
        raise ReadError(f"{path}: {exc}") from None
    except _PASS_THROUGH:
        raise
    except BaseException as exc:  # calamine's own errors, and Rust panics (a BaseException) on damaged files
        raise ReadError(_unreadable(path, file_format, exc)) from None


def _unreadable(path: Path, file_format: str, exc: BaseException) -> str:
    text = str(exc).strip()
    reason = visible(text.splitlines()[0] if text else type(exc).__name__)
    reason = cut(reason, 201)  # a damaged zip header can put kilobytes of binary into the message
    return _("{path}: not a readable {format} workbook ({reason})").format(
        path=path, format=file_format.upper(), reason=reason
    )


# Run in a child process on a legacy XLS before this process opens it: a damaged XLS can make
# calamine ask for tens of GB, and a failed native allocation aborts the process (no exception).
# The path comes as bytes on stdin, so a file name that is not valid UTF-8 reaches it intact.
# calamine reads an error cell as empty and the serial 60 as 1900-02-28; xlrd, reading the same
# records, tells both apart, so the child also prints where they are, as JSON, for each sheet.
_PROBE = (
    "import json, os, sys\n"
    "from python_calamine import CalamineWorkbook\n"
    "with open(os.fsdecode(sys.stdin.buffer.read()), 'rb') as f:\n"
    "    data = f.read()\n"
    "book = CalamineWorkbook.from_filelike(__import__('io').BytesIO(data))\n"
    "for i in range(len(book.sheet_names)):\n"
    "    for _ in book.get_sheet_by_index(i).iter_rows():\n"
    "        pass\n"
    "marks = {}\n"
    "try:\n"
    "    import xlrd\n"
    "    legacy = xlrd.open_workbook(file_contents=data, on_demand=True, logfile=open(os.devnull, 'w'))\n"
    "except Exception:\n"
    "    legacy = None\n"
    "for sheet in legacy.sheets() if legacy is not None else ():\n"
    "    found = marks.setdefault(sheet.name, [])\n"
    "    for r in range(sheet.nrows):\n"
    "        for c, kind in enumerate(sheet.row_types(r)):\n"
    "            if len(found) >= %d:\n"
    "                break\n"
    "            if kind == xlrd.XL_CELL_ERROR:\n"
    "                code = sheet.cell_value(r, c)\n"
    "                found.append([r + 1, c + 1, 'error', xlrd.error_text_from_code.get(code, '#ERROR')])\n"
    "            elif kind == xlrd.XL_CELL_DATE and legacy.datemode == 0 and 60 <= sheet.cell_value(r, c) < 61:\n"
    "                found.append([r + 1, c + 1, 'serial-60', ''])\n"
    "print(json.dumps(marks))\n"
)
# At most this many marked cells per sheet: each becomes a problem, and the reports keep examples.
MAX_MARKS = 100_000
PROBE_MEMORY = 3 * 1024**3  # a legacy sheet is at most 65,536 x 256 cells: about 1 GB in calamine
PROBE_SECONDS = 120


def _limit_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (PROBE_MEMORY, PROBE_MEMORY))


def _probe(path: Path, file_format: str) -> dict[str, list[tuple[int, int, str, str]]]:
    """Open the workbook in a child first; refuse it in one line if that child crashes or hangs.

    Returns the error cells and serial-60 dates of each sheet: [(row, column, kind, text)], 1-based.
    """
    try:
        child = subprocess.run(
            [sys.executable, "-c", _PROBE % MAX_MARKS],
            input=os.fsencode(path),
            capture_output=True,
            timeout=PROBE_SECONDS,
            check=False,
            preexec_fn=_limit_memory if sys.platform != "win32" else None,
        )
    except subprocess.TimeoutExpired:
        raise ReadError(
            _("{path}: opening the {format} workbook took over {seconds} s; refused").format(
                path=path, format=file_format.upper(), seconds=PROBE_SECONDS
            )
        ) from None
    if child.returncode and b"panicked at" in child.stderr:  # caught here too, but Rust prints the panic on stderr
        lines = child.stderr.decode("utf-8", "replace").splitlines()
        at = next(i for i, line in enumerate(lines) if "panicked at" in line)
        reason = lines[at + 1].strip() if at + 1 < len(lines) else _("the reader failed")
        raise ReadError(
            _("{path}: not a readable {format} workbook (it is damaged: {reason}); save it again from Excel").format(
                path=path, format=file_format.upper(), reason=visible(reason)[:200]
            )
        )
    if child.returncode < 0 or b"memory allocation of" in child.stderr:
        raise ReadError(
            _(
                "{path}: not a readable {format} workbook (it is damaged: reading it crashed the reader or needed "
                "over {memory} GB); save it again from Excel as .xlsx"
            ).format(path=path, format=file_format.upper(), memory=PROBE_MEMORY // 1024**3)
        )
    try:
        found = json.loads(child.stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        return {str(k): [(int(r), int(c), str(kind), str(t)) for r, c, kind, t in v] for k, v in found.items()}
    except (ValueError, IndexError, TypeError, AttributeError):
        return {}  # calamine reads it (below) or says why not; only the marks are missing


@dataclass(frozen=True)
class SheetMeta:
    """What the reader needs to know of a sheet before reading it."""

    name: str
    visible: bool
    worksheet: bool


class _Sheet:
    """One sheet: ``rows()`` gives (sheet row, cells from column A, marks) for rows 1 to the last;
    marks are (column, kind, text) of cells the values alone misread (error cells, formulas without
    a calculated value, serial 60). Rows and columns are 1-based."""

    name: str

    def rows(self) -> Iterator[tuple[int, list[Any], list[tuple[int, str, str]] | None]]:
        raise NotImplementedError

    def merged_ranges(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Merged ranges as ((top, left), (bottom, right)), 0-based."""
        raise NotImplementedError

    def head(self) -> list[tuple[int, list[str]]]:
        found = []
        for number, row, _marks in self.rows():
            if number > HEADER_SEARCH_ROWS:
                break
            found.append((number, [cell_text(c).strip() for c in row]))
        return found


class _XlsxSheet(_Sheet):
    """An XLSX sheet, streamed from the archive (``xlsx_stream``): memory is a block and a chunk."""

    def __init__(self, book: XlsxWorkbook, name: str) -> None:
        self.name = name
        self.reader = book.sheet(name)

    def rows(self) -> Iterator[tuple[int, list[Any], list[tuple[int, str, str]] | None]]:
        self.reader = dataclasses.replace(self.reader, scan=SheetScan())
        return self.reader.rows()

    def merged_ranges(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        return self.reader.merged()


class _XlsSheet(_Sheet):
    """A legacy XLS sheet, loaded whole by calamine (a legacy sheet is at most 65,536 rows); the
    marks (error cells, serial 60) come from xlrd in the probe child."""

    def __init__(self, book: CalamineWorkbook, name: str, marks: Collection[tuple[int, int, str, str]] = ()) -> None:
        self.name = name
        self.cells: CalamineSheet = book.get_sheet_by_name(name)
        self.marks: dict[int, list[tuple[int, str, str]]] = {}
        for r, c, kind, text in marks:
            self.marks.setdefault(r, []).append((c, kind, text))

    def rows(self) -> Iterator[tuple[int, list[Any], list[tuple[int, str, str]] | None]]:
        """calamine's used range starts at the first used cell; its row iterator (0.9) yields the
        empty rows above it but starts at the range's first column. Both are checked on the first
        row, so a sheet whose table starts at B3 still names B3 as B3."""
        grid = iter(self.cells.iter_rows())
        first = next(grid, None)
        if first is None:
            return iter(())
        # calamine types start/end as optional; a sheet with a height has both
        (top, left), (_, right) = (self.cells.start, self.cells.end) if self.cells.height else ((0, 0), (0, 0))  # type: ignore[misc]
        empty = all(v == "" or v is None for v in first)
        number = 1 if top > 0 and empty else top + 1
        pad = [""] * left if left and len(first) < right + 1 else []
        grid = itertools.chain([first], grid)
        numbers = itertools.count(number)
        marks = self.marks
        if not pad:
            return ((n, row, marks.get(n)) for n, row in zip(numbers, grid, strict=False))
        return ((n, [*pad, *row], marks.get(n)) for n, row in zip(numbers, grid, strict=False))

    def merged_ranges(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        return list(self.cells.merged_cell_ranges or [])


def _find_header(sheet: _Sheet, known: frozenset[str]) -> int | None:
    """The first row among the first 20 with two different documented column names; ``None`` when none has.

    One name is not enough: a data cell may hold a word that is also a column name (a product
    called "email", a note "date_joined"), and moving the header on that would misread the sheet;
    nor is one name twice (a row of "number", "number").
    A sheet whose header holds a single documented column is read from row 1, or with --header-row.
    """
    for number, cells in sheet.head():
        if len(known.intersection(cells)) >= 2:
            return number
    return None


class _Book:
    """The opened workbook, whichever reader: its sheets' metadata and a ``_Sheet`` by name."""

    def __init__(self, path: Path, file_format: str) -> None:
        self.xlsx: XlsxWorkbook | None = None
        self.xls: CalamineWorkbook | None = None
        self.marks: dict[str, list[tuple[int, int, str, str]]] = {}
        self.handle: BinaryIO | None = None
        if zipfile.is_zipfile(path):
            handle = open(path, "rb")  # noqa: SIM115 - the archive reads it while the chunks are read
            try:
                self.xlsx = XlsxWorkbook(handle)
            except BaseException:
                handle.close()
                raise
            self.handle = handle
            self.meta = [SheetMeta(s.name, s.state == "visible", s.kind == "worksheet") for s in self.xlsx.book.sheets]
        else:
            self.marks = _probe(path, file_format)
            with open(path, "rb") as handle:
                self.xls = CalamineWorkbook.from_filelike(handle)
            self.meta = [
                SheetMeta(m.name, m.visible == SheetVisibleEnum.Visible, m.typ == SheetTypeEnum.WorkSheet)
                for m in self.xls.sheets_metadata
            ]

    def position(self) -> int | None:
        """How far into the file the sheet's stream has read (for a progress bar); None for XLS."""
        try:
            return self.handle.tell() if self.handle is not None else None
        except (OSError, ValueError):
            return None

    def sheet(self, name: str) -> _Sheet:
        if self.xlsx is not None:
            return _XlsxSheet(self.xlsx, name)
        assert self.xls is not None
        return _XlsSheet(self.xls, name, self.marks.get(name, []))


def _open(
    path: Path,
    file_format: str,
    chunk_rows: int,
    choice: str | int | None,
    header_row: int | None,
    known: frozenset[str],
) -> Source:
    if not path.exists():
        raise FileNotFoundError(path)
    book = _Book(path, file_format)
    meta = book.meta
    if not meta:
        raise ReadError(_("{path}: the workbook has no sheets").format(path=path))
    notices: list[Notice] = []
    if choice is not None:
        name = _named_sheet(path, meta, choice)
        chosen = book.sheet(name)
        found = header_row or _find_header(chosen, known) or 1
    else:
        shown = [m.name for m in meta if m.visible and m.worksheet]
        if not shown:
            raise ReadError(
                _("{path}: the workbook has no visible worksheet; choose a hidden one with --sheet NAME").format(
                    path=path
                )
            )
        chosen = book.sheet(shown[0])
        guess = header_row or _find_header(chosen, known)
        if guess is None and header_row is None:
            for name in shown[1:]:
                other = book.sheet(name)
                other_header = _find_header(other, known)
                if other_header is not None:
                    notices.append(
                        Notice(
                            "sheet",
                            _(
                                'read sheet "{sheet}": the first sheet "{first}" has no documented columns '
                                "(choose another with --sheet NAME)"
                            ).format(sheet=name, first=shown[0]),
                        )
                    )
                    chosen, guess = other, other_header
                    break
                del other
        found = guess or 1
        hidden = [m.name for m in meta if not m.visible and m.worksheet]
        if hidden:
            names = ", ".join(f'"{n}"' for n in hidden)
            notices.append(
                Notice(
                    "hidden-sheets",
                    ngettext(
                        'read sheet "{sheet}"; the hidden sheet {names} was not read (choose one with --sheet NAME)',
                        'read sheet "{sheet}"; the hidden sheets {names} were not read (choose one with --sheet NAME)',
                        len(hidden),
                    ).format(sheet=chosen.name, names=names),
                )
            )
    if found != 1 and header_row is None:
        notices.append(
            Notice(
                "header-row",
                _(
                    'the header is row {row} of sheet "{sheet}" (the rows above it are not read; '
                    "choose another with --header-row N)"
                ).format(row=found, sheet=chosen.name),
            )
        )
    grid = chosen.rows()
    first: list[Any] | None = None
    for number, row, _marks in grid:
        if number == found:
            first = row
            break
        if number > found:
            break
    if first is None or not any(cell_text(c).strip() for c in first):
        raise ReadError(
            _(
                '{path}: row {row} of sheet "{sheet}" is empty; it must hold the column names '
                "(choose the header with --header-row N)"
            ).format(path=path, row=found, sheet=chosen.name)
        )
    header = [cell_text(c) for c in first]
    while header and header[-1] == "":
        header.pop()
    lead = next(i for i, name in enumerate(header) if name)  # the table may start right of column A
    header = header[lead:]
    if len(header) > MAX_COLUMNS:
        raise ReadError(
            _(
                '{path}: the header (row {row} of sheet "{sheet}") has {columns} columns; '
                "a migration file has at most {limit}"
            ).format(path=path, row=found, sheet=chosen.name, columns=f"{len(header):,}", limit=f"{MAX_COLUMNS:,}")
        )
    columns, duplicates = _unique_header(header)
    return Source(
        path=str(path),
        format=file_format,
        columns=tuple(columns),
        chunks=_guarded(_chunks(grid, header, lead, chunk_rows, chosen, found), path, file_format),
        notices=notices,
        duplicate_columns=tuple(duplicates),
        header=tuple(header),
        header_row=found,
        bytes_read=book.position,
    )


def _named_sheet(path: Path, meta: list[SheetMeta], choice: str | int) -> str:
    names = [m.name for m in meta]
    if isinstance(choice, str) and choice in names:
        return choice
    text = str(choice).strip()
    if text.isdigit() and 1 <= int(text) <= len(names):
        return names[int(text) - 1]
    listed = ", ".join(f"{i}: {n!r}" for i, n in enumerate(names, 1))
    raise ReadError(
        _("{path}: no sheet {sheet}; the sheets are {sheets}").format(path=path, sheet=repr(choice), sheets=listed)
    )


def _guarded(chunks: Iterator[Chunk], path: Path, file_format: str) -> Iterator[Chunk]:
    """Any failure while reading rows is one line naming the file, never a traceback."""
    try:
        yield from chunks
    except (ReadError, *_PASS_THROUGH):
        raise
    except BaseException as exc:  # see read_excel
        raise ReadError(_unreadable(path, file_format, exc)) from None


def _merged_cover(
    sheet: _Sheet, header_row: int, lead: int, width: int
) -> tuple[dict[int, list[Notice]], list[Notice]]:
    """Notices for the covered cells of merged ranges below the header (calamine reads them empty)."""
    by_row: dict[int, list[Notice]] = {}
    too_big: list[Notice] = []
    budget = 1_000_000
    for (r1, c1), (r2, c2) in sheet.merged_ranges():
        top, left, bottom, right = r1 + 1, c1 + 1, r2 + 1, c2 + 1
        area = f"{cell_ref(top, left)}:{cell_ref(bottom, right)}"
        top_data = max(top, header_row + 1)
        first, last = max(left, lead + 1), min(right, lead + width)
        if bottom < top_data or first > last:
            continue
        cells = (bottom - top_data + 1) * (last - first + 1)
        if cells > budget:
            too_big.append(
                Notice(
                    "merged-cell",
                    _("the merged cells {area} cover {cells} cells, which read empty: unmerge them").format(
                        area=area, cells=f"{cells:,}"
                    ),
                    severity="error",
                )
            )
            continue
        budget -= cells
        anchor = cell_ref(top, left)
        for r in range(top_data, bottom + 1):
            for c in range(first, last + 1):
                if (r, c) == (top, left):
                    continue
                side = _("above") if c == left else _("to the left") if r == top else _("above and to the left")
                by_row.setdefault(r, []).append(
                    Notice(
                        "merged-cell",
                        _(
                            "{cell} is merged with {anchor} {side} ({area}), so it reads empty; "
                            "unmerge the cells and fill in each one"
                        ).format(cell=cell_ref(r, c), anchor=anchor, side=side, area=area),
                        row=r,
                        severity="error",
                        column=str(c),  # replaced by the header name when the row is read
                        value="",
                    )
                )
    return by_row, too_big


def _chunks(
    grid: Iterator[tuple[int, list[Any], list[tuple[int, str, str]] | None]],
    header: list[str],
    lead: int,
    chunk_rows: int,
    sheet: _Sheet,
    header_row: int,
) -> Iterator[Chunk]:
    """Chunks of the table's rows; ``header`` is its labels, starting ``lead`` columns right of A."""
    width = len(header)
    seen: dict[str, int] = {}
    keys: list[str] = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        keys.append(name if seen[name] == 1 else repeat_key(name, seen[name]))
    merged, merged_file = _merged_cover(sheet, header_row, lead, width)
    end = lead + width
    part: list[list[Any]] = []  # rows not yet turned into Arrow columns
    part_notices: list[Notice] = []
    blank: list[tuple[list[Any], list[Notice]]] = []  # empty rows held back: trailing ones are formatting residue
    done: list[list[pa.Array]] = [[] for _ in keys]  # the chunk's columns so far, in batches
    done_rows = 0
    start = header_row + 1  # sheet row of the chunk's first row

    def batch() -> None:
        """Turn ``part`` into Arrow text columns: Python holds one batch of cells, never a chunk's."""
        nonlocal part, done_rows
        rows = [row[lead:end] for row in part] if lead else part
        padded = [row[:width] if len(row) >= width else [*row, *([""] * (width - len(row)))] for row in rows]
        cells = list(zip(*padded, strict=True)) if padded and width else []
        first = start + done_rows
        for i in range(len(keys)):
            texts = _column_text(cells[i] if cells else (), first, lead + i, header[i], part_notices)
            done[i].append(pa.array(texts, type=TEXT))
        done_rows += len(part)
        part = []

    def chunk() -> Chunk:
        nonlocal done, done_rows, part_notices, start
        if part:
            batch()
        index = pd.RangeIndex(done_rows)
        if keys:
            frame = pd.DataFrame(
                {key: pd.arrays.ArrowStringArray(pa.chunked_array(done[i], type=TEXT)) for i, key in enumerate(keys)},
                index=index,
            )
        else:
            frame = pd.DataFrame(index=index)
        made = Chunk(data=frame, rows=pd.Series(range(start, start + done_rows), index=index), notices=part_notices)
        start += done_rows
        done, done_rows, part_notices = [[] for _ in keys], 0, []
        return made

    def add(row: list[Any], notices: list[Notice] | tuple[()]) -> bool:
        """Take a row; True when the chunk is full."""
        part.append(row)
        part_notices.extend(notices)
        if len(part) == BATCH_ROWS:
            batch()
        return done_rows + len(part) == chunk_rows

    for number, row, marks in grid:
        notices: list[Notice] | tuple[()] = ()
        if marks or number in merged:
            notices = _fix_row(marks or [], row, header, lead, number)
            for note in merged.get(number, ()):
                c = int(note.column or 0)
                notices.append(
                    Notice(note.rule, note.message, note.row, note.severity, header[c - 1 - lead], note.value)
                )
        if not notices and row.count("") + row.count(None) == len(row):
            blank.append((row, list(notices)))
            continue
        if blank:
            for held, held_notices in blank:
                if add(held, held_notices):
                    yield chunk()
            blank = []
        if add(row, notices):
            yield chunk()
    if part or done_rows:
        yield chunk()
    if merged_file:
        yield Chunk(data=pd.DataFrame({k: pd.array([], dtype="string[pyarrow]") for k in keys}),
                    rows=pd.Series([], dtype="int64"), notices=merged_file)  # fmt: skip


def _fix_row(
    marks: list[tuple[int, str, str]], row: list[Any], header: list[str], lead: int, number: int
) -> list[Notice]:
    """Put back in ``row`` what calamine hid, and say what is wrong with each such cell."""
    found: list[Notice] = []
    for c, kind, text in marks:
        if not lead < c <= lead + len(header):
            continue
        if len(row) < c:
            row.extend([""] * (c - len(row)))
        ref = cell_ref(number, c)
        column = header[c - 1 - lead]
        if kind == "error":
            row[c - 1] = text
            message = _(
                "{cell} holds the Excel error {error}: correct the formula or its inputs, or type the value"
            ).format(cell=ref, error=text)
            found.append(Notice("excel-error", message, row=number, severity="error", column=column, value=text))
        elif kind == "formula":
            row[c - 1] = text
            message = _(
                "{cell} holds the formula {formula} but no calculated value (the file was written by a program): "
                "formula not calculated: open and save the file in Excel"
            ).format(cell=ref, formula=text)
            found.append(
                Notice("formula-not-calculated", message, row=number, severity="error", column=column, value=text)
            )
        elif isinstance(row[c - 1], (dt.date, dt.datetime)):
            shown = "1900-02-29" + cell_text(row[c - 1])[10:]
            row[c - 1] = shown
            message = _(
                "{cell} holds the date 1900-02-29, which does not exist (Excel's 1900 leap-year bug, serial 60); "
                "type the real date"
            ).format(cell=ref)
            found.append(Notice("excel-date", message, row=number, severity="error", column=column, value=shown))
    return found


def _column_text(values: tuple[Any, ...], first: int, index: int, name: str, notices: list[Notice]) -> list[str]:
    """``cell_text`` of a column; a column of strings (the usual case) is taken as it is.

    A number of 16 digits or more has been rounded by Excel (it keeps 15): a problem at its cell.
    """
    if all(type(v) is str for v in values):
        return list(values)
    texts = [cell_text(v) for v in values]
    rounded = [i for i, v in enumerate(values) if type(v) in (float, int) and (v >= EXACT_LIMIT or v <= -EXACT_LIMIT)]
    for offset in rounded:
        row = first + offset
        notices.append(
            Notice(
                "excel-precision",
                _(
                    '{cell} in column "{column}" holds the number {number}: Excel keeps only 15 digits, so the '
                    "digits after the 15th may have been changed to 0. Format the column as Text and type the "
                    "values again"
                ).format(cell=cell_ref(row, index + 1), column=name, number=texts[offset]),
                row=row,
                severity="error",
                column=name,
                value=texts[offset],
            )
        )
    return texts
