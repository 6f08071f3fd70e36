"""The command line in Turkish: help pages, usage errors, upload, schemas, samples and test sets.

Only the human text changes with the language: option names, exit codes, the journal and the
files written stay the same. Every run goes through typer's CliRunner; uploads go to the fake
Omnitron on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig import i18n
from omnimig.cli import app
from omnimig.uploader.fake_server import FakeOmnitron

TOKEN = "tok-TR-51c0ffee9a"
BUNDLE = Path(__file__).resolve().parent / "data" / "bundle"


def invoke(args: list[str], **env: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, args, env={"OMNIMIG_TOKEN": "", **env}, prog_name="omnimig")
    return result.exit_code, result.output


def flat(text: str) -> str:
    """``text`` with every run of white space one space: help pages wrap their lines."""
    return " ".join(text.split())


def words(text: str) -> set[str]:
    return set(re.findall(r"[\w-]+", text))


# --------------------------------------------------------------------------- help pages


def test_main_help_in_turkish_by_option_or_environment_and_english_unchanged() -> None:
    code_en, english = invoke(["--help"])
    code_opt, by_option = invoke(["--lang", "tr", "--help"])
    code_env, by_env = invoke(["--help"], OMNIMIG_LANG="tr")
    assert code_en == code_opt == code_env == 0
    assert by_option == by_env
    for turkish in ("Kullanım:", "Seçenekler:", "Komutlar:", "Bu yardımı gösterir ve çıkar.", "Sürümü yazar ve çıkar."):
        assert turkish in by_option
        assert turkish not in english
    assert "Usage:" in english and "Options:" in english and "Show this message and exit." in english
    assert "Akinon (Omnitron) veri taşıma dosyalarını denetler" in by_option  # the app's own help
    assert "Taşıma dosyalarını her alan kuralına göre denetler" in by_option  # a command's one-line help
    # option and command names are what a person types: the same in both
    names = {"--version", "--debug", "--lang", "--help", "validate", "upload", "schemas", "samples"}
    assert names <= words(english) and names <= words(by_option)


def test_validate_help_in_turkish_with_lang_before_the_command() -> None:
    code, output = invoke(["--lang", "tr", "validate", "--help"])
    assert code == 0
    output = flat(output)
    assert "Kullanım: omnimig validate [OPTIONS] PATH..." in output
    assert "Denetlenecek dosyalar ya da klasörler." in output
    assert "[zorunlu]" in output and "[varsayılan: text]" in output
    # a help text built from the schemas keeps its values: the type names
    assert "Dosya adlarından anlaşılmadığında taşıma türü: user, address, order, order_item." in output
    assert "--format" in output and "--strict" in output


def test_upload_help_in_turkish_with_lang_after_the_command() -> None:
    code, output = invoke(["upload", "--lang", "tr", "--help"])
    assert code == 0
    output = flat(output)
    assert "Paketi denetler, sonra sırayla (user, address, order, order_item) Omnitron'a yükler" in output
    assert "API anahtarını tutan ortam değişkeni." in output
    assert "[varsayılan: OMNIMIG_TOKEN]" in output
    assert "Environment variable holding the API token." not in output


def test_help_in_english_is_the_message_ids() -> None:
    code, output = invoke(["upload", "--help"])
    assert code == 0
    output = flat(output)
    assert "Environment variable holding the API token. [default: OMNIMIG_TOKEN]" in output
    assert "varsayılan" not in output


# --------------------------------------------------------------------------- usage errors


def test_a_usage_error_is_one_turkish_line_with_exit_2(tmp_path: Path) -> None:
    code, output = invoke(["--lang", "tr", "samples", "--out", str(tmp_path / "s"), "--customer", "C1"])
    assert code == 2
    assert output.strip() == "omnimig: hata: --customer yalnızca --test-set ile birlikte kullanılır"
    code_en, english = invoke(["samples", "--out", str(tmp_path / "s"), "--customer", "C1"])
    assert code_en == 2
    assert english.strip() == "omnimig: error: --customer goes with --test-set"


def test_an_unknown_language_after_the_command_is_exit_2_in_the_language_of_the_environment(tmp_path: Path) -> None:
    code, output = invoke(["validate", "--lang", "de", str(tmp_path)], OMNIMIG_LANG="tr")
    assert code == 2
    assert "'de' geçerli bir seçenek değil; kullanılabilenler: tr, en" in output


@pytest.mark.parametrize(
    ("args", "turkish", "english"),
    [
        (["validate", "--fromat", "json", "x"],
         "Hata: Böyle bir seçenek yok: --fromat (olası seçenekler: --format, --report)",
         "Error: No such option: --fromat (Possible options: --format, --report)"),
        (["upload", "x", "--url", "https://o.example.com"], "Hata: Eksik seçenek: '--channel'.",
         "Error: Missing option '--channel'."),
        (["validate", "-f", "xml", "x"],
         "Hata: '--format' / '-f' için geçersiz değer: 'xml' geçerli bir seçenek değil; "
         "kullanılabilenler: 'text', 'json', 'csv'",
         "Error: Invalid value for '--format' / '-f': Value error, 'xml' is not one of 'text', 'json', 'csv'."),
        (["validate", "--max-examples", "-1", "x"], "Hata: '--max-examples' için geçersiz değer: en az 0 olmalı",
         "Error: Invalid value for '--max-examples': Input should be greater than or equal to 0"),
        (["nope"], "Hata: Böyle bir komut yok: 'nope'.", "Error: No such command 'nope'."),
    ],
)  # fmt: skip
def test_click_usage_errors_in_turkish_keep_exit_2_and_the_usage_line(
    args: list[str], turkish: str, english: str
) -> None:
    code_tr, output_tr = invoke(["--lang", "tr", *args])
    code_en, output_en = invoke(args)
    assert code_tr == code_en == 2
    assert output_tr.splitlines()[-1] == turkish
    assert output_en.splitlines()[-1] == english
    assert output_tr.startswith("Kullanım: omnimig ") and "Yardım için şunu çalıştırın: omnimig " in output_tr
    assert output_en.startswith("Usage: omnimig ") and "for help." in output_en


# --------------------------------------------------------------------------- upload


def normalised(state: Path) -> object:
    """The journal with what differs between two runs (migration ids, times) masked."""
    text = (state / "journal.json").read_text(encoding="utf-8")
    data = json.loads(text)
    ids = {p["migration_id"] for f in data["files"].values() for p in f["parts"].values() if p.get("migration_id")}
    for migration_id in ids:
        text = text.replace(migration_id, "<id>")
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)?", "<time>", text)
    return json.loads(text)


def upload(tmp_path: Path, name: str, lang: str | None, url: str, *extra: str) -> tuple[int, str, Path]:
    bundle = tmp_path / name
    shutil.copytree(BUNDLE, bundle)
    args = ["upload", str(bundle), "--url", url, "--channel", "5", "--poll-interval", "0.1", *extra]
    if lang is not None:
        args = ["--lang", lang, *args]
    code, output = invoke(args, OMNIMIG_TOKEN=TOKEN)
    return code, output, bundle


def everything_written(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_an_upload_in_turkish_sends_and_journals_what_english_does(tmp_path: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1) as server:
        code_en, english, en_bundle = upload(tmp_path, "en", None, server.url)
        code_tr, turkish, tr_bundle = upload(tmp_path, "tr", "tr", server.url)
        journal_tr, journal_en = normalised(tr_bundle / ".omnimig"), normalised(en_bundle / ".omnimig")
        again_code, again, _ = upload(tmp_path, "tr-again", "tr", server.url)  # another bundle folder: sent again
        resumed_code, resumed = invoke(
            ["--lang", "tr", "upload", str(tr_bundle), "--url", server.url, "--channel", "5"], OMNIMIG_TOKEN=TOKEN
        )
    assert code_en == code_tr == again_code == resumed_code == 0, turkish
    assert journal_tr == journal_en
    assert "taşıma " in turkish and "(yüklendi)" in turkish and "denetim kaydı:" in turkish
    assert "(uploaded)" in english and "(yüklendi)" not in english
    assert resumed.count("(atlandı)") == 4 and "zaten tamamlanmış" in resumed
    assert "processed" not in turkish and "journal:" not in turkish
    for text in (turkish, again, resumed, everything_written(tr_bundle / ".omnimig")):
        assert TOKEN not in text


def test_a_dry_run_in_turkish_prints_the_plan_in_turkish(tmp_path: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1) as server:
        code, output, _ = upload(tmp_path, "b", "tr", server.url, "--dry-run")
        assert server.requests == []
    assert code == 0
    assert "Yükleme planı: " in output and "ardından her taşıma için: GET " in output
    assert "4 dosya, 16 satır, 4 taşıma; denetim: 0 hata, 0 uyarı" in output
    assert "/api/v1/remote/5/migrations/start/user/" in output  # endpoints are not text


def test_a_stopped_upload_in_turkish_has_the_same_exit_code_and_journal(tmp_path: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1, errors={"address": 1}) as server:
        code_en, english, en_bundle = upload(tmp_path, "en", None, server.url)
        code_tr, turkish, tr_bundle = upload(tmp_path, "tr", "tr", server.url)
    assert code_en == code_tr == 1
    assert normalised(tr_bundle / ".omnimig") == normalised(en_bundle / ".omnimig")
    assert "stopped: address file address.csv" in english
    assert "durdu: address dosyası address.csv" in turkish
    assert "gönderilmeyenler: order.csv, order_item.json" in turkish
    assert TOKEN not in turkish


def test_upload_refusals_in_turkish_exit_2_and_never_show_the_token(tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    shutil.copytree(BUNDLE, bundle)
    base = ["--lang", "tr", "upload", str(bundle), "--channel", "5"]
    code, output = invoke([*base, "--url", "http://omnitron.example.com"], OMNIMIG_TOKEN=TOKEN)
    assert code == 2
    assert "şifresiz HTTP kullanıyor" in output and TOKEN not in output
    pasted = "tok-TR-\u200b51c0ffee9a"  # an invisible character pasted with the token
    code, output = invoke([*base, "--url", "https://omnitron.example.com"], OMNIMIG_TOKEN=pasted)
    assert code == 2
    assert "API anahtarının 18 karakterinden 8. karakteri U+200B (ZERO WIDTH SPACE)" in output
    assert pasted not in output and "51c0ffee9a" not in output
    code, output = invoke([*base, "--url", "https://omnitron.example.com"])
    assert code == 2
    assert "API anahtarı yok: OMNIMIG_TOKEN ortam değişkenini ayarlayın" in output
    assert not (bundle / ".omnimig").exists()


def test_an_unknown_type_in_turkish_names_the_option_typed_or_the_keyword_passed(tmp_path: Path) -> None:
    """``--only`` on the command line, ``only=`` from Python: the name as written, the rest in Turkish."""
    from omnimig.uploader import PlanError, upload_bundle

    bundle = tmp_path / "b"
    shutil.copytree(BUNDLE, bundle)
    names = "; şunlardan birini kullanın: user, address, order, order_item"
    base = ["--lang", "tr", "upload", str(bundle), "--channel", "5", "--url", "https://omnitron.example.com"]
    code, output = invoke([*base, "--restart", "buyers"], OMNIMIG_TOKEN=TOKEN)
    assert code == 2
    assert output.strip() == "omnimig: hata: --restart: bilinmeyen tür 'buyers'" + names
    i18n.use("tr")
    try:
        with pytest.raises(PlanError) as caught:
            upload_bundle(bundle, url="https://omnitron.example.com", channel=5, token=TOKEN, only="purchases")
    finally:
        i18n.use("en")
    assert str(caught.value) == "only=: bilinmeyen tür 'purchases'" + names
    assert not (bundle / ".omnimig").exists()


# --------------------------------------------------------------------------- schemas, samples, test sets


def test_schemas_in_turkish(tmp_path: Path) -> None:
    code, output = invoke(["--lang", "tr", "schemas", "--help"])
    assert code == 0
    output = flat(output)
    assert "Bir taşıma türünün (ya da dördünün) kurallarını okunaklı bir tablo olarak gösterir." in output
    code, output = invoke(["--lang", "tr", "schemas", "orderz"])
    assert code == 2
    assert (
        output.strip()
        == "omnimig: hata: bilinmeyen tür 'orderz'; şunlardan birini kullanın: user, address, order, order_item"
    )
    choices = tmp_path / "choices.json"
    choices.write_text('{"currencys": ["TRY"]}', encoding="utf-8")
    code, output = invoke(["--lang", "tr", "schemas", "order", "--choices", str(choices)])
    assert code == 2
    assert "bilinmeyen liste 'currencys'; bilinen listeler: " in output
    code, output = invoke(["--lang", "tr", "schemas", "order"])
    assert code == 0 and "amount" in output  # the rules table: field names as Akinon names them


def test_samples_in_turkish_write_the_same_files(tmp_path: Path) -> None:
    code_en, english = invoke(["samples", "--out", str(tmp_path / "en"), "--orders", "3"])
    code_tr, turkish = invoke(["--lang", "tr", "samples", "--out", str(tmp_path / "tr"), "--orders", "3"])
    assert code_en == code_tr == 0
    assert english.startswith("wrote ")
    assert f"{tmp_path / 'tr'} klasörüne " in turkish and " yazıldı" in turkish
    for written in sorted((tmp_path / "en").iterdir()):
        assert (tmp_path / "tr" / written.name).read_bytes() == written.read_bytes()


def test_a_test_set_in_turkish(tmp_path: Path) -> None:
    code, output = invoke(["--lang", "tr", "samples", "--test-set", str(BUNDLE), "--out", str(tmp_path / "t")])
    assert code == 0, output
    assert (
        "deneme paketi: müşteri C0001, sipariş ORD-2023-0001. Önce bunu yükleyin, sonra şunları kontrol edin:" in output
    )
    assert "sipariş kalemleri /users/old-orders/{pk} sayfasında görünüyor" in output


def test_counts_in_turkish_text_use_the_turkish_thousands_separator() -> None:
    from omnimig.sampling.generate import Written

    written = Written(rows={"user": 1204}, paths={"user": Path("out/user.csv")})
    i18n.use("tr")
    try:
        assert written.summary() == "out klasörüne 1.204 user yazıldı"
    finally:
        i18n.use("en")
    assert written.summary() == "wrote 1,204 user to out"


def test_validation_errors_refuse_the_upload_in_turkish_unless_forced(tmp_path: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1) as server:
        bundle = tmp_path / "b"
        shutil.copytree(BUNDLE, bundle)
        order = bundle / "order.csv"
        order.write_text(order.read_text(encoding="utf-8").replace(",TRY,", ",TL,", 1), encoding="utf-8")
        base = ["--lang", "tr", "upload", str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1"]
        code, output = invoke(base, OMNIMIG_TOKEN=TOKEN)
        assert code == 1
        assert server.starts() == []
        assert "omnimig: hata: denetimde 1 hata bulundu; hiçbir şey gönderilmedi." in flat(output)
        code, output = invoke([*base, "--force"], OMNIMIG_TOKEN=TOKEN)
        assert code == 0
        assert "omnimig: UYARI: 1 denetim hatası olmasına rağmen yükleniyor (--force)" in output
        assert len(server.starts()) == 4


def test_an_internal_error_is_one_turkish_line_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimig import api

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(api, "validate", broken)
    code, output = invoke(["--lang", "tr", "validate", str(tmp_path)])
    assert code == 2
    assert output.strip() == (
        "omnimig: hata: paketin denetlenmesi işlemi sırasında iç hata oluştu (ValueError: boom); "
        "hata izini görmek için --debug ile yeniden çalıştırın ve lütfen bildirin"
    )
