"""Read an XLSX sheet row by row, straight out of the zip archive, in bounded memory.

Why not python-calamine (which reads legacy XLS here): it builds the whole sheet in memory before
the first row can be read, about 1.8 GB for a 1,000,000-row order file, and no released version
has a lazy row API. openpyxl's read-only mode streams, but at a seventh of the speed. This reader
inflates the sheet's XML in blocks and cuts each block into rows and cells with compiled regular
expressions (the scanning runs in C; Python touches each cell once), so memory is one block plus
one chunk of rows, whatever the sheet's length.

It gives the same values calamine gives (numbers as floats, date-formatted numbers as
date/datetime/time/timedelta, booleans, text with XML entities and ``_xHHHH_`` escapes decoded),
and it also sees what calamine hides, in the same pass: Excel error cells, formulas without a
calculated value, the serial 60 (Excel's phantom 1900-02-29). The same pass bounds the sheet
(``xlsx_scan``'s limits), from every cell reference, before any row of a block is handed on.
Merged ranges are written after the rows in a sheet's XML; they are found by a first pass that
only inflates and searches bytes (a few percent of the read), because a covered cell must be
reported with its row.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, BinaryIO

from omnimig.i18n import _
from omnimig.io.xlsx_scan import (
    MAIN_NS,
    Book,
    ScanError,
    SheetScan,
    _check_range,
    column_letters,
    column_number,
    open_book,
    split_ref,
)

_BLOCK = 1 << 22
# A row larger than this (no ``</row>`` in sight) is refused: 1,000 columns of Excel's longest
# cell text (32,767 characters) are 33 MB.
MAX_ROW_BYTES = 256 * 1024**2

Mark = tuple[int, str, str]  # (column, kind, text): what calamine would hide in a cell
Row = tuple[int, list[Any], list[Mark] | None]

# Cell kinds of a style: a plain number, a date/time, a duration.
OTHER, DATETIME, TIMEDELTA = 0, 1, 2
_BUILTIN_DATES = {**dict.fromkeys((*range(14, 23), 45, 47), DATETIME), 46: TIMEDELTA}

_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#x([0-9a-fA-F]{1,6})|(amp|lt|gt|quot|apos));")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_OOXML_ESCAPE = re.compile(r"_x([0-9a-fA-F]{4})_")
_ATTR = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# Element patterns whose text cannot hold a "<" (XML escapes it), so a match never scans past the
# next tag: a damaged cell with thousands of unclosed tags costs linear time, not quadratic.
_PHONETIC_OPEN = re.compile(r"<(?:\w+:)?rPh\b")
_TEXT = re.compile(r"<(?:\w+:)?t\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?t>)")
_FORMULA = re.compile(r"<(?:\w+:)?f\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?f>)")
_VALUE = re.compile(r"<(?:\w+:)?v\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?v>)")
_MERGE = re.compile(rb"""<(?:\w+:)?mergeCell\b[^>]*?\bref\s*=\s*["']([A-Za-z]+[0-9]+):([A-Za-z]+[0-9]+)["']""")
_PREFIX = re.compile(r"<(\w+:)?worksheet\b")
_EPOCH = dt.datetime(1899, 12, 30)
_MS_PER_DAY = 86_400_000


def _entity(m: re.Match[str]) -> str:
    if m.group(3):
        return _NAMED[m.group(3)]
    code = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return m.group(0)


def xml_text(raw: str) -> str:
    """The text an XML parser gives for ``raw`` character data, then Excel's ``_xHHHH_`` escapes.

    Line ends are normalised as XML requires (a literal CR LF or CR is LF; ``&#13;`` stays CR),
    and ``_x000D_`` is the character it names, as calamine and openpyxl read it.
    """
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in raw:
        raw = _ENTITY.sub(_entity, raw)
    if "_x" in raw:
        raw = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    return raw


def rich_text(content: str) -> str:
    """The text of an ``<is>`` or ``<si>`` element: every run's ``<t>``, phonetic hints left out."""
    if "rPh" in content:
        pieces = _PHONETIC_OPEN.split(content)
        content = pieces[0] + "".join(piece[piece.find("rPh>") + 4 :] for piece in pieces[1:] if "rPh>" in piece)
    return "".join(xml_text(t) for t in _TEXT.findall(content))


def format_kind(code: str) -> int:
    """Whether a number format shows a date/time (``DATETIME``), a duration (``TIMEDELTA``) or neither.

    Only the first section counts; quoted text, escaped and fill characters and bracketed colours or
    conditions are not date letters; ``[h]``, ``[mm]``, ``[ss]`` make a duration. This is the rule
    calamine applies, so both readers turn the same cells into dates.
    """
    escaped = quoted = False
    brackets = 0
    prev = " "
    hms = ampm = False
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return OTHER
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return TIMEDELTA
        elif ch == "]":
            brackets = max(brackets - 1, 0)
        elif brackets == 0 and not ampm and ch in "aA":
            ampm = True
        elif (brackets == 0 and ampm and ch in "pmPM/") or (brackets == 0 and not ampm and ch in "dmhysDMHYS"):
            return DATETIME
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return OTHER


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def excel_date(value: float, kind: int, date1904: bool) -> Any:
    """A date-formatted number as calamine gives it: time below 1, date when whole, else datetime;
    a duration format gives a timedelta. Outside the years 1-9999 the number stays a float."""
    try:
        if kind == TIMEDELTA:
            return dt.timedelta(milliseconds=_round_half_away(value * _MS_PER_DAY))
        days = value + 1462 if date1904 else value
        if days < 60:
            days += 1
        when = _EPOCH + dt.timedelta(milliseconds=_round_half_away(days * _MS_PER_DAY))
    except (OverflowError, ValueError):
        return value
    if value < 1.0:
        return when.time()
    if value == int(value):
        return when.date()
    return when


def _iso_date(text: str) -> Any:
    """A ``t="d"`` cell (ISO 8601 text) as a date, time or datetime; the text itself if it is none."""
    for parse in (dt.datetime.fromisoformat, dt.time.fromisoformat):
        try:
            value = parse(text.strip().rstrip("Zz"))
        except ValueError:
            continue
        if isinstance(value, dt.datetime):
            value = value.replace(tzinfo=None)
            if value.time() == dt.time() and "T" not in text and " " not in text.strip():
                return value.date()
        return value
    return text


@dataclass
class Styles:
    """The kind (``OTHER``, ``DATETIME``, ``TIMEDELTA``) of every cell format, by the cell's ``s``."""

    kinds: list[int] = field(default_factory=list)

    def kind(self, index: int) -> int:
        return self.kinds[index] if 0 <= index < len(self.kinds) else OTHER


def read_styles(book: Book) -> Styles:
    from omnimig.io.xlsx_scan import _parse

    name = next((n for n in book.archive.namelist() if n.lower() == "xl/styles.xml"), None)
    if name is None:
        return Styles()
    root = _parse(book.archive, name)
    custom: dict[int, str] = {}
    for fmt in root.iter(f"{{{MAIN_NS}}}numFmt"):
        try:
            custom[int(fmt.get("numFmtId", ""))] = fmt.get("formatCode", "")
        except ValueError:
            continue
    kinds: list[int] = []
    xfs = root.find(f"{{{MAIN_NS}}}cellXfs")
    for xf in xfs.iter(f"{{{MAIN_NS}}}xf") if xfs is not None else ():
        try:
            number = int(xf.get("numFmtId", "0"))
        except ValueError:
            number = 0
        kinds.append(format_kind(custom[number]) if number in custom else _BUILTIN_DATES.get(number, OTHER))
    return Styles(kinds)


def _blocks(book: Book, member: str) -> Iterator[str]:
    """The member's XML as text, in blocks of about 4 MB that each end after a ``</row>`` (or at the end)."""
    with book.archive.open(member) as stream:
        carry = b""
        while True:
            block = stream.read(_BLOCK)
            book._count(len(block))
            buf = carry + block if carry else block
            if block:
                cut = _after_last_row(buf)
                if cut < 0:
                    if len(buf) > MAX_ROW_BYTES:
                        raise ScanError(
                            _("part {part} has a row larger than {limit} MB").format(
                                part=member, limit=MAX_ROW_BYTES // 1024**2
                            )
                        )
                    carry = buf
                    continue
            else:
                cut = len(buf)
            yield buf[:cut].decode("utf-8", "replace")
            carry = buf[cut:]
            if not block:
                return


def _after_last_row(buf: bytes) -> int:
    """Where the last ``</row>`` (or ``</x:row>``, any prefix) of ``buf`` ends; -1 if it has none."""
    cut = buf.rfind(b"</row>")
    if cut >= 0:
        return cut + 6
    pos = len(buf)
    while (pos := buf.rfind(b":row>", 0, pos)) >= 0:
        start = buf.rfind(b"<", 0, pos)
        if start >= 0 and buf[start + 1 : start + 2] == b"/" and buf[start + 2 : pos].isalnum():
            return pos + 5
    return -1


def read_shared_strings(book: Book) -> list[str]:
    """Every shared string, in order, read in blocks like a sheet."""
    name = next((n for n in book.archive.namelist() if n.lower() == "xl/sharedstrings.xml"), None)
    if name is None:
        return []
    strings: list[str] = []
    pattern = re.compile(r"<(?:\w+:)?si\b[^>]*?(?:/>|>((?:[^<]|<(?!(?:\w+:)?si[\s>/]))*?)</(?:\w+:)?si>)")
    simple = re.compile(r"<t(?: xml:space=\"preserve\")?>([^<]*)</t>")
    with book.archive.open(name) as stream:
        carry = b""
        while True:
            block = stream.read(_BLOCK)
            book._count(len(block))
            buf = carry + block
            cut = buf.rfind(b"</si>") + 5 if block else len(buf)
            if block and cut < 5:
                cut = buf.rfind(b":si>") + 4
                if cut < 4:
                    carry = buf
                    continue
            text = buf[:cut].decode("utf-8", "replace")
            carry = buf[cut:]
            for content in pattern.findall(text):
                m = simple.fullmatch(content)
                strings.append(xml_text(m.group(1)) if m else rich_text(content))
            if not block:
                return strings


@lru_cache(maxsize=4096)
def _column(letters: str) -> int:
    return column_number(letters)


@dataclass
class SheetReader:
    """One sheet of an opened book: ``rows()`` streams it; ``merged()`` lists its merged ranges."""

    book: Book
    name: str
    member: str | None
    strings: list[str]
    styles: Styles
    date1904: bool
    full_calc: bool
    scan: SheetScan = field(default_factory=SheetScan)
    _cache: dict[str, tuple[int, str, int, str | None]] = field(default_factory=dict)
    # The attributes (after a leading ``r``) of plain cells, with their fast-path code.
    _codes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for attrs in ("", ' t="inlineStr"', ' t="s"', ' t="n"', " t='inlineStr'", " t='s'"):
            self._attrs(attrs)

    def _attrs(self, rest: str) -> tuple[int, str, int, str | None]:
        """(fast-path code, type, style index, ``r`` when it was not the first attribute) of a
        cell's attributes other than a leading ``r``; cached, since a sheet has few distinct ones.
        A date-formatted number takes the slow path (``_cell``)."""
        typ = _attr(rest, "t") or ""
        try:
            style = int(_attr(rest, "s") or 0)
        except ValueError:
            style = 0
        ref = _attr(rest, "r")
        code = {"inlineStr": _INLINE, "s": _SHARED, "n": _NUMBER, "": _NUMBER}.get(typ, _SLOW)
        if code == _NUMBER and self.styles.kind(style):
            code = _SLOW
        info = (code, typ, style, ref)
        if ref is None and len(self._cache) < 10_000:
            self._cache[rest] = info
            if code != _SLOW:
                self._codes[rest] = code
        return info

    def merged(self) -> list[tuple[tuple[int, int], tuple[int, int]]]:
        """Merged ranges as ((top, left), (bottom, right)), 0-based like calamine's.

        ``<mergeCells>`` follows the rows in the XML, so this is a pass of its own: it only
        inflates and searches bytes (consecutive blocks overlap, so no element is cut in two).
        """
        if self.member is None:
            return []
        found: set[tuple[bytes, bytes]] = set()
        with self.book.archive.open(self.member) as stream:
            tail = b""
            while block := stream.read(_BLOCK):
                buf = tail + block
                if b"mergeCell" in buf:
                    found.update(_MERGE.findall(buf))
                tail = buf[-1024:]
        ranges = []
        for a, b in found:
            first, last = split_ref(a.decode()), split_ref(b.decode())
            if first and last:
                ranges.append(((first[0] - 1, first[1] - 1), (last[0] - 1, last[1] - 1)))
        return sorted(ranges)

    def rows(self) -> Iterator[Row]:
        """(sheet row, cells from column A, marks or None) for every row from row 1 to the last.

        Rows the XML leaves out are yielded empty, so a row's place is its number; a block's
        rows are bounded (``xlsx_scan`` limits) before any of them is yielded.
        """
        if self.member is None:
            return
        prefix = ""
        number = 0  # the last row yielded
        empty: list[Any] = []
        for text in _blocks(self.book, self.member):
            if not prefix and number == 0:
                m = _PREFIX.search(text)
                prefix = m.group(1) or "" if m else ""
            parsed = self._parse_block(text, number, prefix)
            _check_range(self.scan, self.name)
            for row_number, values, marks in parsed:
                while number + 1 < row_number:
                    number += 1
                    yield number, empty, None
                if row_number <= number:  # rows out of order or repeated: calamine keeps the last cell
                    continue
                number = row_number
                yield row_number, values, marks

    def _parse_block(self, text: str, last: int, prefix: str) -> list[Row]:
        """Rows of one block: (row number, values from column A, marks or None).

        The block is cut at each ``</row>`` (a C-level split), each row's cells by one regex; a
        cell with a plain value (number, shared string, inline string) costs a few dict lookups,
        anything else (formulas, errors, dates, booleans, rich text, entities) goes through ``_cell``.
        """
        cell_re = _cell_pattern(prefix)
        row_start = f"<{prefix}row"
        cut = len(row_start)
        strings = self.strings
        scan = self.scan
        out: list[Row] = []
        number = last
        cache = self._cache
        codes = self._codes
        no_codes: dict[str, int] = {}
        columns = _COLUMNS
        for piece in text.split(f"</{prefix}row>"):
            at = piece.rfind(row_start)
            if at < 0:
                continue
            close = piece.find(">", at)
            if close < 0:
                continue
            attrs = piece[at + cut : close]
            if attrs[:1] not in (" ", "\t", "\n", "\r", "/") and attrs:
                continue  # <rowBreaks> and the like
            r = attrs[4 : attrs.find('"', 4)] if attrs[:4] == ' r="' else _attr(attrs, "r") or ""
            number = int(r) if r.isdigit() else number + 1
            if attrs.endswith("/"):
                continue  # an empty row: yielded as a gap
            content = piece[close + 1 :]
            # Entities, escapes or a CR anywhere in the row: every cell of it takes the slow path.
            plain = no_codes if "&" in content or "_x" in content or "\r" in content else codes
            values: list[Any] = []
            marks: list[Mark] | None = None
            col = 0
            for letters, rest, v, inline, other in cell_re.findall(content):
                if letters:
                    col = columns.get(letters) or _column(letters)
                    code = plain.get(rest, _SLOW)
                else:
                    code = _SLOW
                    info = cache.get(rest) or self._attrs(rest)
                    where = split_ref(info[3]) if info[3] is not None else None
                    col = where[1] if where else col + 1
                if other or code == _SLOW:
                    value, mark = self._cell(cache.get(rest) or self._attrs(rest), v, inline, other)
                    if mark is not None:
                        marks = marks or []
                        marks.append((col, *mark))
                    if value == "":
                        continue
                elif code == _INLINE:
                    value = inline
                elif code == _SHARED:
                    try:
                        value = strings[int(v)]
                    except (ValueError, IndexError):
                        continue
                elif v:
                    try:
                        value = float(v)
                    except ValueError:
                        continue
                else:
                    continue
                if col == len(values) + 1:
                    values.append(value)
                elif col > len(values):
                    values.extend([""] * (col - len(values) - 1))
                    values.append(value)
                elif col >= 1:
                    values[col - 1] = value
            if marks:
                width = max(c for c, _, _ in marks)  # an error or uncalculated formula reads empty
                if len(values) < width:
                    values.extend([""] * (width - len(values)))
            width = max(len(values), col)
            if width > scan.columns:
                scan.columns = width
            if number > scan.rows and (values or marks):
                scan.rows = number
            out.append((number, values, marks))
        return out

    def _cell(
        self, info: tuple[int, str, int, str | None], v: str, inline: str, other: str
    ) -> tuple[Any, tuple[str, str] | None]:
        """Any cell but a plain one: (value as calamine reads it, (kind, text) of a mark or None)."""
        _, typ, style, _ = info
        formula: str | None = None
        if other:
            fm = _FORMULA.search(other)
            if fm is not None:
                formula = xml_text(fm.group(1) or "")
            vm = _VALUE.search(other)
            v = vm.group(1) or "" if vm else ""
            if typ == "inlineStr":
                inline = rich_text(other)  # the <t> runs of its <is>
        elif inline:
            inline = xml_text(inline)
        mark: tuple[str, str] | None = None
        value: Any = ""
        if typ == "inlineStr":
            value = inline
        elif typ == "e":
            mark = ("error", xml_text(v) if v else "#ERROR")
        elif not v:
            pass
        elif typ == "s":
            try:
                value = self.strings[int(v)]
            except (ValueError, IndexError):
                value = ""
        elif typ in ("n", ""):
            try:
                number = float(v)
            except ValueError:
                number = None
            if number is not None:
                kind = self.styles.kind(style)
                value = excel_date(number, kind, self.date1904) if kind else number
                if kind == DATETIME and 60 <= number < 61 and not self.date1904:
                    mark = ("serial-60", "")
        elif typ == "str":
            value = xml_text(v)
        elif typ == "b":
            value = v.strip() in ("1", "true")
        elif typ == "d":
            value = _iso_date(xml_text(v))
        else:
            value = xml_text(v)
        if mark is None and formula is not None and (self.full_calc or (typ != "str" and not v)):
            mark = ("formula", "=" + formula)
        return value, mark


_INLINE, _SHARED, _NUMBER, _SLOW = 0, 1, 2, 3
_COLUMNS = {column_letters(i): i for i in range(1, 703)}


def _attr(attrs: str, name: str) -> str | None:
    for key, double, single in _ATTR.findall(attrs):
        if key == name:
            return double if double or not single else single
    return None


@lru_cache(maxsize=8)
def _cell_pattern(prefix: str) -> re.Pattern[str]:
    """A cell: (column letters if ``r`` comes first, other attributes, plain ``<v>``, plain inline
    text, any other content). Both plain forms exclude ``<``, so anything richer is ``other``; other
    content never runs into the next ``<c``, so an unclosed cell costs a scan to the next cell only."""
    p = re.escape(prefix)
    return re.compile(
        rf"<{p}c\b(?:\s+r=\"([A-Z]{{1,3}})[0-9]+\")?([^>]*?)"
        rf"(?:/>|>(?:<{p}v>([^<]*)</{p}v>|<{p}is><{p}t>([^<]*)</{p}t></{p}is>|((?:[^<]|<(?!{p}c[\s>/]))*?))</{p}c>)",
    )


class XlsxWorkbook:
    """An opened XLSX: its sheets (``book.sheets``) and a streaming reader for each."""

    def __init__(self, source: str | BinaryIO) -> None:
        self.book = open_book(source)
        if not self.book.sheets:
            raise ScanError(_("not a readable XLSX workbook (it lists no sheets in xl/workbook.xml)"))
        self.styles = read_styles(self.book)
        self._strings: list[str] | None = None

    def sheet(self, name: str) -> SheetReader:
        if self._strings is None:
            self._strings = read_shared_strings(self.book)
        return SheetReader(
            self.book,
            name,
            self.book.members.get(name),
            self._strings,
            self.styles,
            self.book.date1904,
            self.book.full_calc_on_load,
        )

    def close(self) -> None:
        self.book.archive.close()
