"""``upload_bundle``: the whole upload command as one call, against the fake Omnitron on 127.0.0.1.

What a script sees: the result (what was sent, migration ids, counts, what was skipped and why,
warnings), the refusals before anything was sent (``UploadRefused``), the token checked before
the bundle is validated, and the prerequisite warning read from the journal. The CLI tests at
the end run once ``omnimig upload`` is a thin call into ``upload_bundle``.
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnimig import cli as cli_module
from omnimig.cli import app
from omnimig.uploader import (
    BadToken,
    InsecureUrl,
    PlanError,
    PromptInterrupted,
    RunLocked,
    UploadError,
    UploadRefused,
    UploadResult,
    ValidationRefused,
    read_token,
    upload_bundle,
)
from omnimig.uploader.fake_server import FakeOmnitron
from omnimig.uploader.lock import StateLock
from omnimig.uploader.run import ParameterError, check_options, plan_upload

TOKEN = "tok-API-4b1d9e2f"
ENV = "OMNIMIG_API_TEST_TOKEN"
ORDER = ["user", "address", "order", "order_item"]


@pytest.fixture
def server() -> Iterator[FakeOmnitron]:
    with FakeOmnitron(TOKEN, polls_to_finish=1) as srv:
        yield srv


@pytest.fixture
def no_validation(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A spy in place of the bundle validation: records each call and fails the test if it runs."""
    calls: list[object] = []

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(args)
        raise AssertionError("the bundle was validated")

    monkeypatch.setattr("omnimig.uploader.run.validate_paths", spy)
    monkeypatch.setattr("omnimig.sampling.testset.validate_paths", spy)
    return calls


def send(bundle: Path, srv: FakeOmnitron, **options: Any) -> UploadResult:
    options.setdefault("token", TOKEN)
    return upload_bundle(bundle, url=srv.url, channel=5, poll_interval=0.01, **options)


def started(srv: FakeOmnitron) -> list[str | None]:
    return [r.type for r in srv.starts()]


# --------------------------------------------------------------------------- the result


def test_the_result_says_what_was_sent_with_ids_and_counts(bundle: Path, server: FakeOmnitron) -> None:
    seen: list[UploadResult] = []
    result = send(bundle, server, on_plan=seen.append)
    assert seen == [result] and seen[0].summary is not None  # called once, before sending
    assert result.ok and result.exit_code == 0 and result.stopped is None and result.warnings == []
    assert [p.type for p in result.sent] == ORDER and [p.how for p in result.sent] == ["uploaded"] * 4
    assert len(set(result.migration_ids)) == 4 and started(server) == ORDER
    assert {t: c.errors for t, c in result.counts.items()} == dict.fromkeys(ORDER, 0)
    assert result.counts["user"].total == next(r.rows for r in result.plan.results if r.type == "user")
    assert result.lines()[-1].startswith("audit log: ")
    assert result.skipped == []

    again = send(bundle, server)
    assert again.sent == [] and len(server.starts()) == 4
    assert [(s.type, s.reason.split(" (")[0]) for s in again.skipped] == [(t, "already finished") for t in ORDER]
    assert again.migration_ids == result.migration_ids


def test_a_dry_run_needs_no_token_and_returns_the_plan(
    bundle: Path, server: FakeOmnitron, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV, raising=False)
    result = upload_bundle(bundle, url=server.url, channel="5", token_env=ENV, dry_run=True)
    assert result.summary is None and result.sent == [] and result.exit_code == 0
    assert result.lines() == result.plan.describe()
    assert server.requests == [] and not (bundle / ".omnimig").exists()


def test_a_stopped_run_says_what_was_not_sent_and_why(bundle: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1, errors={"address": 1}) as srv:
        result = send(bundle, srv)
    assert not result.ok and result.exit_code == 1 and result.stopped is not None
    assert result.stopped.startswith("stopped: address file address.csv")
    assert [p.type for p in result.sent] == ["user", "address"]
    assert [(s.type, s.reason) for s in result.skipped] == [
        (t, "not sent: the run stopped after a migration reported errors") for t in ("order", "order_item")
    ]


def test_validation_errors_refuse_with_exit_1_and_force_warns(bundle: Path, server: FakeOmnitron) -> None:
    order = bundle / "order.csv"
    order.write_text(order.read_text(encoding="utf-8").replace(",TRY,", ",TL,", 1), encoding="utf-8")
    with pytest.raises(ValidationRefused) as refused:
        send(bundle, server)
    assert not isinstance(refused.value, UploadRefused)  # the CLI's exit 1, as before
    assert server.starts() == []
    forced = send(bundle, server, force=True)
    assert forced.warnings == ["uploading despite 1 validation error (--force)"]
    assert started(server) == ORDER


@pytest.mark.parametrize(
    ("options", "error", "says"),
    [
        ({"url": "http://omnitron.example.com"}, InsecureUrl, "plain HTTP"),
        ({"channel": "5/../6"}, PlanError, "not a channel id"),
        ({"only": ["purchases"]}, PlanError, "only=: unknown type 'purchases'"),
        ({"restart": ["buyers"]}, PlanError, "restart=: unknown type 'buyers'"),
        ({"customer": "C0001"}, PlanError, "customer=: goes with a test set"),
        ({"chunk_rows": 0}, PlanError, "chunk_rows=: must be at least 1"),
        ({"http_timeout": 0}, PlanError, "http_timeout=: must be more than 0 seconds"),
        ({"token": "short"}, BadToken, "characters"),
    ],
)
def test_options_are_refused_before_the_bundle_is_read(
    bundle: Path, server: FakeOmnitron, no_validation: list[object], options: dict[str, Any], error: type, says: str
) -> None:
    kwargs: dict[str, Any] = {"url": server.url, "channel": 5, "token": TOKEN, **options}
    with pytest.raises(error) as caught:
        upload_bundle(bundle, **kwargs)
    assert isinstance(caught.value, UploadRefused) and says in str(caught.value)
    assert no_validation == [] and server.requests == []


@pytest.mark.parametrize(
    ("options", "python", "cli"),
    [
        ({"only": ["purchases"]}, "only=: unknown type 'purchases'", "--only: unknown type 'purchases'"),
        ({"restart": "buyers"}, "restart=: unknown type 'buyers'", "--restart: unknown type 'buyers'"),
    ],
)
def test_a_refused_type_is_named_as_the_caller_spelled_the_parameter(
    bundle: Path, server: FakeOmnitron, no_validation: list[object], options: dict[str, Any], python: str, cli: str
) -> None:
    """A Python caller passed ``only=``, a person typed ``--only``: each line names what its reader wrote."""
    names = "; use one of: user, address, order, order_item"
    with pytest.raises(ParameterError) as caught:
        upload_bundle(bundle, url=server.url, channel=5, token=TOKEN, **options)
    assert str(caught.value) == python + names
    assert isinstance(caught.value, PlanError) and caught.value.parameter == next(iter(options))
    assert "--" not in str(caught.value)
    assert str(pickle.loads(pickle.dumps(caught.value))) == python + names  # a worker process may pass it on
    ((name, value),) = options.items()
    values = [value] if isinstance(value, str) else value
    args = [a for v in values for a in (f"--{name}", v)]
    result = CliRunner().invoke(
        app, ["upload", str(bundle), "--url", server.url, "--channel", "5", *args], env={"OMNIMIG_TOKEN": TOKEN}
    )
    assert result.exit_code == 2
    assert result.output.strip() == f"omnimig: error: {cli}{names}"
    assert no_validation == [] and server.requests == []


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (lambda url: check_options(url, 5, only=["users"]), "only=: unknown type users; use one of: "),
        (lambda url: check_options(url, 5, restart=["buyers"]), "restart=: unknown type buyers; use one of: "),
        (lambda url: plan_upload(Path("."), url, 5, only=["orderz"]), "only=: unknown type orderz; use one of: "),
    ],
)
def test_the_planners_name_a_refused_parameter_as_python_spells_it(
    server: FakeOmnitron, no_validation: list[object], call: Any, says: str
) -> None:
    """``check_options`` and ``plan_upload`` take exact type names; the one they refuse is named too."""
    with pytest.raises(ParameterError) as caught:
        call(server.url)
    assert str(caught.value).startswith(says)


@pytest.mark.parametrize("only", ["user", "user,address", " users , addresses ", ["user", "address"]])
def test_only_and_restart_take_one_string_as_fix_does(bundle: Path, server: FakeOmnitron, only: Any) -> None:
    """A string is a collection of characters: ``only="user"`` must not be read as the types u, s, e, r."""
    first = send(bundle, server, only=only)
    wanted = ["user"] if only == "user" else ["user", "address"]
    assert started(server) == wanted and first.ok
    again = send(bundle, server, only=only, restart=only)
    assert [p.how for p in again.sent] == ["uploaded"] * len(wanted)
    assert started(server) == wanted * 2


def test_refusals_before_anything_is_sent_share_one_base() -> None:
    for refusal in (BadToken, InsecureUrl, PlanError, RunLocked):
        assert issubclass(refusal, UploadRefused) and issubclass(refusal, UploadError)
    assert not issubclass(ValidationRefused, UploadRefused)


def test_a_locked_bundle_refuses_the_test_set_before_picking_it(bundle: Path, server: FakeOmnitron) -> None:
    state = bundle / ".omnimig"
    state.mkdir(mode=0o700)
    lock = StateLock(state).acquire()
    try:
        with pytest.raises(RunLocked):
            send(bundle, server, test_set=True)
    finally:
        lock.release()
    assert not (state / "test-set").exists() and server.requests == []


# --------------------------------------------------------------------------- the token, before validation


@pytest.mark.parametrize("value", [None, "", "tok-\u200bAPI-4b1d9e2f", "tok API 4b1d9e2f"])
@pytest.mark.parametrize("test_set", [False, True])
def test_a_missing_or_unusable_token_is_refused_before_the_bundle_is_validated(
    bundle: Path,
    server: FakeOmnitron,
    monkeypatch: pytest.MonkeyPatch,
    no_validation: list[object],
    value: str | None,
    test_set: bool,
) -> None:
    if value is None:
        monkeypatch.delenv(ENV, raising=False)
    else:
        monkeypatch.setenv(ENV, value)
    with pytest.raises(BadToken) as caught:
        upload_bundle(bundle, url=server.url, channel=5, token_env=ENV, test_set=test_set)
    message = str(caught.value)
    assert "\n" not in message and ENV in message and (value is None or value.strip() == "" or value not in message)
    assert no_validation == [] and server.requests == []
    assert not (bundle / ".omnimig").exists()


def test_the_token_prompt_is_asked_only_when_the_variable_is_empty(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def ask(prompt: str) -> str:
        asked.append(prompt)
        return f"  {TOKEN}\n"

    monkeypatch.delenv(ENV, raising=False)
    assert read_token(ENV, ask).reveal() == TOKEN and asked == [f"Omnitron API token ({ENV} is not set): "]
    monkeypatch.setenv(ENV, TOKEN)
    assert read_token(ENV, ask).reveal() == TOKEN and len(asked) == 1


@pytest.mark.parametrize(
    ("raised", "error", "says"),
    [(KeyboardInterrupt, PromptInterrupted, "interrupted at the API token prompt"), (EOFError, BadToken, "ended")],
)
def test_ctrl_c_or_end_of_input_at_the_prompt(
    monkeypatch: pytest.MonkeyPatch, raised: type[BaseException], error: type[BaseException], says: str
) -> None:
    def ask(prompt: str) -> str:
        raise raised

    monkeypatch.delenv(ENV, raising=False)
    with pytest.raises(error) as caught:
        read_token(ENV, ask)
    assert says in str(caught.value) and "\n" not in str(caught.value)


# --------------------------------------------------------------------------- prerequisites, from the journal


def test_only_order_on_a_fresh_bundle_warns_that_users_and_addresses_were_never_uploaded(
    bundle: Path, server: FakeOmnitron
) -> None:
    plan_seen: list[list[str]] = []
    result = send(bundle, server, only=["order"], on_plan=lambda r: plan_seen.append(list(r.warnings)))
    assert result.missing_prerequisites == {"order": ("user", "address")}
    (warning,) = result.warnings
    assert plan_seen == [[warning]], "the warning is known before anything is sent"
    assert warning.startswith("order: no user or address upload from this bundle is recorded as finished")
    assert "its rows refer to user rows" in warning and "journal.json" in warning and "\n" not in warning
    assert started(server) == ["order"], "a warning, not a refusal: the users may have come another way"
    assert {s.type for s in result.skipped if s.reason.startswith("not asked for")} == {
        "user",
        "address",
        "order_item",
    }


def test_no_warning_once_the_journal_records_the_earlier_types(bundle: Path, server: FakeOmnitron) -> None:
    first = send(bundle, server, only=["user"])
    assert first.warnings == []
    address = send(bundle, server, only=["address"])
    assert address.warnings == []
    orders = send(bundle, server, only=["order", "order_item"])
    assert orders.warnings == [] and orders.missing_prerequisites == {}
    assert started(server) == ORDER


def test_only_the_missing_type_is_named_and_a_dry_run_warns_too(bundle: Path, server: FakeOmnitron) -> None:
    send(bundle, server, only=["user"])
    result = send(bundle, server, only=["order"], dry_run=True)
    assert result.missing_prerequisites == {"order": ("address",)}
    (warning,) = result.warnings
    assert warning.startswith("order: no address upload") and "refer to" not in warning  # orders name no address
    item = send(bundle, server, only=["order_item"], dry_run=True)
    assert item.missing_prerequisites == {"order_item": ("address", "order")}
    assert "its rows refer to order rows" in item.warnings[0]


def test_uploads_to_another_shop_do_not_count(bundle: Path, server: FakeOmnitron) -> None:
    send(bundle, server, only=["user", "address"])
    with FakeOmnitron(TOKEN, polls_to_finish=1) as other:
        result = send(bundle, other, only=["order"], dry_run=True)
    assert result.missing_prerequisites == {"order": ("user", "address")}


# --------------------------------------------------------------------------- the test set's checklist


def test_the_test_set_checklist_reads_the_password_from_the_data(bundle: Path, server: FakeOmnitron) -> None:
    result = send(bundle, server, test_set=True)
    assert result.ok and result.test_set is not None and result.test_set.customer == "C0001"
    login, *pages = result.checks
    assert "plain-text" not in login and "md5 hash" in login and "Forgot password" in login
    assert pages and all("/" in p for p in pages)
    assert result.plan.directory == bundle / ".omnimig" / "test-set"


# --------------------------------------------------------------------------- through the CLI


def cli(args: list[str], token: str | None = TOKEN) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["upload", *args], env={"OMNIMIG_TOKEN": token or ""})
    return result.exit_code, result.output


@pytest.mark.parametrize("token", [None, "tok\u00a0API-4b1d9e2f"])
def test_cli_reports_a_bad_token_before_validating_in_one_line(
    bundle: Path, server: FakeOmnitron, no_validation: list[object], token: str | None
) -> None:
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5"], token=token)
    assert code == 2 and no_validation == [] and server.requests == []
    assert len(output.strip().splitlines()) == 1 and output.startswith("omnimig: error: ")
    assert "OMNIMIG_TOKEN" in output and "Traceback" not in output


def test_cli_prints_the_prerequisite_warning_and_still_uploads(bundle: Path, server: FakeOmnitron) -> None:
    args = ["--channel", "5", "--only", "order", "--poll-interval", "0.1"]
    code, output = cli([str(bundle), "--url", server.url, *args])
    assert code == 0, output
    assert "omnimig: WARNING: order: no user or address upload from this bundle" in output
    assert started(server) == ["order"]


def test_cli_test_set_checklist_never_asks_for_a_plain_text_password_the_data_lacks(
    bundle: Path, server: FakeOmnitron
) -> None:
    code, output = cli([str(bundle), "--url", server.url, "--channel", "5", "--test-set", "--poll-interval", "0.1"])
    assert code == 0, output
    assert "Before the real migration, check:" in output and "md5 hash" in output
    assert "plain-text" not in output


class _Terminal:
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("raised", "code", "says"), [(KeyboardInterrupt, 130, "interrupted"), (EOFError, 2, "ended")])
def test_cli_ctrl_c_or_end_of_input_at_the_prompt_is_one_line(
    bundle: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_validation: list[object],
    raised: type[BaseException],
    code: int,
    says: str,
) -> None:
    import typer

    def prompt(*args: object, **kwargs: object) -> str:
        raise raised

    monkeypatch.delenv("OMNIMIG_TOKEN", raising=False)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("getpass.getpass", prompt)
    with pytest.raises(typer.Exit) as caught:
        cli_module.upload(bundle, url="http://127.0.0.1:9", channel="5")
    assert caught.value.exit_code == code and no_validation == []
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err and "Aborted" not in err


def test_token_from_env_names_the_variable_and_never_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    from omnimig.uploader import Token

    monkeypatch.setenv(ENV, f" {TOKEN} ")
    assert Token.from_env(ENV).reveal() == TOKEN
    monkeypatch.setenv(ENV, TOKEN[:6])
    with pytest.raises(BadToken, match=f"^{ENV}: the API token has 6 characters") as caught:
        Token.from_env(ENV)
    assert TOKEN[:6] not in str(caught.value)
    monkeypatch.delenv(ENV)
    with pytest.raises(BadToken, match=f"set the environment variable {ENV}"):
        Token.from_env(ENV)


def test_type_names_as_people_write_them(bundle: Path, server: FakeOmnitron) -> None:
    """``--only users --only Addresses`` means user and address (the file stems of datapackage.json)."""
    result = upload_bundle(bundle, url=server.url, channel=5, token=TOKEN, only=["users", "Addresses"])
    assert started(server) == ["user", "address"]
    assert result.exit_code == 0
