"""Fixtures shared by several test modules."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing

#: The hand-written mixed CSV/JSON bundle most tests start from.
BUNDLE = Path(__file__).resolve().parent / "data" / "bundle"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    """A private copy of the fixture bundle, so a test may write journals and logs next to it."""
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target)
    return target


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` so paths in messages are short and relative (``b/user.csv``)."""
    monkeypatch.chdir(tmp_path)
    return Path(".")


@pytest.fixture(autouse=True)
def no_debug_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """``--debug`` sets OMNIMIG_DEBUG in the process; in-process CLI tests must not leak it to the next test."""
    monkeypatch.setenv("OMNIMIG_DEBUG", "")  # recorded, so the teardown removes whatever a test set
    monkeypatch.delenv("OMNIMIG_DEBUG")


@pytest.fixture(autouse=True)
def english_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests read English messages whatever the machine's locale (LANG=tr_TR.UTF-8 would choose Turkish)."""
    from omnimig import i18n

    monkeypatch.setenv("OMNIMIG_LANG", "en")
    i18n.use(None)


@pytest.fixture(autouse=True, scope="session")
def cli_built_once() -> Iterator[None]:
    """``CliRunner().invoke(app, ...)`` builds the click command from the typer app once, not per call.

    Why: typer's ``get_command`` reads every command's signature again on each call (the string
    annotations of ``from __future__ import annotations`` compiled and evaluated), 40 ms of the
    60 ms an in-process ``omnimig schemas`` took, paid by each of the suite's CLI invocations.
    ``omnimig`` itself builds the command once per process; click commands hold no state between
    runs (each run gets a new context). A change to what the app registers builds it again.
    """
    built: dict[tuple[int, ...], tuple[typer.Typer, Any]] = {}
    original = getattr(typer.testing, "_get_command", None)
    if original is None:  # a typer without this hook: every invoke builds the command, as before
        yield
        return

    def get_command(app: typer.Typer) -> Any:
        key = (
            id(app),
            id(app.registered_callback),
            *map(id, app.registered_commands),
            -1,
            *map(id, app.registered_groups),
        )
        if key not in built:
            built[key] = (app, original(app))  # the app kept alive, so its id is not reused
        return built[key][1]

    typer.testing._get_command = get_command
    try:
        yield
    finally:
        typer.testing._get_command = original
