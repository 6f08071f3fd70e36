"""Is this output path one of the inputs? Asked before anything is written, by every command that writes."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def same_file(a: Path, b: Path) -> bool:
    """Do two paths name one file? By inode when both exist, else by resolved (and case-normalised) path."""
    with contextlib.suppress(OSError):
        if os.path.samefile(a, b):
            return True
    try:
        return os.path.normcase(a.resolve()) == os.path.normcase(b.resolve())
    except (OSError, RuntimeError):  # a symlink loop: not the same as a file we can read
        return False


#: The logs ``omnimig transform`` writes beside the bundle (every record not written, every change).
TRANSFORM_LOGS = ("rejects.csv", "changes.csv")
#: What ``changes.csv`` was called before omnimig 0.3; still omnimig's own in an older output folder.
OLD_TRANSFORM_LOGS = ("warnings.csv",)
#: The answer key ``omnimig samples --invalid-rate`` writes beside the bundle.
ANSWER_KEY = "expected_problems.json"
#: Files omnimig itself writes into a bundle folder: never migration files, so a folder validation
#: passes over them without a note (a file named on the command line is still read as asked).
OWN_FILES = frozenset((*TRANSFORM_LOGS, *OLD_TRANSFORM_LOGS, ANSWER_KEY))
