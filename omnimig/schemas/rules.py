"""Compile the rule files in ``omnimig/schemas/`` into one in-memory form the engine runs.

Two schema kinds describe each migration type: a Frictionless Table Schema for CSV/XLS/XLSX
and a JSON Schema for JSON files. Both compile to the same ``FieldRule`` so the engine has a
single interpretation of each rule, and so a test can prove the two files say the same thing.
Only the keywords listed here are understood; anything else raises ``SchemaError`` rather than
being silently ignored, because an ignored rule is a rule nobody enforces.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from omnimig.exceptions import SchemaError
from omnimig.i18n import _

Kind = Literal["string", "number", "integer", "boolean", "object"]
Temporal = Literal["date", "datetime", "date-or-datetime"]

#: Field properties outside Frictionless' and JSON Schema's vocabularies, spelled the same in both.
SHARED_PROPERTIES = ("maxDigits", "decimalPlaces", "temporal", "hint", "choices", "aliases", "synonyms")

# How a number or an integer must be written in a text cell. This is the syntax of the types
# themselves (like Frictionless' own number grammar), not a field rule: plain decimal notation,
# no exponent, no thousands separator, no spaces.
NUMBER_TEXT = r"^[+-]?[0-9]+(\.[0-9]+)?$"
INTEGER_TEXT = r"^[+-]?[0-9]+$"
NUMBER_RE = re.compile(NUMBER_TEXT)
INTEGER_RE = re.compile(INTEGER_TEXT)


@dataclass(frozen=True)
class FieldRule:
    """Every rule for one column, whichever schema kind it came from."""

    name: str
    kind: Kind
    required: bool = False
    description: str = ""
    max_length: int | None = None
    minimum: Decimal | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    temporal: Temporal | None = None
    choices: str | None = None
    hint: str | None = None
    aliases: tuple[str, ...] = ()
    # Other spellings with one reading (``"synonyms": {"kadın": "female"}``), matched Turkish-folded:
    # not valid values, but what ``omnimig fix`` may write instead of them.
    synonyms: tuple[tuple[str, str], ...] = ()
    # Text spellings of booleans in tables (Table Schema trueValues/falseValues).
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()

    def same_rule(self, other: FieldRule) -> bool:
        """Equal as rules, ignoring how each schema kind spells booleans in text."""
        ignore = {"true_values", "false_values", "description"}
        return all(getattr(self, f) == getattr(other, f) for f in self.__dataclass_fields__ if f not in ignore)


@dataclass(frozen=True)
class TypeRules:
    """The rules of one migration type as read from one schema kind."""

    type: str
    source: str  # "table" or "json"
    title: str
    description: str
    fields: tuple[FieldRule, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    def field(self, name: str) -> FieldRule:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class ChoiceList:
    """A replaceable list of known values; a value outside it is a warning."""

    name: str
    title: str
    values: tuple[str, ...]
    case_insensitive: bool = True
    source: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def lowered(self) -> frozenset[str]:
        """The values as the engine compares them (lower-cased when case does not matter)."""
        return frozenset(v.lower() for v in self.values) if self.case_insensitive else frozenset(self.values)


@dataclass(frozen=True)
class MigrationType:
    """One resource of ``datapackage.json``."""

    name: str
    title: str
    stems: tuple[str, ...]
    table_schema: str
    json_schema: str
    primary_key: tuple[str, ...] = ()
    foreign_keys: tuple[dict[str, Any], ...] = ()
    unique_keys: tuple[dict[str, Any], ...] = ()
    consistency: tuple[dict[str, Any], ...] = ()


def schema_dir() -> Path:
    return Path(str(resources.files("omnimig.schemas")))


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


@cache
def migration_types() -> tuple[MigrationType, ...]:
    """The migration types in upload order, from ``datapackage.json``."""
    package = _load(schema_dir() / "datapackage.json")
    return tuple(
        MigrationType(
            name=r["name"],
            title=r.get("title", r["name"]),
            stems=tuple(r.get("stems", [r["name"]])),
            table_schema=r["schema"],
            json_schema=r["jsonSchema"],
            primary_key=tuple(r.get("primaryKey", [])),
            foreign_keys=tuple(r.get("foreignKeys", [])),
            unique_keys=tuple(r.get("uniqueKeys", [])),
            consistency=tuple(r.get("consistency", [])),
        )
        for r in package["resources"]
    )


@cache
def bundle_fields(type_name: str) -> tuple[str, ...]:
    """The fields of ``type_name`` that some cross-file rule in ``datapackage.json`` reads.

    Only these columns are kept from each file for the bundle checks, so memory follows the
    keys, not the whole file.
    """
    wanted: list[str] = []

    def add(names: Any) -> None:
        for name in names if isinstance(names, list | tuple) else [names]:
            if name not in wanted:
                wanted.append(name)

    for t in migration_types():
        for fk in t.foreign_keys:
            if t.name == type_name:
                add(fk["fields"])
            if fk["reference"]["resource"] == type_name:
                add(fk["reference"]["fields"])
        for check in t.consistency:
            if t.name == type_name:
                add(check["fields"])
                add(check.get("via", []))
                add([check[k] for k in ("amount", "discount") if k in check])
            for part in (check.get("reference"), check.get("children")):
                if part and part["resource"] == type_name:
                    add(part["fields"])  # a child's price and quantity are kept as its line amount: line_fields
        if t.name == type_name:
            add(list(t.primary_key))
            for key in t.unique_keys:
                add(key["fields"])
    return tuple(wanted)


@cache
def line_fields(type_name: str) -> tuple[tuple[str, str], ...]:
    """The (price, quantity) fields of ``type_name`` that a covers-children check sums.

    A file of this type keeps, for the bundle rules, each row's line amount in cents (price x
    quantity, one number: ``line_column``) rather than the two text columns: it is worked out
    while the file's chunks are in memory (in the process that reads the file, a worker's too),
    so the bundle stage, which runs after every file, has that much less to do.
    """
    pairs: list[tuple[str, str]] = []
    for t in migration_types():
        for check in t.consistency:
            part = check.get("children")
            if part and part["resource"] == type_name and "price" in part and "quantity" in part:
                pair = (part["price"], part["quantity"])
                if pair not in pairs:
                    pairs.append(pair)
    return tuple(pairs)


def line_column(price: str, quantity: str) -> str:
    """The name of the kept line-amount column of ``price`` x ``quantity`` (never a field's name)."""
    return f"{price} x {quantity}"


def type_names() -> tuple[str, ...]:
    return tuple(t.name for t in migration_types())


def migration_type(name: str) -> MigrationType:
    for t in migration_types():
        if t.name == name:
            return t
    raise KeyError(name)


def _shared(spec: dict[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "maxDigits" in spec:
        out["max_digits"] = int(spec["maxDigits"])
    if "decimalPlaces" in spec:
        out["decimal_places"] = int(spec["decimalPlaces"])
    if "temporal" in spec:
        if spec["temporal"] not in ("date", "datetime", "date-or-datetime"):
            raise SchemaError(f"{where}: temporal must be date, datetime or date-or-datetime")
        out["temporal"] = spec["temporal"]
    for key in ("hint", "choices"):
        if key in spec:
            out[key] = str(spec[key])
    if "aliases" in spec:
        out["aliases"] = tuple(spec["aliases"])
    if "synonyms" in spec:
        given = spec["synonyms"]
        if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
            raise SchemaError(f"{where}: synonyms must be an object of spelling -> the value to write")
        out["synonyms"] = tuple(sorted((str(k), v) for k, v in given.items()))
    return out


def _check_pattern(pattern: str, where: str) -> str:
    if not (pattern.startswith("^") and pattern.endswith("$")):
        raise SchemaError(
            f"{where}: pattern must be anchored with ^ and $ (Frictionless anchors, JSON Schema searches)"
        )
    re.compile(pattern)
    return pattern


_TABLE_FIELD_KEYS = {
    "name",
    "type",
    "description",
    "constraints",
    "trueValues",
    "falseValues",
    "title",
    *SHARED_PROPERTIES,
}
_TABLE_CONSTRAINTS = {"required", "maxLength", "minimum", "pattern", "enum"}
_TABLE_TYPES = {"string", "number", "integer", "boolean", "object"}


def compile_table_schema(type_name: str, descriptor: dict[str, Any]) -> TypeRules:
    fields = []
    for spec in descriptor["fields"]:
        where = f"{type_name}.table.json field {spec.get('name')!r}"
        unknown = set(spec) - _TABLE_FIELD_KEYS
        if unknown:
            raise SchemaError(f"{where}: unsupported properties {sorted(unknown)}")
        if spec.get("type", "string") not in _TABLE_TYPES:
            raise SchemaError(f"{where}: unsupported type {spec['type']!r}")
        cons = spec.get("constraints", {})
        if set(cons) - _TABLE_CONSTRAINTS:
            raise SchemaError(f"{where}: unsupported constraints {sorted(set(cons) - _TABLE_CONSTRAINTS)}")
        fields.append(
            FieldRule(
                name=spec["name"],
                kind=spec.get("type", "string"),
                required=bool(cons.get("required", False)),
                description=spec.get("description", ""),
                max_length=cons.get("maxLength"),
                minimum=Decimal(str(cons["minimum"])) if "minimum" in cons else None,
                pattern=_check_pattern(cons["pattern"], where) if "pattern" in cons else None,
                enum=tuple(cons["enum"]) if "enum" in cons else None,
                true_values=tuple(spec.get("trueValues", ("true", "True", "TRUE", "1"))),
                false_values=tuple(spec.get("falseValues", ("false", "False", "FALSE", "0"))),
                **_shared(spec, where),
            )
        )
    return TypeRules(
        type=type_name,
        source="table",
        title=descriptor.get("title", type_name),
        description=descriptor.get("description", ""),
        fields=tuple(fields),
    )


_JSON_PROPERTY_KEYS = {
    "type",
    "description",
    "title",
    "minLength",
    "maxLength",
    "minimum",
    "pattern",
    "enum",
    *SHARED_PROPERTIES,
}


def compile_json_schema(type_name: str, descriptor: dict[str, Any]) -> TypeRules:
    required = set(descriptor.get("required", []))
    fields = []
    for name, spec in descriptor["properties"].items():
        where = f"{type_name}.schema.json property {name!r}"
        unknown = set(spec) - _JSON_PROPERTY_KEYS
        if unknown:
            raise SchemaError(f"{where}: unsupported keywords {sorted(unknown)}")
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        kinds = [t for t in types if t != "null"]
        if len(kinds) != 1 or kinds[0] not in _TABLE_TYPES:
            raise SchemaError(f"{where}: type must be one of {sorted(_TABLE_TYPES)}, optionally with null")
        is_required = name in required
        if is_required and "null" in types:
            raise SchemaError(f"{where}: a required property cannot allow null")
        if is_required and kinds[0] == "string" and spec.get("minLength") != 1:
            raise SchemaError(f"{where}: a required string needs minLength 1 (an empty string is not a value)")
        if not is_required and "null" not in types:
            raise SchemaError(f"{where}: an optional property must allow null")
        if spec.get("minLength", 1) != 1:
            raise SchemaError(f"{where}: only minLength 1 (required) is supported")
        fields.append(
            FieldRule(
                name=name,
                kind=kinds[0],
                required=is_required,
                description=spec.get("description", ""),
                max_length=spec.get("maxLength"),
                minimum=Decimal(str(spec["minimum"])) if "minimum" in spec else None,
                pattern=_check_pattern(spec["pattern"], where) if "pattern" in spec else None,
                enum=tuple(spec["enum"]) if "enum" in spec else None,
                **_shared(spec, where),
            )
        )
    return TypeRules(
        type=type_name,
        source="json",
        title=descriptor.get("title", type_name),
        description=descriptor.get("description", ""),
        fields=tuple(fields),
    )


@cache
def table_rules(type_name: str) -> TypeRules:
    return compile_table_schema(type_name, _load(schema_dir() / migration_type(type_name).table_schema))


@cache
def json_rules(type_name: str) -> TypeRules:
    return compile_json_schema(type_name, _load(schema_dir() / migration_type(type_name).json_schema))


def rules_for(type_name: str, file_format: str) -> TypeRules:
    """JSON files are judged by the JSON Schema, everything else by the Table Schema."""
    return json_rules(type_name) if file_format == "json" else table_rules(type_name)


def _choice_list(name: str, spec: Any, where: str) -> ChoiceList:
    if isinstance(spec, list):
        spec = {"values": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("values"), list):
        raise SchemaError(f"{where}: list {name!r} must be an array of values or an object with 'values'")
    return ChoiceList(
        name=name,
        title=spec.get("title", name),
        values=tuple(str(v) for v in spec["values"]),
        case_insensitive=bool(spec.get("caseInsensitive", True)),
        source=spec.get("source", where),
        labels=dict(spec.get("labels", {})),
    )


@cache
def default_choices() -> dict[str, ChoiceList]:
    folder = schema_dir() / "choices"
    return {p.stem: _choice_list(p.stem, _load(p), f"choices/{p.name}") for p in sorted(folder.glob("*.json"))}


def load_choices(override: Path | None) -> dict[str, ChoiceList]:
    """The default lists, with any list named in ``override`` (``--choices FILE``) replaced.

    The file is a JSON object whose keys are list names (``currencies``, ``shipping-companies``,
    ``order-statuses``, ``password-algorithms``) and whose values are arrays of values or
    objects shaped like the files in ``schemas/choices/``.
    """
    lists = dict(default_choices())
    if override is None:
        return lists
    try:
        data = json.loads(override.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SchemaError(_("{path}: cannot read choices file: {reason}").format(path=override, reason=exc)) from exc
    if not isinstance(data, dict):
        raise SchemaError(_("{path}: a choices file is a JSON object of list name -> values").format(path=override))
    for name, spec in data.items():
        if name not in lists:
            line = _("{path}: unknown list {name}; known lists: {lists}")
            raise SchemaError(line.format(path=override, name=repr(name), lists=", ".join(sorted(lists))))
        lists[name] = _choice_list(name, spec, str(override))
    return lists
