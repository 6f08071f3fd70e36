"""Generate a consistent, valid sample bundle: users, their addresses, orders and order items.

Realistic content comes from faker (tr_TR) and ``places.json``; every limit comes from the rule
files: lengths, digits and decimal places, minimums, value lists. Each generated value is then
checked against its field's pattern, so a value that could break a rule is a bug here, not a
defect in the output. Rows are produced and written in batches, so memory stays bounded by the
per-user keys (code, email, one address line), not by the number of orders.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd
from faker import Faker

from omnimig.exceptions import SampleError, UsageError
from omnimig.i18n import _, number
from omnimig.io.kinds import json_kinds
from omnimig.io.table import Chunk
from omnimig.io.write import SUFFIX, TableWriter
from omnimig.schemas.rules import (
    ChoiceList,
    FieldRule,
    TypeRules,
    default_choices,
    table_rules,
    type_names,
)

BATCH = 5_000
# A fixed reference day keeps dates reproducible across runs and years.
TODAY = pd.Timestamp("2026-01-01")


@cache
def places() -> dict[str, Any]:
    return json.loads(resources.files("omnimig.sampling").joinpath("places.json").read_text(encoding="utf-8"))


@dataclass
class Written:
    """What ``generate`` wrote: rows per type and file paths."""

    rows: dict[str, int] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    defects: int = 0

    def summary(self) -> str:
        """One line for a person: rows per type, the folder, and the planted defects if any."""
        parts = ", ".join(f"{number(n)} {t}" for t, n in self.rows.items())
        folder = next(iter(self.paths.values())).parent
        if self.defects:
            line = _("wrote {parts} to {folder} with {defects} planted defects (answer key: expected_problems.json)")
            return line.format(parts=parts, folder=folder, defects=number(self.defects))
        return _("wrote {parts} to {folder}").format(parts=parts, folder=folder)


class Money:
    """Amounts as whole cents within a field's maxDigits/decimalPlaces."""

    def __init__(self, rule: FieldRule) -> None:
        places = rule.decimal_places if rule.decimal_places is not None else 2
        digits = rule.max_digits if rule.max_digits is not None else 12
        self.places = places
        self.max_cents = 10**digits - 1  # e.g. 9999999999.99 for 12 digits, 2 places

    def text(self, cents: int) -> str:
        if not 0 <= cents <= self.max_cents:
            raise ValueError(f"{cents} cents is outside 0..{self.max_cents}")
        whole, frac = divmod(cents, 10**self.places)
        return f"{whole}.{frac:0{self.places}d}" if self.places else str(whole)


class Fields:
    """Checks a generated row against the rules it must meet by construction."""

    def __init__(self, rules: TypeRules) -> None:
        self.rules = rules
        self.patterns = {f.name: re.compile(f.pattern) for f in rules.fields if f.pattern}

    def fit(self, name: str, value: str) -> str:
        """Cut text to the field's max length (at a character, never mid-pair)."""
        limit = self.rules.field(name).max_length
        return value[:limit] if limit is not None else value

    def check(self, row: dict[str, str]) -> dict[str, str]:
        for name, pattern in self.patterns.items():
            value = row[name]
            if value and not pattern.fullmatch(value):
                raise AssertionError(f"generated {self.rules.type}.{name} {value!r} breaks its pattern")
        for f in self.rules.fields:
            if f.required and row[f.name] == "":
                raise AssertionError(f"generated {self.rules.type}.{f.name} is empty")
            if f.max_length is not None and len(row[f.name]) > f.max_length:
                raise AssertionError(f"generated {self.rules.type}.{f.name} is too long")
        return row


def _numbered(first: str, last: str, n: int) -> str:
    """An email's local part from the names and the user's number (unique even for same names)."""
    return f"{_ascii(first)}.{_ascii(last)}.{n}"


def _ascii(text: str) -> str:
    table = str.maketrans("çğıöşüÇĞİÖŞÜâîû", "cgiosuCGIOSUaiu")
    return re.sub(r"[^a-z0-9]+", "", text.translate(table).lower())


def _boolean(rule: FieldRule, value: bool) -> str:
    """The canonical spelling the Table Schema lists first for true/false."""
    wanted = "true" if value else "false"
    pool = rule.true_values if value else rule.false_values
    return wanted if wanted in pool else pool[0]


class Generator:
    def __init__(self, orders: int, seed: int, locale: str) -> None:
        self.orders = orders
        self.rng = random.Random(seed)
        self.fake = Faker(locale)
        self.fake.seed_instance(seed)
        self.choices: dict[str, ChoiceList] = default_choices()
        self.rules = {t: table_rules(t) for t in ("user", "address", "order", "order_item")}
        self.fields = {t: Fields(r) for t, r in self.rules.items()}
        self.users = max(1, orders // 3)
        self.emails: list[str] = []
        self.lines: list[str] = []
        self.price = Money(self.rules["order_item"].field("price"))
        self.amount = Money(self.rules["order"].field("amount"))
        self.known_orders: list[dict[str, str]] = []  # the first orders, for planted duplicates
        self.first_user: dict[str, str] = {}

    def choice(self, field_rule: FieldRule, common: str | None = None) -> str:
        """A value from the field's list; ``common`` (when listed) most of the time."""
        values = self.choices[field_rule.choices].values if field_rule.choices else ()
        if common is not None and common in values and self.rng.random() < 0.8:
            return common
        return self.rng.choice(values)

    def when(self, days_back: int) -> pd.Timestamp:
        return TODAY - pd.Timedelta(seconds=self.rng.randrange(days_back * 86_400))

    # ------------------------------------------------------------------ users and addresses

    def user_rows(self) -> Iterator[tuple[dict[str, str], list[dict[str, str]]]]:
        digits = len(str(self.users))
        for i in range(self.users):
            code = f"C{i + 1:0{digits + 1}d}"  # a leading zero on purpose: codes are text
            row = self.user(code, functools.partial(_numbered, n=i + 1))
            if i == 0:
                self.first_user = dict(row)  # planted duplicates copy its keys
            addresses = [self.address(row, k, edge=i == 0) for k in range(self.rng.choice((1, 1, 2)))]
            self.emails.append(row["email"])
            self.lines.append(addresses[0]["_text"])
            yield row, addresses

    def user(self, code: str, local_part: Callable[[str, str], str]) -> dict[str, str]:
        """One valid user row; ``local_part`` makes the email's part before the @ from the names."""
        user = self.rules["user"]
        first, last = self.fake.first_name(), self.fake.last_name()
        email = f"{local_part(first, last)}@{self.fake.free_email_domain()}"
        born = self.when(365 * 60) - pd.Timedelta(days=365 * 18)
        joined = self.when(365 * 5)
        algorithm = self.choice(user.field("password_algorithm"), "md5")
        secret = hashlib.md5(f"{code}-{self.rng.random()}".encode()).hexdigest()
        row = {
            "customer_code": code,
            "first_name": first,
            "last_name": last,
            "email": email,
            "gender": self.rng.choice(["male", "female", "", "Female"]),
            "sms_allowed": _boolean(user.field("sms_allowed"), self.rng.random() < 0.4),
            "email_allowed": _boolean(user.field("email_allowed"), self.rng.random() < 0.6),
            "phone": "5" + "".join(self.rng.choice("0123456789") for _ in range(9)),
            "date_of_birth": born.strftime("%Y-%m-%d") if self.rng.random() < 0.7 else "",
            "date_joined": joined.strftime("%Y-%m-%d %H:%M:%S"),
            "password": secret if algorithm == "md5" else f"{algorithm}${secret[:8]}${secret}",
            "password_algorithm": algorithm,
        }
        return self.fields["user"].check(row)

    def address(self, user: dict[str, str], k: int, edge: bool = False) -> dict[str, str]:
        p = places()
        place = self.rng.choice(p["places"])
        district = self.rng.choice(place["districts"])
        line = f"{self.rng.choice(p['streets'])} No: {self.rng.randint(1, 250)}"
        if edge or self.rng.random() < 0.3:
            line += f", D: {self.rng.randint(1, 40)}"  # a comma inside a cell
        if edge or self.rng.random() < 0.05:
            line += f'\n"{self.rng.choice(p["titles"])}" girişi'  # a line break and quotes in a cell
        f = self.fields["address"]
        business = self.rng.random() < 0.1
        row = {
            "user": user["customer_code"],
            "email": user["email"],
            "phone_number": user["phone"],
            "first_name": f.fit("first_name", user["first_name"]),
            "last_name": f.fit("last_name", user["last_name"]),
            "title": f.fit("title", p["titles"][k % len(p["titles"])]),
            "line": f.fit("line", line),
            "tax_office": "Mecidiyeköy" if business else "",
            "tax_no": f"{self.rng.randrange(10**9, 10**10)}" if business else "",
            "country": "Türkiye",
            "city": place["city"],
            "township": place["township"],
            "district": district if self.rng.random() < 0.8 else "",
            "company_name": f.fit("company_name", self.fake.company()) if business else "",
        }
        parts = (line.replace("\n", " "), district, place["township"], place["city"], "Türkiye")
        text = ", ".join(v for v in parts if v)
        return {**f.check(row), "_text": text}

    # ------------------------------------------------------------------ orders and items

    def order_rows(self) -> Iterator[tuple[dict[str, str], list[dict[str, str]]]]:
        order, item = self.rules["order"], self.rules["order_item"]
        number_limit = order.field("number").max_length or 128
        digits = len(str(self.orders))
        p = places()
        for i in range(self.orders):
            owner = self.rng.randrange(self.users)
            number = f"ORD-{i + 1:0{digits}d}"
            if i == 1:  # the longest number the rules allow
                number = (number + "-" + "X" * number_limit)[:number_limit]
            items, total = self.items(number, i, item, p)
            discount = self.rng.choice((0, 0, 0, total // 10)) if total < self.amount.max_cents else 0
            code = f"C{owner + 1:0{len(str(self.users)) + 1}d}"
            row = self.order(number, code, self.emails[owner], self.lines[owner], total, discount)
            if len(self.known_orders) < 50:
                self.known_orders.append(row)
            yield row, items

    def order(self, number: str, code: str, email: str, text: str, total: int, discount: int) -> dict[str, str]:
        """One valid order row of ``total`` cents of items less ``discount`` cents."""
        order, p = self.rules["order"], places()
        row = {
            "number": number,
            "user": code,
            "user_email": email,
            "status": self.choice(order.field("status"), "550"),
            "created_date": self.when(365 * 3).strftime(self.rng.choice(("%Y-%m-%d %H:%M:%S", "%Y-%m-%d"))),
            "amount": self.amount.text(total - discount),
            "discount_amount": self.amount.text(discount) if discount or self.rng.random() < 0.5 else "",
            "currency": self.choice(order.field("currency"), "TRY"),
            "payment_type": self.rng.choice(p["payment_types"]),
            "bank": self.rng.choice(p["banks"]),
            "installment_count": str(self.rng.choice((1, 1, 3, 6, 12))) if self.rng.random() < 0.6 else "",
            "tracking_number": f"{self.rng.randrange(10**11, 10**12)}",
            "shipping_company": self.choice(order.field("shipping_company"), "yurtici"),
            "shipping_address": self.fields["order"].fit("shipping_address", text),
            "billing_address": self.fields["order"].fit("billing_address", text),
            "extra_field": "{}" if self.rng.random() < 0.8 else json.dumps({"channel": "web"}),
        }
        return self.fields["order"].check(row)

    def items(self, number: str, i: int, rules: TypeRules, p: dict[str, Any]) -> tuple[list[dict[str, str]], int]:
        rows, total = [], 0
        count = 1 if i == 0 else self.rng.randint(1, 5)
        for k in range(count):
            quantity = self.rng.choice((1, 1, 1, 2, 3))
            cents = self.rng.randrange(1_000, 500_000)
            product = f"{self.rng.choice(p['products'])} {self.rng.choice(p['adjectives'])}"
            if i == 0:  # edge values: the largest price the rules allow, quantity 1
                cents, quantity = self.price.max_cents, 1
            elif i == 2 and k == 0:  # the smallest price, the longest product name
                cents = 1
                product = product + " " + "Ş" * (rules.field("product").max_length or 256)
            total += cents * quantity
            rows.append(self.item(number, cents, quantity, product))
        if total > self.amount.max_cents:  # several large lines: keep the order within the amount limit
            return self.items(number, i, rules, p)
        return rows, total

    def item(self, number: str, cents: int, quantity: int, product: str | None = None) -> dict[str, str]:
        """One valid order item row."""
        f, p = self.fields["order_item"], places()
        product = product or f"{self.rng.choice(p['products'])} {self.rng.choice(p['adjectives'])}"
        row = {
            "order_number": number,
            "product": f.fit("product", product),
            "sku": f"{self.rng.randrange(10**6):07d}",  # leading zeros on purpose
            "quantity": str(quantity),
            "price": self.price.text(cents),
            "image_url": (
                f"https://cdn.example.com/p/{self.rng.randrange(10**6)}.jpg" if self.rng.random() < 0.7 else ""
            ),
            "extra_field": "{}",
        }
        return f.check(row)


class _Out:
    """One output file, written in batches."""

    def __init__(self, folder: Path, type_name: str, fmt: str, columns: list[str]) -> None:
        self.type = type_name
        self.fmt = fmt
        self.columns = columns
        self.path = folder / f"{type_name}{SUFFIX[fmt]}"
        self.writer = TableWriter(self.path, fmt, columns)
        self.pending: list[dict[str, str]] = []
        self.count = 0
        # Where a person finds a row: under the header in a spreadsheet, by record in JSON.
        self.first_row = 1 if fmt == "json" else 2

    def add(self, row: dict[str, str]) -> int:
        """Queue ``row``; returns its row number in the file."""
        self.pending.append(row)
        self.count += 1
        if len(self.pending) >= BATCH:
            self.flush()
        return self.first_row + self.count - 1

    def flush(self) -> None:
        if not self.pending:
            return
        frame = pd.DataFrame([[r[c] for c in self.columns] for r in self.pending], columns=self.columns)
        frame = frame.astype("string[pyarrow]")
        kinds = json_kinds(self.type, frame) if self.fmt == "json" else None
        rows = pd.Series(range(len(frame)), index=frame.index)
        self.writer.write(Chunk(frame, rows, kinds), pd.Series(True, index=frame.index))
        self.pending.clear()

    def close(self) -> int:
        self.flush()
        self.writer.close()
        return self.writer.rows


def _refuse_leftovers(out: Path, fmt: str, keyed: bool) -> None:
    """Refuse a folder where this run would leave a second bundle beside its own.

    ``user.xlsx`` from an earlier run next to this run's ``user.csv`` is read by ``validate`` as
    two user files (every user a duplicate), and a stale ``expected_problems.json`` would be the
    answer key of other files. Whose files they are cannot be known (they may be the person's
    real data), so nothing is deleted: the run stops and names them.
    """
    from omnimig.io.paths import ANSWER_KEY

    suffixes = dict.fromkeys(SUFFIX.values())
    other = [f"{t}{x}" for t in type_names() for x in suffixes if x != SUFFIX[fmt] and (out / f"{t}{x}").exists()]
    if other:
        listed = ", ".join(str(out / n) for n in other)
        line = _(
            "{files}: already there in another format than this run's {format}; validate would read both bundles "
            "as one. Remove them, or write to another folder"
        )
        raise SampleError(line.format(files=listed, format=fmt))
    if not keyed and (out / ANSWER_KEY).exists():
        line = _(
            "{path}: the answer key of an earlier run with planted defects; this run plants none, so "
            "it would describe other files. Remove it, or write to another folder"
        )
        raise SampleError(line.format(path=out / ANSWER_KEY))


def generate(
    out: Path,
    orders: int = 20,
    fmt: str = "csv",
    seed: int = 1,
    locale: str = "tr_TR",
    progress: Callable[[int], None] | None = None,
    invalid_rate: float = 0.0,
) -> Written:
    """Write ``user``, ``address``, ``order`` and ``order_item`` files to ``out`` in ``fmt``.

    With ``invalid_rate`` above 0, defect units follow the valid rows (at least one of every
    kind) and ``out/expected_problems.json`` says what ``validate`` must report.
    """
    from faker.config import AVAILABLE_LOCALES

    if orders < 1:
        raise UsageError(_("orders {orders}: at least 1").format(orders=orders))
    if not 0.0 <= invalid_rate <= 1.0:
        raise UsageError(_("invalid_rate {rate}: between 0 and 1").format(rate=invalid_rate))
    if fmt not in SUFFIX:
        raise UsageError(_("format {format}: use one of {formats}").format(format=repr(fmt), formats=", ".join(SUFFIX)))
    if locale not in AVAILABLE_LOCALES:
        line = _("unknown locale {locale}; use a faker locale such as tr_TR or en_US")
        raise UsageError(line.format(locale=repr(locale)))
    _refuse_leftovers(out, fmt, invalid_rate > 0)
    gen = Generator(orders, seed, locale)
    outs = {t: _Out(out, t, fmt, list(r.names)) for t, r in gen.rules.items()}
    for user, addresses in gen.user_rows():
        outs["user"].add(user)
        for a in addresses:
            outs["address"].add({k: v for k, v in a.items() if k != "_text"})
    for n, (order, items) in enumerate(gen.order_rows(), start=1):
        outs["order"].add(order)
        for item in items:
            outs["order_item"].add(item)
        if progress is not None and n % BATCH == 0:
            progress(BATCH)
    if invalid_rate > 0:
        from omnimig.sampling.plant import plant_defects

        written_rows = sum(o.count for o in outs.values())
        defects = plant_defects(gen, outs, invalid_rate, written_rows, out)  # type: ignore[arg-type]
    else:
        defects = 0
    written = Written(defects=defects)
    for t, o in outs.items():
        written.rows[t] = o.close()
        written.paths[t] = o.path
    return written
