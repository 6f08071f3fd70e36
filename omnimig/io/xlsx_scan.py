"""Open an XLSX archive safely, and the bounds every sheet read from it is held to.

Why this exists:

* A zip member can inflate a thousand times over (a 2.9 MB file took minutes and 5.6 GB). The
  declared sizes and ratios are checked first; zipfile refuses to inflate past a declared size and
  checks each member's CRC, so streaming a member through it also proves the declaration true.
* A shared-string table can declare a trillion strings, a workbook part can declare entities or
  be a duplicate name in the archive: each is refused in one line before anything is read.
* The used range of a sheet (rows x columns, from A1, taken from the cell references themselves,
  never from ``<dimension>``, which can lie) is bounded: ``xlsx_stream`` checks it block by
  block as the sheet streams (``_check_range``), before a block's rows are used. A range beyond
  Excel's last cell, wider than any table omnimig reads, or over ``MAX_CELLS`` is refused.
* workbook.xml says which sheets there are, their state (visible, hidden) and kind, which part
  holds each (part names compared as OPC compares them, without case), and the date system.
"""

from __future__ import annotations

import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO
from xml.etree import ElementTree

from omnimig.i18n import _
from omnimig.io.table import MAX_COLUMNS as MAX_TABLE_COLUMNS

# A sheet whose used range (rows x columns, from A1) exceeds this is refused: 40 full-height
# columns (41,943,040 cells) is beyond any migration file (and what a grid-loading reader such as
# calamine would hold in 1.3 GB); the streaming reader keeps the bound so a stray far cell is named.
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

_UNIQUE_COUNT = re.compile(rb"""uniqueCount\s*=\s*["']\s*([0-9]{1,30})""")
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
    """The used range seen so far while a sheet streams (``xlsx_stream``): the last row and column
    holding a cell, 1-based; ``_check_range`` refuses it beyond the bounds."""

    rows: int = 0
    columns: int = 0


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

    def _count(self, n: int) -> None:
        self.inflated += n
        if self.inflated > MAX_INFLATED:
            raise ScanError(
                _("the workbook inflates to more than {limit} GB; refused as a zip bomb").format(
                    limit=MAX_INFLATED // 1024**3
                )
            )

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
        raise ScanError(_("not a readable XLSX workbook (not a zip archive: {error})").format(error=exc)) from None
    infos = archive.infolist()
    total = sum(i.file_size for i in infos)
    if total > MAX_INFLATED:
        raise ScanError(
            _("the workbook declares {size} GB of content; at most {limit} GB is read").format(
                size=f"{total / 1024**3:.1f}", limit=MAX_INFLATED // 1024**3
            )
        )
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise ScanError(
                _(
                    "part {part} inflates {ratio} times ({size} MB); at most {limit} times is read, "
                    "so this looks like a zip bomb"
                ).format(
                    part=info.filename, ratio=f"{ratio:.0f}", size=f"{info.file_size / 1024**2:.0f}", limit=MAX_RATIO
                )
            )
    names = {i.filename for i in infos}
    if len(names) != len(infos):
        twice = sorted(name for name, n in Counter(i.filename for i in infos).items() if n > 1)
        raise ScanError(
            _("the archive holds the part {part} twice; a workbook never does, so it is refused").format(part=twice[0])
        )
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
            _(
                "part {part} declares {count} strings but its {size} bytes hold at most {most}; the workbook is damaged"
            ).format(
                part=info.filename,
                count=f"{int(m.group(1)):,}",
                size=f"{info.file_size:,}",
                most=f"{info.file_size // 5:,}",
            )
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
        raise ScanError(
            _("part {part} is {size} MB; at most {limit} MB is read").format(
                part=name, size=f"{info.file_size / 1024**2:.0f}", limit=MAX_PART // 1024**2
            )
        )
    with archive.open(name) as stream:
        data = stream.read(MAX_PART + 1)
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ScanError(_("part {part} declares a DTD or entities; a workbook has none").format(part=name))
    try:
        return ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise ScanError(_("part {part} is not well-formed XML ({error})").format(part=name, error=exc)) from None


def _check_range(scan: SheetScan, sheet: str) -> None:
    if scan.rows > MAX_ROWS or scan.columns > MAX_COLUMNS:
        raise ScanError(
            _('sheet "{sheet}" has a cell at {cell}, beyond Excel\'s last cell XFD1048576').format(
                sheet=sheet, cell=cell_ref(scan.rows, scan.columns)
            )
        )
    if scan.rows * scan.columns > MAX_CELLS:
        raise ScanError(
            _(
                'sheet "{sheet}" uses the range A1:{cell} ({rows} rows x {columns} columns = {cells} cells); '
                "at most {limit} cells are read (40 columns of 1,048,576 rows): "
                "delete the stray cells far below or to the right of the data"
            ).format(
                sheet=sheet,
                cell=cell_ref(scan.rows, scan.columns),
                rows=f"{scan.rows:,}",
                columns=f"{scan.columns:,}",
                cells=f"{scan.rows * scan.columns:,}",
                limit=f"{MAX_CELLS:,}",
            )
        )
    if scan.columns > MAX_TABLE_COLUMNS:
        raise ScanError(
            _(
                'sheet "{sheet}" uses {columns} columns (cells up to column {letters}); '
                "a migration file has at most {limit}: delete the stray cells to the right of the data"
            ).format(
                sheet=sheet,
                columns=f"{scan.columns:,}",
                letters=column_letters(scan.columns),
                limit=f"{MAX_TABLE_COLUMNS:,}",
            )
        )
