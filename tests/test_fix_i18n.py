"""``omnimig fix`` in Turkish (issue 18): the summary, the reasons a problem was not fixed and the
refusals are Turkish; ``changes.csv`` (headers, fix codes, values), the exit code and the files
written are the same in both languages."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import omnimig
from omnimig import i18n
from omnimig.cli import app

ORDER = list(omnimig.schemas.load("order").names)
VALID = {
    "user": "C1",
    "user_email": "a@example.com",
    "status": "550",
    "currency": "TRY",
    "payment_type": "card",
    "bank": "-",
    "created_date": "2023-11-14",
    "tracking_number": "T",
    "shipping_company": "aras",
    "shipping_address": "a",
    "billing_address": "a",
}


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    """Two orders: a decimal comma fix can correct, and an ambiguous number it must leave."""
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(ORDER)
        for number, amount in (("O1", "129,90"), ("O2", "1.234")):
            writer.writerow(
                [{**dict.fromkeys(ORDER, ""), **VALID, "number": number, "amount": amount}[n] for n in ORDER]
            )
    return path


@pytest.fixture
def turkish() -> Iterator[None]:
    i18n.use("tr")
    yield
    i18n.use("en")


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_the_fix_summary_and_reasons_are_turkish_and_the_change_log_is_not(orders: Path, tmp_path: Path) -> None:
    code_en, english = run("fix", str(orders), "--out", str(tmp_path / "en"))
    code_tr, turkish = run("fix", "--lang", "tr", str(orders), "--out", str(tmp_path / "tr"))
    assert code_en == code_tr == 1  # the ambiguous amount is still an error
    assert "2 problems: 1 fixed, 1 need a person" in english
    assert "2 sorun: 1 tanesi düzeltildi, 1 tanesi için bir kişinin karar vermesi gerekiyor" in turkish
    assert "2 satır okundu = 2 satır yazıldı, 1 hücre değişti" in turkish
    assert "elle düzeltilmesi gerekenler, kurala göre:" in turkish
    assert "✗ hata decimal-places · amount — 1 sorun" in turkish
    assert "düzeltilmedi: " in turkish and "satır 3:" in turkish
    assert "need a person" not in turkish and "rows in" not in turkish
    # the machine outputs do not change with the language
    for name in ("changes.csv", "orders.csv"):
        assert (tmp_path / "tr" / name).read_bytes() == (tmp_path / "en" / name).read_bytes()
    header = (tmp_path / "tr" / "changes.csv").read_text(encoding="utf-8").splitlines()[:2]
    assert header[0] == "file,row,field,before,after,rule,code"
    assert header[1].endswith(',2,amount,"129,90",129.90,type,number')


def test_a_refusal_is_turkish_with_the_same_exit_code(orders: Path, tmp_path: Path) -> None:
    code_en, english = run("fix", str(orders), "--out", str(tmp_path / "a"), "--only", "nope")
    code_tr, turkish = run("fix", "--lang", "tr", str(orders), "--out", str(tmp_path / "b"), "--only", "nope")
    assert code_en == code_tr == 2
    assert "unknown fix code 'nope'" in english
    assert "bilinmeyen düzeltme kodu: 'nope'; şunlardan birini kullanın: trim, number" in turkish
    code, out = run("fix", "--lang", "tr", str(orders), "--out", str(tmp_path / "c"), "--locale", "de")
    assert code == 2 and "bilinmeyen yerel ayar: 'de'" in out


def test_a_reason_is_given_in_the_language_of_the_run_that_asks(orders: Path, tmp_path: Path, turkish: None) -> None:
    """Reasons are remembered per value (a file repeats its spellings), and per language."""
    orders.write_text(orders.read_text(encoding="utf-8").replace("1.234", "3.50 TL"), encoding="utf-8")
    i18n.use("en")
    before = omnimig.fix(orders, tmp_path / "one", type="order")
    i18n.use("tr")
    after = omnimig.fix(orders, tmp_path / "two", type="order")
    assert before.fixed == after.fixed == 2
    i18n.use("en")
    omnimig.fix(orders, tmp_path / "three", type="order", only=["trim"])
    i18n.use("tr")
    left = omnimig.fix(orders, tmp_path / "four", type="order", only=["trim"])
    reasons = {reason for group in left.remaining for _, reason in group.examples}
    assert (
        "'number' düzeltmesi seçilmedi (--only)" in reasons
        or "'currency-sign' düzeltmesi seçilmedi (--only)" in reasons
    )
    assert not any("was not chosen" in r for r in reasons)
