"""Source ``mapping``: any CSV/XLSX/JSON export, described by a TOML mapping file.

The mapping file's per-type tables (``[user]``, ``[address]``, ``[order]``, ``[order_item]``)
say where each target field comes from: a column, several columns joined, a JSON object of
columns, a constant, or another target field of the same row; each column value goes through
``text`` and then the named normalisers and value table. docs/mapping.md is the reference.

One input row may feed every type (a Turkish orders export has one row per line item, with the
order and buyer columns repeated). Rows are processed in groups: the rows of one order when
``[order]`` is mapped (``group_by``, by default the order number's column), otherwise each row
alone. A group is all or nothing: a value no normaliser can read, a value missing from its
value table, or order columns that disagree between the rows of one order reject every row
of the group, with the column and value named, before anything is built from it. Users fold by
their key (customer code, case-folded): the first row makes the user, later rows are merged
into it; identical addresses fold the same way. Required fields the mapping does not map are
"cannot fill": left empty and reported by the summary and the validation of the output.
"""

from __future__ import annotations

import codecs
import datetime as _dt
import difflib
import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimig.exceptions import ReadError
from omnimig.io import open_source
from omnimig.io.table import Notice
from omnimig.schemas.rules import table_rules
from omnimig.transforms import normalize as nz
from omnimig.transforms.address import split_name
from omnimig.transforms.errors import reading
from omnimig.transforms.records import TARGETS, Draft, Origin, Record
from omnimig.transforms.settings import Settings, SettingsError

TITLE = "Any CSV/XLSX/JSON export through a TOML mapping file (--mapping)"

#: [source] keys this source reads, with what each accepts (for the error message).
SOURCE_KEYS = {
    "encoding": "utf-8 or cp1254 (Windows-1254); default: detected",
    "delimiter": 'the CSV delimiter, e.g. ";"; default: sniffed from the header',
    "date_order": "dmy or mdy, for dates like 01/02/2023",
    "decimal_separator": '"," or ".", for amounts like 1.234',
    "timezone": "an IANA zone such as Europe/Istanbul, attached to date-times without an offset",
}
ENCODINGS = {"utf-8": "utf-8", "cp1254": "cp1254"}  # codecs names the reader can read

NORMALISERS = (
    "text",
    "decimal",
    "date",
    "phone",
    "boolean",
    "email",
    "upper_tr",
    "strip_marker",
    "name-first",
    "name-last",
)
SOURCES_OF_A_FIELD = ("column", "columns", "json", "value", "field")
FIELD_KEYS = (*SOURCES_OF_A_FIELD, "normalise", "values", "join", "on_error", "leave_empty", "pick")
#: Keys of a per-type table that are not target fields.
TABLE_KEYS = {"order": ("group_by",), "user": ("key",)}
#: How the rows of one group (an order) or of one folded user combine a field's values.
PICKS = {"order": ("same", "first", "last", "min", "max", "sum"), "user": ("first", "last", "min", "max")}
DEFAULT_PICK = {"order": "same", "user": "first"}


@dataclass
class FieldSpec:
    """Where one target field comes from, compiled from the mapping file."""

    type: str
    name: str
    kind: str  # one of SOURCES_OF_A_FIELD
    columns: tuple[str, ...] = ()  # as in the export's header (resolved per input)
    value: str = ""  # the constant of kind "value"
    ref: tuple[str, str] | None = None  # (type, field) of kind "field"
    steps: tuple[str, ...] = ()
    table: str | None = None
    join: str = " "
    on_error: str = "reject"
    leave_empty: str | None = None
    pick: str = ""
    where: str = ""

    @property
    def label(self) -> str:
        return f"{self.type}.{self.name}"


@dataclass
class Plan:
    fields: dict[str, dict[str, FieldSpec]]  # type -> field -> spec, in mapping order
    group_by: tuple[str, ...] | None  # order grouping columns
    user_key: FieldSpec | None
    date_order: str | None = None
    decimal_separator: str | None = None
    timezone: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    name: str = ""

    def columns(self) -> list[tuple[str, str]]:
        """(column, where it is used) for every export column the mapping names."""
        out = []
        for specs in self.fields.values():
            for spec in specs.values():
                out += [(c, spec.where) for c in spec.columns]
        if self.user_key is not None:
            out += [(c, self.user_key.where) for c in self.user_key.columns]
        return out


class RowError(Exception):
    def __init__(self, type_name: str, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.type = type_name
        self.field = field_name
        self.reason = reason


@dataclass
class Row:
    origin: Origin
    cells: dict[str, str]
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    error: RowError | None = None
    warnings: list[tuple[str, str, str, str]] = field(default_factory=list)  # type, field, code, message
    # Currencies written into amounts (``€389,50``, ``1.234,56 TL``): field, column, code.
    currencies: list[tuple[str, str, str]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------
# Compiling the mapping file


def compile_plan(settings: Settings) -> Plan:
    """Check the mapping strictly and turn it into a plan; every error names the file and line."""
    if settings.path is None:
        raise SettingsError(
            "the mapping source needs --mapping FILE: a TOML file saying which export column feeds which "
            "target field (see docs/mapping.md and the examples in omnimig/transforms/mappings/)"
        )
    plan = Plan(fields={}, group_by=None, user_key=None, name=settings.path.name)
    _source_options(settings, plan)
    if not settings.targets:
        raise SettingsError(
            f"{settings.path}: the mapping feeds no target type; add at least one of "
            + ", ".join(f"[{t}]" for t in TARGETS)
        )
    for type_name in TARGETS:
        table = settings.targets.get(type_name)
        if table is None:
            continue
        names = table_rules(type_name).names
        specs: dict[str, FieldSpec] = {}
        for key, raw in table.items():
            if key in TABLE_KEYS.get(type_name, ()):
                continue
            where = settings.where(type_name, key)
            if key not in names:
                extra = TABLE_KEYS.get(type_name, ())
                suggestion = _closest(key, [*names, *extra])
                raise SettingsError(
                    f"{where}: [{type_name}] has no field {key!r}{suggestion}; its fields are {', '.join(names)}"
                    + (f" (and {', '.join(extra)})" if extra else "")
                )
            specs[key] = _field(settings, type_name, key, raw, where)
        if not specs:
            raise SettingsError(f"{settings.where(type_name)}: [{type_name}] maps no field")
        plan.fields[type_name] = specs
    for specs in plan.fields.values():
        for spec in specs.values():
            if spec.kind == "field":
                _resolve(plan, spec, settings)
    order = settings.targets.get("order")
    if order is not None:
        plan.group_by = _group_by(settings, order, plan)
    user = settings.targets.get("user")
    if user is not None and "key" in user:
        spec = _field(settings, "user", "key", user["key"], settings.where("user", "key"))
        if spec.kind not in ("column", "columns"):
            raise SettingsError(f"{spec.where}: [user] key must name a column or columns of the export")
        plan.user_key = spec
    return plan


def _source_options(settings: Settings, plan: Plan) -> None:
    for key, value in settings.source.items():
        where = settings.where("source", key)
        if key not in SOURCE_KEYS:
            options = "; ".join(f"{k}: {v}" for k, v in SOURCE_KEYS.items())
            raise SettingsError(f"{where}: [source] has no option {key!r}; the mapping source reads {options}")
        if not isinstance(value, str):
            raise SettingsError(f"{where}: [source] {key} must be text, e.g. {key} = {SOURCE_KEYS[key]}")
    src = settings.source
    if "encoding" in src:
        try:
            name = codecs.lookup(src["encoding"]).name
        except LookupError:
            name = ""
        if name not in ENCODINGS:
            raise SettingsError(
                f"{settings.where('source', 'encoding')}: encoding {src['encoding']!r} cannot be read; "
                "the CSV reader reads UTF-8 and Windows-1254 (cp1254); save the file as UTF-8"
            )
        plan.encoding = ENCODINGS[name]
    if "delimiter" in src:
        if len(src["delimiter"]) != 1:
            raise SettingsError(f"{settings.where('source', 'delimiter')}: delimiter must be one character")
        plan.delimiter = src["delimiter"]
    if "date_order" in src:
        if src["date_order"] not in ("dmy", "mdy"):
            raise SettingsError(
                f"{settings.where('source', 'date_order')}: date_order must be dmy (31/12/2023) or mdy (12/31/2023)"
            )
        plan.date_order = src["date_order"]
    if "decimal_separator" in src:
        if src["decimal_separator"] not in (",", "."):
            raise SettingsError(
                f'{settings.where("source", "decimal_separator")}: decimal_separator must be "," or "."'
            )
        plan.decimal_separator = src["decimal_separator"]
    if "timezone" in src:
        try:
            ZoneInfo(src["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                f"{settings.where('source', 'timezone')}: unknown timezone {src['timezone']!r}; "
                "use an IANA name such as Europe/Istanbul"
            ) from None
        plan.timezone = src["timezone"]


def _closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f' (did you mean "{found[0]}"?)' if found else ""


def _field(settings: Settings, type_name: str, name: str, raw: Any, where: str) -> FieldSpec:
    spec = FieldSpec(type_name, name, "column", where=where, pick=DEFAULT_PICK.get(type_name, ""))
    if isinstance(raw, str):
        spec.columns = (raw,)
        return spec
    if not isinstance(raw, dict):
        raise SettingsError(
            f'{where}: {type_name}.{name} must be a column name ("Sipariş No") or a table such as '
            '{ column = "Sipariş No", normalise = "text" }'
        )
    unknown = [k for k in raw if k not in FIELD_KEYS]
    if unknown:
        raise SettingsError(
            f"{where}: {type_name}.{name}: unknown key {unknown[0]!r}{_closest(unknown[0], FIELD_KEYS)}; "
            f"a field table has {', '.join(FIELD_KEYS)}"
        )
    given = [k for k in SOURCES_OF_A_FIELD if k in raw]
    if len(given) != 1:
        what = "none" if not given else " and ".join(given)
        raise SettingsError(
            f"{where}: {type_name}.{name} needs exactly one of {', '.join(SOURCES_OF_A_FIELD)}; it has {what}"
        )
    spec.kind = given[0]
    source = raw[spec.kind]
    if spec.kind == "column":
        if not isinstance(source, str) or not source:
            raise SettingsError(f"{where}: {type_name}.{name}: column must be a column name")
        spec.columns = (source,)
    elif spec.kind in ("columns", "json"):
        if not isinstance(source, list) or not source or not all(isinstance(c, str) and c for c in source):
            raise SettingsError(f"{where}: {type_name}.{name}: {spec.kind} must be a list of column names")
        if len(set(source)) != len(source):
            raise SettingsError(f"{where}: {type_name}.{name}: {spec.kind} names a column twice")
        spec.columns = tuple(source)
    elif spec.kind == "value":
        if isinstance(source, bool):
            spec.value = "true" if source else "false"
        elif isinstance(source, (str, int, float)):
            spec.value = str(source)
        else:
            raise SettingsError(f"{where}: {type_name}.{name}: value must be text, a number or true/false")
    else:
        if not isinstance(source, str) or "." not in source:
            raise SettingsError(f'{where}: {type_name}.{name}: field must be "TYPE.FIELD", e.g. "user.customer_code"')
        ref_type, _, ref_name = source.partition(".")
        spec.ref = (ref_type, ref_name)
    if spec.kind in ("value", "field"):
        for key in ("normalise", "values", "join"):
            if key in raw:
                raise SettingsError(f"{where}: {type_name}.{name}: {key} does not apply to a {spec.kind}")
    steps = raw.get("normalise", [])
    if isinstance(steps, str):
        steps = [steps]
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise SettingsError(f"{where}: {type_name}.{name}: normalise must be a name or a list of names")
    for step in steps:
        if step not in NORMALISERS:
            raise SettingsError(
                f"{where}: {type_name}.{name}: unknown normaliser {step!r}{_closest(step, NORMALISERS)}; "
                f"normalisers are {', '.join(NORMALISERS)}"
            )
    spec.steps = tuple(steps)
    if "values" in raw:
        table = raw["values"]
        if not isinstance(table, str) or table not in settings.values:
            known = ", ".join(f"[values.{t}]" for t in settings.values) or "none"
            raise SettingsError(
                f"{where}: {type_name}.{name}: no value table {table!r} in the mapping file (value tables: {known})"
            )
        spec.table = table
    if "join" in raw:
        if spec.kind != "columns" or not isinstance(raw["join"], str):
            raise SettingsError(f"{where}: {type_name}.{name}: join is the text between the parts of columns = [...]")
        spec.join = raw["join"]
    if "on_error" in raw:
        if raw["on_error"] not in ("reject", "empty"):
            raise SettingsError(
                f"{where}: {type_name}.{name}: on_error must be reject (the row is rejected) or empty "
                "(the value is left empty with a warning)"
            )
        spec.on_error = raw["on_error"]
    if "leave_empty" in raw:
        reason = raw["leave_empty"]
        if reason is True:
            reason = "empty in some rows of the export"
        if not isinstance(reason, str) or not reason:
            raise SettingsError(
                f"{where}: {type_name}.{name}: leave_empty is the reason an empty value is expected "
                '(e.g. "cancelled orders have no tracking number") or true'
            )
        spec.leave_empty = reason
    if "pick" in raw:
        allowed = PICKS.get(type_name)
        if not allowed or raw["pick"] not in allowed:
            if not allowed:
                raise SettingsError(f"{where}: {type_name}.{name}: pick applies to [order] and [user] fields only")
            raise SettingsError(f"{where}: {type_name}.{name}: pick must be one of {', '.join(allowed)}")
        spec.pick = raw["pick"]
        if spec.pick == "sum" and "decimal" not in spec.steps:
            raise SettingsError(f'{where}: {type_name}.{name}: pick = "sum" needs normalise = "decimal"')
    return spec


def _resolve(plan: Plan, spec: FieldSpec, settings: Settings) -> None:
    """Point a ``field = "TYPE.FIELD"`` reference at the mapped field it copies (through references)."""
    seen = {spec.label}
    target = spec
    while target.kind == "field":
        ref_type, ref_name = target.ref  # type: ignore[misc]
        if ref_type not in TARGETS or ref_name not in table_rules(ref_type).names:
            raise SettingsError(f"{spec.where}: {spec.label}: field {ref_type}.{ref_name!r} is not a target field")
        found = plan.fields.get(ref_type, {}).get(ref_name)
        if found is None:
            raise SettingsError(
                f"{spec.where}: {spec.label} copies {ref_type}.{ref_name}, which the mapping does not map; "
                f"map [{ref_type}] {ref_name} or give this field a column"
            )
        if found.label in seen:
            raise SettingsError(f"{spec.where}: {spec.label}: the field references go round in a circle")
        seen.add(found.label)
        target = found
    spec.ref = (target.type, target.name)


def _group_by(settings: Settings, order: dict[str, Any], plan: Plan) -> tuple[str, ...] | None:
    if "group_by" in order:
        raw = order["group_by"]
        columns = [raw] if isinstance(raw, str) else raw
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
            raise SettingsError(
                f"{settings.where('order', 'group_by')}: group_by must be a column or a list of columns"
            )
        return tuple(columns)
    number = plan.fields["order"].get("number")
    if number is not None and number.kind == "column":
        return number.columns
    return None


# ------------------------------------------------------------------------------------------------
# Reading an input against the plan


def _header_map(plan: Plan, settings: Settings, path: Path, header: tuple[str, ...]) -> dict[str, str]:
    """Mapping column -> the export's header name; a column not in the header is an error with a suggestion.

    A header that differs only in spacing or Unicode composition (a trailing space, a decomposed
    ``ş``) still matches; a different spelling or case does not, and the closest header is named.
    """
    loose = {nz.text(h) or "": h for h in header}
    used = plan.columns() + [(c, settings.where("order", "group_by")) for c in plan.group_by or ()]
    out: dict[str, str] = {}
    for column, where in used:
        found = column if column in header else loose.get(nz.text(column) or "")
        if found is not None:
            out[column] = found
            continue
        folded = {nz.fold(h): h for h in header}
        close = difflib.get_close_matches(nz.fold(column), list(folded), n=1, cutoff=0.6)
        listed = ", ".join(header[:20]) + (f", … ({len(header):,} columns)" if len(header) > 20 else "")
        hint = f'; did you mean "{folded[close[0]]}"?' if close else f"; its columns are {listed}"
        raise SettingsError(f'{where}: column "{column}" is not in the header of {path}{hint}')
    return out


def _check_reading(plan: Plan, settings: Settings, path: Path, source: Any, draft: Draft) -> None:
    """The reader detects encoding and delimiter; a [source] that says otherwise is an error, not ignored."""
    if source.format != "csv":
        return
    fell_back = any(n.rule == "encoding" for n in source.notices)
    if plan.encoding == "utf-8" and fell_back:
        raise ReadError(
            f"{path}: [source] encoding = utf-8 in {plan.name}, but the file is not UTF-8 "
            "(it reads as Windows-1254); remove the encoding line or save the file as UTF-8"
        )
    if fell_back and plan.encoding is None:
        draft.notes.append(f"{path}: not UTF-8; read as Windows-1254 (cp1254)")
    if plan.delimiter is not None:
        with path.open(encoding="cp1254" if fell_back else "utf-8-sig", newline="") as handle:
            first_line = handle.readline()
        split_elsewhere = len(source.columns) > 1 and plan.delimiter not in first_line
        if split_elsewhere or any(plan.delimiter in c for c in source.columns):
            raise SettingsError(
                f"{settings.where('source', 'delimiter')}: delimiter {plan.delimiter!r}, but the header of {path} "
                "is not split on it (the CSV reader sniffs the delimiter from the header row; check the file)"
            )


def read(inputs: list[Path], settings: Settings) -> Draft:
    plan = compile_plan(settings)
    draft = Draft()
    for type_name, specs in plan.fields.items():
        for name in table_rules(type_name).names:
            spec = specs.get(name)
            if spec is not None and spec.leave_empty:
                draft.cannot_fill[(type_name, name)] = spec.leave_empty
            elif spec is None and table_rules(type_name).field(name).required:
                draft.cannot_fill[(type_name, name)] = f"not mapped in {plan.name}"
    rows: list[Row] = []
    for path in inputs:
        with reading(path, ReadError, SettingsError):
            source = open_source(path)
            _check_reading(plan, settings, path, source, draft)
            header = _header_map(plan, settings, path, source.columns)
            wanted = sorted(set(header.values()))
            for chunk in source.chunks:
                frame = chunk.data[wanted].fillna("") if wanted else chunk.data.iloc[:, :0]
                numbers = chunk.rows.tolist()
                broken = _broken_rows(chunk.notices, set(wanted))
                for n, record in zip(numbers, frame.to_dict("records"), strict=True):
                    origin = Origin(str(path), int(n))
                    draft.read.append(origin)
                    cells = {column: str(record[actual]) for column, actual in header.items()}
                    row = _evaluate(plan, settings, Row(origin, cells))
                    if int(n) in broken:
                        row.error = RowError("", "", broken[int(n)])
                    rows.append(row)
    _build(plan, rows, draft)
    return draft


def _broken_rows(notices: list[Notice], used: set[str]) -> dict[int, str]:
    """Rows the reader could not read faithfully, with why: a malformed row, an error cell in a used column.

    Such a row's values cannot be trusted (shifted by a stray delimiter, ``#N/A`` read as
    empty), so it is rejected with the reader's message rather than converted.
    """
    broken: dict[int, str] = {}
    for notice in notices:
        if notice.severity != "error" or notice.row is None:
            continue
        if notice.column is None or notice.column in used:
            broken.setdefault(int(notice.row), f"{notice.rule}: {notice.message}")
    return broken


# ------------------------------------------------------------------------------------------------
# One row: every mapped field's value, or the first error


def _step(step: str, value: str, plan: Plan, found: list[str] | None = None) -> str | None:
    if step == "text":
        return nz.text(value)
    if step == "decimal":
        amount = nz.decimal(value, decimal_separator=plan.decimal_separator)
        if amount is not None and amount.currency and found is not None:
            found.append(amount.currency)
        return amount.text if amount is not None else None
    if step == "date":
        return nz.date(value, order=plan.date_order, tz=plan.timezone)  # type: ignore[arg-type]
    if step == "phone":
        return nz.phone(value)
    if step == "boolean":
        flag = nz.boolean(value)
        return None if flag is None else ("true" if flag else "false")
    if step == "email":
        return nz.email(value)
    if step == "upper_tr":
        return nz.upper_tr(value)
    if step == "strip_marker":
        return nz.strip_marker(value)
    if step == "name-first":
        return split_name(value)[0] or None
    if step == "name-last":
        return split_name(value)[1] or None
    raise AssertionError(step)


def _cell(spec: FieldSpec, column: str, raw: str, plan: Plan, row: Row | None = None) -> str:
    value: str | None = nz.text(raw)
    found: list[str] = []
    for step in spec.steps:
        if value is None:
            break
        value = _step(step, value, plan, found)
    if row is not None:
        row.currencies += [(spec.name, column, code) for code in found]
    return value or ""


def _shown(value: str) -> str:
    return json.dumps(value if len(value) <= 60 else value[:59] + "…", ensure_ascii=False)


def _value(spec: FieldSpec, row: Row, plan: Plan, settings: Settings) -> str:
    if spec.kind == "value":
        return spec.value
    try:
        if spec.kind == "column":
            value = _cell(spec, spec.columns[0], row.cells[spec.columns[0]], plan, row)
        elif spec.kind == "columns":
            parts = [_cell(spec, c, row.cells[c], plan) for c in spec.columns]
            value = spec.join.join(p for p in parts if p)
        else:
            obj = {c: v for c in spec.columns if (v := _cell(spec, c, row.cells[c], plan))}
            value = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if obj else ""
    except nz.NormaliseError as exc:
        where = " / ".join(f'"{c}"' for c in spec.columns)
        reason = f"column {where}: {exc}"
        if spec.on_error == "empty":
            row.warnings.append((spec.type, spec.name, "value-dropped", f"{spec.name} left empty: {reason}"))
            return ""
        raise RowError(spec.type, spec.name, reason) from None
    if spec.table is not None and value:
        mapped = settings.value(spec.table, value)
        if mapped is None:
            known = settings.values[spec.table]
            listed = ", ".join(_shown(k) for k in islice(known, 12)) + (", …" if len(known) > 12 else "")
            reason = (
                f'column "{spec.columns[0]}": {_shown(value)} is not in [values.{spec.table}] of {plan.name} '
                f"(it has {listed}); add it there or with --map {spec.table}:FROM=TO"
            )
            if spec.on_error == "empty":
                row.warnings.append((spec.type, spec.name, "value-dropped", f"{spec.name} left empty: {reason}"))
                return ""
            raise RowError(spec.type, spec.name, reason)
        value = mapped
    return value


def _evaluate(plan: Plan, settings: Settings, row: Row) -> Row:
    try:
        for type_name, specs in plan.fields.items():
            row.values[type_name] = {n: _value(s, row, plan, settings) for n, s in specs.items() if s.kind != "field"}
        for type_name, specs in plan.fields.items():
            for name, spec in specs.items():
                if spec.kind == "field":
                    ref_type, ref_name = spec.ref  # type: ignore[misc]
                    row.values[type_name][name] = row.values[ref_type][ref_name]
        if plan.user_key is not None:
            row.values["user-key"] = {"key": _value(plan.user_key, row, plan, settings)}
        _currency_of_amounts(row)
    except RowError as exc:
        row.error = exc
    return row


def _currency_of_amounts(row: Row) -> None:
    """An order amount that names its currency (``€389,50``) fills an empty currency or must agree with it."""
    order = row.values.get("order")
    if order is None:
        return
    for name, column, code in row.currencies:
        if not order.get("currency"):
            order["currency"] = code
        elif order["currency"] != code:
            raise RowError(
                "order",
                "currency",
                f'column "{column}" ({name}) is in {code}, but the order\'s currency is {order["currency"]}; '
                "an amount in another currency is not converted",
            )


# ------------------------------------------------------------------------------------------------
# Groups of rows into records


def _build(plan: Plan, rows: list[Row], draft: Draft) -> None:
    groups: dict[tuple[str, ...], list[Row]] = {}
    singles = 0
    for row in rows:
        key: tuple[str, ...] | None = None
        if plan.group_by is not None:
            key = tuple(nz.text(row.cells[c]) or "" for c in plan.group_by)
            if not any(key):
                key = None
        if key is None:
            singles += 1
            key = ("", str(singles))  # a row of its own
        else:
            key = ("=", *key)
        groups.setdefault(key, []).append(row)
    users: dict[str, Record] = {}
    addresses: dict[tuple[str, ...], Record] = {}
    for key, members in groups.items():
        label = " / ".join(key[1:]) if key[0] == "=" else ""
        problem = _group_problem(plan, members, label)
        if problem is not None:
            _reject_group(draft, members, label, *problem)
            continue
        for row in members:
            for type_name, field_name, code, message in row.warnings:
                draft.warn(row.origin, type_name, field_name, code, message)
        # In an orders export the buyer and addresses are made on the side of the order rows: the
        # rows are accounted for by their order and items, not by the user they also name.
        side = "order" in plan.fields or "order_item" in plan.fields
        if "user" in plan.fields:
            # The buyer columns repeat on an order's rows: a row with an empty key adds no user of its
            # own unless no row of the order has one (then the record is made, and the rules say why
            # it cannot be written).
            keyed = [r for r in members if _user_key(plan, r)]
            for row in keyed or members[:1]:
                _fold_user(plan, row, users, draft, side)
        if "address" in plan.fields:
            for row in members:
                _fold_address(row, addresses, draft, side)
        order = None
        if "order" in plan.fields:
            merged = [] if "order_item" in plan.fields else [r.origin for r in members[1:]]
            values = _order_values(plan, members)
            order = draft.add(Record("order", _full("order", values), members[0].origin, merged))
        if "order_item" in plan.fields:
            for row in members:
                values = _full("order_item", row.values["order_item"])
                draft.add(Record("order_item", values, row.origin, parent=order))


def _full(type_name: str, values: dict[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in table_rules(type_name).names}


def _group_problem(plan: Plan, members: list[Row], label: str) -> tuple[Row, RowError] | None:
    for row in members:
        if row.error is not None:
            return row, row.error
    if "order" not in plan.fields or len(members) == 1:
        return None
    for name, spec in plan.fields["order"].items():
        if spec.pick != "same":
            continue
        first: Row | None = None
        for row in members:
            value = row.values["order"][name]
            if not value:
                continue
            if first is None:
                first = row
            elif value != first.values["order"][name]:
                source = _source_text(spec, plan)
                return row, RowError(
                    "order",
                    name,
                    f"{source} is {_raw(spec, row)} on row {row.origin.row} but {_raw(spec, first)} on row "
                    f"{first.origin.row}; the columns of order {label!r} must agree on all its rows "
                    f"(or set pick for order.{name} in {plan.name})",
                )
    return None


def _source_text(spec: FieldSpec, plan: Plan) -> str:
    if spec.kind == "field":
        ref = plan.fields[spec.ref[0]][spec.ref[1]]  # type: ignore[index]
        return _source_text(ref, plan)
    if len(spec.columns) == 1:
        return f'column "{spec.columns[0]}"'
    return "columns " + ", ".join(f'"{c}"' for c in spec.columns)


def _raw(spec: FieldSpec, row: Row) -> str:
    if spec.kind == "column":
        return _shown(row.cells[spec.columns[0]])
    return _shown(row.values[spec.type][spec.name])


def _reject_group(draft: Draft, members: list[Row], label: str, culprit: Row, error: RowError) -> None:
    for row in members:
        if row is culprit:
            draft.reject(row.origin, error.type, error.field, error.reason)
        elif row.error is not None:
            draft.reject(row.origin, row.error.type, row.error.field, row.error.reason)
        else:
            draft.reject(
                row.origin,
                "order",
                error.field if error.type == "order" else "",
                f"order {label!r} was rejected because of row {culprit.origin.row}: {error.reason}",
            )


def _magnitude(value: str) -> tuple[int, Any]:
    """Order values by what they mean: amounts as numbers, date-times as UTC instants, else as text.

    ``9.50`` is less than ``10.00`` and ``10:00+03:00`` is earlier than ``08:30+01:00``, which
    comparing the text gets wrong.
    """
    try:
        return (0, Decimal(value))
    except InvalidOperation:
        pass
    try:
        moment = _dt.datetime.fromisoformat(value)
    except ValueError:
        return (2, value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.UTC).replace(tzinfo=None)
    return (1, moment)


def _combine(pick: str, values: list[str]) -> str:
    present = [v for v in values if v]
    if not present:
        return ""
    if pick in ("same", "first"):
        return present[0]
    if pick == "last":
        return present[-1]
    if pick == "min":
        return min(present, key=_magnitude)
    if pick == "max":
        return max(present, key=_magnitude)
    try:
        total = sum((Decimal(v) for v in present), Decimal(0))
    except InvalidOperation:
        return present[0]
    return str(total)


def _order_values(plan: Plan, members: list[Row]) -> dict[str, str]:
    return {
        name: _combine(spec.pick, [r.values["order"][name] for r in members])
        for name, spec in plan.fields["order"].items()
    }


def _user_key(plan: Plan, row: Row) -> str:
    return row.values["user-key"]["key"] if plan.user_key is not None else row.values["user"].get("customer_code", "")


def _fold_user(plan: Plan, row: Row, users: dict[str, Record], draft: Draft, side: bool = False) -> None:
    values = row.values["user"]
    key = _user_key(plan, row)
    folded = nz.email(key) or "" if key else ""  # keys are matched like emails: I and İ both as i
    user = users.get(folded) if folded else None
    if user is None:
        record = draft.add(Record("user", _full("user", values), row.origin, primary=not side))
        if folded:
            users[folded] = record
        return
    # Each row is folded once, so a repeat can only be the last one added: checking the list's tail
    # keeps a user of 100,000 rows linear (``in`` on the whole list made it quadratic).
    if not side and row.origin != user.origin and user.merged[-1:] != [row.origin]:
        user.merged.append(row.origin)
    for name, spec in plan.fields["user"].items():
        new, old = values.get(name, ""), user.values.get(name, "")
        if not new or new == old:
            continue
        if not old:
            user.values[name] = new
        elif spec.pick == "first":
            if nz.fold(new) != nz.fold(old):
                draft.warn(
                    row.origin,
                    "user",
                    name,
                    "user-values-differ",
                    f"user {key!r}: {name} {_shown(new)} differs from {_shown(old)} kept from {user.origin.where()}",
                )
        else:
            user.values[name] = _combine(spec.pick, [old, new])


def _fold_address(row: Row, addresses: dict[tuple[str, ...], Record], draft: Draft, side: bool = False) -> None:
    values = _full("address", row.values["address"])
    key = tuple(nz.fold(v) for v in values.values())
    seen = addresses.get(key)
    if seen is None:
        addresses[key] = draft.add(Record("address", values, row.origin, primary=not side))
    elif not side and row.origin != seen.origin and seen.merged[-1:] != [row.origin]:
        seen.merged.append(row.origin)
