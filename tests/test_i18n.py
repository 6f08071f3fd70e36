"""Türkçe: the catalogue is complete and current, the language is chosen as documented, and only text changes."""

from __future__ import annotations

import gettext
import io
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from omnimig import i18n
from omnimig.cli import app
from omnimig.schemas.rules import FieldRule
from omnimig.validation import messages as msg

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "omnimig" / "locale"
PO = LOCALE / "tr" / "LC_MESSAGES" / "omnimig.po"
MO = LOCALE / "tr" / "LC_MESSAGES" / "omnimig.mo"
ORDERS = ROOT / "examples" / "orders.csv"
#: ``{name}`` placeholders of a str.format text; ``{{`` and ``}}`` are literal braces.
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")


@pytest.fixture(autouse=True)
def language_chosen_again() -> Iterator[None]:
    """A test that picks Turkish must not leave it to the next test in the process."""
    yield
    i18n.use(None)


def read_catalogue(path: Path = PO) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text.replace("{{", "").replace("}}", "")))


def forms(value: object) -> tuple[str, ...]:
    """A message's id or translation as its forms: one, or singular and plural (Babel types both loosely)."""
    if isinstance(value, (tuple, list)):
        return tuple(str(v) for v in value)
    return (str(value or ""),)


def entries() -> list[tuple[str, str]]:
    """(English, Turkish) pairs: every form of every message in the Turkish catalogue."""
    pairs = []
    for m in read_catalogue():
        if m.id:
            ids = forms(m.id)
            pairs += [(ids[min(i, len(ids) - 1)], s) for i, s in enumerate(forms(m.string))]
    return pairs


# --------------------------------------------------------------------------- the catalogue


def test_every_message_has_a_turkish_translation_that_is_not_fuzzy() -> None:
    catalogue = read_catalogue()
    assert not catalogue.fuzzy, "the catalogue header is marked fuzzy: gettext would ignore the whole file"
    for m in catalogue:
        if not m.id:
            continue
        assert not m.fuzzy, f"fuzzy entry (a guess by pybabel update, not a translation): {m.id!r}"
        assert all(s.strip() for s in forms(m.string)), f"no Turkish for {m.id!r}"


@pytest.mark.parametrize(("english", "turkish"), entries())
def test_placeholders_match_between_english_and_turkish(english: str, turkish: str) -> None:
    assert placeholders(turkish) == placeholders(english)


@pytest.mark.parametrize(("english", "turkish"), entries())
def test_no_turkish_suffix_is_glued_to_an_interpolated_value(english: str, turkish: str) -> None:
    """A suffix must agree with the value's last vowel, which the catalogue cannot know: none is written."""
    glued = re.findall(r"\{\w+\}['’\w]", turkish)
    assert glued == [], f'{turkish!r}: write a noun after the value ("129,90" değeri), not a suffix'


def test_plural_forms_are_turkish_and_every_counted_message_has_them() -> None:
    catalogue = read_catalogue()
    assert catalogue.plural_forms == "nplurals=2; plural=(n != 1);"
    counted = [m for m in catalogue if isinstance(m.id, tuple)]
    assert {m.id[0] for m in counted} >= {"{n} row", "{n} error", "{n} warning", "{n} file", "{n} problem"}
    for m in counted:
        assert len(forms(m.string)) == 2 and all(forms(m.string)), m.id


def test_the_catalogue_holds_every_message_the_code_and_schemas_have(tmp_path: Path) -> None:
    """The documented extract command run now finds no message id the Turkish catalogue lacks, and vice versa."""
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(
        ["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"), "-o", str(pot), "--no-location", str(ROOT)]
    )
    with pot.open("rb") as f:
        extracted = {(m.context, m.id) for m in read_po(f) if m.id}
    translated = {(m.context, m.id) for m in read_catalogue() if m.id}
    assert extracted - translated == set(), "run the update command in docs/i18n.md and translate"
    assert translated - extracted == set(), "the catalogue has entries no code uses: run the update command"
    assert len(extracted) > 90


def test_the_shipped_mo_is_the_compiled_po() -> None:
    """The .mo in the package is what `pybabel compile` makes of the .po (a stale .mo would ship old text)."""
    compiled = io.BytesIO()
    write_mo(compiled, read_catalogue())
    assert MO.read_bytes() == compiled.getvalue(), "run the compile command in docs/i18n.md"
    shipped = gettext.GNUTranslations(MO.open("rb"))
    assert shipped.gettext("{field} is required but empty") == "{field} zorunlu bir alan, ancak boş"


# --------------------------------------------------------------------------- choosing the language


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "en"),
        ({"LANG": "tr_TR.UTF-8"}, "tr"),
        ({"LANG": "en_US.UTF-8"}, "en"),
        ({"LANG": "C"}, "en"),
        ({"LANG": "C.UTF-8", "OMNIMIG_LANG": "tr"}, "tr"),
        ({"LANG": "tr_TR.UTF-8", "OMNIMIG_LANG": "en"}, "en"),
        ({"LANG": "tr_TR.UTF-8", "OMNIMIG_LANG": "de"}, "tr"),  # a language omnimig does not speak is passed over
        ({"LANG": "tr_TR.UTF-8", "LC_ALL": "en_GB.UTF-8"}, "en"),  # LC_ALL overrides LANG, as in POSIX
        ({"LANG": "tr_TR.UTF-8", "LC_ALL": "de_DE.UTF-8"}, "en"),
        ({"LC_MESSAGES": "tr_TR.UTF-8", "LANG": "en_US.UTF-8"}, "tr"),
        ({"OMNIMIG_LANG": "TR"}, "tr"),
    ],
)
def test_the_language_comes_from_omnimig_lang_then_the_locale_then_english(
    environ: dict[str, str], expected: str
) -> None:
    assert i18n.detect(environ) == expected


def test_use_refuses_a_language_without_a_catalogue_and_names_those_it_has() -> None:
    with pytest.raises(ValueError, match="use one of: en, tr"):
        i18n.use("de")


def test_counts_are_written_as_turkish_readers_write_them() -> None:
    i18n.use("tr")
    assert i18n.number(1204) == "1.204"
    assert i18n.ngettext("{n} row", "{n} rows", 1204).format(n=i18n.number(1204)) == "1.204 satır"
    i18n.use("en")
    assert i18n.ngettext("{n} row", "{n} rows", 1204).format(n=i18n.number(1204)) == "1,204 rows"


def test_case_follows_turkish_rules_for_dotted_and_dotless_i() -> None:
    i18n.use("tr")
    assert i18n.lower("İADE IŞIK") == "iade ışık"
    assert i18n.upper("iade ışık") == "İADE IŞIK"
    assert i18n.lower("Şifreleme algoritmaları") == "şifreleme algoritmaları"
    i18n.use("en")
    assert i18n.lower("IADE") == "iade"


@given(st.text(min_size=1, max_size=20))
def test_a_turkish_message_shows_any_value_quoted_with_no_suffix_on_it(value: str) -> None:
    i18n.use("tr")
    rule = FieldRule(name="amount", kind="number")
    text = msg.number_type(rule, value)
    assert text.startswith("amount (tutar) alanındaki ")
    assert f"{msg.q(value)} değer" in text


def test_a_field_is_named_as_akinon_names_it_with_a_turkish_gloss() -> None:
    i18n.use("tr")
    assert i18n.field("amount") == "amount (tutar)"
    assert i18n.field("installment_count") == "installment_count (taksit sayısı)"
    assert i18n.field("not_a_field") == "not_a_field"
    i18n.use("en")
    assert i18n.field("amount") == "amount"


# --------------------------------------------------------------------------- the CLI


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"OMNIMIG_LANG": None, "LANG": "C.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}
    return CliRunner().invoke(app, list(args), env={**base, **(env or {})})


def test_validate_in_turkish_prints_turkish_with_the_same_exit_code() -> None:
    english = run("validate", str(ORDERS))
    turkish = run("--lang", "tr", "validate", str(ORDERS))
    assert turkish.exit_code == english.exit_code == 1
    out = turkish.stdout
    assert 'amount (tutar) alanındaki "129,90" değerinde ondalık ayırıcı olarak virgül kullanılmış; 129.90 yazın' in out
    assert "1 dosya, 4 satır: 5 hata, 1 uyarı — yüklemeden önce hataları düzeltin" in out
    assert "satır 3:" in out and "✗ hata type · amount — 1 sorun" in out
    assert "bilinen kargo firmaları listesinde yok" in out
    assert "decimal comma" not in out and "rows" not in out
    assert "1 file, 4 rows: 5 errors, 1 warning — fix the errors before uploading" in english.stdout


def strip_messages(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON report without its human text: what must not change with the language."""
    files = [
        {**f, "problems": [{k: v for k, v in p.items() if k != "message"} for p in f["problems"]]} for f in doc["files"]
    ]
    stripped = {**{k: v for k, v in doc.items() if k != "language"}, "files": files}
    if "bundle" in doc:  # the bundle's notes and errors are messages too (their rule codes stay)
        bundle = doc["bundle"]
        problems = [{k: v for k, v in p.items() if k != "message"} for p in bundle["problems"]]
        stripped["bundle"] = {
            **bundle,
            "notes": len(bundle["notes"]),
            "errors": len(bundle["errors"]),
            "problems": problems,
        }
    return stripped


def test_json_keys_rule_codes_and_values_are_the_same_in_turkish_only_messages_and_language_change() -> None:
    english = run("validate", "--format", "json", str(ORDERS))
    turkish = run("--lang", "tr", "validate", "--format", "json", str(ORDERS))
    assert turkish.exit_code == english.exit_code == 1
    en, tr = json.loads(english.stdout), json.loads(turkish.stdout)
    assert (en["language"], tr["language"]) == ("en", "tr")
    assert list(tr) == list(en)
    assert strip_messages(tr) == strip_messages(en)
    en_messages = [p["message"] for p in en["files"][0]["problems"]]
    tr_messages = [p["message"] for p in tr["files"][0]["problems"]]
    assert len(tr_messages) == 6 and all(a != b for a, b in zip(en_messages, tr_messages, strict=True))


def test_csv_report_headers_and_codes_stay_english_in_turkish() -> None:
    english = run("validate", "--format", "csv", str(ORDERS))
    turkish = run("--lang", "tr", "validate", "--format", "csv", str(ORDERS))
    en_lines, tr_lines = english.stdout.splitlines(), turkish.stdout.splitlines()
    assert tr_lines[0] == en_lines[0] == "file,type,row,field,rule,severity,value,message,suggestion"
    assert len(tr_lines) == len(en_lines)
    assert any("ondalık ayırıcı" in line for line in tr_lines)


@pytest.mark.parametrize(
    "env",
    [{"OMNIMIG_LANG": "tr"}, {"LANG": "tr_TR.UTF-8"}, {"LC_ALL": "tr_TR.UTF-8"}],
)
def test_the_environment_chooses_turkish_when_lang_is_not_given(env: dict[str, str]) -> None:
    result = run("validate", str(ORDERS), env=env)
    assert result.exit_code == 1
    assert "yüklemeden önce hataları düzeltin" in result.stdout


def test_lang_option_wins_over_the_environment() -> None:
    result = run("--lang", "en", "validate", str(ORDERS), env={"OMNIMIG_LANG": "tr", "LANG": "tr_TR.UTF-8"})
    assert "fix the errors before uploading" in result.stdout


def test_an_unknown_lang_is_a_usage_error_that_names_the_choices() -> None:
    result = run("--lang", "de", "validate", str(ORDERS))
    assert result.exit_code == 2
    assert "tr" in result.output and "en" in result.output and "Traceback" not in result.output


def test_a_turkish_run_does_not_leave_turkish_to_the_next_english_run() -> None:
    run("--lang", "tr", "validate", str(ORDERS))
    assert "fix the errors before uploading" in run("validate", str(ORDERS)).stdout


def test_lang_may_follow_the_command_as_the_issue_writes_it() -> None:
    """``omnimig validate --lang tr samples/``: where people put it, as well as before the command."""
    runner = CliRunner()
    after = runner.invoke(app, ["validate", "--lang", "tr", "examples/orders.csv"])
    before = runner.invoke(app, ["--lang", "tr", "validate", "examples/orders.csv"])
    assert after.exit_code == before.exit_code == 1
    assert after.stdout == before.stdout and "satır" in after.stdout
    assert runner.invoke(app, ["validate", "--lang=tr", "examples/orders.csv"]).stdout == before.stdout
    wrong = runner.invoke(app, ["validate", "--lang", "de", "examples/orders.csv"])
    assert wrong.exit_code == 2 and "'de' is not one of tr, en" in wrong.output
    # after "--" it is a file name like any other
    named = runner.invoke(app, ["validate", "--", "--lang"])
    assert named.exit_code == 2 and "--lang: no such file" in named.output
