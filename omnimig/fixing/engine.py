"""Which normaliser corrects which field, derived from the rule files, and the one-cell attempt.

Nothing here restates a rule. A field's fixer follows from what its ``FieldRule`` says: the kind
(``number``/``integer`` -> ``normalize.decimal``, ``boolean`` -> ``normalize.boolean``), ``temporal``
(-> ``normalize.date``), ``enum`` (-> the one listed value equal but for case), a ``pattern`` a
normaliser's canonical output matches and its raw input does not (the phone pattern ->
``normalize.phone``; a pattern that takes ``TRY`` and refuses ``₺`` -> ``normalize.CURRENCY_SIGNS``), and text
(-> whitespace and invisible characters). A rule added to a schema file therefore gets its
fixer without new code, unless it needs a normaliser that does not exist yet.

An attempt never decides that a value is good: ``failures`` runs the validator's own column check
(``validation.fields.check_column``) on the corrected values, so a "fix" that still breaks any
field rule is not made, and the reason says which rule.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import TypeVar

import numpy as np

from omnimig import i18n
from omnimig.exceptions import Error
from omnimig.i18n import N_, _
from omnimig.schemas.rules import ChoiceList, FieldRule, default_choices, rules_for
from omnimig.transforms import normalize as nz

#: Every fix code, in the order ``changes.csv`` and ``--only`` name them, with what it does.
CODES: dict[str, str] = {
    "trim": "whitespace and invisible characters removed at the ends, runs of spaces made one",
    "number": "decimal comma, thousands separators or spaces read into a plain number (129,90 -> 129.90)",
    "currency-sign": "a currency sign or code removed from an amount (649,90 TL -> 649.90)",
    "integral-float": "a whole number Excel wrote as a float (3.0 -> 3)",
    "date": "an unambiguous date or date-time written in the required ISO form (14.11.1998 -> 1998-11-14)",
    "excel-date": "an Excel serial date written as a date (45291 -> 2023-12-31)",
    "boolean": "a yes/no spelling written as the rule's true/false (evet -> true)",
    "phone": "a Turkish mobile number written as 5XXXXXXXXX (+90 532 123 45 67 -> 5321234567)",
    "currency-code": "a currency sign written as its code (TL -> TRY)",
    "case": "a listed value written in the listed case",
    "synonym": "a spelling the rule file names as one reading of a value (Kadın -> female, Erkek -> male)",
    "json-type": "a JSON string holding a number, boolean or object written as that JSON type",
    "empty-object": "an empty extra_field string written as the empty object {}",
    "column-alias": "a column named by its alias renamed to the documented name (customer_code -> user)",
    "rewrite": "the file rewritten plainly (CSV as UTF-8 with ',', JSON as one array, a workbook's table from A1)",
}

#: Characters nobody sees that break a key or a pattern: zero-width space, joiners, word joiner,
#: byte-order mark, soft hyphen. ``normalize.text`` keeps them (they are not whitespace), so the
#: text fixer removes them first.
INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")

#: Distinct values per field whose attempt is remembered (bounded: a file of unique values).
MEMO_SIZE = 50_000

#: A currency sign more than one currency uses: never read as one of them.
AMBIGUOUS_SIGNS = frozenset({"$"})

#: What ``normalize.date`` reads as an Excel serial number (so the change is coded ``excel-date``).
_BARE_NUMBER = re.compile(r"[0-9]+(?:[.,][0-9]+)?")

# The canonical input and output of each pattern normaliser: a normaliser applies to a string
# field whose pattern accepts the output and refuses the input (a property of the normaliser,
# not of any field).
_PHONE_PROBE = ("+90 (532) 123 45 67", "5321234567")
_CURRENCY_PROBE = ("₺", "TRY")


@dataclass(frozen=True)
class Conventions:
    """What a file's author declared with ``--locale``: the one reading of values that are
    ambiguous without it (``1.234``, ``01/02/2023``), given to the normalisers as their options."""

    decimal_separator: str | None = None  # ``normalize.decimal``'s option
    date_order: nz.DateOrder | None = None  # ``normalize.date``'s option


PLAIN = Conventions()
#: ``--locale``: Turkish files write ``1.234,5`` (dot thousands, decimal comma) and dates day first.
LOCALES: dict[str, Conventions] = {"tr": Conventions(decimal_separator=",", date_order="dmy")}


@dataclass(frozen=True)
class Fix:
    """A corrected cell: the new text, the fix code, and (JSON files) the JSON kind to write it as."""

    value: str
    code: str
    kind: str = "string"
    currency: str | None = None  # an amount's sign, checked against the row's currency field


class NotFixed(Error):
    """Why a cell is left for a person; ``str()`` is the one-line reason (caught inside the run)."""


def clean_text(value: str) -> str | None:
    """``normalize.text`` after removing invisible characters (which it keeps: they are not spaces)."""
    return nz.text(INVISIBLE.sub("", value))


def _matches(pattern: str | None, text: str) -> bool:
    return pattern is not None and re.fullmatch(pattern, text) is not None


def is_phone_field(rule: FieldRule) -> bool:
    """The field's pattern takes what ``normalize.phone`` writes and refuses what it reads."""
    raw, out = _PHONE_PROBE
    return rule.kind == "string" and _matches(rule.pattern, out) and not _matches(rule.pattern, raw)


def is_currency_field(rule: FieldRule) -> bool:
    """The field's pattern takes a currency code and refuses a currency sign."""
    raw, out = _CURRENCY_PROBE
    return rule.kind == "string" and _matches(rule.pattern, out) and not _matches(rule.pattern, raw)


@dataclass(frozen=True)
class FieldFixer:
    """The fixer of one field, chosen once from its rule; ``attempt`` corrects one cell or raises ``NotFixed``."""

    rule: FieldRule
    json: bool
    steps: tuple[str, ...]  # the fix codes this field can make, for --only and docs
    attempt_cell: Callable[[FieldRule, str, str, bool, Conventions], Fix]
    conventions: Conventions = PLAIN
    _memo: dict[tuple[str, str, str], Fix | NotFixed] = dataclasses.field(
        default_factory=dict, compare=False, repr=False
    )

    def attempt(self, value: str, kind: str = "string") -> Fix:
        """The correction of one cell; raises ``NotFixed`` with the reason when there is none."""
        key = (value, kind, i18n.current())  # a reason is kept in the language it was made in
        found = self._memo.get(key)
        if found is None:
            try:
                found = _synonym(self.rule, value) or self.attempt_cell(
                    self.rule, value, kind, self.json, self.conventions
                )
            except NotFixed as exc:
                found = exc
            if len(self._memo) < MEMO_SIZE:  # exports repeat their spellings: "3.0", "TL", "evet"
                self._memo[key] = found
        if isinstance(found, NotFixed):
            raise NotFixed(str(found))
        return found


# ---------------------------------------------------------------------------------------- per kind


def _synonym(rule: FieldRule, value: str) -> Fix | None:
    """A spelling the rule file names as one reading of a valid value (``Kadın`` → ``female``), or None.

    Which spellings is data (``"synonyms"`` in the schema files), matched Turkish-folded and trimmed;
    the written value is still checked against the rule before it counts as a fix.
    """
    if not rule.synonyms:
        return None
    key = nz.fold(clean_text(value) or "")
    for spelling, meant in rule.synonyms:
        if nz.fold(spelling) == key:
            return Fix(meant, "synonym")
    return None


def _text_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    cleaned = clean_text(value)
    if cleaned is None:
        raise NotFixed(_("the value is empty or only spaces; omnimig never invents a value"))
    if cleaned == value:
        raise NotFixed("")  # nothing to trim: the rule's own reason says why it is left
    return Fix(cleaned, "trim")


NEVER_INVENTS = N_("the value is empty; omnimig never invents a value")
NOT_AN_OBJECT = N_("not a JSON object; what it should hold is for a person to decide")
_T = TypeVar("_T")


def _reading(normalise: Callable[[str], _T | None], text: str | None, empty: str = NEVER_INVENTS) -> _T:
    """The one reading a normaliser finds in a cell, or ``NotFixed`` with the normaliser's reason (or ``empty``)."""
    try:
        found = normalise(text or "")
    except nz.NormaliseError as exc:
        raise NotFixed(str(exc)) from None
    if found is None:
        raise NotFixed(_(empty))
    return found


def _declared(normalise: Callable[..., _T | None], text: str | None, **option: str | None) -> _T:
    """The one reading of a cell; failing that, the reading the file's declared conventions give
    (``--locale``: ``option`` is the normaliser's own option, ``decimal_separator=","``).

    The declared convention only settles what has no single reading without it (``1.234``,
    ``01/02/2023``): a value with one reading keeps it (``3.0`` is still 3, ``31/12/2023`` still
    31 December), and when neither reads, the reason is the plain reading's.
    """
    try:
        return _reading(normalise, text)
    except NotFixed:
        if all(v is None for v in option.values()):
            raise
        try:
            return _reading(partial(normalise, **option), text)
        except NotFixed:
            pass
        raise


def _number_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    amount = _declared(nz.decimal, INVISIBLE.sub("", value), decimal_separator=conv.decimal_separator)
    text = amount.text
    code = "number"
    if rule.kind == "integer":
        whole, _point, frac = text.partition(".")
        if frac.strip("0"):
            raise NotFixed(_("{value} is not a whole number; rounding it would change it").format(value=text))
        if frac:
            code = "integral-float"
        text = whole
    if amount.currency is not None:
        if rule.kind == "integer":
            raise NotFixed(
                _("a currency in a whole-number field ({currency}); what it counts is for a person").format(
                    currency=amount.currency
                )
            )
        sign = next((s for s, c in nz.CURRENCY_SIGNS.items() if s in value and c == amount.currency), None)
        if sign in AMBIGUOUS_SIGNS:
            raise NotFixed(
                _('"{sign}" is the sign of several currencies; write the amount without it').format(sign=sign)
            )
        code = "currency-sign"
    if text == value and json and kind != "number":
        code = "json-type"
    return Fix(text, code, "number", amount.currency)


def _boolean_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    flag = _reading(nz.boolean, INVISIBLE.sub("", value))
    # JSON writes the literal; a table the rule's first spelling of it ("true"/"false")
    text = ("true" if flag else "false") if json else (rule.true_values if flag else rule.false_values)[0]
    return Fix(text, "json-type" if json and text == value else "boolean", "boolean")


def _date_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    cleaned = clean_text(value)
    iso = _declared(nz.date, cleaned, order=conv.date_order)
    if rule.temporal == "date" and iso.endswith("T00:00:00"):
        iso = iso[:10]  # Excel's date cell exported with its midnight: the date is the only reading
    has_time = "T" in iso
    if rule.temporal == "date" and has_time:
        raise NotFixed(
            _("{field} takes a date without a time; dropping the time is for a person to decide").format(
                field=i18n.field(rule.name)
            )
        )
    if rule.temporal == "datetime" and not has_time:
        raise NotFixed(
            _("{field} needs a date and a time; omnimig never invents the time of day").format(
                field=i18n.field(rule.name)
            )
        )
    serial = _BARE_NUMBER.fullmatch(cleaned or "") is not None
    return Fix(iso, "excel-date" if serial else "date")


def _phone_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    return Fix(_reading(nz.phone, INVISIBLE.sub("", value), N_("the value is empty or only spaces")), "phone")


def _currency_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    cleaned = clean_text(value) or ""
    if cleaned in AMBIGUOUS_SIGNS:
        raise NotFixed(
            _('"{sign}" is the sign of several currencies; write the three-letter code').format(sign=cleaned)
        )
    code = nz.CURRENCY_SIGNS.get(cleaned.upper())
    if code is not None:
        return Fix(code, "currency-code")
    return _text_fix(rule, value, kind, json)


def _enum_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    cleaned = clean_text(value) or ""
    assert rule.enum is not None
    same = [v for v in rule.enum if nz.fold(v) == nz.fold(cleaned)]
    if len(same) == 1:
        return Fix(same[0], "case")
    if len(same) > 1:
        raise NotFixed(
            _("{value} matches several listed values but for case: {values}").format(
                value=repr(value), values=", ".join(same)
            )
        )
    return _text_fix(rule, value, kind, json)


def _object_fix(rule: FieldRule, value: str, kind: str, json: bool, conv: Conventions = PLAIN) -> Fix:
    import json as _json

    if not json:
        raise NotFixed(_(NOT_AN_OBJECT))
    if not value.strip():
        return Fix("{}", "empty-object", "object")
    try:
        parsed = _json.loads(value)
    except (ValueError, RecursionError):
        raise NotFixed(_(NOT_AN_OBJECT)) from None
    if kind == "string" and isinstance(parsed, dict):
        return Fix(value, "json-type", "object")
    raise NotFixed(_(NOT_AN_OBJECT))


def _attempt_for(rule: FieldRule) -> tuple[Callable[[FieldRule, str, str, bool, Conventions], Fix], tuple[str, ...]]:
    """The one attempt function a field gets, and the codes it can make."""
    if rule.kind in ("number", "integer"):
        codes = ("number", "currency-sign", "json-type") + (("integral-float",) if rule.kind == "integer" else ())
        return _number_fix, codes
    if rule.kind == "boolean":
        return _boolean_fix, ("boolean", "json-type")
    if rule.kind == "object":
        return _object_fix, ("empty-object", "json-type")
    if rule.temporal is not None:
        return _date_fix, ("date", "excel-date")
    if rule.enum is not None:
        return _enum_fix, ("case", "trim")
    if is_phone_field(rule):
        return _phone_fix, ("phone",)
    if is_currency_field(rule):
        return _currency_fix, ("currency-code", "trim")
    return _text_fix, ("trim",)


@cache
def field_fixer(type_name: str, field: str, fmt: str = "csv", locale: str | None = None) -> FieldFixer:
    """The fixer of ``type_name.field`` for a file of ``fmt`` (``json`` reads the JSON Schema), reading
    values by the conventions of ``locale`` (``LOCALES``; ``None``: only what has one reading anyway)."""
    rule = rules_for(type_name, fmt).field(field)
    attempt, codes = _attempt_for(rule)
    if rule.synonyms:
        codes = ("synonym", *codes)
    return FieldFixer(rule, fmt == "json", codes, attempt, PLAIN if locale is None else LOCALES[locale])


def currency_field(type_name: str, fmt: str = "csv") -> str | None:
    """The field of ``type_name`` that holds the currency code, if any (an amount's sign must agree with it)."""
    return next((r.name for r in rules_for(type_name, fmt).fields if is_currency_field(r)), None)


# ---------------------------------------------------------------------------------------- checking


def failures(
    rule: FieldRule,
    values: Sequence[str],
    kinds: Sequence[str] | None,
    choices: dict[str, ChoiceList] | None = None,
) -> list[list[str]]:
    """The rules each value still breaks, judged by the validator's own column check (empty: it passes)."""
    import pyarrow as pa

    from omnimig.validation.fields import Emitter, check_column
    from omnimig.validation.problem import Problem

    n = len(values)
    sink: list[Problem] = []
    arr = pa.array(list(values), pa.large_string())
    kind_arr = None if kinds is None else np.array(list(kinds), dtype=object)
    live = np.ones(n, dtype=bool)
    rows = np.arange(n)
    lists = default_choices() if choices is None else choices
    check_column(arr, kind_arr, rule, live, rows, lists, Emitter("", "", sink))
    broken: list[list[str]] = [[] for _ in range(n)]
    for p in sink:
        if p.row is not None:
            broken[p.row].append(p.rule)
    return broken


def suggestions(
    type_name: str,
    field: str,
    values: Sequence[str],
    fmt: str = "csv",
    kinds: Sequence[str] | None = None,
    choices: dict[str, ChoiceList] | None = None,
) -> list[tuple[str, str] | None]:
    """``suggest`` for many values of one field at once (one column check for all of them): what
    ``validate`` can call per file and field on the cells it found failing."""
    fixer = field_fixer(type_name, field, fmt)
    kind_of = (lambda i: "string") if fmt != "json" or kinds is None else (lambda i: kinds[i])
    judged = failures(fixer.rule, values, None if fmt != "json" else [kind_of(i) for i in range(len(values))], choices)
    tried: list[tuple[int, Fix]] = []
    for i, value in enumerate(values):
        if not judged[i]:
            continue  # it passes: nothing to suggest
        try:
            tried.append((i, fixer.attempt(value, kind_of(i))))
        except NotFixed:
            continue
    still = failures(
        fixer.rule, [f.value for _, f in tried], None if fmt != "json" else [f.kind for _, f in tried], choices
    )
    out: list[tuple[str, str] | None] = [None] * len(values)
    for (i, f), broken in zip(tried, still, strict=True):
        if not broken:
            out[i] = (f.value, f.code)
    return out


def suggest(type_name: str, field: str, value: str, fmt: str = "csv", kind: str = "string") -> tuple[str, str] | None:
    """The corrected value and its fix code, or ``None`` when the value passes or has no safe correction.

    What ``validate`` can ask to mark a problem fixable; the same attempt and check ``fix`` uses.
    (Bundle rules are not considered: a corrected key may still be a duplicate.)
    """
    return suggestions(type_name, field, [value], fmt, [kind])[0]
