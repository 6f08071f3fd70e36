"""`omnimig samples`: generated bundles are valid, consistent, deterministic and carry edge values."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.sampling.defects import bundle_defects, field_defects
from omnimig.sampling.generate import generate
from omnimig.schemas.rules import default_choices, table_rules
from omnimig.validation.bundle import check_bundle
from omnimig.validation.run import collect_targets, validate_file, validate_paths

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
        (["--locale", "xx_XX"], "unknown locale 'xx_XX'"),
        (["--customer", "C1"], "--customer goes with --test-set"),
    ],
)
def test_cli_refuses_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["samples", "--out", str(tmp_path / "s"), *args])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- planted defects


def answer_key(folder: Path) -> set[tuple[str, int, str, str, str]]:
    doc = json.loads((folder / "expected_problems.json").read_text(encoding="utf-8"))
    return {(e["file"], e["row"], e["field"], e["rule"], e["severity"]) for e in doc}


def reported(folder: Path) -> set[tuple[str, int | None, str | None, str, str]]:
    run = validate_paths([folder])
    assert run.unreadable == []
    return {(Path(p.file).name, p.row, p.field, p.rule, p.severity) for r in run.results for p in r.problems}


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_validate_reports_exactly_the_planted_defects(tmp_path: Path, fmt: str) -> None:
    generate(tmp_path, orders=40, fmt=fmt, seed=21, invalid_rate=0.2)
    expected = answer_key(tmp_path)
    assert reported(tmp_path) == expected


def test_every_kind_of_defect_is_planted(tmp_path: Path) -> None:
    generate(tmp_path, orders=10, fmt="csv", seed=4, invalid_rate=0.01)
    planted = {(Path(f).stem, fld, rule) for f, _row, fld, rule, _sev in answer_key(tmp_path)}
    choices = default_choices()
    for type_name in TYPES:
        rules = table_rules(type_name)
        for field in rules.fields:
            for defect in field_defects(type_name, field, "1", choices):
                assert (type_name, field.name, defect.rule) in planted, (type_name, field.name, defect.rule)
    for defect in bundle_defects():
        assert (defect.type, defect.field, defect.rule) in planted, defect
    # and each field rule the schemas carry has a kind of defect
    assert {r for _t, _f, r in planted} >= {
        "required",
        "max-length",
        "pattern",
        "type",
        "min-value",
        "decimal-places",
        "max-digits",
        "json-object",
        "choices",
        "unique",
        "foreign-key",
        "email-mismatch",
        "order-without-items",
        "amount-below-items",
    }


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), rate=st.floats(0.001, 0.6), fmt=st.sampled_from(["csv", "json"]))
def test_answer_key_holds_for_any_seed_and_rate(
    tmp_path_factory: pytest.TempPathFactory, seed: int, rate: float, fmt: str
) -> None:
    folder = tmp_path_factory.mktemp("planted")
    generate(folder, orders=15, fmt=fmt, seed=seed, invalid_rate=rate)
    assert reported(folder) == answer_key(folder)


def test_planted_bundles_are_deterministic(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", orders=12, fmt="xlsx", seed=3, invalid_rate=0.1)
    b = generate(tmp_path / "b", orders=12, fmt="xlsx", seed=3, invalid_rate=0.1)
    for t in TYPES:
        assert a.paths[t].read_bytes() == b.paths[t].read_bytes()
    assert (tmp_path / "a" / "expected_problems.json").read_bytes() == (
        tmp_path / "b" / "expected_problems.json"
    ).read_bytes()


def test_samples_refuse_a_folder_holding_another_run_in_another_format(tmp_path: Path) -> None:
    """Two user files (csv and xlsx) would be read as one bundle of duplicates: refuse, delete nothing."""
    out = tmp_path / "demo"
    assert CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3"]).exit_code == 0
    result = CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3", "--format", "json"])
    assert result.exit_code == 2
    assert "another format than this run's json" in result.output and str(out / "user.csv") in result.output
    assert sorted(p.name for p in out.iterdir()) == ["address.csv", "order.csv", "order_item.csv", "user.csv"]
    again = CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3"])
    assert again.exit_code == 0  # the same format replaces its own files


def test_samples_refuse_a_stale_answer_key(tmp_path: Path) -> None:
    out = tmp_path / "practice"
    assert (
        CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3", "--invalid-rate", "0.5"]).exit_code == 0
    )
    result = CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3"])
    assert result.exit_code == 2 and "expected_problems.json" in result.output
    assert (
        CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "3", "--invalid-rate", "0.5"]).exit_code == 0
    )
