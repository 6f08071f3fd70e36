"""The WooCommerce preset (``omnimig/transforms/mappings/woocommerce.toml``) on a fixture export.

``tests/data/transform/woocommerce/orders.csv`` follows the SkyVerge legacy default layout
documented in ../shared/legacy-exports.md (section 3): one row per order, US dates, line items
packed into ``order_item_N`` cells as ``name:…|product_id:…|sku:…|quantity:…|total:…|meta:…``.
Twelve orders by Turkish buyers: one buyer with two orders, a three-item and a two-item order
(one item's meta holds the unescaped separator), two cash-on-delivery orders, a gift with its
own delivery address, a refund whose delivery name is empty, a landline phone, and one order
dated 2/30/2024, which is rejected.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.transforms import core
from omnimig.transforms.outdir import MANIFEST

ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "tests" / "data" / "transform" / "woocommerce" / "orders.csv"
PRESET = ROOT / "omnimig" / "transforms" / "mappings" / "woocommerce.toml"
#: What a WooCommerce export cannot give (docs/mapping.md); with these set, the bundle validates clean.
FILL = [
    "--password-policy",
    "unusable",
    "--default",
    "user.sms_allowed=false",
    "--default",
    "user.email_allowed=false",
    "--default",
    "order.bank=-",
    "--default",
    "order.tracking_number=-",
    "--default",
    "order.shipping_company=yurtici",
]


def run(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def validate(out: Path) -> dict[str, int]:
    files = [p for p in sorted(out.iterdir()) if p.name not in ("rejects.csv", "changes.csv", MANIFEST)]
    report = json.loads(run("validate", *files, "--format", "json").stdout)
    counts: dict[str, int] = {}
    for f in report["files"]:
        for p in f["problems"]:
            key = f"{p['severity']} {p['type']}.{p['field']} {p['rule']}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def test_the_woocommerce_export_becomes_a_bundle_with_exact_counts(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run("transform", "mapping", EXPORT, "--mapping", PRESET, "--out", out)
    assert result.exit_code == 1, result.output  # one order rejected
    assert f"{EXPORT}: 12 rows read = 11 written + 0 merged + 1 rejected" in result.stdout
    # Order 1009's date cannot be read: the order and its line go, its buyer stays (joined on the
    # migration date, since that was the buyer's only order).
    assert "wrote 11 user, 12 address, 11 order, 14 order_item" in result.stdout
    assert "orders: 12 seen = 11 written + 0 merged + 1 rejected" in result.stdout
    assert "order items: 15 seen = 14 written + 0 merged + 1 rejected" in result.stdout
    assert 'order.bank: default "-" used for 2 records (where payment_type is "pay_on_delivery")' in result.stdout

    reject, line = rows(out / "rejects.csv")
    assert (reject["source_row"], reject["target_type"], reject["field"]) == ("10", "order", "created_date")
    assert '"2/30/2024 10:00" is not a valid calendar date' in reject["reason"]
    assert (line["source_line"], line["record"]) == ("1", "item of order 1009")
    assert line["reason"] == f"its order 1009 was rejected: {reject['reason']}"
    changes = {(c["source_row"], c["field"], c["code"]) for c in rows(out / "changes.csv")}
    assert ("9", "phone", "value-dropped") in changes
    assert ("10", "date_joined", "date-joined-fallback") in changes
    assert ("7", "status", "code-unconfirmed") in changes  # refunded -> 600

    orders = {o["number"]: o for o in rows(out / "order.csv")}
    assert sorted(orders) == [str(n) for n in range(1001, 1013) if n != 1009]
    assert {n for n, o in orders.items() if o["bank"] == "-"} == {"1002", "1010"}  # cash on delivery only
    assert {n: o["payment_type"] for n, o in orders.items() if o["payment_type"] != "credit_card"} == {
        "1002": "pay_on_delivery",
        "1004": "funds_transfer",
        "1010": "pay_on_delivery",
    }
    assert orders["1001"]["created_date"] == "2024-03-04T10:15:00+03:00"  # 3/4 is 4 March: mdy
    assert orders["1001"]["currency"] == "TRY"
    assert [orders[n]["status"] for n in ("1001", "1002", "1004", "1005", "1006")] == [
        "500",
        "400",
        "300",
        "100",
        "600",
    ]
    assert json.loads(orders["1002"]["extra_field"]) == {
        "order_id": "5007",
        "payment_method": "cod",
        "shipping_method": "Kargo",
        "shipping_cost": "29.90",
        "customer_note": "Kapıda nakit ödeyeceğim",
    }

    items = rows(out / "order_item.csv")
    assert [i["order_number"] for i in items].count("1002") == 3
    assert [i["order_number"] for i in items].count("1001") == 2
    tea = next(i for i in items if i["sku"] == "CAY-6")
    assert (tea["product"], tea["quantity"], tea["price"]) == ("Çay Bardağı Seti", "2", "119.90")  # 239.80 / 2
    assert json.loads(tea["extra_field"]) == {"product_id": "77", "meta": "Renk=Kırmızı|Desen=Lale"}
    # every written order's amount is its items' total plus shipping, less the discount
    for number, order in orders.items():
        lines = sum(float(i["price"]) * int(i["quantity"]) for i in items if i["order_number"] == number)
        shipping = float(json.loads(order["extra_field"])["shipping_cost"])
        assert abs(lines + shipping - float(order["discount_amount"]) - float(order["amount"])) < 0.005, number

    users = {u["customer_code"]: u for u in rows(out / "user.csv")}
    # Only in the rejected order: the buyer is kept (scoped rejection), joined on the migration date.
    assert users["hakan.arslan@example.com"]["date_joined"] == core.migration_date()
    assert users["ayse.yilmaz@example.com"]["date_joined"] == "2024-03-04T10:15:00+03:00"  # her first order
    assert users["gulsen.kilic@example.com"]["phone"] == ""  # a landline: dropped, listed
    addresses = rows(out / "address.csv")
    by_user: dict[str, list[dict[str, str]]] = {}
    for a in addresses:
        by_user.setdefault(a["user"], []).append(a)
    assert {u: len(a) for u, a in by_user.items() if len(a) != 1} == {"zeynep.celik@example.com": 2}
    gift = {(a["first_name"], a["township"], a["city"]) for a in by_user["zeynep.celik@example.com"]}
    assert gift == {("Zeynep", "KARŞIYAKA", "İZMİR"), ("Fatma", "BORNOVA", "İZMİR")}
    # an empty delivery name falls back to the buyer's, so the two addresses are one
    (burak,) = by_user["burak.aydin@example.com"]
    assert (burak["first_name"], burak["city"], burak["country"]) == ("Burak", "KOCAELİ", "Türkiye")

    assert validate(out) == {
        "error order.tracking_number required": 11,
        "error order.shipping_company required": 11,
        "error user.sms_allowed required": 11,
        "error user.email_allowed required": 11,
        "error user.password required": 11,
        "error order.bank required": 9,
    }


def test_with_what_the_export_cannot_give_the_bundle_validates_clean(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    result = run("transform", "mapping", EXPORT, "--mapping", PRESET, "--out", out, *FILL)
    assert f"{EXPORT}: 12 rows read = 11 written + 0 merged + 1 rejected" in result.stdout
    assert "validate on the written files: no errors, no warnings" in result.stdout
    assert validate(out) == {}
    # the conditional default came first; --default order.bank fills only the card and transfer orders
    assert "default used for order.bank in 9 rows" in result.stdout
