"""Starting the worker processes of ``omnimig.validation.workers``, early when it pays.

A worker is a fresh interpreter that imports pandas and pyarrow before it can check a file:
about 0.7 s of CPU. Started when the bundle's files are handed out, that import comes after
this process' own (another second), so the second core idles through both. ``prestart`` is
called before this process imports the heavy modules (``omnimig.api.validate`` does it first
thing): from the paths alone (file sizes, no parsing) it guesses whether workers will be used
and starts them, so their imports overlap this process' imports. ``workers`` then takes them
(``take``); a guess that was wrong costs only the other core's time, and ``discard`` (at the
end of a validation, and at exit) stops any worker that was never taken.

This module imports nothing heavy, on purpose: it runs before pandas is loaded.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from omnimig import i18n
from omnimig.errors import debug_enabled

#: Workers start only for bundles of at least this many bytes: below it the worker's own start
#: (about 0.7 s of CPU) costs more than the second core gives back.
MIN_BYTES = 64 * 2**20
#: What a worker runs (``workers.serve``): jobs on stdin, results on the pipe named by ``FD_ENV``.
WORKER_CODE = "from omnimig.validation.workers import serve; serve()"
#: The environment variable naming the worker's end of its results pipe.
FD_ENV = "OMNIMIG_WORKER_FD"
#: The environment variable naming the worker's spill file (problems past ``workers.INLINE_PROBLEMS``).
SPILL_ENV = "OMNIMIG_WORKER_SPILL_FD"


@dataclass
class Started:
    """A worker process just started: its stdin takes jobs, ``results`` gives its answers."""

    process: subprocess.Popen[bytes]
    results: BinaryIO
    language: str
    #: A private temporary file with no name (unlinked as it is made), shared with the worker by
    #: descriptor: the worker appends a job's problems to it when there are very many, this process
    #: reads them back by position. Whatever happens to either process, nothing is left on disk.
    spill: BinaryIO


def start() -> Started:
    """Start one worker process in the current language (``OSError`` when none can start)."""
    spill = tempfile.TemporaryFile(prefix="omnimig-problems-")  # noqa: SIM115  (0600, no name on POSIX)
    try:
        read_end, write_end = os.pipe()
    except BaseException:
        spill.close()
        raise
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", WORKER_CODE, i18n.current(), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=None if debug_enabled() else subprocess.DEVNULL,
            pass_fds=(write_end, spill.fileno()),
            close_fds=True,
            env={**os.environ, FD_ENV: str(write_end), SPILL_ENV: str(spill.fileno())},
        )
    except BaseException:
        os.close(read_end)
        spill.close()
        raise
    finally:
        os.close(write_end)  # only the worker holds it now: its death is EOF here
    return Started(process, os.fdopen(read_end, "rb"), i18n.current(), spill)


def worth(sizes: Iterable[int], n_threads: int) -> bool:
    """Are workers worth starting for files of these sizes: threads allowed, two files or more,
    ``MIN_BYTES`` in all, and a system that can start them the way ``start`` does?"""
    sizes = list(sizes)
    if n_threads <= 1 or len(sizes) < 2 or os.name != "posix" or not sys.executable:
        return False
    return sum(sizes) >= MIN_BYTES


_spares: list[Started] = []
_lock = threading.Lock()


def prestart(paths: Iterable[Path], n_threads: int) -> None:
    """Start ``n_threads - 1`` workers now if the files at ``paths`` will probably get them.

    The guess reads sizes only: the files named, and a folder's files with a format omnimig reads
    (``omnimig.io.FORMATS``), not its own logs. ``workers.worth_workers`` decides for real on the
    collected files; a worker started here and not taken is stopped by ``discard``.
    """
    from omnimig.io import FORMATS
    from omnimig.io.paths import OWN_FILES

    sizes: list[int] = []
    with contextlib.suppress(OSError):
        for path in paths:
            if path.is_dir():
                for child in path.iterdir():
                    if child.name.startswith(".") or child.name in OWN_FILES:
                        continue
                    if child.suffix.lower() in FORMATS and child.is_file():
                        sizes.append(child.stat().st_size)
            elif path.is_file():
                sizes.append(path.stat().st_size)
    if not worth(sizes, n_threads):
        return
    with _lock:
        if _spares:
            return  # already started (a second call before the first validation took them)
        try:
            for _ in range(n_threads - 1):
                _spares.append(start())
        except OSError:
            pass  # no process could start (a limit, no memory): the workers module tries again or runs here


def take() -> Started | None:
    """A worker started early, still alive and in the current language; None when there is none."""
    with _lock:
        while _spares:
            spare = _spares.pop(0)
            if spare.process.poll() is None and spare.language == i18n.current():
                return spare
            stop(spare)
    return None


def discard() -> None:
    """Stop every worker started early and not taken (EOF on its stdin ends it; then it is killed)."""
    with _lock:
        spares, _spares[:] = list(_spares), []
    for spare in spares:
        stop(spare)


def stop(started: Started, before_close: Callable[[], None] | None = None) -> None:
    """Kill a worker if it is still running and wait for it; then ``before_close`` (the thread
    that read its results joins), then its pipe and spill file are closed."""
    if started.process.poll() is None:
        with contextlib.suppress(OSError):
            started.process.kill()
    with contextlib.suppress(OSError, ValueError):
        if started.process.stdin is not None:
            started.process.stdin.close()
    started.process.wait()
    if before_close is not None:
        before_close()
    started.results.close()
    started.spill.close()


atexit.register(discard)
