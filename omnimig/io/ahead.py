"""Work ahead on a second thread: the next chunk is read while the current one is checked.

pyarrow parses CSV, and Arrow compute kernels run, with the GIL released, so a reader thread
that parses block N+1 while the main thread checks block N uses a second core without changing
what the main thread does or in what order: the chunks arrive in the order the reader made them,
and every problem is still emitted by the one consumer. That is why the reports do not depend on
the number of threads (``tests/test_parallel.py`` checks them byte for byte).

``threads()`` is the knob: ``OMNIMIG_THREADS`` (a positive integer), else the CPUs this process
may use that are not busy with other work when it starts (``auto_threads``). ``1`` is the
single-threaded behaviour: nothing runs on another thread or in another process. For a large
bundle, validation uses the same number for worker processes instead (``omnimig.validation.workers``):
threads overlap little because they share the GIL, processes do not.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import Generic, TypeVar

from omnimig.exceptions import UsageError
from omnimig.i18n import N_, _

T = TypeVar("T")

#: The environment variable that sets the number of threads (``1``: no worker threads).
THREADS_ENV = "OMNIMIG_THREADS"
# The most threads worth asking for: omnimig overlaps a few stages, it does not split work N ways.
MAX_THREADS = 64
ALLOWED = N_("use a whole number from 1 (no worker threads) up")


def threads(value: int | None = None) -> int:
    """The number of threads to use: ``value``, else ``OMNIMIG_THREADS``, else ``auto_threads()``.

    Raises ``UsageError`` naming what is allowed when the setting is not a positive integer.
    """
    if value is None:
        text = os.environ.get(THREADS_ENV, "").strip()
        if not text:
            return auto_threads()
        try:
            value = int(text)
        except ValueError:
            raise UsageError(
                _("{setting} is not a number; {allowed}").format(setting=f"{THREADS_ENV}={text!r}", allowed=_(ALLOWED))
            ) from None
    if value < 1:
        raise UsageError(_("threads = {value} is not allowed; {allowed}").format(value=value, allowed=_(ALLOWED)))
    return min(value, MAX_THREADS)


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity, e.g. under ``taskset``), else ``os.cpu_count()``."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def auto_threads() -> int:
    """The usable CPUs less those busy with other work right now (at least 1).

    Threads pay off on idle CPUs only. Where the kernel shares CPU time fairly between sessions
    (Linux's autogroup, on by default), a process gets no more time for having more threads, and
    handing chunks between threads costs some 10% more CPU: on a machine busy with other work the
    threaded run was slower than the single-threaded one (bench/RESULTS.md, issue 16). The busy
    CPUs are the tasks running now other than this one, from ``/proc/loadavg`` (the least of a
    few samples, 2 ms apart); where that cannot be read, every usable CPU is used.
    """
    cpus = min(usable_cpus(), MAX_THREADS)
    if cpus == 1:
        return 1
    others = _others_running()
    return cpus if others is None else max(1, cpus - others)


def _others_running(samples: int = 5) -> int | None:
    """Tasks running or ready to run on the machine, other than the calling thread; None if unknown."""
    least: int | None = None
    try:
        for i in range(samples):
            if i:
                time.sleep(0.002)
            with open("/proc/loadavg", encoding="ascii") as f:
                running = int(f.read().split()[3].split("/")[0])
            least = running if least is None else min(least, running)
    except (OSError, ValueError, IndexError):
        return None
    return None if least is None else max(0, least - 1)


_ITEM, _END, _ERROR = range(3)


class Ahead(Generic[T]):
    """An iterator over ``items`` that a daemon thread runs up to ``depth`` items ahead.

    The worker makes at most ``depth`` items beyond the one the consumer holds (asking for the
    next item says the last one is finished), so reading ahead costs ``depth`` chunks of memory.
    Exceptions raised by ``items`` are raised by ``__next__`` at the same point of the sequence.
    ``close()`` (or leaving the ``with`` block) stops the worker and closes ``items`` on the
    worker's thread, which is the thread a generator is running on: a generator cannot be closed
    from another thread while it runs. Memory: at most ``depth`` finished items wait in the queue
    plus the one being made.
    """

    def __init__(self, items: Iterable[T], depth: int = 1, name: str = "omnimig-ahead") -> None:
        self._queue: queue.SimpleQueue[tuple[int, object]] = queue.SimpleQueue()
        # One slot per item made and not yet finished with: the one the consumer holds, plus ``depth``.
        self._slots = threading.Semaphore(max(1, depth) + 1)
        self._stop = threading.Event()
        self._done = False
        self._started = False
        self._thread = threading.Thread(target=self._run, args=(iter(items),), name=name, daemon=True)
        self._thread.start()

    def _run(self, items: Iterator[T]) -> None:
        try:
            while self._slot():
                try:
                    item = next(items)
                except StopIteration:
                    self._queue.put((_END, None))
                    return
                self._queue.put((_ITEM, item))
        except BaseException as exc:  # handed to the consumer, raised there
            self._queue.put((_ERROR, exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # the consumer has what it needs already
                    close()

    def _slot(self) -> bool:
        """Wait until the consumer has room for one more item; False once it has stopped."""
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.05):
                return not self._stop.is_set()
        return False

    def __iter__(self) -> Ahead[T]:
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if self._started:
            self._slots.release()  # the consumer is done with the item it had: make one more
        self._started = True
        kind, value = self._queue.get()
        if kind == _ITEM:
            return value  # type: ignore[return-value]
        self._done = True
        self._thread.join()
        if kind == _ERROR:
            assert isinstance(value, BaseException)
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the worker and wait for it (it finishes the item in hand first)."""
        self._done = True
        self._stop.set()
        self._thread.join()
        while not self._queue.empty():  # drop what was made and not taken
            self._queue.get_nowait()

    def __enter__(self) -> Ahead[T]:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def ahead(items: Iterable[T], n_threads: int, depth: int = 1) -> Iterator[T]:
    """``items`` read ahead on a worker thread when ``n_threads > 1``; as they are otherwise."""
    if isinstance(items, Ahead) or n_threads <= 1:
        return iter(items)
    return Ahead(items, depth)


def started(call: Callable[[], T], n_threads: int, name: str = "omnimig-start") -> Future[T]:
    """``call()`` started now on a daemon thread (``n_threads > 1``), or run when its result is asked.

    The result (or exception) comes from ``future.result()`` either way, so the caller is the same
    for 1 and N threads; a lazy future keeps the single-threaded order of work exactly as before.
    """
    if n_threads <= 1:
        return _Lazy(call)
    future: Future[T] = Future()
    context = contextvars.copy_context()  # the caller's settings (e.g. ``read_csv.LAZY_UTF8``) hold there too

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(call))
        except BaseException as exc:
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


class _Lazy(Future[T]):
    """A future that runs its call on the asking thread, the first time its result is asked."""

    def __init__(self, call: Callable[[], T]) -> None:
        super().__init__()
        self._call = call

    def result(self, timeout: float | None = None) -> T:
        if not self.done():
            try:
                self.set_result(self._call())
            except BaseException as exc:
                self.set_exception(exc)
        return super().result(timeout)
