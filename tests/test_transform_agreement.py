"""The three transform sources are layouts over one core: the same shop gives the same bundle.

One logical set of customers and orders (``transform_corpus``) is written as a Shopify orders
export, as Omnitron API pages and as a Turkish-platform CSV with a mapping file; each is
transformed, and the bundles are compared on every field the three layouts can all express.
With planted defects, every source must account for every record the same way: per-type
counts, one ``rejects.csv`` line per record not written, and scoped rejection (an unreadable
order date costs the order and its lines, never the buyer; an unreadable price costs its line).
"""

from __future__ import annotations

import csv
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from transform_corpus import Shop, shops, write_mapping, write_omnitron, write_shopify

from omnimig.transforms import normalize as nz
from omnimig.transforms.finish import Options
from omnimig.transforms.run import Result, transform
from omnimig.transforms.settings import Settings, load

SOURCES = ("shopify", "omnitron-orders", "mapping")


def rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run(source: str, shop: Shop, folder: Path) -> tuple[Result, Path]:
    out = folder / f"out-{source}"
    if source == "shopify":
        given, setup = [write_shopify(shop, folder / "orders_export.csv")], Settings(source={"strip_hash": "true"})
    elif source == "omnitron-orders":
        given, setup = [write_omnitron(shop, folder / "orders.json")], Settings()
    else:
        data, mapping = write_mapping(shop, folder)
        given, setup = [data], load(mapping, allow_targets=True)
    return transform(source, given, out, "csv", setup, Options()), out


def common(out: Path) -> dict[str, Any]:
    """What all three layouts can express, in a form that does not depend on record order."""
    return {
        "user": sorted(
            (u["customer_code"], u["email"], u["first_name"], u["last_name"], u["phone"], u["date_joined"])
            for u in rows(out / "user.csv")
        ),
        "address": sorted(
            (a["user"], a["line"], nz.fold(a["township"]), nz.fold(a["city"])) for a in rows(out / "address.csv")
        ),
        "order": sorted(
            (
                o["number"],
                o["user"],
                o["user_email"],
                o["created_date"],
                o["amount"],
                o["discount_amount"],
                o["currency"],
            )
            for o in rows(out / "order.csv")
        ),
        "order_item": Counter(
            (i["order_number"], i["sku"], i["product"], i["quantity"], i["price"]) for i in rows(out / "order_item.csv")
        ),
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shop=shops())
def test_the_three_sources_agree_on_one_shop(shop: Shop) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        bundles = {}
        for source in SOURCES:
            result, out = run(source, shop, Path(tmp))
            assert result.adds_up and not result.rejects, (source, [r.reason for r in result.rejects])
            bundles[source] = common(out)
        assert bundles["shopify"] == bundles["omnitron-orders"] == bundles["mapping"]
        # and the bundle is the shop: one user per customer, one order per order, every item
        users = {o.customer.email for o in shop.orders}
        assert [u[0] for u in bundles["mapping"]["user"]] == sorted(users)
        assert len(bundles["mapping"]["order"]) == len(shop.orders)
        assert sum(bundles["mapping"]["order_item"].values()) == sum(len(o.items) for o in shop.orders)


def check_accounting(result: Result, out: Path) -> None:
    """Per-type counts, the lines of rejects.csv and the written files agree."""
    assert result.adds_up
    rejects = rows(out / "rejects.csv")
    for t in result.types:
        assert t.seen == t.written + t.merged + t.rejected, t
        assert t.written == len(rows(out / f"{t.type}.csv")), t
        assert t.rejected == sum(1 for r in rejects if r["target_type"] == t.type), t
    assert all(r["record"] and r["reason"] for r in rejects if r["target_type"])
    assert len(rejects) == len(result.rejects)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shop=shops(defects=True))
def test_every_source_accounts_for_every_record_and_rejects_in_scope(shop: Shop) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for source in SOURCES:
            result, out = run(source, shop, Path(tmp))
            check_accounting(result, out)
            users = {u["email"] for u in rows(out / "user.csv")}
            orders = {o["number"] for o in rows(out / "order.csv")}
            rejects = rows(out / "rejects.csv")
            for order in shop.orders:
                mine = [r for r in rejects if r["target_type"] == "order_item" and r["record"].endswith(order.number)]
                if order.no_email:
                    assert order.number not in orders, (source, order.number)
                    continue
                # Scoped rejection: the buyer of an order that cannot be read is still written.
                assert order.customer.email in users, (source, order.number)
                if order.bad_date:
                    assert order.number not in orders, (source, order.number)
                    # each line goes with its order (a line with a bad price of its own says that instead)
                    because = f"its order {order.number} was rejected"
                    assert mine and all(r["reason"].startswith(because) or r["field"] == "price" for r in mine)
                    continue
                # An unreadable price costs its line, never the order.
                assert order.number in orders, (source, order.number)
                bad = [i for i in order.items if i.bad_price]
                refused = [r for r in mine if r["field"] == "price"]
                # Omnitron folds the units of one SKU and price into one item: one line per (SKU, price).
                expected = len({i.sku for i in bad}) if source == "omnitron-orders" else len(bad)
                assert len(refused) == expected, (source, order.number)
