"""CSV reading: encoding fallback, delimiter detection, every cell kept as text."""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from omnimig.io.table import Chunk, Notice, ReadError, Source

DELIMITERS = (",", ";", "\t", "|")
# Turkish legacy exports are often Windows-1254; anything else that is not UTF-8 is refused.
FALLBACK_ENCODING = "cp1254"


BLOCK = 1 << 20


def detect_encoding(path: Path) -> tuple[str, list[Notice]]:
    """UTF-8 (BOM or not) first; Windows-1254 with a warning; otherwise a ReadError.

    The whole file is decoded once in blocks, so a bad byte on the last line is found without
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
    bad_line = _first_undecodable_line(path, "utf-8-sig")
    if bad_line is None:
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
    _check_first_record(path, encoding, delimiter, len(header))
    columns, duplicates = _unique_header(header)
    return Source(
        path=str(path),
        format="csv",
        columns=tuple(columns),
        chunks=_chunks(path, encoding, delimiter, header, chunk_rows),
        notices=notices,
        duplicate_columns=tuple(duplicates),
    )


def _check_first_record(path: Path, encoding: str, delimiter: str, width: int) -> None:
    """pandas takes surplus cells of the first data row for an index; refuse them as it does later rows."""
    with path.open(encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            next(reader)
            first = next(reader, None)
        except csv.Error as exc:
            raise ReadError(f"{path}: cannot read row 2: {exc}") from None
    if first is not None and len(first) > width:
        raise ReadError(
            f"{path}: row 2 has {len(first)} cells but the header has {width} columns (check quoting and the delimiter)"
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


def _chunks(path: Path, encoding: str, delimiter: str, header: list[str], chunk_rows: int) -> Iterator[Chunk]:
    width = len(header)
    keep = [i for i, name in enumerate(header) if name not in header[:i]]
    try:
        reader = pd.read_csv(
            path,
            encoding=encoding,
            sep=delimiter,
            header=None,
            index_col=False,
            skiprows=1,
            names=list(range(width)),
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            quotechar='"',
            doublequote=True,
            engine="c",
            chunksize=chunk_rows,
        )
        next_row = 2  # the header is spreadsheet row 1
        for frame in reader:
            frame = frame.iloc[:, keep]
            frame.columns = [header[i] for i in keep]
            frame = frame.fillna("").astype("string[pyarrow]")
            rows = pd.Series(range(next_row, next_row + len(frame)), index=frame.index)
            next_row += len(frame)
            yield Chunk(data=frame, rows=rows)
    except pd.errors.ParserError as exc:
        raise ReadError(f"{path}: {_parser_message(exc, width)}") from None
    except pd.errors.EmptyDataError:
        return


def _parser_message(exc: Exception, width: int) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else "cannot parse the file"
    if "Expected" in text and "fields" in text:
        return f"{text}; the header has {width} columns (check quoting and the delimiter)"
    return text
