"""CSV reading: encoding fallback, delimiter detection, every cell kept as text.

The body is parsed by pyarrow's streaming CSV reader (``pyarrow.csv.open_csv``), which is several
times faster than pandas' C parser and hands back Arrow string columns that the field rules run
on directly. What pyarrow does not do the way a person reads a spreadsheet is handled here:

* a row with fewer cells than the header is a record padded with empty cells, not an error:
  pyarrow skips it through ``invalid_row_handler`` and it is put back in its place;
* a row with more cells than the header is refused with its spreadsheet row;
* batches of whatever size pyarrow produces are regrouped into chunks of exactly ``chunk_rows``.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from omnimig.io.table import TEXT, Chunk, Notice, ReadError, Source

DELIMITERS = (",", ";", "\t", "|")
# Turkish legacy exports are often Windows-1254; anything else that is not UTF-8 is refused.
FALLBACK_ENCODING = "cp1254"


BLOCK = 1 << 20
# Bytes pyarrow parses at a time. Larger blocks parse a little faster but every block is held
# twice (text and columns) while it is converted; 4 MB keeps that small next to a chunk.
PARSE_BLOCK = 4 << 20
# UTF-8 is checked in blocks of this size by Arrow's validator before anything is parsed.
CHECK_BLOCK = 16 << 20


def detect_encoding(path: Path) -> tuple[str, list[Notice]]:
    """UTF-8 (BOM or not) first; Windows-1254 with a warning; otherwise a ReadError.

    The whole file is checked once in blocks, so a bad byte on the last line is found without
    holding the file in memory.
    """
    with path.open("rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise ReadError(f"{path}: the file is empty")
    if head.startswith(b"PK\x03\x04"):
        raise ReadError(f"{path}: this is a ZIP/XLSX file, not CSV text; give it an .xlsx extension")
    if b"\x00" in head:
        raise ReadError(f"{path}: this looks like a binary file, not CSV text")
    if _is_utf8(path):
        return "utf-8-sig", []
    bad_line = _first_undecodable_line(path, "utf-8-sig")
    if bad_line is None:  # Arrow and Python disagree about some byte sequence: trust Python
        return "utf-8-sig", []
    if _first_undecodable_line(path, FALLBACK_ENCODING) is not None:
        raise ReadError(f"{path}: line {bad_line} is neither UTF-8 nor Windows-1254 text; save the file as UTF-8")
    notice = Notice(
        rule="encoding",
        row=None,
        message=f"the file is not UTF-8 (first bad byte on line {bad_line}); read it as Windows-1254. "
        "Save it as UTF-8 before uploading",
    )
    return FALLBACK_ENCODING, [notice]


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
                    continue  # a short read without a newline: read on
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


def sniff_delimiter(header_line: str) -> str:
    """The candidate that splits the header into the most cells (headers are plain names)."""
    counts = {d: len(next(csv.reader([header_line], delimiter=d))) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] > 1 else ","


def read_csv(path: Path, chunk_rows: int = 200_000) -> Source:
    try:
        encoding, notices = detect_encoding(path)
        with path.open(encoding=encoding, newline="") as handle:
            first_line = handle.readline().rstrip("\r\n")
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    delimiter = sniff_delimiter(first_line)
    try:
        header = next(csv.reader([first_line], delimiter=delimiter))
    except (csv.Error, StopIteration) as exc:
        raise ReadError(f"{path}: cannot read the header row: {exc}") from None
    if not any(h.strip() for h in header):
        raise ReadError(f"{path}: the header row (row 1) is empty; row 1 must hold the column names")
    columns, duplicates = _unique_header(header)
    parsed = _Parsed(len(header))
    return Source(
        path=str(path),
        format="csv",
        columns=tuple(columns),
        chunks=_chunks(path, encoding, delimiter, header, chunk_rows, parsed),
        notices=notices,
        duplicate_columns=tuple(duplicates),
        bytes_read=parsed,
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


@dataclass
class _Odd:
    """Rows pyarrow would not take: short ones to put back, the first long one to refuse."""

    width: int
    delimiter: str
    short: deque[tuple[int, list[str]]]
    long: tuple[int, int] | None = None  # (spreadsheet row, cells)

    def handle(self, row: pacsv.InvalidRow) -> str:
        """``invalid_row_handler``: keep a short row (padded) for later, stop at a long one.

        ``row.number`` is the record's spreadsheet row (header = 1, a multi-line cell counted
        once) because the reader runs with ``use_threads=False``.
        """
        if row.actual_columns > self.width or row.number is None or row.number < 0:
            self.long = (row.number if row.number is not None else -1, row.actual_columns)
            return "error"
        cells = next(csv.reader(io.StringIO(row.text, newline=""), delimiter=self.delimiter), [])
        self.short.append((row.number, cells + [""] * (self.width - len(cells))))
        return "skip"


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

    def add(self, batch: pa.RecordBatch) -> None:
        text = sum(pc.sum(pc.binary_length(column)).as_py() or 0 for column in batch.columns)
        self.done += text + batch.num_rows * self.width

    def __call__(self) -> int | None:
        return self.done


def _chunks(
    path: Path, encoding: str, delimiter: str, header: list[str], chunk_rows: int, parsed: _Parsed
) -> Iterator[Chunk]:
    width = len(header)
    keep = [i for i, name in enumerate(header) if name not in header[:i]]
    names = [header[i] for i in keep]
    positional = [f"c{i}" for i in range(width)]
    odd = _Odd(width, delimiter, deque())
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=positional,
                skip_rows=1,  # the header, read above
                block_size=PARSE_BLOCK,
                encoding="utf8" if encoding == "utf-8-sig" else encoding,  # pyarrow drops a UTF-8 BOM itself
                use_threads=False,  # also what makes InvalidRow.number known
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char='"',
                double_quote=True,
                escape_char=False,
                newlines_in_values=True,
                ignore_empty_lines=False,  # a blank line is a record: blank-row problems keep their rows
                invalid_row_handler=odd.handle,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(positional, TEXT),
                include_columns=[positional[i] for i in keep],
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc) or "Could not skip initial" in str(exc):
            return  # only the header (with or without a line end after it)
        raise ReadError(f"{path}: {_parser_message(odd, exc, width)}") from None
    next_row = 2  # the header is spreadsheet row 1
    for table in _regroup(_records(reader, odd, keep, path, width, parsed), chunk_rows):
        n = table.num_rows
        frame = pd.DataFrame(
            {name: pd.arrays.ArrowStringArray(column) for name, column in zip(names, table.columns, strict=True)},
            index=pd.RangeIndex(next_row - 2, next_row - 2 + n),
        )
        rows = pd.Series(np.arange(next_row, next_row + n), index=frame.index)
        next_row += n
        yield Chunk(data=frame, rows=rows)


def _records(
    reader: pacsv.CSVStreamingReader, odd: _Odd, keep: list[int], path: Path, width: int, parsed: _Parsed
) -> Iterator[pa.Table]:
    """The file's records in order as small tables, short rows put back where they were."""
    next_row = 2
    names = reader.schema.names
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise ReadError(f"{path}: {_parser_message(odd, exc, width)}") from None
        parsed.add(batch)
        end = next_row + batch.num_rows
        start = 0  # next unused row of the batch
        while odd.short and odd.short[0][0] < end:
            row, cells = odd.short.popleft()
            before = row - next_row
            if before:
                yield pa.Table.from_batches([batch.slice(start, before)])
                start += before
            yield _one_row(names, [cells[i] for i in keep])
            next_row = row + 1
            end += 1
        if start < batch.num_rows:
            yield pa.Table.from_batches([batch.slice(start)])
        next_row = end
    while odd.short:  # short rows after the last batch pyarrow produced
        _, cells = odd.short.popleft()
        yield _one_row(names, [cells[i] for i in keep])


def _one_row(names: list[str], cells: list[str]) -> pa.Table:
    return pa.table({name: pa.array([cell], TEXT) for name, cell in zip(names, cells, strict=True)})


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


def _joined(tables: list[pa.Table]) -> pa.Table:
    # The pieces stay separate Arrow chunks of one column: joining them would copy every cell.
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def _parser_message(odd: _Odd, exc: Exception, width: int) -> str:
    if odd.long is not None:
        row, cells = odd.long
        where = f"row {row}" if row > 0 else "a row"
        return f"{where} has {cells} cells but the header has {width} columns (check quoting and the delimiter)"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else "cannot parse the file"
    return f"cannot parse the file: {text}"
