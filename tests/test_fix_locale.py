"""``omnimig fix --locale tr``: the author declares Turkish conventions, so values with two readings
without it (``1.234``, ``01/02/2023``) have one with it; without ``--locale`` they stay problems."""

from __future__ import annotations

import csv
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import omnimig
from omnimig.cli import app
from omnimig.exceptions import UsageError
from omnimig.fixing.engine import failures, field_fixer

ORDER = list(omnimig.schemas.load("order").names)


def order_file(path: Path, rows: list[dict[str, str]]) -> Path:
    base = dict.fromkeys(ORDER, "")
    base.update(
        user="C1",
        user_email="a@example.com",
        status="550",
        currency="TRY",
        payment_type="card",
        bank="-",
        created_date="2023-11-14",
        tracking_number="T",
        shipping_company="aras",
        shipping_address="a",
        billing_address="a",
    )
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER)
        for i, row in enumerate(rows, start=1):
            writer.writerow([{**base, "number": f"O{i}", "amount": "1.00", **row}[n] for n in ORDER])
    return path


def changes(out: Path) -> dict[tuple[int, str], tuple[str, str, str]]:
    with (out / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return {(int(c["row"]), c["field"]): (c["before"], c["after"], c["code"]) for c in csv.DictReader(handle)}


AMBIGUOUS = [
    {"amount": "1.234"},
    {"amount": "1.234,5"},
    {"created_date": "01/02/2023"},
    {"created_date": "01.02.2023 10:00"},
]


def test_with_locale_tr_ambiguous_numbers_and_dates_have_the_turkish_reading(tmp_path: Path) -> None:
    path = order_file(tmp_path / "orders.csv", AMBIGUOUS)
    result = omnimig.fix(path, tmp_path / "out", locale="tr")
    found = changes(tmp_path / "out")
    assert found[(2, "amount")] == ("1.234", "1234", "number")
    assert found[(3, "amount")] == ("1.234,5", "1234.5", "number")
    assert found[(4, "created_date")] == ("01/02/2023", "2023-02-01", "date")
    assert found[(5, "created_date")][1] == "2023-02-01T10:00:00"
    assert (result.before, result.fixed, result.need_person) == (4, 4, 0), result.lines()


def test_a_value_with_one_reading_keeps_it_with_locale_tr(tmp_path: Path) -> None:
    """The locale settles only what is ambiguous: Excel's 3.0 is 3, 12/31/2023 is 31 December."""
    rows = [{"installment_count": "3.0"}, {"created_date": "12/31/2023"}, {"amount": "129.9x"}]
    path = order_file(tmp_path / "orders.csv", rows)
    result = omnimig.fix(path, tmp_path / "out", locale="tr")
    found = changes(tmp_path / "out")
    assert found[(2, "installment_count")] == ("3.0", "3", "integral-float")
    assert found[(3, "created_date")] == ("12/31/2023", "2023-12-31", "date")
    assert (4, "amount") not in found
    reasons = [reason for g in result.remaining for _, reason in g.examples]
    assert any("129.9x" in r and "is not an amount" in r for r in reasons), reasons  # the plain reading's reason


def test_without_locale_they_stay_problems_with_their_reason(tmp_path: Path) -> None:
    path = order_file(tmp_path / "orders.csv", AMBIGUOUS[:1] + AMBIGUOUS[2:3])
    result = omnimig.fix(path, tmp_path / "out")
    assert changes(tmp_path / "out") == {}
    reasons = [reason for g in result.remaining for _, reason in g.examples]
    assert any("ambiguous" in r and "decimal" in r for r in reasons), reasons
    assert any("ambiguous" in r and "order" in r for r in reasons), reasons


def test_the_cli_takes_locale_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    path = order_file(tmp_path / "orders.csv", AMBIGUOUS[:1])
    runner = CliRunner()
    ok = runner.invoke(app, ["fix", str(path), "--out", str(tmp_path / "out"), "--locale", "tr"])
    assert ok.exit_code == 0, ok.output
    assert "1 problem: 1 fixed, 0 need a person" in ok.output
    bad = runner.invoke(app, ["fix", str(path), "--out", str(tmp_path / "out2"), "--locale", "de"])
    assert bad.exit_code == 2
    assert "unknown locale 'de'; use one of: tr" in bad.output
    with pytest.raises(UsageError):
        omnimig.fix(path, tmp_path / "out3", locale="xx")


NUMBERS = st.one_of(
    st.sampled_from(["1.234", "1.234,5", "12.345.678,90", "129,90", "₺1.249,90", "649,90 TL", "1,234.5", "1.23"]),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{3}){0,2}(,[0-9]{1,3})?", fullmatch=True),
)
DATES = st.one_of(
    st.sampled_from(["01/02/2023", "31/12/2023", "12/31/2023", "01-02-2023 10:00", "45291", "2023-02-30"]),
    st.from_regex(r"[0-3][0-9][./-][01][0-9][./-]20[0-9]{2}", fullmatch=True),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(amounts=st.lists(NUMBERS, min_size=1, max_size=5), dates=st.lists(DATES, min_size=1, max_size=5))
def test_with_locale_tr_every_fix_passes_its_rule_and_a_second_run_changes_nothing(
    amounts: list[str], dates: list[str]
) -> None:
    rows = [{"amount": a} for a in amounts] + [{"created_date": d} for d in dates]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        path = order_file(root / "orders.csv", rows)
        omnimig.fix(path, root / "once", locale="tr")
        for (_, field), (_, after, _) in changes(root / "once").items():
            assert failures(field_fixer("order", field).rule, [after], None) == [[]], (field, after)
        omnimig.fix(root / "once" / "orders.csv", root / "twice", locale="tr")
        assert changes(root / "twice") == {}
