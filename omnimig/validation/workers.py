"""Field rules of whole files in worker processes: the way to use a second core (issue 16).

Threads could not do it: every Arrow kernel call hands the GIL back and forth with the Python
glue around it, so a reader thread and a checking thread mostly took turns (bench/RESULTS.md,
"Issue 16"). A process has its own interpreter, so here each file of a bundle is a job, and the
jobs run side by side: up to ``n - 1`` in worker processes and one at a time in this process,
the largest files first and each to whoever is free (so a worker that is slow to start, or a
file that checks slowly, does not hold the others back).

A file checked in a worker is the same ``validate_file`` call, in one thread, as the in-process
path; what comes back is compact: the key columns the bundle rules need as one Arrow IPC stream,
the problems as their plain tuples in report order (through a private temporary file when there
are very many of them, so an all-bad file costs disk, not memory, as in-process), the bundle
summary's tally, and the few facts of the file. The parent replays the problems into a
``ProblemStore`` with the same column order, so counts, examples and the order of every report
are those of the in-process path, byte for byte (``tests/test_parallel.py``).

A worker is a fresh interpreter (``python -c spawn.WORKER_CODE``: ``serve``), never a ``fork`` of
this process, which may hold threads; not ``multiprocessing``'s spawn or fork server either,
which run the caller's ``__main__`` again in each worker (a script without a main guard would
start itself over). Jobs go to it on its stdin and results come back on a pipe of their own,
both pickle streams between two processes of this package. Workers start only when the bundle is
large enough to repay the start (``spawn.MIN_BYTES``, about 0.7 s of CPU to import pandas and pyarrow,
overlapping this process' first file). They ignore Ctrl-C (this process kills them), die with it
(``PR_SET_PDEATHSIG`` and a watch on the parent's pid), and a worker that dies mid-file turns into
one line naming the file (``WorkerCrashed``, exit 2): its pipe ends, so nothing waits for it,
never a hang. ``OMNIMIG_THREADS=1`` starts no process at all.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from omnimig import i18n
from omnimig.errors import debug_enabled, internal_error_line
from omnimig.exceptions import ReadError
from omnimig.io.ahead import THREADS_ENV
from omnimig.io.read_csv import LAZY_UTF8
from omnimig.io.table import ReadOptions
from omnimig.schemas.rules import load_choices
from omnimig.validation import spawn
from omnimig.validation.fields import key_column
from omnimig.validation.problem import FileResult, ProblemStore
from omnimig.validation.stats import TypeTally

#: Problems beyond this many go back through a private temporary file rather than one message.
INLINE_PROBLEMS = 100_000
#: The file descriptor a worker writes its results to when ``spawn.FD_ENV`` does not name one.
RESULTS_FD = 3


class WorkerCrashed(ReadError):
    """A worker process died while checking a file (killed, out of memory, a crash in a library)."""


@dataclass(frozen=True)
class Job:
    """One file to check in a worker: everything ``validate_file`` needs, as plain data."""

    path: Path
    type: str
    choices: Path | None
    chunk_rows: int
    options: ReadOptions | None
    examples: int | None


@dataclass
class Shipped:
    """What a worker sends back for one file: a compact ``FileResult``, or the line of an unreadable file."""

    line: str | None = None  # the file could not be read: its one line
    format: str | None = None
    rows: int = 0
    columns: tuple[str, ...] = ()
    header_row: int | None = None
    read_options: ReadOptions = field(default_factory=ReadOptions)
    tally: TypeTally | None = None
    order: tuple[str, ...] = ()  # the problem store's column order
    examples: int = ProblemStore.EXAMPLES
    problems: list[tuple[Any, ...]] | None = None  # report order; None when in ``problems_span``
    problems_span: tuple[int, int] | None = None  # where in the worker's spill file its pickled batches are
    has_keys: bool = False  # an Arrow IPC stream of the key columns (``row`` first) follows the message
    keys: pa.Table | None = None  # that stream, read (never pickled: it travels as Arrow IPC)
    spill: IO[bytes] | None = None  # in the parent: the worker's spill file, for ``problems_span``

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "keys": None, "spill": None}


def worth_workers(paths: list[Path], n_threads: int) -> bool:
    """Is a worker process worth starting: threads allowed, two files or more, enough bytes?"""
    return spawn.worth((file_size(p) for p in paths), n_threads)


# -- in the worker ------------------------------------------------------------------------------
def serve(task: Callable[[Job], Shipped] | None = None) -> None:
    """A worker's main loop: read a job from stdin, write its ``Shipped`` result to fd 3, until EOF.

    Both are pickle streams between this process and the one that started it (its own code, on
    pipes only the two hold). Ctrl-C is ignored (the main process stops its workers), and the
    worker dies with its parent (``PR_SET_PDEATHSIG``, and a watch thread where that is missing).
    ``sys.argv[1]`` is the language of the messages.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = int(sys.argv[2]) if len(sys.argv) > 2 else os.getppid()
    with contextlib.suppress(Exception):  # Linux only
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent went before the line above
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), name="omnimig-parent-watch", daemon=True).start()
    if len(sys.argv) > 1:
        i18n.use(sys.argv[1])
    run = task or check_file
    jobs = sys.stdin.buffer
    with os.fdopen(int(os.environ.get(spawn.FD_ENV, RESULTS_FD)), "wb") as out:
        while True:
            try:
                job = pickle.load(jobs)
            except EOFError:
                return
            shipped = run(job)
            pickle.dump(shipped, out, protocol=pickle.HIGHEST_PROTOCOL)
            if shipped.has_keys:
                assert shipped.keys is not None
                _write_ipc(shipped.keys, out)
            out.flush()
            del job, shipped
            pa.default_memory_pool().release_unused()


def _watch(parent: int) -> None:
    """Leave at once when the parent is gone (where ``PR_SET_PDEATHSIG`` is not available)."""
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(1)


def check_file(job: Job) -> Shipped:
    """``validate_file`` for one job, in this (worker) process, shipped back compactly."""
    from omnimig.validation.run import Target, validate_file  # run imports this module

    token = LAZY_UTF8.set(True)
    try:
        result = validate_file(
            Target(job.path, job.type),
            load_choices(job.choices),
            chunk_rows=job.chunk_rows,
            options=job.options,
            examples=job.examples,
            n_threads=1,
        )
    except ReadError as exc:
        return Shipped(line=str(exc))
    except Exception as exc:  # one bad file must not take the others down, as in-process
        if debug_enabled():
            raise
        return Shipped(line=internal_error_line(str(job.path), exc))
    finally:
        LAZY_UTF8.reset(token)
        # The chunks are gone: hand their memory back before the keys travel (the process tree's
        # peak is this worker's memory plus the parent's while it reads them).
        pa.default_memory_pool().release_unused()
    return ship(result)


def ship(result: FileResult) -> Shipped:
    """A ``FileResult`` as plain data: problems as tuples, key columns as one Arrow IPC stream."""
    store = result.problems
    shipped = Shipped(
        format=result.format,
        rows=result.rows,
        columns=tuple(result.columns),
        header_row=result.header_row,
        read_options=result.read_options,
        tally=result.tally,
        order=tuple(store._rank),
        examples=store.keep_examples,
    )
    if len(store) <= INLINE_PROBLEMS:
        shipped.problems = list(store.entries())
    else:
        shipped.problems_span = _spill(store)
    store.close()
    if result.keys is not None:
        shipped.keys = _key_table(result.keys)
        shipped.has_keys = True
    return shipped


def _spill(store: ProblemStore) -> tuple[int, int]:
    """The store's problems pickled in batches onto the end of this worker's spill file (a private
    temporary file with no name, ``spawn.Started.spill``); where they are, as (start, end)."""
    with os.fdopen(os.dup(int(os.environ[spawn.SPILL_ENV])), "ab") as out:
        start = out.seek(0, os.SEEK_END)
        batch: list[tuple[Any, ...]] = []
        for e in store.entries():
            batch.append(e)
            if len(batch) >= ProblemStore.BATCH:
                pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
                batch = []
        if batch:
            pickle.dump(batch, out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()
        return start, out.tell()


class _Span(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a file read by position (``os.pread``): the descriptor is shared
    with the worker that writes it, so this never moves its offset."""

    def __init__(self, fd: int, start: int, end: int) -> None:
        self.fd, self.pos, self.end = fd, start, end

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self.end - self.pos)
        if want <= 0:
            return 0
        got = os.preadv(self.fd, [view[:want]], self.pos)
        self.pos += got
        return got


def _key_table(keys: pd.DataFrame) -> pa.Table:
    """The key columns as an Arrow table, without a copy (they are Arrow arrays already)."""
    arrays: dict[str, pa.Array | pa.ChunkedArray] = {"row": pa.array(keys["row"].to_numpy(dtype=np.int32))}
    for name in keys.columns:
        if name != "row":
            arrays[name] = pa.chunked_array(keys[name].array._pa_array)
    return pa.table(arrays)


def _write_ipc(table: pa.Table, out: IO[bytes]) -> None:
    """``table`` as an Arrow IPC stream on ``out``, batch by batch (no second copy of it in memory)."""
    with pa.ipc.new_stream(pa.PythonFile(out, mode="w"), table.schema) as writer:
        writer.write_table(table, max_chunksize=65_536)


def _read_ipc(source: IO[bytes]) -> pa.Table:
    return pa.ipc.open_stream(pa.PythonFile(source, mode="r")).read_all()


# -- in the parent ------------------------------------------------------------------------------
def unship(shipped: Shipped, path: Path, type_name: str) -> FileResult:
    """The ``FileResult`` a worker's ``Shipped`` stands for, the same as ``validate_file`` makes in-process."""
    store = ProblemStore(str(path), type_name, examples=shipped.examples)
    store.set_order(shipped.order)
    add = store.add
    if shipped.problems is not None:
        for e in shipped.problems:
            add(*e)
    elif shipped.problems_span is not None:
        assert shipped.spill is not None  # set by the thread that took it from its worker
        with io.BufferedReader(_Span(shipped.spill.fileno(), *shipped.problems_span), 1 << 20) as f:
            while True:
                try:
                    batch = pickle.load(f)
                except EOFError:
                    break
                for e in batch:
                    add(*e)
    store.flush()
    keys = None
    table = shipped.keys
    if table is not None:
        keys = pd.DataFrame(
            {
                "row": table.column("row").to_numpy().astype(np.int32, copy=False),
                **{name: key_column(table.column(name)) for name in table.column_names if name != "row"},
            }
        )
    result = FileResult(str(path), type_name, shipped.format, shipped.rows, store, shipped.columns, keys)
    result.read_options = shipped.read_options
    result.header_row = shipped.header_row
    result.tally = shipped.tally
    return result


class _Worker:
    """One worker process and the thread that feeds it jobs and takes its results."""

    def __init__(self, owner: Workers) -> None:
        self.owner = owner
        started = spawn.take() or spawn.start()  # one started early (``spawn.prestart``), else a new one
        self.started = started
        self.process = started.process
        self.results = started.results
        self.spill = started.spill
        self.thread = threading.Thread(target=self._feed, name="omnimig-worker", daemon=True)
        self.thread.start()

    def _feed(self) -> None:
        owner = self.owner
        stdin = self.process.stdin
        assert stdin is not None
        while not owner.closed.is_set():
            i = owner.next_job()
            if i is None:
                break
            future: Future[Shipped] = Future()
            owner.hand_out(i, future)
            if owner.begin is not None:
                with contextlib.suppress(Exception):  # a progress bar must not stop the work
                    owner.begin(i)
            try:
                pickle.dump(owner.jobs[i], stdin, protocol=pickle.HIGHEST_PROTOCOL)
                stdin.flush()
                shipped = pickle.load(self.results)
                if isinstance(shipped, Shipped) and shipped.has_keys:
                    shipped.keys = _read_ipc(self.results)
                if isinstance(shipped, Shipped):
                    shipped.spill = self.spill
            except Exception:  # the worker died: EOF, a broken pipe, a cut-off message
                future.set_exception(WorkerCrashed(_crashed(owner.jobs[i].path, self.process)))
                return
            if not isinstance(shipped, Shipped):
                future.set_exception(WorkerCrashed(_crashed(owner.jobs[i].path, self.process)))
                return
            future.set_result(shipped)
        with contextlib.suppress(OSError):
            stdin.close()  # EOF: the worker leaves

    def stop(self) -> None:
        """Kill the worker if it is still running and wait for it; its pipes and spill file closed."""
        spawn.stop(self.started, before_close=self.thread.join)  # its problems were read back; the file had no name


def _crashed(path: Path, process: subprocess.Popen[bytes]) -> str:
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    code = process.returncode
    how = "" if code is None else (f" (signal {-code})" if code < 0 else f" (exit code {code})")
    return (
        f"{path}: the worker process checking this file stopped unexpectedly{how}; "
        f"run again with {THREADS_ENV}=1 to check it in one process"
    )


class Workers:
    """The jobs of one bundle: the largest first, each to the first free worker or to this process.

    Each worker process has a feeding thread here that hands it the next job when it is free;
    ``take()`` gives this process its next job (None when none is left). ``result(i)`` waits for
    job ``i`` of a worker; a worker that died makes it raise ``WorkerCrashed`` (its pipe ends, so
    this never hangs). ``close()`` kills workers still running and waits for them.
    """

    def __init__(self, jobs: list[Job], n_workers: int, begin: Callable[[int], None] | None = None) -> None:
        self.jobs = jobs
        self.begin = begin  # called (on a feeding thread) as a worker starts job ``i``
        # indices, largest file first
        self._todo = sorted(range(len(jobs)), key=lambda i: file_size(jobs[i].path), reverse=True)
        self._lock = threading.Lock()
        self._futures: dict[int, Future[Shipped]] = {}
        self.closed = threading.Event()
        self._workers: list[_Worker] = []
        try:
            # Started on this thread: PR_SET_PDEATHSIG fires when the starting thread ends.
            for _ in range(n_workers):
                self._workers.append(_Worker(self))
        except BaseException:
            self.close()
            raise

    def next_job(self) -> int | None:
        with self._lock:
            return self._todo.pop(0) if self._todo else None

    def hand_out(self, i: int, future: Future[Shipped]) -> None:
        with self._lock:
            self._futures[i] = future

    def take(self) -> int | None:
        """The next job for this process, or None."""
        return self.next_job()

    def result(self, i: int) -> Shipped:
        """Job ``i``'s shipped result, waiting for its worker; ``WorkerCrashed`` if the worker died."""
        with self._lock:
            future = self._futures.get(i)
        return future.result() if future is not None else _never(self.jobs[i].path)

    def close(self) -> None:
        """Stop every worker now (a job still running is abandoned) and wait for them to go."""
        self.closed.set()
        for worker in self._workers:
            worker.stop()

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _never(path: Path) -> Shipped:
    """A job nobody took: only when every worker stopped before it (they stop only by crashing)."""
    raise WorkerCrashed(f"{path}: no worker process was left to check this file; run again with {THREADS_ENV}=1")


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run_jobs(
    jobs: list[Job],
    n_threads: int,
    here: Callable[[int], FileResult | str],
    done: Callable[[int], None] | None = None,
    begin: Callable[[int], None] | None = None,
) -> list[FileResult | str]:
    """Every job's ``FileResult`` (or its unreadable line), in job order.

    ``n_threads - 1`` worker processes and this process share the jobs; ``here(i)`` checks job
    ``i`` in this process (its result, or the line of a file that could not be read),
    ``begin(i)`` as a worker starts job ``i`` (on another thread) and ``done(i)`` in job order
    as each worker job's result is taken: the progress bars.
    """
    out: list[FileResult | str | None] = [None] * len(jobs)
    try:
        started = Workers(jobs, max(1, n_threads - 1), begin)
    except OSError:  # no process could be started (a process limit, no memory): all of it here
        return [here(i) for i in range(len(jobs))]
    with started as workers:
        while (i := workers.take()) is not None:
            out[i] = here(i)
        for i, job in enumerate(jobs):
            if out[i] is not None:
                continue
            shipped = workers.result(i)
            out[i] = shipped.line if shipped.line is not None else unship(shipped, job.path, job.type)
            pa.default_memory_pool().release_unused()
            if done is not None:
                done(i)
    return [r for r in out if r is not None]


__all__ = ["Job", "Shipped", "WorkerCrashed", "file_size", "run_jobs", "worth_workers"]
