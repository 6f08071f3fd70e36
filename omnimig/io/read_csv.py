"""CSV reading: encoding detection, delimiter detection, every cell kept as text.

The body is parsed by pyarrow's streaming CSV reader (``pyarrow.csv.open_csv``), which is several
times faster than pandas' C parser and hands back Arrow string columns that the field rules run
on directly. What pyarrow does not do the way a person reads a spreadsheet is handled here:

* a row with fewer or more cells than the header is a ``row-width`` problem at its row, not the
  end of the file: pyarrow skips it through ``invalid_row_handler`` and it is put back in its
  place, its first cells in their columns (padded with empty cells), so ``--split`` holds it and
  every other row is still checked;
* a quote that is never closed swallows the rest of the file into one cell (that is what CSV
  says, and what Excel shows): the row where it opened gets an ``unterminated-quote`` problem;
* a record longer than pyarrow's parse block is read again with a block that fits it, up to
  ``MAX_RECORD`` bytes, so a 20 MB cell is a ``max-length`` problem rather than an unreadable file;
* the header is bounded (``MAX_COLUMNS`` names of at most ``MAX_HEADER_CELL`` characters): the
  schemas have fewer than 40 columns, and a 100,000-column "header" is not a migration file;
* Excel's ``sep=;`` first line chooses the delimiter and is not the header; Excel hides it, so
  the header is still row 1;
* UTF-16 with a byte-order mark (Excel's "Unicode text") and Windows-1254 are read, with an
  ``encoding`` warning; anything else that is not UTF-8 is refused in one line;
* batches of whatever size pyarrow produces are regrouped into chunks of exactly ``chunk_rows``.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from omnimig.exceptions import ReadError
from omnimig.i18n import N_, _, ngettext, number
from omnimig.io.safe_text import cut
from omnimig.io.table import MAX_COLUMNS, TEXT, Chunk, Notice, Source, repeat_key

DELIMITERS = (",", ";", "\t", "|")
# Turkish legacy exports are often Windows-1254; anything else that is not UTF-8 is refused.
FALLBACK_ENCODING = "cp1254"
RESAVE = N_('open it in Excel and use "Save as" > "CSV UTF-8 (Comma delimited)"')

BLOCK = 1 << 20
# Bytes pyarrow parses at a time. Every block is held twice (text and columns) while it is
# converted, and a block that stays in the CPU's cache parses faster: on the 1M bundle's
# order.csv (288 MB) a whole validation took 4.8-5.0 s of CPU with 1-2 MB blocks against 5.5-6.0 s
# with 4 MB (and 5.3 s with 512 KB; bench/RESULTS.md, issue 16).
PARSE_BLOCK = 2 << 20
# The longest record read: a record longer than the parse block is read again with a larger
# block (4x each time) up to this bound; longer is refused naming its row.
MAX_RECORD = 256 << 20
# UTF-8 is checked in blocks of this size by Arrow's validator before anything is parsed.
CHECK_BLOCK = 16 << 20
# The header: at most MAX_COLUMNS (io/table.py, shared by every reader) columns, each name at
# most this many characters; anything near these bounds is not a migration file.
MAX_HEADER_CELL = 1000
# The header line is read at most this far (characters) looking for its end.
MAX_HEADER_LINE = 1 << 20

_BOMS = (
    (codecs.BOM_UTF32_LE, None, "UTF-32 (little-endian)"),  # before UTF-16 LE: it starts the same way
    (codecs.BOM_UTF32_BE, None, "UTF-32 (big-endian)"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_SEP_LINE = re.compile(r'"?sep=([^"\r\n])"?')


@dataclass
class Encoding:
    """How the file's bytes become text: the codec given to pyarrow and Python, and the codec
    that turns text back into the file's bytes (no byte-order mark)."""

    codec: str  # for Python's open() and pyarrow's ReadOptions
    raw: str  # the same without a BOM, to compare text with the file's bytes
    notices: list[Notice] = field(default_factory=list)
    # UTF-8 judged from the file's first block only; the parse checks the rest (see ``LAZY_UTF8``).
    unchecked: bool = False


#: Set (a ``ContextVar``, so only the caller that asks gets it) by a reader that can start a file
#: again: a large file whose first block is UTF-8 with non-ASCII text is then not read once more to
#: check the rest; pyarrow checks every cell while converting it, and if a cell is not UTF-8 after
#: all the reading raises ``Reencode`` and the caller reads the file again, checked whole.
LAZY_UTF8: ContextVar[bool] = ContextVar("omnimig_lazy_utf8", default=False)


class Reencode(ReadError):
    """A file read as UTF-8 on the strength of its first block is not UTF-8 after all: read it
    again from the start (``LAZY_UTF8`` unset), which checks it whole and picks its encoding."""


def detect_encoding(path: Path) -> tuple[str, list[Notice]]:
    """The codec a file is read with and the notices that come with it (see ``sniff_encoding``)."""
    found = sniff_encoding(path)
    return found.codec, found.notices


def sniff_encoding(path: Path, lazy: bool = False) -> Encoding:
    """UTF-8 (BOM or not) first; UTF-16 with a BOM and Windows-1254 with a warning; else a ReadError.

    The whole file is checked once in blocks, so a bad byte on the last line is found without
    holding the file in memory. With ``lazy`` a file over ``CHECK_BLOCK`` whose first block is
    valid UTF-8 holding non-ASCII text (Windows-1254 Turkish would not be) is taken as UTF-8
    unchecked: the parse checks the rest (``LAZY_UTF8``).
    """
    with path.open("rb") as handle:
        head = handle.read(65536)
    for bom, raw, name in _BOMS:
        if head.startswith(bom):
            if raw is None:
                raise ReadError(
                    _("{path}: this is {name} text, which omnimig does not read; {advice}").format(
                        path=path, name=name, advice=_(RESAVE)
                    )
                )
            return _utf16(path, head, raw)
    if not head.strip():
        raise ReadError(_("{path}: the file is empty").format(path=path))
    if head.startswith(b"PK\x03\x04"):
        raise ReadError(
            _("{path}: this is a ZIP/XLSX file, not CSV text; give it an .xlsx extension").format(path=path)
        )
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise ReadError(
            _("{path}: this is a legacy Excel (XLS) workbook, not CSV text; give it an .xls extension").format(
                path=path
            )
        )
    if b"\x00" in head:
        if _looks_utf16(head):
            raise ReadError(
                _("{path}: this looks like UTF-16 text without a byte-order mark; {advice}").format(
                    path=path, advice=_(RESAVE)
                )
            )
        raise ReadError(_("{path}: this looks like a binary file, not CSV text").format(path=path))
    if lazy and _utf8_head(path, head):
        return Encoding("utf-8-sig", "utf-8", unchecked=True)
    if _is_utf8(path):
        return Encoding("utf-8-sig", "utf-8")
    bad_line = _first_undecodable_line(path, "utf-8-sig")
    if bad_line is None:  # Arrow and Python disagree about some byte sequence: trust Python
        return Encoding("utf-8-sig", "utf-8")
    if _first_undecodable_line(path, FALLBACK_ENCODING) is not None:
        raise ReadError(
            _("{path}: line {line} is neither UTF-8 nor Windows-1254 text; {advice}").format(
                path=path, line=bad_line, advice=_(RESAVE)
            )
        )
    notice = Notice(
        rule="encoding",
        row=None,
        message=_(
            "the file is not UTF-8 (first bad byte on line {line}); read it as Windows-1254. "
            "Save it as UTF-8 before uploading"
        ).format(line=bad_line),
    )
    return Encoding(FALLBACK_ENCODING, FALLBACK_ENCODING, [notice])


def _utf8_head(path: Path, head: bytes) -> bool:
    """A large file whose first block, up to its last line end, is UTF-8 with non-ASCII text."""
    if path.stat().st_size <= CHECK_BLOCK:
        return False  # checked whole: it is cheap
    cut = head.rfind(b"\n") + 1
    # Three line ends at least: the header (after a sep= line) is inside the checked block.
    return head.count(b"\n", 0, cut) >= 3 and not head[:cut].isascii() and _valid_utf8(memoryview(head[:cut]))


def _looks_utf16(head: bytes) -> bool:
    """ASCII text in UTF-16 has a zero in every other byte: more than a third of the bytes are NUL."""
    sample = head[:4096]
    return sample.count(0) * 3 > len(sample) and (sample[0::2].count(0) == 0 or sample[1::2].count(0) == 0)


def _utf16(path: Path, head: bytes, raw: str) -> Encoding:
    """Excel's "Unicode text" export: UTF-16 with a BOM, usually tab-separated. Checked whole."""
    decoder = codecs.getincrementaldecoder("utf-16")()
    offset = 0
    seen = ""
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise ReadError(
                    _("{path}: starts as UTF-16 text but byte {byte} is not UTF-16; {advice}").format(
                        path=path, byte=offset + max(exc.start, 0), advice=_(RESAVE)
                    )
                ) from None
            if len(seen) < 64:
                seen += text[:64]
            if not block:
                break
            offset += len(block)
    if not seen.strip():
        raise ReadError(_("{path}: the file is empty").format(path=path))
    notice = Notice(
        rule="encoding",
        row=None,
        message=_(
            'the file is UTF-16 text (Excel\'s "Unicode text"); read it as such. Save it as CSV UTF-8 before uploading'
        ),
    )
    return Encoding("utf-16", raw, [notice])


def _is_utf8(path: Path) -> bool:
    """True when the whole file is valid UTF-8, checked by Arrow without building Python strings.

    Decoding with Python's codec builds a str per block and took about 0.4 s on a 290 MB file;
    Arrow's validator takes a third of that. Blocks are cut after their last newline (an ASCII
    byte, never inside a multi-byte character) and the remainder is carried to the next block.
    Only the yes/no answer comes from here: the line of the first bad byte is found by
    ``_first_undecodable_line`` on the rare file that is not UTF-8.
    """
    buffer = bytearray(CHECK_BLOCK)
    view = memoryview(buffer)
    carry = 0
    with path.open("rb") as handle:
        while True:
            got = handle.readinto(view[carry:])
            end = carry + (got or 0)
            if not got:
                return _valid_utf8(view[:end])
            cut = buffer.rfind(b"\n", 0, end) + 1
            if cut == 0:
                if end < len(buffer):
                    carry = end  # a short read without a newline: keep it and read on
                    continue
                return _first_undecodable_line(path, "utf-8-sig") is None  # one 16 MB line
            if not _valid_utf8(view[:cut]):
                return False
            buffer[: end - cut] = buffer[cut:end]
            carry = end - cut


def _valid_utf8(data: memoryview) -> bool:
    if not len(data):
        return True
    offsets = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _first_undecodable_line(path: Path, encoding: str) -> int | None:
    decoder = codecs.getincrementaldecoder(encoding)()
    lines = 1
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                return lines + block.count(b"\n", 0, max(exc.start, 0))
            if not block:
                return None
            lines += block.count(b"\n")


@contextmanager
def _field_limit(size: int) -> Iterator[None]:
    """Let Python's csv module read fields up to ``size`` characters (its default is 128 KiB).

    The limit is process-wide, so it is raised only around one call and put back after.
    """
    old = csv.field_size_limit()
    csv.field_size_limit(max(old, size + 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def split_record(text: str, delimiter: str) -> tuple[list[str], bool]:
    """The cells of one CSV record and whether every quote in it was closed."""
    if len(text) < csv.field_size_limit():  # no cell can exceed the limit: leave it (this runs per odd row)
        return _split(text, delimiter)
    with _field_limit(len(text)):
        return _split(text, delimiter)


def _split(text: str, delimiter: str) -> tuple[list[str], bool]:
    try:
        return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True), []), True
    except csv.Error as exc:
        closed = "unexpected end of data" not in str(exc)
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), []), closed


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most cells (headers are plain names)."""
    counts = {d: len(split_record(header_line, d)[0]) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


@dataclass
class _Plan:
    """Everything the body parser needs to know about the file, found from its first lines."""

    path: Path
    encoding: Encoding
    delimiter: str
    header: list[str]
    skip: int  # physical lines before the first record: the header, and Excel's sep= line
    size: int

    @property
    def names(self) -> list[str]:
        """The chunk column of each header position: the name, or ``repeat_key`` for a repeat."""
        seen: dict[str, int] = {}
        out = []
        for name in self.header:
            seen[name] = seen.get(name, 0) + 1
            out.append(name if seen[name] == 1 else repeat_key(name, seen[name]))
        return out


def read_csv(path: Path, chunk_rows: int = 200_000) -> Source:
    try:
        encoding = sniff_encoding(path, lazy=LAZY_UTF8.get())
        with path.open(encoding=encoding.codec, newline="") as handle:
            first_line = _header_line(path, handle)
            skip = 1
            sep = _SEP_LINE.fullmatch(first_line)
            if sep is not None:  # Excel's "sep=;" line: the delimiter, then the header
                first_line = _header_line(path, handle)
                skip = 2
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(
            _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    except UnicodeDecodeError as exc:
        raise ReadError(
            _("{path}: cannot decode the header as {codec}: {reason}; {advice}").format(
                path=path, codec=encoding.codec, reason=exc.reason, advice=_(RESAVE)
            )
        ) from None
    try:
        delimiter = sep.group(1) if sep is not None else sniff_delimiter(first_line)
        header, closed = split_record(first_line, delimiter)
    except csv.Error as exc:
        raise ReadError(_("{path}: cannot read the header row: {error}").format(path=path, error=exc)) from None
    row = _("row 1 (after the sep= line)") if sep is not None else _("row {row}").format(row=1)
    if not closed:
        raise ReadError(_("{path}: the header ({row}) has a quote that is never closed").format(path=path, row=row))
    _check_header(path, header, row)
    notices = list(encoding.notices)
    if sep is not None:
        notices.append(
            Notice(
                "sep-line",
                _(
                    'the first line "{line}" is Excel\'s delimiter line: it chose the delimiter and the header is '
                    "the line after it (row 1, as Excel shows it). Akinon's importer reads it as the header: "
                    "remove the line before uploading"
                ).format(line=sep.group(0)),
            )
        )
    columns, duplicates = _unique_header(header)
    parsed = _Parsed(len(header))
    plan = _Plan(path, encoding, delimiter, header, skip, size)
    return Source(
        path=str(path),
        format="csv",
        columns=tuple(columns),
        chunks=_chunks(plan, chunk_rows, parsed),
        notices=notices,
        duplicate_columns=tuple(duplicates),
        header=tuple(header),
        bytes_read=parsed,
    )


def _header_line(path: Path, handle: io.TextIOBase) -> str:
    """One physical line, read at most ``MAX_HEADER_LINE`` characters far."""
    line = handle.readline(MAX_HEADER_LINE + 1)
    if len(line) > MAX_HEADER_LINE and not line.endswith(("\n", "\r")):
        cells = max(len(line.split(d)) for d in DELIMITERS)
        if cells > MAX_COLUMNS:
            raise ReadError(
                _(
                    "{path}: the header line is over {length} characters long with more than {cells} columns; "
                    "a header has at most {limit}"
                ).format(path=path, length=f"{MAX_HEADER_LINE:,}", cells=f"{cells:,}", limit=f"{MAX_COLUMNS:,}")
            )
        raise ReadError(
            _(
                "{path}: the header line is over {length} characters long; "
                "a header holds column names of at most {limit} characters"
            ).format(path=path, length=f"{MAX_HEADER_LINE:,}", limit=f"{MAX_HEADER_CELL:,}")
        )
    return line.rstrip("\r\n")


def _check_header(path: Path, header: list[str], row: str) -> None:
    if not any(h.strip() for h in header):
        raise ReadError(
            _("{path}: the header row ({row}) is empty; {row} must hold the column names").format(path=path, row=row)
        )
    if len(header) > MAX_COLUMNS:
        raise ReadError(
            _("{path}: the header ({row}) has {columns} columns; a migration file has at most {limit}").format(
                path=path, row=row, columns=f"{len(header):,}", limit=f"{MAX_COLUMNS:,}"
            )
        )
    longest = max(range(len(header)), key=lambda i: len(header[i]))
    if len(header[longest]) > MAX_HEADER_CELL:
        raise ReadError(
            _(
                "{path}: header cell {cell} ({row}) is {length} characters long; a column name has at most {limit}"
            ).format(
                path=path, cell=longest + 1, row=row, length=f"{len(header[longest]):,}", limit=f"{MAX_HEADER_CELL:,}"
            )
        )


def _unique_header(header: list[str]) -> tuple[list[str], list[str]]:
    seen: set[str] = set()
    columns, duplicates = [], []
    for name in header:
        if name in seen:
            duplicates.append(name)
        else:
            seen.add(name)
            columns.append(name)
    return columns, duplicates


class _Odd:
    """Rows pyarrow would not take (too few or too many cells), kept to be put back in place.

    ``invalid_row_handler`` runs inside pyarrow: it must never raise, so a failure is kept in
    ``failure`` and reported by the reading loop.
    """

    def __init__(self, plan: _Plan) -> None:
        self.plan = plan
        self.rows: deque[tuple[int, list[str], Notice | None]] = deque()
        self.failure: str | None = None

    def handle(self, row: pacsv.InvalidRow) -> str:
        """``invalid_row_handler``: note the row and its cells, let pyarrow skip it.

        ``row.number`` counts records from the file's first line (a multi-line cell counted
        once) because the reader runs with ``use_threads=False``; Excel's hidden ``sep=`` line
        is not a spreadsheet row.
        """
        try:
            if row.number is None or row.number < 0:
                self.failure = _("a row has {cells} cells but the header has {columns} columns").format(
                    cells=row.actual_columns, columns=row.expected_columns
                )
                return "error"
            number = row.number - (self.plan.skip - 1)
            # Kept even when an earlier pass handed the row out: it keeps the rows after it counted right.
            self.rows.append((number, *self._cells(number, row.text)))
            return "skip"
        except Exception as exc:  # nothing may escape into pyarrow's C++ loop
            self.failure = _("cannot read a row: {error}").format(error=f"{type(exc).__name__}: {exc}")
            return "error"

    def _cells(self, number: int, text: str) -> tuple[list[str], Notice | None]:
        width = len(self.plan.header)
        if text == "":  # a blank line is a record of empty cells: the blank-row rule reports it
            return [""] * width, None
        cells, closed = split_record(text, self.plan.delimiter)
        kept = cells[:width] + [""] * (width - len(cells))
        joined = self.plan.delimiter.join(cells)
        if not closed:
            return kept, unterminated(self.plan.header, number, len(cells) - 1, cells[-1])
        if len(cells) > width:
            extra = self.plan.delimiter.join(cells[width:])
            extra = cut(extra, 200)
            fix = _(
                'the cells after the last column are "{extra}"; check the quoting and the delimiter: '
                "a cell holding the delimiter must be quoted"
            ).format(extra=extra)
        else:
            fix = _("add the missing cells (empty ones too)")
        return kept, Notice(
            "row-width",
            _("the row has {cells} cells but the header has {columns} columns; {fix}").format(
                cells=len(cells), columns=width, fix=fix
            ),
            row=number,
            severity="error",
            value=joined,
        )


def unterminated(header: list[str], row: int, index: int, cell: str) -> Notice:
    """The problem of a quote opened in ``header[index]`` of ``row`` and never closed."""
    lines = cell.rstrip("\r\n").count("\n")
    more = " (" + ngettext("{n} more line", "{n} more lines", lines).format(n=number(lines)) + ")" if lines else ""
    return Notice(
        "unterminated-quote",
        _(
            "a quote opened in this cell is never closed, so everything after it to the end of the file{more} "
            "was read as this one cell; close the quote or remove it"
        ).format(more=more),
        row=row,
        severity="error",
        column=header[index] if index < len(header) else None,
        value=cell,
    )


class _Parsed:
    """About how many bytes of the file pyarrow has parsed, for a progress bar.

    Counted from the batches (cell text plus one delimiter or line end per cell), so quotes
    are left out and the count ends a little short of the file size. Reading through a Python
    file object instead, to ask it where it is, made pyarrow read far ahead of the rows and
    hold that in memory.
    """

    def __init__(self, width: int) -> None:
        self.width = width
        self.done = 0

    def add(self, table: pa.Table) -> None:
        text = sum(_text_bytes(chunk) for column in table.columns for chunk in column.chunks)
        self.done += text + table.num_rows * self.width

    def __call__(self) -> int | None:
        return self.done


def _text_bytes(array: pa.Array) -> int:
    """The bytes of text in a ``large_string`` array, from its first and last offsets (no pass over
    the cells: the progress count is taken on every piece, on the reader thread)."""
    if not len(array):
        return 0
    if not pa.types.is_large_string(array.type):  # never for TEXT columns: count the cells
        return pc.sum(pc.binary_length(array)).as_py() or 0
    offsets = array.buffers()[1]
    ends = np.frombuffer(offsets, dtype=np.int64, count=array.offset + len(array) + 1)
    return int(ends[-1] - ends[array.offset])


def _chunks(plan: _Plan, chunk_rows: int, parsed: _Parsed) -> Iterator[Chunk]:
    """The file's records in chunks of ``chunk_rows``; any failure is one ReadError line."""
    names = plan.names
    notices: deque[Notice] = deque()
    next_row = 2  # the header is spreadsheet row 1
    try:
        with _quiet_odd_text(plan.encoding.unchecked):
            for table in _regroup(_records(plan, parsed, notices), chunk_rows):
                n = table.num_rows
                frame = pd.DataFrame(
                    {
                        name: pd.arrays.ArrowStringArray(column)
                        for name, column in zip(names, table.columns, strict=True)
                    },
                    index=pd.RangeIndex(next_row - 2, next_row - 2 + n),
                )
                rows = pd.Series(np.arange(next_row, next_row + n), index=frame.index)
                next_row += n
                mine = []
                while notices and notices[0].row is not None and notices[0].row < next_row:
                    mine.append(notices.popleft())
                yield Chunk(data=frame, rows=rows, notices=mine)
    except Reencode:
        raise
    except ReadError:
        _recheck(plan)
        raise
    except (pa.ArrowException, UnicodeError, csv.Error, OSError, MemoryError, ValueError) as exc:
        _recheck(plan)
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ReadError(
            _("{path}: cannot read the file after row {row}: {error}").format(
                path=plan.path, row=next_row - 1, error=text
            )
        ) from None


@contextmanager
def _quiet_odd_text(unchecked: bool) -> Iterator[None]:
    """While a file taken as UTF-8 unchecked is read: pyarrow decodes an odd row's text before
    calling ``_Odd.handle``; a byte that is not UTF-8 makes that decoding fail inside pyarrow, which
    prints it as an "Exception ignored" traceback and then fails the parse (and the file is read
    again, checked whole). That one kind of report is dropped; anything else goes to the hook that
    was there. Another thread may have put its own hook on top meanwhile: then this one is left
    in place (it only filters) rather than pulling the other's out."""
    if not unchecked:
        yield
        return
    previous = sys.unraisablehook

    def hook(unraisable: Any) -> None:
        method = getattr(unraisable, "object", None)
        if isinstance(unraisable.exc_value, UnicodeDecodeError) and isinstance(getattr(method, "__self__", None), _Odd):
            return
        previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        if sys.unraisablehook is hook:
            sys.unraisablehook = previous


def _recheck(plan: _Plan) -> None:
    """After a failure reading a file taken as UTF-8 unchecked: ``Reencode`` if it is not UTF-8 (the
    failure may be pyarrow's check of a cell), else the failure stands as it is."""
    if plan.encoding.unchecked and not _is_utf8(plan.path):
        raise Reencode(f"{plan.path}: not UTF-8 after its first block; read it again, checked whole")


def _records(plan: _Plan, parsed: _Parsed, notices: deque[Notice]) -> Iterator[pa.Table]:
    """The records in order as small tables; row and cell problems go to ``notices`` as the row
    they are about is handed out. A record longer than the parse block is read again, from the
    start, with a larger block (pyarrow cannot grow a block), skipping the rows already given."""
    block = PARSE_BLOCK
    # Text pyarrow sees is UTF-8: a Windows-1254 or UTF-16 file can grow by up to 3x.
    limit = min(MAX_RECORD, plan.size * (1 if plan.encoding.codec == "utf-8-sig" else 3) + 1024)
    done = 2  # the next row to hand out
    last: tuple[pa.Table, bool] | None = None  # held back: the end of the file may add a notice
    while True:
        odd = _Odd(plan)
        try:
            for row, piece, found in _pass(plan, odd, block):
                end = row + piece.num_rows
                if end <= done:
                    continue
                if row < done:  # a second pass: rows before ``done`` and their notices went out already
                    piece = piece.slice(done - row)
                    found = [n for n in found if n.row is not None and n.row >= done]
                if last is not None:
                    yield last[0]
                notices.extend(found)
                parsed.add(piece)
                # An odd last row has been looked at already (its quote, its width).
                last = (piece, bool(found) and found[-1].row == end - 1)
                done = end
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise ReadError(f"{plan.path}: {_parser_message(odd, exc, done)}") from None
            if block >= limit:
                raise ReadError(
                    _(
                        "{path}: row {row} is longer than {size}, the most omnimig reads as one row; "
                        "check for a quote that is never closed, or split the cell"
                    ).format(path=plan.path, row=done, size=_size(limit))
                ) from None
            block = min(block * 4, limit)
            continue
        if odd.failure is not None:
            raise ReadError(f"{plan.path}: {odd.failure}")
        break
    if last is not None:
        piece, noted = last
        if not noted:
            found_end = _open_quote_at_end(plan, piece, done - 1)
            if found_end is not None:
                notices.append(found_end)
        yield piece


def _size(n: int) -> str:
    return f"{n >> 20:,} MB" if n >= 1 << 20 else f"{n >> 10:,} KB"


def _pass(plan: _Plan, odd: _Odd, block: int) -> Iterator[tuple[int, pa.Table, list[Notice]]]:
    """One reading of the file: ``(first row, table, notices)`` for every piece, odd rows in place.

    Consecutive odd rows come as one table (``_odd_run``): a file where every row has one cell
    too many (an unquoted decimal comma) would otherwise become one Arrow chunk per row.
    """
    # pyarrow encodes a path as UTF-8, which fails on a name that is not (Python keeps such bytes
    # as surrogates, e.g. "users_\udcff.csv"): such a file is handed over open. Any other is given
    # by path, which pyarrow reads with less memory and time (about 70 MB and 15% on 300,000 orders).
    try:
        str(plan.path).encode("utf-8")
    except UnicodeEncodeError:
        with plan.path.open("rb", buffering=0) as handle:
            yield from _pass_file(plan, odd, block, handle)
        return
    yield from _pass_file(plan, odd, block, str(plan.path))


def _pass_file(
    plan: _Plan, odd: _Odd, block: int, handle: io.RawIOBase | str
) -> Iterator[tuple[int, pa.Table, list[Notice]]]:
    width = len(plan.header)
    positional = [f"c{i}" for i in range(width)]
    try:
        reader = pacsv.open_csv(
            handle,
            read_options=pacsv.ReadOptions(
                column_names=positional,
                skip_rows=plan.skip,  # the header (and sep= line), read already
                block_size=block,
                # pyarrow drops a UTF-8 BOM itself
                encoding="utf8" if plan.encoding.codec == "utf-8-sig" else plan.encoding.codec,
                use_threads=False,  # also what makes InvalidRow.number known
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=plan.delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,  # a blank line is a record: blank-row problems keep their rows
                invalid_row_handler=odd.handle,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(positional, TEXT),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc) or "Could not skip initial" in str(exc):
            while odd.rows:  # e.g. a single short row and nothing else
                yield _odd_run(positional, odd.rows)
            return  # only the header (with or without a line end after it)
        raise
    next_row = 2
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        end = next_row + batch.num_rows
        start = 0  # next unused row of the batch
        while odd.rows and odd.rows[0][0] < end:
            row = odd.rows[0][0]
            before = row - next_row
            if before:
                yield next_row, pa.Table.from_batches([batch.slice(start, before)]), []
                start += before
            first, table, found = _odd_run(positional, odd.rows)
            yield first, table, found
            next_row = row + table.num_rows
            end += table.num_rows
        if start < batch.num_rows:
            yield next_row, pa.Table.from_batches([batch.slice(start)]), []
        next_row = end
    while odd.rows:  # odd rows after the last batch pyarrow produced
        yield _odd_run(positional, odd.rows)


# At most this many odd rows become one table: enough that a file of odd rows is a few chunks.
ODD_RUN = 65_536


def _odd_run(names: list[str], rows: deque[tuple[int, list[str], Notice | None]]) -> tuple[int, pa.Table, list[Notice]]:
    """The odd rows at the front of ``rows`` that follow each other (row n, n + 1, …) as one table
    built column by column, with their notices. No batch row lies between two of them, so they
    belong together wherever the batches end."""
    first = rows[0][0]
    cells: list[list[str]] = []
    found: list[Notice] = []
    while rows and rows[0][0] == first + len(cells) and len(cells) < ODD_RUN:
        _row, kept, notice = rows.popleft()
        cells.append(kept)
        if notice is not None:
            found.append(notice)
    columns = zip(*cells, strict=True)
    table = pa.table({name: pa.array(column, TEXT) for name, column in zip(names, columns, strict=True)})
    return first, table, found


def _open_quote_at_end(plan: _Plan, piece: pa.Table, row: int) -> Notice | None:
    """An unterminated quote in the last cell of the last row, which pyarrow reads to the end of
    the file without complaint: the file then ends with ``"`` and the cell's text, unclosed."""
    if not piece.num_rows:
        return None
    cell = piece.column(piece.num_columns - 1)[-1].as_py() or ""
    if not cell.strip('"'):
        return None  # a legitimately quoted empty (or all-quote) last cell ends the same way
    tail = ('"' + cell.replace('"', '""')).encode(plan.encoding.raw, errors="replace")
    if len(tail) > plan.size:
        return None
    with plan.path.open("rb") as handle:
        handle.seek(plan.size - len(tail))
        if handle.read() != tail:
            return None
    return unterminated(plan.header, row, len(plan.header) - 1, cell)


def _regroup(pieces: Iterator[pa.Table], chunk_rows: int) -> Iterator[pa.Table]:
    """Tables of exactly ``chunk_rows`` rows (the last one shorter), whatever size comes in."""
    held: list[pa.Table] = []
    count = 0
    for piece in pieces:
        while piece.num_rows:
            take = min(piece.num_rows, chunk_rows - count)
            held.append(piece.slice(0, take))
            count += take
            piece = piece.slice(take)
            if count == chunk_rows:
                yield _joined(held)
                held, count = [], 0
    if count:
        yield _joined(held)


# A chunk made of more pieces than this is copied into one Arrow chunk per column.
MAX_PIECES = 64


def _joined(tables: list[pa.Table]) -> pa.Table:
    """One chunk's table. The pieces stay separate Arrow chunks of one column (joining them would
    copy every cell) unless there are many: rows that alternate good and odd make a piece per row,
    and pandas and Arrow work per chunk, so thousands of one-row chunks cost far more than a copy."""
    if len(tables) == 1:
        return tables[0]
    joined = pa.concat_tables(tables)
    return joined.combine_chunks() if len(tables) > MAX_PIECES else joined


def _parser_message(odd: _Odd, exc: Exception, row: int) -> str:
    if odd.failure is not None:
        return odd.failure
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else _("cannot parse the file")
    return _("cannot parse the file after row {row}: {error}").format(row=row - 1, error=text)
