"""Fixtures shared by several test modules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
