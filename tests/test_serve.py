"""``omnimig serve``: every endpoint through Starlette's TestClient, the guards, and the real server on 127.0.0.1.

The page must show what ``omnimig.validate`` finds (nothing of its own), keep the uploads private
and inside their session, and answer only its own origin with its token.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

import omnimig
import omnimig.serve
from omnimig.cli import app as cli

pytest.importorskip("starlette", reason="the serve extra (pip install 'omnimig[serve]') is not installed")
with warnings.catch_warnings():  # starlette's note that httpx will be replaced by httpx2 in its TestClient
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from omnimig.serve import ServeError, parse_size
from omnimig.serve.server import COOKIE, LocalServer, create_app
from omnimig.serve.sessions import Sessions, safe_name

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "test-token-not-secret"
PAGE = {"X-Omnimig": "1"}


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    """The sample bundle with one known error (user.csv row 3, email) and the warnings it causes."""
    target = tmp_path / "bundle"
    shutil.copytree(SAMPLES, target)
    user = target / "user.csv"
    user.write_text(
        user.read_text(encoding="utf-8").replace("birsan.sensoy.2@yandex.com", "<b>bad</b>", 1), encoding="utf-8"
    )
    return target


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[Sessions]:
    store = Sessions(tmp_path / "serve-root", max_upload=10 * 1024**2)
    yield store
    store.close()


def client(sessions: Sessions, token: str | None = TOKEN) -> TestClient:
    c = TestClient(create_app(sessions, TOKEN, PORT), base_url=BASE)
    if token is not None:
        c.cookies.set(COOKIE, token)
    return c


def upload(c: TestClient, folder: Path, prefix: str = "bundle/") -> str:
    """Upload every file of ``folder`` as the page does (one request per file) and validate; the session id."""
    made = c.post("/api/sessions", headers=PAGE)
    assert made.status_code == 201
    sid = made.json()["id"]
    for path in sorted(folder.iterdir()):
        r = c.post(
            f"/api/sessions/{sid}/files", params={"name": prefix + path.name}, content=path.read_bytes(), headers=PAGE
        )
        assert r.status_code == 201, r.text
    assert c.post(f"/api/sessions/{sid}/validate", headers=PAGE).status_code == 202
    return sid


def finished(c: TestClient, sid: str, grid: bool = True) -> dict[str, Any]:
    """Wait for the validation (and the grid's copy of the rows) to finish; the status."""
    for _ in range(600):
        status = c.get(f"/api/sessions/{sid}").json()
        if status["phase"] in ("done", "failed"):
            break
        time.sleep(0.02)
    session = c.app.app.state.sessions.get(sid)  # type: ignore[attr-defined]
    while grid and status["phase"] == "done" and not all(f.ready for f in session.grid.files):
        time.sleep(0.02)
    return status


def file_number(c: TestClient, sid: str, name: str) -> int:
    names = [r["file"] for r in c.get(f"/api/sessions/{sid}").json()["results"]]
    return names.index(name)


# --------------------------------------------------------------------------- token, Host, headers


def test_the_first_visit_trades_the_token_for_a_cookie_and_drops_it_from_the_address(sessions: Sessions) -> None:
    c = client(sessions, token=None)
    r = c.get(f"/?token={TOKEN}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert f"{COOKIE}={TOKEN}" in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert c.get("/").status_code == 200  # the cookie now opens the page


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/api/sessions/x", "/s/x/download/report.json"])
def test_every_request_without_the_token_is_refused(sessions: Sessions, path: str) -> None:
    for c in (client(sessions, token=None), client(sessions, token="wrong")):
        r = c.get(path)
        assert r.status_code == 403
        assert "omnimig serve printed" in r.text


def test_a_wrong_token_in_the_address_sets_no_cookie(sessions: Sessions) -> None:
    r = client(sessions, token=None).get("/?token=guess", follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", "localhost", ""])
def test_only_the_pages_own_host_is_answered(sessions: Sessions, host: str) -> None:
    """DNS rebinding: another site's name pointed at 127.0.0.1 carries its own Host header."""
    r = client(sessions).get("/", headers={"host": host})
    assert r.status_code == 421


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}", f"LOCALHOST:{PORT}"])
def test_both_local_names_of_the_page_are_answered(sessions: Sessions, host: str) -> None:
    assert client(sessions).get("/", headers={"host": host}).status_code == 200


def test_a_change_without_the_pages_header_is_refused(sessions: Sessions) -> None:
    """A form on another site can POST with the cookie, but cannot add a custom header."""
    c = client(sessions)
    assert c.post("/api/sessions").status_code == 403
    assert sessions.get("anything") is None and not list(sessions.root.iterdir())


@pytest.mark.parametrize("path", ["/", "/static/app.css", "/api/sessions/none", "/nowhere"])
def test_every_response_forbids_other_origins(sessions: Sessions, path: str) -> None:
    for c in (client(sessions), client(sessions, token=None)):
        r = c.get(path)
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"


def test_the_page_loads_nothing_from_another_origin(sessions: Sessions) -> None:
    c = client(sessions)
    html = c.get("/").text
    assert re.findall(r'(?:src|href)="(?!/)[^"#]', html) == []
    for asset in ("/static/app.js", "/static/app.css"):
        text = c.get(asset).text
        assert "http://" not in text and "https://" not in text and "@import" not in text


# --------------------------------------------------------------------------- upload and results


def test_the_results_are_the_libraries_counts(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    status = finished(c, sid)
    expected = omnimig.validate(broken)
    assert status["phase"] == "done"
    assert (status["errors"], status["warnings"], status["rows"]) == (1, 4, expected.rows)
    assert (status["errors"], status["warnings"]) == (expected.errors, expected.warnings)
    per_file = {r["file"]: (r["rows"], r["errors"], r["warnings"]) for r in status["results"]}
    assert per_file == {Path(r.path).name: (r.rows, r.errors, r.warnings) for r in expected.files}
    assert [r["type"] for r in status["results"]] == ["user", "address", "order", "order_item"]  # upload order


def test_the_results_page_groups_problems_by_rule_and_file_with_links_to_rows(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    html = c.get(f"/s/{sid}").text
    assert '<strong id="total-errors">1</strong>' in html and '<strong id="total-warnings">4</strong>' in html
    assert "<code>pattern</code> in <code>email</code>" in html and "<code>email-mismatch</code>" in html
    assert f'href="/s/{sid}/files/0?rule=pattern&amp;row=3"' in html  # the example opens the grid at its row
    assert "&lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad</b>" not in html  # a value is text, never markup
    assert str(sessions.root) not in html  # files are named as the person named them
    assert "✖" in html and "error" in html  # readable without colour


def test_a_clean_bundle_says_so(sessions: Sessions) -> None:
    c = client(sessions)
    sid = upload(c, SAMPLES)
    assert finished(c, sid)["errors"] == 0
    assert "No errors" in c.get(f"/s/{sid}").text


def test_uploads_are_private_and_gone_when_the_server_stops(tmp_path: Path, broken: Path) -> None:
    store = Sessions(tmp_path / "root", max_upload=10**7)
    c = client(store)
    sid = upload(c, broken)
    finished(c, sid)
    folder = store.root / sid
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"user.csv", "grid.sqlite"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {oct(0o600)}
    c.get(f"/s/{sid}/download/report.xlsx")
    assert stat.S_IMODE((folder / "out" / "report.xlsx").stat().st_mode) == 0o600
    store.close()
    assert not store.root.exists()


def test_forgetting_a_bundle_deletes_its_files_now(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    assert c.delete(f"/api/sessions/{sid}", headers=PAGE).status_code == 204
    assert not (sessions.root / sid).exists()
    assert c.get(f"/api/sessions/{sid}").status_code == 404
    assert c.get(f"/s/{sid}").status_code == 404


def test_an_unknown_bundle_is_404_everywhere(sessions: Sessions) -> None:
    c = client(sessions)
    for path in ("/api/sessions/nope", "/s/nope", "/s/nope/files/0", "/s/nope/download/report.csv"):
        assert c.get(path).status_code == 404
    assert c.post("/api/sessions/nope/files?name=a.csv", content=b"x", headers=PAGE).status_code == 404


def test_nothing_is_added_after_validation_and_nothing_validated_before_an_upload(
    sessions: Sessions, broken: Path
) -> None:
    c = client(sessions)
    empty = c.post("/api/sessions", headers=PAGE).json()["id"]
    r = c.post(f"/api/sessions/{empty}/validate", headers=PAGE)
    assert r.status_code == 400 and "no file uploaded" in r.json()["error"]
    sid = upload(c, broken)
    finished(c, sid)
    r = c.post(f"/api/sessions/{sid}/files", params={"name": "late.csv"}, content=b"a,b\n", headers=PAGE)
    assert r.status_code == 409


# --------------------------------------------------------------------------- names and sizes


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/users.csv", "users.csv"),
        ("..\\..\\Windows\\users.csv", "users.csv"),
        ("/abs/olute/users.csv", "users.csv"),
        ("bundle/orders.csv", "orders.csv"),
        (".hidden_users.csv", "hidden_users.csv"),
        ("user\x00s\x1b.csv", "users.csv"),
    ],
)
def test_a_file_name_is_reduced_to_its_own_name(given: str, stored: str) -> None:
    assert safe_name(given) == stored


@pytest.mark.parametrize("given", ["", "..", ".", "../", "a/..", "\x00", "  "])
def test_a_name_with_nothing_left_is_refused(given: str) -> None:
    with pytest.raises(ServeError):
        safe_name(given)


def test_a_traversal_name_lands_inside_the_session(sessions: Sessions, tmp_path: Path) -> None:
    c = client(sessions)
    sid = c.post("/api/sessions", headers=PAGE).json()["id"]
    r = c.post(f"/api/sessions/{sid}/files", params={"name": "../../../escaped_users.csv"}, content=b"x", headers=PAGE)
    assert r.status_code == 201 and r.json()["name"] == "escaped_users.csv"
    inside = sessions.root / sid / "in" / "escaped_users.csv"
    assert inside.read_bytes() == b"x"
    found = [p for p in tmp_path.rglob("escaped_users.csv")]
    assert found == [inside]
    r = c.post(f"/api/sessions/{sid}/files", params={"name": "../.."}, content=b"x", headers=PAGE)
    assert r.status_code == 400 and "give the file's own name" in r.json()["error"]


def test_two_files_of_one_name_are_both_kept(sessions: Sessions) -> None:
    c = client(sessions)
    sid = c.post("/api/sessions", headers=PAGE).json()["id"]
    names = [
        c.post(f"/api/sessions/{sid}/files", params={"name": n}, content=b"x", headers=PAGE).json()["name"]
        for n in ("a/users.csv", "b/users.csv", "c/USERS.csv")
    ]
    assert names == ["users.csv", "users-2.csv", "USERS-3.csv"]


def test_a_bundle_past_max_upload_is_refused_and_its_part_deleted(tmp_path: Path) -> None:
    store = Sessions(tmp_path / "root", max_upload=1000)
    c = client(store)
    sid = c.post("/api/sessions", headers=PAGE).json()["id"]
    inputs = store.root / sid / "in"
    ok = c.post(f"/api/sessions/{sid}/files", params={"name": "users.csv"}, content=b"x" * 600, headers=PAGE)
    assert ok.status_code == 201
    # Announced too large: refused before a byte is stored.
    r = c.post(f"/api/sessions/{sid}/files", params={"name": "orders.csv"}, content=b"y" * 600, headers=PAGE)
    assert r.status_code == 413 and "--max-upload" in r.json()["error"]

    # Not announced (a chunked body): stopped when the limit is passed, the part deleted.
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"z" * 100

    r = c.post(f"/api/sessions/{sid}/files", params={"name": "orders.csv"}, content=chunks(), headers=PAGE)
    assert r.status_code == 413
    assert sorted(p.name for p in inputs.iterdir()) == ["users.csv"]
    assert store.get(sid).uploaded == 600  # type: ignore[union-attr]
    store.close()


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("2GB", 2 * 1024**3),
        ("500MB", 500 * 1024**2),
        ("1.5g", 1610612736),
        ("800k", 819200),
        ("123", 123),
        ("10 MiB", 10 * 1024**2),
    ],
)
def test_sizes_read_as_people_write_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "2XB", "-1", "0", "GB"])
def test_a_size_that_is_no_size_is_refused(text: str) -> None:
    with pytest.raises(ServeError):
        parse_size(text)


# --------------------------------------------------------------------------- the grid


def test_grid_pages_hold_the_files_rows_in_order(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    n = file_number(c, sid, "order_item.csv")
    first = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"size": 10}).json()
    assert first["total"] == 27 and first["pages"] == 3 and first["page"] == 0
    assert [r["row"] for r in first["rows"]] == list(range(2, 12))  # header = row 1
    last = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"size": 10, "page": 3}).json()
    assert [r["row"] for r in last["rows"]] == list(range(22, 29))
    beyond = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"size": 10, "page": 99}).json()
    assert beyond["page"] == 2  # the last page, not an empty one
    rows = (broken / "order_item.csv").read_text(encoding="utf-8").splitlines()
    assert [cell["text"] for cell in first["rows"][0]["cells"]] == rows[1].split(",")[: len(first["columns"])]


def test_problem_cells_are_where_the_report_says(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    expected = omnimig.validate(broken)
    for n, result in enumerate(expected.files):
        page = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"size": 500}).json()
        marked = {
            (r["row"], page["columns"][i], cell["severity"], cell["problems"][0][1])
            for r in page["rows"]
            for i, cell in enumerate(r["cells"])
            if cell["severity"]
        }
        wanted = {(p.row, p.field, p.severity, p.rule) for p in result.problems if p.row and p.field}
        assert marked == wanted, result.path


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_planted_defects_are_marked_on_their_cells_in_every_format(
    sessions: Sessions, tmp_path: Path, fmt: str
) -> None:
    folder = tmp_path / fmt
    omnimig.samples(folder, orders=15, seed=7, format=fmt, invalid_rate=0.2)
    (folder / "expected_problems.json").unlink()
    c = client(sessions)
    sid = upload(c, folder)
    finished(c, sid)
    expected = omnimig.validate(folder)
    assert expected.errors > 0
    for n, result in enumerate(expected.files):
        page = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"size": 500}).json()
        assert page["total"] == result.rows
        marked = {
            (r["row"], page["columns"][i], rule)
            for r in page["rows"]
            for i, cell in enumerate(r["cells"])
            for _, rule, _ in cell["problems"]
        }
        header = {
            (result.header_row, page["columns"][i], rule)
            for i, cell in enumerate(page["header"])
            for _, rule, _ in cell["problems"]
        }
        wanted = {(p.row, p.field, p.rule) for p in result.problems if p.row and p.field in page["columns"]}
        assert marked | header == wanted, result.path


def test_only_rows_with_problems_and_by_rule(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    n = file_number(c, sid, "order.csv")
    only = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"only": "problems"}).json()
    assert [r["row"] for r in only["rows"]] == [4, 6] and only["total"] == 2
    assert all(r["severity"] == "warning" for r in only["rows"])
    rule = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"rule": "email-mismatch"}).json()
    assert [r["row"] for r in rule["rows"]] == [4, 6]
    none = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"rule": "no-such-rule"}).json()
    assert none["rows"] == [] and none["total"] == 0


def test_a_large_file_is_paged_never_sent_whole(sessions: Sessions, tmp_path: Path) -> None:
    folder = tmp_path / "big"
    omnimig.samples(folder, orders=1200, seed=2, invalid_rate=0.02)
    (folder / "expected_problems.json").unlink()
    c = client(sessions)
    sid = upload(c, folder)
    finished(c, sid)
    n = file_number(c, sid, "order_item.csv")
    expected = next(r for r in omnimig.validate(folder).files if r.path.endswith("order_item.csv"))
    page = c.get(f"/api/sessions/{sid}/files/{n}/rows").json()
    assert len(page["rows"]) == 50 and page["total"] == expected.rows > 2000
    html = c.get(f"/s/{sid}/files/{n}").text
    assert html.count("<tr id=") == 50
    problem_rows = sorted({p.row for p in expected.problems if p.row and p.field})
    target = problem_rows[-1]
    found = c.get(f"/api/sessions/{sid}/files/{n}/rows", params={"row": target, "only": "problems", "size": 7}).json()
    assert target in [r["row"] for r in found["rows"]]
    assert found["page"] == problem_rows.index(target) // 7
    assert found["total"] == len({p.row for p in expected.problems if p.row and p.field and p.row != 1})


def test_the_grid_page_marks_cells_with_colour_and_icon_and_text(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    html = c.get(f"/s/{sid}/files/0", params={"rule": "pattern", "row": 3}).text
    cell = re.search(
        r'<td class="cell c-error" tabindex="0" data-rules="pattern" title="([^"]*)">(.*?)</td>', html, re.S
    )
    assert cell is not None
    assert "error [pattern] email" in cell.group(1)
    assert cell.group(2).startswith("&lt;b&gt;bad&lt;/b&gt;")  # the value, escaped
    assert "✖" in cell.group(2) and 'role="tooltip"' in cell.group(2)  # an icon and the message, not only colour
    assert '<tr id="r3" data-row="3" class="focus">' in html  # the example's row is focused
    assert '<option value="pattern" selected>' in html


def test_the_grid_pager_keeps_the_filter(sessions: Sessions, tmp_path: Path) -> None:
    folder = tmp_path / "b"
    omnimig.samples(folder, orders=60, seed=4, invalid_rate=0.3)
    c = client(sessions)
    sid = upload(c, folder)
    finished(c, sid)
    html = c.get(f"/s/{sid}/files/2", params={"only": "problems", "size": 5}).text
    nxt = re.search(r'<a href="\?([^"]*)" rel="next"', html)
    assert nxt is not None
    assert dict(pair.split("=") for pair in nxt.group(1).replace("&amp;", "&").split("&")) == {
        "only": "problems",
        "page": "2",
        "size": "5",
    }


# --------------------------------------------------------------------------- downloads


def test_the_four_downloads_are_the_clis_reports(sessions: Sessions, broken: Path, tmp_path: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    got = {}
    for name in ("report.xlsx", "report.json", "report.csv", "split.zip"):
        r = c.get(f"/s/{sid}/download/{name}")
        assert r.status_code == 200, name
        assert r.headers["content-disposition"] == f'attachment; filename="omnimig-{name}"'
        got[name] = r.content
    report = json.loads(got["report.json"])
    assert report["summary"]["errors"] == 1 and report["summary"]["warnings"] == 4
    assert [f["path"] for f in report["files"]] == ["user.csv", "address.csv", "order.csv", "order_item.csv"]
    csv_text = got["report.csv"].decode("utf-8")
    assert "pattern" in csv_text and str(sessions.root) not in csv_text
    with zipfile.ZipFile(io.BytesIO(got["report.xlsx"])) as book:
        assert "xl/workbook.xml" in book.namelist()
        parts = b"".join(book.read(n) for n in book.namelist())
    assert str(sessions.root).encode() not in parts and b"user.csv" in parts
    openpyxl = pytest.importorskip("openpyxl")
    sheets = openpyxl.load_workbook(io.BytesIO(got["report.xlsx"])).sheetnames
    assert sheets == ["Summary", "user", "address", "order", "order_item"]
    with zipfile.ZipFile(io.BytesIO(got["split.zip"])) as split:
        names = split.namelist()
        assert "held/user.csv" in names and "ready/user.csv" in names
        held = split.read("held/user.csv").decode("utf-8").splitlines()
        ready = split.read("ready/user.csv").decode("utf-8").splitlines()
    assert len(held) - 1 + len(ready) - 1 == 3  # every user row, once
    # the same bytes on the second request (made once, kept)
    assert c.get(f"/s/{sid}/download/report.json").content == got["report.json"]


def test_an_unknown_download_is_404(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sid = upload(c, broken)
    finished(c, sid)
    for name in ("../../etc/passwd", "report.txt", "grid.sqlite"):
        assert c.get(f"/s/{sid}/download/{name}").status_code == 404


# --------------------------------------------------------------------------- concurrency


def test_two_bundles_at_once_stay_apart(sessions: Sessions, broken: Path) -> None:
    c = client(sessions)
    sids: dict[str, str] = {}

    def run(key: str, folder: Path) -> None:
        sids[key] = upload(c, folder, prefix=f"{key}/")

    threads = [threading.Thread(target=run, args=(k, f)) for k, f in (("broken", broken), ("clean", SAMPLES))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sids["broken"] != sids["clean"]
    assert finished(c, sids["broken"])["errors"] == 1
    assert finished(c, sids["clean"])["errors"] == 0
    assert (sessions.root / sids["broken"] / "in" / "user.csv").read_bytes() == (broken / "user.csv").read_bytes()
    c.delete(f"/api/sessions/{sids['broken']}", headers=PAGE)
    assert c.get(f"/s/{sids['clean']}/download/report.json").status_code == 200


# --------------------------------------------------------------------------- the command and the real server


def test_a_missing_extra_is_one_line_and_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(omnimig.serve, "EXTRA_MODULES", ("starlette", "omnimig_no_such_module"))
    result = CliRunner().invoke(cli, ["serve", "--no-browser"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "omnimig: error: omnimig serve needs omnimig_no_such_module: install them with pip install 'omnimig[serve]'"
    ]


def test_a_taken_port_is_one_line_and_exit_2() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--no-browser", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output and "--port" in result.output


def test_the_real_server_listens_on_127_0_0_1_only_and_cleans_up(tmp_path: Path, broken: Path) -> None:
    with LocalServer(port=0, root=tmp_path) as server:
        server.start()
        assert server.sock.getsockname()[0] == "127.0.0.1"
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=10, follow_redirects=True) as http:
            assert http.get("/").status_code == 403
            opened = http.get(server.url.removeprefix(f"http://127.0.0.1:{server.port}"))
            assert opened.status_code == 200 and "Check a migration bundle" in opened.text
            sid = http.post("/api/sessions", headers=PAGE).json()["id"]
            body = (broken / "user.csv").read_bytes()
            assert http.post(f"/api/sessions/{sid}/files?name=user.csv", content=body, headers=PAGE).status_code == 201
        root = server.sessions.root
        assert (root / sid / "in" / "user.csv").exists()
    assert not root.exists()


def test_the_command_prints_the_address_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = "from omnimig.cli import app; app()"
    with subprocess.Popen(
        [sys.executable, "-c", code, "serve", "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            match = re.fullmatch(r"omnimig serve: open (http://127\.0\.0\.1:(\d+)/\?token=[\w-]{20,})\n", line)
            assert match is not None, line
            with httpx.Client(timeout=10, follow_redirects=True) as http:
                for _ in range(100):
                    try:
                        r = http.get(match.group(1))
                        break
                    except httpx.ConnectError:
                        time.sleep(0.05)
                assert r.status_code == 200
            assert [p.name for p in tmp_path.iterdir() if p.name.startswith("omnimig-serve-")]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopped; the uploaded files were deleted" in out
    assert "Traceback" not in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("omnimig-serve-")]


def test_an_alias_columns_problems_sit_on_the_alias_column_as_in_the_workbook(
    sessions: Sessions, tmp_path: Path
) -> None:
    """``customer_code`` is an alias of the order's ``user``: its problems name ``user`` but belong on its column.

    The grid places them through ``validation.workbook.column_positions``, as the annotated workbook does.
    """
    folder = tmp_path / "alias"
    shutil.copytree(SAMPLES, folder)
    order = folder / "order.csv"
    with order.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    at = rows[0].index("user")
    rows[0][at] = "customer_code"
    rows[2][at] = ""  # row 3: the required user is empty
    with order.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows(rows)
    expected = {(p.row, p.field, p.severity) for p in omnimig.validate(order, type="order").files[0].problems}
    assert (3, "user", "error") in expected
    c = client(sessions)
    sid = upload(c, folder)
    finished(c, sid)
    page = c.get(f"/api/sessions/{sid}/files/{file_number(c, sid, 'order.csv')}/rows", params={"size": 5}).json()
    assert page["columns"][at] == "customer_code"
    third = page["rows"][1]
    assert third["row"] == 3 and third["cells"][at]["severity"] == "error"
    assert {rule for _, rule, _ in third["cells"][at]["problems"]} >= {"required"}
    assert page["header"][at]["severity"] == "warning"  # the alias itself is noted on the header


def test_header_problems_mark_the_header_and_json_records_are_rows(sessions: Sessions, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "user.csv").write_text("customer_code,email,bogus\nC1,a@example.com,x\n", encoding="utf-8")
    (folder / "users.json").write_text('[{"customer_code": "C2", "email": "nope"}]', encoding="utf-8")
    c = client(sessions)
    sid = upload(c, folder)
    finished(c, sid)
    csv_page = c.get(f"/api/sessions/{sid}/files/{file_number(c, sid, 'user.csv')}/rows").json()
    header = dict(zip(csv_page["columns"], csv_page["header"], strict=True))
    assert header["bogus"]["severity"] == "warning" and header["bogus"]["problems"][0][1] == "unknown-column"
    assert header["email"]["severity"] is None
    assert [r["severity"] for r in csv_page["rows"]] == [None]
    json_page = c.get(f"/api/sessions/{sid}/files/{file_number(c, sid, 'users.json')}/rows").json()
    assert json_page["columns"] == ["customer_code", "email"]
    (record,) = json_page["rows"]
    assert record["row"] == 1 and record["cells"][1]["severity"] == "error"  # JSON: the record number
    html = c.get(f"/s/{sid}").text
    assert "<code>missing-column</code> in <code>first_name</code>" in html  # a problem with no cell is still listed


def test_a_bundle_that_cannot_be_checked_says_why_in_one_line(sessions: Sessions, tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "notes.txt").write_text("not a migration file\n", encoding="utf-8")
    c = client(sessions)
    sid = upload(c, folder)
    status = finished(c, sid)
    assert status["phase"] == "failed"
    assert status["text"].startswith("the files: no migration files found; expected names such as user.csv")
    html = c.get(f"/s/{sid}").text
    assert "could not be checked" in html and "data-status-url" not in html  # no endless polling
    assert str(sessions.root) not in html
    assert c.get(f"/s/{sid}/download/report.json").status_code == 404
