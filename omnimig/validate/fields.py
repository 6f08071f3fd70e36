"""The field-rule engine: every rule of a ``TypeRules`` applied to whole columns at once.

Each check turns a column into a boolean mask with pandas/pyarrow kernels; Python objects are
built only for the cells that fail. A file is checked chunk by chunk, so memory is bounded by
the chunk size, and the checks hold no state between chunks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pandas as pd

from omnimig.io.table import Chunk
from omnimig.validate import messages as msg
from omnimig.validate.problem import Problem, Severity, shorten
from omnimig.validate.rules import INTEGER_TEXT, NUMBER_TEXT, ChoiceList, FieldRule, TypeRules

# The JSON kinds each field kind accepts. Integers arrive as JSON numbers and are then held to
# the integer text syntax.
JSON_KINDS = {
    "string": ("string",),
    "number": ("number",),
    "integer": ("number",),
    "boolean": ("boolean",),
    "object": ("object",),
}


@dataclass
class Layout:
    """Which file column feeds which field, decided once per file from its header."""

    columns: dict[str, str]  # field name -> column name in the file


class Emitter:
    """Turns failing masks into ``Problem`` objects for one file."""

    def __init__(self, file: str, type_name: str, sink: list[Problem]) -> None:
        self.file = file
        self.type = type_name
        self.sink = sink

    def cells(
        self,
        mask: pd.Series,
        chunk: Chunk,
        series: pd.Series,
        field: str,
        rule: str,
        severity: Severity,
        message: Callable[[str], str],
    ) -> None:
        if not mask.any():
            return
        hit = mask[mask].index
        rows = chunk.rows.loc[hit].tolist()
        values = series.loc[hit].tolist()
        for row, value in zip(rows, values, strict=True):
            text = "" if value is None or value is pd.NA else str(value)
            self.sink.append(
                Problem(self.file, self.type, int(row), field, rule, severity, shorten(text), message(text))
            )

    def one(
        self, row: int | None, field: str | None, rule: str, severity: Severity, message: str, value: str | None = None
    ) -> None:
        self.sink.append(Problem(self.file, self.type, row, field, rule, severity, shorten(value), message))


def blank_rows(chunk: Chunk) -> pd.Series:
    """Rows with nothing in any cell: one problem each instead of one per required field."""
    data = chunk.data
    if data.shape[1] == 0:
        return pd.Series(True, index=data.index)
    if chunk.kinds is not None:
        empty = chunk.kinds.isin(["absent", "null"]) | data.eq("").fillna(False)
        return empty.all(axis=1)
    return data.eq("").all(axis=1)


def check_chunk(
    chunk: Chunk,
    rules: TypeRules,
    layout: Layout,
    choices: dict[str, ChoiceList],
    emit: Emitter,
) -> None:
    blank = blank_rows(chunk)
    if blank.any():
        for row in chunk.rows[blank].tolist():
            emit.one(int(row), None, "blank-row", "error", "the row is empty; delete it or fill it in")
    for rule in rules.fields:
        column = layout.columns.get(rule.name)
        if column is None:
            continue
        series = chunk.data[column]
        kinds = chunk.kinds[column] if chunk.kinds is not None else None
        check_column(series, kinds, rule, ~blank, chunk, choices, emit)


def check_column(
    s: pd.Series,
    kinds: pd.Series | None,
    f: FieldRule,
    live: pd.Series,
    chunk: Chunk,
    choices: dict[str, ChoiceList],
    emit: Emitter,
) -> None:
    if kinds is not None:
        nullish = kinds.isin(["null", "absent"])
        missing = nullish | (s.eq("").fillna(False) & (f.kind == "string"))
    else:
        missing = s.eq("")
    if f.required:
        gone = missing & live
        if gone.any():
            if kinds is not None:
                kind_text = kinds.astype(str)
                emit.cells(gone, chunk, kind_text, f.name, "required", "error", lambda k: msg.required(f, k))
            else:
                emit.cells(gone, chunk, s, f.name, "required", "error", lambda _v: msg.required(f))
    present = ~missing & live
    if not present.any():
        return
    valid = present & ~_type_errors(s, kinds, f, present, chunk, emit)
    if not valid.any():
        return
    _constraints(s, f, valid, chunk, choices, emit)


def _type_errors(
    s: pd.Series, kinds: pd.Series | None, f: FieldRule, present: pd.Series, chunk: Chunk, emit: Emitter
) -> pd.Series:
    """Cells whose value is not of the field's type; later rules skip them."""
    bad = pd.Series(False, index=s.index)
    if kinds is not None:
        wrong_kind = present & ~kinds.isin(JSON_KINDS[f.kind])
        if wrong_kind.any():
            kind_of = kinds.astype(str)
            rule = "json-object" if f.kind == "object" else "type"
            for idx in wrong_kind[wrong_kind].index:
                value = s.loc[idx]
                text = None if value is pd.NA else str(value)
                row = int(chunk.rows.loc[idx])
                message = (
                    msg.json_object(f, text or "") if f.kind == "object" else msg.json_type(f, text, kind_of.loc[idx])
                )
                emit.one(row, f.name, rule, "error", message, text)
            bad |= wrong_kind
        if f.kind == "integer":
            not_int = present & ~bad & ~s.str.fullmatch(INTEGER_TEXT).fillna(False).astype(bool)
            emit.cells(not_int, chunk, s, f.name, "type", "error", lambda v: msg.integer_type(f, v))
            bad |= not_int
        return bad
    if f.kind == "number":
        bad = present & ~s.str.fullmatch(NUMBER_TEXT).fillna(False).astype(bool)
        emit.cells(bad, chunk, s, f.name, "type", "error", lambda v: msg.number_type(f, v))
    elif f.kind == "integer":
        bad = present & ~s.str.fullmatch(INTEGER_TEXT).fillna(False).astype(bool)
        emit.cells(bad, chunk, s, f.name, "type", "error", lambda v: msg.integer_type(f, v))
    elif f.kind == "boolean":
        bad = present & ~s.isin([*f.true_values, *f.false_values])
        emit.cells(bad, chunk, s, f.name, "type", "error", lambda v: msg.boolean_type(f, v))
    elif f.kind == "object":
        # Most cells are "{}" or empty; only the rest are parsed as JSON.
        candidates = present & s.ne("{}").fillna(False)
        if candidates.any():
            flags = [not _is_json_object(v) for v in s[candidates].tolist()]
            bad = pd.Series(False, index=s.index)
            bad.loc[candidates[candidates].index] = flags
            emit.cells(bad, chunk, s, f.name, "json-object", "error", lambda v: msg.json_object(f, v))
    return bad


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _constraints(
    s: pd.Series, f: FieldRule, valid: pd.Series, chunk: Chunk, choices: dict[str, ChoiceList], emit: Emitter
) -> None:
    v = s[valid]
    name = f.name

    def flag(mask: pd.Series, rule: str, message: Callable[[str], str], severity: Severity = "error") -> None:
        full = pd.Series(False, index=s.index)
        full.loc[mask.index] = mask.fillna(False).astype(bool)
        emit.cells(full, chunk, s, name, rule, severity, message)

    if f.max_length is not None:
        lengths = v.str.len()
        flag(lengths > f.max_length, "max-length", lambda t: msg.max_length(f, len(t)))
    if f.pattern is not None:
        matched = v.str.fullmatch(f.pattern).fillna(False).astype(bool)
        flag(~matched, "pattern", lambda t: msg.pattern(f, t))
        # A value of the wrong shape gets no second opinion from the value lists.
        well_formed = v[matched]
    else:
        well_formed = v
    if f.temporal is not None:
        days = pd.to_datetime(well_formed.str.slice(0, 10).astype(object), format="%Y-%m-%d", errors="coerce")
        flag(pd.Series(days.isna().to_numpy(), index=well_formed.index), "type", lambda t: msg.calendar(f, t))
    if f.enum is not None:
        flag(~v.isin(f.enum), "enum", lambda t: msg.enum(f, t))
    if f.minimum is not None:
        flag(_below(v, f.minimum), "min-value", lambda t: msg.minimum(f, t))
    if f.max_digits is not None or f.decimal_places is not None:
        # Plain decimal text only reaches here: significant digits are those left after the
        # sign and leading zeros, split by the point.
        body = v.str.lstrip("+-").str.lstrip("0")
        length = body.str.len()
        point = body.str.find(".")
        frac_len = (length - point - 1).where(point >= 0, 0)
        int_len = point.where(point >= 0, length)
        if f.decimal_places is not None:
            flag(frac_len > f.decimal_places, "decimal-places", lambda t: msg.decimal_places(f, t, _places(t)))
        if f.max_digits is not None:
            flag(int_len + frac_len > f.max_digits, "max-digits", lambda t: msg.max_digits(f, t, _digits(t)))
    if f.choices is not None and f.choices in choices:
        known = choices[f.choices]
        values = well_formed.str.lower() if known.case_insensitive else well_formed
        flag(~values.isin(known.lowered()), "choices", lambda t: msg.choice(f, t, known), "warning")


def _below(v: pd.Series, minimum: Decimal) -> pd.Series:
    """Exact ``value < minimum``.

    Float rounding is monotonic, so a float comparison is exact except for a tie, and a tie can
    hide a smaller value only when the text carries more precision than a float (over 15
    digits); those few are settled with Decimal.
    """
    numbers = pd.to_numeric(v.astype(object), errors="coerce")
    below = numbers < float(minimum)
    ties = (numbers == float(minimum)) & (v.str.len() > 15).to_numpy()
    for idx in ties[ties].index:
        try:
            below.loc[idx] = Decimal(str(v.loc[idx])) < minimum
        except InvalidOperation:
            below.loc[idx] = False
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
                f'column "{alias}" should be named "{f.name}" (the documented column); '
                f"its values are checked as {f.name}",
            )
            continue
        if not expect_columns or (is_json and not f.required):
            continue  # a JSON record may leave out an optional key: that is null
        near = next((c for c in present if c.strip().casefold() == f.name.casefold()), None)
        hint = f'; the file has "{near}": rename it to "{f.name}"' if near else ""
        where = "key" if is_json else "column"
        need = "required " if f.required else ""
        emit.one(header_row, f.name, "missing-column", "error", f'{need}{where} "{f.name}" is missing{hint}')
    for c in present:
        if c in used:
            continue
        emit.one(
            header_row,
            c,
            "unknown-column",
            "warning",
            f'column "{shorten(c, 40)}" is not a {rules.type} field and is not checked; '
            f"{rules.type} fields are: {', '.join(rules.names)}",
        )
    return Layout(columns=mapping)
