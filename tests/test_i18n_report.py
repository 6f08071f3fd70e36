"""Türkçe beyond the field messages: bundle and key rules, readers, reports, the workbook, ``schemas``.

Each test runs the same input in English and in Turkish and checks both halves of the contract:
the human text is Turkish (and none of the English sentences it replaces is left), and what a
program reads (rule codes, JSON keys, CSV headers, cells marked, exit codes) is unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner, Result

from omnimig import i18n
from omnimig.cli import app
from omnimig.validation.split import SplitCount
from omnimig.validation.workbook import SUMMARY_SHEET

ROOT = Path(__file__).resolve().parent.parent
ORDERS = ROOT / "examples" / "orders.csv"
BUNDLE = ROOT / "examples" / "bundle"


@pytest.fixture(autouse=True)
def language_chosen_again() -> Iterator[None]:
    """A test that picks Turkish must not leave it to the next test in the process."""
    yield
    i18n.use(None)


def run(*args: str, env: Mapping[str, str | None] | None = None) -> Result:
    base: dict[str, str | None] = {"OMNIMIG_LANG": None, "LANG": "C.UTF-8", "LC_ALL": None, "LC_MESSAGES": None}
    return CliRunner().invoke(app, list(args), env={**base, **(env or {})})


def both(*args: str, env: Mapping[str, str | None] | None = None) -> tuple[Result, Result]:
    """The same command in English, then in Turkish."""
    return run(*args, env=env), run("--lang", "tr", *args, env=env)


def english_left(text: str, sentences: tuple[str, ...]) -> list[str]:
    """The English sentences (of those this work translated) still found in ``text``."""
    return [s for s in sentences if s in text]


# --------------------------------------------------------------------------- a bundle, in text


@pytest.fixture
def broken_bundle(tmp_path: Path) -> Path:
    """The example bundle (duplicates, dangling references, consistency warnings) with its order
    file replaced by one that cannot be read: notes say what could not be checked because of it."""
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder)
    (folder / "order.csv").unlink()
    (folder / "order.json").write_text('[{"number": "ORD-1",', encoding="utf-8")
    return folder


BUNDLE_ENGLISH = (
    "was not checked",
    "could not be read",
    "is a duplicate",
    "first appears in row",
    "matches no",
    "differs from",
    "here,",
    "Upload order:",
    "Summary:",
    "invalid JSON",
    "no file",
    "rows",
    "ready",
    "unique keys",
)


def test_a_bundle_report_in_turkish_has_turkish_key_rules_notes_and_sections_and_the_same_exit_code(
    broken_bundle: Path,
) -> None:
    english, turkish = both("validate", str(broken_bundle), "--summary")
    assert turkish.exit_code == english.exit_code == 2  # a file could not be read
    out = turkish.output
    # unique and foreign keys, consistency warnings: the field glossed, the value quoted, no suffix on it
    assert re.search(
        r'customer_code \(müşteri kodu\) alanındaki "C0001" değeri tekrarlanıyor; '
        r"ilk olarak \S+user\.csv dosyasının 2\. satırında geçiyor",
        out,
    )
    assert (
        'user (müşteri kodu) alanındaki "C0099" değeri, ' in out
        and "hiçbir user kaydının customer_code değeriyle eşleşmiyor" in out
    )
    assert "adresteki e-posta, adresin bağlı olduğu müşterinin e-postasından farklı: burada " in out
    # the unreadable file: its reader's one line, and the notes of the rules it kept from running
    assert "okunamadı" in out and "geçersiz JSON" in out
    assert "order_item.order_number -> order.number ilişkisi kontrol edilmedi: order dosyası okunamadı" in out
    # the upload order and --summary sections
    assert "\nYükleme sırası:\n" in out and "\nÖzet:\n" in out
    assert re.search(r"1\. user +\S+user\.csv  3 satır  2 hata", out)
    assert "satır sayısı" in out
    assert english_left(out, BUNDLE_ENGLISH) == []
    # the English run says the same things in English
    assert "was not checked: the order file could not be read" in english.output
    assert "Upload order:" in english.output and "Summary:" in english.output


def test_a_bundle_json_report_in_turkish_changes_only_the_messages_and_the_language(broken_bundle: Path) -> None:
    english, turkish = both("validate", "--format", "json", str(broken_bundle))
    assert turkish.exit_code == english.exit_code == 2
    en, tr = json.loads(english.stdout), json.loads(turkish.stdout)
    assert (en["language"], tr["language"]) == ("en", "tr")
    assert without_messages(tr) == without_messages(en)
    codes = {p["rule"] for f in tr["files"] for p in f["problems"]} | {p["rule"] for p in tr["bundle"]["problems"]}
    assert {"unique", "foreign-key", "unreadable", "not-checked"} <= codes
    pairs = [
        (a["message"], b["message"])
        for fe, ft in zip(en["files"], tr["files"], strict=True)
        for a, b in zip(fe["problems"], ft["problems"], strict=True)
    ] + list(zip(en["bundle"]["notes"], tr["bundle"]["notes"], strict=True))
    assert pairs and all(a != b for a, b in pairs)


def without_messages(doc: dict[str, Any]) -> dict[str, Any]:
    """The JSON report without its human text: what must not change with the language."""
    files = [{**f, "problems": [drop(p, "message") for p in f["problems"]]} for f in doc["files"]]
    bundle = doc["bundle"]
    return {
        **drop(doc, "language"),
        "files": files,
        "bundle": {
            **bundle,
            "notes": len(bundle["notes"]),
            "errors": len(bundle["errors"]),
            "problems": [drop(p, "message") for p in bundle["problems"]],
        },
    }


def drop(mapping: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if k != key}


# --------------------------------------------------------------------------- readers


def test_reader_notices_and_column_problems_are_turkish_with_the_same_codes(tmp_path: Path) -> None:
    """A Windows-1254 file with a row too wide, an unknown column, a missing required one."""
    header = "customer_code,first_name,email,nickname"
    rows = ["C1,Ayşe,ayse@example.com,ay", "C2,Işıl,isil@example.com,is,fazla"]
    path = tmp_path / "user.csv"
    path.write_bytes(("\n".join([header, *rows]) + "\n").encode("cp1254"))
    english, turkish = both("validate", "--format", "json", str(path))
    assert turkish.exit_code == english.exit_code == 1
    en, tr = json.loads(english.stdout), json.loads(turkish.stdout)
    assert without_messages_of_files(tr) == without_messages_of_files(en)
    said: dict[str, list[str]] = {}
    for p in tr["files"][0]["problems"]:
        said.setdefault(p["rule"], []).append(p["message"])
    assert said["encoding"][0].startswith("dosya UTF-8 değil (ilk hatalı bayt 2. satırda); Windows-1254 olarak okundu")
    assert said["row-width"][0].startswith(
        "satırda 5 hücre var ama başlıkta 4 sütun var; son sütundan sonraki hücreler"
    )
    assert said["unknown-column"][0].startswith('"nickname" sütunu bir user alanı değil ve kontrol edilmedi')
    assert 'zorunlu "last_name" sütunu eksik' in said["missing-column"]


def without_messages_of_files(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [{**f, "problems": [drop(p, "message") for p in f["problems"]]} for f in doc["files"]]


def test_an_unreadable_file_alone_is_one_turkish_line_and_exit_code_2(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(b"")
    english, turkish = both("validate", str(path))
    assert turkish.exit_code == english.exit_code
    assert f"{path}: dosya boş" in turkish.output
    assert "the file is empty" in english.output and "the file is empty" not in turkish.output
    assert "Traceback" not in turkish.output


def test_a_damaged_workbook_is_refused_in_one_turkish_line(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    path.write_bytes(b"PK\x03\x04 not a zip archive \x00\x01")
    english, turkish = both("validate", "--format", "json", str(path))
    assert turkish.exit_code == english.exit_code == 2
    en, tr = json.loads(english.stdout), json.loads(turkish.stdout)
    assert without_messages_of_files(tr) == without_messages_of_files(en)
    (problem,) = tr["files"][0]["problems"]
    assert problem["rule"] == "unreadable"
    assert problem["message"].startswith(f"{path}: okunabilir bir XLSX çalışma kitabı değil (")
    assert "not a readable" not in turkish.output and "Traceback" not in turkish.output


# --------------------------------------------------------------------------- the annotated workbook


WORKBOOK_ENGLISH = (
    "validation report",
    "red cell",
    "amber cell",
    "each marked cell",
    "Rows: row N",
    "A problem of a whole row",
    "Bundle summary",
    "Problems without a cell",
    "first example",
    "was not checked",
    "the bundle has no",
    "write '",
    "omnimig fix does it",
    "Rows left out",
    "left out of sheet",
    "no cell; listed below",
)


def workbook(tmp_path: Path, lang: str, *extra: str) -> tuple[Result, openpyxl.Workbook]:
    out = tmp_path / f"{lang}.xlsx"
    result = run("--lang", lang, "validate", str(ORDERS), "--report", str(out), *extra)
    return result, openpyxl.load_workbook(out)


def marks(ws: Any) -> dict[str, tuple[str | None, list[str]]]:
    """Every cell with a note: its fill colour and the rule codes its note names, in order."""
    found = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.comment is not None:
                found[cell.coordinate] = (cell.fill.fgColor.rgb, re.findall(r"\[([a-z-]+)\]", cell.comment.text))
    return found


def texts(ws: Any) -> list[str]:
    return [str(c.value) for row in ws.iter_rows() for c in row if c.value is not None]


def test_the_turkish_workbook_has_turkish_titles_labels_and_notes_on_the_same_cells(tmp_path: Path) -> None:
    english, en = workbook(tmp_path, "en")
    turkish, tr = workbook(tmp_path, "tr")
    assert turkish.exit_code == english.exit_code == 1
    assert en.sheetnames == [SUMMARY_SHEET, "orders"]
    assert tr.sheetnames == ["Özet", "orders"]  # the file's own sheet keeps the file's name
    # the same cells marked, with the same colours and the same rule codes
    assert marks(tr["orders"]) == marks(en["orders"]) and len(marks(en["orders"])) == 6
    notes = {c: tr["orders"][c].comment.text for c in marks(tr["orders"])}
    assert notes["F3"].startswith(
        "→ buraya '129.90' yazın (omnimig fix bunu sizin yerinize yapar)\nhata [type] amount (tutar)"
    )
    assert all(("hata [" in n or "uyarı [" in n) and "alanındaki" in n for n in notes.values())
    # the data sheet's header and values are the file's, in both languages
    assert [c.value for c in tr["orders"][1]] == [c.value for c in en["orders"][1]]
    summary = tr["Özet"]
    assert summary["A1"].value == "omnimig doğrulama raporu"
    assert summary["A2"].value == "1 dosya, 4 satır: 5 hata, 1 uyarı"
    shown = texts(summary)
    assert "kırmızı hücre: hata" in shown and "sarı hücre: uyarı" in shown
    assert header_row(summary, "biçim") == ["dosya", "tür", "biçim", "satır", "hata", "uyarı", "sayfa", "not"]
    assert header_row(summary, "ilk örnek") == ["dosya", "kural", "alan", "önem", "adet", "ilk örnek"]
    assert "Paket özeti" in shown and "Sayfalarda hücresi olmayan sorunlar" in shown
    assert "Paket: order.user -> user.customer_code ilişkisi kontrol edilmedi: pakette user dosyası yok" in shown
    assert english_left("\n".join(shown + list(notes.values())), WORKBOOK_ENGLISH) == []
    # rule codes in the Summary's table are the same as in English
    assert rule_column(summary, "ilk örnek") == rule_column(en[SUMMARY_SHEET], "first example")
    assert "type" in rule_column(summary, "ilk örnek")


def header_row(ws: Any, marker: str) -> list[str]:
    for row in ws.iter_rows(values_only=True):
        if marker in row:
            return [v for v in row if v is not None]
    raise AssertionError(f"no row with {marker!r}")


def rule_column(ws: Any, marker: str) -> list[str]:
    """The rule codes of the Summary's table of problems (the one whose header holds ``marker``)."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, row in enumerate(rows) if marker in row)
    codes = []
    for row in rows[start + 1 :]:
        if row[0] is None:
            break
        codes.append(row[1])
    return codes


def test_a_truncated_turkish_sheet_names_its_extra_column_and_says_what_was_left_out(tmp_path: Path) -> None:
    english, en = workbook(tmp_path, "en", "--report-rows", "1")
    turkish, tr = workbook(tmp_path, "tr", "--report-rows", "1")
    assert turkish.exit_code == english.exit_code
    assert en["orders"]["A1"].value == "file row" and tr["orders"]["A1"].value == "dosya satırı"
    assert marks(tr["orders"]) == marks(en["orders"])
    shown = texts(tr["Özet"])
    assert "Sayfaya alınmayan satırlar" in shown
    assert any('3 satır "orders" sayfasına alınmadı (sayfa başına en fazla 1 satır)' in t for t in shown)
    assert any("A sütunu (dosya satırı)" in t for t in shown)
    assert "satırları sayfaya alınmadı" in shown  # the first-example cell of a rule whose rows were all left out
    assert english_left("\n".join(shown), WORKBOOK_ENGLISH) == []


# --------------------------------------------------------------------------- schemas, split, summary figures


def test_schemas_in_turkish_explains_the_rules_and_keeps_akinon_names() -> None:
    english, turkish = both("schemas", "order", env={"COLUMNS": "250"})
    assert turkish.exit_code == english.exit_code == 0
    out = " ".join(turkish.output.split())  # the table and the lines are wrapped to the terminal
    assert "benzersiz anahtar: number" in out and "dosya adları: order, orders" in out
    assert "user değeri user.customer_code içinde bulunmalı" in out
    assert "en fazla 512 karakter" in out and "ondalık sayı" in out and "zorunlu" in out and "tutar" in out
    assert "amount" in out and "installment_count" in out  # field names stay as Akinon names them
    assert english_left(out, ("unique key", "file names", "must exist as", "decimal places", "rules from")) == []


def test_the_split_line_and_the_held_reason_are_turkish(tmp_path: Path) -> None:
    count = SplitCount("orders.csv", 4, 1, 3, "out/ready/orders.csv", "out/held/orders.csv")
    english = count.line()
    i18n.use("tr")
    assert (
        count.line()
        == "orders.csv ayrıldı: 4 satır = 1 hazır (out/ready/orders.csv) + 3 bekletilen (out/held/orders.csv)"
    )
    assert english == "split orders.csv: 4 rows = 1 ready (out/ready/orders.csv) + 3 held (out/held/orders.csv)"
    turkish = run("--lang", "tr", "validate", str(BUNDLE), "--split", str(tmp_path / "out"))
    assert turkish.exit_code == 1
    held = (tmp_path / "out" / "held" / "address.csv").read_text(encoding="utf-8")
    assert "bekletildi: user C0002 kaydında hata var" in held  # held because its user has errors
    assert "[foreign-key] user (müşteri kodu) alanındaki" in held


def test_summary_figures_use_turkish_number_formatting(tmp_path: Path) -> None:
    english, turkish = both("validate", str(BUNDLE), "--summary")
    assert turkish.exit_code == english.exit_code
    assert re.search(r"order amount by currency +TRY 409\.60", english.output)
    assert re.search(r"order amount \(currency bazında\) +TRY 409,60", turkish.output)
    assert re.search(
        r"user başına order +en az 1, ortanca 1, en çok 1; 2 user kaydının 0 tanesinde hiç yok", turkish.output
    )
