"""``omnimig.uploader`` against the fake Omnitron, a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from omnimig.schemas.rules import type_names
from omnimig.uploader import (
    HttpError,
    InsecureUrl,
    JournalError,
    PollTimeout,
    RetryPolicy,
    RichReporter,
    Token,
    UncertainStart,
    UploadEvent,
    UploadSummary,
    ValidationRefused,
    plan_upload,
    run_upload,
)
from omnimig.uploader.client import OmnitronClient, parse_progress, retry_after
from omnimig.uploader.fake_server import FakeOmnitron, Fault

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
TOKEN = "tok-5ecret-7f3a9c"
FAST = RetryPolicy(attempts=4, backoff=0.01, max_delay=0.05)


class Interrupt(Exception):
    """Stands in for Ctrl-C or a killed process at a chosen point of the run."""


@pytest.fixture
def server() -> Iterator[FakeOmnitron]:
    with FakeOmnitron(TOKEN, polls_to_finish=2) as srv:
        yield srv


def upload(bundle: Path, srv: FakeOmnitron, sleeps: list[float] | None = None, **options: Any) -> UploadSummary:
    plan_options = {k: options.pop(k) for k in ("only", "chunk_rows", "strict") if k in options}
    plan = plan_upload(bundle, srv.url, 5, **plan_options)
    record = sleeps if sleeps is not None else []
    return run_upload(plan, Token(TOKEN), poll_interval=0, sleep=record.append, retry=FAST, **options)


def started_types(srv: FakeOmnitron) -> list[str | None]:
    return [r.type for r in srv.starts()]


def journal(bundle: Path) -> dict[str, Any]:
    return json.loads((bundle / ".omnimig" / "journal.json").read_text())


def audit_lines(bundle: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (bundle / ".omnimig" / "audit.jsonl").read_text().splitlines()]


def interrupt_at(kind: str, type_name: str, nth: int = 1) -> Any:
    seen = []

    def callback(event: UploadEvent) -> None:
        if event.kind == kind and event.step.type == type_name:
            seen.append(event)
            if len(seen) == nth:
                raise Interrupt(kind)

    return callback


def test_uploads_every_type_in_datapackage_order_as_multipart(bundle: Path, server: FakeOmnitron) -> None:
    summary = upload(bundle, server)
    assert summary.ok
    assert started_types(server) == list(type_names())
    assert server.problems == []
    starts = server.starts()
    assert [r.file_name for r in starts] == ["user.csv", "address.csv", "order.csv", "order_item.json"]
    assert starts[0].file_bytes == (bundle / "user.csv").read_bytes()
    for r in starts:
        assert r.headers["Authorization"] == f"Token {TOKEN}"
        assert r.headers["Content-Type"].startswith("multipart/form-data; boundary=")
        assert r.channel == "5"
    assert [p.progress.total for p in summary.parts] == [3, 4, 4, 5]
    assert all(p.progress.processed == p.progress.total for p in summary.parts)
    # Each migration was polled until processed + errors reached total (2 polls on this server).
    polls = [r for r in server.requests if r.kind == "progress"]
    assert len(polls) == 8
    entries = journal(bundle)["files"]
    assert {e["parts"]["1"]["state"] for e in entries.values()} == {"finished"}


def test_only_uploads_the_named_types(bundle: Path, server: FakeOmnitron) -> None:
    upload(bundle, server, only=["user", "order"])
    assert started_types(server) == ["user", "order"]


def test_mixed_case_progress_keys_are_read(bundle: Path) -> None:
    with FakeOmnitron(TOKEN, mixed_case=True, errors={"user": 1}) as srv:
        summary = upload(bundle, srv)
    assert summary.parts[0].progress.errors == 1
    assert summary.parts[0].progress.processed == 2
    assert parse_progress({"Total_Count": "3", "PROCESSED_count": 3, "error_COUNT": 0}).done()


def test_stops_before_the_next_type_when_a_migration_reports_errors(bundle: Path) -> None:
    with FakeOmnitron(TOKEN, errors={"address": 2}) as srv:
        summary = upload(bundle, srv)
        assert started_types(srv) == ["user", "address"]
        assert not summary.ok
        address_id = srv.starts()[1].migration_id
        assert summary.stopped is not None
        for words in ("address.csv", address_id, "2 errors", "audit.jsonl", "omnimig validate", "--restart address"):
            assert words in summary.stopped
        # A re-run does not go past the failed type, and does not send it again.
        again = upload(bundle, srv)
        assert not again.ok and address_id in (again.stopped or "")
        assert started_types(srv) == ["user", "address"]
        # After fixing the data, --restart sends it again and the run continues.
        srv.errors = {}
        fixed = upload(bundle, srv, restart=["address"])
    assert fixed.ok
    assert started_types(srv) == ["user", "address", "address", "order", "order_item"]
    assert [p.how for p in fixed.parts] == ["skipped", "uploaded", "uploaded", "uploaded"]
    assert journal(bundle)["history"][0]["parts"]["1"]["migration_id"] == address_id


def test_dry_run_plan_sends_and_writes_nothing(bundle: Path, server: FakeOmnitron) -> None:
    plan = plan_upload(bundle, server.url, 5, chunk_rows=2)
    text = "\n".join(plan.describe())
    assert [s.type for s in plan.steps] == list(type_names())
    assert "order_item.json  5 rows in 3 parts of at most 2" in text
    assert f"POST {server.url}/api/v1/remote/5/migrations/start/user/" in text
    assert "/api/v1/remote/5/migrations/{migration_id}/progress/" in text
    assert server.requests == []
    assert not (bundle / ".omnimig").exists()


def test_refuses_a_bundle_with_errors_unless_forced(bundle: Path, server: FakeOmnitron) -> None:
    users = bundle / "user.csv"
    users.write_text(users.read_text(encoding="utf-8").replace("ayse.yilmaz@example.com", "not-an-email"), "utf-8")
    plan = plan_upload(bundle, server.url, 5)
    assert plan.errors > 0
    with pytest.raises(ValidationRefused, match="omnimig validate"):
        run_upload(plan, Token(TOKEN), poll_interval=0)
    assert server.requests == []
    summary = run_upload(plan, Token(TOKEN), force=True, poll_interval=0, retry=FAST)
    assert summary.ok and len(server.starts()) == 4
    assert audit_lines(bundle)[0]["forced"] is True


@pytest.mark.parametrize("kind", ["starting", "started", "progress", "finished"])
def test_resume_after_an_interruption_never_sends_twice(bundle: Path, server: FakeOmnitron, kind: str) -> None:
    with pytest.raises(Interrupt):
        upload(bundle, server, on_event=interrupt_at(kind, "address"))
    if kind == "starting":
        # Interrupted between journaling "starting" and getting an id: only a person can tell.
        assert started_types(server) == ["user"]
        with pytest.raises(JournalError, match="Check the address migrations in Omnitron"):
            upload(bundle, server)
        assert started_types(server) == ["user"]
        summary = upload(bundle, server, restart=["address"])
    else:
        summary = upload(bundle, server)
    assert summary.ok
    assert started_types(server) == list(type_names())
    how = {p.type: p.how for p in summary.parts}
    assert how["user"] == "skipped"
    assert how["address"] == {"starting": "uploaded", "started": "resumed", "progress": "resumed"}.get(kind, "skipped")
    assert how["order"] == "uploaded"


def test_a_finished_run_run_again_sends_nothing(bundle: Path, server: FakeOmnitron) -> None:
    upload(bundle, server)
    before = len(server.requests)
    again = upload(bundle, server)
    assert again.ok and {p.how for p in again.parts} == {"skipped"}
    assert len(server.requests) == before


def test_a_changed_file_needs_restart(bundle: Path, server: FakeOmnitron) -> None:
    upload(bundle, server)
    users = bundle / "user.csv"
    users.write_text(users.read_text(encoding="utf-8").replace("Ayşe", "Ayse"), "utf-8")
    with pytest.raises(JournalError, match=r"user\.csv changed .*--restart user"):
        upload(bundle, server)
    assert len(server.starts()) == 4
    summary = upload(bundle, server, restart=["user"])
    assert [p.how for p in summary.parts] == ["uploaded", "skipped", "skipped", "skipped"]


def test_start_post_is_not_retried_after_it_was_sent(bundle: Path, server: FakeOmnitron) -> None:
    # The server queues the migration, then drops the connection before answering.
    server.script("start", Fault(drop=True, accept=True))
    with pytest.raises(UncertainStart, match="Check the user migrations in Omnitron"):
        upload(bundle, server)
    assert started_types(server) == ["user"]
    assert journal(bundle)["files"]["user/user.csv"]["parts"]["1"]["state"] == "starting"
    with pytest.raises(JournalError, match="no migration id came back"):
        upload(bundle, server)
    assert started_types(server) == ["user"]


def test_start_post_is_retried_on_connect_errors(bundle: Path, server: FakeOmnitron) -> None:
    class RefuseFirstConnect(httpx.HTTPTransport):
        refused = 0

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and RefuseFirstConnect.refused == 0:
                RefuseFirstConnect.refused += 1
                raise httpx.ConnectError("connection refused", request=request)
            return super().handle_request(request)

    sleeps: list[float] = []
    summary = upload(bundle, server, sleeps, transport=RefuseFirstConnect(), only=["user"])
    assert summary.ok and RefuseFirstConnect.refused == 1
    assert started_types(server) == ["user"]
    assert sleeps and sleeps[0] == FAST.delay(1)
    attempts = [line for line in audit_lines(bundle) if line.get("method") == "POST"]
    assert [a["status"] for a in attempts] == [None, 200]
    assert "ConnectError" in attempts[0]["error"]


def test_start_error_answer_stops_with_status_and_body(bundle: Path, server: FakeOmnitron) -> None:
    server.script("start", Fault(status=400, body={"detail": "unsupported file " + "x" * 1000}))
    with pytest.raises(HttpError) as caught:
        upload(bundle, server)
    message = str(caught.value)
    assert "HTTP 400" in message and "unsupported file" in message and len(message) < 500
    assert started_types(server) == ["user"]
    # A refused start imported nothing, so the next run simply sends it again.
    assert upload(bundle, server).ok
    assert started_types(server) == ["user", *type_names()]


def test_progress_retries_429_5xx_and_dropped_connections(bundle: Path, server: FakeOmnitron) -> None:
    server.script(
        "progress",
        Fault(status=429, headers={"Retry-After": "7"}, body={"detail": "slow down"}),
        Fault(status=502, body=b"<html>bad gateway</html>"),
        Fault(drop=True),
    )
    sleeps: list[float] = []
    summary = upload(bundle, server, sleeps, only=["user"])
    assert summary.ok and started_types(server) == ["user"]
    assert 7.0 in sleeps
    statuses = [line["status"] for line in audit_lines(bundle) if line.get("method") == "GET"]
    assert statuses[:4] == [429, 502, None, 200]


def test_progress_gives_up_after_the_retry_budget(bundle: Path, server: FakeOmnitron) -> None:
    server.script("progress", *[Fault(status=503)] * 4)
    with pytest.raises(HttpError, match="HTTP 503"):
        upload(bundle, server, only=["user"])
    assert journal(bundle)["files"]["user/user.csv"]["parts"]["1"]["state"] == "started"
    assert upload(bundle, server, only=["user"]).parts[0].how == "resumed"
    assert len(server.starts()) == 1


def test_poll_timeout_leaves_the_migration_to_resume(bundle: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=50) as srv:
        with pytest.raises(PollTimeout, match="Re-run the same command"):
            upload(bundle, srv, only=["user"], timeout=0)
        srv.polls_to_finish = 1
        summary = upload(bundle, srv, only=["user"])
    assert summary.parts[0].how == "resumed" and len(srv.starts()) == 1


def test_chunk_rows_sends_each_part_as_its_own_migration(bundle: Path, server: FakeOmnitron) -> None:
    summary = upload(bundle, server, chunk_rows=2)
    assert summary.ok
    items = [r for r in server.starts() if r.type == "order_item"]
    assert [r.file_name for r in items] == [
        "order_item.part001.json",
        "order_item.part002.json",
        "order_item.part003.json",
    ]
    assert [json.loads(r.file_bytes or b"") for r in items] == [
        *(json.loads((bundle / "order_item.json").read_text(encoding="utf-8"))[i : i + 2] for i in (0, 2, 4))
    ]
    ids = [r.migration_id for r in server.starts()]
    assert len(ids) == len(set(ids)) == 2 + 2 + 2 + 3
    assert [p.rows for p in summary.parts if p.type == "order_item"] == [2, 2, 1]
    assert upload(bundle, server, chunk_rows=2).parts[-1].how == "skipped"
    with pytest.raises(JournalError, match="chunked differently"):
        upload(bundle, server, chunk_rows=3)


def test_https_is_required_for_remote_hosts(bundle: Path) -> None:
    with pytest.raises(InsecureUrl, match="https"):
        plan_upload(bundle, "http://omnitron.example.com", 5)
    assert plan_upload(bundle, "http://omnitron.example.com", 5, insecure=True).url == "http://omnitron.example.com"
    assert plan_upload(bundle, "https://omnitron.example.com/", 5).url == "https://omnitron.example.com"
    assert plan_upload(bundle, "http://localhost:8000", 5).steps
    with pytest.raises(InsecureUrl):
        OmnitronClient("http://10.0.0.5", "5", Token(TOKEN))


def test_the_token_never_appears_in_output_files_or_errors(
    bundle: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    seen: list[str] = []
    screen = io.StringIO()
    with FakeOmnitron(TOKEN, errors={"order": 1}) as srv:
        srv.script("progress", Fault(status=500, body={"echo": "x"}))
        with RichReporter(Console(file=screen, force_terminal=True)) as bar:

            def watch(event: UploadEvent) -> None:
                seen.append(repr(event))
                bar(event)

            plan = plan_upload(bundle, srv.url, 5, chunk_rows=3)
            summary = upload(bundle, srv, on_event=watch, chunk_rows=3)
        seen += [repr(plan), repr(summary), *summary.lines()]
        srv.script("start", Fault(drop=True, accept=True))
        for attempt in (lambda: upload(bundle, srv, restart=["order"]), lambda: upload(bundle, srv)):
            with pytest.raises(Exception) as caught:
                attempt()
            seen += [str(caught.value), repr(caught.value)]
        other = tmp_path / "other"
        shutil.copytree(SAMPLES, other)
        with pytest.raises(HttpError) as refused:
            run_upload(plan_upload(other, srv.url, 5), Token(TOKEN + "-wrong"), poll_interval=0, retry=FAST)
        seen += [str(refused.value), repr(Token(TOKEN)), f"{Token(TOKEN)}", str(Token(TOKEN))]
    assert "401" in str(refused.value)
    out = capsys.readouterr()
    seen += [out.out, out.err, screen.getvalue()]
    for path in [*(bundle / ".omnimig").rglob("*"), *(other / ".omnimig").rglob("*")]:
        if path.is_file():
            seen.append(path.read_bytes().decode("utf-8", errors="replace"))
    assert any("Token ***" in text for text in seen)
    assert not [text for text in seen if TOKEN in text]


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after("12") == 12.0
    assert retry_after(None) is None and retry_after("soon") is None
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_fake_server_rejects_a_json_content_type_upload(server: FakeOmnitron) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/remote/5/migrations/start/user/",
        headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"},
        content=b"{}",
    )
    assert answer.status_code == 400 and "multipart/form-data" in server.problems[0]
    assert server.migrations == {}


def test_each_start_gets_a_fresh_connection_and_the_polls_share_one(bundle: Path) -> None:
    """A keep-alive server: a start POST never rides a connection the server may already have closed
    (a send that fails there would be a false "maybe sent"); the polls, which are retried, reuse theirs."""
    with FakeOmnitron(TOKEN, polls_to_finish=2, keep_alive=True) as srv:
        summary = upload(bundle, srv)
    assert summary.ok
    starts = [r.peer for r in srv.starts()]
    polls = {r.peer for r in srv.requests if r.kind == "progress"}
    assert len(starts) == 4 and len(set(starts)) == 4
    assert len(polls) == 1 and polls.isdisjoint(starts)


def test_the_ca_bundle_is_loaded_once_per_run_not_once_per_start(
    bundle: Path, server: FakeOmnitron, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle takes ~50 ms; the fresh connection of each start attempt shares one TLS context."""
    import ssl

    loads: list[object] = []
    real = ssl.SSLContext.load_verify_locations

    def counted(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loads.append(args or kwargs)
        real(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counted)
    summary = upload(bundle, server)
    assert summary.ok and len(server.starts()) == 4
    assert len(loads) == 1
