"""Sample bundles hold customer-like data (names, emails, phones): every file is created private."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import omnimig


def test_a_bundle_with_planted_defects_and_its_answer_key_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a permissive umask, as on most desktops
    try:
        omnimig.samples(tmp_path / "out", orders=8, invalid_rate=0.2)
    finally:
        os.umask(old)
    files = sorted((tmp_path / "out").iterdir())
    assert "expected_problems.json" in [f.name for f in files]
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}
    assert modes == dict.fromkeys(modes, 0o600)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o700
