"""Legacy XLS and file names that are not UTF-8: the cell truths XLSX gets, and files people name.

calamine reads an XLS error cell as empty and the serial 60 as 1900-02-28; xlrd (in the probe
child) sees both, so an XLS reports them exactly as an XLSX does: same rule, same message, same row.
A Turkish Windows machine names a file in Windows-1254 (``sipariş.xlsx`` as ``b"sipari\\xfe.xlsx"``):
such a name is not valid UTF-8, and it must still be read, by the library and the CLI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import xlsxwriter
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.io import open_source

xlwt = pytest.importorskip("xlwt")
CLI = [sys.executable, "-c", "from omnimig.cli import app; app()"]
CODES = ["#N/A", "#VALUE!", "#DIV/0!", "#REF!", "#NAME?", "#NUM!", "#NULL!"]
# The BIFF codes of the errors (xlwt's own name table has two of them wrong).
BIFF = {"#NULL!": 0x00, "#DIV/0!": 0x07, "#VALUE!": 0x0F, "#REF!": 0x17, "#NAME?": 0x1D, "#NUM!": 0x24, "#N/A": 0x2A}


def _xls_and_xlsx(tmp_path: Path, stem: str) -> tuple[Path, Path]:
    """The same users, one per error code, plus a serial-60 and a serial-61 birth date, as XLS and XLSX."""
    header = ["customer_code", "email", "phone", "date_of_birth"]
    xls = tmp_path / f"{stem}.xls"
    legacy = xlwt.Workbook()
    sheet = legacy.add_sheet("users")
    day = xlwt.easyxf(num_format_str="yyyy-mm-dd")
    for c, name in enumerate(header):
        sheet.write(0, c, name)
    xlsx = tmp_path / f"{stem}.xlsx"
    book = xlsxwriter.Workbook(str(xlsx))
    modern = book.add_worksheet("users")
    modern_day = book.add_format({"num_format": "yyyy-mm-dd"})
    modern.write_row(0, 0, header)
    for i, code in enumerate(CODES, start=1):
        for target in (sheet, modern):
            target.write(i, 0, f"C{i}")
            target.write(i, 1, f"u{i}@example.com")
        sheet.row(i).set_cell_error(2, BIFF[code])
        modern.write_formula(i, 2, "=1/0", None, code)
    last = len(CODES) + 1
    for r, serial in ((last, 60), (last + 1, 61)):
        sheet.write(r, 0, f"D{serial}")
        sheet.write(r, 1, f"d{serial}@example.com")
        sheet.write(r, 3, serial, day)
        modern.write_row(r, 0, [f"D{serial}", f"d{serial}@example.com"])
        modern.write_number(r, 3, serial, modern_day)
    legacy.save(str(xls))
    book.close()
    return xls, xlsx


def _cell_problems(path: Path) -> list[tuple[object, ...]]:
    result = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    found = json.loads(result.stdout)["files"][0]["problems"]
    return sorted(
        (p["row"], p["field"], p["rule"], p["severity"], p["value"], p["message"])
        for p in found
        if p["rule"] in ("excel-error", "excel-date")
    )


def test_xls_error_cells_and_serial_60_are_the_problems_xlsx_gives(tmp_path: Path) -> None:
    xls, xlsx = _xls_and_xlsx(tmp_path, "user")
    legacy = _cell_problems(xls)
    assert [(row, rule, value) for row, _, rule, _, value, _ in legacy] == [
        *((i, "excel-error", code) for i, code in enumerate(CODES, start=2)),
        (len(CODES) + 2, "excel-date", "1900-02-29"),
    ]
    assert legacy[0][5] == "C2 holds the Excel error #N/A: correct the formula or its inputs, or type the value"
    assert legacy == _cell_problems(xlsx)  # the same rule, field, value and message at the same row


def test_xls_error_cells_keep_their_text_for_split(tmp_path: Path) -> None:
    xls, _ = _xls_and_xlsx(tmp_path, "user")
    (chunk,) = list(open_source(xls).chunks)
    assert list(chunk.data["phone"])[: len(CODES)] == CODES
    assert list(chunk.data["date_of_birth"])[-2:] == ["1900-02-29", "1900-03-01"]


NAME = b"sipari\xfe"  # "sipariş" in Windows-1254: not valid UTF-8


@pytest.fixture
def cp1254_folder(tmp_path: Path) -> Path:
    try:
        probe = Path(os.fsdecode(os.fsencode(tmp_path) + b"/" + NAME + b".probe"))
        probe.write_bytes(b"")
        probe.unlink()
    except (OSError, UnicodeError):
        pytest.skip("this file system does not take a file name that is not UTF-8")
    return tmp_path


@pytest.mark.parametrize("suffix", [".xlsx", ".xls"])
def test_a_workbook_whose_name_is_not_utf8_is_read(cp1254_folder: Path, suffix: str) -> None:
    xls, xlsx = _xls_and_xlsx(cp1254_folder, "seed")
    raw = os.fsencode(cp1254_folder) + b"/" + NAME + suffix.encode()
    path = Path(os.fsdecode(raw))
    path.write_bytes((xlsx if suffix == ".xlsx" else xls).read_bytes())
    source = open_source(path, options=None)
    rows = sum(len(chunk.data) for chunk in source.chunks)
    assert rows == len(CODES) + 2
    # through the CLI, in a process of its own: the name goes in as bytes, as a shell passes it
    result = subprocess.run(
        [*map(os.fsencode, CLI), b"validate", b"--type", b"user", b"--format", b"json", raw],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["files"][0]["rows"] == len(CODES) + 2
    rules = {p["rule"] for p in report["files"][0]["problems"]}
    assert {"excel-error", "excel-date"} <= rules
    assert b"Traceback" not in result.stderr
