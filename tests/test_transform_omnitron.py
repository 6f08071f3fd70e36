"""omnitron-orders: Omnitron's orders API JSON into a bundle, every order and order line accounted for."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.transforms.finish import Options
from omnimig.transforms.run import transform
from omnimig.transforms.settings import Settings
from omnimig.validation.run import validate_paths

DATA = Path(__file__).parent / "data" / "transform" / "omnitron"
runner = CliRunner()


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["transform", "omnitron-orders", *args])
    return result.exit_code, result.output


def test_fixture_counts_add_up_and_rejects_say_why(tmp_path: Path) -> None:
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path))
    assert code == 1, out  # an order without email is rejected
    assert "4 orders read = 3 written + 0 merged + 1 rejected" in out
    # 7 lines: order 1 has 2 units of one SKU (1 merged), order 3 has 2 units (1 merged), order 4's line is rejected.
    assert "7 order lines read = 4 written + 2 merged + 1 rejected" in out
    rejects = rows(tmp_path / "rejects.csv")
    assert [(r["source_row"], r["source_line"], r["target_type"]) for r in rejects] == [
        ("4", "", "order"),
        ("4", "1", "order_item"),
    ]
    assert "no email" in rejects[0]["reason"] and "user_email" in rejects[0]["reason"]


def test_units_of_one_sku_and_price_fold_into_one_item(tmp_path: Path) -> None:
    run(str(DATA / "orders.json"), "--out", str(tmp_path))
    items = rows(tmp_path / "order_item.csv")
    first = [(i["sku"], i["quantity"], i["price"]) for i in items if i["order_number"] == "1055565228112825"]
    assert first == [("1185185001", "2", "100.00"), ("1081448001", "1", "100.00")]
    assert json.loads(items[0]["extra_field"])["omnitron"]["ids"] == [1, 2]


def test_users_and_addresses_come_from_customers_and_address_objects(tmp_path: Path) -> None:
    run(str(DATA / "orders.json"), "--out", str(tmp_path))
    users = rows(tmp_path / "user.csv")
    assert [u["customer_code"] for u in users] == ["ayse.yilmaz@example.com", "ismail.isik@example.com"]
    assert users[0]["phone"] == "5321234567"
    assert users[1]["phone"] == ""  # a landline is not a user phone: dropped with a warning
    assert users[0]["date_joined"] == "2023-06-17T13:35:47.026886+00:00"  # the first order's date
    warnings = rows(tmp_path / "changes.csv")
    assert any(w["code"] == "phone-dropped" and "0212" in w["message"] for w in warnings)
    addresses = rows(tmp_path / "address.csv")
    # Ayşe's shipping address repeats on two orders and is written once; her billing address differs.
    assert [(a["user"], a["title"], a["city"]) for a in addresses] == [
        ("ayse.yilmaz@example.com", "Ev", "İSTANBUL"),
        ("ayse.yilmaz@example.com", "İş", "ANKARA"),
        ("ismail.isik@example.com", "Ev", "İSTANBUL"),
    ]
    order = rows(tmp_path / "order.csv")[0]
    assert order["shipping_address"].startswith("Ayşe Yılmaz, Caferağa Mah. Moda Cad. No:5 D:3, CAFERAĞA, KADIKÖY")
    assert order["currency"] == "TRY"


def test_cargo_company_ids_are_mapped_or_fall_back_to_the_items(tmp_path: Path) -> None:
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path))
    assert code == 1  # order 4 has no email
    assert "used the items' shipping_company for 2 orders (ids 1, 7)" in out
    assert [o["shipping_company"] for o in rows(tmp_path / "order.csv")] == ["yurtici", "", "aras"]
    mapped = tmp_path / "mapped"
    run(str(DATA / "orders.json"), "--out", str(mapped), "--map", "shipping_company:1=mng")
    assert rows(mapped / "order.csv")[0]["shipping_company"] == "mng"


def test_written_bundle_validates_except_what_the_api_cannot_fill(tmp_path: Path) -> None:
    code, out = run(
        str(DATA / "orders.json"),
        "--out",
        str(tmp_path),
        "--default",
        "order.bank=Garanti BBVA",
        "--default",
        "user.sms_allowed=false",
        "--default",
        "user.email_allowed=false",
        "--default",
        "order.tracking_number=-",
        "--default",
        "order.shipping_company=other",
        "--password-policy",
        "unusable",
    )
    assert code == 1  # order 4 has no email
    assert "validate on the written files: no errors, no warnings" in out, out
    validation = validate_paths([tmp_path / f"{t}.csv" for t in ("user", "address", "order", "order_item")])
    assert not any(p.severity == "error" for r in validation.results for p in r.problems)
    assert all(u["password"].startswith("!") and len(u["password"]) == 41 for u in rows(tmp_path / "user.csv"))


def test_without_defaults_validation_names_the_empty_fields(tmp_path: Path) -> None:
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path))
    assert code == 1
    assert "user.password: the orders API carries no password hash" in out
    assert "error user.password required ×2" in out
    assert "error order.bank required ×3" in out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_same_input_gives_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    outputs = []
    for n in (1, 2):
        out = tmp_path / str(n)
        run(str(DATA / "orders.json"), "--out", str(out), "--format", fmt)
        outputs.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert outputs[0] == outputs[1]
    assert f"order.{fmt}" in outputs[0]


def test_json_output_keeps_types(tmp_path: Path) -> None:
    run(str(DATA / "orders.json"), "--out", str(tmp_path), "--format", "json")
    order = json.loads((tmp_path / "order.json").read_text(encoding="utf-8"))[0]
    assert order["amount"] == 307.0 and order["installment_count"] == 1
    assert isinstance(order["extra_field"], dict)


def test_json_lines_and_pages_give_the_same_bundle(tmp_path: Path) -> None:
    run(str(DATA / "orders.json"), "--out", str(tmp_path / "a"))
    run(str(DATA / "orders.jsonl"), "--out", str(tmp_path / "b"))
    for name in ("user.csv", "address.csv", "order.csv", "order_item.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("{not json", "not valid JSON at line 1"),
        ('{"a": 1}', "neither results nor number"),
        ("[1, 2]", "found int where an order"),
        ('{"number": 1}\n{oops', "JSON Lines: line 2"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(content, encoding="utf-8")
    code, out = run(str(path), "--out", str(tmp_path / "out"))
    assert code == 2
    assert expected in out and "Traceback" not in out
    assert len(out.strip().splitlines()) == 1


def test_missing_input_and_bad_options_exit_2(tmp_path: Path) -> None:
    code, out = run(str(tmp_path / "nope.json"), "--out", str(tmp_path))
    assert code == 2 and "no such file" in out
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path), "--default", "order.nonsense=1")
    assert code == 2 and "order has no field 'nonsense'" in out
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path), "--option", "customer_code_from=shoe")
    assert code == 2 and "customer_code_from" in out


def test_unknown_source_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["transform", "woo", str(DATA / "orders.json"), "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_too_long_address_is_rejected_not_cut_unless_truncate(tmp_path: Path) -> None:
    data = json.loads((DATA / "orders.json").read_text(encoding="utf-8"))
    data[0]["results"][0]["shipping_address"]["line"] = "Uzun Sokak " * 60
    path = tmp_path / "long.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    code, _ = run(str(path), "--out", str(tmp_path / "a"))
    assert code == 1
    reasons = {(r["source_row"], r["target_type"], r["field"]): r["reason"] for r in rows(tmp_path / "a/rejects.csv")}
    assert "at most 512" in reasons[("1", "order", "shipping_address")]
    assert "at most 255" in reasons[("1", "address", "line")]
    assert ("1", "order_item", "") in reasons  # the order's items follow it
    assert "1055565228112825" not in (tmp_path / "a/order.csv").read_text(encoding="utf-8")
    code, out = run(str(path), "--out", str(tmp_path / "b"), "--truncate")
    assert code == 1 and "2 truncated" in out
    assert "1055565228112825" in (tmp_path / "b/order.csv").read_text(encoding="utf-8")
    cuts = [w for w in rows(tmp_path / "b/changes.csv") if w["code"] == "truncated"]
    assert {w["field"] for w in cuts} == {"shipping_address", "line"}


def _order(n: int, email: str | None, units: list[tuple[str, str]]) -> dict:
    return {
        "number": str(1000 + n),
        "status": "550",
        "date_placed": "2023-01-02T03:04:05Z",
        "customer": {"email": email, "first_name": "Ad", "last_name": "Soyad", "phone_number": None},
        "shipping_address": None,
        "billing_address": None,
        "currency": "try",
        "amount": "10.00",
        "discount_amount": "0.00",
        "payment_option_slug": "credit_card",
        "cargo_company": None,
        "tracking_number": "T1",
        "orderitem_set": [
            {"id": k, "product_sku": sku, "price": price, "shipping_company": "yurtici"}
            for k, (sku, price) in enumerate(units)
        ],
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    orders=st.lists(
        st.tuples(
            st.sampled_from([None, "a@example.com", "B@example.com", "c@example.com"]),
            st.lists(st.tuples(st.sampled_from(["S1", "S2"]), st.sampled_from(["1.00", "2.50", "1.005"])), max_size=5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_no_order_or_line_is_lost(tmp_path_factory: pytest.TempPathFactory, orders: list) -> None:
    folder = tmp_path_factory.mktemp("omni")
    path = folder / "orders.json"
    path.write_text(json.dumps([_order(n, e, u) for n, (e, u) in enumerate(orders)]), encoding="utf-8")
    result = transform("omnitron-orders", [path], folder / "out", "csv", Settings(), Options())
    assert result.adds_up
    by_unit = {t.unit: t for t in result.tallies}
    assert by_unit["order"].read == len(orders)
    assert by_unit.get("order line") is None or by_unit["order line"].read == sum(len(u) for _, u in orders)
    lines_read = sum(len(u) for _, u in orders)
    items = rows(folder / "out/order_item.csv") if (folder / "out/order_item.csv").exists() else []
    # Every written line is in exactly one item's quantity.
    written_units = sum(int(i["quantity"]) for i in items)
    rejected_lines = sum(1 for r in result.rejects for o in r.all_rows() if o.unit == "order line")
    assert written_units + rejected_lines == lines_read
    assert not any(r.reason == "no record was made from this row" for r in result.rejects)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    orders=st.lists(
        st.tuples(
            st.sampled_from(["a@example.com", "B@Example.com", "çağla@example.com"]),
            st.lists(
                st.tuples(st.sampled_from(["S1", "S2", "0042"]), st.decimals("0.01", "9999.99", places=2)),
                min_size=1,
                max_size=4,
            ),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_clean_input_transforms_into_a_bundle_that_validates(tmp_path_factory: pytest.TempPathFactory, orders) -> None:
    folder = tmp_path_factory.mktemp("clean")
    data = []
    for n, (email, units) in enumerate(orders):
        o = _order(n, email, [(sku, str(price)) for sku, price in units])
        o["amount"] = str(sum(price for _, price in units))
        o["shipping_address"] = o["billing_address"] = {
            "first_name": "Ad",
            "last_name": "Soyad",
            "line": "Moda Cad. 5",
            "country": {"name": "Türkiye"},
            "city": {"name": "İSTANBUL"},
            "township": {"name": "KADIKÖY"},
            "district": None,
            "email": email.lower(),
        }
        data.append(o)
    path = folder / "orders.json"
    path.write_text(json.dumps({"count": len(data), "results": data}, ensure_ascii=False), encoding="utf-8")
    defaults = {("order", "bank"): "-", ("user", "sms_allowed"): "false", ("user", "email_allowed"): "false"}
    result = transform(
        "omnitron-orders", [path], folder / "out", "json", Settings(), Options(defaults, password_policy="unusable")
    )
    assert result.rejects == [] and result.adds_up
    assert result.validation_errors == 0 and result.validation_warnings == 0, result.lines()


def test_the_same_orders_exported_twice_are_merged_with_their_lines(tmp_path: Path) -> None:
    code, out = run(str(DATA / "orders.json"), str(DATA / "orders.jsonl"), "--out", str(tmp_path))
    assert code == 1
    assert "orders.jsonl: 4 orders read = 0 written + 3 merged + 1 rejected" in out
    assert "orders.jsonl: 7 order lines read = 0 written + 6 merged + 1 rejected" in out
    items = rows(tmp_path / "order_item.csv")
    assert len(items) == 4 and sum(int(i["quantity"]) for i in items) == 6


def test_order_lines_that_are_not_objects_are_rejected_in_place(tmp_path: Path) -> None:
    orders = [_order(1, "a@example.com", [("S1", "1.00")]), _order(2, "a@example.com", [])]
    orders[0]["orderitem_set"].insert(0, 7)
    orders[1]["orderitem_set"] = 5
    path = tmp_path / "orders.json"
    path.write_text(json.dumps(orders), encoding="utf-8")
    code, out = run(str(path), "--out", str(tmp_path / "out"))
    assert code == 1 and "Traceback" not in out
    reasons = {(r["source_row"], r["source_line"]): r["reason"] for r in rows(tmp_path / "out/rejects.csv")}
    assert reasons[("1", "1")] == "order line 1 is int, not an object"
    assert reasons[("2", "")] == "orderitem_set is int, not a list of order lines"
    # no shipping address in this order
    assert reasons[("1", "2")] == "its order 1001 was rejected: shipping_address is required but empty"
    assert "2 order lines read = 0 written + 0 merged + 2 rejected" in out


def test_unknown_option_is_refused(tmp_path: Path) -> None:
    code, out = run(str(DATA / "orders.json"), "--out", str(tmp_path), "--option", "customer_code_form=id")
    assert code == 2 and "unknown option 'customer_code_form'" in out
