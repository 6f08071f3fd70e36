"""The annotated workbook: each input file's original data with its problems marked, and a Summary.

Written with xlsxwriter in constant-memory mode, so a large file costs one row of memory (plus
the comments, which xlsxwriter keeps until it closes the workbook). That mode has two rules this
module is built around: every sheet is written strictly top to bottom, and a cell's comment must
be written before the next row starts (afterwards xlsxwriter ignores it). Cell positions are
therefore planned from the ``FileResult`` before the file is read again.

Row numbers: row N of a CSV/XLSX file (header = 1) is row N of its sheet; record N of a JSON
file is row N+1 (row 1 holds the keys). When a file has more than ``report_rows`` data rows, the
sheet holds the rows with problems first, then the others in file order up to the limit, and an
extra first column ``file row`` gives each row's number in the file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from omnimig.exceptions import ReadError
from omnimig.i18n import N_, _, ngettext, pgettext
from omnimig.i18n import number as figure
from omnimig.io import Source, open_source
from omnimig.io.safe_text import cut, visible
from omnimig.schemas.rules import rules_for
from omnimig.validation.bundle import BundleOutcome
from omnimig.validation.fields import Emitter, map_columns
from omnimig.validation.problem import FileResult, Problem
from omnimig.validation.report import SEVERITY_NAMES, bundle_problems, counts_line
from omnimig.validation.result import Fixes
from omnimig.validation.stats import BundleStats

#: The Summary sheet's title and the extra column's heading, in English; a workbook shows them in
#: the language of the run (``_(SUMMARY_SHEET)``). No program reads them back: the file sheets
#: are named after the files and the Summary is the first sheet in every language.
SUMMARY_SHEET = N_("Summary")
FILE_ROW_COLUMN = N_("file row")
ERROR_FILL = "#FFC7CE"
ERROR_FONT = "#9C0006"
WARNING_FILL = "#FFEB9C"
WARNING_FONT = "#9C5700"
#: Excel's limits: rows per sheet (one is the header), columns, characters in a sheet name.
EXCEL_DATA_ROWS = 1_048_575
EXCEL_COLUMNS = 16_384
SHEET_NAME_CHARS = 31
#: Excel refuses these in sheet names; "History" is reserved by Excel itself.
UNSAFE_SHEET_CHARS = frozenset("[]:*?/\\")
RESERVED_SHEET_NAMES = frozenset({"history"})
#: Problems listed one by one on the Summary sheet (those that have no cell), per file.
MAX_LISTED = 1_000
#: Lines of one cell comment before "… and N more"; Excel caps a comment at 32,767 characters.
MAX_COMMENT_LINES = 30
MAX_COMMENT_CHARS = 30_000
#: Rows per chunk when the file is read again: small, so a chunk's Python strings stay a few MB.
READ_CHUNK_ROWS = 10_000
#: Rows whose text sets the column widths.
WIDTH_SAMPLE_ROWS = 1_000


@dataclass
class SheetReport:
    """What ``write_workbook`` put on the sheet of one input file."""

    path: str
    sheet: str | None  # None: the file could not be read, so it has no sheet
    rows: int  # data rows in the file
    written: int = 0  # data rows on the sheet
    left_out: int = 0  # rows of the file not on the sheet
    note: str | None = None


def safe_sheet_name(stem: str, taken: set[str]) -> str:
    """``stem`` as an Excel sheet name: no ``[]:*?/\\``, at most 31 characters, unique ignoring case.

    ``taken`` holds the lower-cased names already used and is updated. Duplicates get ``" (2)"``,
    ``" (3)"`` …, shortening the stem so the suffix fits.
    """
    unsafe = lambda ch: ch in UNSAFE_SHEET_CHARS or ord(ch) < 32 or "\ud800" <= ch <= "\udfff"  # noqa: E731
    base = "".join("_" if unsafe(ch) else ch for ch in stem).strip()
    base = base.strip("'").strip() or "sheet"  # Excel refuses a name that begins or ends with '
    n = 1
    while True:
        suffix = "" if n == 1 else f" ({n})"
        name = base[: SHEET_NAME_CHARS - len(suffix)].rstrip().rstrip("'") + suffix
        if name.lower() not in taken and name.lower() not in RESERVED_SHEET_NAMES:
            taken.add(name.lower())
            return name
        n += 1


def sheet_link(sheet: str, row: int, col: int) -> str:
    """The internal hyperlink to a cell (0-based row and column)."""
    quoted = sheet.replace("'", "''")
    return f"internal:'{quoted}'!{xl_rowcol_to_cell(row, col)}"


def comment_text(problems: Iterable[Problem], suggestion: str | None = None) -> str:
    """One line per distinct problem: severity, rule, message; errors first; then what to write instead.

    ``suggestion`` is the value ``omnimig fix`` writes in this cell: a person correcting the
    workbook by hand reads it as "write 129.90".
    """
    lines: list[str] = []
    for p in sorted(problems, key=lambda p: p.severity != "error"):
        line = f"{severity_name(p.severity)} [{p.rule}] {p.message}"
        if line not in lines:
            lines.append(line)
    if suggestion is not None:
        lines.insert(0, _("→ write {value} here (omnimig fix does it for you)").format(value=repr(suggestion)))
    if len(lines) > MAX_COMMENT_LINES:
        more = len(lines) - MAX_COMMENT_LINES
        lines = [*lines[:MAX_COMMENT_LINES], _("… and {n} more").format(n=figure(more))]
    text = "\n".join(lines)
    return cut(text, MAX_COMMENT_CHARS)


def severity_name(severity: str) -> str:
    """A severity as a person reads it (``error``, ``hata``); the rule code beside it never changes."""
    return _(SEVERITY_NAMES[severity]) if severity in SEVERITY_NAMES else severity


def _comment_options(text: str, visible: bool = False) -> dict[str, object]:
    width = 360
    per_line = 55  # characters that fit one line of a 360-pixel note
    lines = sum(max(1, -(-len(line) // per_line)) for line in text.split("\n"))
    options: dict[str, object] = {"author": "omnimig", "width": width, "height": min(600, max(60, 16 + 15 * lines))}
    if visible:
        options["visible"] = True
    return options


def _severity(problems: list[Problem]) -> str:
    return "error" if any(p.severity == "error" for p in problems) else "warning"


class _Formats:
    """The few cell formats the workbook uses; data cells are text ('@') so edits stay text."""

    def __init__(self, book: xlsxwriter.Workbook) -> None:
        make = book.add_format
        text: dict[str, object] = {"num_format": "@", "valign": "top"}
        header: dict[str, object] = {**text, "bold": True, "bottom": 1, "bg_color": "#F2F2F2"}
        number: dict[str, object] = {"valign": "top", "align": "left"}
        err: dict[str, object] = {"bg_color": ERROR_FILL, "font_color": ERROR_FONT}
        warn: dict[str, object] = {"bg_color": WARNING_FILL, "font_color": WARNING_FONT}
        self.cell = {
            None: make(text),
            "error": make({**text, **err}),
            "warning": make({**text, **warn}),
            "note": make(text),  # a bundle note (a rule not checked): no colour, nothing is wrong
        }
        self.header = {None: make(header), "error": make({**header, **err}), "warning": make({**header, **warn})}
        self.number = {None: make(number), "error": make({**number, **err}), "warning": make({**number, **warn})}
        self.count = make({"align": "left"})
        self.bold = make({"bold": True})
        self.title = make({"bold": True, "font_size": 14})
        self.table_header = make({"bold": True, "bottom": 1, "bg_color": "#F2F2F2"})
        self.link = make({"font_color": "blue", "underline": 1})
        self.note = make({"italic": True})


@dataclass
class _Plan:
    """Where each row and problem of one file goes on its sheet, decided before reading it."""

    result: FileResult
    sheet: str
    columns: tuple[str, ...]
    is_json: bool
    limit: int
    # field or column name -> 0-based position among the file's columns (aliases included)
    col_of: dict[str, int] = field(default_factory=dict)
    first_row: int = 2  # file row number of the first data row
    truncated: bool = False
    # file row -> 0-based sheet row
    index: dict[int, int] = field(default_factory=dict)
    # file row -> 0-based column -> problems
    cells: dict[int, dict[int, list[Problem]]] = field(default_factory=dict)
    unplaced: list[Problem] = field(default_factory=list)  # the first MAX_LISTED of them
    unplaced_count: int = 0
    unplaced_groups: set[tuple[str, str | None, str]] = field(default_factory=set)
    problem_rows: list[int] = field(default_factory=list)  # data rows with problems, on the sheet
    problem_rows_left_out: int = 0
    other_rows: list[int] = field(default_factory=list)  # truncated only: rows without problems

    def add_unplaced(self, p: Problem) -> None:
        """A problem with no cell on the sheet: listed on the Summary (the first ``MAX_LISTED``), always counted."""
        self.unplaced_count += 1
        self.unplaced_groups.add((p.rule, p.field, p.severity))
        if len(self.unplaced) < MAX_LISTED:
            self.unplaced.append(p)

    @property
    def col_offset(self) -> int:
        return 1 if self.truncated else 0

    @property
    def header_row(self) -> int | None:
        return None if self.is_json else 1

    def sheet_row(self, file_row: int) -> int | None:
        if file_row == self.header_row:
            return 0
        if self.truncated:
            return self.index.get(file_row)
        if self.first_row <= file_row < self.first_row + self.result.rows:
            return file_row - self.first_row + 1
        return None

    def where(self, p: Problem) -> tuple[int, int] | None:
        """(sheet row, column) of a problem, or None when it has no cell on the sheet."""
        if p.row is None:
            return None
        row = self.sheet_row(p.row)
        if row is None:
            return None
        if p.field is None:
            return row, 0
        if p.field not in self.col_of:
            return None
        col = self.col_of[p.field] + self.col_offset
        return (row, col) if col < EXCEL_COLUMNS else None


def column_positions(result: FileResult, columns: tuple[str, ...]) -> dict[str, int]:
    """Where each field's values are: its own column, or the alias column the engine read it from.

    Problems name the documented field (``user``) even when the file calls the column by an
    alias (``customer_code``); the engine's own header mapping says which column that is.
    Public because two views place problems on cells, this workbook and the grid of
    ``omnimig serve`` (``serve/grid.py``): both ask here, so the page and the downloaded workbook
    mark the same cell, and a new alias rule reaches both.
    """
    positions = {name: i for i, name in enumerate(columns)}
    if result.type is None or result.format is None:
        return positions
    try:
        rules = rules_for(result.type, result.format)
        layout = map_columns(rules, columns, result.format == "json", Emitter(result.path, result.type, []), None)
    except Exception:  # an unknown type or format: plain column names are all we can place
        return positions
    for name, column in layout.columns.items():
        if name not in positions and column in positions:
            positions[name] = positions[column]
    return positions


def _plan(result: FileResult, sheet: str, columns: tuple[str, ...], is_json: bool, limit: int) -> _Plan:
    plan = _Plan(result, sheet, columns, is_json, limit, column_positions(result, columns), 1 if is_json else 2)
    plan.truncated = result.rows > limit
    last_row = plan.first_row + result.rows - 1
    col_of = {name: i + plan.col_offset for name, i in plan.col_of.items()}
    by_row: dict[int, dict[int, list[Problem]]] = defaultdict(lambda: defaultdict(list))
    # The problems stream in row order: once ``limit`` data rows with problems are held, later
    # rows are only counted, so a file where every row is bad costs ``limit`` rows of memory.
    held_rows = 0
    left_out_rows: set[int] = set()
    for p in result.problems:
        if p.row is None or (p.field is not None and p.field not in col_of):
            plan.add_unplaced(p)
            continue
        if p.row != plan.header_row and not plan.first_row <= p.row <= last_row:
            plan.add_unplaced(p)
            continue
        if p.row != plan.header_row and p.row not in by_row:
            if held_rows >= limit:
                left_out_rows.add(p.row)
                continue
            held_rows += 1
        by_row[p.row][0 if p.field is None else col_of[p.field]].append(p)
    data_rows = sorted(r for r in by_row if r != plan.header_row)
    if not plan.truncated:
        plan.problem_rows = data_rows
    else:
        plan.problem_rows = data_rows[:limit]
        plan.problem_rows_left_out = len(data_rows) - len(plan.problem_rows) + len(left_out_rows)
        wanted = limit - len(plan.problem_rows)
        has_problem = set(data_rows) | left_out_rows
        row = plan.first_row
        while len(plan.other_rows) < wanted and row <= last_row:
            if row not in has_problem:
                plan.other_rows.append(row)
            row += 1
        for i, r in enumerate(plan.problem_rows + plan.other_rows, start=1):
            plan.index[r] = i
    keep = set(plan.problem_rows) | ({plan.header_row} if plan.header_row is not None else set())
    for row, cols in by_row.items():
        if row in keep:
            plan.cells[row] = {c: ps for c, ps in cols.items() if c < EXCEL_COLUMNS}
    return plan


class _SheetWriter:
    """Writes one file's sheet top to bottom, with fills and comments placed as planned."""

    def __init__(self, ws: Worksheet, plan: _Plan, fmt: _Formats) -> None:
        self.ws = ws
        self.plan = plan
        self.fmt = fmt
        self.written = 0
        self.widths = [len(_(FILE_ROW_COLUMN))] * plan.col_offset + [len(c) for c in plan.columns]
        self.ncols = min(len(self.widths), EXCEL_COLUMNS)
        self.progress: Callable[[int], None] | None = None  # called with the rows written so far
        self.fixes = Fixes()  # what omnimig fix writes, by (type, field, format, value)
        self.show_notes = False  # notes shown open, not only on hover (screenshots, printing)

    def header(self) -> None:
        names = [_(FILE_ROW_COLUMN)] * self.plan.col_offset + list(self.plan.columns)
        marks = self.plan.cells.get(self.plan.header_row, {}) if self.plan.header_row is not None else {}
        for col, name in enumerate(names[: self.ncols]):
            problems = marks.get(col)
            self.ws.write_string(0, col, name, self.fmt.header[_severity(problems) if problems else None])
            if problems:
                self._comment(0, col, problems)

    def row(self, sheet_row: int, file_row: int, values: list[object]) -> None:
        marks = self.plan.cells.get(file_row, {})
        col = 0
        if self.plan.truncated:
            problems = marks.get(0)
            self.ws.write_number(sheet_row, 0, file_row, self.fmt.number[_severity(problems) if problems else None])
            col = 1
        for value in values[: self.ncols - col]:
            problems = marks.get(col)
            cell_format = self.fmt.cell[_severity(problems) if problems else None]
            text = "" if value is None or value is pd.NA else str(value)
            if text:
                self.ws.write_string(sheet_row, col, text, cell_format)
                if self.written < WIDTH_SAMPLE_ROWS:
                    self.widths[col] = max(self.widths[col], max(len(part) for part in text.split("\n")))
            elif problems:
                self.ws.write_blank(sheet_row, col, None, cell_format)
            col += 1
        # Comments last: constant-memory mode drops a comment once a later row has been started.
        for c, problems in sorted(marks.items()):
            if c >= col:  # a whole-row mark on a row with no cells (a file without columns)
                self.ws.write_blank(sheet_row, c, None, self.fmt.cell[_severity(problems)])
            self._comment(sheet_row, c, problems)
        self.written += 1

    def _comment(self, row: int, col: int, problems: list[Problem]) -> None:
        suggestion = None
        if self.fixes:
            result = self.plan.result
            for p in problems:
                suggestion = self.fixes.get(result.type, p.field, result.format, p.value)
                if suggestion is not None:
                    break
        text = comment_text(problems, suggestion)
        self.ws.write_comment(row, col, visible(text), _comment_options(text, self.show_notes))

    def copy(self, source: Source, rows: list[int] | None, at: Callable[[int], int]) -> None:
        """Write the file's rows (all of them, or the sorted ``rows``) at the sheet rows ``at`` gives."""
        wanted = None if rows is None else set(rows)
        last = None if rows is None else (rows[-1] if rows else None)
        if rows is not None and not rows:
            return
        for chunk in source.chunks:
            numbers = chunk.rows
            data = chunk.data.reindex(columns=list(self.plan.columns))
            if wanted is not None:
                mask = numbers.isin(wanted)
                numbers, data = numbers[mask], data[mask]
            values = data.to_numpy(dtype=object, na_value=None).tolist() if len(data.columns) else None
            for i, file_row in enumerate(numbers.tolist()):
                if rows is None and self.written >= self.plan.limit:
                    return
                self.row(at(file_row), file_row, values[i] if values is not None else [])
            if self.progress is not None:
                self.progress(self.written)
            if last is not None and len(chunk.rows) and int(chunk.rows.iloc[-1]) >= last:
                return

    def finish(self) -> None:
        plan = self.plan
        for col, width in enumerate(self.widths[: self.ncols]):
            self.ws.set_column(col, col, min(max(width + 2, 8), 50), self.fmt.cell[None])
        self.ws.freeze_panes(1, plan.col_offset)
        # Printing: landscape, all columns on one page width, the header on every page, and
        # Excel's row numbers (the file's row numbers unless rows were left out).
        self.ws.set_landscape()
        self.ws.fit_to_pages(1, 0)
        self.ws.repeat_rows(0)
        self.ws.print_row_col_headers()
        if self.ncols:
            self.ws.autofilter(0, 0, self.written, self.ncols - 1)


def _write_file_sheet(
    book: xlsxwriter.Workbook,
    fmt: _Formats,
    plan: _Plan,
    source: Source,
    report: SheetReport,
    progress: Callable[[int], None] | None = None,
    fixes: Fixes | None = None,
    show_notes: bool = False,
) -> None:
    """Write one file's sheet from ``source`` (opened once; a truncated sheet reads the file a second time)."""
    ws = book.get_worksheet_by_name(plan.sheet)
    assert ws is not None
    writer = _SheetWriter(ws, plan, fmt)
    writer.progress = progress
    writer.fixes = fixes or Fixes()
    writer.show_notes = show_notes
    writer.header()
    try:
        if not plan.truncated:
            writer.copy(source, None, lambda r: r - plan.first_row + 1)
        else:
            writer.copy(source, plan.problem_rows, plan.index.__getitem__)
            again = open_source(Path(source.path), READ_CHUNK_ROWS, source.options) if plan.other_rows else source
            writer.copy(again, plan.other_rows, plan.index.__getitem__)
    except ReadError as exc:
        report.note = _("reading the file again failed: {error}").format(error=exc)
    writer.finish()
    report.written = writer.written
    report.left_out = max(plan.result.rows - writer.written, 0)


class _Rows:
    """Hands out the next row of a sheet, so the Summary is written top to bottom."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, skip: int = 0) -> int:
        self.next += skip
        row = self.next
        self.next += 1
        return row


def _write_summary(
    ws: Worksheet,
    fmt: _Formats,
    results: list[FileResult],
    plans: dict[int, _Plan],
    reports: list[SheetReport],
    report_rows: int,
    bundle_lines: Iterable[str] = (),
    bundle: list[Problem] | None = None,
    stats: BundleStats | None = None,
) -> None:
    rows = _Rows()
    for col, width in enumerate((36, 18, 20, 10, 10, 24, 26, 60)):
        ws.set_column(col, col, width)
    ws.set_landscape()
    ws.fit_to_pages(1, 0)
    bundle = bundle or []
    errors = sum(r.errors for r in results) + sum(p.severity == "error" for p in bundle)
    warnings = sum(r.warnings for r in results)
    total_rows = sum(r.rows for r in results)
    ws.write_string(rows.take(), 0, _("omnimig validation report"), fmt.title)
    ws.write_string(
        rows.take(),
        0,
        counts_line(len(results), total_rows, errors, warnings),
        fmt.bold,
    )
    for line in [p.message for p in bundle] or bundle_lines:
        ws.write_string(rows.take(), 0, visible(_("Bundle: {line}").format(line=line)), fmt.bold)
    r = rows.take()
    ws.write_string(r, 0, _("red cell: error"), fmt.cell["error"])
    ws.write_string(r, 1, _("amber cell: warning"), fmt.cell["warning"])
    ws.write_string(r, 2, _("each marked cell has a note with its problems"), fmt.note)
    ws.write_string(
        rows.take(),
        0,
        _(
            "Rows: row N of a CSV or Excel file is row N of its sheet (row 1 is the header). "
            "For JSON files, record N is row N+1 of its sheet (row 1 holds the keys)."
        ),
        fmt.note,
    )
    ws.write_string(
        rows.take(),
        0,
        _(
            "A problem of a whole row marks the row's first cell. Problems without a cell "
            "(a whole file, a missing column) are listed at the end of this sheet."
        ),
        fmt.note,
    )

    r = rows.take(skip=1)
    for col, name in enumerate(_files_table()):
        ws.write_string(r, col, name, fmt.table_header)
    for result, report in zip(results, reports, strict=True):
        r = rows.take()
        ws.write_string(r, 0, visible(result.path))
        _text(ws, r, 1, result.type)
        _text(ws, r, 2, result.format)
        ws.write_number(r, 3, result.rows, fmt.count)
        ws.write_number(r, 4, result.errors, fmt.count)
        ws.write_number(r, 5, result.warnings, fmt.count)
        if report.sheet is not None:
            ws.write_url(r, 6, sheet_link(report.sheet, 0, 0), fmt.link, report.sheet)
        notes = []
        if result.format is None or not result.readable:
            notes.append(_("could not be read; no sheet"))
        if report.left_out:
            notes.append(
                _("{written} of {rows} rows on the sheet").format(
                    written=figure(report.written), rows=figure(result.rows)
                )
            )
        if report.note:
            notes.append(report.note)
        if notes:
            ws.write_string(r, 7, visible("; ".join(notes)))

    truncated = [(res, rep) for res, rep in zip(results, reports, strict=True) if rep.left_out]
    if truncated:
        ws.write_string(rows.take(skip=1), 0, _("Rows left out"), fmt.bold)
        for result, report in truncated:
            plan = plans[id(result)]
            text = (
                visible(result.path)
                + ": "
                + ngettext(
                    "{n} row left out of sheet '{sheet}' (at most {limit} rows per sheet): it shows the rows with "
                    "problems first, then the others in file order, and column A ({column}) gives each row's "
                    "number in the file.",
                    "{n} rows left out of sheet '{sheet}' (at most {limit} rows per sheet): it shows the rows with "
                    "problems first, then the others in file order, and column A ({column}) gives each row's "
                    "number in the file.",
                    report.left_out,
                ).format(
                    n=figure(report.left_out), sheet=report.sheet, limit=figure(report_rows), column=_(FILE_ROW_COLUMN)
                )
            )
            if plan.problem_rows_left_out:
                n = plan.problem_rows_left_out
                text += " " + ngettext(
                    "{n} row with problems is among those left out.",
                    "{n} rows with problems are among those left out.",
                    n,
                ).format(n=figure(n))
            ws.write_string(rows.take(), 0, visible(text))

    if stats is not None:
        ws.write_string(rows.take(skip=1), 0, _("Bundle summary"), fmt.bold)
        for label, text in stats.lines():
            r = rows.take()
            ws.write_string(r, 0, visible(label))
            ws.write_string(r, 1, visible(text))

    r = rows.take(skip=1)
    for col, name in enumerate(_problems_table()):
        ws.write_string(r, col, name, fmt.table_header)
    for result in results:
        sheet_plan = plans.get(id(result))
        first: dict[tuple[str, str | None, str], tuple[int, int] | None] = {}
        for p in result.problems:
            key = (p.rule, p.field, p.severity)
            if first.get(key) is None:
                first[key] = sheet_plan.where(p) if sheet_plan is not None else None
        counts = result.counts()
        for group in sorted(counts, key=lambda k: (k[2] != "error", k[0], k[1] or "")):
            rule, column, severity = group
            r = rows.take()
            ws.write_string(r, 0, visible(result.path))
            ws.write_string(r, 1, rule)
            _text(ws, r, 2, column)
            ws.write_string(r, 3, severity_name(severity), fmt.cell[severity])
            ws.write_number(r, 4, counts[group], fmt.count)
            cell = first.get(group)
            if sheet_plan is not None and cell is not None:
                label = f"{sheet_plan.sheet}!{xl_rowcol_to_cell(*cell)}"
                ws.write_url(r, 5, sheet_link(sheet_plan.sheet, *cell), fmt.link, label)
            else:
                ws.write_string(
                    r, 5, _("no cell; listed below") if _listed(result, plans, group) else _("rows left out")
                )

    unplaced: list[tuple[FileResult, list[Problem], int]] = []
    for result in results:
        sheet_plan = plans.get(id(result))
        if sheet_plan is not None:
            unplaced.append((result, sheet_plan.unplaced, sheet_plan.unplaced_count))
        else:
            unplaced.append((result, result.problems[:MAX_LISTED], len(result.problems)))
    unplaced = [(result, items, n) for result, items, n in unplaced if n]
    if bundle:  # the bundle's own problems (missing-file, not-checked): no file, no cell
        unplaced.append((FileResult("(bundle)", None, None), bundle, len(bundle)))
    if unplaced:
        ws.write_string(rows.take(skip=1), 0, _("Problems without a cell on a sheet"), fmt.bold)
        r = rows.take()
        for col, name in enumerate(_unplaced_table()):
            ws.write_string(r, col, name, fmt.table_header)
        for result, items, total in unplaced:
            for p in items[:MAX_LISTED]:
                r = rows.take()
                ws.write_string(r, 0, visible(result.path))
                if p.row is not None:
                    ws.write_number(r, 1, p.row, fmt.count)
                _text(ws, r, 2, p.field)
                ws.write_string(r, 3, p.rule)
                ws.write_string(r, 4, severity_name(p.severity), fmt.cell[p.severity])
                ws.write_string(r, 5, visible(p.message))
            if total > MAX_LISTED:
                more = total - MAX_LISTED
                text = ngettext(
                    "… and {n} more problem; omnimig validate --format csv lists them all",
                    "… and {n} more problems; omnimig validate --format csv lists them all",
                    more,
                ).format(n=figure(more))
                ws.write_string(rows.take(), 0, f"{visible(result.path)}: {text}", fmt.note)


# The Summary sheet's column headings, in the language of the run: words for a person (the rule
# codes under them never change). The context keeps "errors" (a count here) apart from the
# report's "errors" (a file's status).
def _files_table() -> tuple[str, ...]:
    return (
        pgettext("column", "file"),
        pgettext("column", "type"),
        pgettext("column", "format"),
        pgettext("column", "rows"),
        pgettext("column", "errors"),
        pgettext("column", "warnings"),
        pgettext("column", "sheet"),
        pgettext("column", "note"),
    )


def _problems_table() -> tuple[str, ...]:
    return (
        pgettext("column", "file"),
        pgettext("column", "rule"),
        pgettext("column", "field"),
        pgettext("column", "severity"),
        pgettext("column", "count"),
        pgettext("column", "first example"),
    )


def _unplaced_table() -> tuple[str, ...]:
    return (
        pgettext("column", "file"),
        pgettext("column", "row"),
        pgettext("column", "field"),
        pgettext("column", "rule"),
        pgettext("column", "severity"),
        pgettext("column", "message"),
    )


def _text(ws: Worksheet, row: int, col: int, value: str | None) -> None:
    if value:
        ws.write_string(row, col, value)


def _listed(result: FileResult, plans: dict[int, _Plan], key: tuple[str, str | None, str]) -> bool:
    plan = plans.get(id(result))
    if plan is not None:
        return key in plan.unplaced_groups
    return key in result.counts()


def write_workbook(
    results: list[FileResult],
    out: Path,
    report_rows: int = 100_000,
    bundle_lines: Iterable[str] = (),
    progress: Callable[[int, int], None] | None = None,
    outcome: BundleOutcome | None = None,
    fixes: Fixes | None = None,
    show_notes: bool = False,
) -> list[SheetReport]:
    """Write the annotated workbook to ``out``; one ``SheetReport`` per result, in order.

    ``fixes`` (what ``omnimig fix`` writes, by type, field, format and value) adds "write …" to the
    note of each cell it corrects.

    ``outcome`` (the bundle checks' result) puts the bundle's own problems on the Summary sheet,
    in its heading and its list of problems without a cell, and the bundle summary under
    "Bundle summary"; ``bundle_lines`` is the former way of passing the problems' messages only.

    ``show_notes`` writes every cell note open on the sheet rather than shown on hover (as Excel's
    "Show All Notes" does); the default leaves them hidden, which a sheet with many marks needs.

    ``report_rows`` caps the data rows on each file's sheet (and is itself capped at Excel's
    1,048,575). Every value is written as text: nothing becomes a formula, a number or a link.
    ``progress``, when given, is called as ``progress(rows written, rows to write)`` as sheets fill.
    """
    limit = max(0, min(report_rows, EXCEL_DATA_ROWS))
    total = sum(min(r.rows, limit) for r in results if r.readable and r.format is not None)
    done_before = 0
    book = xlsxwriter.Workbook(
        str(out),
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
        },
    )
    try:
        fmt = _Formats(book)
        summary_name = _(SUMMARY_SHEET)
        summary = book.add_worksheet(summary_name)
        taken = {summary_name.lower()}
        plans: dict[int, _Plan] = {}
        reports: list[SheetReport] = []
        for result in results:
            report = SheetReport(result.path, None, result.rows)
            reports.append(report)
            if result.format is None or not result.readable:
                continue  # an unreadable file: the Summary lists it and its one problem
            path = Path(result.path)
            try:
                # Opened once for its header and its rows: reading a large file is the costly part.
                source = open_source(path, READ_CHUNK_ROWS, result.read_options)
                columns = source.columns
            except ReadError as exc:
                report.note = _("could not read the file again: {error}").format(error=exc)
                report.left_out = result.rows
                continue
            name = safe_sheet_name(path.stem, taken)
            plan = _plan(result, name, columns, result.format == "json", limit)
            plans[id(result)] = plan
            book.add_worksheet(name)
            report.sheet = name
            hook = None if progress is None else (lambda n, base=done_before: progress(base + n, total))
            _write_file_sheet(book, fmt, plan, source, report, hook, fixes, show_notes)
            done_before += report.written
        bundle = None if outcome is None else bundle_problems(outcome)
        stats = None if outcome is None else outcome.stats
        _write_summary(summary, fmt, results, plans, reports, limit, bundle_lines, bundle, stats)
        summary.activate()
    finally:
        book.close()
    return reports
