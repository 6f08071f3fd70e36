"""The field-rule engine: every rule of a ``TypeRules`` applied to whole columns at once.

Each check turns a column into a boolean mask with pyarrow compute kernels (UTF-8 length, RE2
regex match, ``is_in``, string-to-number casts) run on the Arrow string arrays the readers
produce, so no Python object is made for a cell that passes; ``Problem`` objects are built only
for the cells that fail. Masks are numpy boolean arrays, one entry per row of the chunk. A file
is checked chunk by chunk, so memory is bounded by the chunk size, and the checks hold no state
between chunks.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.i18n import _
from omnimig.io.read_json import plain_numbers
from omnimig.io.table import Chunk
from omnimig.schemas.rules import INTEGER_TEXT, NUMBER_TEXT, ChoiceList, FieldRule, TypeRules
from omnimig.validation import messages as msg
from omnimig.validation.problem import MAX_VALUE_CHARS, Problem, ProblemStore, Severity, shorten

# The JSON kinds each field kind accepts. Integers arrive as JSON numbers and are then held to
# the integer text syntax.
JSON_KINDS = {
    "string": ("string",),
    "number": ("number",),
    "integer": ("number",),
    "boolean": ("boolean",),
    "object": ("object",),
}
NULLISH = ("null", "absent")

# A JSON object whose values are scalars or objects of scalars, as RE2 can match it (JSON of a
# bounded depth is a regular language). Everything it accepts ``json.loads`` reads as an object,
# so only the cells it does not accept (deeper values, arrays, NaN, broken text) are parsed in
# Python. Most ``extra_field`` cells are such objects: flat, or one level deep as a transform
# writes them (``{"shopify":{"Id":"…",…}}``), which were parsed cell by cell (9 s of 35 at a
# million orders).
_WS = r"[ \t\n\r]*"
_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*"'
_NUM = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = f"(?:{_STR}|{_NUM}|true|false|null)"


def _object_of(value: str) -> str:
    """An object body (braces included) whose values match ``value``."""
    pair = f"{_STR}{_WS}:{_WS}{value}"
    return f"\\{{{_WS}(?:{pair}{_WS}(?:,{_WS}{pair}{_WS})*)?\\}}"


SHALLOW_OBJECT = f"^{_WS}{_object_of(f'(?:{_SCALAR}|{_object_of(_SCALAR)})')}{_WS}$"

# Pattern features RE2 lacks or reads differently from Python's ``re`` (Unicode classes, ``\Z``,
# look-around, back-references): a pattern using one is matched in Python, cell by cell.
_PYTHON_ONLY = re.compile(r"(?:^|[^\\])(?:\\\\)*\\[dDwWsSbBuUNZAz0-9]|\(\?[=!<]")

_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_ISO_DAY = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"


Text: TypeAlias = "pa.Array | pa.ChunkedArray"


@dataclass
class Layout:
    """Which file column feeds which field, decided once per file from its header."""

    columns: dict[str, str]  # field name -> column name in the file


def text_array(series: pd.Series) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings; no copy for the readers' ``string[pyarrow]``.

    A chunk's column may be several Arrow chunks (one per parsed block); the kernels run on
    them as they are, which is cheaper than joining them into one array first.
    """
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        series = series.astype("string[pyarrow]")
    return pa.array(series)


def key_column(column: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """A kept key column for ``FileResult.keys``: text as ``ArrowStringArray``, a line amount
    (``rules.line_column``) as Arrow numbers."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return pd.arrays.ArrowStringArray(column)
    return pd.arrays.ArrowExtensionArray(column)


def as_mask(result: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean result as a numpy mask, null counted as False."""
    if result.null_count:
        result = pc.fill_null(result, False)
    return np.asarray(result.to_numpy(zero_copy_only=False), dtype=bool)


def fullmatch(arr: Text, pattern: str) -> np.ndarray:
    """``re.fullmatch(pattern, cell)`` for every cell (False for null), through RE2 when it can."""
    if _PYTHON_ONLY.search(pattern) is None:
        try:
            return as_mask(pc.match_substring_regex(arr, f"^(?:{pattern})$"))
        except pa.ArrowInvalid:
            pass  # RE2 cannot compile it: Python's re decides
    compiled = re.compile(pattern)
    return np.fromiter((v is not None and compiled.fullmatch(v) is not None for v in arr.to_pylist()), bool, len(arr))


class Emitter:
    """Turns failing masks into ``Problem`` objects for one file."""

    def __init__(self, file: str, type_name: str, sink: list[Problem] | ProblemStore) -> None:
        self.file = file
        self.type = type_name
        self.sink = sink

    def cells(
        self,
        mask: np.ndarray,
        rows: np.ndarray,
        values: Text,
        field: str,
        rule: str,
        severity: Severity,
        message: Callable[[str], str],
    ) -> None:
        """One problem per True in ``mask``; only those cells become Python strings."""
        hit = np.flatnonzero(mask)
        if not hit.size:
            return
        texts = values.take(pa.array(hit)).to_pylist()
        sink = self.sink
        if isinstance(sink, ProblemStore):  # the engine's store: plain tuples, no Problem objects
            at = rows[hit]
            if at.size > 1 and not bool(np.all(at[1:] > at[:-1])):
                for row, value in zip(at.tolist(), texts, strict=True):
                    text = "" if value is None else str(value)
                    sink.add(row, field, rule, severity, shorten(text), message(text))
                return
            step = sink.memory_budget  # a slice at a time: the store spills between them
            row_list = at.tolist()
            for start in range(0, len(texts), step):
                part = ["" if v is None else str(v) for v in texts[start : start + step]]
                sink.add_many(
                    row_list[start : start + step],
                    field,
                    rule,
                    severity,
                    [v if len(v) <= MAX_VALUE_CHARS else shorten(v) for v in part],
                    [message(v) for v in part],
                )
            return
        for row, value in zip(rows[hit].tolist(), texts, strict=True):
            text = "" if value is None else str(value)
            sink.append(Problem(self.file, self.type, int(row), field, rule, severity, shorten(text), message(text)))

    def one(
        self, row: int | None, field: str | None, rule: str, severity: Severity, message: str, value: str | None = None
    ) -> None:
        self.sink.append(Problem(self.file, self.type, row, field, rule, severity, shorten(value), message))


def _kinds(chunk: Chunk, column: str) -> np.ndarray | None:
    if chunk.kinds is None:
        return None
    return chunk.kinds[column].astype(str).to_numpy(dtype=object)


def blank_rows(chunk: Chunk) -> np.ndarray:
    """Rows with nothing in any cell: one problem each instead of one per required field.

    Columns are looked at until no candidate is left, which on a real file is after the first.
    """
    data = chunk.data
    blank = np.ones(len(data), dtype=bool)
    for column in data.columns:
        empty = as_mask(pc.equal(text_array(data[column]), ""))
        kinds = _kinds(chunk, column)
        if kinds is not None:
            empty |= np.isin(kinds, NULLISH)
        blank &= empty
        if not blank.any():
            break
    return blank


def check_chunk(
    chunk: Chunk,
    rules: TypeRules,
    layout: Layout,
    choices: dict[str, ChoiceList],
    emit: Emitter,
    pool: Executor | None = None,
) -> None:
    """Every field rule on one chunk. With a ``pool`` the columns are checked side by side (the
    kernels release the GIL); each column's problems are recorded and handed to ``emit`` in rule
    order, so what ``emit`` receives is the same, call for call, as without a pool."""
    blank = blank_rows(chunk)
    rows = chunk.rows.to_numpy()
    if blank.any():
        for row in rows[blank].tolist():
            emit.one(int(row), None, "blank-row", "error", _("the row is empty; delete it or fill it in"))
    live = ~blank
    work = []
    for rule in rules.fields:
        column = layout.columns.get(rule.name)
        if column is None:
            continue
        work.append((text_array(chunk.data[column]), _kinds(chunk, column), rule))
    if pool is None or len(work) < 2:
        for arr, kinds, rule in work:
            check_column(arr, kinds, rule, live, rows, choices, emit)
        return
    running = [pool.submit(_recorded_column, arr, kinds, rule, live, rows, choices, emit) for arr, kinds, rule in work]
    for future in running:
        future.result().replay(emit.sink)


class _Recording(ProblemStore):
    """What one column's check gives a ``ProblemStore``, call by call, to be replayed into the real
    store in rule order. It looks like the real store to ``Emitter`` (same class, same budget), so
    the emitter takes the same path and makes the same calls."""

    def __init__(self, memory_budget: int) -> None:
        super().__init__(memory_budget=memory_budget)
        self.calls: list[tuple[bool, tuple[object, ...]]] = []

    def add(self, *args: object) -> None:
        self.calls.append((False, args))

    def add_many(self, *args: object) -> None:
        self.calls.append((True, args))

    def replay(self, sink: list[Problem] | ProblemStore) -> None:
        if not isinstance(sink, ProblemStore):
            raise TypeError("a recorded column replays into a ProblemStore only")
        for many, args in self.calls:
            if many:
                sink.add_many(*args)  # type: ignore[arg-type]
            else:
                sink.add(*args)  # type: ignore[arg-type]


class _Listed(list[Problem]):
    """The same for an emitter whose sink is a plain list of problems."""

    def replay(self, sink: list[Problem] | ProblemStore) -> None:
        sink.extend(self)


def _recorded_column(
    arr: Text,
    kinds: np.ndarray | None,
    f: FieldRule,
    live: np.ndarray,
    rows: np.ndarray,
    choices: dict[str, ChoiceList],
    emit: Emitter,
) -> _Recording | _Listed:
    """``check_column`` on a pool thread, into a recording of what it emits."""
    sink = emit.sink
    record: _Recording | _Listed = _Recording(sink.memory_budget) if isinstance(sink, ProblemStore) else _Listed()
    check_column(arr, kinds, f, live, rows, choices, Emitter(emit.file, emit.type, record))
    return record


def check_column(
    arr: Text,
    kinds: np.ndarray | None,
    f: FieldRule,
    live: np.ndarray,
    rows: np.ndarray,
    choices: dict[str, ChoiceList],
    emit: Emitter,
) -> None:
    empty = as_mask(pc.equal(arr, ""))
    # A JSON null or absent key is missing; "" is missing only where a string is expected.
    missing = empty if kinds is None else np.isin(kinds, NULLISH) | (empty & (f.kind == "string"))
    if arr.null_count:
        arr = pc.fill_null(arr, "")  # null cells are missing; the rules below never look at them
    if kinds is not None and f.kind in ("number", "integer"):
        arr = plain_numbers(arr, kinds)  # JSON keeps 1.5E2 as written; digit rules judge 150
    if f.required:
        gone = missing & live
        if gone.any():
            if kinds is not None:
                emit.cells(gone, rows, pa.array(kinds), f.name, "required", "error", lambda k: msg.required(f, k))
            else:
                emit.cells(gone, rows, arr, f.name, "required", "error", lambda _v: msg.required(f))
    present = ~missing & live
    if not present.any():
        return
    valid = present & ~_type_errors(arr, kinds, f, present, rows, emit)
    if not valid.any():
        return
    _constraints(arr, f, valid, rows, choices, emit)


def _type_errors(
    arr: Text, kinds: np.ndarray | None, f: FieldRule, present: np.ndarray, rows: np.ndarray, emit: Emitter
) -> np.ndarray:
    """Cells whose value is not of the field's type; later rules skip them."""
    bad = np.zeros(len(arr), dtype=bool)
    if kinds is not None:
        wrong_kind = present & ~np.isin(kinds, JSON_KINDS[f.kind])
        if wrong_kind.any():
            rule = "json-object" if f.kind == "object" else "type"
            for i in np.flatnonzero(wrong_kind).tolist():
                kind = str(kinds[i])
                text = None if kind in NULLISH else arr[i].as_py()
                message = msg.json_object(f, text or "") if f.kind == "object" else msg.json_type(f, text, kind)
                emit.one(int(rows[i]), f.name, rule, "error", message, text)
            bad |= wrong_kind
        if f.kind == "integer":
            not_int = present & ~bad & ~fullmatch(arr, INTEGER_TEXT)
            emit.cells(not_int, rows, arr, f.name, "type", "error", lambda v: msg.integer_type(f, v))
            bad |= not_int
        return bad
    if f.kind == "number":
        bad = present & ~fullmatch(arr, NUMBER_TEXT)
        emit.cells(bad, rows, arr, f.name, "type", "error", lambda v: msg.number_type(f, v))
    elif f.kind == "integer":
        bad = present & ~fullmatch(arr, INTEGER_TEXT)
        emit.cells(bad, rows, arr, f.name, "type", "error", lambda v: msg.integer_type(f, v))
    elif f.kind == "boolean":
        bad = present & ~as_mask(pc.is_in(arr, value_set=pa.array([*f.true_values, *f.false_values], arr.type)))
        emit.cells(bad, rows, arr, f.name, "type", "error", lambda v: msg.boolean_type(f, v))
    elif f.kind == "object":
        # Most cells are "{}", empty or a shallow object RE2 recognises; only the rest are parsed.
        candidates = present & ~as_mask(pc.equal(arr, "{}"))
        if candidates.any():
            candidates &= ~fullmatch(arr, SHALLOW_OBJECT)
        for i in np.flatnonzero(candidates).tolist():
            bad[i] = not _is_json_object(arr[i].as_py())
        emit.cells(bad, rows, arr, f.name, "json-object", "error", lambda v: msg.json_object(f, v))
    return bad


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _constraints(
    arr: Text, f: FieldRule, valid: np.ndarray, rows: np.ndarray, choices: dict[str, ChoiceList], emit: Emitter
) -> None:
    """The value rules, on the cells of the right type (``valid``)."""
    name = f.name

    def flag(mask: np.ndarray, rule: str, message: Callable[[str], str], severity: Severity = "error") -> None:
        emit.cells(mask, rows, arr, name, rule, severity, message)

    if f.max_length is not None:
        flag(
            valid & as_mask(pc.greater(pc.utf8_length(arr), f.max_length)),
            "max-length",
            lambda t: msg.max_length(f, len(t)),
        )
    if f.pattern is not None:
        matched = fullmatch(arr, f.pattern)
        flag(valid & ~matched, "pattern", lambda t: msg.pattern(f, t))
        # A value of the wrong shape gets no second opinion from the value lists.
        well_formed = valid & matched
    else:
        well_formed = valid
    if f.temporal is not None:
        flag(_bad_days(arr, well_formed), "type", lambda t: msg.calendar(f, t))
    if f.enum is not None:
        flag(valid & ~as_mask(pc.is_in(arr, value_set=pa.array(f.enum, arr.type))), "enum", lambda t: msg.enum(f, t))
    if f.minimum is not None:
        flag(_below(arr, valid, f.minimum), "min-value", lambda t: msg.minimum(f, t))
    if f.max_digits is not None or f.decimal_places is not None:
        # Plain decimal text only reaches here: significant digits are those left after the
        # sign and leading zeros, split by the point. The text is ASCII, so bytes are characters.
        body = pc.utf8_ltrim(pc.utf8_ltrim(arr, "+-"), "0")
        length = pc.utf8_length(body).to_numpy(zero_copy_only=False)
        point = pc.find_substring(body, ".").to_numpy(zero_copy_only=False)
        frac_len = np.where(point >= 0, length - point - 1, 0)
        int_len = np.where(point >= 0, point, length)
        if f.decimal_places is not None:
            flag(
                valid & (frac_len > f.decimal_places),
                "decimal-places",
                lambda t: msg.decimal_places(f, t, _places(t)),
            )
        if f.max_digits is not None:
            flag(valid & (int_len + frac_len > f.max_digits), "max-digits", lambda t: msg.max_digits(f, t, _digits(t)))
    if f.choices is not None and f.choices in choices:
        known = choices[f.choices]
        values = pc.utf8_lower(arr) if known.case_insensitive else arr
        listed = as_mask(pc.is_in(values, value_set=pa.array(sorted(known.lowered()), arr.type)))
        flag(well_formed & ~listed, "choices", lambda t: msg.choice(f, t, known), "warning")


def _bad_days(arr: Text, mask: np.ndarray) -> np.ndarray:
    """Cells under ``mask`` whose first ten characters are not a calendar day ``YYYY-MM-DD``.

    Shaped cells (four, two and two digits) are judged by arithmetic on whole columns, leap
    years included; the few others go through ``pandas.to_datetime`` as before, which also
    decides oddities such as one-digit months.
    """
    bad = np.zeros(len(arr), dtype=bool)
    if not mask.any():
        return bad
    head = pc.utf8_slice_codeunits(arr, 0, 10)
    shaped = mask & fullmatch(head, _ISO_DAY)
    if shaped.any():
        day_text = pc.if_else(pa.array(shaped), head, "2000-01-01")
        year = pc.cast(pc.utf8_slice_codeunits(day_text, 0, 4), pa.int64()).to_numpy()
        month = pc.cast(pc.utf8_slice_codeunits(day_text, 5, 7), pa.int64()).to_numpy()
        day = pc.cast(pc.utf8_slice_codeunits(day_text, 8, 10), pa.int64()).to_numpy()
        month_ok = (month >= 1) & (month <= 12)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        last = _DAYS[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
        bad |= shaped & ~(month_ok & (day >= 1) & (day <= last))
    other = mask & ~shaped
    if other.any():
        idx = np.flatnonzero(other)
        texts = pd.Series(head.take(pa.array(idx)).to_pylist(), dtype=object)
        days = pd.to_datetime(texts, format="%Y-%m-%d", errors="coerce")
        bad[idx] = days.isna().to_numpy()
    return bad


def _below(arr: Text, valid: np.ndarray, minimum: Decimal) -> np.ndarray:
    """Exact ``value < minimum`` for the ``valid`` cells (plain decimal text).

    Arrow's string-to-float cast is correctly rounded, and rounding is monotonic, so a float
    comparison is exact except for a tie, and a tie can hide a smaller value only when the text
    carries more precision than a float (over 15 digits); those few are settled with Decimal.
    """
    numbers = pc.cast(pc.if_else(pa.array(valid), arr, "0"), pa.float64()).to_numpy()
    bound = float(minimum)
    below = valid & (numbers < bound)
    ties = valid & (numbers == bound) & as_mask(pc.greater(pc.utf8_length(arr), 15))
    for i in np.flatnonzero(ties).tolist():
        try:
            below[i] = Decimal(arr[i].as_py()) < minimum
        except InvalidOperation:
            below[i] = False
    return below


def _split(text: str) -> tuple[str, str]:
    body = text.lstrip("+-")
    whole, _, frac = body.partition(".")
    return whole.lstrip("0"), frac


def _places(text: str) -> int:
    return len(_split(text)[1])


def _digits(text: str) -> int:
    whole, frac = _split(text)
    return len(whole) + len(frac)


def map_columns(
    rules: TypeRules,
    columns: Iterable[str],
    is_json: bool,
    emit: Emitter,
    header_row: int | None,
    expect_columns: bool = True,
) -> Layout:
    """Match the file's header to the fields; report missing, unknown and aliased columns."""
    present = list(columns)
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for f in rules.fields:
        if f.name in present:
            mapping[f.name] = f.name
            used.add(f.name)
            continue
        alias = next((a for a in f.aliases if a in present and a not in rules.names), None)
        if alias is not None:
            mapping[f.name] = alias
            used.add(alias)
            emit.one(
                header_row,
                f.name,
                "column-alias",
                "warning",
                _(
                    'column "{alias}" should be named "{name}" (the documented column); '
                    "its values are checked as {name}"
                ).format(alias=alias, name=f.name),
            )
            continue
        if not expect_columns or (is_json and not f.required):
            continue  # a JSON record may leave out an optional key: that is null
        near = next((c for c in present if c.strip().casefold() == f.name.casefold()), None)
        if is_json:
            missing = _('required key "{name}" is missing') if f.required else _('key "{name}" is missing')
        else:
            missing = _('required column "{name}" is missing') if f.required else _('column "{name}" is missing')
        if near:
            missing += _('; the file has "{near}": rename it to "{name}"')
        emit.one(header_row, f.name, "missing-column", "error", missing.format(name=f.name, near=near))
    for c in present:
        if c in used:
            continue
        emit.one(
            header_row,
            c,
            "unknown-column",
            "warning",
            _('column "{column}" is not a {type} field and is not checked; {type} fields are: {fields}').format(
                column=shorten(c, 40), type=rules.type, fields=", ".join(rules.names)
            ),
        )
    return Layout(columns=mapping)
