"""What each problem says to a person: what is wrong and what is allowed.

Messages are built from the rule's own parameters (read from the schema files), so a changed
limit changes its message without touching this module.
"""

from __future__ import annotations

from omnimig.schemas.rules import ChoiceList, FieldRule
from omnimig.validation.problem import shorten

JSON_TYPE_NAMES = {
    "string": "string",
    "number": "number",
    "integer": "whole number",
    "boolean": "boolean (true or false, unquoted)",
    "object": "object",
}


def q(value: str) -> str:
    return f'"{shorten(value)}"'


def required(f: FieldRule, kind: str | None = None) -> str:
    if kind == "absent":
        return f"{f.name} is required but the record has no {f.name} key"
    if kind == "null":
        return f"{f.name} is required but null"
    return f"{f.name} is required but empty"


def number_type(f: FieldRule, value: str) -> str:
    stripped = value.strip()
    if "," in stripped and stripped.replace(",", "", 1).replace(".", "").lstrip("+-").isdigit():
        if stripped.count(",") == 1 and "." not in stripped:
            fixed = stripped.replace(",", ".")
            return f"{f.name} {q(value)} uses a decimal comma; write {fixed} (a point, no thousands separator)"
        return f"{f.name} {q(value)} has a thousands separator; write digits with a point for decimals, e.g. 1234.50"
    if stripped != value:
        return f"{f.name} {q(value)} has spaces around it; write the number alone"
    return f"{f.name} {q(value)} is not a number; write digits with a point for decimals, e.g. 1234.50"


def integer_type(f: FieldRule, value: str) -> str:
    return f"{f.name} {q(value)} is not a whole number; write digits only, e.g. 3"


def boolean_type(f: FieldRule, value: str) -> str:
    return f"{f.name} {q(value)} is not a boolean; write true or false (any case), or 1 or 0"


def json_type(f: FieldRule, value: str | None, kind: str) -> str:
    expected = JSON_TYPE_NAMES[f.kind]
    shown = f" {q(value)}" if value is not None else ""
    return f"{f.name} must be a JSON {expected}, not a JSON {kind}{shown}"


def json_object(f: FieldRule, value: str) -> str:
    return (
        f'{f.name} {q(value)} is not a JSON object; write an object such as {{"key": "value"}}, '
        "or {} (or nothing) when there is no extra data"
    )


def max_length(f: FieldRule, length: int) -> str:
    return f"{f.name} has {length} characters; at most {f.max_length} are allowed"


def pattern(f: FieldRule, value: str) -> str:
    if f.hint:
        return f"{f.name} {q(value)} is not valid; write {f.hint}"
    return f"{f.name} {q(value)} does not match the required pattern {f.pattern}"


def calendar(f: FieldRule, value: str) -> str:
    return f"{f.name} {q(value)} is not a real calendar date"


def enum(f: FieldRule, value: str) -> str:
    return f"{f.name} {q(value)} is not allowed; use one of: {', '.join(f.enum or ())}"


def minimum(f: FieldRule, value: str) -> str:
    return f"{f.name} {q(value)} is below the minimum; it must be at least {f.minimum}"


def max_digits(f: FieldRule, value: str, digits: int) -> str:
    return f"{f.name} {q(value)} has {digits} digits; at most {f.max_digits} are allowed"


def decimal_places(f: FieldRule, value: str, places: int) -> str:
    return f"{f.name} {q(value)} has {places} decimal places; at most {f.decimal_places} are allowed"


def choice(f: FieldRule, value: str, choices: ChoiceList) -> str:
    shown = ", ".join(choices.values[:12]) + (", …" if len(choices.values) > 12 else "")
    return (
        f"{f.name} {q(value)} is not in the known {choices.title.lower()} list ({shown}); "
        f"check it with Akinon, or replace the list with --choices FILE"
    )
