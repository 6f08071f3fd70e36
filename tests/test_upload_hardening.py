"""Upload hardening against a misbehaving server on 127.0.0.1 (issue 12, "Upload: integrity and secrets").

One run at a time, the token in no output or file, private state, bounded waiting, safe
migration ids, and chunked parts validated before they are sent.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.schemas.rules import type_names
from omnimig.uploader import (
    BadAnswer,
    BadToken,
    HttpError,
    InsecureUrl,
    JournalError,
    PlanError,
    RetryPolicy,
    RunLocked,
    Token,
    UncertainStart,
    Unreachable,
    UploadEvent,
    UploadSummary,
    plan_upload,
    run_upload,
)
from omnimig.uploader import run as run_module
from omnimig.uploader.client import MAX_BODY_BYTES
from omnimig.uploader.credentials import redact
from omnimig.uploader.fake_server import FakeOmnitron, Fault
from omnimig.uploader.lock import StateLock

TOKEN = "tok-H4rden-91c0de77"
FAST = RetryPolicy(attempts=4, backoff=0.01, max_delay=0.05)
CLI = "from omnimig.cli import app; app()"


@pytest.fixture
def server() -> Iterator[FakeOmnitron]:
    with FakeOmnitron(TOKEN) as srv:
        yield srv


def upload(bundle: Path, srv: FakeOmnitron, **options: Any) -> UploadSummary:
    plan_options = {k: options.pop(k) for k in ("only", "chunk_rows", "strict") if k in options}
    plan = plan_upload(bundle, srv.url, 5, **plan_options)
    options.setdefault("sleep", lambda seconds: None)
    return run_upload(plan, options.pop("token", Token(TOKEN)), poll_interval=0, retry=FAST, **options)


def cli(args: list[str], token: str = TOKEN) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["upload", *args], env={"OMNIMIG_TOKEN": token})
    return result.exit_code, result.output


def state_text(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def secret_forms(token: str) -> list[str]:
    """The token, and the cut echo a server may send back (``Token abc…``)."""
    return [token, token[:8]]


# 1. One run at a time -------------------------------------------------------------------------


def test_two_concurrent_runs_post_each_file_once_and_the_second_is_refused(bundle: Path, server: FakeOmnitron) -> None:
    second: list[BaseException | UploadSummary] = []

    def run_second() -> None:
        try:
            second.append(upload(bundle, server))
        except BaseException as exc:  # kept to assert on below
            second.append(exc)

    def while_the_first_runs(event: UploadEvent) -> None:
        # The first run has just sent the users: start the second run now, and wait for it.
        if event.kind == "started" and event.step.type == "user" and not second:
            thread = threading.Thread(target=run_second)
            thread.start()
            thread.join(timeout=60)

    first = upload(bundle, server, on_event=while_the_first_runs)
    assert first.ok
    assert len(second) == 1 and isinstance(second[0], RunLocked)
    message = str(second[0])
    assert f"pid {os.getpid()}" in message and "Nothing was sent" in message
    assert [r.type for r in server.starts()] == list(type_names())  # exactly one POST per file
    # The lock is released at the end: the next run proceeds (and sends nothing again).
    assert {p.how for p in upload(bundle, server).parts} == {"skipped"}


def test_two_upload_processes_at_once_import_once_and_one_exits_2(bundle: Path, server: FakeOmnitron) -> None:
    server.script("progress", Fault(hang=True))  # holds the first run inside its first migration
    env = {**os.environ, "OMNIMIG_TOKEN": TOKEN}
    args = [sys.executable, "-c", CLI, "upload", str(bundle), "--url", server.url, "--channel", "5"]
    args += ["--poll-interval", "0.1", "--http-timeout", "30"]
    first = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # until the first run's user POST arrived (bounded: 60 s)
            if server.starts() or first.poll() is not None:
                break
            time.sleep(0.1)
        assert len(server.starts()) == 1, first.communicate(timeout=30)
        second = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert "another omnimig upload (pid" in second.stderr and "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        server.release()
        _, err = first.communicate(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert [r.type for r in server.starts()] == list(type_names())


def test_a_lock_held_elsewhere_refuses_the_cli_run_with_exit_2(bundle: Path, server: FakeOmnitron) -> None:
    state = bundle / ".omnimig"
    state.mkdir()
    with StateLock(state):
        code, output = cli([str(bundle), "--url", server.url, "--channel", "5"])
    assert code == 2 and "another omnimig upload" in output and "Traceback" not in output
    assert server.requests == []


def test_a_test_set_run_holds_the_bundle_lock_before_it_writes_the_test_set(bundle: Path, server: FakeOmnitron) -> None:
    state = bundle / ".omnimig"
    state.mkdir()
    with StateLock(state):
        code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--test-set"])
    assert code == 2 and "another omnimig upload" in output
    assert not (state / "test-set").exists() and server.requests == []
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--test-set", "--poll-interval", "0.1"])
    assert code == 0, output


def test_a_journal_changed_underneath_is_not_overwritten(bundle: Path, server: FakeOmnitron) -> None:
    def meddle(event: UploadEvent) -> None:
        if event.kind == "started" and event.step.type == "address":
            path = bundle / ".omnimig" / "journal.json"
            data = json.loads(path.read_text())
            data["generation"] += 5  # what another writer would leave
            path.write_text(json.dumps(data))

    with pytest.raises(JournalError, match="changed by another run"):
        upload(bundle, server, on_event=meddle)
    assert (
        json.loads((bundle / ".omnimig" / "journal.json").read_text())["files"]["address/address.csv"]["parts"]["1"][
            "state"
        ]
        == "started"
    )  # the other writer's file, untouched


# 2. The token never leaks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fault"),
    [
        ("start", Fault(status=401, echo=True)),
        ("start", Fault(status=403, echo=True)),
        ("start", Fault(status=500, echo=True)),
        ("progress", Fault(status=401, echo=True)),
        ("progress", Fault(status=403, echo=True)),
    ],
)
def test_an_echoing_server_never_gets_the_token_into_output_or_files(
    bundle: Path, kind: str, fault: Fault, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOmnitron(TOKEN) as srv:
        srv.script(kind, fault)
        code, output = cli([str(bundle), "--url", srv.url, "--channel", "5", "--poll-interval", "0.1"])
        assert srv.requests, "the server was asked"
    assert code == 1 and "HTTP" in output, output
    captured = capsys.readouterr()
    seen = output + captured.out + captured.err + state_text(bundle / ".omnimig")
    for form in secret_forms(TOKEN):
        assert form not in seen
    assert "***" in seen


def test_every_echoed_progress_error_is_redacted_in_the_exception_and_the_audit_log(
    bundle: Path, server: FakeOmnitron
) -> None:
    server.script("progress", *[Fault(status=500, echo=True)] * 4)
    with pytest.raises(HttpError) as caught:
        upload(bundle, server, only=["user"])
    texts = [str(caught.value), repr(caught.value), caught.value.body, state_text(bundle / ".omnimig")]
    assert not [t for t in texts if any(form in t for form in secret_forms(TOKEN))]
    audit = [json.loads(line) for line in (bundle / ".omnimig" / "audit.jsonl").read_text().splitlines()]
    echoed = [line for line in audit if line.get("status") == 500]
    assert echoed and echoed[0]["response_headers"]["x-echo-authorization"] == "Token ***"


def test_redact_removes_the_token_cut_echoes_and_any_authorization_value() -> None:
    text = (
        f'You sent: Token {TOKEN}. cut: {TOKEN[:9]}… raw {TOKEN} "Authorization": "Bearer other-secret" '
        "authorization=Basic dXNlcjpwYXNz"
    )
    clean = redact(text, [TOKEN])
    assert TOKEN[:8] not in clean and "other-secret" not in clean and "dXNlcjpwYXNz" not in clean
    assert redact(clean, [TOKEN]) == clean  # idempotent
    assert redact("the API token is empty", [TOKEN]) == "the API token is empty"


def test_credentials_in_the_url_are_refused_without_echoing_them(bundle: Path) -> None:
    code, output = cli([str(bundle), "--url", "https://admin:Pa55w0rd-x@omnitron.example.com", "--channel", "5"])
    assert code == 2 and "user name or password" in output
    assert "Pa55w0rd-x" not in output and "Traceback" not in output
    with pytest.raises(InsecureUrl) as caught:
        plan_upload(bundle, "https://:only-pass@omnitron.example.com", 5)
    assert "only-pass" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["https://omnitron.example.com:99999", "https://omni tron.example.com", "https://\x1b[2J"]
)
def test_an_unusable_url_is_one_line_and_exit_2(bundle: Path, url: str) -> None:
    code, output = cli([str(bundle), "--url", url, "--channel", "5"])
    assert code == 2 and "Traceback" not in output and "\x1b" not in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("bad", ["tok\u200ben", "\u00a0tok en", "tok\nen", "tøken"])
def test_a_token_no_header_can_carry_is_refused_before_anything_is_sent(
    bundle: Path, server: FakeOmnitron, bad: str
) -> None:
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5"], token=bad)
    assert code == 2 and "API token" in output and "Nothing was sent" in output
    assert server.requests == []
    assert not (bundle / ".omnimig" / "journal.json").exists()
    with pytest.raises(BadToken):
        run_upload(plan_upload(bundle, server.url, 5), bad)
    assert server.requests == [] and not (bundle / ".omnimig").exists()


# 3. Private files -----------------------------------------------------------------------------


def modes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): stat.S_IMODE(p.lstat().st_mode) for p in [folder, *folder.rglob("*")]}


def test_state_files_are_private_whatever_the_umask_and_old_ones_are_tightened(
    bundle: Path, server: FakeOmnitron
) -> None:
    old = os.umask(0o022)
    try:
        upload(bundle, server, chunk_rows=2)
        state = bundle / ".omnimig"
        found = modes(state)
        assert {"journal.json", "audit.jsonl", "lock", "sent", "parts"} <= set(found)
        assert any(name.startswith("parts/") and name.endswith(".csv") for name in found)
        assert {m for name, m in found.items() if (state / name).is_dir()} == {0o700}
        assert {m for name, m in found.items() if (state / name).is_file()} == {0o600}
        # What an older omnimig left world-readable is tightened by the next run.
        for path in [state, *state.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        upload(bundle, server, chunk_rows=2)
        assert set(modes(state).values()) <= {0o700, 0o600}
    finally:
        os.umask(old)


# 4. Bounded waiting ---------------------------------------------------------------------------


def test_a_server_that_never_answers_a_poll_costs_at_most_the_http_timeout(bundle: Path, server: FakeOmnitron) -> None:
    server.script("progress", *[Fault(hang=True)] * 10)
    with pytest.raises(Unreachable, match=r"within 1 s"):
        upload(bundle, server, only=["user"], http_timeout=1.0)
    # The retry budget is a deadline: one hung attempt used it all, so it was not tried 4 times.
    assert len([r for r in server.requests if r.kind == "progress"]) < FAST.attempts
    record = json.loads((bundle / ".omnimig" / "journal.json").read_text())["files"]["user/user.csv"]["parts"]["1"]
    assert record["state"] == "started"  # a re-run resumes polling, never sends it again


def test_the_cli_is_bounded_by_http_timeout_when_a_start_is_never_answered(bundle: Path, server: FakeOmnitron) -> None:
    server.script("start", Fault(hang=True))
    env = {**os.environ, "OMNIMIG_TOKEN": TOKEN}
    args = [sys.executable, "-c", CLI, "upload", str(bundle), "--url", server.url, "--channel", "5"]
    done = subprocess.run([*args, "--http-timeout", "1"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "Omnitron may have started a migration" in done.stderr and "Traceback" not in done.stderr
    assert len(server.starts()) == 1


@pytest.mark.parametrize("kind", ["start", "progress"])
def test_an_answer_bigger_than_the_cap_is_an_error_that_says_so(bundle: Path, server: FakeOmnitron, kind: str) -> None:
    server.script(kind, Fault(body_bytes=MAX_BODY_BYTES * 8))
    expected = UncertainStart if kind == "start" else BadAnswer
    with pytest.raises(expected, match="bigger than 1024 KiB"):
        upload(bundle, server, only=["user"])
    audit = (bundle / ".omnimig" / "audit.jsonl").read_text()
    assert len(audit) < MAX_BODY_BYTES  # the flood was not logged either


@pytest.mark.parametrize(
    "migration_id", ["../../../admin", "abc\x1b[2Jdef", "x" * 65, "a/b", "", "id with space", True, ["a"]]
)
def test_a_migration_id_that_is_not_an_id_never_goes_into_a_url(
    bundle: Path, server: FakeOmnitron, migration_id: Any
) -> None:
    server.script("start", Fault(status=200, body={"migration_id": migration_id}))
    with pytest.raises(UncertainStart) as caught:
        upload(bundle, server, only=["user"])
    assert "\x1b" not in str(caught.value)
    assert [r.kind for r in server.requests] == ["start"]  # no progress request to anywhere
    record = json.loads((bundle / ".omnimig" / "journal.json").read_text())["files"]["user/user.csv"]["parts"]["1"]
    assert record["state"] == "starting" and record["migration_id"] is None
    with pytest.raises(JournalError, match="Check the user migrations in Omnitron"):
        upload(bundle, server, only=["user"])


@pytest.mark.parametrize("stored", ["../../steer", "abc\x1b[2J", "y" * 500, 12345])
def test_a_journal_holding_a_bad_migration_id_refuses_cleanly_and_never_polls_it(
    bundle: Path, server: FakeOmnitron, stored: Any
) -> None:
    with pytest.raises(_Stop):
        upload(bundle, server, only=["user"], on_event=_stop_at("started"))
    path = bundle / ".omnimig" / "journal.json"
    data = json.loads(path.read_text())
    data["files"]["user/user.csv"]["parts"]["1"]["migration_id"] = stored
    path.write_text(json.dumps(data))
    polls = len(server.requests)
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--only", "user"])
    assert code == 1 and "is not 1 to 64 letters" in output and "Traceback" not in output
    assert "\x1b" not in output
    assert len(server.requests) == polls


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: d["files"]["user/user.csv"].pop("parts"),
        lambda d: d["files"]["user/user.csv"]["parts"]["1"].update(state="exploded"),
        lambda d: d.update(files=[]),
        lambda d: d["files"]["user/user.csv"]["parts"]["1"].pop("counts"),
    ],
)
def test_a_damaged_journal_is_one_line_not_a_traceback(bundle: Path, server: FakeOmnitron, damage: Any) -> None:
    upload(bundle, server, only=["user"])
    path = bundle / ".omnimig" / "journal.json"
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--only", "user"])
    assert code == 1 and "cannot read the journal" in output and "Traceback" not in output


class _Stop(Exception):
    """Stands in for Ctrl-C at a chosen point of a run."""


def _stop_at(kind: str) -> Any:
    def callback(event: UploadEvent) -> None:
        if event.kind == kind:
            raise _Stop(kind)

    return callback


# 5. What is sent is what was validated --------------------------------------------------------

LONG_EXTRA = json.dumps({"note": "ü" + "x" * 39_998}, ensure_ascii=False)


def _long_extra_csv(bundle: Path) -> None:
    path = bundle / "order.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("extra_field")
    rows[2][column] = LONG_EXTRA
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)


def _long_extra_json(bundle: Path) -> None:
    path = bundle / "order_item.json"
    items = json.loads(path.read_text(encoding="utf-8"))
    items[3]["extra_field"] = json.loads(LONG_EXTRA)
    path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")


@pytest.mark.parametrize("make", [_long_extra_csv, _long_extra_json])
def test_a_40000_character_value_is_sent_whole_when_chunked(bundle: Path, server: FakeOmnitron, make: Any) -> None:
    make(bundle)
    plan = plan_upload(bundle, server.url, 5, chunk_rows=2)
    assert plan.errors == 0
    summary = run_upload(plan, Token(TOKEN), poll_interval=0, retry=FAST, sleep=lambda s: None)
    assert summary.ok
    sent = b"".join(r.file_bytes or b"" for r in server.starts()).decode("utf-8")
    assert ("x" * 39_998) in sent and sent.count("x" * 39_998) == 1


def test_a_part_that_does_not_validate_like_its_rows_is_refused_and_nothing_of_it_is_sent(
    bundle: Path, server: FakeOmnitron, monkeypatch: pytest.MonkeyPatch
) -> None:
    _long_extra_csv(bundle)

    class CuttingWriter(run_module.TableWriter):  # type: ignore[name-defined]
        """Cuts long cells the way xlsxwriter does at 32,767 characters."""

        def write(self, chunk: Any, mask: Any, extra: Any = None) -> None:
            cut = chunk.data.map(lambda v: v[:100] if isinstance(v, str) else v)
            super().write(dataclasses.replace(chunk, data=cut), mask, extra)

    monkeypatch.setattr(run_module, "TableWriter", CuttingWriter)
    with pytest.raises(
        PlanError,
        match=r"order\.csv: the parts .* do not validate like .*row 3, column extra_field.* in order\.part001\.csv",
    ):
        upload(bundle, server, chunk_rows=2)
    assert "order" not in [r.type for r in server.starts()]


def test_a_part_the_writer_cannot_hold_is_one_line_with_exit_2(
    bundle: Path, server: FakeOmnitron, monkeypatch: pytest.MonkeyPatch
) -> None:
    class RefusingWriter(run_module.TableWriter):  # type: ignore[name-defined]
        def write(self, chunk: Any, mask: Any, extra: Any = None) -> None:
            raise ValueError("row 3, column extra_field: 40,000 characters; an XLSX cell holds at most 32,767")

    monkeypatch.setattr(run_module, "TableWriter", RefusingWriter)
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--chunk-rows", "2"])
    assert code == 2 and "row 3, column extra_field" in output and "Traceback" not in output
    assert server.requests == []


# Properties --------------------------------------------------------------------------------------

TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="*")


@settings(max_examples=200, deadline=None)
@given(
    token=st.text(TOKEN_CHARS, min_size=1, max_size=64),
    before=st.text(max_size=40),
    after=st.text(max_size=40),
    cut=st.integers(8, 64),
)
def test_redact_leaves_no_token_and_no_cut_echo_of_it(token: str, before: str, after: str, cut: int) -> None:
    text = f"{before}{token}{after} You sent: Token {token}. {json.dumps(token)} {token[:cut]}…"
    clean = redact(text, [token])
    assert token not in clean
    if len(token) >= 8:
        assert token[:8] not in clean


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=30).filter(lambda t: any(not "!" <= c <= "~" for c in t.strip())))
def test_a_token_with_anything_but_printable_ascii_is_refused_naming_the_character(value: str) -> None:
    with pytest.raises(BadToken) as caught:
        Token(value)
    message = str(caught.value)
    assert message.isascii() and message.isprintable()  # names the character, never prints it
    assert "at character" in message or message == "the API token is empty"


def test_forced_chunks_of_a_file_with_field_and_bundle_errors_are_sent_as_validated(
    bundle: Path, server: FakeOmnitron
) -> None:
    users = bundle / "user.csv"
    lines = users.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("ayse.yilmaz@example.com", "not-an-email")  # a field error
    lines.append(lines[2])  # a repeated customer_code: a bundle (unique) error the parts cannot see
    users.write_text("\n".join(lines) + "\n", encoding="utf-8")
    plan = plan_upload(bundle, server.url, 5, chunk_rows=2, only=["user"])
    assert plan.errors >= 2
    summary = run_upload(plan, Token(TOKEN), force=True, poll_interval=0, retry=FAST, sleep=lambda s: None)
    assert summary.ok and len(server.starts()) == 2
    assert b"not-an-email" in (server.starts()[0].file_bytes or b"")


@pytest.mark.parametrize("value", ["t", "abc", "tok-123", "x" * 15])
def test_a_token_too_short_to_redact_safely_is_refused_before_anything_is_sent(value: str) -> None:
    """Redacting a one-letter token would blank every such letter of the journal: refused instead."""
    with pytest.raises(BadToken, match="has at least 16"):
        Token(value)
    assert Token("x" * 16).reveal() == "x" * 16
