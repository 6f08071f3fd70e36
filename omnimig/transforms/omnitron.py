"""Source ``omnitron-orders``: the JSON of Omnitron's ``GET /api/i1/orders/`` into the four files.

Accepted shapes: one page object (``{"count", "next", "results": [...]}``), a JSON array of
such pages or of orders, or JSON Lines (one page or order per line). One input row is one
order (its 1-based position in the file); its ``orderitem_set`` entries are counted as order
lines, because Omnitron keeps one order item per unit and lines with the same SKU and price
fold into one migration item with that quantity (the other lines are "merged").

The API carries no customer code, no password hash, no bank and no sign-up consent flags;
those are left empty (or filled from ``--default``) and the summary says so.

A file over ``WHOLE_BYTES`` is streamed (``_stream``): one order is held at a time, so memory
grows with what the finish keeps of each order, not with the file.
"""

from __future__ import annotations

import codecs
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omnimig.exceptions import ReadError
from omnimig.i18n import N_, _, ngettext
from omnimig.i18n import number as figure
from omnimig.io.safe_text import visible
from omnimig.schemas.rules import table_rules
from omnimig.transforms import core
from omnimig.transforms import normalize as nz
from omnimig.transforms.address import flatten_address
from omnimig.transforms.errors import debug_enabled, describe, reading
from omnimig.transforms.records import Draft, Origin, Record
from omnimig.transforms.settings import Settings, SettingsError

TITLE = "Omnitron orders API JSON (GET /api/i1/orders/)"
ORDER = "order"
LINE = "order line"

OPTIONS = ("customer_code_from",)

CANNOT_FILL = {
    ("user", "password"): N_("the orders API carries no password hash"),
    ("user", "sms_allowed"): N_("the orders API carries no SMS consent"),
    ("user", "email_allowed"): N_("the orders API carries no email consent"),
    ("order", "bank"): N_("the orders API has a BIN number, not a bank name"),
    ("order", "tracking_number"): N_("orders not shipped yet (or cancelled) have no tracking number"),
    ("order", "shipping_company"): N_("orders not shipped yet (or cancelled) have no cargo company"),
    ("order_item", "product"): N_("order lines carry a SKU, not a product name"),
}


#: How deep arrays may hold arrays (a list of pages is depth 2); deeper is not an orders export.
MAX_ARRAY_DEPTH = 3


@dataclass(frozen=True)
class Malformed:
    """A record of the file that is not an order: it is counted as read and rejected with ``reason``."""

    reason: str


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


#: Files up to this size are read whole by the standard library, exactly as they always were (and
#: a broken one is worded by it). Larger files are streamed: only one order is held at a time.
WHOLE_BYTES = 4 << 20
#: Characters read from a streamed file at a time.
STREAM_CHARS = 256 << 10


def read_orders(path: Path) -> Iterator[dict[str, Any] | Malformed]:
    """Every record in the file, in file order, whatever the page/array/lines shape.

    A record that is not an order object (a number, a flat object of another export) is a
    ``Malformed`` entry with the reason, so it is rejected, never dropped. A file in which no
    record is an order is not an orders export: ``ReadError``, one line saying what was expected
    (raised after its records were given: the run stops there, so nothing is written).

    A file larger than ``WHOLE_BYTES`` is streamed: each order is decoded on its own by the
    standard library (so numbers, surrogates and repeated keys mean what ``json.loads`` makes of
    them) and memory does not grow with the file. Where a stream cannot do what the whole read did,
    it says so rather than differ: a page giving ``results`` twice (``json.loads`` keeps the last,
    the stream has given the first) is refused, and a first value spanning lines followed by more
    is "Extra data" at its line and column rather than "JSON Lines: line N".
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReadError(_("{file}: cannot read the file ({reason})").format(file=path, reason=exc.strerror)) from None
    records: Iterable[dict[str, Any] | Malformed] = _read_whole(path) if size <= WHOLE_BYTES else _stream(path)
    count, first, orders = 0, "", False
    for record in records:
        count += 1
        if isinstance(record, Malformed):
            first = first or record.reason
        else:
            orders = True
        yield record
    if count and not orders:
        raise ReadError(
            _(
                "{file}: no Omnitron order or page of orders in the file ({n} records; the first: {first}); "
                'expected the JSON of GET /api/i1/orders/: a page {{"results": [orders]}}, an array of pages or '
                "orders, or JSON Lines, each order an object with a number"
            ).format(file=path, n=figure(count), first=first)
        )


def _read_whole(path: Path) -> list[dict[str, Any] | Malformed]:
    """A small file, read and parsed whole by the standard library."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ReadError(
            _("{file}: not UTF-8 text (byte {byte}); the orders API writes UTF-8 JSON").format(
                file=path, byte=exc.start
            )
        ) from None
    except OSError as exc:
        raise ReadError(_("{file}: cannot read the file ({reason})").format(file=path, reason=exc.strerror)) from None
    if not text.strip():
        raise ReadError(_("{file}: the file is empty").format(file=path))
    try:
        values = [json.loads(text, parse_constant=_refuse_constant)]
    except json.JSONDecodeError as exc:
        if exc.msg != "Extra data":
            raise ReadError(
                _("{file}: not valid JSON at line {line}, column {column}: {reason}").format(
                    file=path, line=exc.lineno, column=exc.colno, reason=exc.msg
                )
            ) from None
        values = [_line_value(path, n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    except RecursionError:
        raise ReadError(_("{file}: the JSON is nested too deeply to be an orders export").format(file=path)) from None
    except ValueError as exc:  # NaN/Infinity, an integer of thousands of digits
        raise ReadError(
            _("{file}: not valid JSON for the orders API: {reason}").format(file=path, reason=exc)
        ) from None
    records: list[dict[str, Any] | Malformed] = []
    for value in values:
        records += _orders_in(value)
    return records


def _line_value(path: Path, n: int, line: str) -> Any:
    """Line ``n`` of a JSON Lines file, or the one-line reason it is not one JSON value."""
    try:
        return json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise ReadError(
            _("{file}: JSON Lines: line {line} is not valid JSON: {reason}").format(file=path, line=n, reason=err.msg)
        ) from None
    except RecursionError:
        raise ReadError(_("{file}: the JSON is nested too deeply to be an orders export").format(file=path)) from None
    except ValueError as err:
        raise ReadError(_("{file}: JSON Lines: line {line}: {reason}").format(file=path, line=n, reason=err)) from None


class _Text:
    """A streamed file's text: a buffer of what is not yet consumed, refilled as the scan needs.

    Only the outer structure (arrays, page objects, their ``results``) is scanned here; every value
    inside is decoded by the standard library's ``raw_decode``, so it means what ``json.loads``
    makes of it. Positions are kept as lines and columns for the one-line error.

    Why not ijson or ``omnimig.io.read_json``: ijson's C backend reads ``"\\ud800"`` as ``"?"`` and
    refuses ``1e400`` and long integers, so bundles would change; read_json gives flat records of
    one array (numbers as their literal text), not orders inside pages or JSON Lines of pages.
    """

    def __init__(self, path: Path, handle: Any) -> None:
        self.path = path
        self.handle = handle
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self.json = json.JSONDecoder(parse_constant=_refuse_constant)
        self.buf = ""
        self.i = 0
        self.eof = False
        self.read_bytes = 0
        self.line = 1  # the line of buf[0]
        self.column = 1  # the column of buf[0]

    def fill(self, want: int = STREAM_CHARS) -> bool:
        """Read on (at least ``want`` characters unless the file ends); False at the end of the file."""
        if self.eof:
            return False
        if self.i > STREAM_CHARS:  # forget what was consumed, keeping the place for messages
            gone = self.buf[: self.i]
            newlines = gone.count("\n")
            self.column = len(gone) - gone.rfind("\n") if newlines else self.column + len(gone)
            self.line += newlines
            self.buf, self.i = self.buf[self.i :], 0
        data = self.handle.read(want)
        try:
            self.buf += self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            raise ReadError(
                _("{file}: not UTF-8 text (byte {byte}); the orders API writes UTF-8 JSON").format(
                    file=self.path, byte=self.read_bytes + exc.start
                )
            ) from None
        self.read_bytes += len(data)
        self.eof = not data
        return True

    def peek(self) -> str:
        """The next character that is not whitespace (consumed up to it), or "" at the end."""
        while True:
            n = len(self.buf)
            i = self.i
            while i < n and self.buf[i] in " \t\r\n":
                i += 1
            self.i = i
            if i < n or not self.fill():
                return self.buf[i : i + 1]

    def error(self, reason: str, at: int | None = None) -> ReadError:
        at = self.i if at is None else at
        before = self.buf.count("\n", 0, at)
        line = self.line + before
        column = at - self.buf.rfind("\n", 0, at) if before else self.column + at
        return ReadError(
            _("{file}: not valid JSON at line {line}, column {column}: {reason}").format(
                file=self.path, line=line, column=column, reason=reason
            )
        )

    def value(self) -> Any:
        """The JSON value at the current place, decoded whole by the standard library."""
        self.peek()
        while True:
            try:
                value, end = self.json.raw_decode(self.buf, self.i)
            except json.JSONDecodeError as exc:
                if self.fill(max(STREAM_CHARS, len(self.buf) - self.i)):
                    continue  # the value may go on past the buffer
                raise self.error(exc.msg, exc.pos) from None
            except RecursionError:
                raise ReadError(
                    _("{file}: the JSON is nested too deeply to be an orders export").format(file=self.path)
                ) from None
            except ValueError as exc:
                raise ReadError(
                    _("{file}: not valid JSON for the orders API: {reason}").format(file=self.path, reason=exc)
                ) from None
            if end == len(self.buf) and self.fill():
                continue  # a number may go on past the buffer
            self.i = end
            return value

    def key(self) -> str:
        """A member's name and its colon."""
        if self.peek() != '"':
            raise self.error("Expecting property name enclosed in double quotes")
        name = self.value()
        if self.peek() != ":":
            raise self.error("Expecting ':' delimiter")
        self.i += 1
        return str(name)

    def after(self, close: str) -> bool:
        """After a member or element: True at a comma (more follow), False at ``close`` (consumed)."""
        c = self.peek()
        self.i += 1
        if c == ",":
            return True
        if c == close:
            return False
        self.i -= 1
        raise self.error("Expecting ',' delimiter")


def _stream(path: Path) -> Iterator[dict[str, Any] | Malformed]:
    """A large file's records, one order decoded at a time (see ``_Text``)."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ReadError(_("{file}: cannot read the file ({reason})").format(file=path, reason=exc.strerror)) from None
    with handle:
        text = _Text(path, handle)
        if not text.peek():
            raise ReadError(_("{file}: the file is empty").format(file=path))
        start = text.line + text.buf.count("\n", 0, text.i)
        yield from _walk(text, 1)
        end = text.line + text.buf.count("\n", 0, text.i)
        if not text.peek():
            return
        # More after the first value: JSON Lines, one value a line, if the first value was its line.
        if end != start or text.line + text.buf.count("\n", 0, text.i) == end:
            raise text.error("Extra data")
        n = text.line + text.buf.count("\n", 0, text.i) - 1  # the lines before the one read next
        while True:
            nl = text.buf.find("\n", text.i)
            while nl < 0 and text.fill(max(STREAM_CHARS, len(text.buf) - text.i)):
                nl = text.buf.find("\n", text.i)
            line = text.buf[text.i : nl + 1] if nl >= 0 else text.buf[text.i :]
            text.i = nl + 1 if nl >= 0 else len(text.buf)
            if not line:
                return
            for part in line.splitlines():
                n += 1
                if part.strip():
                    yield from _orders_in(_line_value(path, n, part))


def _walk(text: _Text, depth: int) -> Iterator[dict[str, Any] | Malformed]:
    """The records of the value at the current place: ``_orders_in`` without holding a page or array whole."""
    c = text.peek()
    if c == "[" and depth <= MAX_ARRAY_DEPTH:
        text.i += 1
        if text.peek() == "]":
            text.i += 1
            return
        while True:
            yield from _walk(text, depth + 1)
            if not text.after("]"):
                return
    elif c == "{":
        text.i += 1
        if text.peek() == "}":
            text.i += 1
            yield from _orders_in({}, depth)
            return
        members: dict[str, Any] = {}
        page = False
        while True:
            name = text.key()
            if name == "results" and (page or "results" in members):
                raise text.error(_("a page gives its results twice"))
            if name == "results" and text.peek() == "[":
                page = True
                yield from _results(text)
            else:
                members[name] = text.value()
            if not text.after("}"):
                break
        if not page:
            yield from _orders_in(members, depth)
    else:
        yield from _orders_in(text.value(), depth)


def _results(text: _Text) -> Iterator[dict[str, Any] | Malformed]:
    """A page's ``results``, one order at a time."""
    text.i += 1
    if text.peek() == "]":
        text.i += 1
        return
    while True:
        o = text.value()
        if isinstance(o, dict):
            yield o
        else:
            yield Malformed(_("a page's result is {kind}, not an order object").format(kind=_kind(o)))
        if not text.after("]"):
            return


def _keys(value: dict[str, Any]) -> str:
    names = [visible(str(k))[:40] for k in list(value)[:6]]
    return ", ".join(names) + (", …" if len(value) > 6 else "") if names else _("none")


def _orders_in(value: Any, depth: int = 1) -> list[dict[str, Any] | Malformed]:
    if isinstance(value, list):
        if depth > MAX_ARRAY_DEPTH:
            return [Malformed(_("an array nested {depth} deep, not an order or a page of orders").format(depth=depth))]
        out: list[dict[str, Any] | Malformed] = []
        for v in value:
            out += _orders_in(v, depth + 1)
        return out
    if isinstance(value, dict):
        if "results" in value:
            results = value["results"]
            if not isinstance(results, list):
                return [
                    Malformed(_("a page whose results is {kind}, not a list of orders").format(kind=_kind(results)))
                ]
            return [
                o
                if isinstance(o, dict)
                else Malformed(_("a page's result is {kind}, not an order object").format(kind=_kind(o)))
                for o in results
            ]
        if "number" in value:
            return [value]
        return [Malformed(_("an object with neither results nor number (its keys: {keys})").format(keys=_keys(value)))]
    return [Malformed(_("found {kind} where an order object was expected").format(kind=type(value).__name__))]


def _kind(value: Any) -> str:
    """A JSON value's kind in JSON's words, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return _("a number")
    if isinstance(value, str):
        return _("text")
    if isinstance(value, list):
        return _("an array")
    return _("an object")


def _obj(value: Any) -> dict[str, Any]:
    """An API object, or an empty one where the export has something else (text, a number, null)."""
    return value if isinstance(value, dict) else {}


_text = core.text  # API values as text: null → empty, numbers as written, nested objects by their name
_email = core.email
_amount = core.amount


def read(inputs: list[Path], settings: Settings) -> Draft:
    draft = Draft(cannot_fill={k: _(v) for k, v in CANNOT_FILL.items()}, explain=settings.explain)
    unknown = sorted(set(settings.source) - set(OPTIONS))
    if unknown:
        raise SettingsError(
            _("unknown option {option} for omnitron-orders; its options are {options}").format(
                option=repr(unknown[0]), options=", ".join(OPTIONS)
            )
        )
    code_from = str(settings.source.get("customer_code_from", "email"))
    if code_from not in ("email", "phone_number", "id"):
        raise SettingsError(
            _("customer_code_from {value}: use email, phone_number or id (of the customer)").format(
                value=repr(code_from)
            )
        )
    users: dict[str, Record] = {}
    addresses = core.AddressBook(draft)  # ordered, so a failed order's additions can be taken back
    earliest = core.Joined()
    fallback = Counter[str]()
    for path in inputs:
        with reading(path, ReadError, SettingsError):
            for n, order in enumerate(read_orders(path), start=1):
                origin = Origin(str(path), n, ORDER)
                draft.read.append(origin)
                if isinstance(order, Malformed):
                    draft.reject(origin, "", "", _("record {n}: {reason}").format(n=n, reason=order.reason))
                    continue
                lines = order.get("orderitem_set") or []
                if not isinstance(lines, list):
                    shown = type(lines).__name__
                    number = {"number": _text(order.get("number"))}
                    reason = _("orderitem_set is {kind}, not a list of order lines").format(kind=shown)
                    draft.reject(origin, "order", "", reason, number)
                    continue
                line_origins = [Origin(str(path), n, LINE, k) for k in range(1, len(lines) + 1)]
                draft.read += line_origins
                _guarded(order, origin, line_origins, settings, code_from, draft, users, addresses, earliest, fallback)
    earliest.apply(
        draft,
        users.items(),
        has_default=("user", "date_joined") in settings.defaults,
        migration_date=core.migration_date(),
        why=_("the customer object has no date_joined"),
    )
    if fallback:
        n = sum(fallback.values())
        draft.notes.append(
            ngettext(
                "cargo_company ids without a [values.shipping_company] entry: used the items' shipping_company for "
                "{n} order (ids {ids}); map them with --map shipping_company:ID=slug",
                "cargo_company ids without a [values.shipping_company] entry: used the items' shipping_company for "
                "{n} orders (ids {ids}); map them with --map shipping_company:ID=slug",
                n,
            ).format(n=figure(n), ids=", ".join(sorted(fallback)))
        )
    return draft


def _guarded(
    order: dict[str, Any],
    origin: Origin,
    line_origins: list[Origin],
    settings: Settings,
    code_from: str,
    draft: Draft,
    users: dict[str, Record],
    addresses: core.AddressBook,
    earliest: core.Joined,
    fallback: Counter[str],
) -> None:
    """One order, all or nothing: a record that trips anything unforeseen is rejected, never half-made.

    What the order added (its buyer, addresses, items, warnings) is taken back, and the order
    and its lines are rejected with the reason, so the accounting still adds up.
    """
    marks = len(draft.records), len(draft.rejects), len(draft.warnings)
    known_users, known_addresses, folded = len(users), len(addresses.seen), draft.folded.copy()
    try:
        _order(order, origin, line_origins, settings, code_from, draft, users, addresses, earliest, fallback)
    except Exception as exc:  # a malformed record of a hostile file; the others go on
        if debug_enabled():
            raise
        del draft.records[marks[0] :], draft.rejects[marks[1] :], draft.warnings[marks[2] :]
        for key in list(users)[known_users:]:
            del users[key]
        for address in list(addresses.seen)[known_addresses:]:
            del addresses.seen[address]
        draft.folded = folded
        reason = _("the order record could not be read ({reason})").format(reason=describe(exc))
        number = {"number": _text(order.get("number"))}
        core.reject_order(
            draft, origin, "", reason, number, [(o, {"order_number": number["number"]}) for o in line_origins]
        )


def _order(
    order: dict[str, Any],
    origin: Origin,
    line_origins: list[Origin],
    settings: Settings,
    code_from: str,
    draft: Draft,
    users: dict[str, Record],
    addresses: core.AddressBook,
    earliest: core.Joined,
    fallback: Counter[str],
) -> None:
    customer = _obj(order.get("customer"))
    number = _text(order.get("number")).encode("utf-8", "backslashreplace").decode("utf-8")
    email = _email(customer.get("email")) or _email(_obj(order.get("billing_address")).get("email"))
    code = _email(customer.get(code_from)) if code_from == "email" else _text(customer.get(code_from))
    if code_from == "email" and not code:
        code = email

    def refuse(field: str, reason: str) -> None:
        lines = order.get("orderitem_set") or []
        items = [
            (o, {"order_number": number, "sku": _text(line.get("product_sku")) if isinstance(line, dict) else ""})
            for o, line in zip(line_origins, lines, strict=False)
        ]
        core.reject_order(draft, origin, field, reason, {"number": number, "user_email": email}, items)

    try:
        json.dumps(order, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        refuse(
            "",
            _("the order holds a lone UTF-16 surrogate ({value}), which is not text").format(
                value=ascii(exc.object[exc.start : exc.end])
            ),
        )
        return
    if not email:
        refuse("user_email", _("the order's customer has no email; Akinon needs user_email, so it cannot be migrated"))
        return
    if not code:
        refuse(
            "user",
            _("the customer has no {field} to use as customer_code (customer_code_from = {field})").format(
                field=code_from
            ),
        )
        return
    # The buyer and their addresses first: a value of this order that cannot be read is the order's
    # own problem (scoped rejection) and must not cost the customer.
    if code not in users:
        given = order.get("billing_address")
        billing: dict[str, Any] = given if isinstance(given, dict) else {}
        named = customer if _text(customer.get("first_name")) else billing
        users[code] = draft.add(_user(customer, named, code, email, origin, draft))
    ship = order.get("shipping_address") if isinstance(order.get("shipping_address"), dict) else None
    bill = order.get("billing_address") if isinstance(order.get("billing_address"), dict) else None
    for address in (ship, bill):
        if address is not None:
            addresses.add(_address(address, code, email), origin)
    try:
        created = nz.date(_text(order.get("date_placed"))) or ""
    except nz.NormaliseError as exc:
        refuse("created_date", str(exc))
        return
    try:
        amount = _amount(order.get("amount"))
        discount = _amount(order.get("discount_amount"))
    except nz.NormaliseError as exc:
        earliest.see(code, created)  # a readable order date counts for date_joined, whatever else fails
        refuse("", str(exc))
        return
    lines = order.get("orderitem_set") or []
    units = [x for x in lines if isinstance(x, dict)]
    record = draft.add(
        Record(
            "order",
            {
                "number": number,
                "user": code,
                "user_email": email,
                "status": settings.value("status", _text(order.get("status"))) or _text(order.get("status")),
                "created_date": created,
                "amount": amount,
                "discount_amount": discount,
                "currency": _currency(order.get("currency"), settings),
                "payment_type": settings.value("payment_type", _text(order.get("payment_option_slug")))
                or _text(order.get("payment_option_slug")),
                "bank": "",
                "installment_count": _text(order.get("installment_count")),
                "tracking_number": _text(order.get("tracking_number"))
                or next((_text(x.get("tracking_number")) for x in units if x.get("tracking_number")), ""),
                "shipping_company": _shipping_company(order, units, settings, fallback),
                "shipping_address": flatten_address(ship),
                "billing_address": flatten_address(bill),
                "extra_field": _extra(order),
            },
            origin,
        )
    )
    _items(record, lines, line_origins, draft)
    earliest.see(code, created)  # last: a record that fails above leaves no trace here


def _currency(value: Any, settings: Settings) -> str:
    text = _text(value)
    return settings.value("currency", text) or text.upper()


def _shipping_company(order: dict[str, Any], lines: list[dict[str, Any]], settings: Settings, fallback: Counter) -> str:
    cargo = _text(order.get("cargo_company"))
    if cargo:
        mapped = settings.value("shipping_company", cargo)
        if mapped is not None:
            return mapped
    from_items = Counter(_text(x.get("shipping_company")) for x in lines if _text(x.get("shipping_company")))
    if cargo:
        fallback[cargo] += 1
    return from_items.most_common(1)[0][0] if from_items else ""


def _user(
    customer: dict[str, Any], named: dict[str, Any], code: str, email: str, origin: Origin, draft: Draft
) -> Record:
    """The buyer; names from the billing address when the customer object has none (guest checkouts)."""
    phone = ""
    raw = _text(customer.get("phone_number"))
    if raw:
        try:
            phone = nz.phone(raw) or ""
        except nz.NormaliseError as exc:
            message = _("{field} left empty: {reason}").format(field="phone", reason=exc)
            draft.warn(origin, "user", "phone", "phone-dropped", message, raw)
    gender = _text(customer.get("gender")).lower()  # the rules judge it; a bad one is dropped with a warning
    values = {
        "customer_code": code,
        "first_name": _text(named.get("first_name")),
        "last_name": _text(named.get("last_name")),
        "email": email,
        "gender": gender,
        "sms_allowed": _text(customer.get("sms_allowed")),
        "email_allowed": _text(customer.get("email_allowed")),
        "phone": phone,
        "date_of_birth": _text(customer.get("date_of_birth")),
        "date_joined": _text(customer.get("date_joined")),
        "password": "",
        "password_algorithm": "",
    }
    return Record("user", values, origin, primary=False)


def _address(address: dict[str, Any], code: str, email: str) -> dict[str, str]:
    """An API address object as an address record: its fields are the schema's, named as the API names them."""
    values = {name: _text(address.get(name)) for name in table_rules("address").names}
    return {**values, "user": code, "email": _email(address.get("email")) or email}


# Order fields Akinon's migration has no column for; kept in extra_field so nothing is dropped.
EXTRA = (
    "id",
    "shipping_amount",
    "shipping_tax_rate",
    "payment_option",
    "bin_number",
    "installment_interest_amount",
    "cargo_company",
    "invoice_number",
    "invoice_date",
    "e_archive_url",
    "refund_amount",
    "discount_refund_amount",
    "shipping_refund_amount",
    "net_shipping_amount",
    "shipping_interest_amount",
    "carrier_shipping_code",
    "has_gift_box",
    "gift_box_note",
    "external_status",
)


def _extra(order: dict[str, Any]) -> str:
    extra = dict(order.get("extra_field") or {}) if isinstance(order.get("extra_field"), dict) else {}
    kept = {k: order[k] for k in EXTRA if order.get(k) not in (None, "", False)}
    if kept:
        extra["omnitron"] = kept
    return json.dumps(extra, ensure_ascii=False, separators=(",", ":")) if extra else ""


def _items(order: Record, lines: list[Any], origins: list[Origin], draft: Draft) -> None:
    """One migration item per (SKU, price): Omnitron's one-line-per-unit folded into a quantity."""
    number = order.get("number")
    groups: dict[tuple[str, str], list[int]] = {}
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            reason = _("order line {n} is {kind}, not an object").format(n=i + 1, kind=type(line).__name__)
            draft.reject(origins[i], "order_item", "", reason, {"order_number": number}, parent=order)
            continue
        groups.setdefault((_text(line.get("product_sku")), _text(line.get("price"))), []).append(i)
    for (sku, price), members in groups.items():
        first = lines[members[0]]
        product = first.get("product")
        own = first.get("extra_field")
        extra: dict[str, Any] = dict(own) if isinstance(own, dict) else {}
        extra["omnitron"] = {
            "ids": [lines[i].get("id") for i in members],
            "statuses": [lines[i].get("status") for i in members],
            "tax_rate": first.get("tax_rate"),
            "price_currency": first.get("price_currency"),
        }
        try:
            price_text = _amount(price)
        except nz.NormaliseError as exc:
            values = {"order_number": number, "sku": sku, "price": price}
            refused = draft.reject_record(origins[members[0]], "order_item", "price", str(exc), values, parent=order)
            refused.merged += [origins[i] for i in members[1:]]
            continue
        image = _text(first.get("image"))
        draft.add(
            Record(
                "order_item",
                {
                    "order_number": number,
                    "product": _text(product.get("name")) if isinstance(product, dict) else _text(product),
                    "sku": sku,
                    "quantity": str(len(members)),
                    "price": price_text,
                    "image_url": image,  # a relative path breaks the URL rule: dropped with a warning
                    "extra_field": json.dumps(extra, ensure_ascii=False, separators=(",", ":")),
                },
                origins[members[0]],
                [origins[i] for i in members[1:]],
                parent=order,
            )
        )
