"""Türkçe transform: the summary, rejects.csv and changes.csv reasons in Turkish, everything a program reads unchanged.

The same export is transformed in English and in Turkish: the files written, the CSV headers, the
codes, the record labels, the counts and the exit code must be identical; only the human text (the
summary lines, ``reason`` and ``message``) changes language.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from omnimig import i18n
from omnimig.cli import app
from omnimig.transforms import normalize as nz
from omnimig.transforms.outdir import MANIFEST
from omnimig.transforms.records import Tally, TypeTally

ROOT = Path(__file__).resolve().parent.parent
WOO = ROOT / "tests" / "data" / "transform" / "woocommerce" / "orders.csv"
WOO_MAPPING = ROOT / "omnimig" / "transforms" / "mappings" / "woocommerce.toml"
TURKISH = ROOT / "tests" / "data" / "transform" / "mapping" / "siparisler.csv"
TURKISH_MAPPING = ROOT / "omnimig" / "transforms" / "mappings" / "turkish-platform.toml"
#: An accounting line in either language: ``NAME: N WORDS = W WORDS + M WORDS + R WORDS``.
ACCOUNT = re.compile(
    r"^(?P<name>.+?): (?P<total>[\d.,]+) [^=]+ = (?P<w>[\d.,]+) \S+ \+ (?P<m>[\d.,]+) \S+ \+ (?P<r>[\d.,]+) \S+$"
)


@pytest.fixture(autouse=True)
def language_chosen_again() -> Iterator[None]:
    """A test that picks Turkish must not leave it to the next test in the process."""
    yield
    i18n.use(None)


def transform(lang: str, out: Path, *args: object) -> Result:
    result = CliRunner().invoke(app, ["--lang", lang, "transform", *(str(a) for a in args), "--out", str(out)])
    assert "Traceback" not in result.output, result.output
    return result


def table(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def accounts(output: str) -> list[tuple[int, int, int, int]]:
    """The numbers of every accounting line, whatever the language (``1.204`` and ``1,204`` alike)."""
    found = []
    for line in output.splitlines():
        m = ACCOUNT.match(line)
        if m:
            found.append(tuple(int(re.sub(r"[.,]", "", m[k])) for k in ("total", "w", "m", "r")))
    return found  # type: ignore[return-value]


@pytest.fixture(scope="module")
def woo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Result, Path]]:
    """The WooCommerce fixture (a rejected order and its line, four listed changes) in both languages."""
    runs = {}
    for lang in ("en", "tr"):
        out = tmp_path_factory.mktemp(lang) / "woo"
        runs[lang] = (transform(lang, out, "mapping", WOO, "--mapping", WOO_MAPPING), out)
    i18n.use(None)
    return runs


def test_the_turkish_summary_keeps_the_numbers_shape_and_exit_code(woo: dict[str, tuple[Result, Path]]) -> None:
    english, turkish = woo["en"][0], woo["tr"][0]
    assert english.exit_code == turkish.exit_code == 1  # an order was rejected, in any language
    assert accounts(english.stdout) == accounts(turkish.stdout)
    assert len(accounts(turkish.stdout)) == 5  # the input's rows, then users, addresses, orders, items
    assert all(total == w + m + r for total, w, m, r in accounts(turkish.stdout))
    out = turkish.stdout
    assert f"{WOO}: 12 satır okundu = 11 yazıldı + 0 birleştirildi + 1 reddedildi" in out
    assert "siparişler: 12 görüldü = 11 yazıldı + 0 birleştirildi + 1 reddedildi" in out
    assert "sipariş kalemleri: 15 görüldü = 14 yazıldı + 0 birleştirildi + 1 reddedildi" in out
    # types and codes stay as a program reads them; the words around them are Turkish
    assert "klasörüne yazıldı: 11 user, 12 address, 11 order, 14 order_item" in out
    assert "reddedildi: 1 order, 1 order_item; her biri gerekçesiyle" in out
    assert (
        "dönüştürme sırasında değiştirildi: "
        "1 code-unconfirmed, 1 value-dropped, 1 value-skipped, 1 date-joined-fallback" in out
    )
    assert "71 value-mapped; --explain bunları changes.csv dosyasında listeler" in out
    assert "order.currency için varsayılan değer kullanıldı (11 satır)" in out
    assert (
        'order.bank: "-" varsayılan değeri 2 kayıtta kullanıldı (payment_type değeri "pay_on_delivery" olduğunda)'
        in out
    )
    assert "  user.password: woocommerce.toml dosyasında eşlenmemiş; --password-policy unusable" in out
    assert "(11 kaydın 11 tanesinde boş)" in out
    assert "yazılan dosyaların doğrulaması: 64 hata, 0 uyarı" in out
    assert "  hata user.sms_allowed required ×11: sms_allowed (SMS izni) zorunlu bir alan, ancak boş" in out
    for english_word in ("rows read", " seen ", " written", "merged", "left empty", "validate on", "default used"):
        assert english_word not in out, english_word


def test_an_english_run_is_unchanged(woo: dict[str, tuple[Result, Path]]) -> None:
    out = woo["en"][0].stdout
    assert f"{WOO}: 12 rows read = 11 written + 0 merged + 1 rejected" in out
    assert "orders: 12 seen = 11 written + 0 merged + 1 rejected" in out
    assert "validate on the written files: 64 errors, 0 warnings" in out
    _, rejects = table(woo["en"][1] / "rejects.csv")
    assert rejects[1][-1].startswith('its order 1009 was rejected: column "date": ')


def test_rejects_csv_changes_only_its_reasons(woo: dict[str, tuple[Result, Path]]) -> None:
    (en_header, en_rows), (tr_header, tr_rows) = (table(woo[lang][1] / "rejects.csv") for lang in ("en", "tr"))
    assert (
        tr_header
        == en_header
        == ["source_file", "source_row", "source_line", "target_type", "record", "field", "reason"]
    )
    assert [r[:-1] for r in tr_rows] == [r[:-1] for r in en_rows]  # place, type, record label, field: identical
    assert [r[4] for r in tr_rows] == ["order 1009", "item of order 1009"]  # labels a program may parse
    order, item = (r[-1] for r in tr_rows)
    assert order == '"date" sütunu: "2/30/2024 10:00" değeri takvimde olmayan bir tarih (yıl 2024, ay 2, gün 30)'
    # a dependant names its rejected parent and composes the parent's own Turkish reason
    assert item == f"bağlı olduğu kayıt (order 1009) reddedildi: {order}"
    assert all(a != b for a, b in zip((r[-1] for r in en_rows), (r[-1] for r in tr_rows), strict=True))


def test_changes_csv_changes_only_its_messages(woo: dict[str, tuple[Result, Path]]) -> None:
    (en_header, en_rows), (tr_header, tr_rows) = (table(woo[lang][1] / "changes.csv") for lang in ("en", "tr"))
    assert tr_header == en_header and en_header[-2:] == ["code", "message"]
    assert [r[:-1] for r in tr_rows] == [r[:-1] for r in en_rows]  # before, after and the codes too
    assert [r[-2] for r in tr_rows] == ["code-unconfirmed", "value-dropped", "value-skipped", "date-joined-fallback"]
    messages = [r[-1] for r in tr_rows]
    assert messages[0].startswith('status alanındaki "refunded" değeri 600 (refunded (unconfirmed)) koduna eşlendi')
    assert messages[1].startswith(
        'phone alanı boş bırakıldı: "billing_phone" sütunu: "0212 555 12 34" değeri bir Türkiye'
    )
    assert "0212 sabit hat ya da servis numarası ön eki" in messages[1]
    assert messages[2].endswith("bu değer müşteri için atlandı, müşteri diğer satırlardan gelen değerleri korur")
    assert messages[3].startswith("date_joined için okunabilen bir sipariş tarihi yok")


def test_the_written_bundle_is_the_same_in_both_languages(woo: dict[str, tuple[Result, Path]]) -> None:
    """Only the logs' human text differs: every target file is byte-identical."""
    en, tr = woo["en"][1], woo["tr"][1]
    names = sorted(p.name for p in en.iterdir() if p.name not in ("rejects.csv", "changes.csv", MANIFEST))
    assert names == sorted(p.name for p in tr.iterdir() if p.name not in ("rejects.csv", "changes.csv", MANIFEST))
    assert names
    for name in names:
        assert (en / name).read_bytes() == (tr / name).read_bytes(), name


def test_a_row_of_an_order_that_disagrees_names_its_row_in_turkish(tmp_path: Path) -> None:
    """The Turkish-platform fixture: an order rejected for one of its rows, its lines with it, a user without a key."""
    english = transform("en", tmp_path / "en", "mapping", TURKISH, "--mapping", TURKISH_MAPPING)
    turkish = transform("tr", tmp_path / "tr", "mapping", TURKISH, "--mapping", TURKISH_MAPPING)
    assert english.exit_code == turkish.exit_code == 1
    assert accounts(english.stdout) == accounts(turkish.stdout)
    (en_header, en_rows), (tr_header, tr_rows) = (table(tmp_path / d / "rejects.csv") for d in ("en", "tr"))
    assert tr_header == en_header and [r[:-1] for r in tr_rows] == [r[:-1] for r in en_rows]
    reasons = {r[4]: r[-1] for r in tr_rows}
    assert reasons["order 100004"].startswith("siparişin satırlarından biri (satır 7): ")
    assert reasons["item of order 100004"] == f"bağlı olduğu kayıt (order 100004) reddedildi: {reasons['order 100004']}"
    assert reasons["user (no customer_code)"] == "customer_code (müşteri kodu) zorunlu bir alan, ancak boş"


def test_counts_in_turkish_text_use_the_turkish_thousands_separator() -> None:
    i18n.use("tr")
    assert Tally("siparisler.csv", "row", 1204, 1200, 0, 4).line() == (
        "siparisler.csv: 1.204 satır okundu = 1.200 yazıldı + 0 birleştirildi + 4 reddedildi"
    )
    assert Tally("orders.json", "order line", 7, 4, 2, 1).line() == (
        "orders.json: 7 sipariş satırı okundu = 4 yazıldı + 2 birleştirildi + 1 reddedildi"
    )
    assert TypeTally("order_item", 12_000, 11_000, 500, 500).line() == (
        "sipariş kalemleri: 12.000 görüldü = 11.000 yazıldı + 500 birleştirildi + 500 reddedildi"
    )
    i18n.use("en")
    assert TypeTally("order_item", 12_000, 11_000, 500, 500).line() == (
        "order items: 12,000 seen = 11,000 written + 500 merged + 500 rejected"
    )


@pytest.mark.parametrize(
    ("call", "turkish"),
    [
        (lambda: nz.decimal("1.234"), '"1.234" değeri belirsiz: "." ondalık ayırıcı da olabilir'),
        (lambda: nz.date("01/02/2023"), '"01/02/2023" değeri belirsiz: gün/ay sırası bilinmiyor'),
        (lambda: nz.phone("+44 20 7946 0958"), "yabancı bir numara (+90 değil); beklenen: 5 ile başlayan 10 rakam"),
        (lambda: nz.boolean("belki"), '"belki" değeri bir evet/hayır değeri değil; beklenen: evet için evet/yes'),
    ],
)
def test_a_value_a_normaliser_cannot_read_is_explained_in_turkish(call: object, turkish: str) -> None:
    i18n.use("tr")
    with pytest.raises(nz.NormaliseError) as caught:
        call()  # type: ignore[operator]
    assert turkish in str(caught.value)


def test_a_mapping_mistake_is_refused_in_turkish_with_the_same_exit_code(tmp_path: Path) -> None:
    broken = tmp_path / "m.toml"
    text = TURKISH_MAPPING.read_text(encoding="utf-8").replace("[order]\n", '[order]\nnumbr = "Sipariş No"\n', 1)
    broken.write_text(text, encoding="utf-8")
    english = transform("en", tmp_path / "en", "mapping", TURKISH, "--mapping", broken)
    turkish = transform("tr", tmp_path / "tr", "mapping", TURKISH, "--mapping", broken)
    assert english.exit_code == turkish.exit_code == 2
    assert "[order] has no field 'numbr' (did you mean \"number\"?)" in english.output
    assert "[order] tablosunda 'numbr' diye bir alan yok (bunu mu demek istediniz: \"number\"); alanları:" in (
        turkish.output.replace("\n", " ")
    )
    assert f"{broken}, satır " in turkish.output  # the file and line, in Turkish words
    assert not (tmp_path / "tr").exists()  # refused before anything was written


def test_a_folder_omnimig_did_not_make_is_refused_in_turkish(tmp_path: Path) -> None:
    out = tmp_path / "Downloads"
    out.mkdir()
    (out / "thesis.docx").write_text("mine", encoding="utf-8")
    result = transform("tr", out, "mapping", WOO, "--mapping", WOO_MAPPING)
    assert result.exit_code == 2
    assert "klasör boş değil ve omnimig tarafından oluşturulmamış" in " ".join(result.output.split())
    assert sorted(p.name for p in out.iterdir()) == ["thesis.docx"]


def test_the_omnitron_and_shopify_sources_speak_turkish_too(tmp_path: Path) -> None:
    """The JSON source counts orders and order lines; Shopify's notes are counted messages."""
    data = ROOT / "tests" / "data" / "transform"
    omnitron = transform("tr", tmp_path / "om", "omnitron-orders", data / "omnitron" / "orders.json")
    assert omnitron.exit_code == 1
    assert ": 4 sipariş okundu = 3 yazıldı + 0 birleştirildi + 1 reddedildi" in omnitron.stdout
    assert ": 7 sipariş satırı okundu = 4 yazıldı + 2 birleştirildi + 1 reddedildi" in omnitron.stdout
    header, rows = table(tmp_path / "om" / "rejects.csv")
    assert header[-1] == "reason" and [r[3] for r in rows] == ["order", "order_item"]
    assert rows[1][-1] == f"bağlı olduğu kayıt (order 1057000000000004) reddedildi: {rows[0][-1]}"
    assert rows[0][-1].startswith("siparişin müşterisinin e-postası yok")
    shop = data / "shopify"
    shopify = transform("tr", tmp_path / "sh", "shopify", shop / "orders_export.csv", shop / "customers_export.csv")
    assert shopify.exit_code == 1
    assert "müşteri dışa aktarımında olmayan 1 alıcı: müşteri kayıtları siparişlerinden oluşturuldu" in shopify.stdout
    assert "iade edilen 1 sipariş 600 durum kodunu aldı" in shopify.stdout
    _, changes = table(tmp_path / "sh" / "changes.csv")
    codes = {r[-2]: r[-1] for r in changes}
    assert codes["sku-empty"] == "sipariş kaleminin SKU değeri yok (özel bir ürün mü?)"
    assert codes["status-cancelled"].startswith("iptal tarihi ")
