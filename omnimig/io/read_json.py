"""JSON files: a top-level array of objects, with each number's text kept exactly, read in bounded memory.

Money is judged by the digits a person wrote (``0.29`` has two places), never by its binary
float value, so every number keeps its literal text and remembers it was a number.

How a large file is read without becoming gigabytes of Python objects:

1. The file is read in windows of a few MB. Each window is cut after a record's closing ``}``
   and the records in it are parsed at once with orjson (``[`` + records + ``]``). A cut that
   falls inside a record makes that parse fail, and the window is read by the exact path below.
2. orjson turns numbers into floats, which forget ``123.90``'s zero; the literal of each number
   of a top-level key is taken from the window's bytes with a regex per key
   (``"amount"\\s*:\\s*(number)``) and checked against orjson's values (same count, same value).
   Anything that does not fit (a nested object holding floats, a key written with escapes) sends
   the window to the exact path.
3. The exact path is the standard library's decoder with number hooks, record by record.
4. Each window becomes compact Arrow text columns plus one byte of JSON kind per cell; windows
   of a large file are spilled to a temporary Arrow file, because the header (the union of all
   records' keys) is only known at the end and must be known before the first chunk.

Any error sends the whole file through the exact reader, which says where the problem is.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.io.table import Chunk, ReadError, Source


class JsonNumber(str):
    """The literal text of a JSON number."""

    __slots__ = ()


#: JSON kinds, in the order of the codes held per cell.
KINDS = ("string", "number", "boolean", "null", "object", "array", "absent")
STRING, NUMBER, BOOLEAN, NULL, OBJECT, ARRAY, ABSENT_KIND = range(len(KINDS))
#: Bytes per window read and parsed at once.
WINDOW_BYTES = 8 << 20
#: Files larger than this spill their parsed windows to a temporary file until the chunks are read.
SPILL_BYTES = 64 << 20
_WS = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


class _Absent:
    __slots__ = ()


_ABSENT = _Absent()


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, JsonNumber | int | float):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def plain(number: str) -> str:
    """A number literal in plain decimal notation: ``1e-3`` is ``0.001``, ``1.5E2`` is ``150``.

    JSON allows exponents; rules about digits and decimal places are about the value's decimal
    digits, so they judge the expanded form.
    """
    if "e" not in number and "E" not in number:
        return str(number)
    return format(Decimal(number), "f")


def cell(value: object) -> tuple[str | None, str]:
    """(text, JSON kind) of one value."""
    if value is None:
        return None, "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, JsonNumber):
        return plain(value), "number"
    if isinstance(value, str):
        return value, "string"
    if isinstance(value, dict):
        return dump(value), "object"
    return dump(value), "array"


def dump(value: object) -> str:
    """Serialise a parsed value back to JSON text, writing numbers as the literals they were."""
    if isinstance(value, JsonNumber):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- the exact reader


def _exact_error(path: Path, data: bytes) -> ReadError:
    """The one-line reason a file is not a JSON array of objects (the standard library's reading)."""
    if not data.strip():
        return ReadError(f"{path}: the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ReadError(f"{path}: JSON must be UTF-8; byte {exc.start} is not")
    try:
        records = json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber)
    except json.JSONDecodeError as exc:
        return ReadError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
    except RecursionError:
        return ReadError(f"{path}: invalid JSON: nested too deeply")
    if not isinstance(records, list):
        return ReadError(
            f"{path}: the top level is {_describe(records)}; "
            "a migration JSON file is an array of objects [{...}, ...]"
        )
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            return ReadError(f"{path}: record {number} is {_describe(record)}; every record must be an object")
    return ReadError(f"{path}: cannot read the file as a JSON array of objects")


class _Fail(Exception):
    """The streaming reader met something it does not handle; the exact reader says what."""


class _Mismatch(Exception):
    """orjson's view of a window cannot be given its literal numbers; the exact path reads it."""


# --------------------------------------------------------------------------- one window -> columns


@dataclass
class _Block:
    """Parsed records of one window: text and kind code per column, in first-seen key order."""

    rows: int
    columns: list[str]
    texts: list[pa.Array]
    kinds: list[np.ndarray]

    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.texts) + sum(k.nbytes for k in self.kinds)


def _keys(records: list[dict[str, object]]) -> tuple[list[str], bool]:
    """The records' keys in first-seen order, and whether every record has exactly those keys."""
    first = records[0]
    n = len(first)
    if all(len(r) == n for r in records) and all(r.keys() == first.keys() for r in records):
        return list(first), True
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            if k not in seen:
                seen[k] = None
    return list(seen), False


_NUMBER_RE = rb'"\s*:\s*(-?[0-9][0-9.eE+-]*)'


def _literals(body: bytes, key: str, numbers: list[float | int]) -> list[str]:
    """The literal text of each number of top-level ``key``, in record order, from the window's bytes."""
    pattern = re.compile(b'"' + re.escape(key.encode()) + _NUMBER_RE)
    found = pattern.findall(body)
    if len(found) != len(numbers):
        raise _Mismatch
    text = pa.array(found, type=pa.binary()).cast(pa.string())
    try:
        values = text.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        raise _Mismatch from None
    if not np.array_equal(values, np.asarray(numbers, dtype=np.float64)):
        raise _Mismatch
    out = text.to_pylist()
    if pc.any(pc.match_substring_regex(text, "[eE]")).as_py():
        out = [plain(t) for t in out]
    return out


def _has_number(value: object) -> bool:
    """Whether a nested value holds a number, whose literal orjson did not keep."""
    t = type(value)
    if t is float or t is int:
        return True
    if t is dict:
        return any(_has_number(v) for v in value.values())  # type: ignore[attr-defined]
    if t is list:
        return any(_has_number(v) for v in value)  # type: ignore[attr-defined]
    return False


def _block(records: list[dict[str, object]], body: bytes | None) -> _Block:
    """Columns of ``records``. ``body`` is the window's bytes when orjson parsed them (numbers are floats)."""
    columns, uniform = _keys(records)
    texts: list[pa.Array] = []
    kinds: list[np.ndarray] = []
    n = len(records)
    if uniform and len(columns) > 1:
        # Every record has the same keys (the usual export): one C-level pass takes all values.
        table: list[tuple[object, ...]] = list(zip(*map(itemgetter(*columns), records), strict=True))
    else:
        table = [tuple(r.get(c, _ABSENT) for r in records) for c in columns]
    for c, values in zip(columns, table, strict=True):
        types = set(map(type, values))
        if type(values) is tuple:
            values = list(values)  # pyarrow converts a list many times faster than a tuple
        if types == {str}:
            texts.append(pa.array(values, type=pa.string()))
            kinds.append(np.full(n, STRING, dtype=np.int8))
            continue
        if types <= {str, type(None)}:
            arr = pa.array(values, type=pa.string())
            texts.append(arr)
            kinds.append(np.where(arr.is_null().to_numpy(zero_copy_only=False), NULL, STRING).astype(np.int8))
            continue
        literals: Iterator[str] = iter(())
        if body is not None and (float in types or int in types):
            numbers = [v for v in values if type(v) is float or type(v) is int]
            literals = iter(_literals(body, c, numbers))
        nested = body is not None and (dict in types or list in types)
        if nested and any(_has_number(v) for v in values if (type(v) is dict or type(v) is list) and v):
            raise _Mismatch
        text_out: list[str | None] = []
        kind_out: list[int] = []
        for v in values:
            t = type(v)
            if t is str:
                text_out.append(v)  # type: ignore[arg-type]
                kind_out.append(STRING)
            elif v is None:
                text_out.append(None)
                kind_out.append(NULL)
            elif v is _ABSENT:
                text_out.append(None)
                kind_out.append(ABSENT_KIND)
            elif t is float or t is int:
                text_out.append(next(literals))
                kind_out.append(NUMBER)
            elif t is JsonNumber:
                text_out.append(plain(v))  # type: ignore[arg-type]
                kind_out.append(NUMBER)
            elif t is bool:
                text_out.append("true" if v else "false")
                kind_out.append(BOOLEAN)
            elif t is dict:
                text_out.append(dump(v) if v else "{}")
                kind_out.append(OBJECT)
            else:
                text_out.append(dump(v) if v else "[]")
                kind_out.append(ARRAY)
        texts.append(pa.array(text_out, type=pa.string()))
        kinds.append(np.array(kind_out, dtype=np.int8))
    return _Block(n, columns, texts, kinds)


# --------------------------------------------------------------------------- windows of the file


def _skip_ws(buf: bytes, i: int) -> int:
    n = len(buf)
    while i < n and buf[i] in _WS:
        i += 1
    return i


def _fast(window: bytes) -> tuple[list[dict[str, object]], int, bytes] | None:
    """Records of a window that starts at a record, parsed by orjson: (records, bytes used, body)."""
    cuts = []
    newline = window.rfind(b"\n")
    if newline > 0:
        cuts.append(window.rfind(b"}", 0, newline) + 1)
    cuts.append(window.rfind(b"}") + 1)
    for cut in dict.fromkeys(c for c in cuts if c > 0):
        body = window[:cut]
        try:
            records = orjson.loads(b"[" + body + b"]")
        except orjson.JSONDecodeError:
            continue
        return records, cut, body
    return None


_decoder = json.JSONDecoder(parse_float=JsonNumber, parse_int=JsonNumber)


def _exact(window: bytes, at_end: bool) -> tuple[list[object], int]:
    """Records of a window by the standard library, one by one: (records, bytes used)."""
    try:
        text = window.decode("utf-8")
    except UnicodeDecodeError as exc:
        if at_end or exc.start < len(window) - 4:
            raise _Fail from None
        text = window[: exc.start].decode("utf-8")
    records: list[object] = []
    i = 0
    used = 0
    while True:
        try:
            record, end = _decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError):
            if at_end or not records:
                raise _Fail from None
            break
        records.append(record)
        used = end
        i = end
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text) or text[i] != ",":
            break
        i += 1
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i >= len(text):
            break
    return records, len(text[:used].encode("utf-8"))


def _windows(path: Path) -> Iterator[tuple[list[dict[str, object]], bytes | None]]:
    """The file's records, a window at a time; raises ``_Fail`` on anything not a JSON array of objects.

    Yields (records, bytes) when orjson parsed the window (numbers are floats; the bytes hold
    their literals), or (records, None) when the exact path did (numbers are ``JsonNumber``).
    """
    with open(path, "rb") as f:
        size = WINDOW_BYTES
        buf = f.read(size)
        eof = len(buf) < size

        def fill(i: int) -> tuple[bytes, int]:
            """Skip whitespace from ``i``, reading on while the buffer runs out."""
            nonlocal eof
            data = buf
            i = _skip_ws(data, i)
            while i >= len(data) and not eof:
                more = f.read(size)
                eof = len(more) < size
                data = more
                i = _skip_ws(data, 0)
            return data, i

        if buf.startswith(_BOM):
            buf = buf[len(_BOM) :]
        buf, i = fill(0)
        if i >= len(buf) or buf[i] != ord("["):
            raise _Fail
        buf, i = fill(i + 1)
        first = True
        while True:
            if i >= len(buf):
                raise _Fail  # the array never closes
            if not first or buf[i] == ord("]"):
                if buf[i] == ord("]"):
                    if buf[i + 1 :].strip(_WS) or f.read().strip(_WS):
                        raise _Fail
                    return
                if buf[i] != ord(","):
                    raise _Fail
                buf, i = fill(i + 1)
                if i >= len(buf):
                    raise _Fail
            if buf[i] != ord("{"):
                raise _Fail
            buf = buf[i:]
            while True:
                while len(buf) < size and not eof:
                    more = f.read(size)
                    eof = len(more) < size
                    buf += more
                parsed = _fast(buf)
                if parsed is not None:
                    records, used, body = parsed
                    if not all(type(r) is dict for r in records):
                        raise _Fail
                    yield records, body
                    break
                try:
                    exact, used = _exact(buf, eof)
                except _Fail:
                    if eof:
                        raise
                    size *= 2  # a record longer than the window: read more
                    continue
                if not all(type(r) is dict for r in exact):
                    raise _Fail
                yield exact, None  # type: ignore[misc]
                break
            first = False
            buf, i = fill(used)


# --------------------------------------------------------------------------- blocks kept for the chunks


class _Store:
    """Parsed blocks until the chunks are read: in memory for a small file, else in a temporary file."""

    def __init__(self, spill: bool) -> None:
        self.blocks: list[_Block | tuple[int, int, int, list[str], pa.Schema]] = []
        self.file = tempfile.TemporaryFile(prefix="omnimig-json-") if spill else None  # noqa: SIM115

    def add(self, block: _Block) -> None:
        if self.file is None:
            self.blocks.append(block)
            return
        fields = [pa.field(f"t{i}", pa.string()) for i in range(len(block.columns))]
        fields += [pa.field(f"k{i}", pa.int8()) for i in range(len(block.columns))]
        arrays = [*block.texts, *(pa.array(k) for k in block.kinds)]
        batch = pa.RecordBatch.from_arrays(arrays, schema=pa.schema(fields))
        data = batch.serialize()
        start = self.file.tell()
        self.file.write(data)
        self.blocks.append((block.rows, start, data.size, block.columns, batch.schema))

    def __iter__(self) -> Iterator[_Block]:
        for item in self.blocks:
            if isinstance(item, _Block):
                yield item
                continue
            rows, start, size, columns, schema = item
            assert self.file is not None
            self.file.seek(start)
            batch = pa.ipc.read_record_batch(pa.py_buffer(self.file.read(size)), schema)
            k = len(columns)
            texts = [batch.column(i) for i in range(k)]
            kinds = [batch.column(k + i).to_numpy() for i in range(k)]
            yield _Block(rows, columns, texts, kinds)

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()


def read_json(path: Path, chunk_rows: int = 200_000) -> Source:
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if not head.strip():
        raise _exact_error(path, head if size <= len(head) else Path(path).read_bytes())
    store = _Store(spill=size > SPILL_BYTES)
    columns: dict[str, None] = {}
    rows = 0
    try:
        for records, body in _windows(path):
            if not records:
                continue
            try:
                block = _block(records, body)
            except _Mismatch:
                # orjson's floats and the literals found do not line up: read the window exactly.
                assert body is not None
                exact, _ = _exact(body, True)
                block = _block(exact, None)  # type: ignore[arg-type]
            del records
            for c in block.columns:
                columns.setdefault(c, None)
            rows += block.rows
            store.add(block)
    except _Fail:
        store.close()
        raise _exact_error(path, Path(path).read_bytes()) from None
    except OSError as exc:
        store.close()
        raise ReadError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    return Source(
        path=str(path),
        format="json",
        columns=tuple(columns),
        chunks=_chunks(store, tuple(columns), rows, chunk_rows),
        known_rows=rows,
    )


def _chunks(store: _Store, columns: tuple[str, ...], total: int, chunk_rows: int) -> Iterator[Chunk]:
    categories = pd.Index(KINDS)
    pending: list[tuple[_Block, int, int]] = []  # block, start, stop
    held = 0
    start_row = 1

    def emit(parts: list[tuple[_Block, int, int]], n: int, first: int) -> Chunk:
        index = pd.RangeIndex(n)
        texts = {}
        kinds = {}
        for c in columns:
            pieces = []
            codes = []
            for block, a, b in parts:
                try:
                    j = block.columns.index(c)
                except ValueError:
                    pieces.append(pa.nulls(b - a, pa.string()))
                    codes.append(np.full(b - a, ABSENT_KIND, dtype=np.int8))
                    continue
                pieces.append(block.texts[j].slice(a, b - a))
                codes.append(block.kinds[j][a:b])
            texts[c] = pd.arrays.ArrowStringArray(pa.chunked_array(pieces, type=pa.string()))
            kinds[c] = pd.Categorical.from_codes(np.concatenate(codes), categories=categories)
        data = pd.DataFrame(texts, index=index)
        kind_frame = pd.DataFrame(kinds, index=index)
        rows = pd.Series(range(first, first + n), index=index)
        return Chunk(data=data, rows=rows, kinds=kind_frame)

    try:
        for block in store:
            at = 0
            while at < block.rows:
                take = min(block.rows - at, chunk_rows - held)
                pending.append((block, at, at + take))
                held += take
                at += take
                if held == chunk_rows:
                    yield emit(pending, held, start_row)
                    start_row += held
                    pending, held = [], 0
        if held:
            yield emit(pending, held, start_row)
    finally:
        store.close()
