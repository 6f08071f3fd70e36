"""One writer at a time per folder: an exclusive ``flock`` on the folder itself.

Two runs writing one output folder (two ``omnimig transform --out bundle`` started together)
would interleave their files and manifests, and the bundle would hold half of each. The kernel
drops the lock when the process ends, so a killed run never leaves a stale one, and nothing is
written into the folder to hold it. (The upload keeps its own lock file, which also says who
holds it: ``uploader.lock``.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def folder_lock(folder: Path, busy: Callable[[], Exception]) -> Iterator[None]:
    """Hold ``folder``'s exclusive lock for the block; raise ``busy()`` at once when another run has it."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy() from None
        yield
    finally:
        os.close(fd)  # closing drops the lock
