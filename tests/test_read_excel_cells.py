"""Workbooks as Excel and panels write them: every surprising cell is a problem at its own row.

The workbooks are written with openpyxl, xlsxwriter and xlwt the way real files come: error
cells, formulas never calculated (programs) or with float noise (Excel), 16-digit numbers, the
data on a second sheet under title rows, hidden sheets, merged cells, Excel's phantom 1900-02-29.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from filetools import inline_row, write_raw_xlsx, write_xlsx
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.io.read_excel import cell_text, read_excel

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def user_rows() -> list[list[Any]]:
    """The committed sample users (valid): a header and three rows."""
    with (SAMPLES / "user.csv").open(encoding="utf-8", newline="") as f:
        return [list(row) for row in csv.reader(f)]


def problems(path: Path, *extra: str) -> set[tuple[Any, ...]]:
    result = CliRunner().invoke(app, ["validate", "--format", "json", *extra, str(path)])
    assert result.exit_code in (0, 1), result.output
    found = json.loads(result.stdout)["files"][0]["problems"]
    return {(p["row"], p["field"], p["rule"], p["severity"], p["value"]) for p in found}


def col(name: str) -> int:
    return user_rows()[0].index(name)


# ------------------------------------------------------------------ error cells


def test_error_cells_are_problems_naming_the_error_in_optional_fields_too(tmp_path: Path) -> None:
    rows = user_rows()
    path = tmp_path / "user.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    sheet.cell(row=3, column=col("phone") + 1, value="#N/A")  # openpyxl stores it as an error cell (t="e")
    sheet.cell(row=4, column=col("date_of_birth") + 1, value="#DIV/0!")
    book.save(path)
    found = problems(path)
    assert (3, "phone", "excel-error", "error", "#N/A") in found
    assert (4, "date_of_birth", "excel-error", "error", "#DIV/0!") in found
    # nothing else is wrong; the cell's own rule may also judge the text "#N/A" (it is what Excel shows)
    assert {p[:2] for p in found if p[3] == "error"} == {(3, "phone"), (4, "date_of_birth")}


def test_every_excel_error_code_and_its_message(tmp_path: Path) -> None:
    codes = ["#N/A", "#VALUE!", "#DIV/0!", "#REF!", "#NAME?", "#NUM!", "#NULL!"]
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["customer_code", "phone"])
    for i, code in enumerate(codes, start=1):
        sheet.write_string(i, 0, f"C{i}")
        sheet.write_formula(i, 1, "=1/0", None, code)  # Excel keeps the error as the cached value
    book.close()
    source = read_excel(path, "xlsx")
    chunks = list(source.chunks)
    notes = [n for c in chunks for n in c.notices if n.rule == "excel-error"]
    assert [(n.row, n.column, n.value) for n in notes] == [(i, "phone", code) for i, code in enumerate(codes, 2)]
    assert notes[0].message.startswith("B2 holds the Excel error #N/A")
    assert list(chunks[0].data["phone"]) == codes  # the value as a person sees it, kept for --split


# ------------------------------------------------------------------ formulas


def test_a_formula_never_calculated_is_a_problem_not_required_but_empty(tmp_path: Path) -> None:
    rows = user_rows()
    path = tmp_path / "user.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    sheet.cell(row=2, column=col("first_name") + 1, value='=UPPER("ayse")')  # openpyxl writes no cached value
    book.save(path)
    found = problems(path)
    assert (2, "first_name", "formula-not-calculated", "error", '=UPPER("ayse")') in found
    assert not any(p[2] == "required" for p in found)


def test_formulas_of_a_program_that_asks_excel_to_recalculate_are_not_trusted(tmp_path: Path) -> None:
    # xlsxwriter caches 0 for every formula and sets fullCalcOnLoad: the 0 is not a value
    path = tmp_path / "order_item.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["order_number", "quantity"])
    sheet.write_row(1, 0, ["ORD-1", 2])
    sheet.write_string(2, 0, "ORD-2")
    sheet.write_formula(2, 1, "=B2*3")
    book.close()
    notes = [n for c in read_excel(path, "xlsx").chunks for n in c.notices]
    assert [(n.rule, n.row, n.column, n.value) for n in notes] == [("formula-not-calculated", 3, "quantity", "=B2*3")]
    assert "open and save the file in Excel" in notes[0].message


def test_a_cached_formula_result_reads_as_excel_displays_it(tmp_path: Path) -> None:
    # as Excel saves =19.99*3: the binary float, with its noise
    rows = inline_row(1, {"A": "order_number", "B": "price", "C": "plain"})
    rows += '<row r="2"><c r="A2" t="inlineStr"><is><t>ORD-1</t></is></c>'
    rows += '<c r="B2"><f>19.99*3</f><v>59.970000000000006</v></c><c r="C2"><v>0.30000000000000004</v></c></row>'
    path = write_raw_xlsx(tmp_path / "order_item.xlsx", rows)
    chunk = next(iter(read_excel(path, "xlsx").chunks))
    assert chunk.data.to_dict("records") == [{"order_number": "ORD-1", "price": "59.97", "plain": "0.3"}]
    assert chunk.notices == []


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.0, "3"), (1234567890123456.0, "1234567890123456"), (59.970000000000006, "59.97"), (-129.9, "-129.9"),
     (1.5e-07, "0.00000015"), (0.1, "0.1"), (12345678901234.5, "12345678901234.5")],
)  # fmt: skip
def test_numbers_read_as_typed(value: float, text: str) -> None:
    assert cell_text(value) == text


def test_a_number_of_16_digits_in_a_text_field_has_been_rounded_by_excel(tmp_path: Path) -> None:
    rows = user_rows()
    rows[1][col("phone")] = 5321234567  # a number cell, 10 digits: exact
    rows[2][col("phone")] = 1234567890123456  # 16 digits: Excel keeps 15
    path = write_xlsx(tmp_path / "user.xlsx", rows)
    found = problems(path)
    rounded = {p for p in found if p[2] == "excel-precision"}
    assert rounded == {(3, "phone", "excel-precision", "error", "1234567890123456")}
    chunk = next(iter(read_excel(path, "xlsx").chunks))
    assert list(chunk.data["phone"])[:2] == ["5321234567", "1234567890123456"]
    message = chunk.notices[0].message
    assert "H3" in message and '"phone"' in message and "Format the column as Text" in message


# ------------------------------------------------------------------ which sheet, which row


def test_data_on_the_second_sheet_under_title_rows(tmp_path: Path) -> None:
    rows = user_rows()
    rows[2][col("email")] = "not-an-email"
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    notes = book.add_worksheet("Açıklama")
    notes.write(0, 0, "Bu dosya müşteri listesidir")
    data = book.add_worksheet("Müşteriler")
    data.write(0, 0, "Müşteri listesi")  # title
    data.write(1, 0, "31.12.2023")  # a date line; row 3 blank
    for r, row in enumerate(rows):
        data.write_row(3 + r, 0, row)  # header on sheet row 4
    book.close()
    source = read_excel(path, "xlsx")
    assert [(n.rule, n.severity) for n in source.notices] == [("sheet", "warning"), ("header-row", "warning")]
    assert '"Müşteriler"' in source.notices[0].message and "row 4" in source.notices[1].message
    found = problems(path)
    errors = {p[:3] for p in found if p[3] == "error"}
    assert errors == {(6, "email", "pattern")}  # the sheet's own row number
    assert not any(p[2] == "missing-column" for p in found)


def test_a_hidden_sheet_is_never_picked_silently(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Kapak").write(0, 0, "Kapak sayfası")
    hidden = book.add_worksheet("Veri")
    for r, row in enumerate(user_rows()):
        hidden.write_row(r, 0, row)
    hidden.hide()
    book.close()
    source = read_excel(path, "xlsx")
    assert source.columns == ("Kapak sayfası",)
    (note,) = source.notices
    assert note.rule == "hidden-sheets"  # not "sheet": the first visible sheet was read
    assert note.message == 'read sheet "Kapak"; the hidden sheet "Veri" was not read (choose one with --sheet NAME)'
    chosen = read_excel(path, "xlsx", sheet="Veri")  # named: read, even hidden
    assert chosen.columns == tuple(user_rows()[0])
    assert sum(len(c.data) for c in chosen.chunks) == 3


def test_sheet_by_position_and_header_row_by_number(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("one").write(0, 0, "x")
    two = book.add_worksheet("two")
    two.write_row(0, 0, ["report of 2023"])
    two.write_row(1, 0, ["code", "name"])  # not documented names: no search would find it
    two.write_row(2, 0, ["C1", "Ayşe"])
    book.close()
    source = read_excel(path, "xlsx", sheet=2, header_row=2)
    assert source.columns == ("code", "name")
    chunk = next(iter(source.chunks))
    assert chunk.data.to_dict("records") == [{"code": "C1", "name": "Ayşe"}]
    assert list(chunk.rows) == [3]
    with pytest.raises(Exception, match="no sheet 'three'; the sheets are 1: 'one', 2: 'two'"):
        read_excel(path, "xlsx", sheet="three")


def test_legacy_xls_header_under_a_title_row(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    path = tmp_path / "user.xls"
    book = xlwt.Workbook()
    sheet = book.add_sheet("Users", cell_overwrite_ok=True)
    sheet.write(0, 0, "Export 2023")
    for r, row in enumerate(user_rows()):
        for c, value in enumerate(row):
            sheet.write(r + 2, c, value)
    sheet.write(4, col("phone"), 1234567890123456.0)
    book.save(str(path))
    found = problems(path)
    assert (5, "phone", "excel-precision", "error", "1234567890123456") in found
    assert {p[:2] for p in found if p[3] == "error"} == {(5, "phone")}  # the sheet's own row, nothing else


# ------------------------------------------------------------------ merged cells, dates


def test_covered_cells_of_a_merge_read_empty_and_say_where(tmp_path: Path) -> None:
    rows = user_rows()
    path = tmp_path / "user.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    c = col("gender") + 1
    sheet.merge_cells(start_row=2, start_column=c, end_row=3, end_column=c)  # gender of row 2 "also" for row 3
    book.save(path)
    found = problems(path)
    merged = [p for p in found if p[2] == "merged-cell"]
    assert merged == [(3, "gender", "merged-cell", "error", "")]
    notes = [n for ch in read_excel(path, "xlsx").chunks for n in ch.notices]
    assert notes[0].message.startswith("E3 is merged with E2 above (E2:E3)")


def test_excel_1900_leap_day_is_a_problem(tmp_path: Path) -> None:
    rows = user_rows()
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        sheet.write_row(r, 0, row)
    sheet.write_number(2, col("date_of_birth"), 60, day)  # what Excel shows as 1900-02-29
    sheet.write_number(3, col("date_of_birth"), 61, day)  # 1900-03-01: a real date
    book.close()
    found = problems(path)
    assert (3, "date_of_birth", "excel-date", "error", "1900-02-29") in found
    assert not any(p[0] == 4 and p[2] == "excel-date" for p in found)
    chunk = next(iter(read_excel(path, "xlsx").chunks))
    assert list(chunk.data["date_of_birth"])[1:] == ["1900-02-29", "1900-03-01"]


def test_a_date_cell_still_reads_as_iso_text(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "user.xlsx", [["customer_code", "date_joined"], ["C1", dt.datetime(2023, 12, 31, 14, 5)]]
    )
    chunk = next(iter(read_excel(path, "xlsx").chunks))
    assert chunk.data.to_dict("records") == [{"customer_code": "C1", "date_joined": "2023-12-31 14:05:00"}]


# ------------------------------------------------------------------ --split keeps the values as typed


def test_split_holds_the_rows_with_workbook_problems_and_keeps_their_values(tmp_path: Path) -> None:
    rows = user_rows()
    path = tmp_path / "in" / "user.xlsx"
    path.parent.mkdir()
    book = openpyxl.Workbook()
    sheet = book.active
    for r in rows:
        sheet.append(r)
    sheet.cell(row=3, column=col("phone") + 1, value="#N/A")
    book.save(path)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["validate", "--split", str(out), str(path)])
    assert result.exit_code == 1, result.output
    held = list((out / "held").iterdir())
    assert len(held) >= 1
    text = "".join(p.read_text(encoding="utf-8", errors="replace") for p in held if p.suffix == ".csv")
    if not text:
        held_book = openpyxl.load_workbook(next(p for p in held if p.suffix == ".xlsx"), read_only=True)
        text = repr([list(r) for r in held_book.worksheets[0].iter_rows(values_only=True)])
    assert "#N/A" in text and rows[2][0] in text and rows[1][0] not in text


def test_a_table_that_starts_at_b3_keeps_sheet_rows_and_cell_names(tmp_path: Path) -> None:
    path = tmp_path / "order_item.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet["B3"], sheet["C3"] = "order_number", "quantity"
    sheet["B4"], sheet["C4"] = "ORD-1", 2
    sheet["B5"], sheet["C5"] = "ORD-2", "#REF!"
    sheet["C6"] = 1234567890123456
    sheet.merge_cells("B5:B6")
    book.save(path)
    source = read_excel(path, "xlsx")
    assert source.columns == ("order_number", "quantity")  # the table starts at column B
    chunk = next(iter(source.chunks))
    assert list(chunk.rows) == [4, 5, 6]
    assert chunk.data.to_dict("records")[1:] == [
        {"order_number": "ORD-2", "quantity": "#REF!"},
        {"order_number": "", "quantity": "1234567890123456"},
    ]
    notes = sorted((n.row, n.rule, n.column, n.message.split(" ")[0]) for n in chunk.notices)
    assert notes == [
        (5, "excel-error", "quantity", "C5"),
        (6, "excel-precision", "quantity", "C6"),
        (6, "merged-cell", "order_number", "B6"),
    ]


def test_a_workbook_without_cells_is_one_read_error(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    openpyxl.Workbook().save(path)
    with pytest.raises(Exception, match=r"row 1 of sheet \"Sheet\" is empty; it must hold the column names") as info:
        read_excel(path, "xlsx")
    assert str(path) in str(info.value)


def test_a_hidden_first_sheet_is_passed_over_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    secret = book.add_worksheet("eski")
    secret.write_row(0, 0, ["customer_code", "email"])
    secret.write_row(1, 0, ["OLD", "old@example.com"])
    data = book.add_worksheet("yeni")
    data.write_row(0, 0, ["customer_code", "email"])
    data.write_row(1, 0, ["NEW", "new@example.com"])
    data.activate()
    secret.hide()
    book.close()
    source = read_excel(path, "xlsx")
    # the first visible sheet was read, so no "sheet" note; the hidden one is named
    assert [(n.rule, n.message) for n in source.notices] == [
        ("hidden-sheets", 'read sheet "yeni"; the hidden sheet "eski" was not read (choose one with --sheet NAME)')
    ]
    assert next(iter(source.chunks)).data.to_dict("records") == [{"customer_code": "NEW", "email": "new@example.com"}]


def test_a_data_cell_that_spells_one_column_name_does_not_move_the_header(tmp_path: Path) -> None:
    """A header with no documented names is still row 1 when a later cell happens to say "date_joined"."""
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["c0"])
    sheet.write_row(1, 0, ["date_joined"])
    book.close()
    source = read_excel(path, "xlsx")
    assert source.columns == ("c0",)
    assert [n.rule for n in source.notices] == []
    assert next(iter(source.chunks)).data.to_dict("records") == [{"c0": "date_joined"}]


def test_hidden_sheets_are_named_in_their_own_note_beside_the_sheet_note(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    book.add_worksheet("Kapak").write(0, 0, "Kapak sayfası")
    for name in ("eski", "yedek"):
        old = book.add_worksheet(name)
        old.write_row(0, 0, ["customer_code", "email"])
        old.hide()
    data = book.add_worksheet("Veri")
    for r, row in enumerate(user_rows()):
        data.write_row(r, 0, row)
    book.close()
    source = read_excel(path, "xlsx")
    assert [(n.rule, n.message) for n in source.notices] == [
        (
            "sheet",
            'read sheet "Veri": the first sheet "Kapak" has no documented columns (choose another with --sheet NAME)',
        ),
        (
            "hidden-sheets",
            'read sheet "Veri"; the hidden sheets "eski", "yedek" were not read (choose one with --sheet NAME)',
        ),
    ]
    assert read_excel(path, "xlsx", sheet="eski").notices == []  # a sheet chosen by name: no guess to explain


def test_a_hidden_legacy_xls_sheet_is_named_too(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    path = tmp_path / "user.xls"
    book = xlwt.Workbook()
    secret = book.add_sheet("gizli")
    secret.write(0, 0, "customer_code")
    secret.visibility = 1  # hidden
    data = book.add_sheet("users")
    for r, row in enumerate(user_rows()):
        for c, value in enumerate(row):
            data.write(r, c, value)
    data.set_selected(True)
    book.active_sheet = 1
    book.save(str(path))
    source = read_excel(path, "xls")
    assert [(n.rule, n.message) for n in source.notices] == [
        ("hidden-sheets", 'read sheet "users"; the hidden sheet "gizli" was not read (choose one with --sheet NAME)')
    ]
