"""One upload run at a time per state folder: an exclusive ``flock`` on ``state_dir/lock``.

Omnitron has no idempotency key, so two runs on one bundle would each POST every file and
import every row twice. The lock is taken before the journal is read and held until the run
ends; the kernel drops it when the process dies, so a killed run never leaves a stale lock.
The file records who holds it (pid, host, start time) so the second run can say so.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from pathlib import Path
from types import TracebackType

from omnimig.i18n import _
from omnimig.io.private import FILE_MODE
from omnimig.uploader.audit import now_iso
from omnimig.uploader.client import UploadRefused


class RunLocked(UploadRefused):
    """Another run holds the state folder's lock; this one refuses before sending anything."""


class StateLock:
    """``with StateLock(state_dir):`` holds the run lock; raises ``RunLocked`` when another run has it."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "lock"
        self._fd: int | None = None

    def acquire(self) -> StateLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                line = _(
                    "another omnimig upload ({holder}) is running on {folder}; "
                    "wait for it to end (or stop it), then run again. Nothing was sent"
                )
                raise RunLocked(line.format(holder=_holder(fd), folder=self.path.parent)) from None
            holder = {"pid": os.getpid(), "host": socket.gethostname(), "started": now_iso()}
            os.ftruncate(fd, 0)
            os.pwrite(fd, (json.dumps(holder) + "\n").encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Unlock and close. The file stays: removing it would let a third run lock a different inode."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                os.ftruncate(fd, 0)
            finally:
                os.close(fd)  # closing drops the flock

    def __enter__(self) -> StateLock:
        return self.acquire()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.release()


def _holder(fd: int) -> str:
    """Who holds the lock, from what it wrote in the file: ``pid 123 on host, started …``."""
    try:
        data = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
        line = _("pid {pid} on {host}, started {started}")
        return line.format(pid=int(data["pid"]), host=str(data["host"])[:100], started=str(data["started"])[:40])
    except (OSError, ValueError, KeyError, TypeError):
        return _("holder unknown")
