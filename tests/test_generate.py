"""`omnimig samples`: generated bundles are valid, consistent, deterministic and carry edge values."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.samples.generate import generate
from omnimig.validate.bundle import check_bundle
from omnimig.validate.rules import default_choices, table_rules
from omnimig.validate.run import collect_targets, validate_file

TYPES = ("user", "address", "order", "order_item")


def problems_of(folder: Path) -> list[tuple[str, int | None, str | None, str]]:
    targets, _ = collect_targets([folder], None)
    results = [validate_file(t, default_choices()) for t in targets]
    check_bundle(results, require_all=True)
    return [(Path(p.file).name, p.row, p.field, p.rule) for r in results for p in r.problems]


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_generated_bundle_has_no_problems_in_any_format(tmp_path: Path, fmt: str) -> None:
    written = generate(tmp_path, orders=40, fmt=fmt, seed=5)
    assert sorted(written.paths) == sorted(TYPES)
    assert written.rows["order"] == 40
    assert problems_of(tmp_path) == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), orders=st.integers(1, 30))
def test_any_seed_gives_a_bundle_without_problems(
    tmp_path_factory: pytest.TempPathFactory, seed: int, orders: int
) -> None:
    folder = tmp_path_factory.mktemp("gen")
    generate(folder, orders=orders, fmt="csv", seed=seed)
    assert problems_of(folder) == []


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_same_seed_gives_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    a = generate(tmp_path / "a", orders=25, fmt=fmt, seed=11)
    b = generate(tmp_path / "b", orders=25, fmt=fmt, seed=11)
    c = generate(tmp_path / "c", orders=25, fmt=fmt, seed=12)
    for t in TYPES:
        assert a.paths[t].read_bytes() == b.paths[t].read_bytes(), t
    assert a.paths["order"].read_bytes() != c.paths["order"].read_bytes()


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_edge_values_appear_on_purpose(tmp_path: Path) -> None:
    written = generate(tmp_path, orders=60, fmt="csv", seed=2)
    orders, items = read_csv(written.paths["order"]), read_csv(written.paths["order_item"])
    addresses = read_csv(written.paths["address"])
    users = read_csv(written.paths["user"])
    price = table_rules("order_item").field("price")
    largest = "9" * (price.max_digits - price.decimal_places) + "." + "9" * price.decimal_places
    assert largest in {i["price"] for i in items}
    assert "0.01" in {i["price"] for i in items}
    assert max(len(o["number"]) for o in orders) == table_rules("order").field("number").max_length
    assert max(len(i["product"]) for i in items) == table_rules("order_item").field("product").max_length
    assert any(i["sku"].startswith("0") for i in items)
    assert any(u["customer_code"].startswith("C0") for u in users)
    assert any("\n" in a["line"] and '"' in a["line"] for a in addresses)
    assert any("," in a["line"] for a in addresses)
    assert any(set("ğüşıöçİ") & set(u["first_name"] + u["last_name"]) for u in users)


def test_orders_agree_with_their_items_and_users(tmp_path: Path) -> None:
    written = generate(tmp_path, orders=50, fmt="csv", seed=9)
    users = {u["customer_code"]: u for u in read_csv(written.paths["user"])}
    totals: dict[str, int] = {}
    for i in read_csv(written.paths["order_item"]):
        cents = round(float(i["price"]) * 100) * int(i["quantity"])
        totals[i["order_number"]] = totals.get(i["order_number"], 0) + cents
        assert 1 <= int(i["quantity"]) <= 5
    orders = read_csv(written.paths["order"])
    assert 10 <= len(users) <= 20  # about a third of the orders
    for o in orders:
        discount = round(float(o["discount_amount"] or 0) * 100)
        assert round(float(o["amount"]) * 100) == totals[o["number"]] - discount
        assert users[o["user"]]["email"] == o["user_email"]
    counts = [sum(1 for i in read_csv(written.paths["order_item"]) if i["order_number"] == o["number"]) for o in orders]
    assert min(counts) >= 1 and max(counts) <= 5


def test_cli_writes_the_bundle_and_a_one_line_summary(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["samples", "--out", str(tmp_path / "s"), "--orders", "9", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1].startswith("wrote 3 user, ")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "address.json",
        "order.json",
        "order_item.json",
        "user.json",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--orders", "0"], "--orders"),
        (["--locale", "xx_XX"], "unknown --locale"),
        (["--customer", "C1"], "--customer goes with --test-set"),
    ],
)
def test_cli_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["samples", "--out", str(tmp_path / "s"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
