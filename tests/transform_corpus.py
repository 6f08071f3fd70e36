"""One logical set of customers and orders, written as each transform source's export.

The agreement test transforms the same shop three ways (a Shopify orders export, Omnitron API
pages, a Turkish-platform CSV described by a mapping file) and compares the bundles on every
field the three layouts can all express; the accounting tests plant defects (a date that is no
date, a price that is no number, an order without an email) in every layout the same way.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from hypothesis import strategies as st

ISTANBUL = dt.timezone(dt.timedelta(hours=3))
SHOPIFY_HEADER = (
    (Path(__file__).parent / "data/transform/shopify/orders_export.csv").open(encoding="utf-8").readline().strip()
).split(",")


@dataclass
class Item:
    sku: str
    name: str
    quantity: int
    price: Decimal
    bad_price: bool = False  # planted: the price cell is not a number


@dataclass
class Customer:
    email: str
    first: str
    last: str
    phone: str  # a Turkish mobile as people write it


@dataclass
class Order:
    number: str
    customer: Customer
    placed: dt.datetime
    items: list[Item]
    discount: Decimal = Decimal("0.00")
    bad_date: bool = False  # planted: 30 February
    no_email: bool = False  # planted: the order names no buyer email
    street: str = "Caferağa Mah. Moda Cad. No:12"
    township: str = "Kadıköy"
    city: str = "İstanbul"

    @property
    def amount(self) -> Decimal:
        return sum((i.price * i.quantity for i in self.items), Decimal(0)) - self.discount


@dataclass
class Shop:
    orders: list[Order] = field(default_factory=list)


FIRST = ["Ayşe", "İsmail", "Gülşen", "Şükrü", "Çağla", "Ömer"]
LAST = ["Yılmaz", "Işık", "Doğan", "Öztürk", "Kaya", "Şahin"]


@st.composite
def shops(draw: st.DrawFn, defects: bool = False) -> Shop:
    """A shop of 1-6 customers and 1-8 orders; with ``defects``, some cells are planted as unreadable."""
    n_customers = draw(st.integers(1, 4))
    customers = [
        Customer(
            f"musteri{k}@example.com",
            draw(st.sampled_from(FIRST)),
            draw(st.sampled_from(LAST)),
            f"0532 {100 + k} 45 67",
        )
        for k in range(n_customers)
    ]
    orders = []
    for n in range(draw(st.integers(1, 8))):
        items = [
            Item(
                f"SKU-{draw(st.integers(1, 5))}-{k}",
                draw(st.sampled_from(["Pamuklu Tişört", "Kot Pantolon", "Yün Atkı", "Çelik Termos"])),
                draw(st.integers(1, 3)),
                Decimal(draw(st.integers(100, 99_999))) / 100,
                bad_price=defects and draw(st.integers(0, 5)) == 0,
            )
            for k in range(draw(st.integers(1, 3)))
        ]
        placed = dt.datetime(2024, 1, 1, 9, 0, tzinfo=ISTANBUL) + dt.timedelta(
            days=draw(st.integers(0, 300)), minutes=draw(st.integers(0, 600))
        )
        orders.append(
            Order(
                str(100001 + n),
                draw(st.sampled_from(customers)),
                placed,
                items,
                bad_date=defects and draw(st.integers(0, 4)) == 0,
                no_email=defects and draw(st.integers(0, 6)) == 0,
            )
        )
    return Shop(orders)


def _money(value: Decimal, comma: bool = False) -> str:
    text = f"{value:.2f}"
    return text.replace(".", ",") if comma else text


# ---------------------------------------------------------------------------------------------- Shopify


def write_shopify(shop: Shop, path: Path) -> Path:
    """Shopify's orders export: one row per line item, the order's columns on its first row."""
    rows = []
    for order in shop.orders:
        c = order.customer
        created = "2024-02-30 10:00:00 +0300" if order.bad_date else order.placed.strftime("%Y-%m-%d %H:%M:%S %z")
        for k, item in enumerate(order.items):
            row = dict.fromkeys(SHOPIFY_HEADER, "")
            row.update(
                {
                    "Name": f"#{order.number}",
                    "Email": "" if order.no_email else c.email,
                    "Lineitem quantity": str(item.quantity),
                    "Lineitem name": item.name,
                    "Lineitem price": "on lira" if item.bad_price else _money(item.price),
                    "Lineitem sku": item.sku,
                }
            )
            if k == 0:
                row.update(
                    {
                        "Financial Status": "paid",
                        "Fulfillment Status": "fulfilled",
                        "Accepts Marketing": "no",
                        "Currency": "TRY",
                        "Total": _money(order.amount),
                        "Discount Amount": _money(order.discount),
                        "Created at": created,
                        "Billing Name": f"{c.first} {c.last}",
                        "Billing Address1": order.street,
                        "Billing City": order.township,
                        "Billing Province Name": order.city,
                        "Billing Country": "TR",
                        "Billing Phone": c.phone,
                        "Shipping Name": f"{c.first} {c.last}",
                        "Shipping Address1": order.street,
                        "Shipping City": order.township,
                        "Shipping Province Name": order.city,
                        "Shipping Country": "TR",
                        "Shipping Phone": c.phone,
                        "Shipping Method": "Standart Kargo",
                        "Payment Method": "Kredi Kartı",
                    }
                )
            rows.append(row)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, SHOPIFY_HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------------------------------------- Omnitron


def write_omnitron(shop: Shop, path: Path) -> Path:
    """Omnitron's orders API page: one order line per unit (quantity 2 is two lines)."""
    results = []
    for order in shop.orders:
        c = order.customer
        address = {
            "first_name": c.first,
            "last_name": c.last,
            "line": order.street,
            "township": {"name": order.township},
            "city": {"name": order.city},
            "country": {"name": "Türkiye"},
            "phone_number": c.phone,
            "email": "" if order.no_email else c.email,
        }
        lines = [
            {
                "id": f"{order.number}-{k}-{u}",
                "product_sku": item.sku,
                "product": {"name": item.name},
                "price": "on lira" if item.bad_price else _money(item.price),
                "shipping_company": "yurtici",
            }
            for k, item in enumerate(order.items)
            for u in range(item.quantity)
        ]
        results.append(
            {
                "number": order.number,
                "status": "500",
                "date_placed": "2024-02-30T10:00:00+03:00" if order.bad_date else order.placed.isoformat(),
                "customer": {
                    "email": None if order.no_email else c.email,
                    "first_name": c.first,
                    "last_name": c.last,
                    "phone_number": c.phone,
                },
                "shipping_address": address,
                "billing_address": address,
                "currency": "try",
                "amount": _money(order.amount),
                "discount_amount": _money(order.discount),
                "payment_option_slug": "credit_card",
                "cargo_company": None,
                "tracking_number": "T1",
                "orderitem_set": lines,
            }
        )
    path.write_text(json.dumps({"count": len(results), "results": results}, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- mapping

MAPPING_HEADER = [
    "Sipariş No",
    "Sipariş Tarihi",
    "Ad",
    "Soyad",
    "E-posta",
    "Telefon",
    "Stok Kodu",
    "Ürün Adı",
    "Adet",
    "Birim Fiyat",
    "Toplam Tutar",
    "İndirim",
    "Adres",
    "İlçe",
    "İl",
]

MAPPING = """\
[source]
delimiter = ";"
date_order = "dmy"
decimal_separator = ","
timezone = "Europe/Istanbul"

[user]
customer_code = { column = "E-posta", normalise = "email" }
email = { column = "E-posta", normalise = "email" }
first_name = "Ad"
last_name = "Soyad"
phone = { column = "Telefon", normalise = "phone" }
date_joined = { column = "Sipariş Tarihi", normalise = "date", pick = "min" }

[address]
user = { field = "user.customer_code" }
email = { field = "user.email" }
first_name = "Ad"
last_name = "Soyad"
phone_number = { column = "Telefon", normalise = "phone" }
line = "Adres"
township = "İlçe"
city = "İl"
country = { value = "Türkiye" }

[order]
group_by = "Sipariş No"
number = "Sipariş No"
user = { field = "user.customer_code" }
user_email = { field = "user.email" }
created_date = { column = "Sipariş Tarihi", normalise = "date" }
amount = { column = "Toplam Tutar", normalise = "decimal" }
discount_amount = { column = "İndirim", normalise = "decimal" }
currency = { value = "TRY" }
status = { value = "500" }
payment_type = { value = "credit_card" }

[order_item]
order_number = { field = "order.number" }
sku = "Stok Kodu"
product = "Ürün Adı"
quantity = "Adet"
price = { column = "Birim Fiyat", normalise = "decimal" }
"""


def write_mapping(shop: Shop, folder: Path) -> tuple[Path, Path]:
    """A Turkish platform's export (``;``, decimal commas, ``dd.MM.yyyy HH:mm``) and its mapping file."""
    path = folder / "siparisler.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(MAPPING_HEADER)
        for order in shop.orders:
            c = order.customer
            placed = "30.02.2024 10:00" if order.bad_date else order.placed.strftime("%d.%m.%Y %H:%M")
            for item in order.items:
                writer.writerow(
                    [
                        order.number,
                        placed,
                        c.first,
                        c.last,
                        "" if order.no_email else c.email,
                        c.phone,
                        item.sku,
                        item.name,
                        str(item.quantity),
                        "on lira" if item.bad_price else _money(item.price, comma=True),
                        _money(order.amount, comma=True),
                        _money(order.discount, comma=True),
                        order.street,
                        order.township,
                        order.city,
                    ]
                )
    mapping = folder / "platform.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return path, mapping
