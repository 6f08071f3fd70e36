"""Upload review findings R1, R3, R12, R13: long tokens, terminal escapes, the token prompt, JSON-safe redaction.

Every server here is the fake Omnitron on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.uploader import HttpError, RetryPolicy, Token, plan_upload, run_upload
from omnimig.uploader.credentials import redact
from omnimig.uploader.fake_server import FakeOmnitron, Fault
from omnimig.uploader.journal import Journal

TOKEN = "tok-Rev1ew-5e3a9c10d2"
FAST = RetryPolicy(attempts=2, backoff=0.01, max_delay=0.02)


def run(bundle: Path, srv: FakeOmnitron, token: str) -> None:
    plan = plan_upload(bundle, srv.url, 5, only=["user"])
    run_upload(plan, Token(token), poll_interval=0, retry=FAST, sleep=lambda s: None)


def state_files(bundle: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The journal and every audit line, each parsed (a line that is not JSON fails the test here)."""
    state = bundle / ".omnimig"
    journal = json.loads((state / "journal.json").read_text(encoding="utf-8"))
    audit = [json.loads(line) for line in (state / "audit.jsonl").read_text(encoding="utf-8").splitlines()]
    return journal, audit


def parts(journal: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for entry in journal["files"].values() for p in entry["parts"].values()]


# R1: a long token echoed back -----------------------------------------------------------------


def test_redact_handles_a_very_long_token_and_its_cut_echoes() -> None:
    token = "A1b2C3d4" * 500  # 4,000 characters: a regex with one group per character overflowed re
    text = f"You sent: Token {token}. cut: {token[:2500]}… and {token[:8]}x and {token[:9]}"
    clean = redact(text, [token])
    assert token[:8] not in clean
    assert clean == "You sent: Token ***. cut: ***… and ***x and ***"


def test_a_long_token_echoed_by_the_server_ends_in_an_http_error_and_a_finished_journal(bundle: Path) -> None:
    token = "L0ngT0ken-" * 100  # 1,000 characters
    with FakeOmnitron(token) as srv:
        srv.script("start", Fault(status=401, echo=True))
        with pytest.raises(HttpError) as caught:
            run(bundle, srv, token)
    journal, audit = state_files(bundle)
    assert [p["state"] for p in parts(journal)] == ["failed"]  # not left "starting" by a crash
    seen = str(caught.value) + json.dumps(journal) + json.dumps(audit)
    assert token[:8] not in seen and "***" in seen


# R3: terminal escapes in a server's answer ---------------------------------------------------


def test_terminal_escapes_in_an_error_answer_are_shown_never_sent_to_the_terminal(bundle: Path) -> None:
    hostile = b"\x1b]0;owned\x07\x1b[2J\x9b31m refused"
    with FakeOmnitron(TOKEN) as srv:
        srv.script("start", Fault(status=400, body=hostile), Fault(status=400, body=hostile))
        result = CliRunner().invoke(
            app, ["upload", str(bundle), "--url", srv.url, "--channel", "5", "--only", "user"],
            env={"OMNIMIG_TOKEN": TOKEN},
        )  # fmt: skip
        with pytest.raises(HttpError) as caught:  # the exception itself is printable as is
            run(bundle, srv, TOKEN)
    assert result.exit_code == 1, result.output
    assert "HTTP 400" in result.output and "\\x1b]0;owned\\x07" in result.output
    assert not any(c in result.output for c in "\x1b\x07\x9b"), repr(result.output)
    assert "\x1b" not in str(caught.value) and "\x1b" not in caught.value.body


# R12: Ctrl-C and end of input at the token prompt: see tests/test_upload_api.py (the prompt moved
# into the library, ``omnimig.uploader.read_token``, with the rest of the upload command).


# R13: redaction keeps the journal and the audit log JSON ---------------------------------------

#: A server's JSON answer quoting credentials next to escaped quotes and backslashes.
ESCAPED = b'{"detail": "Token=\\"abc\\"", "hint": "Token abc\\"def", "auth": "authorization: Bearer x\\\\y\\"z"}'


def test_an_answer_with_escaped_quotes_after_a_scheme_keeps_journal_and_audit_valid_json(bundle: Path) -> None:
    with FakeOmnitron(TOKEN) as srv:
        srv.script("start", Fault(status=400, body=ESCAPED))
        with pytest.raises(HttpError) as caught:
            run(bundle, srv, TOKEN)
    journal, audit = state_files(bundle)  # both parse
    answered = [line for line in audit if line.get("status") == 400]
    assert answered and answered[0]["response_body"]["detail"] == 'Token="***"'
    assert answered[0]["response_body"]["hint"] == 'Token ***"def'
    assert "abc" not in json.dumps(answered) and "abc" not in str(caught.value)
    assert [p["state"] for p in parts(journal)] == ["failed"]


def test_redact_keeps_json_text_json_and_redacts_quoted_values() -> None:
    text = json.dumps({"a": 'Token="abc"', "b": 'Token abc"def', "c": 'authorization: Bearer x"y', "d": "Basic q\\"})
    clean = redact(text)
    assert json.loads(clean) == {"a": 'Token="***"', "b": 'Token ***"def', "c": 'authorization: Bearer ***"y',
                                 "d": "Basic ***\\"}  # fmt: skip


def test_the_journal_stays_json_whatever_a_note_quotes(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    journal = Journal(path, "http://127.0.0.1:1", "5", redact=Token(TOKEN).redact)
    journal.data["files"]["user/u.csv"] = {"type": "user", "file": "u.csv", "source_sha256": "0", "parts": {}}
    note = f'HTTP 400: Token abc"def \\ Authorization: "Bearer q\\"r" {TOKEN}'
    journal.mark("user/u.csv", 1, state="failed", note=note)
    saved = json.loads(path.read_text(encoding="utf-8"))["files"]["user/u.csv"]["parts"]["1"]["note"]
    assert TOKEN not in saved and "abc" not in saved and saved.startswith("HTTP 400: Token ***")
