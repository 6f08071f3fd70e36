"""`omnimig upload` through the command line, against the fake Omnitron on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.uploader.fake_server import FakeOmnitron

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
TOKEN = "tok-CLI-7f3a9c0d"


@pytest.fixture
def server() -> Iterator[FakeOmnitron]:
    with FakeOmnitron(TOKEN, polls_to_finish=1) as srv:
        yield srv


def run(args: list[str], token: str | None = TOKEN) -> tuple[int, str]:
    env = {"OMNIMIG_TOKEN": token} if token is not None else {"OMNIMIG_TOKEN": ""}
    result = CliRunner().invoke(app, ["upload", *args], env=env)
    return result.exit_code, result.output


def everything_written(folder: Path) -> str:
    return "".join(p.read_bytes().decode("utf-8", "replace") for p in folder.rglob("*") if p.is_file())


def test_dry_run_prints_the_plan_and_sends_nothing(bundle: Path, server: FakeOmnitron) -> None:
    code, output = run([str(bundle), "--url", server.url, "--channel", "5", "--dry-run"], token=None)
    assert code == 0, output
    assert "POST " + server.url + "/api/v1/remote/5/migrations/start/user/" in output
    assert server.requests == []


def test_upload_sends_every_type_in_order_and_keeps_the_token_out_of_everything(
    bundle: Path, server: FakeOmnitron
) -> None:
    code, output = run([str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1"])
    assert code == 0, output
    assert [r.path.rstrip("/").rsplit("/", 1)[-1] for r in server.starts()] == [
        "user",
        "address",
        "order",
        "order_item",
    ]
    assert TOKEN not in output
    assert TOKEN not in everything_written(bundle / ".omnimig")
    again_code, again = run([str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1"])
    assert again_code == 0 and again.count("(skipped)") == 4
    assert len(server.starts()) == 4  # nothing sent twice


def test_error_count_stops_the_run_with_exit_1(bundle: Path) -> None:
    with FakeOmnitron(TOKEN, polls_to_finish=1, errors={"address": 1}) as srv:
        code, output = run([str(bundle), "--url", srv.url, "--channel", "5", "--poll-interval", "0.1"])
        assert code == 1
        assert "stopped: address file address.csv" in output
        assert [r.path.rstrip("/").rsplit("/", 1)[-1] for r in srv.starts()] == ["user", "address"]


def test_test_set_uploads_one_of_each_and_lists_the_checks(bundle: Path, server: FakeOmnitron) -> None:
    code, output = run([str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1", "--test-set"])
    assert code == 0, output
    assert "test set: customer C0001" in output
    assert "/users/old-orders/" in output
    assert len(server.starts()) == 4


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--url", "http://omnitron.example.com", "--channel", "5"], "plain HTTP"),
        (["--url", "https://omnitron.example.com", "--channel", "5", "--customer", "C1"], "--customer: goes with"),
    ],
)
def test_unsafe_or_wrong_usage_exits_2(bundle: Path, extra: list[str], message: str) -> None:
    code, output = run([str(bundle), *extra])
    assert code == 2
    assert message in output
    assert "Traceback" not in output


def test_missing_token_without_a_terminal_exits_2(bundle: Path, server: FakeOmnitron) -> None:
    code, output = run([str(bundle), "--url", server.url, "--channel", "5"], token=None)
    assert code == 2
    assert "OMNIMIG_TOKEN" in output
    assert server.requests == []


def test_errors_refuse_the_upload_unless_forced(bundle: Path, server: FakeOmnitron) -> None:
    order = bundle / "order.csv"
    order.write_text(order.read_text(encoding="utf-8").replace(",TRY,", ",TL,", 1), encoding="utf-8")
    code, output = run([str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1"])
    assert code == 1
    assert server.starts() == []
    code, output = run([str(bundle), "--url", server.url, "--channel", "5", "--poll-interval", "0.1", "--force"])
    assert "WARNING" in output and "--force" in output
    assert len(server.starts()) == 4


def test_the_options_default_to_upload_bundles_defaults() -> None:
    """The CLI takes its defaults from ``uploader/defaults.py`` (as ``upload_bundle`` and ``omnimig.upload`` do):
    a literal typed into ``cli.py`` that differs fails here. Read from the click command typer builds, so
    what is compared is what ``omnimig upload`` runs with and ``--help`` shows."""
    import inspect

    import typer

    from omnimig.uploader import defaults
    from omnimig.uploader.api import upload_bundle
    from omnimig.uploader.credentials import TOKEN_ENV

    command = typer.main.get_group(app).commands["upload"]
    cli = {p.name: p.default for p in command.params}
    python = {
        name: p.default for name, p in inspect.signature(upload_bundle).parameters.items() if p.default is not p.empty
    }
    shared = sorted(cli.keys() & python.keys())
    assert {"timeout", "http_timeout", "poll_interval", "token_env", "chunk_rows"} <= set(shared)
    # An option never given is None to click; upload_bundle's restart is () for "none".
    differ = {name: (cli[name], python[name]) for name in shared if cli[name] != python[name]}
    assert differ == {"restart": (None, ())}
    assert (cli["timeout"], cli["http_timeout"], cli["poll_interval"], cli["token_env"]) == (
        defaults.MIGRATION_TIMEOUT,
        defaults.DEFAULT_BUDGET,
        defaults.POLL_INTERVAL,
        TOKEN_ENV,
    )
    constants = {name for name in vars(defaults) if name.isupper()}
    assert constants <= {name for name, value in vars(defaults).items() if value in cli.values()}, (
        "a default in uploader/defaults.py that no option of omnimig upload uses"
    )


def test_the_cli_takes_the_defaults_without_loading_the_http_client() -> None:
    """``omnimig --help`` stays fast: ``cli.py`` imports ``uploader/defaults.py``, which loads no httpx or pandas."""
    import subprocess
    import sys

    code = (
        "import sys, omnimig.cli, omnimig.uploader.defaults; "
        "heavy = ('httpx', 'pandas', 'pyarrow', 'numpy', 'omnimig.uploader.client'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"


def test_each_option_is_the_keyword_of_upload_bundle_it_passes_spelled_with_dashes() -> None:
    """What lets the CLI name a ``ParameterError``'s parameter (``only``) as the option typed (``--only``)."""
    import inspect

    import typer

    from omnimig.uploader.api import upload_bundle

    command = typer.main.get_group(app).commands["upload"]
    keywords = set(inspect.signature(upload_bundle).parameters)
    options = {p.name: p.opts for p in command.params if isinstance(p, typer.core.TyperOption)}
    assert {"only", "restart"} <= options.keys() & keywords
    for name in options.keys() & keywords:
        assert options[name] == ["--" + name.replace("_", "-")], name
