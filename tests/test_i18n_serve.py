"""Türkçe: the local page (``omnimig serve``) in Turkish — its text, not its structure, changes.

The page speaks the language omnimig runs in (``omnimig --lang tr serve``): the templates'
texts, the texts the page's script writes (sent in the page as JSON), the progress lines, the
refusals (403, 404, 413, 421) and the start/stop lines. What a program or the page's script reads
does not change: element ids, classes, links, the JSON endpoints' keys and codes, HTTP statuses.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from omnimig import i18n

pytest.importorskip("starlette", reason="the serve extra (pip install 'omnimig[serve]') is not installed")
with warnings.catch_warnings():  # starlette's note about httpx in its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from omnimig.serve import ServeError, parse_size
from omnimig.serve.routes import page_texts
from omnimig.serve.server import COOKIE, create_app
from omnimig.serve.sessions import Sessions, size_text

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
APP_JS = ROOT / "omnimig" / "serve" / "static" / "app.js"
PORT = 8765
TOKEN = "test-token-not-secret"
PAGE = {"X-Omnimig": "1"}
CLI = "from omnimig.cli import app; app()"
PLACEHOLDER = re.compile(r"(?<!\{)\{(\w*)\}(?!\})")


@pytest.fixture
def turkish() -> Iterator[None]:
    """Turkish for one test; English again afterwards (the suite reads English)."""
    i18n.use("tr")
    yield
    i18n.use("en")


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    store = Sessions(tmp_path / "serve-root", max_upload=10 * 1024**2)
    yield store
    store.close()


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The sample bundle with one known error: user.csv row 3, email."""
    target = tmp_path / "bundle"
    shutil.copytree(SAMPLES, target)
    user = target / "user.csv"
    text = user.read_text(encoding="utf-8")
    user.write_text(text.replace("birsan.sensoy.2@yandex.com", "<b>bad</b>", 1), encoding="utf-8")
    return target


@pytest.fixture
def many(tmp_path: Path) -> Path:
    """A user file of 1,204 rows, one with a bad email: counts a person reads as 1.204 in Turkish."""
    folder = tmp_path / "many"
    folder.mkdir()
    header = (SAMPLES / "user.csv").read_text(encoding="utf-8").splitlines()[0]
    rows = [
        f"C{n:05d},Ada,Yıldız,{'nope' if n == 7 else f'ada.{n}@example.com'},female,false,true,5631706690,"
        "1990-01-01,2021-02-27 13:05:00,0a122ffac24a56daac3bca7f4e6a6f68,md5"
        for n in range(1, 1205)
    ]
    (folder / "user.csv").write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return folder


def client(sessions: Sessions) -> TestClient:
    c = TestClient(create_app(sessions, TOKEN, PORT), base_url=f"http://127.0.0.1:{PORT}")
    c.cookies.set(COOKIE, TOKEN)
    return c


def checked(c: TestClient, folder: Path) -> str:
    """Upload ``folder`` as the page does, validate it and wait for the grid; the session id."""
    sid = c.post("/api/sessions", headers=PAGE).json()["id"]
    for path in sorted(folder.iterdir()):
        r = c.post(f"/api/sessions/{sid}/files", params={"name": path.name}, content=path.read_bytes(), headers=PAGE)
        assert r.status_code == 201, r.text
    assert c.post(f"/api/sessions/{sid}/validate", headers=PAGE).status_code == 202
    for _ in range(1500):
        if c.get(f"/api/sessions/{sid}").json()["phase"] in ("done", "failed"):
            break
        time.sleep(0.02)
    session = c.app.app.state.sessions.get(sid)  # type: ignore[attr-defined]
    while session.grid is not None and not all(f.ready for f in session.grid.files):
        time.sleep(0.02)
    return sid


class Structure(HTMLParser):
    """A page as a program sees it: each element with its id, classes, links and form names — no text."""

    KEPT = ("id", "class", "href", "name", "value", "type", "for", "data-row", "data-file", "data-rules", "data-key")

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, tuple[tuple[str, str | None], ...]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, tuple((k, v) for k, v in attrs if k in self.KEPT)))


def structure(html: str) -> list[tuple[str, tuple[tuple[str, str | None], ...]]]:
    parser = Structure()
    parser.feed(html)
    return parser.tags


def page_json(html: str) -> dict[str, str]:
    """The texts the page gives its script (``<script type="application/json" id="texts">``)."""
    match = re.search(r'<script type="application/json" id="texts">(.*?)</script>', html, re.S)
    assert match is not None
    return json.loads(match.group(1))


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


# --------------------------------------------------------------------------- the drop zone


def test_the_drop_zone_in_turkish_has_turkish_text_and_the_same_elements(sessions: Sessions) -> None:
    c = client(sessions)
    english = c.get("/").text
    i18n.use("tr")
    try:
        turkish = c.get("/").text
    finally:
        i18n.use("en")
    assert '<html lang="en">' in english and '<html lang="tr">' in turkish
    assert "Check a migration bundle" in english and "Check these files" in english
    assert "Taşıma paketini denetleyin" in turkish and "Bu dosyaları denetle" in turkish
    assert "Check these files" not in turkish and "Choose files" not in turkish
    assert "<code>omnimig serve --max-upload</code>" in turkish  # markup kept, the option not translated
    assert "en fazla 10 MB olabilir" in turkish
    assert structure(turkish) == structure(english)


def test_the_scripts_texts_are_sent_translated_with_the_same_keys_and_placeholders(
    sessions: Sessions, turkish: None
) -> None:
    texts = page_json(client(sessions).get("/").text)
    i18n.use("en")
    english = page_json(client(sessions).get("/").text)
    assert texts.keys() == english.keys()
    assert texts["lang"] == "tr" and texts["thousands"] == "." and texts["decimal"] == ","
    assert texts["sending"] == "bu bilgisayardaki omnimig programına gönderiliyor: {file} ({n}/{total})"
    assert texts["row"] == "satır {row}" and texts["file_other"] == "{n} dosya"
    for key in english:
        assert placeholders(texts[key]) == placeholders(english[key]), key


def test_the_scripts_english_fallbacks_are_the_english_texts_the_page_sends() -> None:
    """app.js shows its own English when the page's JSON is missing: it must be the catalogue's English."""
    source = APP_JS.read_text(encoding="utf-8")
    block = re.search(r"const T = Object\.assign\(\{(.*?)\}, \(", source, re.S)
    assert block is not None
    fallback = dict(re.findall(r'(\w+): "((?:[^"\\]|\\.)*)"', block.group(1)))
    sent = page_texts()
    del sent["lang"]
    assert fallback == sent


# --------------------------------------------------------------------------- the results


def test_the_results_in_turkish_keep_codes_counts_ids_and_links(
    sessions: Sessions, broken: Path, turkish: None
) -> None:
    c = client(sessions)
    sid = checked(c, broken)
    html = c.get(f"/s/{sid}").text
    assert '<html lang="tr">' in html and "<h1>Sonuçlar</h1>" in html
    assert "Hata bulundu" in html and "Notlu çalışma kitabı (.xlsx)" in html
    assert re.search(r"4 dosya, \d+ satır: 1 hata, 4 uyarı", re.sub(r"<[^>]+>", "", html))  # nouns stay singular
    assert '<strong id="total-errors">1</strong>' in html and '<strong id="total-warnings">4</strong>' in html
    assert "<code>email</code> alanında <code>pattern</code>" in html  # the rule code and the field stay
    assert f'href="/s/{sid}/files/0?rule=pattern&amp;row=3">satır 3</a>' in html
    assert "alanındaki" in html  # the problem message itself is Turkish (written when validated)
    assert "&lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad</b>" not in html  # a value stays text
    assert '<span class="icon" aria-hidden="true">✖</span> hata</span>' in html
    i18n.use("en")
    english = c.get(f"/s/{sid}").text
    assert '<html lang="en">' in english and "<h1>Results</h1>" in english
    assert structure(html) == structure(english)


def test_the_status_json_is_the_same_in_turkish_but_its_line_of_text(
    sessions: Sessions, broken: Path, turkish: None
) -> None:
    c = client(sessions)
    sid = checked(c, broken)
    status = c.get(f"/api/sessions/{sid}").json()
    assert status["phase"] == "done" and status["text"] == "denetlendi"
    assert (status["errors"], status["warnings"], status["exit_code"]) == (1, 4, 1)
    keys = {"id", "files", "phase", "text", "done", "total", "valid", "errors", "warnings", "rows", "exit_code"}
    assert set(status) == keys | {"results"}
    assert set(status["results"][0]) == {"file", "type", "rows", "errors", "warnings"}


def test_counts_on_the_page_are_written_the_turkish_way(sessions: Sessions, many: Path, turkish: None) -> None:
    c = client(sessions)
    sid = checked(c, many)
    results = c.get(f"/s/{sid}").text
    assert '<td class="num">1.204</td>' in results
    assert "1 dosya, 1.204 satır" in re.sub(r"<[^>]+>", "", results)
    grid = c.get(f"/s/{sid}/files/0").text
    assert "(user, 1.204 satır)" in grid
    assert "1.204 satır;" in grid and "sayfa 1/25." in grid  # 50 rows a page
    rows = c.get(f"/s/{sid}/files/0?only=problems").text
    assert "1 sorunlu satır;" in rows
    # No English separator left (the bundle summary's figures come from omnimig.validation, not the page).
    assert "1,204" not in results.split('<section aria-labelledby="stats-h">')[0] + grid


def test_the_grid_in_turkish_has_the_same_cells_keys_and_pager(sessions: Sessions, broken: Path, turkish: None) -> None:
    c = client(sessions)
    sid = checked(c, broken)
    html = c.get(f"/s/{sid}/files/0?rule=pattern&row=3").text
    assert "pattern kuralında sorunu olan 1 satır" in re.sub(r"<[^>]+>", "", html)
    assert "Tuşlar: <kbd>n</kbd> / <kbd>p</kbd> sonraki / önceki sorunlu hücre" in html
    assert "« ilk" in html and "sonraki ›" in html and 'aria-label="Sayfalar"' in html
    cell = re.search(r'<td class="cell c-error" tabindex="0" data-rules="pattern" title="([^"]*)"', html)
    assert cell is not None and cell.group(1).startswith("hata [pattern] email (e-posta")
    assert '<tr id="r3" data-row="3" class="focus">' in html and '<option value="pattern" selected>' in html
    i18n.use("en")
    english = c.get(f"/s/{sid}/files/0?rule=pattern&row=3").text
    assert "1 row with problems of <code>pattern</code>;" in english
    assert structure(html) == structure(english)


# --------------------------------------------------------------------------- refusals and the command


def test_refusals_are_turkish_with_the_same_status(sessions: Sessions, turkish: None) -> None:
    c = client(sessions)
    assert c.get("/", headers={"host": "evil.example"}).status_code == 421
    assert "yalnızca kendi adresinden" in c.get("/", headers={"host": "evil.example"}).text
    bare = TestClient(create_app(sessions, TOKEN, PORT), base_url=f"http://127.0.0.1:{PORT}")
    refused = bare.get("/")
    assert refused.status_code == 403 and "terminalde yazdığı adresi açın" in refused.text
    gone = c.get("/s/nothing")
    assert gone.status_code == 404 and "<h1>Bulunamadı</h1>" in gone.text and "böyle bir paket yok" in gone.text
    assert c.get("/api/sessions/nothing").json() == {
        "error": "böyle bir paket yok (silinmiş ya da sunucu yeniden başlatılmış): dosyaları yeniden bırakın"
    }
    small = Sessions(sessions.root.parent / "small", max_upload=1024**2 + 512 * 1024)
    try:
        s = client(small)
        sid = s.post("/api/sessions", headers=PAGE).json()["id"]
        files = f"/api/sessions/{sid}/files"
        big = s.post(files, params={"name": "user.csv"}, content=b"x" * 2 * 1024**2, headers=PAGE)
        assert big.status_code == 413
        assert big.json()["error"] == (
            "paket, bu sayfanın kabul ettiği 1,5 MB sınırından büyük (omnimig serve --max-upload)"
        )
        empty = s.post(f"/api/sessions/{sid}/validate", headers=PAGE)
        assert empty.status_code == 400 and empty.json()["error"].startswith("henüz dosya yüklenmedi")
    finally:
        small.close()


def test_sizes_and_option_errors_in_turkish(turkish: None) -> None:
    assert size_text(3 * 1024**3 // 2) == "1,5 GB" and size_text(2 * 1024**3) == "2 GB"
    assert size_text(1000) == "1.000 bayt" and size_text(1000 * 1024**2) == "1000 MB"
    with pytest.raises(ServeError, match=r"^'lots' boyutu geçerli değil: bir bayt sayısı"):
        parse_size("lots")
    i18n.use("en")
    assert size_text(3 * 1024**3 // 2) == "1.5 GB" and size_text(1000) == "1,000 bytes"


def test_omnimig_lang_tr_serve_says_where_to_go_and_that_it_stopped_in_turkish(tmp_path: Path) -> None:
    """The command in a subprocess (it serves until Ctrl-C), on 127.0.0.1 only."""
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}  # the address line arrives at once
    with subprocess.Popen(
        [sys.executable, "-c", CLI, "--lang", "tr", "serve", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.fullmatch(r"omnimig serve: şu adresi açın: (http://127\.0\.0\.1:\d+/\?token=[\w-]{20,})\n", line)
            assert match is not None, line
            assert "bıraktığınız dosyalar bu bilgisayarda kalır" in proc.stdout.readline()
            with httpx.Client(timeout=10, follow_redirects=True) as http:
                for _ in range(100):
                    try:
                        r = http.get(match.group(1))
                        break
                    except httpx.ConnectError:
                        time.sleep(0.05)
            assert r.status_code == 200 and '<html lang="tr">' in r.text
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "omnimig serve: durduruldu; yüklenen dosyalar silindi" in out
    assert "Traceback" not in err


# --------------------------------------------------------------------------- a real browser


def test_a_real_browser_shows_the_page_in_turkish_and_the_scripts_texts_too(
    tmp_path: Path, turkish: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headless Chromium (the setup of tests/test_serve_browser.py): the script reads its Turkish texts.

    The texts reach the script as JSON in the page, which the Content-Security-Policy allows (it
    is data, not script): no console error. ``OMNIMIG_SCREENSHOTS=1`` rewrites docs/serve-tr.png.
    """
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
    import test_serve_browser as real  # the browser flags and the drop helpers, shared

    if real.BROWSER is None or real.DRIVER is None:
        pytest.skip("no chromium and chromedriver binaries (Debian: apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    from omnimig.serve.server import LocalServer

    broken = tmp_path / "bundle"  # one error, as a person types it (the screenshot shows it)
    shutil.copytree(SAMPLES, broken)
    user = broken / "user.csv"
    text = user.read_text(encoding="utf-8")
    user.write_text(text.replace("birsan.sensoy.2@yandex.com", "birsan.sensoy.2-at-yandex", 1), encoding="utf-8")
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must not fetch a driver or a browser
    options = webdriver.ChromeOptions()
    options.binary_location = str(real.BROWSER)
    for flag in real.FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(real.DRIVER)))
    wait = WebDriverWait(driver, 30)
    try:
        with LocalServer(port=0, root=tmp_path) as server:
            server.start()
            driver.get(server.url)
            assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "tr"
            driver.execute_script(real.DROP)
            driver.find_element(By.ID, "test-drop-source").send_keys("\n".join(sorted(map(str, broken.iterdir()))))
            driver.execute_script(real.FIRE_DROP)
            status = driver.find_element(By.ID, "status").text
            assert status.startswith("4 dosya, ") and status.endswith(" kB")  # written by the script, in Turkish
            driver.find_element(By.ID, "check").click()
            wait.until(ec.presence_of_element_located((By.ID, "verdict")))
            assert driver.find_element(By.TAG_NAME, "h1").text == "Sonuçlar"
            assert driver.find_element(By.ID, "total-errors").text == "1"
            driver.find_element(By.CSS_SELECTOR, 'a[href*="rule=pattern&row=3"]').click()
            cell = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "td.c-error")))
            assert driver.switch_to.active_element == cell
            panel = driver.find_element(By.ID, "cell-problem").text
            assert panel.startswith("satır 3, email:") and "hata [pattern] email (e-posta) alanındaki" in panel
            if os.environ.get("OMNIMIG_SCREENSHOTS"):
                driver.save_screenshot(str(ROOT / "docs" / "serve-tr.png"))
            problems = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
            assert problems == []
    finally:
        driver.quit()
