"""Planted defects with an answer key: every field rule and every bundle rule ``validate`` knows.

Each defect lives in its own small *unit* appended after the valid rows: a fresh user, and
where the defective row needs them its address, order and items, all valid except the one
planted value. Units keep defects from touching each other, so the answer key can say
exactly what ``validate`` must report. The defect values come from each field's rule
parameters (``FieldRule``), and the kinds of defect from the rule files, so a rule added to
a schema gets planted with no new code here.

A few defects cannot help showing in a second place, and the key lists those too:
- a wrong value in a field that a ``same-value`` check compares (an address's or order's
  email) also differs from its user's email;
- a field with a value list gets the ``choices`` warning for any well-formed value not in it;
- an item's price or quantity feeds its order's ``covers-children`` check, so the unit's
  order gets an amount that cannot be read (itself a planted ``type`` defect) and the check
  stays quiet.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from omnimig.schemas.rules import NUMBER_TEXT, ChoiceList, FieldRule, migration_types

DATE_TRAP = "2023-02-30"  # the right shape, not a real day


@dataclass(frozen=True)
class FieldDefect:
    type: str
    field: str
    rule: str
    value: str
    severity: str = "error"


@dataclass(frozen=True)
class BundleDefect:
    rule: str  # unique, foreign-key, or a consistency rule name
    type: str
    field: str
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)  # ``field`` above is the column
    severity: str = "error"


def _fails(pattern: str | None, value: str) -> bool:
    return pattern is not None and re.fullmatch(pattern, value) is None


def field_defects(type_name: str, rule: FieldRule, base: str, choices: dict[str, ChoiceList]) -> Iterator[FieldDefect]:
    """One failing value per rule the field carries, built from the rule's parameters and a valid ``base``."""

    def d(name: str, value: str, severity: str = "error") -> FieldDefect:
        return FieldDefect(type_name, rule.name, name, value, severity)

    if rule.required:
        yield d("required", "")
    if rule.max_length is not None:
        value = (base + "Ş" * rule.max_length)[: rule.max_length + 1]
        if not _fails(rule.pattern, value):
            yield d("max-length", value)
    if rule.pattern is not None:
        bad = next(v for v in ("not valid", "x", "-") if _fails(rule.pattern, v))
        yield d("pattern", bad)
    if rule.temporal is not None:
        value = DATE_TRAP if rule.temporal != "datetime" else f"{DATE_TRAP} 10:00:00"
        if not _fails(rule.pattern, value):
            yield d("type", value)
    if rule.kind == "number":
        yield d("type", "12,50")
    elif rule.kind == "integer":
        yield d("type", "1.5")
    elif rule.kind == "boolean":
        yield d("type", "maybe")
    elif rule.kind == "object":
        yield d("json-object", "[1]")
    if rule.minimum is not None:
        yield d("min-value", str(rule.minimum - 1))
    if rule.decimal_places is not None:
        # One digit more than allowed, and never a smaller value than the valid one it replaces.
        yield d("decimal-places", f"{Decimal(base or '0'):.{rule.decimal_places}f}1")
    if rule.max_digits is not None:
        yield d("max-digits", "1" + "0" * rule.max_digits)
    if rule.enum:
        yield d("enum", "zzz")
    if rule.choices and rule.choices in choices:
        known = choices[rule.choices].lowered()
        value = next(v for v in ("zzz", "ZZZ", "zz-unknown") if not _fails(rule.pattern, v) and v.lower() not in known)
        yield d("choices", value, "warning")


def bundle_defects() -> Iterator[BundleDefect]:
    """One defect per cross-file rule in ``datapackage.json``."""
    for mtype in migration_types():
        if mtype.primary_key:
            yield BundleDefect("unique", mtype.name, mtype.primary_key[0])
        for key in mtype.unique_keys:
            yield BundleDefect("unique", mtype.name, key["fields"][0], {"caseInsensitive": key.get("caseInsensitive")})
        for fk in mtype.foreign_keys:
            yield BundleDefect("foreign-key", mtype.name, fk["fields"][0], {"reference": fk["reference"]})
        for check in mtype.consistency:
            fld = check["amount"] if check["check"] == "covers-children" else check["fields"][0]
            yield BundleDefect(check["rule"], mtype.name, fld, {"check": check}, "warning")


def same_value_fields() -> dict[tuple[str, str], str]:
    """(type, field) -> rule of every same-value consistency check."""
    return {
        (t.name, f): c["rule"]
        for t in migration_types()
        for c in t.consistency
        if c["check"] == "same-value"
        for f in c["fields"]
    }


def covered_child_fields() -> set[tuple[str, str]]:
    """(type, field) of the child values a covers-children check adds up."""
    out = set()
    for t in migration_types():
        for c in t.consistency:
            if c["check"] == "covers-children":
                spec = c["children"]
                out |= {(spec["resource"], spec["price"]), (spec["resource"], spec["quantity"])}
    return out


def choices_warning(rule: FieldRule, defect: FieldDefect, choices: dict[str, ChoiceList]) -> bool:
    """Whether the engine will also warn that a planted value is not in the field's value list."""
    if not rule.choices or rule.choices not in choices or defect.rule in ("required", "type", "json-object", "pattern"):
        return False
    if defect.rule == "choices" or defect.value == "":
        return False
    return defect.value.lower() not in choices[rule.choices].lowered()


def json_kind(kind: str, value: str) -> str:
    """How a planted value is written in JSON: as what it is, so a bad number stays a string."""
    if value == "":
        return "string" if kind == "string" else "null"
    if kind in ("number", "integer"):
        return "number" if re.fullmatch(NUMBER_TEXT, value) else "string"
    if kind == "boolean":
        return "boolean" if value in ("true", "false") else "string"
    if kind == "object":
        try:
            parsed = json.loads(value)
        except ValueError:
            return "string"
        return "object" if isinstance(parsed, dict) else "array" if isinstance(parsed, list) else "string"
    return "string"


def cents(text: str) -> int:
    return int(Decimal(text) * 100)
