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
