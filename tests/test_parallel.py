"""Threads are an implementation detail: the report is the same, byte for byte, for 1 and N.

With ``OMNIMIG_THREADS`` above 1 the next chunk is read (and the next file opened) on a worker
thread while the current chunk is checked (``omnimig.io.ahead``). A thread boundary must never
hide or invent a problem, move a row number, or change the order of the output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnimig
from omnimig.exceptions import UsageError
from omnimig.io import ahead as ahead_module
from omnimig.io import read_csv as read_csv_module
from omnimig.io.ahead import THREADS_ENV, Ahead, ahead, started, threads
from omnimig.io.read_csv import read_csv
from omnimig.io.table import Chunk
from omnimig.sampling.generate import generate
from omnimig.schemas.rules import load_choices
from omnimig.validation import run as run_module
from omnimig.validation import spawn, workers
from omnimig.validation.problem import FileResult
from omnimig.validation.run import Target, validate_file, validate_paths


def report_json(paths: Path | list[Path], chunk_rows: int = 200_000) -> str:
    out = io.StringIO()
    omnimig.validate(paths, chunk_rows=chunk_rows).render("json", file=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12-order CSV bundle with defects of every kind and its answer key (the planted catalogue
    is the same for any order count; more orders only add valid rows, and worker time)."""
    out = tmp_path_factory.mktemp("planted-par")
    generate(out, orders=12, fmt="csv", seed=7, invalid_rate=0.05)
    return out


def answer_key(folder: Path) -> Counter[tuple[object, ...]]:
    answer = json.loads((folder / "expected_problems.json").read_text(encoding="utf-8"))
    return Counter((e["file"], e["row"], e["field"], e["rule"], e["severity"]) for e in answer)


def found_key(text: str) -> Counter[tuple[object, ...]]:
    files = json.loads(text)["files"]
    return Counter(
        (Path(f["path"]).name, p["row"], p["field"], p["rule"], p["severity"]) for f in files for p in f["problems"]
    )


@pytest.mark.parametrize("chunk_rows", [10, 200_000])
def test_json_report_is_byte_identical_for_any_thread_count(
    planted: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = {}
    for n in (1, 2, 4):
        monkeypatch.setenv(THREADS_ENV, str(n))
        reports[n] = report_json(planted, chunk_rows)
    assert reports[2] == reports[1]
    assert reports[4] == reports[1]
    assert found_key(reports[1]) == answer_key(planted)  # and it is the planted set, exactly


@pytest.fixture(scope="module")
def planted_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("planted-par-json")
    generate(out, orders=12, fmt="json", seed=7, invalid_rate=0.05)
    return out


@pytest.mark.parametrize("chunk_rows", [10, 200_000])
def test_json_files_give_the_same_report_for_any_thread_count(
    planted_json: Path, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = {}
    for n in (1, 2, 4):
        monkeypatch.setenv(THREADS_ENV, str(n))
        reports[n] = report_json(planted_json, chunk_rows)
    assert reports[2] == reports[1] == reports[4]
    assert found_key(reports[1]) == answer_key(planted_json)


def test_the_threads_setting_is_read_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(THREADS_ENV, "3")
    assert threads() == 3
    assert threads(1) == 1
    monkeypatch.delenv(THREADS_ENV)
    assert threads() >= 1
    for bad in ("0", "-2", "two"):
        monkeypatch.setenv(THREADS_ENV, bad)
        with pytest.raises(UsageError, match="whole number"):
            threads()


def test_by_default_only_idle_cpus_get_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset, the setting is the usable CPUs less those busy with other work (at least one)."""
    monkeypatch.delenv(THREADS_ENV, raising=False)
    monkeypatch.setattr(ahead_module, "usable_cpus", lambda: 4)
    for others, expected in ((0, 4), (1, 3), (3, 1), (9, 1), (None, 4)):
        monkeypatch.setattr(ahead_module, "_others_running", lambda n=others: n)
        assert threads() == expected
    monkeypatch.setattr(ahead_module, "usable_cpus", lambda: 1)
    assert threads() == 1
    assert ahead_module._others_running() is None or ahead_module._others_running() >= 0  # reads this machine


def _numbers(n: int, fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"broken at {i}")
        yield i


def test_ahead_keeps_order_and_raises_where_the_items_fail() -> None:
    assert list(ahead(_numbers(50), 2)) == list(range(50))
    got = []
    with pytest.raises(ValueError, match="broken at 5"):
        for i in ahead(_numbers(50, fail_at=5), 2):
            got.append(i)
    assert got == [0, 1, 2, 3, 4]
    assert list(ahead(_numbers(5), 1)) == list(range(5))  # one thread: no worker at all


def test_ahead_closed_early_stops_its_worker_and_closes_the_items() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    items = Ahead(endless())
    assert next(items) == 0
    items.close()
    assert closed.is_set()
    assert not items._thread.is_alive()
    with pytest.raises(StopIteration):
        next(items)


def test_started_gives_the_result_or_the_exception_for_1_and_n_threads() -> None:
    for n in (1, 2):
        assert started(lambda: 42, n).result() == 42
        with pytest.raises(KeyError):
            started(lambda: {}["x"], n).result()


# Hostile CSV: short and long rows, blank lines, quoted cells holding newlines and delimiters.
_cell = st.one_of(
    st.sampled_from(["", "a", "x y", "1", "12.5", "ş"]),
    st.sampled_from(['"a,b"', '"line\nbreak"', '"two\n\nlines"', '"q""uote"', '"\r\n"']),
)
_line = st.one_of(
    st.lists(_cell, min_size=3, max_size=3).map(",".join),  # a good row
    st.lists(_cell, min_size=1, max_size=5).map(",".join),  # short or long
    st.just(""),  # blank line
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(_line, min_size=1, max_size=40), chunk_rows=st.sampled_from([1, 2, 5, 1000]))
def test_threads_never_move_a_row_number_in_hostile_csv(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], chunk_rows: int
) -> None:
    path = tmp_path / "order_item.csv"
    path.write_text("order_number,sku,quantity\n" + "\n".join(lines) + "\n", encoding="utf-8")
    reports = []
    for n in (1, 2, 4):
        monkeypatch.setenv(THREADS_ENV, str(n))
        reports.append(report_json(path, chunk_rows))
    assert reports[1] == reports[0]
    assert reports[2] == reports[0]
    # and the reader's own row numbers (chunk by chunk) are those of one whole reading
    assert _cells(ahead(read_csv(path, chunk_rows).chunks, 2)) == _cells(read_csv(path).chunks)


def _cells(chunks: Iterator[Chunk]) -> list[tuple[int, tuple[object, ...]]]:
    """Every record as (row number, cells)."""
    return [(r, tuple(c)) for ch in chunks for r, c in zip(ch.rows, ch.data.itertuples(index=False), strict=True)]


def test_bundle_notes_and_problems_are_the_same_with_threads(
    planted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundle rules run side by side with threads: their problems and notes (a rule that could
    not run because its other file is absent) still come out in rule order."""
    shutil.copy(planted / "order.csv", tmp_path / "order.csv")
    shutil.copy(planted / "order_item.csv", tmp_path / "order_item.csv")
    texts = []
    for n in (1, 2):
        monkeypatch.setenv(THREADS_ENV, str(n))
        out = io.StringIO()
        report = omnimig.validate(tmp_path)
        report.render("text", file=out, max_examples=1000)
        report.render("json", file=out)
        texts.append(out.getvalue())
    assert "not-checked" in texts[0] or "not checked" in texts[0]  # the user file is absent
    assert texts[1] == texts[0]


def _problems(result: FileResult) -> list[tuple[object, ...]]:
    return [(p.row, p.field, p.rule, p.severity, p.value, p.message) for p in result.problems]


@pytest.mark.parametrize("tail", ["cell", "short-row", "none"])
def test_a_large_file_taken_as_utf8_from_its_start_is_judged_as_when_checked_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tail: str
) -> None:
    """validate_paths does not read a large UTF-8 file once more to check its encoding (the parse
    checks every cell); a Windows-1254 byte after the first block must still give the report the
    whole-file check gives: the file validated again from the start, read as Windows-1254."""
    monkeypatch.setattr(read_csv_module, "CHECK_BLOCK", 4096)  # "large" = over 4 KB here
    path = tmp_path / "address.csv"
    head = "user,title,city\n" + "".join(f"U{i},Ev {i} çiçek,İstanbul\n" for i in range(3000))
    last = {"cell": "U9,Şişli,İzmir\n", "short-row": "Şişli\n", "none": ""}[tail]
    path.write_bytes(head.encode("utf-8") + last.encode("cp1254") + b"U10,ok,Ankara\n")
    assert read_csv_module._utf8_head(path, path.read_bytes()[:65536])  # the lazy path is taken
    whole = validate_file(Target(path, "address"), load_choices(None))  # checked whole, as before
    for n in (1, 2):
        monkeypatch.setenv(THREADS_ENV, str(n))
        run = validate_paths([path])
        assert not run.unreadable
        assert _problems(run.results[0]) == _problems(whole)
        assert run.results[0].rows == whole.rows
    encoding = [p.rule for p in whole.problems if p.rule == "encoding"]
    assert encoding == ([] if tail == "none" else ["encoding"])


# -- worker processes (omnimig.validation.workers) ---------------------------------------------------
# Above ``spawn.MIN_BYTES`` a bundle's files are checked side by side in worker processes; the
# tests lower the threshold to 0 so that small bundles use them too.


@pytest.fixture
def with_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)


def test_worker_processes_give_the_byte_identical_report(
    planted: Path, planted_json: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    for folder in (planted, planted_json):
        reports = {}
        for n in (1, 2, 3):
            monkeypatch.setenv(THREADS_ENV, str(n))
            reports[n] = report_json(folder, 7)
        assert reports[2] == reports[1]
        assert reports[3] == reports[1]
        assert found_key(reports[1]) == answer_key(folder)


def _hostile_bundle(folder: Path) -> Path:
    """Every kind of trouble a reader meets, one per file of a bundle."""
    folder.mkdir()
    (folder / "user.csv").write_text(
        "customer_code,email,first_name\n"
        'U1,a@b.co,"two\nlines"\n'
        "\n"  # a blank row keeps its number
        "U2,x@y.co\n"  # short
        "U3,x@y.co,c,extra\n"  # long
        'U4,"q""uote@b.co",d\n',
        encoding="utf-8",
    )
    (folder / "address.csv").write_bytes(("user,title,city\nU1,Şişli,İzmir\nU2,,\n").encode("cp1254"))
    (folder / "order.csv").write_bytes(b"\xef\xbb\xbfnumber,user,number\nO1,U1,O1\nO2,U9,O2\n")  # BOM, repeat
    (folder / "order_item.csv").write_bytes(b"PK\x03\x04 not a csv \x00\xff\xfe")  # unreadable
    return folder


def test_worker_processes_on_hostile_csv_give_the_same_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    folder = _hostile_bundle(tmp_path / "hostile")
    texts = {}
    for n in (1, 2, 4):
        monkeypatch.setenv(THREADS_ENV, str(n))
        out = io.StringIO()
        report = omnimig.validate(folder, chunk_rows=2)
        report.render("json", file=out)
        report.render("text", file=out, max_examples=1000)
        texts[n] = out.getvalue()
    assert texts[2] == texts[1]
    assert texts[4] == texts[1]
    assert "unreadable" in texts[1]  # the broken file is reported, the others are checked


def test_many_problems_travel_through_a_private_file_and_give_the_same_report(
    tmp_path: Path, planted: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    """Past ``INLINE_PROBLEMS`` a worker writes its problems to a temporary file with no name that
    the parent reads back; nothing of it is ever on disk under a name."""
    monkeypatch.setenv(THREADS_ENV, "1")
    one = report_json(planted)
    monkeypatch.setenv(THREADS_ENV, "2")
    code = "import omnimig.validation.workers as w; w.INLINE_PROBLEMS = 0; w.serve()"
    monkeypatch.setattr(spawn, "WORKER_CODE", code)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this process made it: its tempdir is cached
    assert report_json(planted) == one
    assert list(tmp_path.iterdir()) == []


def test_a_worker_killed_after_spilling_its_problems_leaves_nothing_on_disk(
    tmp_path: Path, planted: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    """The spill file has no name from the start (the parent made it and shares it by descriptor),
    so a worker killed right after writing to it leaves no customer data behind (the run stops
    with ``WorkerCrashed`` naming the file, as any crash)."""
    code = (
        "import os, signal, omnimig.validation.workers as w\n"
        "w.INLINE_PROBLEMS = 0\n"
        "def task(job):\n"
        "    w.check_file(job)\n"  # spilled: every problem went to the file
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "w.serve(task)\n"
    )
    monkeypatch.setattr(spawn, "WORKER_CODE", code)
    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this process made it: its tempdir is cached
    with pytest.raises(workers.WorkerCrashed, match=r"stopped unexpectedly \(signal 9\)"):
        omnimig.validate(planted)
    assert list(tmp_path.iterdir()) == []


def test_one_thread_and_small_bundles_start_no_process(planted: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object) -> None:
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(workers._Worker, "__init__", refuse)
    monkeypatch.setenv(THREADS_ENV, "2")
    assert found_key(report_json(planted)) == answer_key(planted)  # small: under MIN_BYTES
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    monkeypatch.setenv(THREADS_ENV, "1")
    assert found_key(report_json(planted)) == answer_key(planted)  # one thread: the in-process path


def _cli(args: list[str], code: str, **kw: object) -> subprocess.Popen[str]:
    """``omnimig`` in a subprocess with worker processes on (threshold 0) that run ``code``."""
    script = (
        "import omnimig.validation.spawn as w; w.MIN_BYTES = 0; "
        f"w.WORKER_CODE = {code!r}; from omnimig.cli import app; app()"
    )
    env = {**os.environ, THREADS_ENV: "2"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw
    )  # type: ignore[call-overload]


@pytest.mark.parametrize(
    "code",
    [
        "import os; os._exit(3)",  # dies at start
        "import os; from omnimig.validation.workers import serve; serve(lambda job: os._exit(9))",  # mid-file
        "import os, signal; from omnimig.validation.workers import serve; "
        "serve(lambda job: os.kill(os.getpid(), signal.SIGKILL))",  # killed
    ],
)
def test_a_crashed_worker_is_one_line_and_exit_2(planted: Path, code: str) -> None:
    proc = _cli(["validate", "--format", "json", str(planted)], code)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "worker process" in lines[0] and "stopped unexpectedly" in lines[0]
    assert "Traceback" not in err
    assert out == ""


def test_a_crashed_worker_raises_worker_crashed_from_the_api(
    planted: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setattr(spawn, "WORKER_CODE", "import os; os._exit(3)")
    with pytest.raises(workers.WorkerCrashed, match=r"\.csv: the worker process .* \(exit code 3\)"):
        omnimig.validate(planted)


_HANG = "import time; from omnimig.validation.workers import serve; serve(lambda job: time.sleep(600))"


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    todo = [pid]
    while todo:
        p = todo.pop()
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    kids = {int(c) for c in f.read().split()}
                found |= kids
                todo.extend(kids)
    return found


def _wait_for(condition: Callable[[], bool], what: str, limit: float = 60.0) -> None:
    """Wait (not a timing assertion: a guard against a hang) until ``condition()`` holds."""
    end = time.monotonic() + limit
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"still waiting for {what}")
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has gone
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
@pytest.mark.parametrize("how", ["ctrl-c", "kill"])
def test_ctrl_c_or_a_killed_parent_leaves_no_worker(planted: Path, how: str) -> None:
    """Ctrl-C: "interrupted", exit 130, the workers stopped. The parent killed outright: its
    workers die with it (PR_SET_PDEATHSIG / the watch thread), none is left running."""
    proc = _cli(["validate", "--format", "json", str(planted)], _HANG)
    try:
        _wait_for(lambda: bool(_descendants(proc.pid)), "a worker process")
        kids = _descendants(proc.pid)
        proc.send_signal(signal.SIGINT if how == "ctrl-c" else signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
        if how == "ctrl-c":
            assert proc.returncode == 130
            assert "interrupted" in err and "Traceback" not in err
        _wait_for(lambda: not any(_alive(k) for k in kids), "the workers to go")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_an_early_failure_here_stops_the_workers(
    planted: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    """When this process stops for any reason while a worker checks a file, the worker is killed."""
    monkeypatch.setenv(THREADS_ENV, "2")
    monkeypatch.setattr(spawn, "WORKER_CODE", _HANG)
    started_workers: list[workers._Worker] = []
    original = workers._Worker.__init__

    def record(self: workers._Worker, owner: workers.Workers) -> None:
        original(self, owner)
        started_workers.append(self)

    def interrupted(*_args: object) -> None:
        _wait_for(lambda: bool(started_workers) and bool(started_workers[0].owner._futures), "the worker's job")
        raise KeyboardInterrupt

    monkeypatch.setattr(workers._Worker, "__init__", record)
    monkeypatch.setattr(run_module, "_checked", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validate_paths([planted])
    assert started_workers
    for worker in started_workers:
        assert worker.process.poll() is not None  # stopped and reaped
        assert not worker.thread.is_alive()


def test_every_file_reports_its_progress_to_the_end_with_workers(
    planted: Path, monkeypatch: pytest.MonkeyPatch, with_workers: None
) -> None:
    calls: dict[Path, list[tuple[int, int]]] = {}
    lock = threading.Lock()

    def hook(path: Path, done: int, total: int) -> None:
        with lock:  # a worker's file starts its bar on a feeding thread
            calls.setdefault(path, []).append((done, total))

    validate_paths([planted], progress=hook, threads=2)
    files = sorted(p for p in planted.iterdir() if p.suffix == ".csv")
    assert sorted(calls) == files
    for path, seen in calls.items():
        size = path.stat().st_size
        assert seen[-1] == (size, size)
        assert all(total == size and 0 <= done <= size for done, total in seen)
