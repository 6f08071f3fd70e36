"""JSON files: a top-level array of objects, with each number's text kept exactly.

Money is judged by the digits a person wrote (``0.29`` has two places), never by its binary
float value, so numbers are parsed into strings that remember they were numbers.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd

from omnimig.io.table import Chunk, ReadError, Source


class JsonNumber(str):
    """The literal text of a JSON number."""

    __slots__ = ()


def _describe(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, JsonNumber):
        return "a number"
    if value is None:
        return "null"
    return "a string"


def plain(number: JsonNumber) -> str:
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


def read_json(path: Path, chunk_rows: int = 200_000) -> Source:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(f"{path}: cannot read the file: {exc.strerror or exc}") from None
    if not data.strip():
        raise ReadError(f"{path}: the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: JSON must be UTF-8; byte {exc.start} is not") from None
    try:
        records = json.loads(text, parse_float=JsonNumber, parse_int=JsonNumber)
    except json.JSONDecodeError as exc:
        raise ReadError(f"{path}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ReadError(f"{path}: invalid JSON: nested too deeply") from None
    if not isinstance(records, list):
        raise ReadError(
            f"{path}: the top level is {_describe(records)}; "
            "a migration JSON file is an array of objects [{...}, ...]"
        )
    columns: dict[str, None] = {}
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ReadError(f"{path}: record {number} is {_describe(record)}; every record must be an object")
        for key in record:
            columns.setdefault(key, None)
    return Source(
        path=str(path),
        format="json",
        columns=tuple(columns),
        chunks=_chunks(records, tuple(columns), chunk_rows),
        known_rows=len(records),
    )


def _chunks(records: list[dict[str, object]], columns: tuple[str, ...], chunk_rows: int) -> Iterator[Chunk]:
    for start in range(0, len(records), chunk_rows):
        part = records[start : start + chunk_rows]
        texts: dict[str, list[str | None]] = {c: [] for c in columns}
        kinds: dict[str, list[str]] = {c: [] for c in columns}
        for record in part:
            for c in columns:
                if c in record:
                    text, kind = cell(record[c])
                else:
                    text, kind = None, "absent"
                texts[c].append(text)
                kinds[c].append(kind)
        index = pd.RangeIndex(len(part))
        data = pd.DataFrame({c: pd.array(texts[c], dtype="string[pyarrow]") for c in columns}, index=index)
        kind_frame = pd.DataFrame({c: pd.Categorical(kinds[c]) for c in columns}, index=index)
        rows = pd.Series(range(start + 1, start + 1 + len(part)), index=index)
        yield Chunk(data=data, rows=rows, kinds=kind_frame)
