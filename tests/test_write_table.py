"""``TableWriter``: what goes in comes out, or the writer refuses in one line.

Hand-made chunks are written in each format and read back (with the csv module, json and
omnimig's own readers): nothing is cut (an XLSX cell over 32,767 characters is refused with its
row and column), no column is dropped (repeated header labels come back), every JSON file reads
with ``json.loads``, formula-like text is neutralised only in files people open, and every file
is private.
"""

from __future__ import annotations

import csv
import json
import os
import stat
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimig.io import open_source
from omnimig.io.safe_text import neutralise_formula
from omnimig.io.table import Chunk, ReadOptions, Source, repeat_key
from omnimig.io.write import (
    JSON_MAX_INT_DIGITS,
    XLSX_MAX_CELL,
    CellTooLong,
    TableWriter,
    WriteError,
    column_keys,
    header_label,
    json_value,
)

FORMULAS = ["=1+2", '=HYPERLINK("http://example.com","x")', "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3", "\tx", "\rx"]
NUMBERS = ["-12.5", "+905321234567", "-3", "12"]


def chunk(columns: list[str], rows: list[list[str | None]], first_row: int = 2, kinds: Any = None) -> Chunk:
    """A chunk as a reader makes it: text columns, the rows' numbers as a person finds them."""
    data = pd.DataFrame(rows, columns=columns, dtype="string[pyarrow]")
    numbers = pd.Series(range(first_row, first_row + len(rows)))
    kind_frame = pd.DataFrame(kinds, columns=columns) if kinds is not None else None
    return Chunk(data, numbers, kind_frame)


def write(path: Path, fmt: str, c: Chunk, columns: list[str] | None = None, **kw: Any) -> Path:
    with TableWriter(path, fmt, columns if columns is not None else list(c.data.columns), **kw) as w:
        w.write(c, pd.Series(True, index=c.data.index))
    return path


def csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def xlsx_rows(path: Path) -> list[list[str]]:
    """The sheet as omnimig's own reader reads it (header first, in row 1: generated cells may hold
    documented column names, which must not move the header), every cell as text."""
    source = open_source(path, options=ReadOptions(header_row=1))
    out = [list(source.header or source.columns)]
    for c in source.chunks:
        out.extend([["" if v is None or v is pd.NA else v for v in r] for r in c.data.astype(object).values.tolist()])
    return out


def openpyxl_rows(path: Path) -> list[list[str]]:
    """The sheet as openpyxl reads it (which keeps repeated header labels whatever omnimig's reader does)."""
    sheet = openpyxl.load_workbook(path).worksheets[0]
    return [["" if c.value is None else c.value for c in line] for line in sheet.iter_rows()]


# --------------------------------------------------------------------------- XLSX: never cut


def test_an_xlsx_cell_over_32767_characters_is_refused_with_file_row_and_column(tmp_path: Path) -> None:
    long = '{"note": "' + "x" * 39_988 + '"}'
    assert len(long) == 40_000
    c = chunk(["order_number", "extra_field"], [["ORD-1", "{}"], ["ORD-2", long]], first_row=6)
    path = tmp_path / "out" / "order_item.xlsx"
    with pytest.raises(CellTooLong) as caught:
        write(path, "xlsx", c)
    message = str(caught.value)
    assert message == (
        f"{path}: row 7, column 'extra_field', holds 40,000 characters; an XLSX cell holds at most 32,767, "
        "so it would be cut: use CSV or JSON for this file"
    )
    assert "\n" not in message
    assert isinstance(caught.value, WriteError)
    assert not path.exists()  # the half-written workbook is removed, never left to pass for a whole one


def test_an_xlsx_cell_of_exactly_32767_characters_reads_back_whole(tmp_path: Path) -> None:
    value = "é" + "y" * (XLSX_MAX_CELL - 2) + "z"
    path = write(tmp_path / "t.xlsx", "xlsx", chunk(["sku", "note"], [["S1", value]]))
    assert xlsx_rows(path) == [["sku", "note"], ["S1", value]]


def test_a_long_cell_is_written_whole_as_csv_and_json(tmp_path: Path) -> None:
    long = "x" * 40_000
    c = chunk(["a"], [[long]], kinds=[["string"]])
    assert csv_rows(write(tmp_path / "t.csv", "csv", c)) == [["a"], [long]]
    assert json.loads(write(tmp_path / "t.json", "json", c).read_text(encoding="utf-8")) == [{"a": long}]


def test_a_long_header_label_is_refused_in_xlsx(tmp_path: Path) -> None:
    label = "h" * 33_000
    with pytest.raises(CellTooLong, match=r"column 'h+' holds 33,000 characters"):
        TableWriter(tmp_path / "t.xlsx", "xlsx", [label])
    assert not (tmp_path / "t.xlsx").exists()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4))
def test_xlsx_text_reads_back_exactly(tmp_path: Path, values: list[str]) -> None:
    """Control characters and literal ``_xHHHH_`` text (Excel's own escape) survive the round trip."""
    path = write(tmp_path / "t.xlsx", "xlsx", chunk([f"c{i}" for i in range(len(values))], [values]))
    assert xlsx_rows(path)[1] == values


@pytest.mark.parametrize("text", ["_x0041_", "_x005F_x0041_", "a_x0000_b_xD800_", "\x00\x01\x1b[31m", "l1\r\nl2"])
def test_xlsx_escape_like_text_reads_back_exactly(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "t.xlsx", "xlsx", chunk(["a"], [[text]]))
    assert xlsx_rows(path) == [["a"], [text]]


def test_xlsx_cells_are_text_never_formulas(tmp_path: Path) -> None:
    path = write(tmp_path / "t.xlsx", "xlsx", chunk(["a"], [[v] for v in FORMULAS + NUMBERS]), for_people=True)
    sheet = openpyxl.load_workbook(path).worksheets[0]
    cells = [line[0] for line in sheet.iter_rows(min_row=2)]
    assert [c.data_type for c in cells] == ["s"] * len(cells)
    # a string cell is never evaluated: the text is kept as typed (read back with omnimig's reader,
    # which, unlike openpyxl, decodes Excel's _x000D_ escapes)
    assert [r[0] for r in xlsx_rows(path)[1:]] == FORMULAS + NUMBERS


# --------------------------------------------------------------------------- repeated header columns


def test_column_keys_name_every_repeat_of_a_header_label() -> None:
    source = Source("f.csv", "csv", ("a", "b"), iter(()), header=("a", "b", "a", "a"))
    assert column_keys(source) == ["a", "b", repeat_key("a", 2), repeat_key("a", 3)]
    assert [header_label(k) for k in column_keys(source)] == ["a", "b", "a", "a"]
    assert column_keys(Source("f.csv", "csv", ("a", "b"), iter(()))) == ["a", "b"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_repeated_header_columns_are_written_back_with_every_value(tmp_path: Path, fmt: str) -> None:
    header = ("email", "first_name", "email", "note", "email")
    source = Source("f", fmt, ("email", "first_name", "note"), iter(()), header=header)
    keys = column_keys(source)
    # the chunk's columns in another order than the file's: the writer places them by name
    order = [keys[4], keys[1], keys[0], keys[3], keys[2]]
    c = chunk(order, [["e3@x", "Ayşe", "e1@x", "n", "e2@x"], ["", "Ali", "f1@x", "", None]])
    path = write(tmp_path / f"t.{fmt}", fmt, c, keys)
    rows = csv_rows(path) if fmt == "csv" else openpyxl_rows(path)
    assert rows == [list(header), ["e1@x", "Ayşe", "e2@x", "n", "e3@x"], ["f1@x", "Ali", "", "", ""]]


def test_a_chunk_column_the_writer_has_no_place_for_is_an_error_not_a_loss(tmp_path: Path) -> None:
    c = chunk(["email", repeat_key("email", 2)], [["a@x", "b@x"]])
    path = tmp_path / "t.csv"
    with pytest.raises(WriteError, match=r"the input's column 'email' has no place"):
        write(path, "csv", c, ["email"])
    assert not path.exists()


# --------------------------------------------------------------------------- CSV injection


@pytest.mark.parametrize("value", FORMULAS + NUMBERS + ["plain", "", "'=already"])
def test_a_csv_for_people_neutralises_formulas_and_keeps_numbers(tmp_path: Path, value: str) -> None:
    c = chunk(["a"], [[value]])
    held = csv_rows(write(tmp_path / "held.csv", "csv", c, for_people=True))
    ready = csv_rows(write(tmp_path / "ready.csv", "csv", c))
    assert ready == [["a"], [value]]  # upload data: byte-faithful
    assert held == [["a"], [neutralise_formula(value)]]
    if value in FORMULAS:
        assert held[1][0] == "'" + value
    else:
        assert held[1][0] == value


def test_the_csv_for_people_neutralises_its_header_and_extra_columns_too(tmp_path: Path) -> None:
    c = chunk(["=cmd"], [["x"]])
    with TableWriter(tmp_path / "held.csv", "csv", ["=cmd", "problems"], for_people=True) as w:
        w.write(c, pd.Series([True]), {"problems": ['=HYPERLINK("x")']})
    assert csv_rows(tmp_path / "held.csv") == [["'=cmd", "problems"], ["x", '\'=HYPERLINK("x")']]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_csv_round_trip_is_exact_for_upload_data_and_neutralised_for_people(tmp_path: Path, values: list[str]) -> None:
    columns = [f"c{i}" for i in range(len(values))]
    c = chunk(columns, [values])
    assert csv_rows(write(tmp_path / "ready.csv", "csv", c))[1] == values
    assert csv_rows(write(tmp_path / "held.csv", "csv", c, for_people=True))[1] == [
        neutralise_formula(v) for v in values
    ]


def test_a_lone_surrogate_in_csv_is_refused_with_its_row_and_column(tmp_path: Path) -> None:
    data = pd.DataFrame({"a": ["ok", "x\ud800y"]}, dtype=object)
    c = Chunk(data, pd.Series([2, 3]))
    path = tmp_path / "t.csv"
    with pytest.raises(WriteError, match=r"row 3, column 'a', holds a lone surrogate"):
        write(path, "csv", c)
    assert not path.exists()


# --------------------------------------------------------------------------- JSON


def test_json_number_literals_are_written_as_carried(tmp_path: Path) -> None:
    kinds = [["number", "number", "number", "number", "boolean", "object", "array", "null", "absent"]]
    c = chunk(
        ["a", "b", "c", "d", "e", "f", "g", "h", "i"],
        [["1.5E2", "123.90", "-0.0", "1e-7", "true", '{"n": 1.50, "m": [2E3]}', "[]", None, None]],
        kinds=kinds,
    )
    text = write(tmp_path / "t.json", "json", c).read_text(encoding="utf-8")
    assert '"a": 1.5E2, "b": 123.90, "c": -0.0, "d": 1e-7, "e": true, "f": {"n": 1.50, "m": [2E3]}, "g": []' in text
    assert '"h": null' in text and '"i"' not in text
    assert json.loads(text) == [{"a": 150.0, "b": 123.9, "c": -0.0, "d": 1e-7, "e": True,
                                 "f": {"n": 1.5, "m": [2000.0]}, "g": [], "h": None}]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("+5", "number"),
        ("007", "number"),
        ("1.", "number"),
        ("NaN", "number"),
        ("12,50", "number"),
        ("1" * (JSON_MAX_INT_DIGITS + 1), "number"),
        ("-" + "9" * 5_000, "number"),
        ("yes", "boolean"),
        ("{bad", "object"),
        ('{"a": NaN}', "object"),
        ('{"a": ' + "1" * 5_000 + "}", "object"),
        ("[" * 5_000 + "]" * 5_000, "array"),
        ("{}", "array"),
    ],
)
def test_json_text_a_reader_would_refuse_is_written_as_a_string_of_the_same_text(
    tmp_path: Path, text: str, kind: str
) -> None:
    assert json.loads(json_value(text, kind)) == text
    path = write(tmp_path / "t.json", "json", chunk(["v"], [[text]], kinds=[[kind]]))
    assert json.loads(path.read_text(encoding="utf-8")) == [{"v": text}]


@pytest.mark.parametrize("text", ["1" * JSON_MAX_INT_DIGITS, "1" * 5_000 + ".5", "1" * 5_000 + "e2", "-0"])
def test_json_numbers_a_reader_takes_stay_numbers(text: str) -> None:
    assert json_value(text, "number") == text
    json.loads(text)


def test_json_keeps_a_lone_surrogate_as_its_escape(tmp_path: Path) -> None:
    data = pd.DataFrame({"a": ["x\ud800y"]}, dtype=object)
    c = Chunk(data, pd.Series([1]), pd.DataFrame({"a": ["string"]}))
    path = write(tmp_path / "t.json", "json", c)
    assert "\\ud800" in path.read_text(encoding="utf-8")
    assert json.loads(path.read_text(encoding="utf-8")) == [{"a": "x\ud800y"}]


def test_json_repeated_columns_are_written_under_their_label(tmp_path: Path) -> None:
    c = chunk(["a", repeat_key("a", 2)], [["x", "y"]], kinds=[["string", "string"]])
    text = write(tmp_path / "t.json", "json", c).read_text(encoding="utf-8")
    assert json.loads(text, object_pairs_hook=list) == [[("a", "x"), ("a", "y")]]


KIND = st.sampled_from(["string", "number", "boolean", "null", "object", "array", "absent"])
TEXT = st.one_of(
    st.text(max_size=12),
    st.from_regex(r"-?[0-9]{1,6}(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?", fullmatch=True),
    st.sampled_from(["true", "false", "{}", "[]", '{"a": [1, 2.50]}', "{", "+1", "01", "NaN", "1" * 4_400]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.tuples(TEXT, KIND), min_size=1, max_size=6))
def test_every_json_file_written_reads_back_with_json_loads(tmp_path: Path, cells: list[tuple[str, str]]) -> None:
    columns = [f"c{i}" for i in range(len(cells))]
    c = chunk(columns, [[t for t, _ in cells]], kinds=[[k for _, k in cells]])
    path = write(tmp_path / "t.json", "json", c)
    (record,) = json.loads(path.read_text(encoding="utf-8"), parse_float=str, parse_int=str)
    for name, (text, kind) in zip(columns, cells, strict=True):
        if kind == "absent":
            assert name not in record
        elif kind == "null":
            assert record[name] is None
        elif kind == "string":
            assert record[name] == text  # text is never changed
        elif kind == "number" and isinstance(record[name], str) and json_value(text, kind) == text:
            assert record[name] == text  # a number keeps its literal


# --------------------------------------------------------------------------- private files


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_written_files_are_private_and_new_folders_too(tmp_path: Path, fmt: str) -> None:
    before = stat.S_IMODE(tmp_path.stat().st_mode)
    old = os.umask(0o022)
    try:
        path = write(tmp_path / "new" / "deeper" / f"t.{fmt}", fmt, chunk(["a"], [["x"]], kinds=[["string"]]))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == before  # an existing folder is not ours to change


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot write format 'xml'"):
        TableWriter(Path("never.xml"), "xml", ["a"])
    assert not Path("never.xml").exists()


def test_a_documented_name_twice_does_not_move_the_header(tmp_path: Path) -> None:
    """Found by hypothesis: a data row "number", "number" was taken for the header (two documented names)."""
    path = write(tmp_path / "t.xlsx", "xlsx", chunk(["c0", "c1"], [["number", "number"]]))
    source = open_source(path)
    assert list(source.columns) == ["c0", "c1"] and source.header_row == 1
