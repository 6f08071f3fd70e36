"""Look inside an XLSX before calamine loads it: bound what it can claim, and see what calamine hides.

Why this exists:

* calamine turns a sheet into a dense grid spanning its used range (about 32 bytes a cell), so a
  1.5 KB file with one value at ``XFD1048576`` asks for 512 GB and aborts the interpreter. The
  ``<dimension>`` element is not what calamine trusts (and can lie), and cells without a value are
  ignored by it, so the bound is taken from the cell references themselves.
* A zip member can inflate a thousand times over (a 2.9 MB file took minutes and 5.6 GB). The
  declared sizes and ratios are checked first; zipfile refuses to inflate past a declared size and
  checks each member's CRC, so streaming a member through it also proves the declaration true.
* calamine reads error cells (``#N/A``), formulas that were never calculated and the serial 60
  (Excel's phantom 1900-02-29) as an empty cell or as 1900-02-28. The same streaming pass notes
  where they are, looking only at the rare places a cheap marker points to.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from html import unescape
from pathlib import PurePosixPath
from typing import BinaryIO
from xml.etree import ElementTree

from omnimig.io.table import MAX_COLUMNS as MAX_TABLE_COLUMNS

# A sheet whose used range (rows x columns, from A1) exceeds this is refused: calamine would hold
# about 32 bytes a cell, so 40 full-height columns (41,943,040 cells) is about 1.3 GB.
MAX_CELLS = 40 * 1_048_576
MAX_ROWS = 1_048_576  # Excel's own limits: a reference beyond them is not a real cell
MAX_COLUMNS = 16_384
# A sheet used wider than the widest table any reader accepts (``omnimig.io.table.MAX_COLUMNS``)
# is refused here too, before calamine turns every row into that many cells: 16,384 columns of
# 2,001 rows are within MAX_CELLS, yet took a minute and 3.5 GB to read.
# Everything inflated from one workbook, declared or actually read.
MAX_INFLATED = 4 * 1024**3
# A member larger than RATIO_FLOOR that inflates more than MAX_RATIO times is a zip bomb: real
# sheet XML compresses 5-50 times.
MAX_RATIO = 200
RATIO_FLOOR = 16 * 1024**2
# The small XML parts parsed whole (workbook.xml and its relationships).
MAX_PART = 16 * 1024**2

_BLOCK = 1 << 22
_LONG_ROW = 64 * 1024**2  # a buffer without a row end is scanned anyway past this size

# Reference patterns, applied to a block with whitespace removed and quotes made double, because
# calamine's XML parser also takes ``r = 'XFD1048576'``; ``r="`` as the literal keeps them fast.
_REF = re.compile(rb'r="([A-Za-z]+)([0-9]+)"')
_WIDE = re.compile(rb'r="([A-Za-z]{2,})[0-9]')
_DEEP = re.compile(rb'r="[A-Za-z]+([0-9]{7,})')
_ANY_REF = re.compile(rb'r="[A-Za-z]')
_BLANKS = b" \t\r\n"
# Up to this many columns, only references beyond row 999,999 can break MAX_CELLS.
NARROW = 40
UNSEEN_ROWS = 999_999
_UNIQUE_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*([0-9]{1,30})""")
_ERROR = re.compile(rb"""\st\s*=\s*["']e["']""")
_FORMULA = re.compile(rb"<f[\s>/]")
_SERIAL_60 = re.compile(rb"<v>60(?:\.[0-9]*)?</v>")
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*["']([^"']*)["']""")
_VALUE = re.compile(rb"<v>([^<]*)</v>")
_FORMULA_TEXT = re.compile(rb"<f[^>]*?(?:/>|>([^<]*)</f>)")
_SPLIT_REF = re.compile(r"([A-Za-z]+)([0-9]+)$")

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"


class ScanError(Exception):
    """The workbook is refused; the message is one line, without the file name."""


def column_number(letters: str) -> int:
    """``A`` -> 1, ``Z`` -> 26, ``AA`` -> 27, ``XFD`` -> 16384."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


def column_letters(n: int) -> str:
    """1 -> ``A``, 27 -> ``AA``: how a person names the column."""
    letters = ""
    while n > 0:
        n, rest = divmod(n - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    return f"{column_letters(col)}{row}"


def split_ref(ref: str) -> tuple[int, int] | None:
    """``B7`` -> (7, 2); ``None`` for anything that is not a cell reference."""
    m = _SPLIT_REF.match(ref)
    return (int(m.group(2)), column_number(m.group(1))) if m else None


@dataclass
class SheetScan:
    """What one sheet's XML says that calamine's values do not. Positions are (row, column), 1-based."""

    rows: int = 0
    columns: int = 0
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    # Formula cells without a calculated value: the formula text, as typed (``=A2*3``).
    uncalculated: dict[tuple[int, int], str] = field(default_factory=dict)
    serial_60: set[tuple[int, int]] = field(default_factory=set)

    def marked_rows(self) -> set[int]:
        return {r for r, _ in (*self.errors, *self.uncalculated, *self.serial_60)}


@dataclass
class SheetInfo:
    """A sheet as workbook.xml lists it: ``state`` is visible, hidden or veryHidden; ``kind`` is
    worksheet, chartsheet, dialogsheet or macrosheet (from its relationship's type)."""

    name: str
    state: str
    kind: str
    member: str | None


@dataclass
class Book:
    """An XLSX archive that passed the size checks, with its sheets' XML members by sheet name."""

    archive: zipfile.ZipFile
    members: dict[str, str]
    full_calc_on_load: bool
    inflated: int = 0
    sheets: list[SheetInfo] = field(default_factory=list)
    date1904: bool = False

    def scan(self, sheet: str) -> SheetScan:
        """Stream the sheet's XML once: its used range (refused beyond ``MAX_CELLS``) and marked cells.

        Most sheets are at most 40 columns wide, and then only rows beyond 1,000,000 can break the
        bound: two regexes that match only such references (two-letter columns, seven-digit rows)
        cost little. A sheet found wider than 40 columns is scanned again, every reference read.
        """
        scan = self._scan(sheet, exact=False)
        return self._scan(sheet, exact=True) if scan.columns > NARROW else scan

    def _scan(self, sheet: str, exact: bool) -> SheetScan:
        member = self.members.get(sheet)
        scan = SheetScan()
        if member is not None:
            self._scan_member(member, sheet, scan, exact)
            return scan
        # The workbook's relationships do not lead to this sheet's part as read here; calamine may
        # still find one (its lookup can differ), so every part no other sheet owns is bounded.
        owned = set(self.members.values())
        for info in self.archive.infolist():
            if info.filename not in owned and not info.is_dir():
                self._scan_member(info.filename, sheet, scan, exact)
                if not exact and scan.columns > NARROW:
                    break
        scan.errors.clear()
        scan.uncalculated.clear()
        scan.serial_60.clear()  # marks of parts that may not be this sheet's are not trusted
        return scan

    def _scan_member(self, member: str, sheet: str, scan: SheetScan, exact: bool) -> None:
        with self.archive.open(member) as stream:
            carry = b""
            while True:
                block = stream.read(_BLOCK)
                self._count(len(block))
                buf = carry + block
                if block:
                    cut = buf.rfind(b"</row>")
                    if cut < 0 and len(buf) < _LONG_ROW:
                        carry = buf
                        continue
                    cut = len(buf) if cut < 0 else cut + len(b"</row>")
                else:
                    cut = len(buf)
                _scan_block(buf[:cut], scan, self.full_calc_on_load, exact)
                if not exact and scan.columns > NARROW:
                    return  # scanned again, exactly
                _check_range(scan, sheet)
                carry = buf[cut:]
                if not block:
                    break

    def _count(self, n: int) -> None:
        self.inflated += n
        if self.inflated > MAX_INFLATED:
            raise ScanError(f"the workbook inflates to more than {MAX_INFLATED // 1024**3} GB; refused as a zip bomb")

    def verify(self, name: str) -> None:
        """Inflate a member calamine will read (shared strings, styles) to prove its declared size true."""
        with self.archive.open(name) as stream:
            while block := stream.read(_BLOCK):
                self._count(len(block))


def open_book(path: str | BinaryIO) -> Book:
    """Check the archive's declared sizes, then map sheet names to their XML members.

    ``path`` may be an open binary file: a file name that is not valid UTF-8 is opened by the
    caller, so nothing here needs it as text.
    """
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ScanError(f"not a readable XLSX workbook (not a zip archive: {exc})") from None
    infos = archive.infolist()
    total = sum(i.file_size for i in infos)
    if total > MAX_INFLATED:
        raise ScanError(
            f"the workbook declares {total / 1024**3:.1f} GB of content; at most {MAX_INFLATED // 1024**3} GB is read"
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise ScanError(
                f"part {info.filename} inflates {ratio:.0f} times ({info.file_size / 1024**2:.0f} MB); "
                f"at most {MAX_RATIO} times is read, so this looks like a zip bomb"
            )
    names = {i.filename for i in infos}
    if len(names) != len(infos):
        twice = sorted(name for name, n in Counter(i.filename for i in infos).items() if n > 1)
        raise ScanError(f"the archive holds the part {twice[0]} twice; a workbook never does, so it is refused")
    book = Book(archive, {}, False)
    if "xl/workbook.xml" not in names:
        return book  # calamine says what is wrong with it
    workbook = _parse(archive, "xl/workbook.xml")
    rels_name = "xl/_rels/workbook.xml.rels"
    targets: dict[str, str] = {}
    kinds: dict[str, str] = {}
    if rels_name in names:
        for rel in _parse(archive, rels_name).iter(f"{{{PKG_REL_NS}}}Relationship"):
            target = rel.get("Target", "")
            full = target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
            targets[rel.get("Id", "")] = _normalise(full)
            kinds[rel.get("Id", "")] = rel.get("Type", "").rsplit("/", 1)[-1].lower()
    # Part names are case-insensitive in a package (OPC): a target spelt Sheet1.XML is sheet1.xml.
    by_lower = {name.lower(): name for name in names}
    for sheet in workbook.iter(f"{{{MAIN_NS}}}sheet"):
        rel_id = sheet.get(f"{{{REL_NS}}}id", "")
        member = targets.get(rel_id)
        member = member if member in names else by_lower.get((member or "").lower())
        name = sheet.get("name", "")
        if member is not None:
            book.members[name] = member
        book.sheets.append(SheetInfo(name, sheet.get("state", "visible"), kinds.get(rel_id, "worksheet"), member))
    props = workbook.find(f"{{{MAIN_NS}}}workbookPr")
    book.date1904 = props is not None and props.get("date1904") in ("1", "true")
    calc = workbook.find(f"{{{MAIN_NS}}}calcPr")
    book.full_calc_on_load = calc is not None and calc.get("fullCalcOnLoad") in ("1", "true")
    for name in names:
        if name.startswith("xl/") and name not in book.members.values() and name.endswith(".xml"):
            book.verify(name)
        if name.lower().endswith("sharedstrings.xml"):
            _check_string_count(archive, archive.getinfo(name))
    return book


def _check_string_count(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """calamine reserves room for ``uniqueCount`` strings up front: a huge count aborts the process."""
    with archive.open(info) as stream:
        head = stream.read(4096)
    m = _UNIQUE_COUNT.search(head)
    if m and int(m.group(1)) > max(1024, info.file_size // 5):  # ``<si/>`` is 5 bytes
        raise ScanError(
            f"part {info.filename} declares {int(m.group(1)):,} strings but its {info.file_size:,} bytes "
            f"hold at most {info.file_size // 5:,}; the workbook is damaged"
        )


def _normalise(path: str) -> str:
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/".join(parts)


def _parse(archive: zipfile.ZipFile, name: str) -> ElementTree.Element:
    info = archive.getinfo(name)
    if info.file_size > MAX_PART:
        raise ScanError(f"part {name} is {info.file_size / 1024**2:.0f} MB; at most {MAX_PART // 1024**2} MB is read")
    with archive.open(name) as stream:
        data = stream.read(MAX_PART + 1)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ScanError(f"part {name} declares a DTD or entities; a workbook has none")
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ScanError(f"part {name} is not well-formed XML ({exc})") from None


def _check_range(scan: SheetScan, sheet: str) -> None:
    if scan.rows > MAX_ROWS or scan.columns > MAX_COLUMNS:
        raise ScanError(
            f'sheet "{sheet}" has a cell at {cell_ref(scan.rows, scan.columns)}, beyond Excel\'s last cell XFD1048576'
        )
    if scan.rows * scan.columns > MAX_CELLS:
        raise ScanError(
            f'sheet "{sheet}" uses the range A1:{cell_ref(scan.rows, scan.columns)} '
            f"({scan.rows:,} rows x {scan.columns:,} columns = {scan.rows * scan.columns:,} cells); "
            f"at most {MAX_CELLS:,} cells are read (40 columns of 1,048,576 rows): "
            "delete the stray cells far below or to the right of the data"
        )
    if scan.columns > MAX_TABLE_COLUMNS:
        raise ScanError(
            f'sheet "{sheet}" uses {scan.columns:,} columns (cells up to column {column_letters(scan.columns)}); '
            f"a migration file has at most {MAX_TABLE_COLUMNS:,}: "
            "delete the stray cells to the right of the data"
        )


def _scan_block(block: bytes, scan: SheetScan, full_calc: bool, exact: bool) -> None:
    _scan_refs(block.translate(None, _BLANKS).replace(b"'", b'"'), scan, exact)
    _scan_marks(block, scan, full_calc)


def _scan_refs(block: bytes, scan: SheetScan, exact: bool) -> None:
    if exact:
        refs = set(_REF.findall(block))
        if refs:
            widest = max({c for c, _ in refs}, key=lambda c: (len(c), c.upper()))
            scan.columns = max(scan.columns, _column_or_beyond(widest))
            deepest = max({r for _, r in refs}, key=lambda r: (len(r.lstrip(b"0")), r.lstrip(b"0")))
            scan.rows = max(scan.rows, _row_or_beyond(deepest))
    else:
        # Without a two-letter column every reference is within A..Z, and without a seven-digit row
        # within row 999,999: the range is then at most 26 x 999,999 cells, well inside the bound.
        wide = set(_WIDE.findall(block))
        if wide:
            scan.columns = max(scan.columns, _column_or_beyond(max(wide, key=lambda c: (len(c), c.upper()))))
        elif _ANY_REF.search(block):
            scan.columns = max(scan.columns, min(26, NARROW))
        deep = set(_DEEP.findall(block))
        if deep:
            scan.rows = max(scan.rows, _row_or_beyond(max(deep, key=lambda r: (len(r.lstrip(b"0")), r.lstrip(b"0")))))
        elif scan.columns:
            scan.rows = max(scan.rows, UNSEEN_ROWS)


def _scan_marks(block: bytes, scan: SheetScan, full_calc: bool) -> None:
    if b'"e"' in block or b"'e'" in block:
        for m in _ERROR.finditer(block):
            cell = _cell_at(block, m.start())
            if cell is not None:
                value = _VALUE.search(cell[1])
                scan.errors[cell[0]] = unescape(value.group(1).decode("utf-8", "replace")) if value else "#ERROR"
    if b"<f" in block:
        for m in _FORMULA.finditer(block):
            cell = _cell_at(block, m.start())
            if cell is None:
                continue
            value = _VALUE.search(cell[1])
            is_text = b't="str"' in cell[2] or b"t='str'" in cell[2]
            if full_calc or (not is_text and (value is None or value.group(1) == b"")):
                text = _FORMULA_TEXT.search(cell[1])
                formula = unescape(text.group(1).decode("utf-8", "replace")) if text and text.group(1) else ""
                scan.uncalculated[cell[0]] = "=" + formula
    if b"<v>60" in block:
        for m in _SERIAL_60.finditer(block):
            cell = _cell_at(block, m.start())
            if cell is not None and b"t=" not in cell[2].replace(b't="n"', b""):
                scan.serial_60.add(cell[0])


def _column_or_beyond(letters: bytes) -> int:
    return column_number(letters.decode()) if len(letters) <= 4 else MAX_COLUMNS + 1


def _row_or_beyond(digits: bytes) -> int:
    return int(digits) if len(digits.lstrip(b"0")) <= 9 else MAX_ROWS + 1


def _cell_at(block: bytes, pos: int) -> tuple[tuple[int, int], bytes, bytes] | None:
    """The cell around ``pos``: its (row, column), its content and its start tag; None without ``r=``."""
    start = block.rfind(b"<c ", 0, pos)
    if start < 0:
        return None
    tag_end = block.find(b">", start)
    if tag_end < 0:
        return None
    tag = block[start : tag_end + 1]
    end = block.find(b"</c>", tag_end)
    closed = tag_end + 1 if tag.endswith(b"/>") else (end if end >= 0 else len(block))
    if closed < pos:
        return None  # the marker is not inside the cell found (a cell without attributes came between)
    content = b"" if tag.endswith(b"/>") else block[tag_end + 1 : closed]
    for name, value in _ATTR.findall(tag):
        if name == b"r":
            where = split_ref(value.decode("ascii", "replace"))
            return None if where is None else (where, content, tag)
    return None
