"""Wide XLSX sheets: a sheet used wider than the widest table omnimig reads is refused in one line
before its rows are read, and a header wider than that is refused as CSV and HTML headers are."""

from __future__ import annotations

from pathlib import Path

import pytest
from filetools import inline_row, write_raw_xlsx, write_xlsx

from omnimig.exceptions import ReadError
from omnimig.io import read_excel as read_excel_module
from omnimig.io import xlsx_scan
from omnimig.io.table import MAX_COLUMNS
from omnimig.io.xlsx_scan import column_letters


def refusal(path: Path) -> str:
    with pytest.raises(ReadError) as caught:
        read_excel_module.read_excel(path, "xlsx")
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


def test_a_header_one_column_too_wide_is_refused(tmp_path: Path) -> None:
    header = ["number", "user", *(f"c{i}" for i in range(MAX_COLUMNS - 1))]
    path = write_xlsx(tmp_path / "order.xlsx", [header, ["N1", "U1"]])
    message = refusal(path)
    assert f"uses {MAX_COLUMNS + 1:,} columns" in message
    assert f"at most {MAX_COLUMNS:,}" in message


def test_a_stray_cell_far_right_is_refused_when_the_file_is_opened(tmp_path: Path) -> None:
    # the stream bounds each block before handing on its rows: the header search reads the first
    far = column_letters(5000)
    rows = inline_row(1, {"A": "number", "B": "user"}) + inline_row(2, {"A": "N1", "B": "U1", far: "stray"})
    path = write_raw_xlsx(tmp_path / "order.xlsx", rows)
    message = refusal(path)
    assert f"cells up to column {far}" in message
    assert "delete the stray cells" in message


def test_the_widest_allowed_sheet_is_read(tmp_path: Path) -> None:
    header = [f"c{i}" for i in range(MAX_COLUMNS)]
    path = write_xlsx(tmp_path / "order.xlsx", [header, [f"v{i}" for i in range(MAX_COLUMNS)]])
    source = read_excel_module.read_excel(path, "xlsx")
    assert len(source.columns) == MAX_COLUMNS
    (chunk,) = list(source.chunks)
    assert chunk.data.iloc[0].tolist() == [f"v{i}" for i in range(MAX_COLUMNS)]


def test_the_header_is_bounded_even_when_the_scan_lets_it_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_scan, "MAX_TABLE_COLUMNS", xlsx_scan.MAX_COLUMNS)
    header = ["number", "user", *(f"c{i}" for i in range(MAX_COLUMNS + 10))]
    path = write_xlsx(tmp_path / "order.xlsx", [header, ["N1", "U1"]])
    message = refusal(path)
    assert f'the header (row 1 of sheet "Sheet1") has {MAX_COLUMNS + 12:,} columns' in message
