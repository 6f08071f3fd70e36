"""The readers in ``omnimig.io``: every supported file becomes chunks of text cells with the
row numbers a person would look up (spreadsheet row for CSV/XLS/XLSX with header = 1, record
number for JSON)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from filetools import write_xlsx
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.exceptions import ReadError
from omnimig.io import Source, file_format, open_source, type_from_name
from omnimig.io.table import repeat_key

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"


# --------------------------------------------------------------------------- helpers


def read(path: Path, chunk_rows: int = 200_000) -> tuple[Source, list[dict[str, Any]], list[int]]:
    """The opened source, every record as a dict of cells (None for NA) and every row number."""
    source = open_source(path, chunk_rows)
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    for chunk in source.chunks:
        assert list(chunk.data.index) == list(chunk.rows.index)
        frame = chunk.data.astype(object).where(chunk.data.notna(), None)
        records.extend(frame.to_dict("records"))
        rows.extend(int(r) for r in chunk.rows)
    return source, records, rows


def kinds_of(path: Path) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for chunk in open_source(path).chunks:
        assert chunk.kinds is not None
        out.extend({k: str(v) for k, v in r.items()} for r in chunk.kinds.astype(str).to_dict("records"))
    return out


# --------------------------------------------------------------------------- CSV


def test_csv_utf8_with_bom(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes("\ufeffcustomer_code,first_name\nC1,Ayşe\n".encode())
    source, records, rows = read(path)
    assert source.format == "csv"
    assert source.columns == ("customer_code", "first_name")  # no BOM glued to the first name
    assert records == [{"customer_code": "C1", "first_name": "Ayşe"}]
    assert rows == [2]
    assert source.notices == []


def test_csv_utf8_without_bom_has_no_notice(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("city,town\nŞişli,İstanbul\n", encoding="utf-8")
    source, records, _ = read(path)
    assert records == [{"city": "Şişli", "town": "İstanbul"}]
    assert source.notices == []


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, sep: str) -> None:
    path = tmp_path / "order.csv"
    others = "".join(d for d in ",;\t|" if d != sep)
    # the other candidates appear inside a quoted cell and must not confuse the sniffing
    lines = [sep.join(["number", "amount", "note"]), sep.join(["A1", "1.10", f'"x{others}y"']), ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    source, records, rows = read(path)
    assert source.columns == ("number", "amount", "note")
    assert records == [{"number": "A1", "amount": "1.10", "note": f"x{others}y"}]
    assert rows == [2]


def test_csv_windows_1254_is_read_with_a_notice(tmp_path: Path) -> None:
    path = tmp_path / "address.csv"
    path.write_bytes("city;town\nAnkara;Çankaya\nŞişli;İstanbul\n".encode("cp1254"))
    source, records, rows = read(path)
    assert records == [{"city": "Ankara", "town": "Çankaya"}, {"city": "Şişli", "town": "İstanbul"}]
    assert rows == [2, 3]
    assert [n.rule for n in source.notices] == ["encoding"]
    assert source.notices[0].severity == "warning"
    assert source.notices[0].row is None  # a whole-file notice
    assert "line 2" in source.notices[0].message  # "Ç" on line 2 is the first byte that is not UTF-8
    assert "Windows-1254" in source.notices[0].message


def test_csv_windows_1254_gives_one_encoding_warning_when_validated(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes((SAMPLES / "user.csv").read_text(encoding="utf-8").encode("cp1254"))
    result = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    problems = doc["files"][0]["problems"]
    assert [(p["rule"], p["severity"], p["field"]) for p in problems] == [("encoding", "warning", None)]
    assert problems[0]["row"] is None
    assert "line 2" in problems[0]["message"]  # "Ayşe" on line 2
    assert {k: v for k, v in doc["summary"].items() if k != "types"} == {"errors": 0, "warnings": 1, "rows": 3}


def test_csv_windows_1254_notice_names_the_line_not_a_row(tmp_path: Path) -> None:
    """A bad byte is found on a physical line; with multi-line cells that is no spreadsheet row."""
    path = tmp_path / "address.csv"
    path.write_bytes('line,city\n"Cad. 1\nKat 2",Ankara\nSk. 3,Şişli\n'.encode("cp1254"))
    source, records, rows = read(path)
    assert rows == [2, 3]
    assert records[1] == {"line": "Sk. 3", "city": "Şişli"}
    assert source.notices[0].row is None
    assert "line 4" in source.notices[0].message


def test_csv_windows_1254_of_one_line_without_a_line_end_is_read(tmp_path: Path) -> None:
    """A header-only Windows-1254 file with no newline: the UTF-8 check must look at its bytes."""
    path = tmp_path / "address.csv"
    path.write_bytes("şehir;ilçe".encode("cp1254"))
    source, records, _rows = read(path)
    assert source.columns == ("şehir", "ilçe")
    assert records == []
    assert [n.rule for n in source.notices] == ["encoding"]


def test_csv_windows_1254_last_line_across_a_check_block_is_read(tmp_path: Path) -> None:
    """The last line has no newline and crosses the 16 MB UTF-8 check block: its cp1254 bytes
    come in a short read after the block and must still be checked (they were dropped)."""
    from omnimig.io.read_csv import CHECK_BLOCK

    path = tmp_path / "address.csv"
    line = b"Ankara,Cankaya,0123456789abcdefghij\n"
    fill = (CHECK_BLOCK - 100) // len(line)
    # The last line starts before the block boundary; its only cp1254 bytes come after it.
    last = b"Istanbul,Sisli," + b"x" * 200 + "Çağrı".encode("cp1254")
    path.write_bytes(b"city,town,note\n" + line * fill + last)
    assert path.stat().st_size > CHECK_BLOCK
    source, records, rows = read(path)
    assert [n.rule for n in source.notices] == ["encoding"]
    assert f"line {fill + 2}" in source.notices[0].message
    assert len(records) == fill + 1
    assert records[-1] == {"city": "Istanbul", "town": "Sisli", "note": "x" * 200 + "Çağrı"}
    assert rows[-1] == fill + 2


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "order_item.csv"
    path.write_text(
        "sku,price,quantity,note,flag,blank\n00123,1.10,007,NA,TRUE,\n1e3, 2.50 ,-0,null,0,\n",
        encoding="utf-8",
    )
    _, records, _ = read(path)
    assert records == [
        {"sku": "00123", "price": "1.10", "quantity": "007", "note": "NA", "flag": "TRUE", "blank": ""},
        {"sku": "1e3", "price": " 2.50 ", "quantity": "-0", "note": "null", "flag": "0", "blank": ""},
    ]
    assert all(isinstance(v, str) for r in records for v in r.values())


def test_csv_quoted_cells_with_commas_quotes_and_line_breaks(tmp_path: Path) -> None:
    path = tmp_path / "address.csv"
    path.write_bytes(
        b"user,line,title\r\n"
        b'C1,"B\xc3\xbcy\xc3\xbckdere Cad. No: 201, Kat 5",Is\r\n'
        b'C2,"Kot ""Slim"" 32",Ev\r\n'
        b'C3,"Line one\r\nLine two\nLine three",Ev\r\n'
    )
    _, records, rows = read(path)
    assert [r["line"] for r in records] == [
        "Büyükdere Cad. No: 201, Kat 5",
        'Kot "Slim" 32',
        "Line one\r\nLine two\nLine three",
    ]
    assert [r["title"] for r in records] == ["Is", "Ev", "Ev"]
    assert rows == [2, 3, 4]


def test_csv_row_numbers_count_records_not_lines(tmp_path: Path) -> None:
    path = tmp_path / "address.csv"
    path.write_text(
        'user,line\nC1,"one\ntwo\nthree"\nC2,plain\nC3,"a\nb"\nC4,last\n',
        encoding="utf-8",
    )
    _, records, rows = read(path)
    assert [r["user"] for r in records] == ["C1", "C2", "C3", "C4"]
    assert rows == [2, 3, 4, 5]


def test_csv_row_numbers_continue_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("code\n" + "".join(f"C{i}\n" for i in range(7)), encoding="utf-8")
    source = open_source(path, chunk_rows=3)
    chunks = list(source.chunks)
    assert [list(c.rows) for c in chunks] == [[2, 3, 4], [5, 6, 7], [8]]
    assert [c.data["code"].tolist() for c in chunks] == [["C0", "C1", "C2"], ["C3", "C4", "C5"], ["C6"]]


def test_csv_blank_line_is_kept_as_an_empty_record(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("code,name\nC1,a\n\nC2,b\n", encoding="utf-8")
    _, records, rows = read(path)
    assert records == [{"code": "C1", "name": "a"}, {"code": "", "name": ""}, {"code": "C2", "name": "b"}]
    assert rows == [2, 3, 4]


def notices_of(path: Path, chunk_rows: int = 200_000) -> list[tuple[int | None, str, str, str | None, str | None]]:
    """Every row notice of a file as (row, rule, severity, column, value)."""
    return [
        (n.row, n.rule, n.severity, n.column, n.value)
        for chunk in open_source(path, chunk_rows).chunks
        for n in chunk.notices
    ]


def test_csv_short_row_is_padded_with_empty_cells_and_is_a_row_width_problem(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("a,b,c\n1,2,3\n4\n", encoding="utf-8")
    _, records, rows = read(path)
    assert records == [{"a": "1", "b": "2", "c": "3"}, {"a": "4", "b": "", "c": ""}]
    assert rows == [2, 3]
    assert notices_of(path) == [(3, "row-width", "error", None, "4")]


def test_csv_long_row_keeps_its_first_cells_and_is_a_row_width_problem(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n", encoding="utf-8")
    _, records, rows = read(path)
    assert records == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}, {"a": "6", "b": "7"}]
    assert rows == [2, 3, 4]
    assert notices_of(path) == [(3, "row-width", "error", None, "3,4,5")]


def test_csv_long_first_row_does_not_shift_columns(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("a,b\n1,2,3\n4,5\n", encoding="utf-8")
    _, records, _ = read(path)
    assert records == [{"a": "1", "b": "2"}, {"a": "4", "b": "5"}]


def test_csv_odd_rows_are_at_their_spreadsheet_row(tmp_path: Path) -> None:
    """The row is the record's spreadsheet row: a multi-line cell counts once, a blank line
    counts as a row (and is no row-width problem: the blank-row rule reports it)."""
    path = tmp_path / "user.csv"
    path.write_text('a,b\n"one\ntwo",x\n\n3\n4,5,6\n7,8\n', encoding="utf-8")
    _, records, rows = read(path)
    assert rows == [2, 3, 4, 5, 6]
    assert records[4] == {"a": "7", "b": "8"}
    assert notices_of(path) == [(4, "row-width", "error", None, "3"), (5, "row-width", "error", None, "4,5,6")]


@pytest.mark.parametrize("every", [1, 2], ids=["every-row-odd", "odd-and-good-alternate"])
def test_csv_many_odd_rows_make_few_arrow_chunks(tmp_path: Path, every: int) -> None:
    """An unquoted decimal comma on every row (the commonest Turkish export mistake) made one
    Arrow chunk per row, which pandas and Arrow then worked through one by one (41 s for 300k rows)."""
    path = tmp_path / "order.csv"
    lines = [f"O{i},C{i},12,5,TRY" if i % every == 0 else f"O{i},C{i},12.5,TRY" for i in range(3000)]
    path.write_text("number,user,amount,currency\n" + "\n".join(lines) + "\n", encoding="utf-8")
    source = open_source(path, 1000)
    rows: list[int] = []
    for chunk in source.chunks:
        for name in chunk.data.columns:
            assert chunk.data[name].array.__arrow_array__().num_chunks <= 2, name
        assert [n.row for n in chunk.notices] == [r for r in chunk.rows if (r - 2) % every == 0]
        rows.extend(chunk.rows)
        first = chunk.data.iloc[0]
        assert list(first) == ([f"O{rows[-len(chunk.rows)] - 2}", f"C{rows[-len(chunk.rows)] - 2}", "12", "5"])
    assert rows == list(range(2, 3002))


CELL = st.one_of(
    st.sampled_from(["", "x", "ab", " pad ", "Ş", 'q"t', "a,b", "x;y", "l1\nl2", "l1\r\nl2", "NA", "null"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5),
)


def _render(cell: str) -> str:
    if any(c in cell for c in ',"\r\n'):
        return '"' + cell.replace('"', '""') + '"'
    return cell


@settings(max_examples=150, deadline=None)
@given(
    width=st.integers(1, 4),
    records=st.lists(st.lists(CELL, max_size=4), max_size=30),
    newline=st.sampled_from(["\n", "\r\n"]),
    chunk_rows=st.integers(1, 7),
    block=st.sampled_from([256, 512, 1 << 20]),
)
def test_csv_blank_and_short_rows_keep_their_place_across_blocks_and_chunks(
    width: int, records: list[list[str]], newline: str, chunk_rows: int, block: int
) -> None:
    """Rows pyarrow skips as invalid (short ones) are put back where they were, and blank lines
    stay records, whatever the parse block and chunk sizes: the same records and row numbers
    as Python's csv module reads, padded to the header's width."""
    import omnimig.io.read_csv as read_csv_module

    records = [r[:width] for r in records]
    header = [f"c{i}" for i in range(width)]
    text = newline.join([",".join(header), *(",".join(_render(c) for c in r) for r in records)]) + newline
    expected = [dict(zip(header, r + [""] * (width - len(r)), strict=True)) for r in records]
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(read_csv_module, "PARSE_BLOCK", block)
        path = Path(folder) / "user.csv"
        path.write_bytes(text.encode("utf-8"))
        _, got, rows = read(path, chunk_rows)
    assert got == expected
    assert rows == list(range(2, 2 + len(records)))


def test_csv_duplicate_header_keeps_the_first_column(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("code,email,email\nC1,first@x.co,second@x.co\n", encoding="utf-8")
    source, records, _ = read(path)
    assert source.columns == ("code", "email")
    assert source.duplicate_columns == ("email",)
    assert source.header == ("code", "email", "email")
    assert records == [{"code": "C1", "email": "first@x.co", repeat_key("email", 2): "second@x.co"}]


def test_csv_header_only_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("code,email\n", encoding="utf-8")
    source, records, rows = read(path)
    assert source.columns == ("code", "email")
    assert (records, rows) == ([], [])


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty"),
        (b"\n \n", "empty"),
        (b"\x00\x01\x02binary\x00", "binary"),
        (b"ok\n\x81\x8d\x8f\n", "line 2"),
        (b",,\n1,2,3\n", "row 1"),
    ],
    ids=["empty", "whitespace", "nul-bytes", "neither-encoding", "blank-header"],
)
def test_csv_unreadable_content(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(content)
    with pytest.raises(ReadError, match=needle) as info:
        read(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- XLSX / XLS


def test_xlsx_cells_become_the_text_a_person_typed(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "order.xlsx",
        [
            ["code", "whole", "half", "day", "stamp", "yes", "no", "empty", "negative", "phone"],
            [
                "00123",
                5,
                1.5,
                dt.date(2023, 12, 31),
                dt.datetime(2023, 12, 31, 14, 5),
                True,
                False,
                None,
                -129.9,
                5321234567,
            ],
        ],
    )
    source, records, rows = read(path)
    assert source.format == "xlsx"
    assert records == [
        {
            "code": "00123",
            "whole": "5",
            "half": "1.5",
            "day": "2023-12-31",
            "stamp": "2023-12-31 14:05:00",
            "yes": "true",
            "no": "false",
            "empty": "",
            "negative": "-129.9",
            "phone": "5321234567",
        }
    ]
    assert rows == [2]


def test_xlsx_row_numbers_are_spreadsheet_rows(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "user.xlsx",
        [["code", "name"], ["C1", "a"], [None, None], ["C2", "b"], ["C3"], [None, None], [None, None]],
    )
    _, records, rows = read(path)
    # the blank row 3 stays (it is a blank-row problem); trailing empty rows are dropped
    assert records == [
        {"code": "C1", "name": "a"},
        {"code": "", "name": ""},
        {"code": "C2", "name": "b"},
        {"code": "C3", "name": ""},
    ]
    assert rows == [2, 3, 4, 5]


def test_xlsx_row_numbers_continue_across_chunks(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "user.xlsx", [["code"], *([f"C{i}"] for i in range(5))])
    chunks = list(open_source(path, chunk_rows=2).chunks)
    assert [list(c.rows) for c in chunks] == [[2, 3], [4, 5], [6]]


def test_xlsx_header_duplicates_and_trailing_empty_header_cells(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "user.xlsx", [["code", "email", "email"], ["C1", "a@x.co", "b@x.co"]])
    source, records, _ = read(path)
    assert source.columns == ("code", "email")
    assert source.duplicate_columns == ("email",)
    assert source.header == ("code", "email", "email")
    # the repeat's values are kept (nothing lost when rows are written back), under repeat_key
    assert records == [{"code": "C1", "email": "a@x.co", repeat_key("email", 2): "b@x.co"}]


def test_xlsx_reads_only_the_first_sheet(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = xlsxwriter.Workbook(str(path))
    first, second = book.add_worksheet("users"), book.add_worksheet("notes")
    first.write_row(0, 0, ["code"])
    first.write_row(1, 0, ["C1"])
    second.write_row(0, 0, ["other"])
    second.write_row(1, 0, ["x"])
    book.close()
    source, records, _ = read(path)
    assert source.columns == ("code",)
    assert records == [{"code": "C1"}]


def test_truncated_xlsx_is_a_read_error(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "user.xlsx", [["code", "name"], *([f"C{i}", "x" * 40] for i in range(300))])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ReadError, match="XLSX") as info:
        read(path)
    assert str(path) in str(info.value)


def test_xls_legacy_workbook(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    path = tmp_path / "user.xls"
    book = xlwt.Workbook()
    sheet = book.add_sheet("users")
    for c, name in enumerate(["code", "whole", "half", "day", "stamp", "yes"]):
        sheet.write(0, c, name)
    sheet.write(1, 0, "00123")
    sheet.write(1, 1, 5)
    sheet.write(1, 2, 1.5)
    sheet.write(1, 3, dt.date(2023, 12, 31), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    sheet.write(1, 4, dt.datetime(2023, 12, 31, 14, 5), xlwt.easyxf(num_format_str="YYYY-MM-DD hh:mm:ss"))
    sheet.write(1, 5, True)
    sheet.write(2, 0, "C2")
    book.save(str(path))
    source, records, rows = read(path)
    assert source.format == "xls"
    assert records == [
        {
            "code": "00123",
            "whole": "5",
            "half": "1.5",
            "day": "2023-12-31",
            "stamp": "2023-12-31 14:05:00",
            "yes": "true",
        },
        {"code": "C2", "whole": "", "half": "", "day": "", "stamp": "", "yes": ""},
    ]
    assert rows == [2, 3]


def test_xls_user_file_validates_like_its_csv(tmp_path: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    path = tmp_path / "users.xls"
    book = xlwt.Workbook()
    sheet = book.add_sheet("users")
    lines = (SAMPLES / "user.csv").read_text(encoding="utf-8").splitlines()
    for r, row in enumerate(csv.reader(lines)):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(path))
    result = CliRunner().invoke(app, ["validate", "--format", "json", "--strict", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["rows"] == 3


# --------------------------------------------------------------------------- JSON


def test_json_numbers_keep_their_literal_text(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text(
        '[{"price": 0.29, "total": 123.90, "quantity": 3, "big": 12345678901234567890, "exp": 1e3, "neg": -0.50}]',
        encoding="utf-8",
    )
    _, records, rows = read(path)
    assert records == [
        {
            "price": "0.29",
            "total": "123.90",
            "quantity": "3",
            "big": "12345678901234567890",
            "exp": "1e3",  # the literal as written (README); the digit rules judge its plain form
            "neg": "-0.50",
        }
    ]
    assert rows == [1]
    assert kinds_of(path) == [dict.fromkeys(records[0], "number")]


def test_json_null_and_absent_keys_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text('[{"sku": "A", "image_url": null}, {"sku": "B"}, {"sku": "", "image_url": ""}]', encoding="utf-8")
    source, records, rows = read(path)
    assert source.columns == ("sku", "image_url")
    assert records == [
        {"sku": "A", "image_url": None},
        {"sku": "B", "image_url": None},
        {"sku": "", "image_url": ""},
    ]
    assert rows == [1, 2, 3]
    assert kinds_of(path) == [
        {"sku": "string", "image_url": "null"},
        {"sku": "string", "image_url": "absent"},
        {"sku": "string", "image_url": "string"},
    ]


def test_json_columns_are_the_union_of_keys_in_first_seen_order(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text('[{"b": "1"}, {"a": "2", "b": "3"}, {"c": true}]', encoding="utf-8")
    source, records, _ = read(path)
    assert source.columns == ("b", "a", "c")
    assert records[2] == {"b": None, "a": None, "c": "true"}
    assert kinds_of(path)[2] == {"b": "absent", "a": "absent", "c": "boolean"}


def test_json_nested_object_becomes_json_text(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text(
        '[{"extra_field": {"size": "32/32", "tags": ["a", "b"], "gift": false, "note": null}, "list": ["x"]}]',
        encoding="utf-8",
    )
    _, records, _ = read(path)
    assert json.loads(records[0]["extra_field"]) == {"size": "32/32", "tags": ["a", "b"], "gift": False, "note": None}
    assert json.loads(records[0]["list"]) == ["x"]
    assert kinds_of(path) == [{"extra_field": "object", "list": "array"}]


def test_json_nested_object_keeps_its_numbers(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text('[{"extra_field": {"size": 32, "weights": [1.5, 2]}}]', encoding="utf-8")
    _, records, _ = read(path)
    assert json.loads(records[0]["extra_field"]) == {"size": 32, "weights": [1.5, 2]}


def test_json_row_numbers_continue_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text(json.dumps([{"sku": f"S{i}"} for i in range(5)]), encoding="utf-8")
    chunks = list(open_source(path, chunk_rows=2).chunks)
    assert [list(c.rows) for c in chunks] == [[1, 2], [3, 4], [5]]


def test_json_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_bytes('\ufeff[{"product": "Çorap"}]'.encode())
    _, records, _ = read(path)
    assert records == [{"product": "Çorap"}]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("", "empty"),
        ('{"sku": "A"}', "top level is an object"),
        ("3.5", "top level is a number"),
        ('[{"sku": "A"},\n {"sku" "B"}]', "line 2 column 9"),
        ('[{"sku": "A"}, "B"]', "record 2 is a string"),
        ('[{"sku": "A"}, null]', "record 2 is null"),
    ],
    ids=["empty", "object", "number", "syntax", "string-record", "null-record"],
)
def test_json_unreadable_content(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "order_item.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReadError, match=needle) as info:
        read(path)
    assert str(path) in str(info.value)


# --------------------------------------------------------------------------- names and formats


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("user.csv", "user"),
        ("Users.CSV", "user"),
        ("addresses.xlsx", "address"),
        ("ORDERS.json", "order"),
        ("order_items.json", "order_item"),
        ("test_order-item.xlsx", "order_item"),
        ("2023_orders_export.xls", "order"),
        ("export-2023.xlsx", None),
        ("orders_and_users.csv", None),
    ],
)
def test_type_from_name(name: str, expected: str | None) -> None:
    assert type_from_name(Path(name)) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.csv", "csv"),
        ("a.TSV", "csv"),
        ("a.txt", "csv"),
        ("a.xlsx", "xlsx"),
        ("a.xlsm", "xlsx"),
        ("a.xls", "xls"),
        ("a.json", "json"),
    ],
)
def test_file_format(name: str, expected: str) -> None:
    assert file_format(Path(name)) == expected


def test_open_source_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    pdf = tmp_path / "user.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    with pytest.raises(ReadError, match=r"extension '\.pdf'"):
        open_source(pdf)
    with pytest.raises(ReadError, match="no such file"):
        open_source(tmp_path / "user.csv")
    folder = tmp_path / "user.json"
    folder.mkdir()
    with pytest.raises(ReadError, match="directory"):
        open_source(folder)


def test_samples_read_back_exactly(tmp_path: Path) -> None:
    """The committed order.csv: quoted commas, doubled quotes and JSON text all survive."""
    path = tmp_path / "order.csv"
    shutil.copy(SAMPLES / "order.csv", path)
    _, records, rows = read(path)
    assert rows == [2, 3, 4, 5]
    assert records[1]["extra_field"] == '{"channel": "web", "coupon": "YAZ10"}'
    assert records[0]["amount"] == "449.80"
    assert records[2]["discount_amount"] == "0.00"
    assert records[1]["shipping_address"] == "Büyükdere Cad. No: 201, Kat 5, ŞİŞLİ, İSTANBUL, Türkiye"
