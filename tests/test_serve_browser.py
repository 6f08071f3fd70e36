"""``omnimig serve`` in a real browser: headless Chromium drops a small bundle and sees the problem cell.

Driven by selenium with the system's chromium and chromedriver (Debian: ``apt-get install chromium
chromium-driver``); nothing is downloaded at run time, and the browser may resolve no name but
127.0.0.1. Skipped, with the reason, when no browser binary is installed. With
``OMNIMIG_SCREENSHOTS=1`` it also rewrites the screenshots in ``docs/`` (so they stay true).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the serve extra (pip install 'omnimig[serve]') is not installed")
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from omnimig.serve.server import LocalServer

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
DOCS = ROOT / "docs"

BROWSER = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
DRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    BROWSER is None or DRIVER is None,
    reason="no chromium and chromedriver binaries (Debian: apt-get install chromium chromium-driver)",
)

#: Chromium talks to nothing but the page: no name but 127.0.0.1 resolves, background services are off.
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI containers run as root
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--window-size=1400,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-sync",
    "--no-first-run",
    "--no-pings",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
)

#: Selects files with a hidden input, then fires a real ``drop`` event carrying them on the drop zone.
DROP = """
const input = document.createElement('input');
input.type = 'file'; input.multiple = true; input.id = 'test-drop-source';
document.body.appendChild(input);
"""
FIRE_DROP = """
const input = document.getElementById('test-drop-source');
const data = new DataTransfer();
for (const f of input.files) data.items.add(f);
const zone = document.getElementById('upload');
zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: data, bubbles: true, cancelable: true}));
zone.dispatchEvent(new DragEvent('drop', {dataTransfer: data, bubbles: true, cancelable: true}));
"""


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The sample bundle with one error (user.csv row 3, email) and four warnings it causes elsewhere."""
    target = tmp_path / "bundle"
    shutil.copytree(SAMPLES, target)
    user = target / "user.csv"
    user.write_text(
        user.read_text(encoding="utf-8").replace("birsan.sensoy.2@yandex.com", "birsan.sensoy.2-at-yandex", 1),
        encoding="utf-8",
    )
    return target


@pytest.fixture
def browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WebDriver, Path]]:
    monkeypatch.setenv("SE_OFFLINE", "true")  # selenium-manager must not fetch a driver or a browser
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(BROWSER)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations and script errors
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=str(DRIVER)))
    try:
        driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        yield driver, downloads
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str) -> None:
    if os.environ.get("OMNIMIG_SCREENSHOTS"):
        driver.save_screenshot(str(DOCS / name))


def test_a_dropped_bundle_shows_its_counts_its_problem_cell_and_downloads_the_workbook(
    browser: tuple[WebDriver, Path], broken: Path, tmp_path: Path
) -> None:
    driver, downloads = browser
    wait = WebDriverWait(driver, 30)
    with LocalServer(port=0, root=tmp_path) as server:
        server.start()
        driver.get(server.url)
        assert driver.current_url == f"http://127.0.0.1:{server.port}/"  # the token left the address bar

        driver.execute_script(DROP)
        files = sorted(str(p) for p in broken.iterdir())
        driver.find_element(By.ID, "test-drop-source").send_keys("\n".join(files))
        driver.execute_script(FIRE_DROP)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#chosen li")) == 4
        driver.find_element(By.ID, "check").click()

        wait.until(ec.presence_of_element_located((By.ID, "verdict")))
        assert driver.find_element(By.ID, "total-errors").text == "1"
        assert driver.find_element(By.ID, "total-warnings").text == "4"
        rows = {
            tr.get_attribute("data-file"): [td.text for td in tr.find_elements(By.TAG_NAME, "td")][2:5]
            for tr in driver.find_elements(By.CSS_SELECTOR, "#summary tbody tr")
        }
        assert rows["user.csv"] == ["3", "✖ 1", "0"]
        assert rows["order.csv"] == ["9", "0", "⚠ 2"]
        screenshot(driver, "serve-summary.png")

        # The example of the pattern error opens the grid at its row, its cell marked and focused.
        driver.find_element(By.CSS_SELECTOR, 'a[href*="rule=pattern&row=3"]').click()
        cell = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "td.c-error")))
        marked = driver.find_elements(By.CSS_SELECTOR, "td.c-error")
        assert len(marked) == 1
        assert cell.text.startswith("birsan.sensoy.2-at-yandex")
        assert "✖" in cell.text  # an icon, not only a colour
        assert cell.get_attribute("data-rules") == "pattern"
        assert driver.switch_to.active_element == cell  # keyboard focus is on the problem
        panel = driver.find_element(By.ID, "cell-problem").text
        assert panel.startswith("row 3, email:") and "error [pattern]" in panel  # the message shows on focus
        driver.find_element(By.TAG_NAME, "body").send_keys("n")  # n: the next problem cell (the only one)
        assert driver.switch_to.active_element == cell
        screenshot(driver, "serve-grid.png")

        # The annotated workbook downloads like any file.
        driver.back()
        wait.until(ec.presence_of_element_located((By.ID, "verdict")))
        driver.find_element(By.CSS_SELECTOR, 'a[href$="/download/report.xlsx"]').click()
        target = downloads / "omnimig-report.xlsx"
        for _ in range(300):
            if target.exists() and target.stat().st_size:
                break
            time.sleep(0.05)
        assert target.read_bytes()[:2] == b"PK"
        # Nothing on any page was blocked by the Content-Security-Policy, and no script failed.
        problems = [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert problems == []
