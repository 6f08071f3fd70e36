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
import fnmatch
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimig.exceptions import ReadError, TransformError
from omnimig.i18n import _, ngettext, number
from omnimig.io import open_source
from omnimig.schemas.rules import table_rules
from omnimig.transforms import core
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
SOURCES_OF_A_FIELD = ("column", "columns", "json", "value", "field", "part")
FIELD_KEYS = (
    *SOURCES_OF_A_FIELD,
    "normalise",
    "values",
    "join",
    "on_error",
    "leave_empty",
    "pick",
    "default",
    "when",
    "divide_by",
)
#: Keys an entry of ``json = { KEY = ... }`` may have: a field's way of reading, without the
#: record-level ones (a reference, a pick, a conditional default, a cannot-fill reason).
ENTRY_KEYS = ("column", "columns", "value", "part", "normalise", "values", "join", "on_error", "default")
#: Keys of a per-type table that are not target fields.
TABLE_KEYS = {"order": ("group_by",), "user": ("key",), "order_item": ("packed",)}
PACKED_KEYS = ("columns", "separator", "key_separator")
#: How the rows of one group (an order) or of one folded user combine a field's values.
PICKS = {"order": ("same", "first", "last", "min", "max", "sum"), "user": ("first", "last", "min", "max")}
DEFAULT_PICK = {"order": "same", "user": "first"}


@dataclass
class FieldSpec:
    """Where one target field comes from, compiled from the mapping file."""

    type: str
    name: str
    kind: str  # one of SOURCES_OF_A_FIELD, or "default" (no source: only a default)
    columns: tuple[str, ...] = ()  # as in the export's header (resolved per input); fallbacks for "column"
    parts: tuple[str, ...] = ()  # kind "part": keys of a packed item cell, first non-empty wins
    value: str = ""  # the constant of kind "value"
    ref: tuple[str, str] | None = None  # (type, field) of kind "field"
    steps: tuple[str, ...] = ()
    table: str | None = None
    join: str = " "
    on_error: str = "reject"
    leave_empty: str | None = None
    pick: str = ""
    where: str = ""
    table_key: str = ""  # "address.billing" for a named address table; the type otherwise
    default: str | None = None
    when: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (field, accepted values): all must hold
    entries: dict[str, FieldSpec] | None = None  # json = { KEY = field }: each entry read like a field
    divide_by: str | None = None  # another field of the record: a line total over its quantity
    # The change line of a value-table lookup, translated once when the mapping is compiled: it is
    # made for every mapped value of every row (counted; listed with --explain).
    mapped_note: str = ""

    @property
    def label(self) -> str:
        return f"{self.table_key or self.type}.{self.name}"


@dataclass
class Packed:
    """Line items packed into cells (``order_item_1`` = ``name:…|sku:…|quantity:…|total:…``)."""

    columns: tuple[str, ...] | str  # a list of columns, or a glob such as "order_item_*"
    separator: str = "|"
    key_separator: str = ":"
    where: str = ""


@dataclass
class Plan:
    fields: dict[str, dict[str, FieldSpec]]  # table key ("address.billing" or the type) -> field -> spec
    group_by: tuple[str, ...] | None  # order grouping columns
    user_key: FieldSpec | None
    packed: Packed | None = None
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
                for entry in (spec.entries or {}).values():
                    out += [(c, entry.where) for c in entry.columns]
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
    error: RowError | None = None  # the row itself cannot be read (a broken CSV row): it makes no record
    # Values that cannot be read, per table key (``order``, ``user``, ``address.billing``,
    # ``order_item`` or ``order_item#LINE`` for a packed line): each rejects only its own record.
    errors: dict[str, list[RowError]] = field(default_factory=dict)
    warnings: list[tuple[str, str, str, str, str, str]] = field(
        default_factory=list
    )  # table key (``order_item#2`` for a packed line), field, code, message, before, after
    # Currencies written into amounts (``€389,50``, ``1.234,56 TL``): field, column, code.
    currencies: list[tuple[str, str, str, str]] = field(default_factory=list)  # + the table key it was read for
    table: str = ""  # the table key being read (``_fill`` sets it), so a currency is filed under its record
    packed: list[tuple[str, str]] = field(default_factory=list)  # (column, cell) of packed item columns
    items: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # (line, item values)


# ------------------------------------------------------------------------------------------------
# Compiling the mapping file


def compile_plan(settings: Settings) -> Plan:
    """Check the mapping strictly and turn it into a plan; every error names the file and line."""
    if settings.path is None:
        raise SettingsError(
            _(
                "the mapping source needs --mapping FILE: a TOML file saying which export column "
                "feeds which target field (see docs/mapping.md and the examples in "
                "omnimig/transforms/mappings/)"
            )
        )
    plan = Plan(fields={}, group_by=None, user_key=None, name=settings.path.name)
    _source_options(settings, plan)
    if not settings.targets:
        raise SettingsError(
            _("{file}: the mapping feeds no target type; add at least one of {tables}").format(
                file=settings.path, tables=", ".join(f"[{t}]" for t in TARGETS)
            )
        )
    for type_name in TARGETS:
        table = settings.targets.get(type_name)
        if table is None:
            continue
        for table_key, fields in _tables(settings, type_name, table):
            plan.fields[table_key] = _table(settings, type_name, table_key, fields)
    if "order_item" in settings.targets and "packed" in settings.targets["order_item"]:
        plan.packed = _packed(settings, settings.targets["order_item"]["packed"])
    for specs in plan.fields.values():
        for spec in specs.values():
            if spec.kind == "field":
                _resolve(plan, spec, settings)
            _check_when(plan, spec, settings)
    _check_parts(plan, settings)
    order = settings.targets.get("order")
    if order is not None:
        plan.group_by = _group_by(settings, order, plan)
    user = settings.targets.get("user")
    if user is not None and "key" in user:
        spec = _field(settings, "user", "key", user["key"], settings.where("user", "key"))
        if spec.kind not in ("column", "columns"):
            raise SettingsError(
                _("{where}: [user] key must name a column or columns of the export").format(where=spec.where)
            )
        plan.user_key = spec
    return plan


def _tables(settings: Settings, type_name: str, table: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``[address]`` is one table of fields, or named tables (``[address.billing]``, ``[address.shipping]``).

    A key that is not a field name and holds a table without a field's keys is a named table;
    mixing the two forms is an error, so a misspelt field is never taken for a table name.
    """
    if type_name != "address":
        return [(type_name, table)]
    names = table_rules(type_name).names
    named = {
        k: v
        for k, v in table.items()
        if k not in names and isinstance(v, dict) and not any(key in FIELD_KEYS for key in v)
    }
    if not named:
        return [(type_name, table)]
    fields = [k for k in table if k not in named]
    if fields:
        raise SettingsError(
            _(
                "{where}: [address] has the field {field} and the named address tables {listed}; with "
                "several addresses put every field in a named table"
            ).format(
                where=settings.where(type_name, fields[0]),
                field=repr(fields[0]),
                listed=", ".join(f"[address.{n}]" for n in named),
            )
        )
    for name in named:
        if not name.isidentifier():
            raise SettingsError(
                _(
                    "{where}: [address.{name}]: an address table is named with letters, digits and _ "
                    "(e.g. [address.billing], [address.shipping])"
                ).format(where=settings.where(f"address.{name}"), name=name)
            )
    return [(f"address.{name}", fields_) for name, fields_ in named.items()]


def _table(settings: Settings, type_name: str, table_key: str, table: dict[str, Any]) -> dict[str, FieldSpec]:
    names = table_rules(type_name).names
    specs: dict[str, FieldSpec] = {}
    for key, raw in table.items():
        if table_key == type_name and key in TABLE_KEYS.get(type_name, ()):
            continue
        where = settings.where(table_key, key)
        if key not in names:
            extra = TABLE_KEYS.get(type_name, ()) if table_key == type_name else ()
            suggestion = _closest(key, [*names, *extra])
            raise SettingsError(
                _("{where}: [{table}] has no field {key}{suggestion}; its fields are {fields}").format(
                    where=where, table=table_key, key=repr(key), suggestion=suggestion, fields=", ".join(names)
                )
                + (_(" (and {keys})").format(keys=", ".join(extra)) if extra else "")
            )
        spec = _field(settings, type_name, key, raw, where)
        spec.table_key = table_key
        specs[key] = spec
    if not specs:
        raise SettingsError(
            _("{where}: [{table_key}] maps no field").format(where=settings.where(table_key), table_key=table_key)
        )
    return specs


def _packed(settings: Settings, raw: Any) -> Packed:
    where = settings.where("order_item", "packed")
    example = '{ columns = "order_item_*", separator = "|", key_separator = ":" }'
    if not isinstance(raw, dict):
        raise SettingsError(
            _("{where}: [order_item] packed must be a table such as {example}").format(where=where, example=example)
        )
    unknown = [k for k in raw if k not in PACKED_KEYS]
    if unknown:
        raise SettingsError(
            _("{where}: [order_item] packed: unknown key {unknown}{suggestion}; packed has {listed}").format(
                where=where,
                unknown=repr(unknown[0]),
                suggestion=_closest(unknown[0], PACKED_KEYS),
                listed=", ".join(PACKED_KEYS),
            )
        )
    columns = raw.get("columns")
    if isinstance(columns, list):
        if not columns or not all(isinstance(c, str) and c for c in columns) or len(set(columns)) != len(columns):
            raise SettingsError(
                _("{where}: [order_item] packed columns must name each column once").format(where=where)
            )
        packed = Packed(tuple(columns), where=where)
    elif isinstance(columns, str) and columns:
        packed = Packed(columns, where=where)
    else:
        raise SettingsError(
            _(
                '{where}: [order_item] packed needs columns: a list of columns or a pattern such as "order_item_*"'
            ).format(where=where)
        )
    for key in ("separator", "key_separator"):
        if key in raw:
            value = raw[key]
            if not isinstance(value, str) or not value or value.strip() != value:
                raise SettingsError(
                    _('{where}: [order_item] packed {key} must be text without outer spaces, e.g. "|"').format(
                        where=where, key=key
                    )
                )
            setattr(packed, key, value)
    if packed.separator == packed.key_separator:
        raise SettingsError(
            _("{where}: [order_item] packed separator and key_separator must differ").format(where=where)
        )
    return packed


def _check_parts(plan: Plan, settings: Settings) -> None:
    """``part`` reads a packed item cell: only in [order_item], only with packed, and packed needs a part."""
    uses = [s for specs in plan.fields.values() for s in specs.values() for s in [s, *(s.entries or {}).values()]]
    parts = [s for s in uses if s.kind == "part"]
    for spec in parts:
        if spec.type != "order_item":
            raise SettingsError(
                _("{where}: {label}: part reads a packed item cell; only [order_item] has them").format(
                    where=spec.where, label=spec.label
                )
            )
        if plan.packed is None:
            raise SettingsError(
                _(
                    "{where}: {label}: part needs packed in [order_item], e.g. packed = {{ columns = "
                    '"order_item_*", separator = "|", key_separator = ":" }}'
                ).format(where=spec.where, label=spec.label)
            )
    if plan.packed is not None and not parts:
        raise SettingsError(
            _("{where}: [order_item] packed is set but no field reads a part of it").format(where=plan.packed.where)
        )
    if plan.packed is not None:
        for specs in plan.fields.values():
            for spec in specs.values():
                if spec.kind == "field" and spec.type != "order_item" and spec.ref and spec.ref[0] == "order_item":
                    raise SettingsError(
                        _("{where}: {label} copies an [order_item] field, but packed items are many per row").format(
                            where=spec.where, label=spec.label
                        )
                    )


def _check_when(plan: Plan, spec: FieldSpec, settings: Settings) -> None:
    """A ``when`` names fields of the same table, with values the field can hold (a typo is caught here)."""
    specs = plan.fields[spec.table_key]
    if spec.divide_by is not None and (spec.divide_by == spec.name or spec.divide_by not in specs):
        mapped = ", ".join(n for n in specs if n != spec.name)
        raise SettingsError(
            _(
                "{where}: {label}: divide_by names {divide_by}, which is not another mapped field of "
                "[{table}] (it maps {mapped})"
            ).format(
                where=spec.where, label=spec.label, divide_by=repr(spec.divide_by), table=spec.table_key, mapped=mapped
            )
        )
    for name, wanted in spec.when:
        other = specs.get(name)
        if other is None or name == spec.name:
            mapped = ", ".join(n for n in specs if n != spec.name)
            raise SettingsError(
                _(
                    "{where}: {label}: when names {name}, which is not another mapped field of [{table}] "
                    "(it maps {mapped})"
                ).format(where=spec.where, label=spec.label, name=repr(name), table=spec.table_key, mapped=mapped)
            )
        if other.table is not None:
            gives = list(dict.fromkeys(settings.values[other.table].values()))
            folded = {nz.fold(g) for g in gives}
            wrong = [w for w in wanted if w and nz.fold(w) not in folded]
            if wrong:
                raise SettingsError(
                    _(
                        "{where}: {label}: when {name} = {value}, but [values.{table}] never gives that value "
                        "(it gives {listed})"
                    ).format(
                        where=spec.where,
                        label=spec.label,
                        name=name,
                        value=_shown(wrong[0]),
                        table=other.table,
                        listed=", ".join(_shown(g) for g in gives[:12]),
                    )
                )


def _source_options(settings: Settings, plan: Plan) -> None:
    for key, value in settings.source.items():
        where = settings.where("source", key)
        if key not in SOURCE_KEYS:
            options = "; ".join(f"{k}: {v}" for k, v in SOURCE_KEYS.items())
            raise SettingsError(
                _("{where}: [source] has no option {key}; the mapping source reads {options}").format(
                    where=where, key=repr(key), options=options
                )
            )
        if not isinstance(value, str):
            raise SettingsError(
                _("{where}: [source] {key} must be text, e.g. {key} = {example}").format(
                    where=where, key=key, example=SOURCE_KEYS[key]
                )
            )
    src = settings.source
    if "encoding" in src:
        try:
            name = codecs.lookup(src["encoding"]).name
        except LookupError:
            name = ""
        if name not in ENCODINGS:
            raise SettingsError(
                _(
                    "{where}: encoding {encoding} cannot be read; the CSV reader reads UTF-8 and "
                    "Windows-1254 (cp1254); save the file as UTF-8"
                ).format(where=settings.where("source", "encoding"), encoding=repr(src["encoding"]))
            )
        plan.encoding = ENCODINGS[name]
    if "delimiter" in src:
        if len(src["delimiter"]) != 1:
            raise SettingsError(
                _("{where}: delimiter must be one character").format(where=settings.where("source", "delimiter"))
            )
        plan.delimiter = src["delimiter"]
    if "date_order" in src:
        if src["date_order"] not in ("dmy", "mdy"):
            raise SettingsError(
                _("{where}: date_order must be dmy (31/12/2023) or mdy (12/31/2023)").format(
                    where=settings.where("source", "date_order")
                )
            )
        plan.date_order = src["date_order"]
    if "decimal_separator" in src:
        if src["decimal_separator"] not in (",", "."):
            raise SettingsError(
                _('{where}: decimal_separator must be "," or "."').format(
                    where=settings.where("source", "decimal_separator")
                )
            )
        plan.decimal_separator = src["decimal_separator"]
    if "timezone" in src:
        try:
            ZoneInfo(src["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(
                _("{where}: unknown timezone {timezone}; use an IANA name such as Europe/Istanbul").format(
                    where=settings.where("source", "timezone"), timezone=repr(src["timezone"])
                )
            ) from None
        plan.timezone = src["timezone"]


def _closest(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return _(' (did you mean "{name}"?)').format(name=found[0]) if found else ""


def _constant(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _field(
    settings: Settings, type_name: str, name: str, raw: Any, where: str, keys: tuple[str, ...] = FIELD_KEYS
) -> FieldSpec:
    spec = FieldSpec(type_name, name, "column", where=where, pick=DEFAULT_PICK.get(type_name, ""))
    if isinstance(raw, str):
        spec.columns = (raw,)
        return spec
    if not isinstance(raw, dict):
        raise SettingsError(
            _(
                '{where}: {type}.{name} must be a column name ("Sipariş No") or a table such as {{ '
                'column = "Sipariş No", normalise = "text" }}'
            ).format(where=where, type=type_name, name=name)
        )
    unknown = [k for k in raw if k not in keys]
    if unknown:
        raise SettingsError(
            _("{where}: {type}.{name}: unknown key {unknown}{suggestion}; a field table has {listed}").format(
                where=where,
                type=type_name,
                name=name,
                unknown=repr(unknown[0]),
                suggestion=_closest(unknown[0], keys),
                listed=", ".join(keys),
            )
        )
    sources = [k for k in SOURCES_OF_A_FIELD if k in keys]
    given = [k for k in sources if k in raw]
    if len(given) > 1 or (not given and "default" not in raw):
        what = _("none") if not given else _(" and ").join(given)
        raise SettingsError(
            _("{where}: {type}.{name} needs exactly one of {listed} (or only a default); it has {what}").format(
                where=where, type=type_name, name=name, listed=", ".join(sources), what=what
            )
        )
    spec.kind = given[0] if given else "default"
    source = raw.get(spec.kind)
    if spec.kind in ("column", "part"):
        listed = [source] if isinstance(source, str) else source
        if not isinstance(listed, list) or not listed or not all(isinstance(c, str) and c for c in listed):
            what = _("a column name") if spec.kind == "column" else _('the key of a packed item part, e.g. "sku"')
            raise SettingsError(
                _("{where}: {type}.{name}: {kind} must be {what}, or a list of them (the first non-empty wins)").format(
                    where=where, type=type_name, name=name, kind=spec.kind, what=what
                )
            )
        if len(set(listed)) != len(listed):
            raise SettingsError(
                _("{where}: {type}.{name}: {kind} names {listed} twice").format(
                    where=where, type=type_name, name=name, kind=spec.kind, listed=repr(listed[0])
                )
            )
        if spec.kind == "column":
            spec.columns = tuple(listed)
        else:
            spec.parts = tuple(listed)
    elif spec.kind == "json" and isinstance(source, dict):
        if not source:
            raise SettingsError(
                _("{where}: {type}.{name}: json must name at least one entry").format(
                    where=where, type=type_name, name=name
                )
            )
        spec.entries = {}
        for key, entry in source.items():
            line = settings.line_of(type_name, key) if settings.line_of(type_name, name) is None else None
            entry_where = _("{file} line {line}").format(file=settings.path, line=line) if line else where
            spec.entries[key] = _field(settings, type_name, f"{name}.{key}", entry, entry_where, ENTRY_KEYS)
    elif spec.kind in ("columns", "json"):
        if not isinstance(source, list) or not source or not all(isinstance(c, str) and c for c in source):
            raise SettingsError(
                (
                    _("{where}: {type}.{name}: {kind} must be a list of column names or a table of KEY = field")
                    if spec.kind == "json"
                    else _("{where}: {type}.{name}: {kind} must be a list of column names")
                ).format(where=where, type=type_name, name=name, kind=spec.kind)
            )
        if len(set(source)) != len(source):
            raise SettingsError(
                _("{where}: {type}.{name}: {kind} names a column twice").format(
                    where=where, type=type_name, name=name, kind=spec.kind
                )
            )
        spec.columns = tuple(source)
    elif spec.kind == "value":
        constant = _constant(source)
        if constant is None:
            raise SettingsError(
                _("{where}: {type}.{name}: value must be text, a number or true/false").format(
                    where=where, type=type_name, name=name
                )
            )
        spec.value = constant
    elif spec.kind == "field":
        if not isinstance(source, str) or "." not in source:
            raise SettingsError(
                _('{where}: {type}.{name}: field must be "TYPE.FIELD", e.g. "user.customer_code"').format(
                    where=where, type=type_name, name=name
                )
            )
        ref_table, _dot, ref_name = source.rpartition(".")
        spec.ref = (ref_table, ref_name)
    if spec.kind in ("value", "field", "default"):
        for key in ("normalise", "values", "join"):
            if key in raw:
                raise SettingsError(
                    _("{where}: {type}.{name}: {key} does not apply to a {kind}").format(
                        where=where, type=type_name, name=name, key=key, kind=spec.kind
                    )
                )
    steps = raw.get("normalise", [])
    if isinstance(steps, str):
        steps = [steps]
    if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
        raise SettingsError(
            _("{where}: {type}.{name}: normalise must be a name or a list of names").format(
                where=where, type=type_name, name=name
            )
        )
    for step in steps:
        if step not in NORMALISERS:
            raise SettingsError(
                _("{where}: {type}.{name}: unknown normaliser {step}{suggestion}; normalisers are {listed}").format(
                    where=where,
                    type=type_name,
                    name=name,
                    step=repr(step),
                    suggestion=_closest(step, NORMALISERS),
                    listed=", ".join(NORMALISERS),
                )
            )
    spec.steps = tuple(steps)
    if "values" in raw:
        table = raw["values"]
        if not isinstance(table, str) or table not in settings.values:
            known = ", ".join(f"[values.{t}]" for t in settings.values) or _("none")
            raise SettingsError(
                _("{where}: {type}.{name}: no value table {table} in the mapping file (value tables: {known})").format(
                    where=where, type=type_name, name=name, table=repr(table), known=known
                )
            )
        spec.table = table
        spec.mapped_note = _("{field} mapped by [values.{table}]").format(field=spec.name, table=table)
    if spec.entries is not None:
        for key in ("normalise", "values"):
            if key in raw:
                raise SettingsError(
                    _(
                        "{where}: {type}.{name}: with json = {{ KEY = ... }}, give {key} to each entry that needs it"
                    ).format(where=where, type=type_name, name=name, key=key)
                )
    if "join" in raw:
        if spec.kind != "columns" or not isinstance(raw["join"], str):
            raise SettingsError(
                _("{where}: {type}.{name}: join is the text between the parts of columns = [...]").format(
                    where=where, type=type_name, name=name
                )
            )
        spec.join = raw["join"]
    if "on_error" in raw:
        if raw["on_error"] not in ("reject", "empty"):
            raise SettingsError(
                _(
                    "{where}: {type}.{name}: on_error must be reject (the row is rejected) or empty (the "
                    "value is left empty with a warning)"
                ).format(where=where, type=type_name, name=name)
            )
        spec.on_error = raw["on_error"]
    if "default" in raw:
        default = _constant(raw["default"])
        if default is None or default == "":
            raise SettingsError(
                _("{where}: {type}.{name}: default must be non-empty text, a number or true/false").format(
                    where=where, type=type_name, name=name
                )
            )
        if spec.kind == "value":
            raise SettingsError(
                _("{where}: {type}.{name}: a constant needs no default").format(where=where, type=type_name, name=name)
            )
        spec.default = default
    if "when" in raw:
        spec.when = _when(raw["when"], f"{where}: {type_name}.{name}")
        if spec.default is None:
            raise SettingsError(
                _("{where}: {type}.{name}: when says when the default applies; add default = ...").format(
                    where=where, type=type_name, name=name
                )
            )
    if "divide_by" in raw:
        if not isinstance(raw["divide_by"], str) or "decimal" not in spec.steps:
            raise SettingsError(
                _(
                    '{where}: {type}.{name}: divide_by names another field of the table (e.g. "quantity") '
                    'and needs normalise = "decimal"'
                ).format(where=where, type=type_name, name=name)
            )
        spec.divide_by = raw["divide_by"]
    if "leave_empty" in raw:
        reason = raw["leave_empty"]
        if reason is True:
            reason = _("empty in some rows of the export")
        if not isinstance(reason, str) or not reason:
            raise SettingsError(
                _(
                    "{where}: {type}.{name}: leave_empty is the reason an empty value is expected (e.g. "
                    '"cancelled orders have no tracking number") or true'
                ).format(where=where, type=type_name, name=name)
            )
        spec.leave_empty = reason
    if "pick" in raw:
        allowed = PICKS.get(type_name)
        if not allowed or raw["pick"] not in allowed:
            if not allowed:
                raise SettingsError(
                    _("{where}: {type}.{name}: pick applies to [order] and [user] fields only").format(
                        where=where, type=type_name, name=name
                    )
                )
            raise SettingsError(
                _("{where}: {type}.{name}: pick must be one of {listed}").format(
                    where=where, type=type_name, name=name, listed=", ".join(allowed)
                )
            )
        spec.pick = raw["pick"]
        if spec.pick == "sum" and "decimal" not in spec.steps:
            raise SettingsError(
                _('{where}: {type}.{name}: pick = "sum" needs normalise = "decimal"').format(
                    where=where, type=type_name, name=name
                )
            )
    return spec


def _when(raw: Any, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    example = 'when = { payment_type = "pay_on_delivery" }'
    if not isinstance(raw, dict) or not raw:
        raise SettingsError(
            _("{where}: when must be a table of FIELD = value (or a list of values), e.g. {example}").format(
                where=where, example=example
            )
        )
    out = []
    for name, wanted in raw.items():
        listed = wanted if isinstance(wanted, list) else [wanted]
        values = [_constant(v) for v in listed]
        if not values or any(v is None for v in values):
            raise SettingsError(
                _("{where}: when {name} must be a value or a list of values, e.g. {example}").format(
                    where=where, name=name, example=example
                )
            )
        out.append((name, tuple(v for v in values if v is not None)))
    return tuple(out)


def _resolve(plan: Plan, spec: FieldSpec, settings: Settings) -> None:
    """Point a ``field = "TYPE.FIELD"`` reference at the mapped field it copies (through references)."""
    seen = {spec.label}
    target = spec
    while target.kind == "field":
        ref_type, ref_name = target.ref  # type: ignore[misc]
        base = ref_type.partition(".")[0]
        if base not in TARGETS or ref_name not in table_rules(base).names:
            raise SettingsError(
                _("{where}: {label}: field {ref_type}.{ref_name} is not a target field").format(
                    where=spec.where, label=spec.label, ref_type=ref_type, ref_name=repr(ref_name)
                )
            )
        found = plan.fields.get(ref_type, {}).get(ref_name)
        if found is None:
            raise SettingsError(
                _(
                    "{where}: {label} copies {ref_type}.{ref_name}, which the mapping does not map; map "
                    "[{ref_type}] {ref_name} or give this field a column"
                ).format(where=spec.where, label=spec.label, ref_type=ref_type, ref_name=ref_name)
            )
        if found.label in seen:
            raise SettingsError(
                _("{where}: {label}: the field references go round in a circle").format(
                    where=spec.where, label=spec.label
                )
            )
        seen.add(found.label)
        target = found
    spec.ref = (target.table_key, target.name)


def _group_by(settings: Settings, order: dict[str, Any], plan: Plan) -> tuple[str, ...] | None:
    if "group_by" in order:
        raw = order["group_by"]
        columns = [raw] if isinstance(raw, str) else raw
        if not isinstance(columns, list) or not columns or not all(isinstance(c, str) and c for c in columns):
            raise SettingsError(
                _("{where}: group_by must be a column or a list of columns").format(
                    where=settings.where("order", "group_by")
                )
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
        listed = ", ".join(header[:20])
        if len(header) > 20:
            listed += _(", … ({n} columns)").format(n=number(len(header)))
        hint = (
            _('; did you mean "{column}"?').format(column=folded[close[0]])
            if close
            else _("; its columns are {listed}").format(listed=listed)
        )
        raise SettingsError(
            _('{where}: column "{column}" is not in the header of {path}{hint}').format(
                where=where, column=column, path=path, hint=hint
            )
        )
    return out


def _check_reading(plan: Plan, settings: Settings, path: Path, source: Any, draft: Draft) -> None:
    """The reader detects encoding and delimiter; a [source] that says otherwise is an error, not ignored."""
    if source.format != "csv":
        return
    fell_back = any(n.rule == "encoding" for n in source.notices)
    if plan.encoding == "utf-8" and fell_back:
        raise ReadError(
            _(
                "{file}: [source] encoding = utf-8 in {mapping}, but the file is not UTF-8 "
                "(it reads as Windows-1254); remove the encoding line or save the file as UTF-8"
            ).format(file=path, mapping=plan.name)
        )
    if fell_back and plan.encoding is None:
        draft.notes.append(_("{file}: not UTF-8; read as Windows-1254 (cp1254)").format(file=path))
    if plan.delimiter is not None:
        with path.open(encoding="cp1254" if fell_back else "utf-8-sig", newline="") as handle:
            first_line = handle.readline()
        split_elsewhere = len(source.columns) > 1 and plan.delimiter not in first_line
        if split_elsewhere or any(plan.delimiter in c for c in source.columns):
            raise SettingsError(
                _(
                    "{where}: delimiter {delimiter}, but the header of {path} is not split on it (the CSV "
                    "reader sniffs the delimiter from the header row; check the file)"
                ).format(where=settings.where("source", "delimiter"), delimiter=repr(plan.delimiter), path=path)
            )


def read(inputs: list[Path], settings: Settings) -> Draft:
    plan = compile_plan(settings)
    draft = Draft(explain=settings.explain, timezone=plan.timezone)
    for table_key, specs in plan.fields.items():
        type_name = table_key.partition(".")[0]
        for name in table_rules(type_name).names:
            spec = specs.get(name)
            if spec is not None and spec.leave_empty:
                draft.cannot_fill[(type_name, name)] = spec.leave_empty
            elif spec is None and table_rules(type_name).field(name).required:
                draft.cannot_fill[(type_name, name)] = _("not mapped in {file}").format(file=plan.name)
    rows: list[Row] = []
    for path in inputs:
        with reading(path, ReadError, SettingsError):
            source = open_source(path)
            _check_reading(plan, settings, path, source, draft)
            header = _header_map(plan, settings, path, source.columns)
            packed = _packed_columns(plan, path, source.columns)
            wanted = sorted(set(header.values()) | set(packed))
            for chunk in source.chunks:
                frame = chunk.data[wanted].fillna("") if wanted else chunk.data.iloc[:, :0]
                numbers = chunk.rows.tolist()
                broken = core.broken_rows(chunk.notices, set(wanted))
                for n, record in zip(numbers, frame.to_dict("records"), strict=True):
                    origin = Origin(str(path), int(n))
                    draft.read.append(origin)
                    cells = {column: str(record[actual]) for column, actual in header.items()}
                    row = Row(origin, cells, packed=[(c, str(record[c])) for c in packed])
                    row = _evaluate(plan, settings, row)
                    if int(n) in broken:
                        row.error = RowError("", "", broken[int(n)])
                    rows.append(row)
    _build(plan, rows, draft, settings.defaults)
    return draft


def _packed_columns(plan: Plan, path: Path, header: tuple[str, ...]) -> list[str]:
    """The header's packed item columns, in item order (``order_item_2`` before ``order_item_10``)."""
    if plan.packed is None:
        return []
    wanted = plan.packed.columns
    if isinstance(wanted, str):
        found = [h for h in header if fnmatch.fnmatchcase(h, wanted)]
        if not found:
            raise SettingsError(
                _("{where}: packed columns {wanted} match no column in the header of {path}").format(
                    where=plan.packed.where, wanted=repr(wanted), path=path
                )
            )
        return sorted(found, key=_natural)
    missing = [c for c in wanted if c not in header]
    if missing:
        close = difflib.get_close_matches(missing[0], list(header), n=1, cutoff=0.6)
        hint = f'; did you mean "{close[0]}"?' if close else ""
        raise SettingsError(
            _('{where}: column "{missing}" is not in the header of {path}{hint}').format(
                where=plan.packed.where, missing=missing[0], path=path, hint=hint
            )
        )
    return list(wanted)


def _natural(name: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


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
        row.currencies += [(spec.name, column, code, row.table) for code in found]
    return value or ""


def _shown(value: str) -> str:
    return json.dumps(value if len(value) <= 60 else value[:59] + "…", ensure_ascii=False)


class Unreadable(TransformError):
    """One source value a normaliser or value table cannot read; the message names the source."""


def _lookup(spec: FieldSpec, value: str, plan: Plan, settings: Settings) -> str:
    """The value table's entry for ``value``; ``Unreadable`` (without the source: the caller names it) when none."""
    if spec.table is None or not value:
        return value
    mapped = settings.value(spec.table, value)
    if mapped is None:
        known = settings.values[spec.table]
        listed = ", ".join(_shown(k) for k in islice(known, 12)) + (", …" if len(known) > 12 else "")
        raise Unreadable(
            _(
                "{value} is not in [values.{table}] of {file} (it has {listed}); add it there or with "
                "--map {table}:FROM=TO"
            ).format(value=_shown(value), table=spec.table, file=plan.name, listed=listed)
        )
    return mapped


def _source(column: str, part: str | None = None) -> str:
    """How a message names where a value was read: ``column "Tutar"``, ``column "order_item_1" part "sku"``.

    Made only when a message needs it, not for every cell read.
    """
    if part is None:
        return _('column "{column}"').format(column=column)
    return _('column "{column}" part "{part}"').format(column=column, part=part)


def _note(row: Row, spec: FieldSpec, code: str, message: str, before: str, after: str) -> None:
    """A change to one value of ``row``, filed under the table key being read (``order_item#2`` for
    the second packed line), so it is placed on that line's record, not on the row's first."""
    row.warnings.append((row.table or spec.type, spec.name, code, message, before, after))


def _unreadable(spec: FieldSpec, row: Row, reason: str, before: str = "") -> str:
    """``on_error``: reject the record that holds the value, or leave the field empty and say so."""
    if spec.on_error == "empty":
        message = _("{field} left empty: {reason}").format(field=spec.name, reason=reason)
        _note(row, spec, "value-dropped", message, before, "")
        return ""
    raise RowError(spec.type, spec.name, reason)


def _first_readable(spec: FieldSpec, row: Row, plan: Plan, settings: Settings, parts: Packet | None) -> str:
    """Fallbacks: the first source (column, or part of a packed cell) whose value is non-empty and readable.

    A non-empty value that cannot be read is passed over for the next source, with a
    ``fallback-used`` warning naming it; when no source gives a value, the first unreadable one
    is the field's error (``on_error`` decides), so a value is never lost in silence.
    """
    sources: list[tuple[str, str | None, str]] = []  # (column, part of a packed cell, raw text)
    if spec.kind == "part":
        assert parts is not None
        column, cell = parts
        sources = [(column, p, cell.get(p, "")) for p in spec.parts]
    else:
        sources = [(c, None, row.cells[c]) for c in spec.columns]
    failed: list[tuple[str, str]] = []  # (why, raw value)
    for column, part, raw in sources:
        try:
            found: list[str] = []
            value: str | None = nz.text(raw)
            for step in spec.steps:
                if value is None:
                    break
                value = _step(step, value, plan, found)
            value = _lookup(spec, value or "", plan, settings)
        except (nz.NormaliseError, Unreadable) as exc:
            failed.append((f"{_source(column, part)}: {exc}", raw))
            continue
        if value:
            row.currencies += [(spec.name, column, code, row.table) for code in found]
            kind = core.tidied(raw, nz.text(raw) or "")
            if kind is not None:
                _note(row, spec, kind, f"{spec.name}: {kind}", raw, value)
            for reason, before in failed:
                message = _("{field} taken from {source}, not {reason}").format(
                    field=spec.name, source=_source(column, part), reason=reason
                )
                _note(row, spec, "fallback-used", message, before, value)
            _log_meaning(spec, row, raw, value, found, settings)
            return value
    return _unreadable(spec, row, *failed[0]) if failed else ""


def _log_meaning(spec: FieldSpec, row: Row, raw: str, value: str, found: list[str], settings: Settings) -> None:
    """A change of meaning a person may need to know: a currency sign or unit stripped, a value mapped to a
    code the rule files mark unconfirmed. Reformatting (``1.049,00`` → ``1049.00``) is not listed."""
    if found:
        message = _("{field}: currency {currency} taken out of the amount").format(
            field=spec.name, currency=", ".join(found)
        )
        _note(row, spec, "unit-stripped", message, raw, value)
    if spec.table is not None:
        label = core.unconfirmed_label(spec.type, spec.name, value)
        if label is not None:
            message = _("{field} {value} is mapped to {code}; Akinon's docs do not confirm it").format(
                field=spec.name, value=_shown(nz.text(raw) or ""), code=label
            )
            _note(row, spec, "code-unconfirmed", message, raw, value)
        elif nz.text(raw) != value:  # the mapping's own value table (TL -> TRY): counted, listed with --explain
            _note(row, spec, "value-mapped", spec.mapped_note, raw, value)


#: A packed item cell as read: its column and its parts (key -> value).
Packet = tuple[str, dict[str, str]]


def _value(spec: FieldSpec, row: Row, plan: Plan, settings: Settings, parts: Packet | None = None) -> str:
    if spec.kind == "value":
        return spec.value
    if spec.kind == "default":
        return ""
    if spec.kind in ("column", "part"):
        return _first_readable(spec, row, plan, settings, parts)
    if spec.entries is not None:
        # An entry's default applies at once: an entry has no ``when`` and is not combined across rows.
        obj = {k: v for k, e in spec.entries.items() if (v := _value(e, row, plan, settings, parts) or e.default or "")}
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if obj else ""
    try:
        if spec.kind == "columns":
            parts_ = [_cell(spec, c, row.cells[c], plan) for c in spec.columns]
            value = spec.join.join(p for p in parts_ if p)
        else:
            obj = {c: v for c in spec.columns if (v := _cell(spec, c, row.cells[c], plan))}
            value = json.dumps(obj, ensure_ascii=False, separators=(",", ":")) if obj else ""
    except nz.NormaliseError as exc:
        where = " / ".join(f'"{c}"' for c in spec.columns)
        return _unreadable(spec, row, _("column {columns}: {reason}").format(columns=where, reason=exc))
    try:
        value = _lookup(spec, value, plan, settings)
    except Unreadable as exc:
        return _unreadable(spec, row, f"{_source(spec.columns[0])}: {exc}")
    return value


def _unpack(column: str, cell: str, packed: Packed) -> dict[str, str]:
    """``name:Çay|sku:CAY-1|quantity:2`` -> its parts.

    A piece without the key separator continues the previous value (``meta:a|b`` is ``a|b``),
    since the export does not escape the separator; a first piece without one cannot be read.
    """
    parts: dict[str, str] = {}
    last: str | None = None
    for piece in cell.split(packed.separator):
        key, sep, value = piece.partition(packed.key_separator)
        if not sep:
            if last is None:
                if not piece.strip():
                    continue
                raise RowError(
                    "order_item",
                    "",
                    _("{source}: {value} is not {pattern}; packed items are written like {example}").format(
                        source=_source(column),
                        value=_shown(piece),
                        pattern=f"KEY{packed.key_separator}VALUE",
                        example=f"name{packed.key_separator}…{packed.separator}sku{packed.key_separator}…",
                    ),
                )
            parts[last] += packed.separator + piece
            continue
        last = key.strip()
        if last in parts:
            raise RowError(
                "order_item",
                "",
                _('{source}: part "{part}" appears twice in {cell}').format(
                    source=_source(column), part=last, cell=_shown(cell)
                ),
            )
        parts[last] = value
    return parts


def _copied(plan: Plan, values: dict[str, str], table_key: str, name: str) -> str:
    """What ``field = "TYPE.FIELD"`` copies: the row's value, or the default that field gets on this row."""
    value = values[name]
    spec = plan.fields[table_key][name]
    if value or spec.default is None:
        return value
    return spec.default if _holds(spec, values) else ""


def _holds(spec: FieldSpec, values: dict[str, str]) -> bool:
    return all(nz.fold(values.get(other, "")) in {nz.fold(v) for v in wanted} for other, wanted in spec.when)


def _fill(
    key: str, specs: dict[str, FieldSpec], row: Row, plan: Plan, settings: Settings, parts: Packet | None = None
) -> dict[str, str]:
    """The values of one table of one row; a value that cannot be read is left empty and noted for its table."""
    values: dict[str, str] = {}
    row.table = key
    for name, spec in specs.items():
        if spec.kind == "field":
            continue
        try:
            values[name] = _value(spec, row, plan, settings, parts)
        except RowError as exc:
            row.errors.setdefault(key, []).append(exc)
            values[name] = ""
    return values


def _evaluate(plan: Plan, settings: Settings, row: Row) -> Row:
    """Every table's values for one row. A value that cannot be read costs only its own record (scoped):
    an unreadable order date rejects the order and its lines, never the buyer or the other orders."""
    try:
        packed = plan.packed is not None
        # The order's own fields first: a value both the order and its buyer read (an order date that
        # is also the user's date_joined) is reported as the order's, the record the row stands for.
        for key in sorted(plan.fields, key=lambda k: k not in ("order", "order_item")):
            if packed and key == "order_item":
                continue
            row.values[key] = _fill(key, plan.fields[key], row, plan, settings)
        for key, specs in plan.fields.items():
            if packed and key == "order_item":
                continue
            for name, spec in specs.items():
                if spec.kind == "field":
                    ref_key, ref_name = spec.ref  # type: ignore[misc]
                    row.values[key][name] = _copied(plan, row.values[ref_key], ref_key, ref_name)
        if plan.user_key is not None:
            row.values["user-key"] = _fill("user", {"key": plan.user_key}, row, plan, settings)
        items = plan.fields.get("order_item")
        if items is not None and not packed:
            row.items = [(0, row.values["order_item"])]
        elif items is not None:
            for line, (column, cell) in enumerate(row.packed, 1):
                if not nz.text(cell):
                    continue
                try:
                    parts = (column, _unpack(column, cell, plan.packed))  # type: ignore[arg-type]
                    values = _fill(f"order_item#{line}", items, row, plan, settings, parts)
                except RowError as exc:  # a cell that cannot be unpacked costs its line, not the row
                    row.errors.setdefault(f"order_item#{line}", []).append(exc)
                    values = {}
                for name, spec in items.items():
                    if spec.kind == "field":
                        ref_key, ref_name = spec.ref  # type: ignore[misc]
                        source = values if ref_key == "order_item" else row.values[ref_key]
                        values[name] = _copied(plan, source, ref_key, ref_name)
                row.items.append((line, values))
        _currency_of_amounts(row)
    except RowError as exc:  # a cell the row cannot do without (an unpackable line cell)
        row.error = exc
    return row


def _currency_of_amounts(row: Row) -> None:
    """An amount that names its currency (``€389,50``) fills an empty order currency or must agree with it.

    A disagreeing amount costs the record that holds it: the order for an order amount, the line
    for an item's price (scoped rejection), never the order for one line's price.
    """
    order = row.values.get("order")
    if order is None:
        return
    for name, column, code, table in sorted(row.currencies, key=lambda c: c[3] != "order"):
        if not order.get("currency"):
            order["currency"] = code
        elif order["currency"] != code:
            type_name = table.partition("#")[0].partition(".")[0] or "order"
            error = RowError(
                type_name,
                name if type_name != "order" else "currency",
                _(
                    "{source} ({field}) is in {code}, but the order's currency is {currency}; "
                    "an amount in another currency is not converted"
                ).format(source=_source(column), field=name, code=code, currency=order["currency"]),
            )
            row.errors.setdefault(table or "order", []).append(error)


# ------------------------------------------------------------------------------------------------
# Groups of rows into records


def _build(plan: Plan, rows: list[Row], draft: Draft, settings_defaults: dict[tuple[str, str], str]) -> None:
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
            # One order per key and file: the same order in two exports (overlapping date ranges) is
            # two records, merged by finish when identical (with their lines), else rejected.
            key = ("=", row.origin.file, *key)
        groups.setdefault(key, []).append(row)
    users: dict[str, Record] = {}
    addresses = core.AddressBook(draft)
    used: Counter[str] = Counter()  # field label -> records given its default
    address_tables = [k for k in plan.fields if k.partition(".")[0] == "address"]
    side = "order" in plan.fields or "order_item" in plan.fields
    for key, members in groups.items():
        label = " / ".join(key[2:]) if key[0] == "=" else ""
        readable = [r for r in members if r.error is None]
        made: dict[tuple[int, str], Record] = {}  # (id(row), type) -> the record the row's changes belong to
        for row in members:
            if row.error is not None:  # a broken row makes no record; its order goes with it (below)
                draft.reject(row.origin, "", row.error.field, row.error.reason)
        # In an orders export the buyer and addresses are made on the side of the order rows: the
        # rows are accounted for by their order and items, not by the user they also name.
        if "user" in plan.fields:
            # The buyer columns repeat on an order's rows: a row with an empty key adds no user of its
            # own unless no row of the order has one (then the record is made, and the rules say why
            # it cannot be written).
            keyed = [r for r in readable if _user_key(plan, r)]
            for i, row in enumerate(keyed or readable[:1]):
                made[(id(row), "user")] = _fold_user(plan, row, users, draft, side, mention=not side or i == 0)
            buyers = [made[(id(r), "user")] for r in keyed or readable[:1]]
            for row in readable:  # a row without a key of its own names its order's buyer
                made.setdefault((id(row), "user"), buyers[0])
        for row in readable:
            for table_key in address_tables:
                values = _defaults(plan.fields[table_key], dict(row.values[table_key]), used, draft, row.origin)
                if table_key != "address" and not values.get("line"):
                    continue  # this row has no such address (an order without a separate delivery address)
                errors = row.errors.get(table_key)
                if errors:
                    reason = errors[0].reason
                    made[(id(row), "address")] = draft.reject_record(
                        row.origin, "address", errors[0].field, reason, _full("address", values)
                    )
                    continue
                _same_user(values, made.get((id(row), "user")))
                made[(id(row), "address")] = addresses.add(values, row.origin, primary=not side)
        order = None
        if "order" in plan.fields:
            own_items = "order_item" in plan.fields and plan.packed is None
            merged = [] if own_items else [r.origin for r in members[1:]]
            # A broken row's values name the order in rejects.csv; they never reach a written record.
            given = _order_values(plan, readable or members)
            values = _defaults(plan.fields["order"], given, used, draft, members[0].origin)
            order = Record("order", _full("order", values), members[0].origin, merged)
            _same_user(order.values, made.get((id(readable[0]), "user")) if readable else None)
            problem = _group_problem(plan, members, label)
            if problem is not None:
                culprit, error = problem
                reason = error.reason
                if culprit is not members[0]:
                    reason = _("row {row} of the order: {reason}").format(row=culprit.origin.row, reason=reason)
                order.refused = (error.field if error.type in ("order", "") else "", reason)
            draft.add(order)
            for row in readable:
                made[(id(row), "order")] = order
        if "order_item" in plan.fields:
            for row in readable:
                for line, item in row.items:
                    origin = replace(row.origin, part=line) if line else row.origin
                    values = _full("order_item", _defaults(plan.fields["order_item"], dict(item), used, draft, origin))
                    record = draft.add(Record("order_item", values, origin, parent=order))
                    errors = row.errors.get(f"order_item#{line}" if line else "order_item")
                    if errors:
                        draft.refuse(record, errors[0].field, errors[0].reason)
                    made.setdefault((id(row), "order_item"), record)
                    if line:
                        made[(id(row), f"order_item#{line}")] = record
        for row in readable:
            for filed, field_name, code, message, before, after in row.warnings:
                table, _hash, packed_line = filed.partition("#")
                type_name = table.partition(".")[0]
                owner = made.get((id(row), filed if packed_line else type_name))
                label = owner.label() if owner is not None else ""
                origin = replace(row.origin, part=int(packed_line)) if packed_line else row.origin
                draft.warn(origin, type_name, field_name, code, message, before, after, label)
    if side and "user" in plan.fields and "date_joined" in plan.fields["user"]:
        core.Joined().apply(
            draft,
            users.items(),
            has_default=("user", "date_joined") in settings_defaults
            or plan.fields["user"]["date_joined"].default is not None,
            migration_date=core.migration_date(),
            why=_("no order of this user has a date that can be read"),
        )
    if "user" in plan.fields:
        for record in draft.records:
            if record.type == "user":
                _defaults(plan.fields["user"], record.values, used, draft, record.origin)
    for label, count in used.items():
        table_key, _dot, name = label.rpartition(".")
        spec = plan.fields[table_key][name]
        condition = _(" and ").join(
            _("{field} is {values}").format(field=n, values=_(" or ").join(_shown(v) for v in vs))
            for n, vs in spec.when
        )
        used_for = ngettext(
            "{field}: default {value} used for {n} record", "{field}: default {value} used for {n} records", count
        ).format(field=label, value=_shown(spec.default or ""), n=number(count))
        draft.notes.append(used_for + (_(" (where {condition})").format(condition=condition) if condition else ""))


def _defaults(
    specs: dict[str, FieldSpec],
    values: dict[str, str],
    used: Counter[str],
    draft: Draft | None = None,
    origin: Origin | None = None,
) -> dict[str, str]:
    """Fill empty fields with their ``default``, where their ``when`` holds on the values read (before any default);
    then divide the fields with ``divide_by`` (a line total into a unit price)."""
    read = dict(values)
    for name, spec in specs.items():
        if spec.default is None or values.get(name):
            continue
        if _holds(spec, read):
            values[name] = spec.default
            used[spec.label] += 1
    for name, spec in specs.items():
        if spec.divide_by is not None and values.get(name):
            message = _divide(values, name, spec.divide_by)
            if message and draft is not None and origin is not None:
                draft.warn(origin, spec.type, name, "value-rounded", message)
    return values


def _divide(values: dict[str, str], name: str, by: str) -> str | None:
    """``price`` 259.80 over ``quantity`` 2 is 129.90; a divisor that is not a positive number leaves the value
    for the rules to refuse the record. A quotient that is not exact at the total's decimal places (at least 2)
    is rounded half-even, and the returned message says so."""
    try:
        total, divisor = Decimal(values[name]), Decimal(values.get(by) or "")
    except InvalidOperation:
        return None
    if not divisor.is_finite() or divisor <= 0 or not total.is_finite():
        return None
    places = max(2, -int(total.as_tuple().exponent))
    try:
        rounded = (total / divisor).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        exact = rounded * divisor == total
    except InvalidOperation:  # more digits than decimal arithmetic holds: the rules judge the value as read
        return None
    values[name] = str(rounded)
    if not exact:
        return _(
            "{field} {value} is {total} / {by} {divisor} rounded to {places} decimal places "
            "({rounded} x {divisor} = {product})"
        ).format(
            field=name,
            value=values[name],
            total=total,
            by=by,
            divisor=divisor,
            places=places,
            rounded=rounded,
            product=rounded * divisor,
        )
    return None


def _full(type_name: str, values: dict[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in table_rules(type_name).names}


def _group_problem(plan: Plan, members: list[Row], label: str) -> tuple[Row, RowError] | None:
    """Why an order cannot be made: a row of it that cannot be read, a value of its own that cannot be
    read, or rows that disagree on a value the order has once."""
    for row in members:
        if row.error is not None:
            return row, RowError("order", "", _("it cannot be read whole: {reason}").format(reason=row.error.reason))
        if row.errors.get("order"):
            return row, row.errors["order"][0]
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
                    _(
                        "{source} is {value} on row {row} but {first} on row {first_row}; the columns of order "
                        "{order} must agree on all its rows (or set pick for order.{field} in {file})"
                    ).format(
                        source=source,
                        value=_raw(spec, row),
                        row=row.origin.row,
                        first=_raw(spec, first),
                        first_row=first.origin.row,
                        order=repr(label),
                        field=name,
                        file=plan.name,
                    ),
                )
    return None


def _source_text(spec: FieldSpec, plan: Plan) -> str:
    if spec.kind == "field":
        ref = plan.fields[spec.ref[0]][spec.ref[1]]  # type: ignore[index]
        return _source_text(ref, plan)
    if len(spec.columns) == 1:
        return _source(spec.columns[0])
    return _("columns {columns}").format(columns=", ".join(f'"{c}"' for c in spec.columns))


def _raw(spec: FieldSpec, row: Row) -> str:
    if spec.kind == "column" and len(spec.columns) == 1:
        return _shown(row.cells[spec.columns[0]])
    return _shown(row.values[spec.table_key or spec.type][spec.name])


def _magnitude(value: str, zone: str | None = None) -> tuple[int, Any]:
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
    if moment.tzinfo is None and zone is not None:
        # A date or time without an offset is local to the export's [source] timezone: midnight
        # Istanbul (a date-only value) is earlier than 01:00+03:00 the same day, not later.
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    if moment.tzinfo is not None:
        moment = moment.astimezone(_dt.UTC).replace(tzinfo=None)
    return (1, moment)


def _combine(pick: str, values: list[str], zone: str | None = None) -> str:
    present = [v for v in values if v]
    if not present:
        return ""
    if pick in ("same", "first"):
        return present[0]
    if pick == "last":
        return present[-1]
    if pick == "min":
        return min(present, key=lambda v: _magnitude(v, zone))
    if pick == "max":
        return max(present, key=lambda v: _magnitude(v, zone))
    try:
        total = sum((Decimal(v) for v in present), Decimal(0))
    except InvalidOperation:
        return present[0]
    return str(total)


def _order_values(plan: Plan, members: list[Row]) -> dict[str, str]:
    return {
        name: _combine(spec.pick, [r.values["order"][name] for r in members], plan.timezone)
        for name, spec in plan.fields["order"].items()
    }


def _user_key(plan: Plan, row: Row) -> str:
    return row.values["user-key"]["key"] if plan.user_key is not None else row.values["user"].get("customer_code", "")


def _fold_user(
    plan: Plan, row: Row, users: dict[str, Record], draft: Draft, side: bool = False, mention: bool = True
) -> Record:
    """The user of a row: a new record, or folded into the one with the same key (counted as merged when
    ``mention``: once per order in an orders export, once per row in a users file).

    A value that cannot be read is the user's own problem in a users file (the user is rejected);
    in an orders export the buyer columns repeat on every order, so the row's value is skipped with
    a change line and the user keeps what its other rows give (a ``date_joined`` from the earliest
    order date that can be read).
    """
    values = row.values["user"]
    key = _user_key(plan, row)
    errors = row.errors.get("user", [])
    if side:
        for error in errors:
            message = _("{reason}; skipped for the user, who keeps what the other rows give").format(
                reason=error.reason
            )
            draft.warn(row.origin, "user", error.field, "value-skipped", message, _raw_of(plan, row, error), "")
    folded = nz.email(key) or "" if key else ""  # keys are matched like emails: I and İ both as i
    user = users.get(folded) if folded else None
    if user is None:
        record = draft.add(Record("user", _full("user", values), row.origin, primary=not side))
        if errors and not side:
            draft.refuse(record, errors[0].field, errors[0].reason)
        if folded:
            users[folded] = record
        return record
    if errors and not side:
        draft.refuse(user, errors[0].field, f"{row.origin.where()}: {errors[0].reason}")
    if mention:
        draft.folded["user"] += 1
        if not side:  # a users file with a customer twice: say which row went into which
            message = _("the same customer as {where} (keys match ignoring case): merged into that user").format(
                where=user.origin.where()
            )
            draft.warn(row.origin, "user", "customer_code", "customer-merged", message, key, user.get("customer_code"))
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
                    _("user {key}: {field} {value} differs from {kept} kept from {where}").format(
                        key=repr(key), field=name, value=_shown(new), kept=_shown(old), where=user.origin.where()
                    ),
                )
        else:
            user.values[name] = _combine(spec.pick, [old, new], plan.timezone)
    return user


def _same_user(values: dict[str, str], buyer: Record | None) -> None:
    """Point ``user`` at the buyer's customer_code as written on the user record.

    Users are matched like emails (``Mono@…`` = ``mono@…``), so a row can name its buyer in
    another spelling than the first row did; the reference must use the record's own, or the
    written order would point at no user.
    """
    if buyer is None or not values.get("user"):
        return
    code = buyer.get("customer_code")
    if code and values["user"] != code and nz.email(values["user"]) == nz.email(code):
        values["user"] = code


def _raw_of(plan: Plan, row: Row, error: RowError) -> str:
    """The cell an unreadable value was read from, for the change log's "before"."""
    spec = plan.fields.get(error.type, {}).get(error.field)
    if spec is None or not spec.columns:
        return ""
    return row.cells.get(spec.columns[0], "")
