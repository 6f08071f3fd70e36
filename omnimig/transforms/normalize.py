"""Normalisers: one legacy-export cell in, one clean Akinon value out, or a ``NormaliseError`` saying why not.

Every function here is pure (stdlib and ``zoneinfo`` only), takes text as the readers deliver it, and
follows two rules:

* Empty means empty: ``None``, ``""`` and whitespace-only input give ``None`` (``boolean`` gives its
  ``empty`` argument), so a caller can tell "no value" from "a bad value".
* No guessing: a value that two conventions read differently (``01/02/2023``, ``1.234``) raises
  ``NormaliseError`` instead of picking one; the message says what was wrong and what is accepted,
  on one line, so it can go straight into ``rejects.csv`` or a report.

The conventions come from ``legacy-exports.md`` §1.4 (Shopify: dot decimals, ISO-like dates with
``+0300`` offsets, apostrophe text markers) and §5.2 (Turkish platforms: decimal commas, dot thousands,
``dd.MM.yyyy HH:mm`` dates, Turkish phone spellings, Turkish dotted/dotless i).
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from omnimig.i18n import N_, _
from omnimig.io.safe_text import cut

__all__ = [
    "Amount",
    "NormaliseError",
    "boolean",
    "date",
    "date_column",
    "decimal",
    "fold",
    "phone",
    "strip_marker",
    "text",
    "text_column",
    "unchanged_by_text",
    "upper_tr",
]


class NormaliseError(ValueError):
    """A value that cannot be read; ``str(error)`` is a one-line reason naming what is allowed."""


def _q(value: str, limit: int = 60) -> str:
    """The value as it appears in a message: quoted, escaped to one line, long values shortened."""
    return json.dumps(cut(value, limit), ensure_ascii=False)


# --------------------------------------------------------------------------------------------------
# Text


def text(value: str | None, *, keep_newlines: bool = False) -> str | None:
    """Clean free text: Unicode NFC, trimmed, runs of whitespace collapsed to one space.

    Why: legacy exports mix composed and decomposed letters (``ş`` vs ``s`` + U+0327, common from
    macOS and some web forms) and pad cells with tabs, NBSPs (U+00A0, pasted from web pages and
    Excel) and doubled spaces; values that look the same must compare equal.

    Whitespace is anything ``str.isspace`` accepts (space, tab, NBSP, U+202F, line breaks...).
    By default everything collapses to one space, for single-line fields. With ``keep_newlines=True``
    (addresses, notes) the text is split into lines (``str.splitlines``: ``\\n``, ``\\r\\n``, ``\\r``,
    U+2028...), each line is trimmed and collapsed, lines are joined with ``\\n``, and blank lines at
    the start and end are dropped; blank lines in the middle are kept.

    NFC is applied first, so the result is NFC and ``text(text(x)) == text(x)``.
    A leading apostrophe marker is *not* removed here; use ``strip_marker``.
    Returns ``None`` for ``None`` and for empty or whitespace-only text.
    """
    if value is None:
        return None
    value = unicodedata.normalize("NFC", value)
    if keep_newlines:
        lines = [" ".join(line.split()) for line in value.splitlines()]
        result = "\n".join(lines).strip("\n")
    else:
        result = " ".join(value.split())
    return result or None


#: Cells ``text`` gives back unchanged: printable ASCII words separated by single spaces, nothing
#: at either end (ASCII is NFC already). Arrow finds them in a whole column at once.
_CLEAN_ASCII = r"^(?:[!-~]+(?: [!-~]+)*)?$"


def text_column(values: Sequence[str | None] | Any, *, keep_newlines: bool = False) -> list[str]:
    """``text`` over a whole column: ``[text(v, keep_newlines=...) or "" for v in values]``.

    Why: most cells of an export are already clean (``paid``, ``TRY``, ``#1001``); an Arrow
    regex finds those in one pass and only the others go through ``text`` one by one, so a
    column costs a Python call per *unclean* cell. The rule itself is ``text``'s alone: the
    Arrow test only decides that ``text`` would return the cell unchanged (a hypothesis test
    checks both give the same for any text). ``values`` is a sequence or an Arrow array;
    ``None`` (null) gives ``""``. pyarrow is imported here, so the per-cell functions stay stdlib-only.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(list(values), type=pa.string())
    clean = pc.fill_null(pc.match_substring_regex(array, _CLEAN_ASCII), False)
    out: list[str] = array.to_pylist()
    for i in np.flatnonzero(~clean.to_numpy(zero_copy_only=False)).tolist():
        out[i] = text(out[i], keep_newlines=keep_newlines) or ""
    return out


def _class_body(chars: list[int]) -> str:
    """Code points as an RE2 character-class body, runs written as ranges (short to compile)."""
    runs: list[list[int]] = []
    for c in chars:
        if runs and runs[-1][1] == c - 1:
            runs[-1][1] = c
        else:
            runs.append([c, c])
    return "".join(f"\\x{{{a:04x}}}" + (f"-\\x{{{b:04x}}}" if b > a else "") for a, b in runs)


@cache
def whitespace_class() -> str:
    """Every character ``str.split()`` treats as whitespace, as an RE2 class body.

    Worked out from Python itself (every code point asked ``isspace``), on first use: the scan
    costs 0.1-0.5 s, and ``omnimig validate`` and its workers import this module without needing it.
    """
    return _class_body([c for c in range(0x110000) if chr(c).isspace()])


@cache
def _one_line() -> str:
    """Words of non-whitespace separated by single spaces, nothing at either end (or an empty cell)."""
    spaces = whitespace_class()
    return f"^(?:[^{spaces}]+(?: [^{spaces}]+)*)?$"


def unchanged_by_text(values: Any) -> Any:
    """Which cells of an Arrow string array ``text`` gives back as they are (an empty cell counts; null is False).

    Why: a column version of a rule built on ``text`` needs to know, in Arrow, the cells it may
    take as written: NFC already (``utf8_normalize``) and no whitespace but single spaces between
    words, so neither ``keep_newlines`` setting changes them. A numpy bool array; a hypothesis
    test checks ``text(cell) or "" == cell`` wherever it says True.
    """
    import numpy as np
    import pyarrow.compute as pc

    shaped = pc.match_substring_regex(values, _one_line())
    nfc = pc.equal(pc.utf8_normalize(values, form="NFC"), values)
    return np.asarray(pc.fill_null(pc.and_(shaped, nfc), False).to_numpy(zero_copy_only=False), dtype=bool)


def strip_marker(value: str | None) -> str | None:
    """Remove one leading apostrophe text marker: ``'2759`` -> ``2759``, ``'+46 70`` -> ``+46 70``.

    Why: Shopify (and people typing into Excel) prefix zip codes and phone numbers with ``'`` so
    spreadsheets keep them as text (leading zeros, ``+``). The apostrophe is not part of the value.
    Only U+0027 is removed, only once, and only at the start (leading whitespace before it is
    dropped too); the rest is returned unchanged, so compose as ``text(strip_marker(v))`` or
    ``strip_marker(text(v))``. ``text`` never calls this: in a name like ``'Ali`` the caller decides.
    Returns ``None`` for ``None``, empty or whitespace-only input and for a lone apostrophe.
    """
    if value is None:
        return None
    stripped = value.lstrip()
    if stripped.startswith("'"):
        value = stripped[1:]
    return value if value.strip() else None


def fold(value: str) -> str:
    """Turkish-aware case folding, for matching only (never for output).

    Why: Akinon's place names are Turkish upper case (``İSTANBUL``, ``ÜSKÜDAR``) and exports spell
    them any way. Python's ``str.lower`` follows the root locale: ``"İSTANBUL".lower()`` is
    ``"i̇stanbul"`` (an ``i`` plus U+0307, 9 code points) and ``"ISPARTA".lower()`` is ``"isparta"``.
    The Turkish rule is that dotted ``İ`` lowers to ``i`` and dotless ``I`` to ``ı``, so we map those
    two first, then ``lower()``, then NFC: ``fold("İSTANBUL") == "istanbul"``,
    ``fold("ISPARTA") == "ısparta"``, and ``fold("Istanbul") == "ıstanbul"`` (under Turkish rules the
    capital of ``i`` is ``İ``, so ``Istanbul`` really spells ``ıstanbul``; match against folded
    reference names, which were written with ``İ``). The input is made NFC first, so a decomposed
    ``I`` + U+0307 is treated as ``İ``. Idempotent: ``fold(fold(x)) == fold(x)``.
    """
    value = unicodedata.normalize("NFC", value)
    value = value.replace("İ", "i").replace("I", "ı")
    return unicodedata.normalize("NFC", value.lower())


@lru_cache(maxsize=1 << 16)
def match_key(value: str) -> str:
    """``fold`` with runs of whitespace as one space: the form in which two texts are the same place or
    part (an address identity, a repeated part of an address line). Cached: cities, townships and a
    buyer's address repeat across an export; ``core.forget`` empties it after a run."""
    return " ".join(fold(value).split())


def email(value: str | None) -> str | None:
    """An email address as a key: trimmed, NFC, lower-cased with ``İ`` and ``I`` both as ``i``.

    Addresses are matched case-insensitively, but Turkish folding is wrong for them: an
    ``I`` typed in ``ISIK@EXAMPLE.COM`` means ``i`` (``ı`` is not in an ASCII address), and
    Python's ``"İ".lower()`` adds a combining dot that makes ``İBRAHİM@…`` match nothing.
    """
    cleaned = text(value)
    if cleaned is None:
        return None
    return unicodedata.normalize("NFC", cleaned.replace("İ", "I").replace("ı", "i").lower())


def upper_tr(value: str) -> str:
    """Turkish upper case: ``i`` -> ``İ``, ``ı`` -> ``I``, then ``upper()``, then NFC.

    Why: Akinon's city/township/district names are written in Turkish upper case (``İSTANBUL``,
    ``ÜSKÜDAR``, ``IĞDIR``); ``"istanbul".upper()`` would give ``ISTANBUL``, which is a different
    word under Turkish rules. For Turkish letters ``fold(upper_tr(x)) == fold(x)``.
    """
    value = unicodedata.normalize("NFC", value)
    value = value.replace("i", "İ").replace("ı", "I")
    return unicodedata.normalize("NFC", value.upper())


# --------------------------------------------------------------------------------------------------
# Amounts


@dataclass(frozen=True, slots=True)
class Amount:
    """A money value as text: ``text`` is a plain decimal (``-1234.56``: ``.`` as decimal point, no
    thousands separators, no exponent, the fraction digits as given); ``currency`` is an ISO 4217
    code when the value carried a symbol or code, else ``None``."""

    text: str
    currency: str | None = None

    @property
    def value(self) -> Decimal:
        """The amount as a ``Decimal`` (exact; keeps the places: ``Decimal("39.90")``)."""
        return Decimal(self.text)


#: Currency signs and the codes they stand for. ``$`` is taken as USD: the exports we meet that use it
#: are US stores; a Canadian or Australian store must say ``CAD``/``AUD``. ``₺`` and ``TL`` are the lira.
CURRENCY_SIGNS = {"₺": "TRY", "TL": "TRY", "$": "USD", "€": "EUR", "£": "GBP"}

_CUR = r"[₺$€£]|(?i:TL)|[A-Z]{3}"
_AMOUNT = re.compile(rf"(?P<s1>[-+−])?\s?(?P<pre>{_CUR})?\s?(?P<s2>[-+−])?(?P<num>[0-9][0-9.,]*)\s?(?P<post>{_CUR})?")
_AMOUNT_ALLOWED = N_(
    'expected digits with "," or "." as the decimal separator, optional thousands grouping, an optional sign '
    "and an optional currency (₺, TL, $, €, £ or an upper-case 3-letter code)"
)


def decimal(value: str | None, *, decimal_separator: str | None = None) -> Amount | None:
    """Read a money amount written either Turkish style (``1.234,56``) or US style (``1,234.56``).

    Why: Turkish platforms write decimal commas with dot thousands (``649,90 TL``), Shopify writes
    plain dot decimals (``1249.00``), and Akinon wants ``1234.56``. The result keeps the fraction
    digits as written (``39,90`` -> ``39.90``; money is never rounded here) and drops leading zeros.

    Currency: a sign or code before or after the number (a space between is allowed) becomes
    ``Amount.currency``: ``₺``/``TL`` (any case) -> TRY, ``$`` -> USD, ``€`` -> EUR, ``£`` -> GBP,
    an upper-case 3-letter code is taken as is (``10 EUR``, ``TRY 10``). A minus (``-`` or U+2212)
    may stand before or after a leading currency sign; ``-0,00`` gives ``0.00``.

    Separators when ``decimal_separator`` is ``None`` (legacy-exports.md §5.2):

    * both ``.`` and ``,``: the last one is the decimal separator; the other must group thousands
      correctly (``1.234.567,89``) or it is an error (``1.23,4``);
    * only ``,``: one comma is a decimal comma (``39,90``, and so ``1,234`` is 1.234); several commas
      are thousands (``1,234,567``);
    * only ``.``: several dots are thousands (``1.234.567``); one dot is a decimal point unless exactly
      three digits follow it and 1-3 digits (not starting with 0) precede it: ``1.234`` could be either,
      so it is an error that asks for the separator (``0.125`` and ``1234.567`` are not ambiguous).

    With ``decimal_separator`` (``"."`` or ``","``) the file's convention is known and reading is
    strict: the other character may only group thousands (``1,234`` with ``"."`` is 1234).
    Anything else (``12abc``, ``1..2``, ``5,``, ``.5``, spaces inside the number) is an error.
    """
    if decimal_separator not in (None, ".", ","):
        raise ValueError(f'decimal_separator must be "." or ",", not {decimal_separator!r}')
    s = text(value)
    if s is None:
        return None
    m = _AMOUNT.fullmatch(s)
    if m is None:
        raise NormaliseError(_("{value} is not an amount: {allowed}").format(value=_q(s), allowed=_(_AMOUNT_ALLOWED)))
    if m["s1"] and m["s2"]:
        raise NormaliseError(_("{value} has two signs: {allowed}").format(value=_q(s), allowed=_(_AMOUNT_ALLOWED)))
    if m["pre"] and m["post"]:
        raise NormaliseError(
            _("{value} has two currencies: give the currency once, before or after the number").format(value=_q(s))
        )
    cur = m["pre"] or m["post"]
    currency = None if cur is None else CURRENCY_SIGNS.get(cur.upper(), cur)
    num = m["num"]
    dec = decimal_separator or _guess_separator(s, num)
    digits = _plain_number(s, num, dec)
    negative = (m["s1"] or m["s2"] or "+") in "-−" and digits.strip("0.") != ""
    return Amount(("-" if negative else "") + digits, currency)


def _guess_separator(s: str, num: str) -> str:
    """The decimal separator the §5.2 rules read in ``num``; raises when they cannot tell."""
    dots, commas = num.count("."), num.count(",")
    if dots and commas:
        return "," if num.rfind(",") > num.rfind(".") else "."
    if commas > 1:
        return "."
    if commas or dots == 1:
        # One separator followed by exactly three digits (1,234 / 1.234) reads either way: a
        # thousands group in one convention, three decimals in the other. Not a guess to make.
        mark = "," if commas else "."
        whole, frac = num.split(mark)
        if len(frac) == 3 and re.fullmatch(r"[1-9][0-9]{0,2}", whole):
            raise NormaliseError(
                _(
                    '{value} is ambiguous: "{mark}" may be a decimal mark or a thousands separator; '
                    'give the decimal separator ("." or ",")'
                ).format(value=_q(s), mark=mark)
            )
        return mark
    return "," if dots else "."


def _plain_number(s: str, num: str, dec: str) -> str:
    """``num`` without thousands separators and with ``.`` as decimal point, checked strictly."""
    thou = "," if dec == "." else "."
    parts = num.split(dec)
    if len(parts) > 2:
        raise NormaliseError(
            _('{value} has more than one decimal separator "{mark}": {allowed}').format(
                value=_q(s), mark=dec, allowed=_(_AMOUNT_ALLOWED)
            )
        )
    whole = parts[0]
    frac = parts[1] if len(parts) == 2 else None
    if frac is not None and not re.fullmatch(r"[0-9]+", frac):
        raise NormaliseError(
            _('{value} has no digits or stray separators after the decimal separator "{mark}"').format(
                value=_q(s), mark=dec
            )
        )
    if thou in whole:
        if not re.fullmatch(rf"[1-9][0-9]{{0,2}}(?:{re.escape(thou)}[0-9]{{3}})+", whole):
            raise NormaliseError(
                _(
                    '{value} has a bad thousands grouping: "{thousands}" may only separate groups of 3 digits '
                    'before the decimal separator "{mark}"'
                ).format(value=_q(s), thousands=thou, mark=dec)
            )
        whole = whole.replace(thou, "")
    elif not re.fullmatch(r"[0-9]+", whole):
        raise NormaliseError(_("{value} is not an amount: {allowed}").format(value=_q(s), allowed=_(_AMOUNT_ALLOWED)))
    whole = whole.lstrip("0") or "0"
    return whole if frac is None else f"{whole}.{frac}"


# --------------------------------------------------------------------------------------------------
# Dates

_TIME = (
    r"(?P<H>[0-9]{1,2}):(?P<M>[0-9]{2})(?::(?P<S>[0-9]{2})(?:[.,](?P<F>[0-9]+))?)?"
    r"(?:\s?(?P<ampm>[AaPp]\.?[Mm]\.?))?"
    r"(?:\s?(?P<Z>[Zz])|\s?(?P<osign>[-+−])(?P<oh>[0-9]{2})(?::?(?P<om>[0-9]{2}))?)?"
)
_YMD = re.compile(
    r"(?P<Y>[0-9]{4})(?P<sep>[-/.])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})(?:(?:[Tt]|\s)" + _TIME + ")?"
)
_XYZ = re.compile(r"(?P<a>[0-9]{1,2})(?P<sep>[-/.])(?P<b>[0-9]{1,2})(?P=sep)(?P<Y>[0-9]+)(?:\s" + _TIME + ")?")
_SERIAL = re.compile(r"[0-9]+(?:[.,][0-9]+)?")

#: Excel serial numbers accepted: 18264 (1950-01-01) to 73050 (2099-12-31). A bare number outside
#: that window (``2024``, ``12.2023``, ``1,234``) is far more likely a year, a month or an amount
#: than a date from Excel, so it is refused rather than read as a day in 1905.
SERIAL_MIN, SERIAL_MAX = 18264, 73050

_DATE_ALLOWED = N_(
    "expected dd.MM.yyyy [HH:mm[:ss]], dd/MM/yyyy, MM/dd/yyyy, yyyy-MM-dd[THH:mm[:ss[.ffffff]]][±HH:MM] "
    "or an Excel serial number"
)

DateOrder = Literal["dmy", "mdy"]


def date(value: str | None, *, order: DateOrder | None = None, tz: str | None = None) -> str | None:
    """Read a date or date-time and write it as ISO 8601 text that Akinon's date fields accept.

    Output: a date alone gives ``YYYY-MM-DD``; a date-time gives ``YYYY-MM-DDTHH:MM:SS`` (seconds
    always written, fractional seconds kept digit for digit, up to 6), then ``±HH:MM`` when the input
    carried an offset. ``Z`` is written ``+00:00`` so every offset has one shape. Every result matches
    the ``created_date`` pattern of the order schema.

    Inputs (one space between parts; ``text()`` is applied first):

    * year first: ``2023-12-31``, ``2023/12/31``, ``2023-12-31 14:05``, ``2023-12-31T14:05:00+03:00``,
      Shopify's ``2023-12-31 14:05:00 +0300``, Omnitron's ``2019-06-17T13:35:47.026886Z``;
    * day and month first, year last (4 digits): with ``.`` it is day-first (``31.12.2023 14:05``, the
      Turkish convention) unless ``order`` says otherwise; with ``/`` or ``-`` the order must be known:
      from ``order``, or because one of the two is over 12 (``31/12/2023``, ``12/31/2023``), or because
      both are equal (``05/05/2023``). ``01/02/2023`` without ``order`` is an error. When ``order`` is
      given it is applied strictly (``31/12/2023`` with ``order="mdy"`` is an error).
      A time may follow, with ``AM``/``PM`` (hours 1-12) and an offset;
    * Excel serial numbers, as a bare number (``45291``, ``45291.5833``, ``45291,5833``) from 1 to
      2958465: the 1900 date system, where serial 1 is 1900-01-01 and serial 60 is Excel's fictitious
      1900-02-29 (an error); serials after it are days since 1899-12-30. A whole number gives a date,
      a number with a fraction a date-time, the fraction rounded to the nearest second.

    ``tz`` (an IANA name such as ``Europe/Istanbul``) is the zone of date-times *without* an offset:
    its offset at that moment is attached (``+03:00``). A local time that does not exist or happens
    twice in that zone (DST changes) is an error. Offsets in the input win and are never converted;
    dates without a time stay dates.

    Errors: two-digit years (ambiguous century), impossible calendar days (``31.02.2023``), times
    beyond 23:59:59, more than 6 fraction digits, and anything not listed above.
    """
    if order not in (None, "dmy", "mdy"):
        raise ValueError(f'order must be "dmy", "mdy" or None, not {order!r}')
    zone = _zone(tz) if tz is not None else None
    s = text(value)
    if s is None:
        return None
    if _SERIAL.fullmatch(s):
        return _from_serial(s, zone)
    if m := _YMD.fullmatch(s):
        return _finish(s, int(m["Y"]), int(m["m"]), int(m["d"]), m, zone)
    if m := _XYZ.fullmatch(s):
        if len(m["Y"]) == 2:
            raise NormaliseError(
                _("{value} has a two-digit year, which is ambiguous; write the year with 4 digits").format(value=_q(s))
            )
        if len(m["Y"]) != 4:
            raise NormaliseError(_("{value} is not a date: {allowed}").format(value=_q(s), allowed=_(_DATE_ALLOWED)))
        a, b = int(m["a"]), int(m["b"])
        day, month = _day_month(s, a, b, m["sep"], order)
        return _finish(s, int(m["Y"]), month, day, m, zone)
    raise NormaliseError(_("{value} is not a date: {allowed}").format(value=_q(s), allowed=_(_DATE_ALLOWED)))


#: Shopify's date-time shape, ``2023-12-31 14:05:00 +0300``, with its offset in range: the one most
#: cells of an orders export have. ``date_column`` reads these in Arrow; ``date`` reads the rest.
_SHOPIFY_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-](?:[01][0-9]|2[0-3])[0-5][0-9]$"


def date_column(values: Sequence[str | None] | Any) -> list[str | None]:
    """``date`` over a whole column (no ``order``, no ``tz``): ``date(v) or ""`` per cell, None where it raises.

    Why: an orders export has a date-time per order, nearly all in Shopify's one shape; reading
    each through ``date``'s regexes and ``datetime`` costs a Python call per order. Here Arrow
    finds the cells of that shape whose date and time are real (parsed, then written back the
    same: ``2023-02-30`` is not), and rewrites them to ``date``'s output with string kernels; every
    other cell goes through ``date`` itself, so the rule stays ``date``'s alone (a hypothesis test
    checks both agree cell by cell). ``None`` tells the caller to call ``date`` on that cell for its
    error message.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(list(values), type=pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = array.cast(pa.string())
    shaped = pc.fill_null(pc.match_substring_regex(array, _SHOPIFY_SHAPE), False)
    stamp = pc.utf8_slice_codeunits(array, 0, 19)
    parsed = pc.strptime(stamp, format="%Y-%m-%d %H:%M:%S", unit="s", error_is_null=True)
    again = pc.strftime(parsed, format="%Y-%m-%d %H:%M:%S")
    real = pc.fill_null(pc.and_(shaped, pc.equal(again, stamp)), False)
    # -0000 is written +00:00 by ``date``; years before 1000 are left to ``date`` too.
    real = pc.and_(real, pc.invert(pc.ends_with(array, "-0000")))
    real = pc.fill_null(pc.and_(real, pc.invert(pc.starts_with(array, "0"))), False)
    # YYYY-MM-DD + T + HH:MM:SS + ±HH + : + MM, built as one join with the separators in place.
    iso = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(array, 0, 10),
        pa.scalar("T"),
        pc.utf8_slice_codeunits(array, 11, 19),
        pc.utf8_slice_codeunits(array, 20, 23),
        pa.scalar(":"),
        pc.utf8_slice_codeunits(array, 23, 25),
        "",
    )
    out: list[str | None] = pc.if_else(real, iso, pa.scalar(None, pa.string())).to_pylist()
    cells = array.to_pylist()
    for i in np.flatnonzero(~real.to_numpy(zero_copy_only=False)).tolist():
        try:
            out[i] = date(cells[i]) or ""
        except NormaliseError:
            out[i] = None
    return out


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f'unknown time zone {tz!r}; give an IANA name such as "Europe/Istanbul"') from exc


def _day_month(s: str, a: int, b: int, sep: str, order: DateOrder | None) -> tuple[int, int]:
    """(day, month) from the first two numbers of a day/month-first date; raises when unknown."""
    if order is None:
        if a > 12 and b > 12:
            raise NormaliseError(
                _("{value} is not a valid date: neither {a} nor {b} is a month (1-12)").format(value=_q(s), a=a, b=b)
            )
        if sep == "." or a == b or a > 12:
            order = "dmy"
        elif b > 12:
            order = "mdy"
        else:
            raise NormaliseError(
                _(
                    "{value} is ambiguous: day/month order unknown; give the date order (day-first or month-first)"
                ).format(value=_q(s))
            )
    return (a, b) if order == "dmy" else (b, a)


def _finish(s: str, year: int, month: int, day: int, m: re.Match[str], zone: ZoneInfo | None) -> str:
    """Check the calendar day and the time fields of a parsed match and write the ISO text."""
    try:
        d = _dt.date(year, month, day)
    except ValueError:
        raise NormaliseError(
            _("{value} is not a valid calendar date (year {year}, month {month}, day {day})").format(
                value=_q(s), year=year, month=month, day=day
            )
        ) from None
    if m["H"] is None:
        return d.isoformat()
    hour, minute, second = int(m["H"]), int(m["M"]), int(m["S"] or 0)
    if m["ampm"]:
        if not 1 <= hour <= 12:
            raise NormaliseError(_("{value} has an invalid time: with AM/PM the hour must be 1-12").format(value=_q(s)))
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise NormaliseError(
            _("{value} has an invalid time: hours must be 00-23, minutes and seconds 00-59").format(value=_q(s))
        )
    frac = m["F"] or ""
    if len(frac) > 6:
        raise NormaliseError(
            _("{value} has more than 6 digits of fractional seconds; at most 6 (microseconds)").format(value=_q(s))
        )
    if m["Z"]:
        offset: int | None = 0
    elif m["osign"]:
        oh, om = int(m["oh"]), int(m["om"] or 0)
        if oh > 23 or om > 59:
            raise NormaliseError(
                _("{value} has an invalid UTC offset: expected ±HH:MM with HH 00-23 and MM 00-59").format(value=_q(s))
            )
        offset = (oh * 60 + om) * (1 if m["osign"] == "+" else -1)
    else:
        offset = None
    moment = _dt.datetime.combine(d, _dt.time(hour, minute, second, int(frac.ljust(6, "0"))))
    if offset is None and zone is not None:
        offset = _zone_offset(s, moment, zone)
    return _iso(moment, frac, offset)


def _iso(moment: _dt.datetime, frac: str, offset: int | None) -> str:
    """``YYYY-MM-DDTHH:MM:SS[.frac][±HH:MM]`` with ``frac`` written as given."""
    out = moment.strftime("T%H:%M:%S")
    out = moment.date().isoformat() + out + (f".{frac}" if frac else "")
    if offset is not None:
        sign = "-" if offset < 0 else "+"
        out += f"{sign}{abs(offset) // 60:02d}:{abs(offset) % 60:02d}"
    return out


def _zone_offset(s: str, naive: _dt.datetime, zone: ZoneInfo) -> int:
    """Offset in minutes of local time ``naive`` in ``zone``; raises for DST gaps and repeats."""
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    off = first.utcoffset()
    assert off is not None
    if off != second.utcoffset():
        try:
            back = first.astimezone(_dt.UTC).astimezone(zone).replace(tzinfo=None)
        except (OverflowError, ValueError):
            back = naive
        if back != naive:
            raise NormaliseError(
                _("{value} does not exist in {zone} (the clocks skipped it); give the UTC offset").format(
                    value=_q(s), zone=zone.key
                )
            )
        raise NormaliseError(
            _("{value} happens twice in {zone} (the clocks went back); give the UTC offset").format(
                value=_q(s), zone=zone.key
            )
        )
    seconds = int(off.total_seconds())
    if seconds % 60:
        raise NormaliseError(
            _("{value} is in {zone}'s local mean time, an offset with seconds; give the offset").format(
                value=_q(s), zone=zone.key
            )
        )
    return seconds // 60


def _from_serial(s: str, zone: ZoneInfo | None) -> str:
    """Excel 1900-system serial -> ISO date or date-time."""
    try:
        number = Decimal(s.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the regex admits only digits
        raise NormaliseError(
            _("{value} is not a date: {allowed}").format(value=_q(s), allowed=_(_DATE_ALLOWED))
        ) from None
    whole = int(number)
    if not SERIAL_MIN <= whole <= SERIAL_MAX:
        raise NormaliseError(
            _(
                "{value} is not a date: as an Excel serial date it would be outside {low} to {high} "
                "(1950-01-01 to 2099-12-31); write dates as dd.MM.yyyy or yyyy-MM-dd"
            ).format(value=_q(s), low=SERIAL_MIN, high=SERIAL_MAX)
        )
    # Day 0 is 1899-12-30 for every serial in the window (Excel's fictitious 1900-02-29 lies before it).
    day = _dt.date(1899, 12, 30) + _dt.timedelta(days=whole)
    if "." not in s and "," not in s:
        return day.isoformat()
    seconds = int(((number - whole) * 86400).to_integral_value(ROUND_HALF_UP))
    try:
        moment = _dt.datetime.combine(day, _dt.time()) + _dt.timedelta(seconds=seconds)
    except OverflowError:
        raise NormaliseError(
            _("{value} is after 9999-12-31 23:59:59 as an Excel serial date").format(value=_q(s))
        ) from None
    offset = _zone_offset(s, moment, zone) if zone is not None else None
    return _iso(moment, "", offset)


# --------------------------------------------------------------------------------------------------
# Phones

_PHONE_CHARS = re.compile(r"\+?[0-9 ()\-./]*")
_PHONE_ALLOWED = N_("expected 10 digits starting with 5, optionally after +90, 90 or 0 (e.g. 0532 123 45 67)")


def phone(value: str | None) -> str | None:
    """A Turkish mobile number as Akinon stores it: ten digits starting with 5 (``5321234567``).

    Why: Akinon's user ``phone`` is exactly that, while exports write ``+90 (532) 123 45 67``,
    ``0532 123 4567``, ``05321234567``, ``532 123 45 67``, ``0 532 ...``, ``90 532 1234567``,
    ``0090 532 ...``, ``'+905321234567`` (apostrophe marker), ``(0532) 123-45-67``, and even
    ``+90 0532 ...`` (trunk 0 after the country code). Spaces, ``( ) - . /`` are ignored.

    Numbers Akinon cannot hold raise ``NormaliseError`` whose message starts "... is not a Turkish
    mobile number": landlines (``0212 123 45 67``), foreign numbers (``+44 ...``, ``0044 ...``), too
    few or too many digits, letters or extensions. Callers drop such phones with a warning.
    """
    s = strip_marker(text(value))
    if s is None:
        return None
    if not _PHONE_CHARS.fullmatch(s):
        raise NormaliseError(
            _(
                '{value} is not a Turkish mobile number: only digits, spaces, "+", "(", ")", "-", "." and "/" '
                "may appear; {allowed}"
            ).format(value=_q(s), allowed=_(_PHONE_ALLOWED))
        )
    digits = re.sub(r"[^0-9]", "", s)
    if not digits:
        raise NormaliseError(
            _("{value} is not a Turkish mobile number: it has no digits; {allowed}").format(
                value=_q(s), allowed=_(_PHONE_ALLOWED)
            )
        )
    if not s.startswith("+") and digits.startswith("00") and len(digits) > 4:
        digits = digits[2:]  # 00 is the international prefix dialled from Türkiye, like +
        international = True
    else:
        international = s.startswith("+")
    if international:
        if not digits.startswith("90"):
            raise NormaliseError(
                _("{value} is not a Turkish mobile number: it is a foreign number (not +90); {allowed}").format(
                    value=_q(s), allowed=_(_PHONE_ALLOWED)
                )
            )
        digits = digits[2:]
    elif len(digits) in (12, 13) and digits.startswith("90"):
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    if len(digits) == 10 and digits.startswith("5"):
        return digits
    if len(digits) == 10 and digits[0] != "0":
        raise NormaliseError(
            _(
                "{value} is not a Turkish mobile number: 0{prefix} is a landline or service prefix, "
                "mobile numbers start with 05; {allowed}"
            ).format(value=_q(s), prefix=digits[:3], allowed=_(_PHONE_ALLOWED))
        )
    raise NormaliseError(
        _("{value} is not a Turkish mobile number: wrong number of digits; {allowed}").format(
            value=_q(s), allowed=_(_PHONE_ALLOWED)
        )
    )


# --------------------------------------------------------------------------------------------------
# Booleans

#: Accepted spellings, compared after ``text()`` and ``fold()`` (so ``EVET``, ``Hayır``, ``HAYIR``, ``TRUE``
#: all match). ``doğru``/``yanlış`` are what Turkish Excel shows for TRUE/FALSE; ``hayir`` is ``hayır``
#: typed without Turkish letters.
TRUE_WORDS = ("evet", "yes", "y", "true", "1", "x", "doğru")
FALSE_WORDS = ("hayır", "hayir", "no", "n", "false", "0", "yanlış")
_BOOLEANS = {**dict.fromkeys(TRUE_WORDS, True), **dict.fromkeys(FALSE_WORDS, False)}


def boolean(value: str | None, *, empty: bool | None = None) -> bool | None:
    """Read a yes/no cell: evet/hayır, yes/no, y/n, true/false, 1/0, x (a tick mark, True).

    Why: Turkish exports say ``Evet``/``Hayır`` (often upper case: ``EVET``, ``HAYIR``, which need
    Turkish case folding), Shopify says ``true``/``false`` and ``yes``/``no``, spreadsheets use
    ``1``/``0`` or an ``x`` in a tick column. Case and surrounding whitespace do not matter.

    An empty cell gives ``empty`` (default ``None``): in a tick column pass ``empty=False``.
    Anything else is an error listing the accepted spellings.
    """
    s = text(value)
    if s is None:
        return empty
    found = _BOOLEANS.get(fold(s))
    if found is None:
        raise NormaliseError(
            _("{value} is not a yes/no value: expected {yes} for yes or {no} for no (any case), or empty").format(
                value=_q(s), yes="/".join(TRUE_WORDS), no="/".join(FALSE_WORDS)
            )
        )
    return found
