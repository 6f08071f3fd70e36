"""The streaming XLSX reader gives the cells python-calamine gives, on workbooks real writers produce.

calamine (which loads a whole sheet) is the reference: for every generated workbook, written by
xlsxwriter (shared strings, rich text, formulas with cached values) or openpyxl (inline strings,
``t="n"``), each row's cell texts must be the same. Hand-written XML covers what no writer here
produces: ``t="str"``, ``t="d"``, cells and rows without ``r``, a namespace prefix, entities.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from filetools import write_raw_xlsx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from omnimig.io.read_excel import _XlsSheet, cell_text, read_excel
from omnimig.io.xlsx_stream import DATETIME, OTHER, TIMEDELTA, XlsxWorkbook, excel_date, format_kind

DATE_FORMATS = ["yyyy-mm-dd", "dd.mm.yyyy hh:mm", "hh:mm:ss", "[h]:mm:ss", "0.00", "#,##0", "@", "General", "mmm-yy"]


def texts(rows: Any) -> list[tuple[int, list[str]]]:
    """(row, cell texts without trailing empties) for every non-empty row."""
    out = []
    for number, row, _ in rows:
        cells = [cell_text(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            out.append((number, cells))
    return out


def stream_rows(path: Path, sheet: str) -> list[tuple[int, list[str]]]:
    book = XlsxWorkbook(str(path))
    try:
        return texts(book.sheet(sheet).rows())
    finally:
        book.close()


def calamine_rows(path: Path, sheet: str) -> list[tuple[int, list[str]]]:
    return texts(_XlsSheet(CalamineWorkbook.from_path(str(path)), sheet).rows())


# Cell values: text with what XML and Excel escape, numbers of every shape, booleans, dates.
_text = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\x00"), max_size=12
) | st.sampled_from(["a&b<c>\"d'", "  padded  ", "x_x000D_y", "_x0041_", "line\nbreak", "tab\there", "İş Bankası"])
_number = (
    st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.integers(-(10**17), 10**17)
    | st.sampled_from([0.1 + 0.2, 19.99 * 3, 1e-7, 123456789012345.0, -0.0])
)
_date = st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(9999, 1, 1)).map(lambda d: d.replace(microsecond=0))
_cell = st.one_of(st.none(), _text, _number, st.booleans(), st.tuples(_date, st.sampled_from(DATE_FORMATS)))
_sheet = st.lists(st.lists(_cell, max_size=6), min_size=1, max_size=8)


def _write_xlsxwriter(path: Path, rows: list[list[Any]]) -> None:
    book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False, "strings_to_formulas": False,
                                          "strings_to_urls": False})  # fmt: skip
    sheet = book.add_worksheet("S")
    formats: dict[str, Any] = {}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, tuple):
                fmt = formats.setdefault(value[1], book.add_format({"num_format": value[1]}))
                sheet.write_datetime(r, c, value[0], fmt)
            elif isinstance(value, bool):
                sheet.write_boolean(r, c, value)
            elif isinstance(value, str):
                sheet.write_string(r, c, value)
            else:
                sheet.write_number(r, c, value)
    book.close()


def _write_openpyxl(path: Path, rows: list[list[Any]]) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "S"
    for r, row in enumerate(rows, 1):
        for c, value in enumerate(row, 1):
            if value is None or (isinstance(value, str) and value.startswith("=")):
                continue
            if isinstance(value, str):
                value = "".join(ch for ch in value if ch >= " " or ch in "\t\n")  # openpyxl refuses the rest
            if isinstance(value, tuple):
                cell = sheet.cell(r, c, value[0])
                cell.number_format = value[1]
            else:
                sheet.cell(r, c, value)
    book.save(path)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_sheet, writer=st.sampled_from(["xlsxwriter", "openpyxl"]))
def test_the_stream_reads_every_cell_as_calamine_does(tmp_path: Path, rows: list[list[Any]], writer: str) -> None:
    path = tmp_path / f"{writer}.xlsx"
    (_write_xlsxwriter if writer == "xlsxwriter" else _write_openpyxl)(path, rows)
    assert stream_rows(path, "S") == calamine_rows(path, "S")


def test_rich_text_formulas_merges_and_a_second_sheet_as_calamine_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "rich.xlsx"
    book = xlsxwriter.Workbook(str(path))
    first = book.add_worksheet("A")
    first.write("A1", "x")
    sheet = book.add_worksheet("B")
    bold = book.add_format({"bold": True})
    sheet.write_rich_string("B2", "plain ", bold, "bold", " tail")
    sheet.write_formula("C2", "=1+2", None, 3)
    sheet.write_formula("D2", '="a"&"b"', None, "ab")  # t="str"
    sheet.write_formula("E2", "=1/0", None, "#DIV/0!")
    sheet.merge_range("B4:C5", "merged", None)
    book.close()
    assert stream_rows(path, "B") == calamine_rows(path, "B")
    assert stream_rows(path, "B")[0] == (2, ["", "plain bold tail", "3", "ab"])
    reader = XlsxWorkbook(str(path)).sheet("B")
    assert reader.merged() == [((3, 1), (4, 2))]
    (marks,) = [m for _, _, m in reader.rows() if m]
    # xlsxwriter asks Excel to recalculate on load (fullCalcOnLoad): its cached results are not trusted
    assert marks == [(3, "formula", "=1+2"), (4, "formula", '="a"&"b"'), (5, "error", "#DIV/0!")]


RAW = (
    '<row r="1"><c r="A1" t="str"><f>"a"&amp;"b"</f><v>a&amp;b &lt;c&gt;</v></c>'
    '<c r="B1" t="d"><v>2024-05-06T07:08:09</v></c><c r="C1" t="d"><v>2024-05-06</v></c>'
    '<c r="D1" t="b"><v>1</v></c><c r="E1" t="inlineStr"><is><t xml:space="preserve"> sp </t></is></c></row>'
    "<row><c><v>1</v></c><c><v>2.5</v></c><c r=\"E2\" t='inlineStr'><is><r><t>ri</t></r><r><rPr/><t>ch</t></r>"
    "<rPh><t>PHONETIC</t></rPh></is></c></row>"
    '<row r="4" spans="1:2"><c r="B4"><f>A2*3</f></c><c r="C4"><f>A2</f><v></v></c></row>'
)


def test_hand_written_cells_without_r_and_with_every_type(tmp_path: Path) -> None:
    path = write_raw_xlsx(tmp_path / "raw.xlsx", RAW)
    rows = list(XlsxWorkbook(str(path)).sheet("Sheet1").rows())
    assert [(n, [cell_text(v) for v in row], marks) for n, row, marks in rows] == [
        (1, ["a&b <c>", "2024-05-06 07:08:09", "2024-05-06", "true", " sp "], None),
        (2, ["1", "2.5", "", "", "rich"], None),
        (3, [], None),
        (4, ["", "", ""], [(2, "formula", "=A2*3"), (3, "formula", "=A2")]),
    ]
    assert texts(rows)[:2] == calamine_rows(path, "Sheet1")[:2]


def test_a_namespace_prefix_is_read(tmp_path: Path) -> None:
    path = write_raw_xlsx(tmp_path / "user.xlsx", b"")
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><x:worksheet xmlns:x="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c r="A1" t="inlineStr"><x:is><x:t>customer_code'
        b'</x:t></x:is></x:c><x:c r="B1" t="inlineStr"><x:is><x:t>email</x:t></x:is></x:c></x:row><x:row r="2">'
        b'<x:c r="A2" t="inlineStr"><x:is><x:t>C1</x:t></x:is></x:c><x:c r="B2"><x:v>7</x:v></x:c></x:row>'
        b"</x:sheetData></x:worksheet>"
    )
    _replace(path, "xl/worksheets/sheet1.xml", body)
    (chunk,) = read_excel(path, "xlsx").chunks
    assert chunk.data.to_dict("records") == [{"customer_code": "C1", "email": "7"}]
    assert stream_rows(path, "Sheet1") == calamine_rows(path, "Sheet1")


def _replace(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path) as src:
        parts = {name: src.read(name) for name in src.namelist()}
    parts[member] = data
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, content in parts.items():
            out.writestr(name, content)


def test_a_sheet_longer_than_one_block_is_read_across_the_cuts(tmp_path: Path) -> None:
    row = '<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>{text}</t></is></c><c r="B{n}"><v>{n}</v></c></row>'
    body = "".join(row.format(n=n, text="é" * (n % 50)) for n in range(1, 40_001))  # about 6 MB: two blocks
    path = write_raw_xlsx(tmp_path / "long.xlsx", body)
    rows = stream_rows(path, "Sheet1")
    assert len(rows) == 40_000 and rows[-1] == (40_000, ["", "40000"]) and rows[1] == (2, ["éé", "2"])
    assert rows == calamine_rows(path, "Sheet1")


def test_the_1904_date_system(tmp_path: Path) -> None:
    path = tmp_path / "mac.xlsx"
    book = xlsxwriter.Workbook(str(path), {"date_1904": True})
    sheet = book.add_worksheet("S")
    sheet.write_datetime("A1", dt.datetime(2024, 2, 29, 12, 30), book.add_format({"num_format": "yyyy-mm-dd hh:mm"}))
    sheet.write_datetime("B1", dt.date(1904, 3, 1), book.add_format({"num_format": "yyyy-mm-dd"}))
    book.close()
    assert stream_rows(path, "S") == [(1, ["2024-02-29 12:30:00", "1904-03-01"])] == calamine_rows(path, "S")


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("yyyy-mm-dd", DATETIME),
        ("DD/MM/YY", DATETIME),
        ("H:MM:SS;@", DATETIME),
        ("[h]:mm:ss", TIMEDELTA),
        ("[Red]0.00", OTHER),
        ('"Y: "0.00', OTHER),
        ("#,##0\\ [$\\u20bd-46D]", OTHER),
        ("0_ ;[Red]\\-0\\ ", OTHER),
        ("h AM/PM", DATETIME),
        ("General", OTHER),
    ],
)
def test_number_formats_that_show_dates(code: str, kind: int) -> None:
    assert format_kind(code) == kind


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.floats(-1000, 3_000_000, allow_nan=False) | st.sampled_from([0.0, 59.5, 60.0, 60.5, 61.0, 2958465.9999999]),
        min_size=1,
        max_size=20,
    )
)
def test_serials_become_the_dates_calamine_gives(tmp_path: Path, serials: list[float]) -> None:
    path = tmp_path / "serials.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("S")
    formats = [book.add_format({"num_format": f}) for f in ("yyyy-mm-dd hh:mm:ss.000", "[h]:mm:ss")]
    for r, value in enumerate(serials):
        sheet.write_number(r, 0, value, formats[0])
        sheet.write_number(r, 1, abs(value), formats[1])
    book.close()
    assert stream_rows(path, "S") == calamine_rows(path, "S")
    assert excel_date(60.0, DATETIME, False) == dt.date(1900, 2, 28)  # what calamine says; omnimig marks it


@pytest.mark.parametrize(("chunk_rows", "batch_rows"), [(7, 3), (10, 10), (4, 100), (1000, 2)])
def test_chunks_built_in_batches_hold_every_row_once_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk_rows: int, batch_rows: int
) -> None:
    from omnimig.io import read_excel as module

    monkeypatch.setattr(module, "BATCH_ROWS", batch_rows)
    phones = [1234567890123456 if i == 13 else 5320000000 + i for i in range(30)]
    rows = [["customer_code", "phone"], *([f"C{i}", phone] for i, phone in enumerate(phones))]
    path = tmp_path / "user.xlsx"
    _write_xlsxwriter(path, [*rows[:10], [], [], *rows[10:]])  # two blank rows inside the table
    chunks = list(read_excel(path, "xlsx", chunk_rows).chunks)
    assert all(len(c.data) <= chunk_rows for c in chunks)
    numbers = [n for c in chunks for n in c.rows]
    assert numbers == list(range(2, 2 + 32))
    codes = [v for c in chunks for v in c.data["customer_code"]]
    assert codes == [*(f"C{i}" for i in range(9)), "", "", *(f"C{i}" for i in range(9, 30))]
    (note,) = [n for c in chunks for n in c.notices]
    assert (note.rule, note.row) == ("excel-precision", 17)  # C13: row 2 + 13 + the two blank rows
    assert [n.row for c in chunks for n in c.notices if n.row in set(c.rows)] == [17]  # in the chunk of its row


HANG = """
import sys
from pathlib import Path
from omnimig.exceptions import ReadError
from omnimig.io.read_excel import read_excel
try:
    print(sum(len(c.data) for c in read_excel(Path(sys.argv[1]), "xlsx").chunks))
except ReadError as exc:
    print("refused", exc)
"""


@pytest.mark.parametrize(
    "damage",
    [
        '<c r="B2"><v>1</v>' * 20_000,  # cells never closed
        '<c r="B2" t="inlineStr"><is><t>x</t>' * 20_000,  # inline strings never closed
        '<c r="B2" t="inlineStr"><is><rPh><t>x</t>' * 20_000,  # phonetic runs never closed
        '<c r="B2"><f>1' * 20_000,  # formulas never closed
    ],
)
def test_a_damaged_row_costs_linear_time_not_a_hang(tmp_path: Path, damage: str) -> None:
    body = '<row r="1"><c r="A1" t="inlineStr"><is><t>customer_code</t></is></c></row>'
    body += f'<row r="2"><c r="A2" t="inlineStr"><is><t>C1</t></is></c>{damage}</c></row>'
    path = write_raw_xlsx(tmp_path / "user.xlsx", body)
    result = subprocess.run([sys.executable, "-c", HANG, str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[0] in ("1", "refused")


def test_a_block_is_cut_after_a_closing_row_tag_with_or_without_a_prefix() -> None:
    from omnimig.io.xlsx_stream import _after_last_row

    closed = b'<x:row r="1"><x:c/></x:row>'
    assert _after_last_row(closed + b"<x:row>abc") == len(closed)  # not after the opening <x:row>
    assert _after_last_row(b"<x:row>abc") == -1
    assert _after_last_row(b"<row><c/></row><row>") == len(b"<row><c/></row>")
