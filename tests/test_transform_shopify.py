"""``omnimig transform shopify``: Shopify's orders (+ customers) export into a bundle that validates.

The fixtures under ``tests/data/transform/shopify`` are hand-made in Shopify's real layouts
(legacy-exports.md §1-2): the 79-column orders header (and the 73-column one), newest order
first, order-level columns only on an order's first row, a multi-line Note Attributes cell, a
product name with quotes and commas, apostrophe zips/phones/ids, a refunded, a partially refunded
and a cancelled order, a POS order without email, a buyer missing from the customers export, a
customer without email, one without a name and one listed twice.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.transforms import core
from omnimig.transforms.finish import Options
from omnimig.transforms.run import transform
from omnimig.transforms.settings import Settings
from omnimig.validation.run import validate_paths

DATA = Path(__file__).resolve().parent / "data" / "transform" / "shopify"
ORDERS = DATA / "orders_export.csv"
ORDERS_73 = DATA / "orders_export_73.csv"
CUSTOMERS = DATA / "customers_export.csv"
TALLY = re.compile(
    r"^(?P<file>.+): (?P<read>\d+) rows read = (?P<w>\d+) written \+ (?P<m>\d+) merged \+ (?P<r>\d+) rejected$"
)


def run(*args: object) -> Result:
    return CliRunner().invoke(app, ["transform", "shopify", *(str(a) for a in args)])


def tallies(result: Result) -> dict[str, tuple[int, int, int, int]]:
    out = {}
    for line in result.stdout.splitlines():
        m = TALLY.match(line)
        if m:
            out[Path(m["file"]).name] = (int(m["read"]), int(m["w"]), int(m["m"]), int(m["r"]))
    return out


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cannot_run(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("omnimig: error:"), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    out = tmp_path_factory.mktemp("shopify")
    result = run(ORDERS, CUSTOMERS, "--out", out)
    return out, result


# --------------------------------------------------------------------------- accounting


def test_every_row_is_written_merged_or_rejected(bundle: tuple[Path, Result]) -> None:
    _, result = bundle
    assert result.exit_code == 1, result.output  # rows were rejected, so scripts notice
    counts = tallies(result)
    # customers: 8 rows = 6 users (one with only its address) + 1 duplicate merged + 1 without email
    assert counts["customers_export.csv"] == (8, 6, 1, 1)
    # orders: 14 line-item rows (8 orders); the POS order without email (2 rows) is rejected
    assert counts["orders_export.csv"] == (14, 12, 0, 2)
    for read, written, merged, rejected in counts.values():
        assert read == written + merged + rejected
    assert "wrote 7 user, 9 address, 7 order, 12 order_item" in result.stdout


def test_rejects_name_the_row_and_the_reason(bundle: tuple[Path, Result]) -> None:
    out, _ = bundle
    rejects = rows(out / "rejects.csv")
    where = [(Path(r["source_file"]).name, r["source_row"], r["target_type"], r["field"]) for r in rejects]
    # Row numbers are spreadsheet rows: the 3-line Note Attributes cell of #1008 is still one row.
    assert where == [  # in the order the inputs were given
        ("orders_export.csv", "6", "order", "user_email"),
        ("orders_export.csv", "6", "order_item", ""),  # the first row is an order line too
        ("orders_export.csv", "7", "order_item", ""),
        ("customers_export.csv", "7", "user", "email"),
    ]
    assert [r["record"] for r in rejects[:3]] == ["order #1005", "item of order #1005", "item of order #1005"]
    assert "Akinon needs user_email" in rejects[0]["reason"]
    assert rejects[1]["reason"] == rejects[2]["reason"] == f"its order #1005 was rejected: {rejects[0]['reason']}"
    assert "no Email" in rejects[3]["reason"]


def test_warnings_flag_statuses_phones_merges_and_empty_skus(bundle: tuple[Path, Result]) -> None:
    out, result = bundle
    codes = {(Path(w["source_file"]).name, w["source_row"], w["code"]) for w in rows(out / "changes.csv")}
    assert ("orders_export.csv", "4", "status-refunded") in codes
    assert ("orders_export.csv", "5", "status-cancelled") in codes
    assert ("orders_export.csv", "11", "status-partially-refunded") in codes
    assert ("orders_export.csv", "9", "sku-empty") in codes
    assert ("customers_export.csv", "3", "phone-dropped") in codes  # a landline is not a TR mobile
    assert ("customers_export.csv", "8", "customer-merged") in codes
    assert ("customers_export.csv", "6", "name-from-order") in codes
    splits = [w for w in rows(out / "changes.csv") if w["code"] == "name-split"]  # the buyer derived from #1004
    assert len(splits) == 1 and " | " in splits[0]["after"] and splits[0]["record"].startswith("user ")
    assert ("customers_export.csv", "9", "date-joined-fallback") in codes
    assert "1 buyer missing from the customers export" in result.stdout
    assert "1 refunded order got status 600, which Akinon's docs do not confirm" in result.stdout


# --------------------------------------------------------------------------- mapping


def test_orders_map_shopify_columns(bundle: tuple[Path, Result]) -> None:
    out, _ = bundle
    orders = {o["number"]: o for o in rows(out / "order.csv")}
    assert list(orders) == ["#1008", "#1007", "#1006", "#1004", "#1003", "#1002", "#1001"]
    first = orders["#1008"]
    assert first["user"] == "8509270720648"  # Customer ID without its apostrophe, found by folded email
    assert first["user_email"] == "ayse@example.com"
    assert first["amount"] == "1249.00"  # Total, never Total + Taxes
    assert first["created_date"].startswith("2024-03-02T18:40:11")
    assert first["currency"] == "TRY" and first["payment_type"] == "iyzico"
    assert first["bank"] == first["tracking_number"] == first["shipping_company"] == ""
    assert first["shipping_address"] == (
        "Ayşe Yılmaz, Caferağa Mah. Moda Cad. No:5 D:3, Kadıköy, 34710 İstanbul, Türkiye, +90 532 123 45 67"
    )
    extra = json.loads(first["extra_field"])["shopify"]
    assert extra["Id"] == "5600000001008" and extra["Financial Status"] == "paid"
    assert extra["Note Attributes"] == "vergi_dairesi: Kadıköy\nvergi_no: 1234567890\nfatura_tipi: kurumsal"
    assert "Tax 1 Name" not in extra
    assert {n: o["status"] for n, o in orders.items()} == {
        "#1008": "500",  # paid/fulfilled
        "#1007": "600",  # refunded
        "#1006": "100",  # Cancelled at set
        "#1004": "400",  # paid/unfulfilled
        "#1003": "500",  # partially_refunded, fulfilled
        "#1002": "300",  # pending
        "#1001": "450",  # paid/partial
    }
    assert orders["#1001"]["discount_amount"] == "12.00"
    assert orders["#1002"]["billing_address"].startswith("Mehmet Kaya, Kaya Yazılım A.Ş., Büyükdere Cad.")


def test_items_and_users(bundle: tuple[Path, Result]) -> None:
    out, _ = bundle
    items = rows(out / "order_item.csv")
    assert [i["order_number"] for i in items].count("#1004") == 3
    assert items[0]["product"] == 'Kahve Fincanı "Lale", 2\'li set'
    assert (items[0]["sku"], items[0]["quantity"], items[0]["price"]) == ("LALE-2", "2", "450.00")
    assert json.loads(items[0]["extra_field"])["shopify"]["Vendor"] == "Lale Ev"
    users = {u["email"]: u for u in rows(out / "user.csv")}
    ayse = users["ayse@example.com"]
    assert (ayse["first_name"], ayse["last_name"], ayse["phone"]) == ("Ayşe", "Yılmaz", "5321234567")
    assert (ayse["sms_allowed"], ayse["email_allowed"]) == ("true", "true")
    assert ayse["date_joined"].startswith("2024-01-08T10:14:22")  # her earliest order, #1003
    assert users["ismail.isik@example.com"]["phone"] == ""
    derived = users["sukru@example.net"]  # not in the customers export
    assert (derived["customer_code"], derived["first_name"], derived["last_name"]) == (
        "sukru@example.net",
        "Şükrü",
        "Öztürk",
    )
    assert derived["email_allowed"] == "false" and derived["sms_allowed"] == ""
    assert (users["noname@example.com"]["first_name"], users["noname@example.com"]["last_name"]) == (
        "Zeynep",
        "Ağaoğlu",
    )
    assert users["mehmet@example.com"]["customer_code"] == "8509270720651"  # the first of the two rows
    # No order to take it from: the migration date, listed in changes.csv (the user is kept).
    assert users["elif.sahin@example.com"]["date_joined"] == core.migration_date()


def test_addresses_are_distinct_per_user(bundle: tuple[Path, Result]) -> None:
    out, _ = bundle
    addresses = rows(out / "address.csv")
    ayse = [a for a in addresses if a["user"] == "8509270720648"]
    assert len(ayse) == 1  # the default address and both orders' addresses are one address
    assert (ayse[0]["city"], ayse[0]["township"], ayse[0]["country"]) == ("İstanbul", "Kadıköy", "Türkiye")
    mehmet = [a["line"] for a in addresses if a["user"] == "8509270720651"]
    assert mehmet == ["İnönü Cad. No:12", "Büyükdere Cad. No:201 Kat 9"]


# --------------------------------------------------------------------------- validation, determinism, formats


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_output_validates_except_fields_shopify_cannot_fill(tmp_path: Path, fmt: str) -> None:
    result = transform("shopify", [ORDERS, CUSTOMERS], tmp_path, fmt, Settings(), Options())
    assert result.adds_up
    assert set(result.paths) == {"user", "address", "order", "order_item"}
    validation = validate_paths(list(result.paths.values()))
    assert not validation.unreadable
    errors = [p for r in validation.results for p in r.problems if p.severity == "error"]
    assert errors, "password, bank and tracking number cannot be filled"
    for p in errors:
        assert (p.type, p.field) in result.cannot_fill, p
        assert p.rule == "required", p


def test_defaults_and_password_policy_give_a_bundle_without_errors(tmp_path: Path) -> None:
    defaults = [
        "order.bank=Yok",
        "order.tracking_number=YOK",
        "order.shipping_company=yurtici",
        "user.sms_allowed=false",
        "user.date_joined=2024-01-01T00:00:00+03:00",
    ]
    args = [ORDERS, CUSTOMERS, "--out", tmp_path, "--password-policy", "unusable"]
    for d in defaults:
        args += ["--default", d]
    result = run(*args)
    assert result.exit_code == 1  # the rejected rows
    assert "validate on the written files: no errors" in result.stdout, result.stdout
    validation = validate_paths([tmp_path / f"{t}.csv" for t in ("user", "address", "order", "order_item")])
    assert not [p for r in validation.results for p in r.problems if p.severity == "error"]


def test_same_input_gives_byte_identical_output(tmp_path: Path) -> None:
    for name in ("a", "b"):
        assert run(ORDERS, CUSTOMERS, "--out", tmp_path / name).exit_code == 1
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_inputs_are_told_apart_by_header_not_position(tmp_path: Path) -> None:
    run(ORDERS, CUSTOMERS, "--out", tmp_path / "a")
    run(CUSTOMERS, ORDERS, "--out", tmp_path / "b")
    for name in ("user.csv", "address.csv", "order.csv", "order_item.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_the_73_column_layout_gives_the_same_bundle(tmp_path: Path) -> None:
    run(ORDERS, CUSTOMERS, "--out", tmp_path / "a")
    result = run(ORDERS_73, CUSTOMERS, "--out", tmp_path / "b")
    assert tallies(result)["orders_export_73.csv"] == (14, 12, 0, 2)
    for name in ("user.csv", "address.csv", "order_item.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, b = rows(tmp_path / "a" / "order.csv"), rows(tmp_path / "b" / "order.csv")
    for x, y in zip(a, b, strict=True):
        ex, ey = json.loads(x.pop("extra_field"))["shopify"], json.loads(y.pop("extra_field"))["shopify"]
        assert x == y
        assert ex.pop("Outstanding Balance") == "0.00" and ex == ey  # only the 79-column file has it


def test_orders_without_customers_export_derive_every_user(tmp_path: Path) -> None:
    result = run(ORDERS, "--out", tmp_path)
    assert tallies(result)["orders_export.csv"] == (14, 12, 0, 2)
    assert "6 buyers (no customers export given)" in result.stdout
    users = rows(tmp_path / "user.csv")
    assert all(u["customer_code"] == u["email"] for u in users)
    assert len(users) == 6


# --------------------------------------------------------------------------- options and tables


def test_status_table_shipping_companies_and_hash_are_overridable(tmp_path: Path) -> None:
    mapping = tmp_path / "map.toml"
    mapping.write_text(
        '[source]\nstrip_hash = true\n\n[values.shopify_status]\n"*/fulfilled" = "550"\n\n'
        '[values.shipping_company]\n"Standart Kargo" = "yurtici"\n',
        encoding="utf-8",
    )
    result = run(
        ORDERS, CUSTOMERS, "--out", tmp_path / "o", "--mapping", mapping, "--map", "shopify_status:refunded=100"
    )
    orders = {o["number"]: o for o in rows(tmp_path / "o" / "order.csv")}
    assert orders["1008"]["status"] == "550"
    assert orders["1007"]["status"] == "100"
    assert orders["1002"]["status"] == "300"  # untouched entries keep the shipped table's values
    assert {o["shipping_company"] for o in orders.values()} == {"yurtici"}
    assert {i["order_number"] for i in rows(tmp_path / "o" / "order_item.csv")} == set(orders)
    assert "order.shipping_company" not in result.stdout
    assert "status 600" not in result.stdout


def test_unknown_option_and_bad_option_value_cannot_run(tmp_path: Path) -> None:
    assert "strip_hash" in cannot_run(run(ORDERS, "--out", tmp_path, "--option", "strip_hsh=true"))
    assert "true or false" in cannot_run(run(ORDERS, "--out", tmp_path, "--option", "strip_hash=maybe"))


def _rewrite(src: Path, dst: Path, change) -> Path:  # type: ignore[no-untyped-def]
    with src.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    table = change(table)
    with dst.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(table)
    return dst


def test_unknown_status_and_repeated_order_are_rejected_with_reasons(tmp_path: Path) -> None:
    def change(table: list[list[str]]) -> list[list[str]]:
        header = table[0]
        table[1][header.index("Fulfillment Status")] = "restocked"  # #1008: paid/restocked has no entry
        again = next(r for r in table if r[0] == "#1002")  # after other orders: a second export of it
        return [*table, again]

    path = _rewrite(ORDERS, tmp_path / "orders_export.csv", change)
    result = run(path, CUSTOMERS, "--out", tmp_path / "o")
    read, written, merged, rejected = tallies(result)["orders_export.csv"]
    assert (read, rejected) == (15, 5)
    assert read == written + merged + rejected
    reasons = {
        r["source_row"]: r["reason"] for r in rows(tmp_path / "o" / "rejects.csv") if "orders" in r["source_file"]
    }
    assert "--map 'shopify_status:paid/restocked=CODE'" in reasons["2"]
    assert "was rejected" in reasons["3"]
    assert "already read from" in reasons["16"]


def test_alias_spellings_and_a_bom_are_accepted(tmp_path: Path) -> None:
    def change(table: list[list[str]]) -> list[list[str]]:
        aliases = {"Cancelled at": "Canceled at", "Lineitem compare at price": "Lineitem compare-at price"}
        table[0] = [aliases.get(h, h) for h in table[0]]
        table[0][0] = "\ufeff" + table[0][0]
        return table

    path = _rewrite(ORDERS, tmp_path / "orders.csv", change)
    result = run(path, CUSTOMERS, "--out", tmp_path / "o")
    assert tallies(result)["orders.csv"] == (14, 12, 0, 2)
    assert {o["number"]: o["status"] for o in rows(tmp_path / "o" / "order.csv")}["#1006"] == "100"


def test_older_customers_layout_without_customer_id(tmp_path: Path) -> None:
    older = tmp_path / "customers_export.csv"
    older.write_text(
        "First Name,Last Name,Email,Accepts Marketing,Company,Address1,Address2,City,Province,Province Code,"
        "Country,Country Code,Zip,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Tags,Note,Tax Exempt\n"
        "Ayşe,Yılmaz, Ayse@Example.com ,yes,,Caferağa Mah. Moda Cad. No:5,D:3,Kadıköy,İstanbul,TR-34,"
        "Turkey,TR,'34710,'+905321234567,no,0.00,2,,,no\n",
        encoding="utf-8",
    )
    result = run(ORDERS, older, "--out", tmp_path / "o")
    assert tallies(result)["customers_export.csv"] == (1, 1, 0, 0)
    assert "1 customer without a Customer ID: their email is the customer_code" in result.stdout
    users = {u["email"]: u for u in rows(tmp_path / "o" / "user.csv")}
    assert users["ayse@example.com"]["customer_code"] == "ayse@example.com"
    assert (users["ayse@example.com"]["email_allowed"], users["ayse@example.com"]["sms_allowed"]) == ("true", "false")
    orders = {o["number"]: o for o in rows(tmp_path / "o" / "order.csv")}
    assert orders["#1008"]["user"] == "ayse@example.com"


def test_a_row_wider_than_the_header_is_rejected_not_guessed(tmp_path: Path) -> None:
    def change(table: list[list[str]]) -> list[list[str]]:
        table[-1] = [*table[-1], "stray"]  # #1001's second item
        return table

    path = _rewrite(ORDERS, tmp_path / "orders.csv", change)
    result = run(path, "--out", tmp_path / "o")
    # The broken line makes nothing, and its order cannot be made whole, so #1001 goes with it.
    assert tallies(result)["orders.csv"] == (14, 10, 0, 4)
    rejects = rows(tmp_path / "o" / "rejects.csv")
    [broken] = [r for r in rejects if r["source_row"] == "15" and not r["target_type"]]
    assert "has 80 cells but the header has 79 columns" in broken["reason"]
    [order] = [r for r in rejects if r["record"] == "order #1001"]
    assert order["reason"].startswith(f"{tmp_path / 'orders.csv'} row 15 of the order cannot be read whole")


# --------------------------------------------------------------------------- cannot run


def test_missing_needed_columns_are_named_in_one_line(tmp_path: Path) -> None:
    def change(table: list[list[str]]) -> list[list[str]]:
        drop = {table[0].index("Total"), table[0].index("Lineitem price")}
        return [[c for i, c in enumerate(r) if i not in drop] for r in table]

    path = _rewrite(ORDERS, tmp_path / "orders.csv", change)
    line = cannot_run(run(path, "--out", tmp_path / "o"))
    assert str(path) in line and "'Total'" in line and "'Lineitem price'" in line


def test_files_that_are_not_shopify_exports_cannot_run(tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    assert "neither a Shopify orders export" in cannot_run(run(other, "--out", tmp_path / "o"))
    assert "no Shopify orders export" in cannot_run(run(CUSTOMERS, "--out", tmp_path / "o"))


def _bundle_text(folder: Path) -> dict[str, str]:
    return {t: (folder / f"{t}.csv").read_text(encoding="utf-8") for t in ("user", "address", "order", "order_item")}


def test_an_export_saved_in_windows_1254_or_as_xlsx_gives_the_same_bundle(tmp_path: Path) -> None:
    """Every source reads through omnimig.io: a Shopify export re-saved by Excel (XLSX) or in a Turkish
    Windows code page is the same export."""
    import xlsxwriter

    reference = tmp_path / "utf8"
    run(ORDERS, "--out", reference)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(ORDERS.read_text(encoding="utf-8").encode("cp1254"))
    result = run(latin, "--out", tmp_path / "latin")
    assert result.exit_code == 1, result.output  # the fixture has one rejected order
    assert f"{latin}: not UTF-8; read as Windows-1254 (cp1254)" in result.stdout
    book = tmp_path / "orders.xlsx"
    with ORDERS.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    with xlsxwriter.Workbook(str(book)) as workbook:
        sheet = workbook.add_worksheet()
        for r, cells in enumerate(table):
            for c, cell in enumerate(cells):
                sheet.write_string(r, c, cell)
    assert run(book, "--out", tmp_path / "xlsx").exit_code == 1
    expected = _bundle_text(reference)
    assert _bundle_text(tmp_path / "latin") == expected
    assert _bundle_text(tmp_path / "xlsx") == expected


# --------------------------------------------------------------------------- property

HEADER = ORDERS.open(encoding="utf-8").readline().strip().split(",")
FIRST = ["Ali", "Ayşe", "İsmail", "Gülşen", "Şükrü", "Iğdır", "Çağla", "Ömer"]
LAST = ["Yılmaz", "Işık", "Doğan", "Öztürk", "Kaya", "Şahin", "Çelik", "Ağaoğlu"]
STATES = [
    ("paid", "fulfilled", ""),
    ("paid", "", ""),
    ("paid", "partial", ""),
    ("pending", "", ""),
    ("authorized", "", ""),
    ("refunded", "fulfilled", ""),
    ("partially_refunded", "fulfilled", ""),
    ("voided", "", "2024-02-01 10:00:00 +0300"),
]
money = st.integers(min_value=1, max_value=99_999_99).map(lambda c: f"{c // 100}.{c % 100:02d}")
item = st.fixed_dictionaries(
    {
        "Lineitem quantity": st.integers(1, 9).map(str),
        "Lineitem name": st.sampled_from(['Fincan "Lale", 2\'li', "Şal, ipek", "Kupa", "Iğdır kayısısı"]),
        "Lineitem price": money,
        "Lineitem sku": st.sampled_from(["", "SKU-1", "ŞAL-2"]),
    }
)
order = st.fixed_dictionaries(
    {
        "buyer": st.integers(0, 5),
        "email": st.booleans(),  # False: the buyer has no email (a POS order)
        "state": st.sampled_from(STATES),
        "total": money,
        "day": st.integers(1, 28),
        "items": st.lists(item, min_size=1, max_size=4),
        "note": st.sampled_from(["", "vergi_no: 1\nvergi_dairesi: Kadıköy"]),
    }
)


def shopify_csv(orders: list[dict], all_emails: bool) -> str:  # type: ignore[type-arg]
    out = io.StringIO()
    writer = csv.DictWriter(out, HEADER, lineterminator="\n")
    writer.writeheader()
    for n, o in enumerate(orders):
        buyer = o["buyer"]
        email = f"Buyer{buyer}@Example.com" if all_emails or o["email"] else ""
        financial, fulfillment, cancelled = o["state"]
        created = f"2024-01-{o['day']:02d} 10:00:00 +0300"
        first = {
            "Name": f"#{2000 - n}",
            "Email": email,
            "Financial Status": financial,
            "Fulfillment Status": fulfillment,
            "Cancelled at": cancelled,
            "Accepts Marketing": "yes",
            "Currency": "TRY",
            "Total": o["total"],
            "Discount Amount": "0.00",
            "Created at": created,
            "Payment Method": "iyzico",
            "Note Attributes": o["note"],
        }
        for side in ("Billing", "Shipping"):
            first |= {
                f"{side} Name": f"{FIRST[buyer]} {LAST[buyer]}",
                f"{side} Address1": f"{LAST[buyer]} Sok. No:{buyer}",
                f"{side} City": "Kadıköy",
                f"{side} Zip": "'34710",
                f"{side} Province": "TR-34",
                f"{side} Province Name": "İstanbul",
                f"{side} Country": "TR",
                f"{side} Phone": "'+90 532 000 00 0" + str(buyer),
            }
        for i, it in enumerate(o["items"]):
            row = dict(first) if i == 0 else {"Name": first["Name"], "Email": email, "Created at": created}
            writer.writerow(row | it)
    return out.getvalue()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(orders=st.lists(order, min_size=1, max_size=6), all_emails=st.booleans())
def test_generated_exports_account_for_every_row(tmp_path: Path, orders: list[dict], all_emails: bool) -> None:  # type: ignore[type-arg]
    out = tmp_path / "o"
    shutil.rmtree(out, ignore_errors=True)
    path = tmp_path / "orders_export.csv"
    path.write_text(shopify_csv(orders, all_emails), encoding="utf-8")
    options = Options(password_policy="unusable")
    result = transform("shopify", [path], out, "csv", Settings(), options)
    (t,) = result.tallies
    assert t.read == sum(len(o["items"]) for o in orders)
    assert t.read == t.written + t.merged + t.rejected
    if all_emails:
        assert not result.rejects, result.rejects
        assert result.written["order"] == len(orders)
        left = {(k[1], k[2]) for k in result.validation if k[0] == "error"}
        assert left <= set(result.cannot_fill), left


def test_an_excel_error_cell_costs_only_where_the_source_reads_it(tmp_path: Path) -> None:
    """#N/A in a column the source does not carry over costs nothing; in a line's price it costs the
    line's order (it cannot be made whole), never silently one line of it."""
    import xlsxwriter

    with ORDERS.open(encoding="utf-8", newline="") as handle:
        table = list(csv.reader(handle))
    risk, price = table[0].index("Risk Level"), table[0].index("Lineitem price")
    book = tmp_path / "orders.xlsx"
    with xlsxwriter.Workbook(str(book)) as workbook:
        sheet = workbook.add_worksheet()
        for r, cells in enumerate(table):
            for c, cell in enumerate(cells):
                if (r == 2 and c == risk) or (r == len(table) - 1 and c == price):
                    sheet.write_formula(r, c, "=NA()", None, "#N/A")
                else:
                    sheet.write_string(r, c, cell)
    reference = tmp_path / "csv"
    run(ORDERS, "--out", reference)
    result = run(book, "--out", tmp_path / "x")
    written = {o["number"] for o in rows(tmp_path / "x" / "order.csv")}
    assert written == {o["number"] for o in rows(reference / "order.csv")} - {"#1001"}, result.stdout
    [order] = [r for r in rows(tmp_path / "x" / "rejects.csv") if r["record"] == "order #1001"]
    assert "of the order cannot be read whole" in order["reason"] and "#N/A" in order["reason"]
