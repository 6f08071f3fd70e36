"""The annotated workbook (``--report FILE.xlsx``), read back with openpyxl.

Each test validates small files with the real engine, writes the workbook and checks the cells
a person would look at: which are red or amber, which carry a note, what the Summary links to.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import openpyxl
import pytest
from filetools import write_xlsx
from openpyxl.worksheet.worksheet import Worksheet

from omnimig.io import open_source
from omnimig.schemas.rules import default_choices
from omnimig.validation.problem import FileResult, Problem
from omnimig.validation.run import Target, validate_file
from omnimig.validation.workbook import (
    ERROR_FILL,
    FILE_ROW_COLUMN,
    SUMMARY_SHEET,
    WARNING_FILL,
    safe_sheet_name,
    write_workbook,
)

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
RGB = {"FF" + ERROR_FILL[1:].upper(): "error", "FF" + WARNING_FILL[1:].upper(): "warning"}
TRICKY = ["=SUM(A1:A2)", "+90 532", "-5", "@x", "https://x.y"]


# --------------------------------------------------------------------------- helpers


def sample_rows(name: str) -> list[list[str]]:
    with (SAMPLES / name).open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


USER_HEADER, USER_ROW = sample_rows("user.csv")[:2]


def user(n: int, **changes: str) -> list[str]:
    """A valid user row, numbered ``n`` so rows differ, with ``changes`` applied."""
    row = dict(zip(USER_HEADER, USER_ROW, strict=True))
    row.update(customer_code=f"C{n:04d}", email=f"user{n}@example.com")
    row.update(changes)
    return [row[c] for c in USER_HEADER]


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def validate(path: Path, type_name: str) -> FileResult:
    return validate_file(Target(path, type_name), default_choices())


def build(tmp_path: Path, results: list[FileResult], **kw: int) -> openpyxl.Workbook:
    out = tmp_path / "report.xlsx"
    write_workbook(results, out, **kw)
    return openpyxl.load_workbook(out)


def marks(ws: Worksheet) -> dict[str, str]:
    """Every filled cell: coordinate -> ``error`` (red) or ``warning`` (amber)."""
    found = {}
    for row in ws.iter_rows():
        for c in row:
            kind = RGB.get(str(c.fill.fgColor.rgb)) if c.fill.fill_type else None
            if kind:
                found[c.coordinate] = kind
    return found


def notes(ws: Worksheet) -> dict[str, str]:
    return {c.coordinate: c.comment.text for row in ws.iter_rows() for c in row if c.comment is not None}


def expected_cells(result: FileResult, columns: tuple[str, ...], json_file: bool = False) -> dict[str, str]:
    """Where the problems belong when every row is on the sheet: coordinate -> worst severity."""
    cells: dict[str, str] = {}
    for p in result.problems:
        if p.row is None or (p.field is not None and p.field not in columns):
            continue
        col = 0 if p.field is None else columns.index(p.field)
        coord = f"{openpyxl.utils.get_column_letter(col + 1)}{p.row + (1 if json_file else 0)}"
        cells[coord] = "error" if p.severity == "error" or cells.get(coord) == "error" else "warning"
    return cells


def line(p: Problem) -> str:
    return f"{p.severity} [{p.rule}] {p.message}"


def sheet_values(ws: Worksheet) -> list[list[str | None]]:
    return [[c.value for c in row] for row in ws.iter_rows()]


def summary_text(wb: openpyxl.Workbook) -> str:
    ws = wb[SUMMARY_SHEET]
    return "\n".join(" | ".join(str(c.value) for c in row if c.value is not None) for row in ws.iter_rows())


def links(wb: openpyxl.Workbook) -> dict[tuple[str, str | None, str], str]:
    """The rule table of the Summary: (rule, field, severity) -> the hyperlink's location."""
    ws = wb[SUMMARY_SHEET]
    found = {}
    for row in ws.iter_rows(min_col=1, max_col=6):
        cell = row[5]
        if cell.hyperlink is not None and row[1].value:
            found[(row[1].value, row[2].value, row[3].value)] = cell.hyperlink.location
    return found


@pytest.fixture
def users_csv(tmp_path: Path) -> Path:
    """Rows 2-7 of a user file: tricky text at 2, 3 and 6, planted problems at 4, 5, 6 and 7."""
    return write_csv(
        tmp_path / "users.csv",
        [
            USER_HEADER,
            user(1, first_name="=SUM(A1:A2)"),  # row 2
            user(2, first_name="+90 532", last_name="-5"),  # row 3
            user(3, email="not-an-email"),  # row 4: error
            [""] * len(USER_HEADER),  # row 5: blank row, a whole-row error
            user(5, first_name="@x", last_name="https://x.y", password_algorithm="rot13"),  # row 6: warning
            user(6, email="also bad", password_algorithm="rot13"),  # row 7: error and warning
        ],
    )


# --------------------------------------------------------------------------- the data sheets


def test_csv_sheet_is_the_file_row_for_row_with_exactly_the_problem_cells_marked(
    tmp_path: Path, users_csv: Path
) -> None:
    result = validate(users_csv, "user")
    planted = {(p.row, p.field, p.severity) for p in result.problems}
    assert {(4, "email", "error"), (5, None, "error"), (7, "email", "error")} <= planted
    assert {(6, "password_algorithm", "warning"), (7, "password_algorithm", "warning")} <= planted

    wb = build(tmp_path, [result])
    assert wb.sheetnames == [SUMMARY_SHEET, "users"]
    ws = wb["users"]
    with users_csv.open(newline="", encoding="utf-8") as fh:
        original = list(csv.reader(fh))
    assert [c.value for c in ws[1]] == USER_HEADER
    assert all(c.font.b for c in ws[1])
    assert ws.freeze_panes == "A2"
    for n, row in enumerate(original[1:], start=2):  # row N of the sheet is row N of the file
        assert [c.value or "" for c in ws[n]] == row
    assert ws.max_row == len(original)

    expected = expected_cells(result, tuple(USER_HEADER))
    assert marks(ws) == expected
    assert set(notes(ws)) == set(expected)
    assert expected["D4"] == "error"
    assert expected["A5"] == "error"  # the blank row, on its first cell
    assert expected["L6"] == "warning"
    assert expected["D7"] == "error" and expected["L7"] == "warning"
    for p in result.problems:
        coord = "A5" if p.field is None else f"{'D' if p.field == 'email' else 'L'}{p.row}"
        assert line(p) in notes(ws)[coord].split("\n")


def test_a_cell_with_an_error_and_a_warning_is_red_and_lists_both(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", [USER_HEADER, user(1)])
    result = validate(path, "user")
    assert result.problems == []
    result.problems = [
        Problem(str(path), "user", 2, "gender", "choices", "warning", "x", "gender: a warning"),
        Problem(str(path), "user", 2, "gender", "enum", "error", "x", "gender: an error"),
    ]
    ws = build(tmp_path, [result])["users"]
    assert marks(ws) == {"E2": "error"}
    assert notes(ws)["E2"].split("\n") == ["error [enum] gender: an error", "warning [choices] gender: a warning"]


def test_json_record_n_is_sheet_row_n_plus_1(tmp_path: Path) -> None:
    records = json.loads((SAMPLES / "order_item.json").read_text(encoding="utf-8"))
    records[2]["price"] = 12.345  # record 3
    path = tmp_path / "order_items.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = validate(path, "order_item")
    assert [(p.row, p.field, p.severity) for p in result.problems] == [(3, "price", "error")]

    wb = build(tmp_path, [result])
    ws = wb["order_items"]
    columns = tuple(records[0])
    assert [c.value for c in ws[1]] == list(columns)
    price = openpyxl.utils.get_column_letter(columns.index("price") + 1)
    assert marks(ws) == {f"{price}4": "error"}
    assert notes(ws)[f"{price}4"] == line(result.problems[0])
    assert ws[f"{price}4"].value == "12.345"
    assert ws["A4"].value == records[2]["order_number"]
    assert links(wb) == {("decimal-places", "price", "error"): f"'order_items'!{price}4"}
    assert "record N is row N+1" in summary_text(wb)


def test_xlsx_input_keeps_its_row_numbers_and_marks_a_header_problem(tmp_path: Path) -> None:
    rows: list[list[object]] = [[*USER_HEADER, "note"], [*user(1), "hi"], [*user(2, email="nope"), ""]]
    rows[1][USER_HEADER.index("phone")] = 5321234567  # a number cell: read back as the text typed
    path = write_xlsx(tmp_path / "users.xlsx", rows)
    result = validate(path, "user")
    assert {(p.row, p.field, p.rule, p.severity) for p in result.problems} == {
        (1, "note", "unknown-column", "warning"),
        (3, "email", "pattern", "error"),
    }

    ws = build(tmp_path, [result])["users"]
    assert [c.value for c in ws[1]] == [*USER_HEADER, "note"]
    assert ws["H2"].value == "5321234567" and ws["H2"].data_type == "s"
    assert marks(ws) == expected_cells(result, (*USER_HEADER, "note"))
    assert marks(ws)["M1"] == "warning" and marks(ws)["D3"] == "error"
    assert set(notes(ws)) == set(marks(ws))


def test_alias_column_problems_sit_on_the_alias_column(tmp_path: Path) -> None:
    rows = sample_rows("order.csv")
    header = rows[0]
    header[header.index("user")] = "customer_code"
    rows[2][header.index("customer_code")] = ""  # row 3: the required user is empty
    path = write_csv(tmp_path / "orders.csv", rows)
    result = validate(path, "order")
    found = {(p.row, p.field, p.severity) for p in result.problems}
    assert {(1, "user", "warning"), (3, "user", "error")} <= found

    ws = build(tmp_path, [result])["orders"]
    col = openpyxl.utils.get_column_letter(header.index("customer_code") + 1)
    assert marks(ws) == {f"{col}1": "warning", f"{col}3": "error"}


def test_values_that_look_like_formulas_numbers_or_links_stay_text(tmp_path: Path, users_csv: Path) -> None:
    out = tmp_path / "report.xlsx"
    write_workbook([validate(users_csv, "user")], out)
    wb = openpyxl.load_workbook(out)
    ws = wb["users"]
    cells = {ws["B2"].value, ws["B3"].value, ws["C3"].value, ws["B6"].value, ws["C6"].value}
    assert cells == set(TRICKY)
    for coord in ("B2", "B3", "C3", "B6", "C6"):
        assert ws[coord].data_type == "s"
        assert ws[coord].hyperlink is None
        assert ws[coord].number_format == "@"  # typing over it keeps text too
    for sheet in wb.worksheets:
        for row in sheet.iter_rows():
            for c in row:
                assert c.data_type != "f", f"{sheet.title}!{c.coordinate} is a formula"
    assert not ws._hyperlinks
    with zipfile.ZipFile(out) as z:
        xml = z.read("xl/worksheets/sheet2.xml").decode()
        names = z.namelist()
    assert "<f>" not in xml and "<f " not in xml
    # constant-memory mode writes strings inline, never into a shared-strings table
    assert 't="inlineStr"' in xml and "xl/sharedStrings.xml" not in names


# --------------------------------------------------------------------------- the Summary sheet


def test_summary_counts_and_links_to_the_first_example_of_each_rule(tmp_path: Path, users_csv: Path) -> None:
    result = validate(users_csv, "user")
    wb = build(tmp_path, [result])
    assert wb.sheetnames[0] == SUMMARY_SHEET
    ws = wb[SUMMARY_SHEET]
    counts = result.counts()
    table = {}
    for row in ws.iter_rows(values_only=True):
        if row[0] == str(users_csv) and isinstance(row[4], int) and row[1] in {k[0] for k in counts}:
            table[(row[1], row[2], row[3])] = row[4]
    assert table == dict(counts)
    files = [r for r in ws.iter_rows(values_only=True) if r[0] == str(users_csv) and r[1] == "user"]
    assert files[0][2:6] == ("csv", 6, result.errors, result.warnings)

    first: dict[tuple[str, str | None, str], str] = {}
    for p in result.problems:
        col = "A" if p.field is None else openpyxl.utils.get_column_letter(USER_HEADER.index(p.field) + 1)
        first.setdefault((p.rule, p.field, p.severity), f"'users'!{col}{p.row}")
    assert links(wb) == first
    assert links(wb)[("blank-row", None, "error")] == "'users'!A5"


def test_problems_without_a_cell_are_listed_on_the_summary_only(tmp_path: Path) -> None:
    header = [c for c in USER_HEADER if c != "email"]
    path = write_csv(
        tmp_path / "users.csv", [header, [v for c, v in zip(USER_HEADER, user(1), strict=True) if c != "email"]]
    )
    result = validate(path, "user")
    missing = [p for p in result.problems if p.rule == "missing-column"]
    assert [(p.row, p.field) for p in missing] == [(1, "email")]
    result.problems.append(Problem(str(path), "user", None, None, "encoding", "warning", None, "whole-file note"))

    wb = build(tmp_path, [result])
    assert marks(wb["users"]) == {} and notes(wb["users"]) == {}
    text = summary_text(wb)
    assert missing[0].message in text
    assert "whole-file note" in text
    assert not links(wb)


def test_an_unreadable_file_has_no_sheet_but_is_on_the_summary(tmp_path: Path, users_csv: Path) -> None:
    bad = FileResult(
        str(tmp_path / "orders.xlsx"),
        "order",
        None,
        0,
        [Problem(str(tmp_path / "orders.xlsx"), "order", None, None, "read-error", "error", None, "not a workbook")],
    )
    reports = write_workbook([bad, validate(users_csv, "user")], tmp_path / "r.xlsx")
    assert [r.sheet for r in reports] == [None, "users"]
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == [SUMMARY_SHEET, "users"]
    assert "not a workbook" in summary_text(wb)
    assert "could not be read" in summary_text(wb)


def test_a_file_with_no_rows_gets_its_header_only(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", [USER_HEADER])
    result = validate(path, "user")
    assert result.rows == 0
    reports = write_workbook([result], tmp_path / "r.xlsx")
    assert (reports[0].written, reports[0].left_out) == (0, 0)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    ws = wb["users"]
    assert sheet_values(ws) == [USER_HEADER]
    assert "the file has no data rows" in summary_text(wb)


# --------------------------------------------------------------------------- report_rows


@pytest.fixture
def ten_users(tmp_path: Path) -> Path:
    """10 data rows (file rows 2-11): a bad email at row 8, a blank row at row 10."""
    rows = [USER_HEADER] + [user(n) for n in range(2, 12)]
    rows[7] = user(8, email="broken")
    rows[9] = [""] * len(USER_HEADER)
    return write_csv(tmp_path / "users.csv", rows)


def test_report_rows_puts_problem_rows_first_and_says_how_many_were_left_out(tmp_path: Path, ten_users: Path) -> None:
    result = validate(ten_users, "user")
    assert {(p.row, p.field) for p in result.problems} == {(8, "email"), (10, None)}
    out = tmp_path / "r.xlsx"
    reports = write_workbook([result], out, report_rows=3)
    assert (reports[0].rows, reports[0].written, reports[0].left_out) == (10, 3, 7)

    wb = openpyxl.load_workbook(out)
    ws = wb["users"]
    assert [c.value for c in ws[1]] == [FILE_ROW_COLUMN, *USER_HEADER]
    assert [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)] == [8, 10, 2]
    with ten_users.open(newline="", encoding="utf-8") as fh:
        original = list(csv.reader(fh))
    for sheet_row, file_row in ((2, 8), (3, 10), (4, 2)):
        assert [c.value or "" for c in ws[sheet_row]][1:] == original[file_row - 1]
    assert ws.freeze_panes == "B2"
    assert marks(ws) == {"E2": "error", "A3": "error"}  # email is column E after the file-row column
    assert set(notes(ws)) == {"E2", "A3"}
    assert links(wb) == {("pattern", "email", "error"): "'users'!E2", ("blank-row", None, "error"): "'users'!A3"}
    text = summary_text(wb)
    assert "7 rows left out" in text
    assert "among those left out" not in text  # every problem row made it onto the sheet


def test_report_rows_smaller_than_the_problem_rows(tmp_path: Path, ten_users: Path) -> None:
    result = validate(ten_users, "user")
    reports = write_workbook([result], tmp_path / "r.xlsx", report_rows=1)
    assert (reports[0].written, reports[0].left_out) == (1, 9)
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    ws = wb["users"]
    assert [ws.cell(r, 1).value for r in range(2, ws.max_row + 1)] == [8]
    assert marks(ws) == {"E2": "error"}
    text = summary_text(wb)
    assert "9 rows left out" in text and "1 row with problems is among those left out" in text
    assert "rows left out" in [c.value for c in wb[SUMMARY_SHEET]["F"]]  # blank-row: no example on the sheet


def test_no_file_row_column_when_everything_fits(tmp_path: Path, ten_users: Path) -> None:
    ws = build(tmp_path, [validate(ten_users, "user")], report_rows=10)["users"]
    assert ws["A1"].value == "customer_code" and ws.max_row == 11


# --------------------------------------------------------------------------- sheet names


def test_safe_sheet_names() -> None:
    taken = {"summary"}
    assert safe_sheet_name("orders", taken) == "orders"
    assert safe_sheet_name("Orders", taken) == "Orders (2)"
    assert safe_sheet_name("ORDERS", taken) == "ORDERS (3)"
    assert safe_sheet_name("summary", taken) == "summary (2)"
    assert safe_sheet_name("a[b]c:d*e?f/g\\h", taken) == "a_b_c_d_e_f_g_h"
    assert safe_sheet_name("'quoted'", taken) == "quoted"
    assert safe_sheet_name("history", taken) == "history (2)"
    long = "order_items_exported_from_the_legacy_shop_2021"
    first, second = safe_sheet_name(long, taken), safe_sheet_name(long, taken)
    assert first == long[:31] and second == long[:27] + " (2)"
    assert len(first) == len(second) == 31


def test_duplicate_and_long_stems_get_safe_unique_sheets(tmp_path: Path) -> None:
    paths = []
    for i, folder in enumerate(("a", "b")):
        (tmp_path / folder).mkdir()
        paths.append(write_csv(tmp_path / folder / "users.csv", [USER_HEADER, user(i)]))
    long = write_csv(tmp_path / "users_exported_from_the_old_shop[final]_v2.csv", [USER_HEADER, user(9)])
    results = [validate(p, "user") for p in [*paths, long]]
    reports = write_workbook(results, tmp_path / "r.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert wb.sheetnames == [SUMMARY_SHEET, "users", "users (2)", "users_exported_from_the_old_sho"]
    assert [r.sheet for r in reports] == wb.sheetnames[1:]
    summary = wb[SUMMARY_SHEET]
    sheet_links = [c.hyperlink.location for c in summary["G"] if c.hyperlink is not None]
    assert sheet_links == ["'users'!A1", "'users (2)'!A1", "'users_exported_from_the_old_sho'!A1"]
    assert wb["users (2)"]["A2"].value == user(1)[0]


def test_sheet_values_match_the_reader_for_every_sample(tmp_path: Path) -> None:
    results = [
        validate(SAMPLES / name, type_name)
        for name, type_name in (
            ("user.csv", "user"),
            ("address.csv", "address"),
            ("order.csv", "order"),
            ("order_item.json", "order_item"),
        )
    ]
    wb = build(tmp_path, results)
    assert wb.sheetnames == [SUMMARY_SHEET, "user", "address", "order", "order_item"]
    for result in results:
        source = open_source(Path(result.path))
        ws = wb[Path(result.path).stem]
        assert [c.value for c in ws[1]] == list(source.columns)
        offset = 1 if source.format == "json" else 0
        for chunk in source.chunks:
            texts = chunk.data.to_numpy(dtype=object, na_value=None).tolist()
            for number, values in zip(chunk.rows, texts, strict=True):
                got = [c.value for c in ws[number + offset]]
                want = [v or None for v in values]
                assert got == want
