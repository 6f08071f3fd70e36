"""``omnimig transform mapping``: any export through a TOML mapping file, end to end via the CLI.

The fixtures are a Turkish-platform orders export (``siparisler.csv``: cp1254, ``;``, decimal
commas, one row per line item) and a customers spreadsheet (``musteriler.xlsx``), run through
the two shipped example mappings. Every mapping-file mistake must stop the run with exit 2 and
one line naming the file and line; every input row must be written, merged or rejected.
"""

from __future__ import annotations

import csv
import json
import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.transforms import core
from omnimig.transforms.outdir import MANIFEST

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "transform" / "mapping"
MAPPINGS = ROOT / "omnimig" / "transforms" / "mappings"
ORDERS = DATA / "siparisler.csv"
CUSTOMERS = DATA / "musteriler.xlsx"
TURKISH = MAPPINGS / "turkish-platform.toml"
CUSTOMERS_TOML = MAPPINGS / "customers.toml"
HEADER = [
    "Sipariş No",
    "Sipariş Tarihi",
    "Müşteri Adı Soyadı",
    "E-posta",
    "Telefon",
    "Ürün Adı",
    "Stok Kodu",
    "Adet",
    "Birim Fiyat",
    "Toplam Tutar",
    "Para Birimi",
    "Sipariş Durumu",
    "Ödeme Tipi",
    "Banka",
    "Taksit",
    "Kargo Firması",
    "Kargo Takip No",
    "Teslimat Adresi",
    "Teslimat İl",
    "Teslimat İlçe",
    "Fatura Adresi",
]
#: What the Turkish export cannot fill; validate's errors on its output must all be among these.
TURKISH_CANNOT_FILL = {
    ("user", "password"),
    ("user", "sms_allowed"),
    ("user", "email_allowed"),
    ("order", "bank"),
    ("order", "tracking_number"),
    ("order", "shipping_company"),
}
TALLY = re.compile(r"(\d+) rows read = (\d+) written \+ (\d+) merged \+ (\d+) rejected")


# --------------------------------------------------------------------------- helpers


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def transform(inputs: Path | list[Path], mapping: Path | None, out: Path, *extra: object) -> Result:
    paths = inputs if isinstance(inputs, list) else [inputs]
    args: list[object] = ["transform", "mapping", *paths, "--out", out]
    if mapping is not None:
        args += ["--mapping", mapping]
    result = run(*args, *extra)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def tally(result: Result) -> tuple[int, int, int, int]:
    found = TALLY.search(result.stdout)
    assert found, result.stdout
    read, written, merged, rejected = (int(g) for g in found.groups())
    return read, written, merged, rejected


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def by(records: list[dict[str, str]], key: str) -> dict[str, dict[str, str]]:
    return {r[key]: r for r in records}


def cannot_run(result: Result, *needles: str) -> str:
    """Exit 2 and exactly one ``omnimig: error:`` line holding every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("omnimig: error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def validate_errors(out: Path) -> set[tuple[str, str]]:
    files = [p for p in sorted(out.iterdir()) if p.name not in ("rejects.csv", "changes.csv", MANIFEST)]
    result = run("validate", *files, "--format", "json")
    report = json.loads(result.stdout)
    return {(p["type"], p["field"]) for f in report["files"] for p in f["problems"] if p["severity"] == "error"}


def write_mapping(tmp_path: Path, text: str, name: str = "m.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], data: list[list[str]], encoding: str = "utf-8", sep: str = ";") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=sep, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(data)
    return path


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


# --------------------------------------------------------------------------- the Turkish orders export


@pytest.fixture(scope="module")
def turkish(tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path]:
    out = tmp_path_factory.mktemp("turkish")
    return transform(ORDERS, TURKISH, out), out


def test_turkish_export_accounts_for_every_row(turkish: tuple[Result, Path]) -> None:
    result, out = turkish
    assert result.exit_code == 1  # something was rejected, so scripts notice
    assert tally(result) == (10, 7, 0, 3)
    # Emre Şahin's order is rejected, not Emre: a bad order costs the order and its lines only.
    assert "wrote 4 user, 4 address, 4 order, 7 order_item" in result.stdout
    assert "orders: 6 seen = 4 written + 0 merged + 2 rejected" in result.stdout
    assert "order items: 10 seen = 7 written + 0 merged + 3 rejected" in result.stdout
    assert {p.name for p in out.iterdir()} == {
        MANIFEST,
        "user.csv",
        "address.csv",
        "order.csv",
        "order_item.csv",
        "rejects.csv",
        "changes.csv",
    }


def test_turkish_export_values_are_normalised(turkish: tuple[Result, Path]) -> None:
    _, out = turkish
    orders = by(rows(out / "order.csv"), "number")
    first = orders["100001"]
    assert first["created_date"] == "2023-12-31T14:05:00+03:00"
    assert first["amount"] == "1348.80"
    assert first["currency"] == "TRY"
    assert (first["status"], first["payment_type"], first["installment_count"]) == ("500", "credit_card", "3")
    assert first["shipping_company"] == "yurtici"
    assert first["user"] == first["user_email"] == "ayse.kaya@example.com"
    # the quoted line break inside "Teslimat Adresi" becomes a space; parts joined with ", "
    assert first["shipping_address"] == "Caferağa Mah. Moda Cad. No:12 Daire 3, Kadıköy, İstanbul"
    assert json.loads(first["extra_field"])["Kargo Firması"] == "Yurtiçi Kargo"
    items = [r for r in rows(out / "order_item.csv") if r["order_number"] == "100001"]
    lines = [(i["sku"], i["quantity"], i["price"]) for i in items]
    assert lines == [("TS-001", "2", "149.90"), ("KP-204", "1", "1049.00")]
    assert len([r for r in rows(out / "order_item.csv") if r["order_number"] == "100006"]) == 3
    address = by(rows(out / "address.csv"), "user")["ismail.isik@example.com"]
    assert (address["first_name"], address["last_name"]) == ("İsmail", "Işık")
    assert (address["city"], address["township"]) == ("TRABZON", "ORTAHİSAR")


def test_repeated_order_columns_that_disagree_reject_the_whole_order(turkish: tuple[Result, Path]) -> None:
    _, out = turkish
    assert "100004" not in by(rows(out / "order.csv"), "number")
    assert not [r for r in rows(out / "order_item.csv") if r["order_number"] == "100004"]
    rejects = [r for r in rows(out / "rejects.csv") if r["source_row"] in ("6", "7")]
    order, *items = rejects
    assert (order["source_row"], order["target_type"], order["record"], order["field"]) == (
        "6",
        "order",
        "order 100004",
        "amount",
    )
    assert all(s in order["reason"] for s in ('"Toplam Tutar"', '"950,00"', '"900,00"', "row 7 of the order"))
    # One line per record: each of the order's two lines, naming the order and why it went.
    assert [(i["source_row"], i["record"]) for i in items] == [
        ("6", "item of order 100004"),
        ("7", "item of order 100004"),
    ]
    assert all(i["reason"] == f"its order 100004 was rejected: {order['reason']}" for i in items)
    assert "emre.sahin@example.com" in by(rows(out / "user.csv"), "email")  # the buyer stays


def test_buyer_without_email_is_rejected_with_the_reason(turkish: tuple[Result, Path]) -> None:
    _, out = turkish
    reasons = [r for r in rows(out / "rejects.csv") if r["source_row"] == "8"]
    assert {r["target_type"] for r in reasons} == {"user", "address", "order", "order_item"}
    assert any("required but empty" in r["reason"] for r in reasons)


def test_one_buyer_over_several_orders_is_one_user(turkish: tuple[Result, Path]) -> None:
    _, out = turkish
    users = rows(out / "user.csv")
    ayse = [u for u in users if u["email"] == "ayse.kaya@example.com"]
    assert len(ayse) == 1  # rows 2, 3 and 5 (the last with Ayse.Kaya@… in another case)
    assert ayse[0]["date_joined"] == "2023-12-31T14:05:00+03:00"  # pick = "min": the first order
    assert ayse[0]["phone"] == "5321234567"
    assert len([a for a in rows(out / "address.csv") if a["user"] == "ayse.kaya@example.com"]) == 1


def test_cancelled_order_is_written_with_its_empty_fields_reported(turkish: tuple[Result, Path]) -> None:
    result, out = turkish
    cancelled = by(rows(out / "order.csv"), "number")["100003"]
    assert (cancelled["status"], cancelled["tracking_number"], cancelled["shipping_company"]) == ("100", "", "")
    assert "order.tracking_number: orders not shipped yet (or cancelled) have no tracking number" in result.stdout
    assert "user.password: not mapped in turkish-platform.toml" in result.stdout
    assert "user.sms_allowed: not mapped in turkish-platform.toml" in result.stdout


def test_a_landline_is_dropped_with_a_warning_not_the_order(turkish: tuple[Result, Path]) -> None:
    _, out = turkish
    isik = by(rows(out / "user.csv"), "email")["ismail.isik@example.com"]
    assert isik["phone"] == ""
    warnings = [w for w in rows(out / "changes.csv") if w["code"] == "value-dropped"]
    assert {w["source_row"] for w in warnings} == {"9", "10", "11"}
    assert "0212 555 11 22" in warnings[0]["message"]


def test_validate_accepts_the_output_except_cannot_fill(turkish: tuple[Result, Path]) -> None:
    result, out = turkish
    assert validate_errors(out) <= TURKISH_CANNOT_FILL
    assert "validate on the written files: 17 errors" in result.stdout


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_reruns_are_byte_identical_in_every_format(tmp_path: Path, fmt: str) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = transform(ORDERS, TURKISH, out, "--format", fmt)
        assert result.exit_code == 1
        assert tally(result) == (10, 7, 0, 3)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert f"order.{fmt}" in names
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert validate_errors(first) <= TURKISH_CANNOT_FILL


def test_password_policy_and_defaults_fill_what_the_export_cannot(tmp_path: Path) -> None:
    result = transform(
        ORDERS,
        TURKISH,
        tmp_path,
        "--password-policy",
        "unusable",
        "--default",
        "user.sms_allowed=false",
        "--default",
        "user.email_allowed=false",
    )
    # 5 users got the default; the one without a customer_code was then rejected, so 4 are written with it.
    assert "default used for user.sms_allowed in 4 rows" in result.stdout
    assert validate_errors(tmp_path) <= {("order", "bank"), ("order", "tracking_number"), ("order", "shipping_company")}


# --------------------------------------------------------------------------- the customers spreadsheet


def test_customers_spreadsheet(tmp_path: Path) -> None:
    result = transform(CUSTOMERS, CUSTOMERS_TOML, tmp_path, "--password-policy", "unusable")
    assert result.exit_code == 1
    assert tally(result) == (8, 5, 1, 2)  # row 4 repeats row 2's customer; rows 6 and 7 rejected
    [merged] = [c for c in rows(tmp_path / "changes.csv") if c["code"] == "customer-merged"]
    assert (merged["source_row"], merged["record"]) == ("4", "user ayse.yilmaz@example.com")
    users = by(rows(tmp_path / "user.csv"), "email")
    ayse = users["ayse.yilmaz@example.com"]
    assert (ayse["sms_allowed"], ayse["email_allowed"], ayse["phone"]) == ("true", "false", "5321112233")
    assert (ayse["date_of_birth"], ayse["date_joined"]) == ("1990-04-23", "2021-03-05T10:15:00+03:00")
    assert users["mehmet.demir@example.com"]["customer_code"] == "mehmet.demir@example.com"
    assert users["ibrahim.isikgoz@example.com"]["phone"] == "5301234567"  # apostrophe marker removed
    assert users["ibrahim.isikgoz@example.com"]["date_of_birth"] == "1979-03-07"  # 07/03/1979, date_order = dmy
    assert users["gul.unal@example.com"]["date_of_birth"] == ""  # 31.02.1992 dropped with a warning
    rejects = {r["source_row"]: r for r in rows(tmp_path / "rejects.csv")}
    assert set(rejects) == {"6", "7"}
    assert '"Belki" is not a yes/no value' in rejects["7"]["reason"] and '"SMS İzni"' in rejects["7"]["reason"]
    assert rejects["6"]["field"] == "customer_code"
    assert validate_errors(tmp_path) == set()
    # The policy filled every password, so nothing is listed as left empty.
    assert "left empty" not in result.stdout
    plain = transform(CUSTOMERS, CUSTOMERS_TOML, tmp_path / "plain")
    assert "user.password: not mapped in customers.toml" in plain.stdout and "(empty in 5 of 5)" in plain.stdout


def test_customers_as_csv_and_json_give_the_same_users(tmp_path: Path) -> None:
    header = ["Ad", "Soyad", "E-posta", "Cep Telefonu", "Doğum Tarihi", "Üyelik Tarihi", "SMS İzni", "E-posta İzni"]
    data = [
        ["Ayşe", "Yılmaz", "ayse@example.com", "0532 111 22 33", "23.04.1990", "05.03.2021 10:15", "Evet", "Hayır"],
        ["Ali", "Veli", "ali@example.com", "", "", "06.03.2021 11:00", "hayır", "EVET"],
    ]
    source_csv = write_csv(tmp_path / "musteriler.csv", header, data, encoding="cp1254")
    source_json = tmp_path / "musteriler.json"
    source_json.write_text(json.dumps([dict(zip(header, r, strict=True)) for r in data], ensure_ascii=False))
    outs = []
    for source in (source_csv, source_json):
        out = tmp_path / source.suffix[1:]
        result = transform(source, CUSTOMERS_TOML, out)
        assert result.exit_code == 0, result.stdout
        assert tally(result) == (2, 2, 0, 0)
        outs.append((out / "user.csv").read_bytes())
    assert outs[0] == outs[1]


# --------------------------------------------------------------------------- mapping rules, small exports

SMALL = """\
[source]
decimal_separator = ","

[order]
number = "No"
user = { field = "user.customer_code" }
user_email = { field = "user.email" }
status = { column = "Durum", values = "status" }
created_date = { column = "Tarih", normalise = "date" }
amount = { column = "Toplam", normalise = "decimal" }
currency = { value = "TRY" }
payment_type = { value = "credit_card" }
bank = { value = "Akbank" }
tracking_number = { value = "T1" }
shipping_company = { value = "yurtici" }
shipping_address = "Adres"
billing_address = "Adres"

[order_item]
order_number = { field = "order.number" }
sku = "SKU"
quantity = "Adet"
price = { column = "Fiyat", normalise = "decimal" }

[user]
customer_code = { column = "E-posta", normalise = "email" }
email = { column = "E-posta", normalise = "email" }
first_name = { value = "Ada" }
last_name = { value = "Kaya" }
sms_allowed = { value = false }
email_allowed = { value = false }
date_joined = { column = "Tarih", normalise = "date", pick = "min" }

[values.status]
"Onaylandı" = "400"
"""
SMALL_HEADER = ["No", "Tarih", "E-posta", "SKU", "Adet", "Fiyat", "Toplam", "Durum", "Adres"]


def small_row(no: str, **cells: str) -> list[str]:
    row = {
        "No": no,
        "Tarih": "31.12.2023 14:05",
        "E-posta": "ada@example.com",
        "SKU": "S1",
        "Adet": "1",
        "Fiyat": "10,00",
        "Toplam": "10,00",
        "Durum": "Onaylandı",
        "Adres": "Moda Cad. 1, Kadıköy, İstanbul",
    }
    row.update(cells)
    return [row[h] for h in SMALL_HEADER]


def run_small(tmp_path: Path, data: list[list[str]], mapping: str = SMALL, *extra: object) -> Result:
    source = write_csv(tmp_path / "export.csv", SMALL_HEADER, data)
    mapping_file = write_mapping(tmp_path, mapping)
    return transform(source, mapping_file, tmp_path / "out", "--password-policy", "unusable", *extra)


def test_clean_small_export_validates_without_errors(tmp_path: Path) -> None:
    two = {"Toplam": "20,00"}
    result = run_small(tmp_path, [small_row("1", **two), small_row("1", SKU="S2", **two), small_row("2")])
    assert result.exit_code == 0, result.stdout
    assert tally(result) == (3, 3, 0, 0)
    assert "validate on the written files: no errors, no warnings" in result.stdout


def test_value_missing_from_its_table_is_a_reject_naming_table_and_value(tmp_path: Path) -> None:
    result = run_small(tmp_path, [small_row("1"), small_row("2", Durum="Kayıp")])
    assert result.exit_code == 1
    assert tally(result) == (2, 1, 0, 1)
    reject = rows(tmp_path / "out" / "rejects.csv")[0]
    assert (reject["source_row"], reject["target_type"], reject["field"]) == ("3", "order", "status")
    assert all(s in reject["reason"] for s in ('"Kayıp"', "[values.status]", '"Durum"', "--map status:"))


def test_value_tables_ignore_turkish_case(tmp_path: Path) -> None:
    result = run_small(tmp_path, [small_row("1", Durum="ONAYLANDI"), small_row("2", Durum="onaylandı")])
    assert result.exit_code == 0, result.stdout
    assert [o["status"] for o in rows(tmp_path / "out" / "order.csv")] == ["400", "400"]
    mapping = SMALL.replace('"Onaylandı" = "400"', '"İptal Edildi" = "100"')
    result = run_small(tmp_path, [small_row("1", Durum="İPTAL EDİLDİ"), small_row("2", Durum="iptal edildi")], mapping)
    assert result.exit_code == 0, result.stdout
    assert [o["status"] for o in rows(tmp_path / "out" / "order.csv")] == ["100", "100"]


def test_map_flag_adds_a_value_table_entry(tmp_path: Path) -> None:
    result = run_small(tmp_path, [small_row("2", Durum="Kayıp")], SMALL, "--map", "status:Kayıp=100")
    assert result.exit_code == 0, result.stdout
    assert rows(tmp_path / "out" / "order.csv")[0]["status"] == "100"


def test_ambiguous_date_without_date_order_is_a_reject_not_a_guess(tmp_path: Path) -> None:
    result = run_small(tmp_path, [small_row("1", Tarih="01/02/2023 10:00")])
    assert tally(result) == (1, 0, 0, 1)
    reason = rows(tmp_path / "out" / "rejects.csv")[0]["reason"]
    assert "ambiguous" in reason and '"Tarih"' in reason
    dmy = SMALL.replace('decimal_separator = ","', 'decimal_separator = ","\ndate_order = "dmy"')
    result = run_small(tmp_path, [small_row("1", Tarih="01/02/2023 10:00")], dmy)
    assert tally(result) == (1, 1, 0, 0)
    assert rows(tmp_path / "out" / "order.csv")[0]["created_date"] == "2023-02-01T10:00:00"


def test_a_bad_item_rejects_only_that_item(tmp_path: Path) -> None:
    """Scoped rejection: an unreadable price costs its line, never the order (its parent) or the other lines."""
    result = run_small(tmp_path, [small_row("1"), small_row("1", SKU="S2", Fiyat="on lira"), small_row("2")])
    assert tally(result) == (3, 2, 0, 1)
    [reject] = rows(tmp_path / "out" / "rejects.csv")
    assert (reject["source_row"], reject["target_type"], reject["record"], reject["field"]) == (
        "3",
        "order_item",
        "item of order 1",
        "price",
    )
    assert '"on lira"' in reject["reason"]
    assert [o["number"] for o in rows(tmp_path / "out" / "order.csv")] == ["1", "2"]


def test_an_unreadable_order_date_costs_the_order_not_its_buyer(tmp_path: Path) -> None:
    """The issue's example: a buyer whose only order date is 30.02.2024 is kept, joined on the migration
    date (a change line says so); the order and its line are rejected, each with one line naming why."""
    result = run_small(tmp_path, [small_row("1", Tarih="30.02.2024"), small_row("2", **{"E-posta": "b@example.com"})])
    out = tmp_path / "out"
    assert "orders: 2 seen = 1 written + 0 merged + 1 rejected" in result.stdout
    assert "users: 2 seen = 2 written + 0 merged + 0 rejected" in result.stdout
    order, item = rows(out / "rejects.csv")
    assert (order["record"], order["field"]) == ("order 1", "created_date")
    assert item["reason"] == f"its order 1 was rejected: {order['reason']}"
    users = by(rows(out / "user.csv"), "email")
    assert users["ada@example.com"]["date_joined"] == core.migration_date()
    changes = {(c["record"], c["code"]): c for c in rows(out / "changes.csv")}
    assert changes[("user ada@example.com", "date-joined-fallback")]["after"] == core.migration_date()
    assert changes[("user ada@example.com", "value-skipped")]["before"] == "30.02.2024"


def test_pick_sum_adds_line_totals_into_the_order_amount(tmp_path: Path) -> None:
    mapping = SMALL.replace(
        'amount = { column = "Toplam", normalise = "decimal" }',
        'amount = { column = "Toplam", normalise = "decimal", pick = "sum" }',
    )
    result = run_small(tmp_path, [small_row("1", Toplam="1.000,50"), small_row("1", SKU="S2", Toplam="2,25")], mapping)
    assert result.exit_code == 0, result.stdout
    assert rows(tmp_path / "out" / "order.csv")[0]["amount"] == "1002.75"


def test_order_only_mapping_merges_the_other_rows_of_an_order(tmp_path: Path) -> None:
    mapping = SMALL[: SMALL.index("[order_item]")] + SMALL[SMALL.index("[user]") :]
    result = run_small(tmp_path, [small_row("1"), small_row("1", SKU="S2"), small_row("2")], mapping)
    assert tally(result) == (3, 2, 1, 0)


def test_empty_cells_of_repeated_order_columns_do_not_conflict(tmp_path: Path) -> None:
    result = run_small(tmp_path, [small_row("1"), small_row("1", SKU="S2", Toplam="", Durum="")])
    assert result.exit_code == 0, result.stdout
    assert rows(tmp_path / "out" / "order.csv")[0]["amount"] == "10.00"


def test_unmapped_required_field_is_reported_as_cannot_fill(tmp_path: Path) -> None:
    mapping = SMALL.replace('bank = { value = "Akbank" }\n', "")
    result = run_small(tmp_path, [small_row("1")], mapping)
    assert "order.bank: not mapped in m.toml" in result.stdout
    assert validate_errors(tmp_path / "out") == {("order", "bank")}


def test_header_spacing_differences_still_match(tmp_path: Path) -> None:
    header = [f" {h}  " if h == "Toplam" else h for h in SMALL_HEADER]
    source = write_csv(tmp_path / "export.csv", header, [small_row("1")])
    result = transform(source, write_mapping(tmp_path, SMALL), tmp_path / "out", "--password-policy", "unusable")
    assert result.exit_code == 0, result.stdout


# --------------------------------------------------------------------------- mapping errors: exit 2, one line


def test_mapping_source_without_mapping_file(tmp_path: Path) -> None:
    cannot_run(transform(ORDERS, None, tmp_path), "needs --mapping FILE")


def test_missing_mapping_file(tmp_path: Path) -> None:
    cannot_run(transform(ORDERS, tmp_path / "nope.toml", tmp_path / "out"), "nope.toml", "mapping file not found")


def test_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, '[order]\nnumber = "Sipariş No"\namount = { column = "Toplam Tutar"\n')
    cannot_run(transform(ORDERS, mapping, tmp_path / "out"), "m.toml", "not valid TOML", "line 3")


def test_field_given_twice_is_a_toml_error_with_its_line(tmp_path: Path) -> None:
    mapping = write_mapping(tmp_path, '[order]\nnumber = "Sipariş No"\n\nnumber = "Stok Kodu"\n')
    cannot_run(transform(ORDERS, mapping, tmp_path / "out"), "m.toml", "line 4")


def error_for(tmp_path: Path, text: str, source: Path = ORDERS) -> str:
    return cannot_run(transform(source, write_mapping(tmp_path, text), tmp_path / "out"))


def test_unknown_target_field_lists_the_valid_ones(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('\nnumber = "Sipariş No"', '\nnumbr = "Sipariş No"')
    message = error_for(tmp_path, text)
    assert f"m.toml line {line_of(text, 'numbr =')}" in message
    assert "[order] has no field 'numbr'" in message and 'did you mean "number"' in message
    assert "its fields are number, user, user_email" in message


def test_unknown_column_is_named_with_the_closest_header(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('"Toplam Tutar"', '"Toplam Tutarı"')
    message = error_for(tmp_path, text)
    assert f"line {line_of(text, 'Toplam Tutarı')}" in message
    assert 'column "Toplam Tutarı" is not in the header of' in message and "siparisler.csv" in message
    assert 'did you mean "Toplam Tutar"?' in message


def test_unknown_column_without_a_close_header_lists_the_header(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('product = "Ürün Adı"', 'product = "Xyzzy"')
    message = error_for(tmp_path, text)
    assert 'column "Xyzzy"' in message and "its columns are Sipariş No, Sipariş Tarihi" in message


def test_unknown_group_by_column(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('group_by = "Sipariş No"', 'group_by = "Siparis No"')
    message = error_for(tmp_path, text)
    assert f"line {line_of(text, 'group_by =')}" in message and 'did you mean "Sipariş No"' in message


def test_unknown_normaliser(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('normalise = "decimal" }', 'normalise = "decimals" }', 1)
    message = error_for(tmp_path, text)
    assert f"line {line_of(text, 'decimals')}" in message
    assert "unknown normaliser 'decimals'" in message and 'did you mean "decimal"' in message
    assert "name-first, name-last" in message


def test_unknown_value_table(tmp_path: Path) -> None:
    text = TURKISH.read_text(encoding="utf-8").replace('Durumu", values = "status"', 'Durumu", values = "statuses"')
    message = error_for(tmp_path, text)
    assert f"line {line_of(text, 'statuses')}" in message
    assert "no value table 'statuses'" in message and "[values.status]" in message


@pytest.mark.parametrize(
    ("field", "needle"),
    [
        ('number = { column = "Sipariş No", value = "1" }', "exactly one of column, columns, json, value, field"),
        ('number = { colum = "Sipariş No" }', "unknown key 'colum'"),
        ('number = { column = "Sipariş No", on_error = "skip" }', "on_error must be reject"),
        ('number = { column = "Sipariş No", pick = "avg" }', "pick must be one of"),
        ('number = { field = "user.phone" }', "which the mapping does not map"),
        ('number = { value = "1", normalise = "text" }', "normalise does not apply to a value"),
        ("number = 5", "must be a column name"),
    ],
)
def test_bad_field_tables(tmp_path: Path, field: str, needle: str) -> None:
    text = f"[order]\n{field}\n"
    message = error_for(tmp_path, text)
    assert "m.toml line 2" in message and needle in message


@pytest.mark.parametrize(
    ("source", "needle"),
    [
        ('date_order = "ymd"', "date_order must be dmy"),
        ('decimal_separator = "_"', 'decimal_separator must be "," or "."'),
        ('timezone = "Mars/Olympus"', "unknown timezone"),
        ('encoding = "koi8-r"', "cannot be read"),
        ('locale = "tr_TR"', "[source] has no option 'locale'"),
    ],
)
def test_bad_source_options(tmp_path: Path, source: str, needle: str) -> None:
    message = error_for(tmp_path, f'[source]\n{source}\n\n[order]\nnumber = "Sipariş No"\n')
    assert "m.toml line 2" in message and needle in message


def test_encoding_stated_wrongly_is_an_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[source]\nencoding = "utf-8"\n\n[order]\nnumber = "Sipariş No"\n')
    assert "not UTF-8" in message


def test_delimiter_stated_wrongly_is_an_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[source]\ndelimiter = ","\n\n[order]\nnumber = "Sipariş No"\n')
    assert "m.toml line 2" in message and "delimiter ','" in message


def test_mapping_without_target_tables(tmp_path: Path) -> None:
    assert "feeds no target type" in error_for(tmp_path, '[source]\ndate_order = "dmy"\n')


def test_unknown_table(tmp_path: Path) -> None:
    assert "unknown table [orders]" in error_for(tmp_path, '[orders]\nnumber = "Sipariş No"\n')


def test_the_shipped_mappings_are_package_data() -> None:
    from importlib.resources import files

    names = {p.name for p in files("omnimig.transforms").joinpath("mappings").iterdir()}
    assert {"turkish-platform.toml", "customers.toml"} <= names


# --------------------------------------------------------------------------- properties

STATUSES = ["Onaylandı", "Kargoya Verildi", "Teslim Edildi", "Hazırlanıyor"]
NAMES = ["Ayşe Nur Kaya", "Mehmet Öztürk", "İsmail Işık", "Gülşen Çağlar", "Ali Veli"]
CITIES = [("İstanbul", "Kadıköy"), ("Ankara", "Çankaya"), ("İzmir", "Karşıyaka"), ("Muğla", "Ölüdeniz")]


def turkish_amount(value: Decimal) -> str:
    return f"{value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)
item = st.tuples(st.integers(1, 5), money)


@st.composite
def order_rows(draw: Any, clean: bool) -> tuple[list[list[str]], Decimal]:
    """One order: 1-4 line-item rows repeating the order columns; ``clean=False`` may plant trouble."""
    n = draw(st.integers(1, 99999))
    name = draw(st.sampled_from(NAMES))
    email = name.split()[0].lower().replace("ş", "s").replace("ı", "i").replace("i̇", "i") + "@example.com"
    city, township = draw(st.sampled_from(CITIES))
    items = draw(st.lists(item, min_size=1, max_size=4))
    total = sum((q * p for q, p in items), Decimal(0))
    day, hour = draw(st.integers(1, 28)), draw(st.integers(0, 23))
    common = {
        "Sipariş No": f"SP{n}",
        "Sipariş Tarihi": f"{day:02d}.03.2024 {hour:02d}:30",
        "Müşteri Adı Soyadı": name,
        "E-posta": email,
        "Telefon": "0532 123 45 67",
        "Toplam Tutar": turkish_amount(total),
        "Para Birimi": "TL",
        "Sipariş Durumu": draw(st.sampled_from(STATUSES)),
        "Ödeme Tipi": "Kredi Kartı",
        "Banka": "Akbank",
        "Taksit": "Tek Çekim",
        "Kargo Firması": "Aras Kargo",
        "Kargo Takip No": f"AR{n}",
        "Teslimat Adresi": "Moda Cad. No:1\nDaire 2",
        "Teslimat İl": city,
        "Teslimat İlçe": township,
        "Fatura Adresi": f"Moda Cad. No:1, {township}/{city}",
    }
    out = []
    for k, (quantity, price) in enumerate(items, start=1):
        row = {**common, "Ürün Adı": f"Ürün {k}", "Stok Kodu": f"SKU-{k}", "Adet": str(quantity)}
        row["Birim Fiyat"] = turkish_amount(price)
        if not clean:
            trouble = draw(st.sampled_from(["none", "none", "conflict", "status", "amount", "email", "date"]))
            if trouble == "conflict":
                row["Toplam Tutar"] = turkish_amount(total + 1)
            elif trouble == "status":
                row["Sipariş Durumu"] = "Bilinmiyor"
            elif trouble == "amount":
                row["Birim Fiyat"] = "on iki"
            elif trouble == "email":
                row["E-posta"] = ""
            elif trouble == "date":
                row["Sipariş Tarihi"] = "31.02.2024 10:00"
        out.append([row[h] for h in HEADER])
    return out, total


def export(draw_orders: list[tuple[list[list[str]], Decimal]], folder: Path) -> tuple[Path, int]:
    seen: set[str] = set()
    data = []
    for order, _ in draw_orders:
        if order[0][0] in seen:
            continue  # an order number drawn twice would be one order with conflicting rows
        seen.add(order[0][0])
        data += order
    return write_csv(folder / "siparisler.csv", HEADER, data, encoding="cp1254"), len(data)


SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(st.lists(order_rows(clean=False), min_size=1, max_size=6))
def test_every_generated_row_is_written_merged_or_rejected(orders: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, count = export(orders, Path(tmp))
        result = transform(source, TURKISH, Path(tmp) / "out")
        assert result.exit_code in (0, 1), result.output
        read, written, merged, rejected = tally(result)
        assert read == count == written + merged + rejected
        # a rejected row has a reason; a written row may have one too (a user it fed was refused)
        rejected_rows = {r["source_row"] for r in rows(Path(tmp) / "out" / "rejects.csv")}
        assert len(rejected_rows) >= rejected


@SETTINGS
@given(st.lists(order_rows(clean=True), min_size=1, max_size=6))
def test_clean_generated_export_validates_except_cannot_fill(orders: list[Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        source, count = export(orders, Path(tmp))
        out = Path(tmp) / "out"
        result = transform(source, TURKISH, out, "--password-policy", "unusable")
        assert tally(result) == (count, count, 0, 0), result.stdout
        assert result.exit_code == 0
        assert validate_errors(out) <= {("user", "sms_allowed"), ("user", "email_allowed")}
        amounts = {o["number"]: Decimal(o["amount"]) for o in rows(out / "order.csv")}
        firsts: dict[str, Decimal] = {}
        for order, total in orders:
            firsts.setdefault(order[0][0], total)  # export() keeps the first order drawn with a number
        for number, amount in amounts.items():
            assert amount == firsts[number]


def test_pick_min_and_max_compare_values_not_text() -> None:
    from omnimig.transforms.mapping import _combine

    assert _combine("max", ["9.50", "10.00"]) == "10.00"
    assert _combine("min", ["2024-01-01T10:00:00+03:00", "2024-01-01T08:30:00+01:00"]) == "2024-01-01T10:00:00+03:00"
    assert _combine("min", ["", "b", "a"]) == "a"


def test_a_currency_written_in_the_amount_fills_or_must_match_the_currency(tmp_path: Path) -> None:
    data = write_csv(
        tmp_path / "o.csv",
        ["No", "Tutar", "Birim"],
        [["1", "€389,50", ""], ["2", "₺1.234,56", "TL"], ["3", "€5,00", "TL"]],
    )
    mapping = write_mapping(
        tmp_path,
        '[source]\ndecimal_separator = ","\n[values.currency]\nTL = "TRY"\n'
        '[order]\nnumber = "No"\namount = { column = "Tutar", normalise = "decimal" }\n'
        'currency = { column = "Birim", values = "currency" }\n',
    )
    result = transform(data, mapping, tmp_path / "out")
    orders = by(rows(tmp_path / "out/order.csv"), "number")
    assert (orders["1"]["amount"], orders["1"]["currency"]) == ("389.50", "EUR")
    assert (orders["2"]["amount"], orders["2"]["currency"]) == ("1234.56", "TRY")
    [reject] = rows(tmp_path / "out/rejects.csv")
    assert reject["source_row"] == "4" and "is in EUR, but the order's currency is TRY" in reject["reason"]
    assert result.exit_code == 1


# --------------------------------------------------------------------------- scoped rejection, found in review


def test_the_same_order_in_two_exports_is_merged_not_doubled(tmp_path: Path) -> None:
    """Overlapping date-range exports: an order in both files is one order with its lines once."""
    rows_ = [small_row("1", Toplam="20,00"), small_row("1", SKU="S2", Toplam="20,00")]
    first = write_csv(tmp_path / "jan.csv", SMALL_HEADER, rows_)
    second = write_csv(tmp_path / "feb.csv", SMALL_HEADER, rows_)
    result = transform(
        [first, second], write_mapping(tmp_path, SMALL), tmp_path / "out", "--password-policy", "unusable"
    )
    assert "orders: 2 seen = 1 written + 1 merged + 0 rejected" in result.stdout
    assert "order items: 4 seen = 2 written + 2 merged + 0 rejected" in result.stdout
    assert [i["sku"] for i in rows(tmp_path / "out" / "order_item.csv")] == ["S1", "S2"]


def test_an_item_in_another_currency_costs_that_line_not_the_order(tmp_path: Path) -> None:
    result = run_small(
        tmp_path, [small_row("1", Toplam="20,00"), small_row("1", SKU="S2", Fiyat="10,00 USD", Toplam="20,00")]
    )
    assert "orders: 1 seen = 1 written + 0 merged + 0 rejected" in result.stdout
    [reject] = rows(tmp_path / "out" / "rejects.csv")
    assert (reject["record"], reject["field"]) == ("item of order 1", "price")
    assert "is in USD, but the order's currency is TRY" in reject["reason"]


def test_an_order_names_its_buyer_as_the_user_record_spells_it(tmp_path: Path) -> None:
    """Users match like emails (Ada@ = ada@): the second order must point at the written user, not dangle."""
    raw = SMALL.replace('customer_code = { column = "E-posta", normalise = "email" }', 'customer_code = "E-posta"')
    result = run_small(tmp_path, [small_row("1"), small_row("2", **{"E-posta": "Ada@example.com"})], raw)
    assert result.exit_code == 0, result.stdout
    [user] = rows(tmp_path / "out" / "user.csv")
    assert {o["user"] for o in rows(tmp_path / "out" / "order.csv")} == {user["customer_code"]}
    assert "validate on the written files: no errors" in result.stdout


def test_a_mapping_default_for_date_joined_is_the_fallback(tmp_path: Path) -> None:
    with_default = SMALL.replace(
        'date_joined = { column = "Tarih", normalise = "date", pick = "min" }',
        'date_joined = { column = "Tarih", normalise = "date", pick = "min", default = "2020-01-01T00:00:00+03:00" }',
    )
    run_small(tmp_path, [small_row("1", Tarih="30.02.2024")], with_default)
    [user] = rows(tmp_path / "out" / "user.csv")
    assert user["date_joined"] == "2020-01-01T00:00:00+03:00"
    assert "date-joined-fallback" not in {c["code"] for c in rows(tmp_path / "out" / "changes.csv")}


def test_a_date_only_value_is_local_to_the_source_timezone_when_picking_the_earliest(tmp_path: Path) -> None:
    """01.01.2022 (midnight Istanbul) is earlier than 01.01.2022 01:00 (+03:00): not compared as UTC."""
    zoned = SMALL.replace("[source]\n", '[source]\ntimezone = "Europe/Istanbul"\ndate_order = "dmy"\n')
    run_small(tmp_path, [small_row("1", Tarih="01.01.2022 01:00"), small_row("2", Tarih="01.01.2022")], zoned)
    [user] = rows(tmp_path / "out" / "user.csv")
    assert user["date_joined"].startswith("2022-01-01T00:00:00"), user["date_joined"]


def test_an_item_without_sku_is_written_and_listed_as_sku_empty(tmp_path: Path) -> None:
    """The issue's answer key: an item without SKU is accepted but reported, as Shopify's source does."""
    rows_ = [small_row("1", Toplam="20,00"), small_row("1", SKU="", Toplam="20,00")]
    data = write_csv(tmp_path / "orders.csv", SMALL_HEADER, rows_)
    result = transform(data, write_mapping(tmp_path, SMALL), tmp_path / "out", "--password-policy", "unusable")
    items = rows(tmp_path / "out" / "order_item.csv")
    assert sorted(i["sku"] for i in items) == ["", "S1"]
    changes = [c for c in rows(tmp_path / "out" / "changes.csv") if c["code"] == "sku-empty"]
    assert [(c["source_row"], c["target_type"], c["field"]) for c in changes] == [("3", "order_item", "sku")]
    assert "1 sku-empty" in result.stdout
