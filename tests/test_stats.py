"""The bundle summary (issue 14): ``Validation.stats``, the JSON "summary", the text and workbook sections.

The expected figures of the committed ``samples/`` bundle are computed here independently, with
the ``csv`` module and ``Decimal``, never by the code under test.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import statistics
from collections import Counter
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from typer.testing import CliRunner

import omnimig.validation.stats as stats_module
from omnimig.cli import app
from omnimig.exceptions import SchemaError
from omnimig.schemas.rules import NUMBER_RE
from omnimig.validation.report import render_text
from omnimig.validation.run import validate_paths
from omnimig.validation.workbook import write_workbook

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
#: Decimal sums that never round (the default context keeps 28 digits).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
COUNTED = ("status", "currency", "payment_type", "shipping_company")


def _rows(name: str, folder: Path = SAMPLES) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _expected_samples() -> dict[str, object]:
    """The samples bundle's summary, worked out with the csv module and Decimal."""
    users, orders = _rows("user"), _rows("order")
    per_user = Counter(o["user"] for o in orders)
    counts = [per_user.get(code, 0) for code in dict.fromkeys(u["customer_code"] for u in users)]
    totals: dict[str, Decimal] = {}
    for o in orders:
        totals[o["currency"]] = totals.get(o["currency"], Decimal(0)) + Decimal(o["amount"])
    dates = [o["created_date"] for o in orders]
    return {
        "rows": {t: len(_rows(t)) for t in ("user", "address", "order", "order_item")},
        "counts": {name: dict(Counter(o[name] for o in orders)) for name in COUNTED},
        "range": {"min": min(dates), "max": max(dates)},
        "totals": {c: str(v) for c, v in totals.items()},
        "amount_rows": dict(Counter(o["currency"] for o in orders)),
        "children": {
            "parents": len(counts),
            "without": counts.count(0),
            "min": min(counts),
            "median": float(statistics.median(counts)),
            "max": max(counts),
        },
    }


def test_samples_summary_matches_figures_computed_independently() -> None:
    want = _expected_samples()
    got = validate_paths([SAMPLES]).stats.to_dict()["types"]
    assert {t: got[t]["rows"] for t in got} == want["rows"]
    assert all(got[t]["files"] == 1 for t in got)
    order = got["order"]
    assert order["counts"] == want["counts"]
    assert order["ranges"] == {"created_date": want["range"]}
    assert order["totals"] == {
        "amount": {"by": "currency", "totals": want["totals"], "rows": want["amount_rows"], "not_numbers": 0}
    }
    assert got["user"]["children"] == {"order": want["children"]}


def test_json_report_carries_the_summary_beside_the_counts(here: Path) -> None:
    result = CliRunner().invoke(app, ["validate", "--format", "json", str(SAMPLES)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {k: doc["summary"][k] for k in ("errors", "warnings", "rows")} == {
        "errors": 0,
        "warnings": 0,
        "rows": sum(_expected_samples()["rows"].values()),  # type: ignore[union-attr]
    }
    assert doc["summary"]["types"] == validate_paths([SAMPLES]).stats.to_dict()["types"]
    # Money is exact decimal text in JSON, never a float
    assert all(isinstance(v, str) for v in doc["summary"]["types"]["order"]["totals"]["amount"]["totals"].values())


def _text(show_summary: bool) -> str:
    run = validate_paths([SAMPLES])
    out = io.StringIO()
    console = Console(file=out, width=200, highlight=False, soft_wrap=True, color_system=None)
    render_text(run.reported, console, outcome=run.outcome, show_order=True, show_summary=show_summary)
    return out.getvalue()


def test_text_summary_only_when_asked_and_before_the_verdict() -> None:
    assert "Summary:" not in _text(False)
    lines = _text(True).splitlines()
    start = lines.index("Summary:")
    section = lines[start + 1 : start + 9]
    assert section[0].split() == ["rows", "user", "3", "·", "address", "5", "·", "order", "9", "·", "order_item", "27"]
    totals = _expected_samples()["totals"]
    amount = next(line for line in section if line.strip().startswith("order amount by currency"))
    for currency, total in totals.items():  # type: ignore[union-attr]
        assert f"{currency} {Decimal(total):,}" in amount
    assert any(line.strip().startswith("orders per user") and "0 of 3 users have none" in line for line in section)
    assert lines[-1].startswith("4 files, 44 rows: 0 errors")


def test_workbook_summary_sheet_has_the_bundle_summary(tmp_path: Path) -> None:
    run = validate_paths([SAMPLES])
    out = tmp_path / "r.xlsx"
    write_workbook(run.reported, out, outcome=run.outcome)
    ws = openpyxl.load_workbook(out)["Summary"]
    cells = [[c for c in row if c is not None] for row in ws.iter_rows(values_only=True)]
    start = cells.index(["Bundle summary"])
    got = {row[0]: row[1] for row in cells[start + 1 :] if len(row) == 2 and isinstance(row[1], str)}
    assert got == dict(run.stats.lines())


def _order_file(path: Path, amounts: list[str], currencies: list[str]) -> None:
    template = _rows("order")[1]
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, list(template), lineterminator="\n")
        writer.writeheader()
        for i, (amount, currency) in enumerate(zip(amounts, currencies, strict=True)):
            writer.writerow({**template, "number": f"N{i}", "amount": amount, "currency": currency})


AMOUNT = st.one_of(
    st.decimals(min_value=-(10**6), max_value=10**6, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.decimals(min_value=0, max_value=10**30, places=4, allow_nan=False, allow_infinity=False).map(str),
    st.from_regex(r"[+-]?0{0,3}[0-9]{1,25}(\.[0-9]{1,8})?", fullmatch=True),
    st.from_regex(r"9{30,60}\.9{1,3}", fullmatch=True),  # beyond the default context's 28 digits
    st.sampled_from(["", "12,50", "abc", "1e3", " 5", "1.", ".5", "--1"]),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(st.tuples(AMOUNT, st.sampled_from(["TRY", "EUR", "try", ""])), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=7),
)
def test_totals_per_currency_equal_the_sum_of_the_numeric_amounts(
    tmp_path: Path, rows: list[tuple[str, str]], chunk_rows: int
) -> None:
    path = tmp_path / "order.csv"
    _order_file(path, [a for a, _ in rows], [c for _, c in rows])
    want: dict[str, Decimal] = {}
    for amount, currency in rows:
        if NUMBER_RE.match(amount):
            want[currency] = EXACT.add(want.get(currency, Decimal(0)), Decimal(amount))
    filled = sum(1 for a, _ in rows if a != "" and not NUMBER_RE.match(a))
    run = validate_paths([path], chunk_rows=chunk_rows)  # several chunks: the tallies merge exactly
    order = run.stats.types["order"]
    by, sums = order.sums["amount"]
    assert by == "currency"
    assert sums.totals == want
    assert all(isinstance(v, Decimal) for v in sums.totals.values())
    assert sums.not_numbers == filled
    assert sum(order.counts["currency"].values()) == order.rows == len(rows)


def test_json_numbers_are_summed_by_their_value(here: Path) -> None:
    shutil.copytree(SAMPLES, "b")
    orders = _rows("order")
    records = []
    for i, o in enumerate(orders):
        amount = "1.5E2" if i == 0 else o["amount"]
        fields = {k: json.dumps(v) for k, v in o.items() if k not in ("amount", "discount_amount", "extra_field")}
        fields["amount"] = amount
        records.append("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}")
    Path("b/order.csv").unlink()
    Path("b/order.json").write_text("[\n" + ",\n".join(records) + "\n]\n", encoding="utf-8")
    want: dict[str, Decimal] = {}
    for i, o in enumerate(orders):
        want[o["currency"]] = want.get(o["currency"], Decimal(0)) + (Decimal(150) if i == 0 else Decimal(o["amount"]))
    stats = validate_paths([Path("b")]).stats
    assert stats.types["order"].sums["amount"][1].totals == want


def test_several_files_of_a_type_add_up_and_invalid_dates_are_left_out_of_the_range(here: Path) -> None:
    shutil.copytree(SAMPLES, "b")
    orders = _rows("order")
    columns = list(orders[0])
    first, second = orders[:4], orders[4:]
    second[0] = {**second[0], "created_date": "31/12/2099"}  # wrong shape: a pattern error
    second[1] = {**second[1], "created_date": "2099-02-30"}  # right shape, not a calendar day
    Path("b/order.csv").unlink()
    for name, part in (("orders-1.csv", first), ("orders-2.csv", second)):
        with Path("b", name).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(part)
    stats = validate_paths([Path("b")]).stats.to_dict()["types"]
    assert stats["order"]["files"] == 2 and stats["order"]["rows"] == len(orders)
    assert stats["order"]["counts"]["status"] == dict(Counter(o["status"] for o in orders))
    kept = [o["created_date"] for o in orders if o not in (orders[4], orders[5])]
    assert stats["order"]["ranges"]["created_date"] == {"min": min(kept), "max": max(kept)}


def test_users_without_orders_and_the_median(here: Path) -> None:
    shutil.copytree(SAMPLES, "b")
    users = _rows("user")
    extra = [{**users[0], "customer_code": f"X{i}", "email": f"x{i}@example.com"} for i in range(3)]
    with Path("b/user.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, list(users[0]), lineterminator="\n").writerows(extra)
    per = Counter(o["user"] for o in _rows("order"))
    counts = [per.get(u["customer_code"], 0) for u in users] + [0, 0, 0]
    children = validate_paths([Path("b")]).stats.types["user"].children["order"]
    assert (children.parents, children.without, children.minimum, children.maximum) == (
        len(counts),
        3,
        0,
        max(counts),
    )
    assert children.median == statistics.median(counts)


def test_no_order_file_means_no_per_user_figures_and_rows_zero() -> None:
    stats = validate_paths([SAMPLES / "user.csv"]).stats.to_dict()["types"]
    assert stats["order"] == {"files": 0, "rows": 0}
    assert "children" not in stats["user"]


def test_distinct_values_beyond_the_cap_are_counted_as_other(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "MAX_DISTINCT", 2)
    path = tmp_path / "order.csv"
    _order_file(path, ["1.00"] * 5, ["TRY", "EUR", "USD", "GBP", "TRY"])
    order = validate_paths([path]).stats.to_dict()["types"]["order"]
    assert order["counts"]["currency"] == {"TRY": 2, "EUR": 1}
    assert order["other_values"] == {"currency": 2}
    assert sum(order["counts"]["currency"].values()) + order["other_values"]["currency"] == 5


def test_summary_names_come_from_datapackage_and_unknown_ones_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(stats_module.schema_dir(), schemas)
    package = json.loads((schemas / "datapackage.json").read_text(encoding="utf-8"))
    for resource in package["resources"]:
        if resource["name"] == "order":
            resource["summary"]["count"] = ["bank", "no_such_field"]
    (schemas / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    monkeypatch.setattr(stats_module, "schema_dir", lambda: schemas)
    stats_module.summary_specs.cache_clear()
    try:
        with pytest.raises(SchemaError, match="no_such_field"):
            stats_module.summary_specs()
        resource = next(r for r in package["resources"] if r["name"] == "order")
        resource["summary"]["count"] = ["bank"]
        (schemas / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
        stats_module.summary_specs.cache_clear()
        counts = validate_paths([SAMPLES]).stats.to_dict()["types"]["order"]["counts"]
        assert counts == {"bank": dict(Counter(o["bank"] for o in _rows("order")))}
    finally:
        stats_module.summary_specs.cache_clear()


def test_every_summing_path_is_exact(tmp_path: Path) -> None:
    """64-bit integer sums, Arrow's decimal group-by (a value needs more than 64 bits at the chunk's
    scale) and Python's Decimal (text longer than 18 characters) each give the exact total."""
    cases = {
        "integers": ["10.25", "-3.10", "7", "0.05"],
        "decimal group-by": ["999999999999999999", "0.0001", "-1.5"],  # 10**18 * 10**4 needs 128 bits
        "python": ["123456789012345678.99", "1.01", "-0.5"],  # 21 characters
    }
    for name, amounts in cases.items():
        path = tmp_path / name / "order.csv"
        path.parent.mkdir()
        _order_file(path, amounts, ["TRY"] * len(amounts))
        sums = validate_paths([path]).stats.types["order"].sums["amount"][1]
        want = sum((Decimal(a) for a in amounts), Decimal(0))
        assert sums.totals == {"TRY": want}, name
        assert sums.rows == {"TRY": len(amounts)}, name
