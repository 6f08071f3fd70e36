"""JSON files: an array of objects (or JSON Lines, or one array inside a wrapper object), with each
number's text kept exactly, read in bounded memory.

Money is judged by the digits a person wrote (``0.29`` has two places), never by its binary
float value, so every number keeps its literal text (``1.5E2`` stays ``1.5E2``; the digit rules
judge its plain form, see ``plain_numbers``) and remembers it was a number.

How a large file is read without becoming gigabytes of Python objects:

1. The file is read in windows of a few MB. Each window is cut after a record's closing ``}``
   and the records in it are parsed at once with orjson (``[`` + records + ``]``). A cut that
   falls inside a record makes that parse fail, and the window is read by the exact path below.
2. orjson turns numbers into floats, which forget ``123.90``'s zero; the literal of each number
   of a top-level key is taken from the window's bytes with a regex per key
   (``"amount"\\s*:\\s*(number)``) and checked against orjson's values (same count, same value).
   Anything that does not fit (a nested object holding floats, a key written with escapes) sends
   the window to the exact path. orjson keeps the last of two equal keys silently, so a window
   whose ``:`` count is not exactly its keys plus the colons inside its strings (which is the
   case exactly when a key repeats) goes to the exact path too.
3. The exact path is the standard library's decoder with number hooks, record by record; it
   sees every repeated key, lone surrogate and ``NaN``.
4. Each window becomes compact Arrow text columns plus one byte of JSON kind per cell; windows
   of a large file are spilled to a temporary Arrow file, because the header (the union of all
   records' keys) is only known at the end and must be known before the first chunk.

A record the reader can read but not pass on faithfully (a key given twice, a lone surrogate, a
value nested deeper than ``MAX_DEPTH``, a number longer than ``MAX_NUMBER_DIGITS``) becomes a
``Notice`` at its row and field, so the validator reports it and ``--split`` holds the record.
Anything else that is not JSON sends the whole file through the exact reader, which says where.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.exceptions import ReadError
from omnimig.i18n import _
from omnimig.io.safe_text import cut
from omnimig.io.table import MAX_COLUMNS, Chunk, Notice, Source


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
#: Levels of objects and arrays one value may have (``{}`` is one). ``extra_field`` needs a few;
#: deeper values are a problem at their record, and reading them stays far from Python's recursion limit.
MAX_DEPTH = 64
#: Digits a number may have (in plain notation). Python's ``json`` refuses longer integers
#: (``sys.int_info.default_max_str_digits``) and no field allows anywhere near this many.
MAX_NUMBER_DIGITS = 4300
#: File names read as JSON Lines whatever their content.
LINES_SUFFIXES = (".jsonl", ".ndjson")
# A JSON Lines line longer than this is refused: it is held whole to be parsed (CSV's record bound).
MAX_LINE_BYTES = 256 << 20
# A broken file up to this size is parsed whole by the standard library to word the exact reason;
# a larger one is reported at the place the streaming reader stopped, without loading it.
EXACT_ERROR_BYTES = 16 << 20
_WS = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


class _Absent:
    __slots__ = ()


_ABSENT = _Absent()


def _describe(value: object) -> str:
    if isinstance(value, list):
        return _("an array")
    if isinstance(value, dict):
        return _("an object")
    if isinstance(value, bool):
        return _("a boolean")
    if isinstance(value, JsonNumber | int | float):
        return _("a number")
    if value is None:
        return "null"
    return _("a string")


def _plain_size(number: str) -> int:
    """Digits of a number literal written out in plain decimal notation."""
    if "e" not in number and "E" not in number:
        return sum(c.isdigit() for c in number)
    try:
        _, digits, exponent = Decimal(number).as_tuple()
    except (InvalidOperation, ValueError):
        return len(number)
    if not isinstance(exponent, int):
        return len(number)
    return len(digits) + exponent if exponent >= 0 else max(len(digits), -exponent + 1)


def plain(number: str) -> str:
    """A number literal in plain decimal notation: ``1e-3`` is ``0.001``, ``1.5E2`` is ``150``.

    JSON allows exponents; rules about digits and decimal places are about the value's decimal
    digits, so they judge the expanded form. A literal whose expansion would be longer than
    ``MAX_NUMBER_DIGITS`` (``1e999999999``) is returned as written: the reader has reported it.
    """
    if "e" not in number and "E" not in number:
        return str(number)
    if _plain_size(number) > MAX_NUMBER_DIGITS:
        return str(number)
    return format(Decimal(number), "f")


def plain_numbers(texts: pa.Array | pa.ChunkedArray, kinds: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """``texts`` with each JSON number written with an exponent in plain notation (``1.5E2`` -> ``150``).

    The reader hands over every number as its literal, so what is written back is what the file
    said; the validator judges digits and decimal places on this plain form. Only the few cells
    with an exponent become Python objects.
    """
    exp = pc.match_substring_regex(texts, "[eE]")
    if exp.null_count:
        exp = pc.fill_null(exp, False)
    mask = np.asarray(exp.to_numpy(zero_copy_only=False), dtype=bool) & (kinds == "number")
    if not mask.any():
        return texts
    values = texts.to_pylist()
    for i in np.flatnonzero(mask).tolist():
        values[i] = plain(values[i])
    return pa.array(values, type=texts.type)


def cell(value: object) -> tuple[str | None, str]:
    """(text, JSON kind) of one value."""
    if value is None:
        return None, "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), "boolean"
    if isinstance(value, JsonNumber):
        return str(value), "number"
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


class _Raw(str):
    __slots__ = ()


def _dump_deep(value: object) -> str:
    """``dump`` without recursion, for a value nested too deeply for ``dump``."""
    out: list[str] = []
    stack: list[object] = [value]
    while stack:
        v = stack.pop()
        if type(v) is _Raw:
            out.append(v)
        elif isinstance(v, dict):
            parts: list[object] = []
            for n, (k, x) in enumerate(v.items()):
                parts += [_Raw((", " if n else "") + json.dumps(k, ensure_ascii=False) + ": "), x]
            out.append("{")
            stack += [_Raw("}"), *reversed(parts)]
        elif isinstance(v, list):
            parts = []
            for n, x in enumerate(v):
                parts += [_Raw(", "), x] if n else [x]
            out.append("[")
            stack += [_Raw("]"), *reversed(parts)]
        else:
            out.append(dump(v))
    return "".join(out)


def _scan(value: object) -> tuple[int, bool, str | None]:
    """(depth, holds an orjson number, first over-long number literal) of a nested value, without recursion."""
    depth = 0
    floats = False
    long_number: str | None = None
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        v, d = stack.pop()
        depth = max(depth, d)
        for x in v.values() if type(v) is dict else v:  # type: ignore[attr-defined]
            t = type(x)
            if t is dict or t is list:
                stack.append((x, d + 1))
            elif t is float or t is int:
                floats = True
            elif t is JsonNumber and long_number is None and _too_long(x):
                long_number = x
    return depth, floats, long_number


def _too_long(number: str) -> bool:
    if len(number) <= 24 and "e" not in number and "E" not in number:
        return False
    return _plain_size(number) > MAX_NUMBER_DIGITS


# --------------------------------------------------------------------------- problems in one record


def _shown(text: str, limit: int = 60) -> str:
    return cut(text, limit)


def _deep_notice(column: str, depth: int) -> Notice:
    levels = f"{depth}" if depth <= MAX_DEPTH + 1 else _("more than {n}").format(n=MAX_DEPTH)
    return Notice(
        "json-object",
        _("{column} is nested {levels} levels deep; at most {limit} levels of objects and arrays are allowed").format(
            column=column, levels=levels, limit=MAX_DEPTH
        ),
        severity="error",
        column=column,
    )


def _long_notice(column: str, number: str) -> Notice:
    size = _plain_size(number)
    what = (
        _("a number of {n} digits").format(n=f"{size:,}")
        if size < 10**9
        else _("a number of more than a billion digits")
    )
    return Notice(
        "max-digits",
        _(
            "{column} holds {what}; a number may have at most {limit} digits "
            "(no field allows that many, and JSON readers such as Python's cannot read it back)"
        ).format(column=column, what=what, limit=f"{MAX_NUMBER_DIGITS:,}"),
        severity="error",
        column=column,
        value=_shown(number),
    )


_LONE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abcdefABCDEF]")


def _has_surrogate_escape(text: str) -> bool:
    """Whether ``text`` writes a UTF-16 surrogate escape (two plain searches first: they are fast)."""
    return ("\\ud" in text or "\\uD" in text) and _SURROGATE_ESCAPE.search(text) is not None


def _escape_lone(text: str) -> str:
    return _LONE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _fix_lone(text: str) -> str:
    return _LONE.sub("\ufffd", text)


def _scrub(record: dict[str, object]) -> tuple[dict[str, object], list[Notice]]:
    """The record with every lone surrogate (``"\\ud800"``, half a UTF-16 pair, no character) replaced
    by U+FFFD, and a notice for each field that held one. Lone surrogates cannot be stored or written
    as UTF-8, so the value cannot pass on unchanged; the notice keeps the record out of ``ready/``."""
    notices: list[Notice] = []

    def note(column: str, text: str) -> None:
        notices.append(
            Notice(
                "encoding",
                _(
                    '{column} holds "{value}", which has a lone UTF-16 surrogate (half a character pair, not a '
                    "character); it is read as U+FFFD (�): write the character itself"
                ).format(column=column, value=_shown(_escape_lone(text))),
                severity="error",
                column=column,
                value=_shown(_escape_lone(text)),
            )
        )

    out: dict[str, object] = {}
    for key, value in record.items():
        column = _fix_lone(key) if _LONE.search(key) else key
        if column is not key:
            note(column, key)
        if type(value) is str and _LONE.search(value):
            note(column, value)
            value = _fix_lone(value)
        elif type(value) is dict or type(value) is list:
            found: list[str] = []
            stack: list[object] = [value]
            while stack:
                v = stack.pop()
                if type(v) is dict:
                    items = list(v.items())
                    if any(_LONE.search(k) for k, _ in items):
                        found += [k for k, _ in items if _LONE.search(k)]
                        v.clear()
                        v.update((_fix_lone(k), x) for k, x in items)
                    for k, x in list(v.items()):
                        if type(x) is str and _LONE.search(x):
                            found.append(x)
                            v[k] = _fix_lone(x)
                        elif type(x) is dict or type(x) is list:
                            stack.append(x)
                else:
                    for n, x in enumerate(v):  # type: ignore[arg-type]
                        if type(x) is str and _LONE.search(x):
                            found.append(x)
                            v[n] = _fix_lone(x)  # type: ignore[index]
                        elif type(x) is dict or type(x) is list:
                            stack.append(x)
            if found:
                note(column, found[0])
        out[column] = value
    return out, notices


class _Constant(ValueError):
    """``NaN``, ``Infinity`` or ``-Infinity``: Python's decoder accepts them, JSON does not."""


def _constant(name: str) -> object:
    raise _Constant(name)


class _Decoder:
    """The standard library's decoder with literal numbers, no ``NaN``, and repeated keys recorded."""

    def __init__(self, repeats: bool = False) -> None:
        """``repeats``: record repeated keys (a Python call per object, so only once a window is
        known to repeat one, see ``_check_keys``)."""
        self.repeats: list[tuple[dict[str, object], str, list[object]]] = []
        self.decoder = json.JSONDecoder(
            parse_float=JsonNumber,
            parse_int=JsonNumber,
            parse_constant=_constant,
            object_pairs_hook=self._pairs if repeats else None,
        )

    def _pairs(self, pairs: list[tuple[str, object]]) -> dict[str, object]:
        obj = dict(pairs)
        if len(obj) != len(pairs):
            seen: dict[str, list[object]] = {}
            for k, v in pairs:
                seen.setdefault(k, []).append(v)
            self.repeats += [(obj, k, vs) for k, vs in seen.items() if len(vs) > 1]
        return obj

    def raw_decode(self, text: str, i: int) -> tuple[object, int]:
        self.repeats.clear()
        return self.decoder.raw_decode(text, i)

    def issues(self, record: object, surrogates: bool) -> tuple[object, list[Notice]]:
        """Notices for the record just decoded: repeated keys, lone surrogates (when the text has any)."""
        if type(record) is not dict:
            return record, []
        original = record
        notices: list[Notice] = []
        if surrogates:
            record, notices = _scrub(record)
        for obj, key, values in self.repeats:
            column = key if obj is original else _holder(original, obj)
            shown = _fix_lone(", ".join(_shown(_dump_deep(v), 40) for v in values))
            if obj is original:
                message = _(
                    "{column} is given {n} times in this record ({values}); a JSON reader keeps only "
                    "the last, so write {column} once"
                ).format(column=column, n=len(values), values=shown)
            else:
                message = _(
                    '{column} has the key "{key}" {n} times in one object ({values}); '
                    "a JSON reader keeps only the last, so write each key once"
                ).format(column=column, key=_fix_lone(key), n=len(values), values=shown)
            notices.append(Notice("duplicate-key", message, severity="error", column=_fix_lone(column), value=shown))
        self.repeats.clear()
        return record, notices


def _holder(record: dict[str, object], target: object) -> str:
    """The top-level key of ``record`` whose value contains the object ``target``."""
    for key, value in record.items():
        stack = [value]
        while stack:
            v = stack.pop()
            if v is target:
                return key
            if type(v) is dict:
                stack += v.values()
            elif type(v) is list:
                stack += v
    return next(iter(record), "")


# --------------------------------------------------------------------------- the exact reader


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


_CONSTANT_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|(NaN|-?Infinity)', re.DOTALL)


def _constant_error(path: Path, text: str, name: str, line_offset: int = 0) -> ReadError:
    """Where the first ``NaN``/``Infinity`` of ``text`` is (strings skipped): JSON has no such number."""
    at = next((m.start(1) for m in _CONSTANT_TOKEN.finditer(text) if m.group(1)), None)
    where = ""
    if at is not None:
        line, col = _line_col(text, at)
        where = " " + _("at line {line} column {column}").format(line=line + line_offset, column=col)
    return ReadError(
        _("{path}: invalid JSON{where}: {name} is not a JSON number; write a number, or null").format(
            path=path, where=where, name=name
        )
    )


def _wrapped(records: dict[str, object]) -> list[tuple[str, list[object]]]:
    """The members of a top-level object that hold arrays of records."""
    return [(k, v) for k, v in records.items() if type(v) is list and v and type(v[0]) is dict]


def _exact_error(path: Path, data: bytes) -> ReadError:
    """The one-line reason a file is not a JSON array of objects (the standard library's reading)."""
    if not data.strip():
        return ReadError(_("{path}: the file is empty").format(path=path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ReadError(_("{path}: JSON must be UTF-8; byte {byte} is not").format(path=path, byte=exc.start))
    try:
        records = json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        return ReadError(
            _("{path}: invalid JSON at line {line} column {column}: {reason}").format(
                path=path, line=exc.lineno, column=exc.colno, reason=exc.msg
            )
        )
    except _Constant as exc:
        return _constant_error(path, text, str(exc))
    except RecursionError:
        return ReadError(_("{path}: invalid JSON: nested too deeply").format(path=path))
    where = ""
    if isinstance(records, dict):
        arrays = _wrapped(records)
        if len(arrays) > 1:
            names = ", ".join(f'"{k}"' for k, _ in arrays)
            return ReadError(
                _(
                    "{path}: the top-level object holds {n} arrays of records ({names}); "
                    "a migration JSON file is one array of objects [{{...}}, ...]"
                ).format(path=path, n=len(arrays), names=names)
            )
        if len(arrays) == 1:
            where = f'"{arrays[0][0]}" '
            records = arrays[0][1]
    if not isinstance(records, list):
        return ReadError(
            _(
                "{path}: the top level is {what}; "
                "a migration JSON file is an array of objects [{{...}}, ...] (or JSON Lines, one object a line)"
            ).format(path=path, what=_describe(records))
        )
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            return ReadError(
                _("{path}: {where}record {number} is {what}; every record must be an object").format(
                    path=path, where=where, number=number, what=_describe(record)
                )
            )
    return ReadError(_("{path}: cannot read the file as a JSON array of objects").format(path=path))


def _placed_error(path: Path, fail: _Fail) -> ReadError:
    """The reason a file too large to parse whole is not a JSON array of objects, at the line and
    column where the streaming reader stopped (counted by reading the file up to there, in blocks)."""
    reason = fail.reason or _("not a JSON array of objects")
    if fail.at is None:
        return ReadError(_("{path}: invalid JSON: {reason}").format(path=path, reason=reason))
    line, column = 1, 1
    try:
        with open(path, "rb") as f:
            left = fail.at
            if f.read(len(_BOM)) == _BOM:
                left -= len(_BOM)  # a byte-order mark is no character of line 1
            else:
                f.seek(0)
            while left > 0:
                block = f.read(min(left, WINDOW_BYTES))
                if not block:
                    break
                left -= len(block)
                newline = block.rfind(b"\n")
                if newline >= 0:
                    line += block.count(b"\n")
                    column = 1
                    block = block[newline + 1 :]
                # characters, not bytes: every byte but a UTF-8 continuation byte starts one
                column += len(block) - int(np.count_nonzero((np.frombuffer(block, np.uint8) & 0xC0) == 0x80))
    except OSError as exc:
        return ReadError(_("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc))
    return ReadError(
        _("{path}: invalid JSON at line {line} column {column}: {reason}").format(
            path=path, line=line, column=column, reason=reason
        )
    )


class _Fail(Exception):
    """The streaming reader met something it does not handle; the exact reader says what.

    ``at`` is the byte offset where it stopped (in the file, or in the window for ``_exact``) and
    ``reason`` what it found there, so a file too large to parse whole can still be named a place.
    """

    def __init__(self, at: int | None = None, reason: str = "") -> None:
        super().__init__(at, reason)
        self.at = at
        self.reason = reason


class _TooWide(Exception):
    """The records hold more than ``MAX_COLUMNS`` distinct keys; ``index`` is the record (in its
    window) that brought the first key too many."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


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
    # (record index in the block, notice without its row number)
    notices: list[tuple[int, Notice]] = field(default_factory=list)
    # JSON Lines: the line number of each record; None: records are numbered 1, 2, ... across the file
    lines: np.ndarray | None = None

    def nbytes(self) -> int:
        return sum(t.nbytes for t in self.texts) + sum(k.nbytes for k in self.kinds)


def _keys(records: list[dict[str, object]], known: dict[str, None] | None = None) -> tuple[list[str], bool]:
    """The records' keys in first-seen order, and whether every record has exactly those keys.

    Every key becomes a column of every record, so the keys are bounded while they are collected:
    with the ``known`` keys of earlier windows, more than ``MAX_COLUMNS`` raises ``_TooWide`` before
    any column is built (30,000 records of one different key each would be 30,000 x 30,000 cells).
    """
    known = known or {}
    first = records[0]
    n = len(first)
    if all(len(r) == n for r in records) and all(r.keys() == first.keys() for r in records):
        if len(known) + n > MAX_COLUMNS and len(known) + sum(k not in known for k in first) > MAX_COLUMNS:
            raise _TooWide(0)
        return list(first), True
    seen: dict[str, None] = {}
    room = MAX_COLUMNS - len(known)  # keys not seen in earlier windows that still fit
    for index, r in enumerate(records):
        for k in r:
            if k not in seen:
                seen[k] = None
                if k not in known:
                    room -= 1
                    if room < 0:
                        raise _TooWide(index)
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
    if pc.max(pc.utf8_length(text)).as_py() > 24:
        raise _Mismatch  # a literal long enough to be too long: the exact path judges it
    out = text.to_pylist()
    if pc.any(pc.match_substring_regex(text, "[eE]")).as_py() and any(_too_long(t) for t in out):
        raise _Mismatch  # 1e-99999: short to write, too long to expand; the exact path reports it
    return out


def _block(
    records: list[dict[str, object]],
    body: bytes | None,
    notices: list[tuple[int, Notice]] | None = None,
    raw: bytes | None = None,
    known: dict[str, None] | None = None,
) -> _Block:
    """Columns of ``records``. ``body`` is the window's bytes when orjson parsed them (numbers are floats).

    ``notices`` are those the decoder found (by record index); the block adds over-deep values and
    over-long numbers. ``raw``: the records' bytes, to prove no key repeats (``_Mismatch`` otherwise).
    ``known``: the keys of earlier windows, to bound the file's columns (``_TooWide``).
    """
    columns, uniform = _keys(records, known)
    texts: list[pa.Array] = []
    kinds: list[np.ndarray] = []
    found = list(notices or ())
    n = len(records)
    if raw is not None and any(":" in c for c in columns):
        raise _Mismatch  # the colon count below cannot tell such keys apart
    if uniform and len(columns) > 1:
        # Every record has the same keys (the usual export): one C-level pass takes all values.
        table: list[Sequence[object]] = list(zip(*map(itemgetter(*columns), records), strict=True))
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
        text_out: list[str | None] = []
        kind_out: list[int] = []
        for i, v in enumerate(values):
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
                text_out.append(v)  # type: ignore[arg-type]
                kind_out.append(NUMBER)
            elif t is bool:
                text_out.append("true" if v else "false")
                kind_out.append(BOOLEAN)
            else:
                kind_out.append(OBJECT if t is dict else ARRAY)
                if not v:
                    text_out.append("{}" if t is dict else "[]")
                    continue
                depth, floats, long_number = _scan(v)
                if floats and body is not None:
                    raise _Mismatch  # orjson did not keep the nested numbers' literals
                if long_number is not None:
                    found.append((i, _long_notice(c, long_number)))
                if depth > MAX_DEPTH:
                    found.append((i, _deep_notice(c, depth)))
                    text_out.append(_dump_deep(v))
                else:
                    text_out.append(dump(v))
        arr = pa.array(text_out, type=pa.string())
        codes = np.array(kind_out, dtype=np.int8)
        if JsonNumber in types:
            found += _long_numbers(c, arr, codes)
        texts.append(arr)
        kinds.append(codes)
    if raw is not None:
        _check_keys(records, raw, columns, uniform, texts)
    found.sort(key=itemgetter(0))
    return _Block(n, columns, texts, kinds, found)


def _long_numbers(column: str, texts: pa.Array, codes: np.ndarray) -> list[tuple[int, Notice]]:
    """Notices for the numbers of a column too long to pass on (few cells become Python objects)."""
    suspect = pc.or_(pc.greater(pc.utf8_length(texts), 24), pc.match_substring_regex(texts, "[eE]"))
    mask = np.asarray(pc.fill_null(suspect, False).to_numpy(zero_copy_only=False), dtype=bool) & (codes == NUMBER)
    out = []
    for i in np.flatnonzero(mask).tolist():
        text = texts[i].as_py()
        if _too_long(text):
            out.append((i, _long_notice(column, text)))
    return out


def _check_keys(
    records: list[dict[str, object]], body: bytes, columns: list[str], uniform: bool, texts: list[pa.Array]
) -> None:
    """Raise ``_Mismatch`` unless no object of the window repeats a key (which orjson drops silently).

    Every ``:`` of the bytes is a key's or sits inside a string; the parsed records show every key
    once and every colon of a string (nested objects are in their text with their keys), so the
    counts agree exactly when no key was given twice. ``\\u003a`` is a colon the bytes do not show.
    """
    colons = body.count(b":")
    if b"\\u003" in body:
        colons += body.count(b"\\u003a") + body.count(b"\\u003A")
    keys = len(records) * len(columns) if uniform else sum(map(len, records))
    inside = 0
    for text in texts:
        counted = pc.sum(pc.count_substring(text, ":")).as_py()
        inside += counted or 0
    if colons != keys + inside:
        raise _Mismatch


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
    for end in dict.fromkeys(c for c in cuts if c > 0):
        body = window[:end]
        try:
            records = orjson.loads(b"[" + body + b"]")
        except orjson.JSONDecodeError:
            continue
        return records, end, body
    return None


_Records = list[dict[str, object]]
_Issues = list[tuple[int, Notice]]


def _exact(window: bytes, at_end: bool, repeats: bool = False) -> tuple[list[object], int, _Issues]:
    """Records of a window by the standard library, one by one: (records, bytes used, notices by record).

    ``repeats``: report repeated keys (else the caller checks the window with ``_check_keys``).
    """
    try:
        text = window.decode("utf-8")
    except UnicodeDecodeError as exc:
        if at_end or exc.start < len(window) - 4:
            raise _Fail(exc.start, _("JSON must be UTF-8; this byte is not")) from None
        text = window[: exc.start].decode("utf-8")
    decoder = _Decoder(repeats)
    decode = decoder.decoder.raw_decode
    surrogates = _has_surrogate_escape(text)
    records: list[object] = []
    issues: _Issues = []
    i = 0
    used = 0
    while True:
        try:
            record, end = decode(text, i)
        except (json.JSONDecodeError, RecursionError, _Constant) as exc:
            if at_end or not records:
                at, reason = i, _("not a JSON object")
                if isinstance(exc, json.JSONDecodeError):
                    at, reason = exc.pos, exc.msg
                elif isinstance(exc, RecursionError):
                    reason = _("nested too deeply")
                else:
                    reason = _("{name} is not a JSON number; write a number, or null").format(name=exc)
                raise _Fail(len(text[:at].encode("utf-8")), reason) from None
            break
        if surrogates or decoder.repeats:
            record, notices = decoder.issues(record, surrogates)  # (clears the repeats)
            issues += [(len(records), n) for n in notices]
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
    return records, len(text[:used].encode("utf-8")), issues


#: (records, orjson's bytes or None, notices by record, JSON Lines line numbers or None, the bytes
#: of the records when their keys are still to be checked for repeats or None)
_Window = tuple[_Records, bytes | None, _Issues, np.ndarray | None, bytes | None]


def _windows(path: Path, start: int = 0, tail: Callable[[bytes], None] | None = None) -> Iterator[_Window]:
    """The records of the array at byte ``start``, a window at a time; raises ``_Fail`` on anything
    not a JSON array of objects. ``tail`` judges the bytes after the array (default: whitespace only).

    Yields (records, bytes, notices, None) when orjson parsed the window (numbers are floats; the
    bytes hold their literals), or (records, None, notices, None) when the exact path did (numbers
    are ``JsonNumber``).
    """
    with open(path, "rb") as f:
        f.seek(start)
        size = WINDOW_BYTES
        buf = f.read(size)
        eof = len(buf) < size
        base = start  # the file offset of buf[0], so that a failure names its place

        def fill(i: int) -> tuple[bytes, int]:
            """Skip whitespace from ``i``, reading on while the buffer runs out."""
            nonlocal eof, base
            data = buf
            i = _skip_ws(data, i)
            while i >= len(data) and not eof:
                more = f.read(size)
                eof = len(more) < size
                base += len(data)
                data = more
                i = _skip_ws(data, 0)
            return data, i

        if start == 0 and buf.startswith(_BOM):
            buf = buf[len(_BOM) :]
            base += len(_BOM)
        buf, i = fill(0)
        if i >= len(buf):
            raise _Fail(base + i, "Expecting value")
        if buf[i] != ord("["):
            raise _Fail(base + i, _("a migration JSON file is an array of objects [{...}, ...]"))
        buf, i = fill(i + 1)
        first = True
        while True:
            if i >= len(buf):
                raise _Fail(base + i, _("the array never closes: expecting ']'"))
            if not first or buf[i] == ord("]"):
                if buf[i] == ord("]"):
                    base += i + 1
                    rest = buf[i + 1 :]
                    if tail is not None:
                        # The rest of a wrapper object (its other members) is judged whole, up to a bound.
                        rest += f.read(max(EXACT_ERROR_BYTES + 1 - len(rest), 0))
                        if len(rest) > EXACT_ERROR_BYTES:
                            raise _Fail(base, _("the text after the array of records is too long to end the object"))
                        try:
                            tail(rest)
                        except _Fail:
                            raise _Fail(base, _("the text after the array is not the end of the object")) from None
                        return
                    while rest:  # only whitespace may follow the array: read on a window at a time
                        if rest.strip(_WS):
                            raise _Fail(base + len(rest) - len(rest.lstrip(_WS)), "Extra data")
                        base += len(rest)
                        rest = f.read(WINDOW_BYTES)
                    return
                if buf[i] != ord(","):
                    raise _Fail(base + i, "Expecting ',' delimiter")
                buf, i = fill(i + 1)
                if i >= len(buf):
                    raise _Fail(base + i, "Expecting value")
            if buf[i] != ord("{"):
                raise _Fail(base + i, _("every record must be an object {...}"))
            buf = buf[i:]
            base += i
            while True:
                while len(buf) < size and not eof:
                    more = f.read(size)
                    eof = len(more) < size
                    buf += more
                parsed = _fast(buf)
                if parsed is not None:
                    records, used, body = parsed
                    if not all(type(r) is dict for r in records):
                        raise _Fail(base, _("every record must be an object {...}"))
                    yield records, body, [], None, body
                    break
                try:
                    exact, used, issues = _exact(buf, eof)
                except _Fail as exc:
                    if eof:
                        raise _Fail(None if exc.at is None else base + exc.at, exc.reason) from None
                    size *= 2  # a record longer than the window: read more
                    continue
                if not all(type(r) is dict for r in exact):
                    raise _Fail(base, _("every record must be an object {...}"))
                yield exact, None, issues, None, buf[:used]  # type: ignore[misc]
                break
            first = False
            buf, i = fill(used)


# --------------------------------------------------------------------------- JSON Lines


def _line_error(path: Path, number: int, line: bytes) -> ReadError:
    """The one-line reason line ``number`` of a JSON Lines file is not one object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return ReadError(
            _("{path}: line {line}: JSON must be UTF-8; byte {byte} of the line is not").format(
                path=path, line=number, byte=exc.start + 1
            )
        )
    try:
        value, end = _Decoder().raw_decode(text, 0)
    except json.JSONDecodeError as exc:
        return ReadError(
            _("{path}: invalid JSON at line {line} column {column}: {reason}").format(
                path=path, line=number, column=exc.colno, reason=exc.msg
            )
        )
    except _Constant as exc:
        return _constant_error(path, text, str(exc), number - 1)
    except RecursionError:
        return ReadError(_("{path}: invalid JSON at line {line}: nested too deeply").format(path=path, line=number))
    if text[end:].strip(" \t\r\n"):
        return ReadError(
            _(
                "{path}: line {line} holds more than one JSON value (column {column}); "
                "JSON Lines has one object on each line"
            ).format(path=path, line=number, column=end + 1)
        )
    if type(value) is not dict:
        return ReadError(
            _("{path}: line {line} is {what}; every line must be an object").format(
                path=path, line=number, what=_describe(value)
            )
        )
    return ReadError(_("{path}: cannot read line {line} as a JSON object").format(path=path, line=number))


def _lines(path: Path) -> Iterator[_Window]:
    """JSON Lines: one object a line, blank lines skipped (and counted), read a window at a time.

    The bytes after the last newline wait in a ``bytearray`` (appending costs only the new bytes,
    so a long line is read in linear time), and a line longer than ``MAX_LINE_BYTES`` is refused
    before it is held whole.
    """
    with open(path, "rb") as f:
        line = 0  # lines before ``pending``
        pending = bytearray()
        first = True
        while True:
            data = f.read(WINDOW_BYTES)
            eof = not data
            searched = len(pending)  # ``pending`` holds no newline: only the new bytes can
            pending += data
            if first:
                if pending.startswith(_BOM):
                    del pending[: len(_BOM)]
                    searched = 0
                first = False
            if not eof:
                cut = pending.rfind(b"\n", searched) + 1
                if cut == 0:
                    if len(pending) > MAX_LINE_BYTES:
                        raise ReadError(
                            _(
                                "{path}: line {line} is longer than {limit} MB; "
                                "JSON Lines holds one record a line, and a record is at most {limit} MB"
                            ).format(path=path, line=line + 1, limit=MAX_LINE_BYTES >> 20)
                        )
                    continue  # a line longer than the window: read on
                with memoryview(pending) as view:
                    buf = bytes(view[:cut])  # one copy, not a bytearray slice and then bytes
                del pending[:cut]
            else:
                buf = bytes(pending)
                pending.clear()
            numbers: list[int] = []
            items: list[bytes] = []
            for k, raw in enumerate(buf.split(b"\n")):
                item = raw.strip(_WS)
                if item:
                    numbers.append(line + k + 1)
                    items.append(item)
            line += buf.count(b"\n")
            if items:
                yield _line_window(path, numbers, items)
            if eof:
                return


def _line_window(path: Path, numbers: list[int], items: list[bytes]) -> _Window:
    lines = np.array(numbers, dtype=np.int64)
    body = b",".join(items)
    if all(i[:1] == b"{" and i[-1:] == b"}" for i in items):
        try:
            records = orjson.loads(b"[" + body + b"]")
        except orjson.JSONDecodeError:
            records = None
        if records is not None and len(records) == len(items) and all(type(r) is dict for r in records):
            return records, body, [], lines, body
    records = []
    issues: _Issues = []
    decoder = _Decoder()
    for index, (number, item) in enumerate(zip(numbers, items, strict=True)):
        try:
            text = item.decode("utf-8")
            record, end = decoder.raw_decode(text, 0)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, _Constant):
            raise _line_error(path, number, item) from None
        if end != len(text) or type(record) is not dict:
            raise _line_error(path, number, item)
        surrogates = _has_surrogate_escape(text)
        if surrogates:
            record, notices = decoder.issues(record, surrogates)
            issues += [(index, n) for n in notices]
        records.append(record)
    return records, None, issues, lines, body


# --------------------------------------------------------------------------- a wrapper object


@dataclass
class _Wrapper:
    key: str
    start: int  # byte offset of the array's "["


def _wrapper(head: bytes) -> _Wrapper | None:
    """The array of records inside a top-level object ``{"results": [{...}, ...], ...}``, from the
    file's first bytes: the first member whose value is an array starting with an object."""
    text = head.decode("utf-8", "surrogateescape")
    decoder = _Decoder()
    empty: list[_Wrapper] = []  # members holding [], which may be an array of no records
    i = _skip_text_ws(text, 0)
    if text[i : i + 1] != "{":
        return None
    i += 1
    while True:
        i = _skip_text_ws(text, i)
        if text[i : i + 1] != '"':
            return None
        try:
            key, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
        except (json.JSONDecodeError, ValueError):
            return None
        i = _skip_text_ws(text, i)
        if text[i : i + 1] != ":":
            return None
        i = _skip_text_ws(text, i + 1)
        if text[i : i + 1] == "[":
            after = text[_skip_text_ws(text, i + 1) : _skip_text_ws(text, i + 1) + 1]
            if after == "{":
                return _Wrapper(key, len(text[:i].encode("utf-8", "surrogateescape")))
            if after == "]":
                empty.append(_Wrapper(key, len(text[:i].encode("utf-8", "surrogateescape"))))
        try:
            _, i = decoder.raw_decode(text, i)
        except (json.JSONDecodeError, RecursionError, _Constant):
            return None
        i = _skip_text_ws(text, i)
        if text[i : i + 1] == "}" and len(empty) == 1:
            return empty[0]  # {"results": []}: no records
        if text[i : i + 1] != ",":
            return None
        i += 1


def _skip_text_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _wrapper_tail(path: Path, key: str) -> Callable[[bytes], None]:
    """A judge of the bytes after the wrapped array: the rest of the object, holding no other records."""

    def judge(rest: bytes) -> None:
        try:
            text = rest.decode("utf-8")
        except UnicodeDecodeError:
            raise _Fail from None
        decoder = _Decoder()
        i = _skip_text_ws(text, 0)
        while text[i : i + 1] == ",":
            i = _skip_text_ws(text, i + 1)
            if text[i : i + 1] != '"':
                raise _Fail
            try:
                other, i = json.decoder.scanstring(text, i + 1)  # type: ignore[attr-defined]
                i = _skip_text_ws(text, i)
                if text[i : i + 1] != ":":
                    raise _Fail
                value, i = decoder.raw_decode(text, _skip_text_ws(text, i + 1))
            except (json.JSONDecodeError, RecursionError, _Constant, ValueError):
                raise _Fail from None
            if type(value) is list and value and type(value[0]) is dict:
                raise ReadError(
                    _(
                        "{path}: the top-level object holds {n} arrays of records ({names}); "
                        "a migration JSON file is one array of objects [{{...}}, ...]"
                    ).format(path=path, n=2, names=f'"{key}", "{other}"')
                )
            i = _skip_text_ws(text, i)
        if text[i : i + 1] != "}" or text[i + 1 :].strip(" \t\r\n"):
            raise _Fail

    return judge


def _is_lines(path: Path, head: bytes) -> bool:
    """Whether a file holds JSON Lines: by name, or a first line that is a whole object followed by another."""
    if path.suffix.lower() in LINES_SUFFIXES:
        return True
    body = head.removeprefix(_BOM).lstrip(_WS)
    end = body.find(b"\n")
    if not body.startswith(b"{") or end < 0:
        return False
    first = body[:end].strip(_WS)
    if not first.endswith(b"}") or not body[end:].lstrip(_WS).startswith(b"{"):
        return False
    try:
        return type(orjson.loads(first)) is dict
    except orjson.JSONDecodeError:
        try:
            return type(json.loads(first, parse_int=JsonNumber, parse_float=JsonNumber)) is dict
        except (ValueError, RecursionError):
            return False


# --------------------------------------------------------------------------- blocks kept for the chunks


class _Store:
    """Parsed blocks until the chunks are read: in memory for a small file, else in a temporary file."""

    def __init__(self, spill: bool) -> None:
        self.blocks: list[_Block | tuple[int, int, int, list[str], pa.Schema, _Issues, np.ndarray | None]] = []
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
        self.blocks.append((block.rows, start, data.size, block.columns, batch.schema, block.notices, block.lines))

    def __iter__(self) -> Iterator[_Block]:
        for item in self.blocks:
            if isinstance(item, _Block):
                yield item
                continue
            rows, start, size, columns, schema, notices, lines = item
            assert self.file is not None
            self.file.seek(start)
            batch = pa.ipc.read_record_batch(pa.py_buffer(self.file.read(size)), schema)
            k = len(columns)
            texts = [batch.column(i) for i in range(k)]
            kinds = [batch.column(k + i).to_numpy() for i in range(k)]
            yield _Block(rows, columns, texts, kinds, notices, lines)

    def close(self) -> None:
        if self.file is not None:
            with contextlib.suppress(OSError):
                self.file.close()


def read_json(path: Path, chunk_rows: int = 200_000) -> Source:
    """Open a JSON file: an array of objects, JSON Lines, or an object wrapping one array of objects."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(4096)
            if head.lstrip(_BOM + _WS)[:1] == b"{":
                head += f.read(max(WINDOW_BYTES - len(head), 0))  # enough to tell lines from a wrapper
    except OSError as exc:
        raise ReadError(
            _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    if not head.strip() and size <= len(head):
        raise _exact_error(path, head)
    notices: list[Notice] = []
    windows: Iterator[_Window]
    if _is_lines(path, head):
        windows = _lines(path)
    elif head.lstrip(_BOM + _WS)[:1] == b"{" and (wrapper := _wrapper(head)) is not None:
        notices.append(
            Notice(
                "json-wrapper",
                _(
                    'the records are read from "{key}", the array inside the top-level object; '
                    "Akinon's importer expects that array itself as the whole file"
                ).format(key=wrapper.key),
            )
        )
        windows = _windows(path, wrapper.start, _wrapper_tail(path, wrapper.key))
    else:
        windows = _windows(path)
    store = _Store(spill=size > SPILL_BYTES)
    columns: dict[str, None] = {}
    rows = 0
    try:
        for records, body, issues, lines, raw in windows:
            if not records:
                continue
            try:
                try:
                    block = _block(records, body, issues, raw, columns)
                except _Mismatch:
                    # orjson's floats and the literals found do not line up, or a key repeats: read
                    # exactly, and where a key repeats, once more noting which.
                    assert raw is not None
                    exact, _found, issues = _exact(raw, True)
                    try:
                        block = _block(exact, None, issues, raw, columns)  # type: ignore[arg-type]
                    except _Mismatch:
                        exact, _found, issues = _exact(raw, True, repeats=True)
                        block = _block(exact, None, issues, known=columns)  # type: ignore[arg-type]
            except _TooWide as wide:
                number = int(lines[wide.index]) if lines is not None else rows + wide.index + 1
                where = _("line {line}").format(line=number) if lines is not None else _("record {n}").format(n=number)
                raise ReadError(
                    _(
                        "{path}: the records hold more than {limit} different keys ({where} brings key {key}); "
                        "every key is a column, and a migration file has at most {limit}"
                    ).format(path=path, limit=f"{MAX_COLUMNS:,}", where=where, key=f"{MAX_COLUMNS + 1:,}")
                ) from None
            block.lines = lines
            del records
            for c in block.columns:
                columns.setdefault(c, None)
            rows += block.rows
            store.add(block)
    except _Fail as fail:
        store.close()
        if size <= EXACT_ERROR_BYTES:
            raise _exact_error(path, Path(path).read_bytes()) from None
        raise _placed_error(path, fail) from None
    except OSError as exc:
        store.close()
        raise ReadError(
            _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    except BaseException:
        store.close()
        raise
    return Source(
        path=str(path),
        format="json",
        columns=tuple(columns),
        chunks=_chunks(store, tuple(columns), rows, chunk_rows),
        notices=notices,
        known_rows=rows,
    )


def _chunks(store: _Store, columns: tuple[str, ...], total: int, chunk_rows: int) -> Iterator[Chunk]:
    categories = pd.Index(KINDS)
    pending: list[tuple[_Block, np.ndarray, int, int]] = []  # block, its row numbers, start, stop
    held = 0
    before = 0  # records in the blocks already taken

    def emit(parts: list[tuple[_Block, np.ndarray, int, int]], n: int) -> Chunk:
        index = pd.RangeIndex(n)
        texts = {}
        kinds = {}
        # Each block's column positions by name: a dict, not a list search per column per block.
        places = [{name: j for j, name in enumerate(block.columns)} for block, _, _, _ in parts]
        for c in columns:
            pieces = []
            codes = []
            for (block, _piece, a, b), place in zip(parts, places, strict=True):
                j = place.get(c)
                if j is None:
                    pieces.append(pa.nulls(b - a, pa.string()))
                    codes.append(np.full(b - a, ABSENT_KIND, dtype=np.int8))
                    continue
                pieces.append(block.texts[j].slice(a, b - a))
                codes.append(block.kinds[j][a:b])
            texts[c] = pd.arrays.ArrowStringArray(pa.chunked_array(pieces, type=pa.string()))
            kinds[c] = pd.Categorical.from_codes(np.concatenate(codes), categories=categories)
        data = pd.DataFrame(texts, index=index)
        kind_frame = pd.DataFrame(kinds, index=index)
        numbers = np.concatenate([block_rows[a:b] for _, block_rows, a, b in parts])
        notices = [
            replace(notice, row=int(block_rows[i]))
            for block, block_rows, a, b in parts
            for i, notice in block.notices
            if a <= i < b
        ]
        rows = pd.Series(numbers, index=index)
        return Chunk(data=data, rows=rows, kinds=kind_frame, notices=notices)

    try:
        for block in store:
            numbers = block.lines if block.lines is not None else np.arange(before + 1, before + 1 + block.rows)
            before += block.rows
            at = 0
            while at < block.rows:
                take = min(block.rows - at, chunk_rows - held)
                pending.append((block, numbers, at, at + take))
                held += take
                at += take
                if held == chunk_rows:
                    yield emit(pending, held)
                    pending, held = [], 0
        if held:
            yield emit(pending, held)
    finally:
        store.close()
