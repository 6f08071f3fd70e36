"""Hostile workbooks: one line naming the file, exit 2, no traceback, no abort, bounded time.

Each case runs the CLI in a subprocess: before the bounds, the far-cell workbook aborted the
interpreter (calamine asked for 512 GB) and would have taken pytest with it.
"""

from __future__ import annotations

import re
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from filetools import inline_row, write_raw_xlsx, write_xlsx

from omnimig.exceptions import ReadError
from omnimig.io import open_source
from omnimig.io import read_excel as read_excel_module

CLI = [sys.executable, "-c", "from omnimig.cli import app; app()"]


def run_validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "validate", *map(str, paths)], capture_output=True, text=True, timeout=120, check=False
    )


def assert_refused(path: Path, needle: str) -> str:
    result = run_validate(path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert needle in lines[0], lines[0]
    return lines[0]


def header_row() -> str:
    return inline_row(1, {"A": "customer_code", "B": "email"})


def test_one_cell_at_the_last_excel_cell_is_refused_not_an_abort(tmp_path: Path) -> None:
    path = write_raw_xlsx(tmp_path / "user.xlsx", header_row() + inline_row(1048576, {"XFD": 1.0}))
    assert path.stat().st_size < 2000
    line = assert_refused(path, "A1:XFD1048576")
    assert "41,943,040 cells" in line  # the bound is named


def test_a_wide_and_deep_used_range_within_excel_limits_is_refused(tmp_path: Path) -> None:
    # ZZ999999 is a legal cell; the grid calamine would build is 702 x 999,999 cells (22 GB)
    path = write_raw_xlsx(tmp_path / "user.xlsx", header_row() + inline_row(999999, {"ZZ": "x"}))
    assert_refused(path, "702 columns")


def test_a_reference_beyond_excel_is_refused(tmp_path: Path) -> None:
    path = write_raw_xlsx(tmp_path / "user.xlsx", header_row() + '<row r="5"><c r="ZZZZ99999999"><v>1</v></c></row>')
    assert_refused(path, "beyond Excel's last cell")


def test_a_sparse_far_cell_within_the_bound_is_read(tmp_path: Path) -> None:
    # 1,000 rows x 100 columns is nothing: a stray value at CV1000 must not refuse the file
    rows = header_row() + inline_row(2, {"A": "C1", "B": "a@example.com"}) + inline_row(1000, {"CV": "stray"})
    path = write_raw_xlsx(tmp_path / "user.xlsx", rows)
    source = open_source(path)
    assert sum(len(c.data) for c in source.chunks) == 999


def test_a_zip_bomb_is_refused_by_its_ratio(tmp_path: Path) -> None:
    # 64 MB of spaces inside sheetData deflate about a thousand times
    path = write_raw_xlsx(tmp_path / "user.xlsx", header_row().encode() + b" " * (64 * 1024**2), compresslevel=9)
    assert path.stat().st_size < 200_000
    line = assert_refused(path, "zip bomb")
    assert "200 times" in line


def _lie_about_size(path: Path, member: str, declared: int) -> None:
    """Rewrite ``member``'s uncompressed size in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(member)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    name = member.encode()
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        name_len = struct.unpack_from("<H", data, start + 28)[0]
        if bytes(data[start + 46 : start + 46 + name_len]) == name:
            struct.pack_into("<I", data, start + 24, declared)
        start = data.find(b"PK\x01\x02", start + 4)
    path.write_bytes(bytes(data))


def test_a_member_that_inflates_past_its_declared_size_is_refused(tmp_path: Path) -> None:
    # declared 2 KB, really 64 MB: the ratio check believes the header, the streaming scan does not
    path = write_raw_xlsx(tmp_path / "user.xlsx", header_row().encode() + b" " * (64 * 1024**2), compresslevel=9)
    _lie_about_size(path, "xl/worksheets/sheet1.xml", 2048)
    assert_refused(path, "not a readable XLSX workbook")


def test_bytes_that_are_not_a_workbook_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 8)
    assert_refused(path, "XLSX")


def test_a_refused_workbook_in_a_folder_leaves_the_other_files_reported(tmp_path: Path) -> None:
    write_raw_xlsx(tmp_path / "user.xlsx", header_row() + inline_row(1048576, {"XFD": 1.0}))
    write_xlsx(tmp_path / "order.xlsx", [["number"], ["ORD-1"]])
    result = subprocess.run([*CLI, "validate", str(tmp_path)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "user.xlsx" in result.stderr
    assert "order.xlsx" in result.stdout


def test_an_unexpected_failure_while_reading_rows_is_a_read_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_xlsx(tmp_path / "user.xlsx", [["customer_code"], *([f"C{i}"] for i in range(40))])
    original = read_excel_module._XlsxSheet.rows

    def broken(self: read_excel_module._XlsxSheet):  # type: ignore[no-untyped-def]
        for i, item in enumerate(original(self)):
            if i == 30:  # past the header search: while the rows are read
                raise RuntimeError("native reader failed\nsecond line")
            yield item

    monkeypatch.setattr(read_excel_module._XlsxSheet, "rows", broken)
    source = open_source(path)
    with pytest.raises(ReadError) as info:
        list(source.chunks)
    message = str(info.value)
    assert str(path) in message and "native reader failed" in message and "\n" not in message


FUZZ = """
import random, sys
from pathlib import Path
from omnimig.exceptions import ReadError
from omnimig.io.read_excel import read_excel

seed_path, fmt, out = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
data = seed_path.read_bytes()
rng = random.Random(12)
outcomes = []
for i in range(int(sys.argv[4])):
    mutated = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        mutated[rng.randrange(len(mutated))] = rng.randrange(256)
    if i % 3 == 0:
        mutated = mutated[: rng.randrange(len(mutated))]
    path = out / f"m{i}.{fmt}"
    path.write_bytes(bytes(mutated))
    try:
        source = read_excel(path, fmt)
        rows = sum(len(c.data) for c in source.chunks)
        outcomes.append("read")
    except ReadError as exc:
        assert "\\n" not in str(exc) and str(path) in str(exc), str(exc)
        outcomes.append("refused")
print(" ".join(outcomes))
"""


@pytest.mark.parametrize("fmt", ["xlsx", "xls"])
def test_damaged_workbooks_are_read_or_refused_in_one_line(tmp_path: Path, fmt: str) -> None:
    # every damaged copy either reads or is one ReadError line: no other exception, no abort
    rows = [["customer_code", "email", "phone"], *([f"C{i}", f"u{i}@example.com", 5320000000 + i] for i in range(60))]
    if fmt == "xlsx":
        seed = write_xlsx(tmp_path / "seed.xlsx", rows)
    else:
        xlwt = pytest.importorskip("xlwt")
        seed = tmp_path / "seed.xls"
        book = xlwt.Workbook()
        sheet = book.add_sheet("users")
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                sheet.write(r, c, value)
        book.save(str(seed))
    out = tmp_path / "m"
    out.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", FUZZ, str(seed), fmt, str(out), "20"],
        capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stderr == ""  # not even a Rust panic message
    outcomes = result.stdout.split()
    assert len(outcomes) == 20 and "refused" in outcomes


def _legacy_users(path: Path) -> Path:
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook()
    sheet = book.add_sheet("u")
    rows = [["customer_code", "email", "phone"], *([f"C{i}", f"u{i}@example.com", 5320000000 + i] for i in range(60))]
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(path))
    return path


def test_a_damaged_xls_that_makes_calamine_abort_is_refused_in_one_line(tmp_path: Path) -> None:
    # two bytes changed in this xlwt file make calamine ask for more memory than exists: the
    # allocation failure aborts the process; the reader opens an XLS in a child process first
    path = _legacy_users(tmp_path / "user.xls")
    data = bytearray(path.read_bytes())
    if (len(data), data[4485], data[5595]) != (9728, 0, 0):
        pytest.skip("this xlwt writes different bytes; the damage below is calibrated on xlwt 1.3")
    data[4485], data[5595] = 150, 130
    path.write_bytes(bytes(data))
    line = assert_refused(path, "not a readable XLS workbook (it is damaged")
    assert "save it again" in line


def test_a_shared_string_count_beyond_its_part_is_refused(tmp_path: Path) -> None:
    # calamine reserves room for uniqueCount strings before reading them: 10**12 aborts the process
    seed = write_xlsx(tmp_path / "seed.xlsx", [["customer_code"], ["C1"]])
    path = tmp_path / "user.xlsx"
    with zipfile.ZipFile(seed) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "xl/sharedStrings.xml":
                data = re.sub(rb'uniqueCount="\d+"', b'uniqueCount="1000000000000"', data)
            out.writestr(name, data)
    line = assert_refused(path, "declares 1,000,000,000,000 strings")
    assert "xl/sharedStrings.xml" in line


def _rewrite(seed: Path, path: Path, change: dict[str, bytes], extra: list[tuple[str, bytes]] = ()) -> Path:  # type: ignore[assignment]
    with zipfile.ZipFile(seed) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name in src.namelist():
            out.writestr(name, change.get(name, src.read(name)))
        for name, data in extra:
            with pytest.warns(UserWarning, match="Duplicate name"):
                out.writestr(name, data)
    return path


FAR_SHEET = (
    b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>customer_code</t></is></c></row>'
    b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>'
)


def test_a_part_stored_twice_is_refused(tmp_path: Path) -> None:
    # zipfile would read the last copy, calamine may read the first: the bound must see what is read
    seed = write_raw_xlsx(tmp_path / "seed.xlsx", header_row())
    path = _rewrite(seed, tmp_path / "user.xlsx", {"xl/worksheets/sheet1.xml": FAR_SHEET},
                    [("xl/worksheets/sheet1.xml", b"<worksheet/>")])  # fmt: skip
    assert_refused(path, "holds the part xl/worksheets/sheet1.xml twice")


def test_a_sheet_whose_part_is_not_found_as_named_is_still_bounded(tmp_path: Path) -> None:
    seed = write_raw_xlsx(tmp_path / "seed.xlsx", header_row())
    rels = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"'
        b' Target="/xl/worksheets/../worksheets/./Sheet1.XML"/></Relationships>'
    )
    path = _rewrite(
        seed, tmp_path / "user.xlsx", {"xl/worksheets/sheet1.xml": FAR_SHEET, "xl/_rels/workbook.xml.rels": rels}
    )
    result = run_validate(path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert str(path) in result.stderr and "A1:XFD1048576" in result.stderr  # every unowned part was bounded
