"""Passing and failing cell values derived from a ``FieldRule``'s parameters (a test helper).

Nothing here names a field: every example comes from the parameters the schema files give a
rule (kind, required, max_length, pattern, enum, minimum, max_digits, decimal_places,
temporal, choices), so a rule added to a schema file gets examples with no new test code.

Two forms of a value exist:

* ``"text"``: what a CSV cell holds (a ``str``; ``""`` is an empty cell);
* ``"json"``: the JSON value of a record's key. Numbers are ``JsonLiteral`` (their exact
  text, written verbatim so ``0.29`` stays ``0.29``), booleans are ``bool``, objects are
  ``dict``, ``None`` is ``null`` and ``ABSENT`` means the key is left out.

Every derived candidate is checked against ``violations``, a small statement of what each
rule means, written from the rule parameters with ``Decimal`` and ``re`` (not from the
engine), so a passing example breaks no rule and a failing one breaks exactly the rule it is
meant to show.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Literal

from hypothesis import Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from omnimig.schemas.rules import INTEGER_RE, NUMBER_RE, ChoiceList, FieldRule, TypeRules

Form = Literal["text", "json"]

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"

#: JSON's own number grammar (RFC 8259): what may be written verbatim as a JSON number.
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")

#: Characters for free text. NUL is left out of CSV text: a CSV holding NUL is refused as binary.
TEXT_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
JSON_CHARS = st.characters(codec="utf-8")
PRINTABLE_ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)


class JsonLiteral(str):
    """The exact text of a JSON number; ``dump_json`` writes it verbatim."""

    __slots__ = ()


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: A JSON record without the key at all.
ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Example:
    """One cell value and what the engine must say about it.

    ``rule`` is the one error the value must produce (``None``: no error). ``warnings`` are the
    warning rules it must produce on its field. ``also`` lists other error codes a fix could
    legitimately choose instead of ``rule`` (used where the documents leave the choice open).
    """

    label: str
    value: Any
    rule: str | None = None
    warnings: tuple[str, ...] = ()
    also: tuple[str, ...] = ()

    @property
    def passes(self) -> bool:
        return self.rule is None

    @property
    def accepted_rules(self) -> tuple[str, ...]:
        return () if self.rule is None else (self.rule, *self.also)


# --------------------------------------------------------------------------------------------
# What each rule means, from the rule parameters alone
# --------------------------------------------------------------------------------------------


def real_date(text: str) -> bool:
    """Whether the ``YYYY-MM-DD`` that starts ``text`` is a day of the calendar."""
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _fraction_digits(text: str) -> int:
    return len(text.partition(".")[2])


def _significant_digits(text: str) -> int:
    whole, _, frac = text.lstrip("+-").partition(".")
    return len(whole.lstrip("0")) + len(frac)


def _is_json_object_text(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


def violations(rule: FieldRule, text: str) -> set[str]:
    """The rule codes a text cell breaks, as the issue states the rules.

    A value of the wrong type breaks only ``type`` (or ``json-object``): no other rule can be
    judged on it. A temporal value of the right shape that is not a calendar day breaks ``type``.
    """
    if text == "":
        return {"required"} if rule.required else set()
    if rule.kind == "number" and not NUMBER_RE.fullmatch(text):
        return {"type"}
    if rule.kind == "integer" and not INTEGER_RE.fullmatch(text):
        return {"type"}
    if rule.kind == "boolean" and text not in (*rule.true_values, *rule.false_values):
        return {"type"}
    if rule.kind == "object" and not _is_json_object_text(text):
        return {"json-object"}
    out: set[str] = set()
    if rule.max_length is not None and len(text) > rule.max_length:
        out.add("max-length")
    shaped = rule.pattern is None or re.fullmatch(rule.pattern, text) is not None
    if not shaped:
        out.add("pattern")
    if rule.temporal is not None and shaped and not real_date(text):
        out.add("type")
    if rule.enum is not None and text not in rule.enum:
        out.add("enum")
    if rule.kind in ("number", "integer"):
        if rule.minimum is not None and Decimal(text) < rule.minimum:
            out.add("min-value")
        if rule.decimal_places is not None and _fraction_digits(text) > rule.decimal_places:
            out.add("decimal-places")
        if rule.max_digits is not None and _significant_digits(text) > rule.max_digits:
            out.add("max-digits")
    return out


def choice_warnings(rule: FieldRule, value: Any, choices: dict[str, ChoiceList]) -> tuple[str, ...]:
    """``("choices",)`` when a well-formed string is missing from the field's value list."""
    if rule.choices is None or rule.choices not in choices or rule.kind != "string":
        return ()
    if not isinstance(value, str) or isinstance(value, JsonLiteral) or value == "":
        return ()
    if rule.pattern is not None and re.fullmatch(rule.pattern, value) is None:
        return ()
    known = choices[rule.choices]
    listed = value.lower() in known.lowered() if known.case_insensitive else value in known.values
    return () if listed else ("choices",)


def rule_codes(rule: FieldRule) -> set[str]:
    """The error codes a field's parameters can produce; each needs a failing example."""
    codes = set()
    if rule.required:
        codes.add("required")
    if rule.kind in ("number", "integer", "boolean") or rule.temporal is not None:
        codes.add("type")
    if rule.kind == "object":
        codes.add("json-object")
    for attr, code in (
        ("max_length", "max-length"),
        ("pattern", "pattern"),
        ("enum", "enum"),
        ("minimum", "min-value"),
        ("decimal_places", "decimal-places"),
        ("max_digits", "max-digits"),
    ):
        if getattr(rule, attr) is not None:
            codes.add(code)
    return codes


# --------------------------------------------------------------------------------------------
# Values that match a pattern, found once (deterministic, minimal)
# --------------------------------------------------------------------------------------------

_FIND = settings(database=None, derandomize=True, max_examples=2_000, phases=(Phase.generate, Phase.shrink))


@cache
def _find_match(
    pattern: str, length: int | None, max_length: int | None, temporal: bool, avoid: frozenset[str] = frozenset()
) -> str | None:
    """A short string fully matching ``pattern`` (exactly ``length`` characters when given)."""

    def ok(s: str) -> bool:
        if length is not None and len(s) != length:
            return False
        if max_length is not None and len(s) > max_length:
            return False
        if temporal and not real_date(s):
            return False
        return s.lower() not in avoid

    # Printable ASCII first: readable test ids, and shrinking is quick on it.
    for alphabet in (PRINTABLE_ASCII, TEXT_CHARS):
        try:
            return find(st.from_regex(pattern, fullmatch=True, alphabet=alphabet), ok, settings=_FIND)
        except (NoSuchExample, Unsatisfiable):
            continue
    return None


def minimal_match(rule: FieldRule) -> str | None:
    assert rule.pattern is not None
    return _find_match(rule.pattern, None, rule.max_length, rule.temporal is not None)


# --------------------------------------------------------------------------------------------
# Candidates in text form
# --------------------------------------------------------------------------------------------


def _num(value: Decimal, places: int) -> str:
    return format(value.quantize(Decimal(1).scaleb(-places)), "f") if places else format(value.to_integral(), "f")


def _places(rule: FieldRule) -> int:
    return rule.decimal_places if rule.decimal_places is not None else 0 if rule.kind == "integer" else 2


def _typical_text(rule: FieldRule) -> list[str]:
    """Ordinary values of the field's kind (filtered by ``violations`` afterwards)."""
    if rule.kind == "string":
        if rule.pattern is not None:
            found = minimal_match(rule)
            return [found] if found is not None else []
        return ["x", "Çağrı Şen-Öztürk", 'a, "b"; c|d\te']
    if rule.kind == "number":
        return ["0", "1", "12.5", "-7.25", "1234.56", "0.50"]
    if rule.kind == "integer":
        return ["1", "0", "-3", "42", "1000000"]
    if rule.kind == "boolean":
        if not rule.true_values or not rule.false_values:
            return []  # a JSON Schema boolean has no text spellings
        spellings = (*rule.true_values, *rule.false_values)
        picks = [rule.true_values[0], rule.false_values[0], rule.true_values[-1], rule.false_values[-1]]
        picks += [v for v in spellings if v == v.upper() and v != v.lower()]
        return list(dict.fromkeys(picks))
    return ["{}", '{"k": "v", "n": [1, 2.5, null]}', '{"ş": {"nested": true}}']


def _text_candidates(rule: FieldRule, choices: dict[str, ChoiceList]) -> list[tuple[str, str, str | None]]:
    """(label, text, intended error or None) for every parameter of the rule."""
    c: list[tuple[str, str, str | None]] = [("empty", "", "required" if rule.required else None)]
    if rule.choices is not None and rule.choices in choices:
        known = choices[rule.choices]
        listed = list(known.values)
        # Listed values are kept even when they break a rule: a list that contradicts its field
        # must fail the tests, not lose its examples.
        c += [(FORCE + "choice", v, None) for v in listed]
        if known.case_insensitive and listed:
            c += [(FORCE + "choice-lower", listed[0].lower(), None), (FORCE + "choice-upper", listed[0].upper(), None)]
        avoid = frozenset(v.lower() for v in listed)
        if rule.pattern is not None:
            unlisted = _find_match(rule.pattern, None, rule.max_length, rule.temporal is not None, avoid)
        else:
            unlisted = next(v for v in ("zz-unlisted", "zz", "z") if v.lower() not in avoid)
            if rule.max_length is not None:
                unlisted = unlisted[: rule.max_length]
        if unlisted:
            c.append(("choice-unlisted", unlisted, None))
    c += [("value", v, None) for v in _typical_text(rule)]

    # Type errors of the kind.
    if rule.kind == "number":
        c += [
            ("decimal-comma", "12,5", "type"),
            ("exponent", "1e3", "type"),
            ("word", "abc", "type"),
            ("thousands", "1 000", "type"),
            ("padded", " 12.5", "type"),
        ]
    elif rule.kind == "integer":
        c += [("fraction", "1.5", "type"), ("integral-fraction", "2.0", "type"), ("word", "abc", "type")]
    elif rule.kind == "boolean" and rule.true_values:
        c += [("word", "yes", "type"), ("digit", "2", "type"), ("padded", f" {rule.true_values[0]}", "type")]
    elif rule.kind == "object":
        c += [
            ("array", "[]", "json-object"),
            ("array", "[1, 2]", "json-object"),
            ("scalar", "1", "json-object"),
            ("null", "null", "json-object"),
            ("quoted", '"{}"', "json-object"),
            ("broken", '{"k": ', "json-object"),
            ("word", "not json", "json-object"),
        ]

    if rule.max_length is not None:
        n = rule.max_length
        if rule.pattern is None:
            c += [
                ("max-length", "x" * n, None),
                ("max-length+1", "x" * (n + 1), "max-length"),
                ("max-length-unicode", "ş" * n, None),
                ("max-length+1-unicode", "ş" * (n + 1), "max-length"),
            ]
        else:
            for label, length, intended in (("max-length", n, None), ("max-length+1", n + 1, "max-length")):
                found = _find_match(rule.pattern, length, None, rule.temporal is not None)
                if found is not None:
                    c.append((label, found, intended))

    if rule.pattern is not None:
        base = minimal_match(rule) or ""
        for label, text in (
            ("trailing-space", base + " "),
            ("leading-space", " " + base),
            ("trailing-newline", base + "\n"),
            ("symbol", "!"),
            ("words", "not valid"),
        ):
            if base or label in ("symbol", "words"):
                c.append((f"pattern-{label}", text, "pattern"))

    if rule.temporal is not None:
        for day, intended in (
            ("2024-02-29", None),
            ("2000-01-01", None),
            ("2023-02-29", "type"),
            ("2023-02-30", "type"),
            ("2023-04-31", "type"),
        ):
            for suffix in ("", " 10:00", "T23:59:59.123456+03:00", "T10:00:00Z"):
                c.append(("calendar" if intended else "date", day + suffix, intended))

    if rule.enum is not None:
        c += [("enum", v, None) for v in rule.enum]
        for v in (*(e.upper() for e in rule.enum), *(e + "x" for e in rule.enum), "zz-not-listed"):
            if v not in rule.enum:
                c.append(("enum-unlisted", v, "enum"))

    if rule.kind in ("number", "integer"):
        places = _places(rule)
        if rule.minimum is not None:
            step = Decimal(1).scaleb(-places)
            c += [
                ("minimum", _num(rule.minimum, places), None),
                ("below-minimum", _num(rule.minimum - step, places), "min-value"),
            ]
        if rule.decimal_places is not None:
            d = rule.decimal_places
            low = rule.minimum if rule.minimum is not None and rule.minimum > 0 else Decimal(0)
            whole = format(low.to_integral_value(rounding="ROUND_CEILING"), "f")
            if d >= 1:
                c += [
                    ("decimal-places", f"{whole}.{('29' + '5' * d)[:d]}", None),
                    ("decimal-places-zeros", f"{whole}.{'0' * d}", None),
                ]
            c += [
                ("decimal-places+1", f"{whole}.{('29' + '5' * (d + 1))[: d + 1]}", "decimal-places"),
                ("decimal-places+1-zeros", f"{whole}.{'0' * (d + 1)}", "decimal-places"),
            ]
        if rule.max_digits is not None:
            m, d = rule.max_digits, min(places, rule.max_digits)
            ints = m - d
            frac = "9" * d
            fits = ("9" * ints or "0") + (f".{frac}" if d else "")
            over = "9" * (ints + 1) + (f".{frac}" if d else "")
            c += [
                ("max-digits", fits, None),
                ("max-digits-leading-zeros", "00" + fits, None),
                ("max-digits+1", over, "max-digits"),
                ("max-digits+1-whole", "1" + "0" * m, "max-digits"),
            ]

    return c


#: Tag prefix of candidates kept whatever ``violations`` says of them.
FORCE = "!"


def _label(tag: str, value: Any) -> str:
    if value is ABSENT:
        return tag
    shown = str(value) if isinstance(value, JsonLiteral) else json.dumps(value, ensure_ascii=False)
    if len(shown) > 40:
        size = len(value) if isinstance(value, str) else len(shown)
        shown = f"{shown[:16]}…({size} chars)"
    return f"{tag}={shown}"


def _keep(rule: FieldRule, tag: str, text: str, intended: str | None) -> bool:
    if tag.startswith(FORCE):
        return True
    return violations(rule, text) == ({intended} if intended else set())


# --------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------


def text_examples(rule: FieldRule, choices: dict[str, ChoiceList]) -> list[Example]:
    """Examples of CSV cell text for a Table Schema field."""
    out: dict[str, Example] = {}
    seen: set[str] = set()
    for tag, text, intended in _text_candidates(rule, choices):
        if text in seen or not _keep(rule, tag, text, intended):
            continue
        seen.add(text)
        label = _unique(out, _label(("fail-" if intended else "pass-") + tag.lstrip(FORCE), text))
        out[label] = Example(label, text, intended, choice_warnings(rule, text, choices))
    return list(out.values())


def _unique(existing: dict[str, Example], label: str) -> str:
    if label not in existing:
        return label
    n = 2
    while f"{label}#{n}" in existing:
        n += 1
    return f"{label}#{n}"


def _json_from_text(rule: FieldRule, text: str, intended: str | None) -> Any:
    """The JSON form of a derived text candidate, or ``ABSENT`` when it has none.

    Strings carry over as they are. Numbers carry over when their text is both plain decimal
    and a JSON number, and the text was not made to show a text-syntax ``type`` error.
    Booleans and objects have JSON examples of their own.
    """
    if rule.kind == "string":
        return text
    plain = NUMBER_RE.fullmatch(text) is not None and JSON_NUMBER.fullmatch(text) is not None
    if rule.kind in ("number", "integer") and intended != "type" and plain:
        return JsonLiteral(text)
    return ABSENT


def json_examples(rule: FieldRule, choices: dict[str, ChoiceList]) -> list[Example]:
    """Examples of JSON values for a JSON Schema property."""
    missing = "required" if rule.required else None
    cands: list[tuple[str, Any, str | None, tuple[str, ...]]] = [
        ("null", None, missing, ()),
        ("absent", ABSENT, missing, ()),
    ]
    wrong_kind = "json-object" if rule.kind == "object" else "type"
    cands.append(("empty-string", "", missing if rule.kind == "string" else wrong_kind, ()))
    text_cands = _text_candidates(rule, choices)
    for tag, text, intended in text_cands:
        if text == "" or not _keep(rule, tag, text, intended):
            continue
        value = _json_from_text(rule, text, intended)
        if value is not ABSENT:
            cands.append((tag, value, intended, ()))

    number = next((t for g, t, i in text_cands if i is None and "." in t and _keep(rule, g, t, i)), "1")
    if rule.kind == "string":
        cands += [
            ("number-for-string", JsonLiteral("1"), "type", ()),
            ("boolean-for-string", True, "type", ()),
            ("object-for-string", {}, "type", ()),
            ("array-for-string", [], "type", ()),
        ]
    elif rule.kind in ("number", "integer"):
        cands += [
            ("number-as-string", number, "type", ()),
            ("boolean-for-number", True, "type", ()),
            ("object-for-number", {}, "type", ()),
            ("array-for-number", [], "type", ()),
        ]
        if rule.kind == "integer":
            cands += [
                ("fraction", JsonLiteral("1.5"), "type", ()),
                ("integral-fraction", JsonLiteral("2.0"), "type", ()),
            ]
        # Exponent notation: the value has more places/digits than allowed; a fix may call it
        # either that rule or a type error (plain decimal notation required, as in CSV).
        lowest = rule.minimum if rule.minimum is not None else Decimal("-Infinity")
        if rule.decimal_places is not None:
            tiny = JsonLiteral(f"1e-{rule.decimal_places + 1}")
            if Decimal(tiny) >= lowest:
                cands.append(("exponent-places", tiny, "decimal-places", ("type",)))
        if rule.max_digits is not None:
            cands.append(("exponent-digits", JsonLiteral(f"1e{rule.max_digits}"), "max-digits", ("type",)))
    elif rule.kind == "boolean":
        cands += [
            ("true", True, None, ()),
            ("false", False, None, ()),
            ("boolean-as-string", "true", "type", ()),
            ("boolean-as-string", "false", "type", ()),
            ("number-for-boolean", JsonLiteral("1"), "type", ()),
            ("object-for-boolean", {}, "type", ()),
        ]
    else:
        cands += [
            ("object", {}, None, ()),
            ("object", {"k": "v", "n": [1, None]}, None, ()),
            ("object", {"ş": {"nested": True}}, None, ()),
            ("object-as-string", "{}", "json-object", ()),
            ("array", [], "json-object", ()),
            ("array", [{"k": "v"}], "json-object", ()),
            ("number-for-object", JsonLiteral("1"), "json-object", ()),
            ("boolean-for-object", True, "json-object", ()),
        ]

    out: dict[str, Example] = {}
    seen: set[str] = set()
    for tag, value, intended, also in cands:
        key = repr((type(value).__name__, value))
        if key in seen:
            continue
        seen.add(key)
        label = _unique(out, _label(("fail-" if intended else "pass-") + tag.lstrip(FORCE), value))
        out[label] = Example(label, value, intended, choice_warnings(rule, value, choices), also)
    return list(out.values())


def examples(rule: FieldRule, form: Form, choices: dict[str, ChoiceList]) -> list[Example]:
    return text_examples(rule, choices) if form == "text" else json_examples(rule, choices)


# --------------------------------------------------------------------------------------------
# Strategies of passing values
# --------------------------------------------------------------------------------------------


def _string_values(rule: FieldRule, form: Form, choices: dict[str, ChoiceList] | None) -> st.SearchStrategy[str]:
    chars = TEXT_CHARS if form == "text" else JSON_CHARS
    if rule.enum is not None:
        return st.sampled_from(rule.enum)
    if rule.pattern is not None:
        values = st.from_regex(rule.pattern, fullmatch=True, alphabet=chars)
    elif rule.max_length is not None:
        # Lengths right at the limit as often as short ones: that is where the limit bites.
        values = st.text(chars, min_size=1, max_size=rule.max_length) | st.text(
            chars, min_size=max(rule.max_length - 1, 1), max_size=rule.max_length
        )
    else:
        values = st.text(chars, min_size=1, max_size=40)
    if rule.choices is not None and choices and rule.choices in choices:
        values = st.sampled_from(choices[rule.choices].values) | values
    if rule.max_length is not None:
        values = values.filter(lambda s: len(s) <= rule.max_length)
    if rule.temporal is not None:
        values = values.filter(real_date)
    return values


def _number_values(rule: FieldRule) -> st.SearchStrategy[str]:
    if rule.kind == "integer":
        low = int(rule.minimum.to_integral_value(rounding="ROUND_CEILING")) if rule.minimum is not None else -(10**12)
        return st.integers(min_value=low, max_value=max(low, 0) + 10**12).map(str)
    digits = rule.max_digits if rule.max_digits is not None else 15
    most_places = min(_places(rule), digits)

    def scaled(places: int) -> st.SearchStrategy[str]:
        low = -(10**digits - 1)
        if rule.minimum is not None:
            low = max(low, int((rule.minimum.scaleb(places)).to_integral_value(rounding="ROUND_CEILING")))
        return st.integers(min_value=low, max_value=10**digits - 1).map(
            lambda n: format(Decimal(n).scaleb(-places), "f")
        )

    return st.integers(min_value=0, max_value=most_places).flatmap(scaled)


_SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(JSON_CHARS, max_size=8)
SMALL_OBJECTS = st.dictionaries(st.text(JSON_CHARS, max_size=6), _SCALARS | st.lists(_SCALARS, max_size=2), max_size=3)


def passing_values(rule: FieldRule, form: Form, choices: dict[str, ChoiceList] | None = None) -> st.SearchStrategy[Any]:
    """Values of the given form that break none of the rule's error rules."""
    values: st.SearchStrategy[Any]
    if rule.kind == "string":
        values = _string_values(rule, form, choices)
    elif rule.kind in ("number", "integer"):
        values = _number_values(rule)
        if form == "json":
            values = values.map(JsonLiteral)
    elif rule.kind == "boolean":
        values = st.sampled_from((*rule.true_values, *rule.false_values)) if form == "text" else st.booleans()
    else:
        values = SMALL_OBJECTS.map(lambda d: json.dumps(d, ensure_ascii=False)) if form == "text" else SMALL_OBJECTS
    if not rule.required:
        values = values | (st.just("") if form == "text" else st.sampled_from([None, ABSENT]))
    return values


def row_values(
    rules: TypeRules, form: Form, choices: dict[str, ChoiceList] | None = None
) -> st.SearchStrategy[dict[str, Any]]:
    """Whole rows (text form) or records (JSON form) that pass every field rule."""
    return st.fixed_dictionaries({f.name: passing_values(f, form, choices) for f in rules.fields})


# --------------------------------------------------------------------------------------------
# Converting between the forms; reading samples; writing files
# --------------------------------------------------------------------------------------------


def text_to_json(rule: FieldRule, text: str) -> Any:
    """The typed JSON value of a valid CSV cell (``rule`` from the Table Schema)."""
    if text == "":
        return None
    if rule.kind == "number":
        return JsonLiteral(text if JSON_NUMBER.fullmatch(text) else format(Decimal(text), "f"))
    if rule.kind == "integer":
        return JsonLiteral(str(int(text)))
    if rule.kind == "boolean":
        if text in rule.true_values:
            return True
        if text in rule.false_values:
            return False
        raise ValueError(f"{rule.name}: {text!r} is not a boolean spelling")
    if rule.kind == "object":
        return json.loads(text)
    return text


def json_to_text(value: Any) -> str:
    """The CSV cell for a JSON value: numbers as written, booleans true/false, objects as JSON text."""
    if value is None or value is ABSENT:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, JsonLiteral):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if not NUMBER_RE.fullmatch(text):
            raise ValueError(f"{value!r} has no plain decimal text")
        return text
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _dump(value: Any) -> str:
    if isinstance(value, JsonLiteral):
        return str(value)
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        items = (f"{json.dumps(k, ensure_ascii=False)}: {_dump(v)}" for k, v in value.items() if v is not ABSENT)
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def dump_json(records: Iterable[dict[str, Any]]) -> str:
    """A JSON array of records, numbers written exactly as their ``JsonLiteral`` text."""
    return "[\n" + ",\n".join(_dump(r) for r in records) + "\n]\n"


def write_csv(path: Path, header: Sequence[str], rows: Iterable[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(header), lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def sample_file(type_name: str) -> Path:
    found = sorted(p for p in SAMPLES.glob(f"{type_name}.*") if p.suffix in (".csv", ".json"))
    if not found:
        raise FileNotFoundError(f"no committed sample for {type_name} in {SAMPLES}")
    return found[0]


def _load_json(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"), parse_float=JsonLiteral, parse_int=JsonLiteral)


def sample_text_rows(table: TypeRules) -> list[dict[str, str]]:
    """The committed sample of a type as CSV text rows, in the Table Schema's column order."""
    path = sample_file(table.type)
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        return [{f.name: row.get(f.name, "") for f in table.fields} for row in rows]
    return [{f.name: json_to_text(rec.get(f.name)) for f in table.fields} for rec in _load_json(path)]


def sample_json_records(table: TypeRules) -> list[dict[str, Any]]:
    """The committed sample of a type as typed JSON records (``None`` for empty cells)."""
    path = sample_file(table.type)
    if path.suffix == ".json":
        return [{f.name: rec.get(f.name) for f in table.fields} for rec in _load_json(path)]
    return [{f.name: text_to_json(f, row[f.name]) for f in table.fields} for row in sample_text_rows(table)]
