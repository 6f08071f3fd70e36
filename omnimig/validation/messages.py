"""What each problem says to a person: what is wrong and what is allowed, in the chosen language.

Messages are built from the rule's own parameters (read from the schema files), so a changed
limit changes its message without touching this module. Each text is a gettext message id
(English) with named ``{placeholders}``; ``omnimig.i18n`` gives it in the language of the run
(docs/i18n.md). A field is named as Akinon names it, with a gloss where the language has one
(``amount (tutar)``); a value is always shown quoted, so that no language needs a suffix on it.
"""

from __future__ import annotations

from omnimig.i18n import N_, _, field, lower
from omnimig.schemas.rules import ChoiceList, FieldRule
from omnimig.validation.problem import shorten

#: What a field of each JSON Schema type must hold, as a message says it.
JSON_TYPE_NAMES = {
    "string": N_("string"),
    "number": N_("number"),
    "integer": N_("whole number"),
    "boolean": N_("boolean (true or false, unquoted)"),
    "object": N_("object"),
}
#: The kinds of JSON value a record can hold instead, as a message says them.
JSON_KIND_NAMES = {
    "string": N_("string"),
    "number": N_("number"),
    "boolean": N_("boolean"),
    "object": N_("object"),
    "array": N_("array"),
    "null": N_("null"),
}


def q(value: str) -> str:
    return f'"{shorten(value)}"'


def required(f: FieldRule, kind: str | None = None) -> str:
    if kind == "absent":
        return _("{field} is required but the record has no {name} key").format(field=field(f.name), name=f.name)
    if kind == "null":
        return _("{field} is required but null").format(field=field(f.name))
    return _("{field} is required but empty").format(field=field(f.name))


def number_type(f: FieldRule, value: str) -> str:
    stripped = value.strip()
    where = {"field": field(f.name), "value": q(value)}
    if "," in stripped and stripped.replace(",", "", 1).replace(".", "").lstrip("+-").isdigit():
        if stripped.count(",") == 1 and "." not in stripped:
            fixed = stripped.replace(",", ".")
            return _("{field} {value} uses a decimal comma; write {fixed} (a point, no thousands separator)").format(
                fixed=fixed, **where
            )
        return _(
            "{field} {value} has a thousands separator; write digits with a point for decimals, e.g. 1234.50"
        ).format(**where)
    if stripped != value:
        return _("{field} {value} has spaces around it; write the number alone").format(**where)
    return _("{field} {value} is not a number; write digits with a point for decimals, e.g. 1234.50").format(**where)


def integer_type(f: FieldRule, value: str) -> str:
    return _("{field} {value} is not a whole number; write digits only, e.g. 3").format(
        field=field(f.name), value=q(value)
    )


def boolean_type(f: FieldRule, value: str) -> str:
    return _("{field} {value} is not a boolean; write true or false (any case), or 1 or 0").format(
        field=field(f.name), value=q(value)
    )


def json_type(f: FieldRule, value: str | None, kind: str) -> str:
    expected = _(JSON_TYPE_NAMES[f.kind])
    shown_kind = _(JSON_KIND_NAMES[kind]) if kind in JSON_KIND_NAMES else kind
    if value is None:
        return _("{field} must be a JSON {expected}, not a JSON {kind}").format(
            field=field(f.name), expected=expected, kind=shown_kind
        )
    return _("{field} must be a JSON {expected}, not a JSON {kind} {value}").format(
        field=field(f.name), expected=expected, kind=shown_kind, value=q(value)
    )


def json_object(f: FieldRule, value: str) -> str:
    return _(
        '{field} {value} is not a JSON object; write an object such as {{"key": "value"}}, '
        "or {{}} (or nothing) when there is no extra data"
    ).format(field=field(f.name), value=q(value))


def max_length(f: FieldRule, length: int) -> str:
    return _("{field} has {length} characters; at most {limit} are allowed").format(
        field=field(f.name), length=length, limit=f.max_length
    )


def pattern(f: FieldRule, value: str) -> str:
    if f.hint:
        return _("{field} {value} is not valid; write {hint}").format(
            field=field(f.name), value=q(value), hint=_(f.hint)
        )
    return _("{field} {value} does not match the required pattern {pattern}").format(
        field=field(f.name), value=q(value), pattern=f.pattern
    )


def calendar(f: FieldRule, value: str) -> str:
    return _("{field} {value} is not a real calendar date").format(field=field(f.name), value=q(value))


def enum(f: FieldRule, value: str) -> str:
    return _("{field} {value} is not allowed; use one of: {allowed}").format(
        field=field(f.name), value=q(value), allowed=", ".join(f.enum or ())
    )


def minimum(f: FieldRule, value: str) -> str:
    return _("{field} {value} is below the minimum; it must be at least {minimum}").format(
        field=field(f.name), value=q(value), minimum=f.minimum
    )


def max_digits(f: FieldRule, value: str, digits: int) -> str:
    return _("{field} {value} has {digits} digits; at most {limit} are allowed").format(
        field=field(f.name), value=q(value), digits=digits, limit=f.max_digits
    )


def decimal_places(f: FieldRule, value: str, places: int) -> str:
    return _("{field} {value} has {places} decimal places; at most {limit} are allowed").format(
        field=field(f.name), value=q(value), places=places, limit=f.decimal_places
    )


def choice(f: FieldRule, value: str, choices: ChoiceList) -> str:
    shown = ", ".join(choices.values[:12]) + (", …" if len(choices.values) > 12 else "")
    return _(
        "{field} {value} is not in the known {list} list ({shown}); "
        "check it with Akinon, or replace the list with --choices FILE"
    ).format(field=field(f.name), value=q(value), list=lower(_(choices.title)), shown=shown)
