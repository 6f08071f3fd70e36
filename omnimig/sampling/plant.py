"""Append defect units to a generated bundle and write the answer key, ``expected_problems.json``.

See ``defects.py`` for why each defect gets a unit of its own and which second places the key
also lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from omnimig.io.paths import ANSWER_KEY
from omnimig.io.private import write_privately
from omnimig.sampling.defects import (
    BundleDefect,
    FieldDefect,
    bundle_defects,
    choices_warning,
    covered_child_fields,
    field_defects,
    same_value_fields,
)
from omnimig.schemas.rules import migration_types

if TYPE_CHECKING:
    from omnimig.sampling.generate import Generator

UNREADABLE_AMOUNT = "12,50"  # a planted `type` defect that keeps an order out of the amount check


class Sink(Protocol):
    path: Path

    def add(self, row: dict[str, str]) -> int: ...


@dataclass(frozen=True)
class Expected:
    file: str
    row: int
    field: str
    rule: str
    severity: str

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "field": self.field, "rule": self.rule, "severity": self.severity}


def catalogue(gen: Generator) -> list[FieldDefect | BundleDefect]:
    """Every kind of defect, field rules first (in schema order), then the bundle rules."""
    kinds: list[FieldDefect | BundleDefect] = []
    base = {"user": gen.user("ZD-BASE", lambda a, b: "base")}
    base["address"] = gen.address(base["user"], 0)
    base["order_item"] = gen.item("ZD-BASE", 12_990, 1)
    base["order"] = gen.order("ZD-BASE", "ZD-BASE", base["user"]["email"], "x", 12_990, 0)
    for t, rules in gen.rules.items():
        for rule in rules.fields:
            kinds.extend(field_defects(t, rule, base[t][rule.name], gen.choices))
    kinds.extend(bundle_defects())
    return kinds


class Planter:
    def __init__(self, gen: Generator, outs: dict[str, Sink]) -> None:
        self.gen = gen
        self.outs = outs
        self.expected: list[Expected] = []
        self.same_value = same_value_fields()
        self.covered = covered_child_fields()
        self.units = 0

    # ------------------------------------------------------------------ building blocks

    def expect(self, type_name: str, row: int, fld: str, rule: str, severity: str = "error") -> None:
        self.expected.append(Expected(self.outs[type_name].path.name, row, fld, rule, severity))

    def fresh_user(self) -> dict[str, str]:
        n = self.units
        return self.gen.user(f"ZD-{n:05d}", lambda a, b: f"defect.{n}")

    def put(self, type_name: str, row: dict[str, str]) -> int:
        return self.outs[type_name].add({k: v for k, v in row.items() if k != "_text"})

    def order_with_item(self, user: dict[str, str], number: str, amount: str | None = None) -> tuple[dict, dict]:
        item = self.gen.item(number, 12_990, 1)
        order = self.gen.order(number, user["customer_code"], user["email"], "Defect Sk. No: 1", 12_990, 0)
        if amount is not None:
            order["amount"] = amount
        return order, item

    # ------------------------------------------------------------------ units

    def plant(self, defect: FieldDefect | BundleDefect) -> None:
        self.units += 1
        if isinstance(defect, FieldDefect):
            self.field_unit(defect)
        else:
            self.bundle_unit(defect)

    def unique_value(self, defect: FieldDefect) -> str:
        """Repeated units must not plant one key twice (that would be a second, unplanned defect).

        A value for a unique field gets the unit number in front, keeping its length so a
        too-long value stays exactly one character too long.
        """
        mtype = next(t for t in migration_types() if t.name == defect.type)
        keyed = set(mtype.primary_key) | {k["fields"][0] for k in mtype.unique_keys}
        if defect.field not in keyed or defect.value == "":
            return defect.value
        prefix = f"{self.units}-"
        return prefix + defect.value[len(prefix) :] if len(defect.value) > len(prefix) else prefix + defect.value

    def field_unit(self, defect: FieldDefect) -> None:
        value = self.unique_value(defect)
        rule = self.gen.rules[defect.type].field(defect.field)
        user = self.fresh_user()
        t = defect.type
        if t == "user":
            user[defect.field] = value
            row = self.put("user", user)
        else:
            self.put("user", user)
            if t == "address":
                address = self.gen.address(user, 0)
                address[defect.field] = value
                row = self.put("address", address)
            elif t == "order":
                number = f"ZD-ORD-{self.units:05d}"
                order, item = self.order_with_item(user, number)
                order[defect.field] = value
                if defect.field == "number":
                    item["order_number"] = value
                row = self.put("order", order)
                if order["number"]:
                    self.put("order_item", item)
            else:
                number = f"ZD-ORD-{self.units:05d}"
                covered = (t, defect.field) in self.covered
                order, keep = self.order_with_item(user, number, UNREADABLE_AMOUNT if covered else "259.80")
                order_row = self.put("order", order)
                if covered:
                    self.expect("order", order_row, "amount", "type")
                self.put("order_item", keep)
                item = self.gen.item(number, 12_990, 1)
                item[defect.field] = value
                row = self.put("order_item", item)
        self.expect(t, row, defect.field, defect.rule, defect.severity)
        if value and (t, defect.field) in self.same_value and defect.field in self.gen.rules[t].names:
            self.expect(t, row, defect.field, self.same_value[(t, defect.field)], "warning")
        if choices_warning(rule, FieldDefect(t, defect.field, defect.rule, value), self.gen.choices):
            self.expect(t, row, defect.field, "choices", "warning")

    def bundle_unit(self, defect: BundleDefect) -> None:
        n = self.units
        if defect.rule == "unique":
            self.unique_unit(defect)
        elif defect.rule == "foreign-key":
            missing = f"ZZ-MISSING-{n:05d}"
            if defect.type == "order_item":
                item = self.gen.item(missing, 12_990, 1)
                self.expect(defect.type, self.put("order_item", item), defect.field, "foreign-key")
                return
            user = self.fresh_user()
            if defect.type == "address":
                row = self.gen.address(user, 0)
                row[defect.field] = missing
                self.expect(defect.type, self.put("address", row), defect.field, "foreign-key")
            else:
                order, item = self.order_with_item(user, f"ZD-ORD-{n:05d}")
                order[defect.field] = missing
                self.expect(defect.type, self.put("order", order), defect.field, "foreign-key")
                self.put("order_item", item)
        else:
            self.consistency_unit(defect)

    def unique_unit(self, defect: BundleDefect) -> None:
        if defect.type == "user":
            user = self.fresh_user()
            first = self.gen.first_user
            user[defect.field] = (
                first[defect.field].upper() if defect.detail.get("caseInsensitive") else first[defect.field]
            )
            self.expect("user", self.put("user", user), defect.field, "unique")
        else:
            user = self.fresh_user()
            self.put("user", user)
            first = self.gen.known_orders[0]
            order = self.gen.order(first["number"], user["customer_code"], user["email"], "Defect Sk. No: 1", 0, 0)
            order["amount"], order["discount_amount"] = first["amount"], first["discount_amount"]
            self.expect("order", self.put("order", order), defect.field, "unique")

    def consistency_unit(self, defect: BundleDefect) -> None:
        n = self.units
        check = defect.detail["check"]
        user = self.fresh_user()
        self.put("user", user)
        if check["check"] == "same-value":
            other = f"other.{n}@example.com"
            if defect.type == "address":
                row = self.gen.address(user, 0)
                row[defect.field] = other
                self.expect("address", self.put("address", row), defect.field, check["rule"], "warning")
            else:
                order, item = self.order_with_item(user, f"ZD-ORD-{n:05d}")
                order[defect.field] = other
                self.expect("order", self.put("order", order), defect.field, check["rule"], "warning")
                self.put("order_item", item)
        elif check["check"] == "has-children":
            order, _ = self.order_with_item(user, f"ZD-ORD-{n:05d}")
            self.expect("order", self.put("order", order), defect.field, check["rule"], "warning")
        else:  # covers-children: an amount more than the tolerance below the items
            order, item = self.order_with_item(user, f"ZD-ORD-{n:05d}", "129.88")
            self.expect("order", self.put("order", order), defect.field, check["rule"], "warning")
            self.put("order_item", item)


def plant_defects(gen: Generator, outs: dict[str, Sink], rate: float, rows: int, folder: Path) -> int:
    """Plant at least one defect of every kind, more to reach ``rate`` of ``rows``; write the key."""
    kinds = catalogue(gen)
    count = max(len(kinds), round(rate * rows))
    planter = Planter(gen, outs)
    for i in range(count):
        planter.plant(kinds[i % len(kinds)])
    key = sorted(planter.expected, key=lambda e: (e.file, e.row, e.field, e.rule))
    # Private like the bundle: the key quotes the planted cells (names, emails, phones).
    write_privately(
        folder / ANSWER_KEY, (json.dumps([e.to_dict() for e in key], ensure_ascii=False, indent=1) + "\n").encode()
    )
    return count
