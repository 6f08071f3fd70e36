"""What every transform source shares: records from the schema's field lists, identities, dates, refusals.

The three sources (Omnitron API pages, Shopify CSV, a mapping-described export) differ only in
where a value is found. Everything a person would expect to behave the same — which two
addresses are one, which order date a user joined on, what happens to the lines of an order
that cannot be read, how a change is logged — lives here once, so the sources cannot drift
apart (they did: three ``date_joined`` implementations disagreed when naive and zoned times met).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from omnimig.i18n import _
from omnimig.io.table import Notice
from omnimig.schemas.rules import ChoiceList, default_choices, table_rules
from omnimig.transforms import normalize as nz
from omnimig.transforms.records import Draft, Origin, Record

__all__ = [
    "AddressBook",
    "Joined",
    "amount",
    "broken_rows",
    "email",
    "full",
    "instant",
    "reject_order",
    "text",
    "tidied",
    "unconfirmed_label",
]


def full(type_name: str, values: dict[str, str]) -> dict[str, str]:
    """A record's values in the schema's field order, every field present (``""`` where none was given).

    Field lists come from the rule files, so a field added to a schema reaches every source's
    output without a source listing it.
    """
    get = values.get
    return {name: get(name) or "" for name in _names(type_name)}


@cache
def _names(type_name: str) -> tuple[str, ...]:
    return tuple(table_rules(type_name).names)


# ---------------------------------------------------------------------------------------------
# Cells


def text(value: Any, *, keep_newlines: bool = False) -> str:
    """A cell or API value as clean text: ``None`` → ``""``, booleans as ``true``/``false``, objects by name."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return text(value.get("name"))
    return nz.text(str(value), keep_newlines=keep_newlines) or ""


def email(value: Any) -> str:
    """An email address as the key Akinon matches on (see ``normalize.email``); ``""`` when empty."""
    return nz.email(text(value)) or ""


def amount(value: Any) -> str:
    """A dot-decimal amount as Akinon writes it; raises ``NormaliseError`` for what is not one."""
    cleaned = text(value)
    if not cleaned:
        return ""
    parsed = nz.decimal(cleaned, decimal_separator=".")
    return parsed.text if parsed is not None else ""


def tidied(raw: str, clean: str) -> str | None:
    """The kind of a change that keeps a value's meaning (``trimmed``, ``unicode-normalised``), or None.

    ``clean`` is what ``normalize.text`` made of ``raw``; an empty result is no change to count
    (an empty cell stays empty).
    """
    if raw == clean or not clean:
        return None
    return "trimmed" if " ".join(raw.split()) == clean else "unicode-normalised"


@cache
def _choices() -> dict[str, ChoiceList]:
    return default_choices()


def unconfirmed_label(type_name: str, field_name: str, value: str) -> str | None:
    """The label of a code the rule files mark unconfirmed (status 600: ``refunded (unconfirmed)``), else None.

    Which codes are unconfirmed is data (``schemas/choices/*.json`` labels), not a list here.
    """
    try:
        rule = table_rules(type_name).field(field_name)
    except KeyError:
        return None
    if rule.choices is None or rule.choices not in _choices():
        return None
    label = _choices()[rule.choices].labels.get(value, "")
    return f"{value} ({label})" if "unconfirmed" in label else None


def broken_rows(notices: Iterable[Notice], used: set[str] | None = None) -> dict[int, str]:
    """Rows the reader could not read faithfully, with why: a malformed row, an error cell in a used column.

    Such a row's values cannot be trusted (shifted by a stray delimiter, ``#N/A`` read as empty),
    so a source rejects it with the reader's message rather than converting it. ``used`` limits
    cell problems to the columns a source reads (None: every column).
    """
    broken: dict[int, str] = {}
    for notice in notices:
        if notice.severity != "error" or notice.row is None:
            continue
        if notice.column is None or used is None or notice.column in used:
            broken.setdefault(int(notice.row), f"{notice.rule}: {notice.message}")
    return broken


# ---------------------------------------------------------------------------------------------
# Identities


def address_identity(values: dict[str, str]) -> tuple[str, ...]:
    """Two addresses are one when every field matches Turkish-folded, phones by their digits only.

    ``İSTANBUL`` = ``İstanbul``; ``'+90 532 123 45 67`` = ``+905321234567``. The first spelling
    seen is the one written.
    """
    names = tuple(sorted(values))
    return _identity(names, tuple(values[k] for k in names))


@lru_cache(maxsize=1 << 12)
def _identity(names: tuple[str, ...], values: tuple[str, ...]) -> tuple[str, ...]:
    """``address_identity`` of values already in name order; cached, as a buyer's address repeats per order.

    Small on purpose: an entry holds fourteen folded texts, and what repeats is mostly an order's
    billing and shipping sides, or a buyer's orders close together; 65,536 entries cost about
    90 MB at a million orders for no measurable gain in speed.
    """
    return tuple(_digits(v) if "phone" in k else nz.match_key(v) for k, v in zip(names, values, strict=True))


def forget() -> None:
    """Empty the identity caches (see ``shopify._forget``): no customer data kept between runs."""
    for cached in (_identity, _digits, nz.match_key):
        cached.cache_clear()


@lru_cache(maxsize=1 << 16)
def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit())


@dataclass
class AddressBook:
    """Each distinct address once, whichever order, row or address column of the export named it.

    ``compact`` (a streamed run, ``transforms.stream``): an identity is kept as a 16-byte digest
    and an address made on the side (not a row of its own) is not held here once made, so a
    million-order export's addresses cost a digest each, not a record and its folded values.
    """

    draft: Draft
    seen: dict[object, Record | None] = field(default_factory=dict)
    compact: bool = False

    def add(self, values: dict[str, str], origin: Origin, *, primary: bool = False) -> Record:
        """The address record for ``values``: a new one, or the first with the same identity.

        A repeat is counted as merged (``addresses: N seen = … + M merged``); a repeat that is a
        row of its own (an addresses export) also gives that row its fate, merged.
        """
        found = self._add(values, origin, primary)
        assert found is not None  # only a compact book forgets records, and only through ``note``
        return found

    def note(self, values: dict[str, str], origin: Origin, key: object = None) -> None:
        """``add`` for an address made on the side (an order's), whose record the caller does not need.

        ``key`` is ``self.key(values)`` when the caller has it already (a buyer's address on each of
        their orders): the identity is then not worked out again.
        """
        self._add(values, origin, False, key)

    def key(self, values: dict[str, str]) -> tuple[dict[str, str], object]:
        """``values`` with every field (``full``) and the key this book knows the address by."""
        values = full("address", values)
        identity = address_identity(values)
        return values, _digest(identity) if self.compact else identity

    def _add(self, values: dict[str, str], origin: Origin, primary: bool, key: object = None) -> Record | None:
        given = key is not None
        if key is None:
            values, key = self.key(values)
        if key not in self.seen:
            if self.compact and not primary:
                # A streamed run's address on the side: a line (``Lines``), its values copied there.
                self.seen[key] = None
                self.draft.add_line("address", values, origin, primary=False)
                return None
            # A caller's remembered values stay as they are when the rules change the record's.
            record = self.draft.add(Record("address", dict(values) if given else values, origin, primary=primary))
            self.seen[key] = record
            return record
        first = self.seen[key]
        self.draft.folded["address"] += 1
        if first is not None and primary and origin != first.origin and first.merged[-1:] != [origin]:
            first.merged.append(origin)
        return first


def _digest(identity: tuple[str, ...]) -> bytes:
    """An address identity in 16 bytes (BLAKE2b): the fields cannot hold the separator, whitespace is collapsed."""
    return hashlib.blake2b("\x1f".join(identity).encode("utf-8", "surrogatepass"), digest_size=16).digest()


# ---------------------------------------------------------------------------------------------
# Dates


def instant(iso: str) -> dt.datetime | None:
    """The moment an ISO date-time names, to compare across offsets: zoned → UTC, naive as written.

    Naive and zoned times from one export are compared as if the naive ones were UTC, which is
    what a comparison must pick to be total; ``None`` for text that is no ISO date.
    """
    try:
        moment = dt.datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


@dataclass
class Joined:
    """A user's ``date_joined`` when the export has none: the earliest *valid* date of their orders.

    An order date that could not be read never counts (that order is rejected on its own); a
    user with no valid order date gets the fallback: the ``[defaults]`` value if one is set
    (applied by ``finish``), else the migration date, with a change line either way. The user is
    kept: a bad order date is the order's problem, not its buyer's.
    """

    # key -> the ISO text of the earliest date seen. Only the text is kept (a user's moment is read
    # again when another order of theirs comes): a million-order export has half a million buyers.
    earliest: dict[str, str] = field(default_factory=dict)

    def see(self, key: str, iso: str) -> None:
        moment = instant(iso) if iso else None
        if not key or moment is None:
            return
        known = self.earliest.get(key)
        if known is None or moment < instant(known):  # type: ignore[operator]  # a kept text is a valid date
            self.earliest[key] = iso

    def apply(
        self,
        draft: Draft,
        users: Iterable[tuple[str, Record]],
        *,
        has_default: bool,
        migration_date: str,
        why: str,
    ) -> None:
        """Fill each user's empty ``date_joined``; ``why`` says in the change line where it came from."""
        from_order = _("date_joined is the earliest valid order date ({why})").format(why=why)  # once per run
        for key, user in users:
            if user.get("date_joined"):
                continue
            found = self.earliest.get(key)
            if found is not None:
                user.values["date_joined"] = found
                draft.warn(
                    user.origin,
                    "user",
                    "date_joined",
                    "date-joined-from-order",
                    from_order,
                    "",
                    found,
                    user.label(),
                )
            elif not has_default:
                user.values["date_joined"] = migration_date
                draft.warn(
                    user.origin,
                    "user",
                    "date_joined",
                    "date-joined-fallback",
                    _(
                        "no valid order date to take date_joined from ({why}): the migration date is used; "
                        "set another with --default user.date_joined=..."
                    ).format(why=why),
                    "",
                    migration_date,
                    user.label(),
                )


def migration_date(today: dt.date | None = None) -> str:
    """The day of the run at midnight, as Akinon's date-time fields are written."""
    return f"{(today or dt.date.today()).isoformat()}T00:00:00"


# ---------------------------------------------------------------------------------------------
# Refusals


def reject_order(
    draft: Draft,
    origin: Origin,
    field_name: str,
    reason: str,
    order: dict[str, str],
    lines: Iterable[tuple[Origin, dict[str, str]]],
) -> Record:
    """An order the source cannot make, with its lines: the order is refused, each line goes with it.

    Every line is still a record (counted, one line in ``rejects.csv`` naming the order and why
    it went): ``finish`` rejects a record whose parent was rejected.
    """
    refused = draft.reject_record(origin, "order", field_name, reason, values=full("order", order))
    for line_origin, values in lines:
        draft.add(Record("order_item", full("order_item", values), line_origin, parent=refused))
    return refused
