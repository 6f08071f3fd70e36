"""Workers started early (``omnimig.validation.spawn``): ``api.validate`` starts them before it
imports pandas, so their imports overlap its own; they are taken by the worker pool, and one not
taken is stopped. The report is the one the in-process path gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import omnimig
from omnimig import i18n
from omnimig.sampling.generate import generate
from omnimig.validation import spawn


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    generate(folder, orders=40, seed=3, invalid_rate=0.2)
    return folder


@pytest.fixture
def spares_seen(monkeypatch: pytest.MonkeyPatch) -> list[spawn.Started]:
    """Every worker ``spawn.start`` made, so a test can check each one ended."""
    seen: list[spawn.Started] = []
    real = spawn.start

    def recording() -> spawn.Started:
        started = real()
        seen.append(started)
        return started

    monkeypatch.setattr(spawn, "start", recording)
    return seen


def _json(report: omnimig.Report) -> str:
    import io

    out = io.StringIO()
    report.render("json", out)
    return out.getvalue()


def test_validate_takes_the_workers_it_started_early_and_the_report_is_the_same(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, spares_seen: list[spawn.Started]
) -> None:
    one = _json(omnimig.validate(bundle, threads=1))
    assert spares_seen == []  # one thread: nothing started
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    taken: list[spawn.Started] = []
    real_take = spawn.take

    def recording_take() -> spawn.Started | None:
        got = real_take()
        if got is not None:
            taken.append(got)
        return got

    monkeypatch.setattr(spawn, "take", recording_take)
    three = _json(omnimig.validate(bundle, threads=3))
    assert three == one
    assert len(spares_seen) == 2  # started by prestart, before the files were collected
    assert [t.process.pid for t in taken] == [s.process.pid for s in spares_seen]
    assert all(s.process.poll() is not None for s in spares_seen)  # every worker has ended
    assert spawn._spares == []


def test_a_worker_started_early_and_not_used_is_stopped(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, spares_seen: list[spawn.Started]
) -> None:
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    # The guess counts every file in the folder; the real decision sees one file of one type only.
    report = omnimig.validate(bundle / "order.csv", threads=2)
    assert spares_seen == []  # one file: no guess of workers at all
    spawn.prestart([bundle], 2)
    assert len(spares_seen) == 1 and spares_seen[0].process.poll() is None
    spawn.discard()
    assert spares_seen[0].process.poll() is not None
    assert spawn._spares == []
    assert report.exit_code in (0, 1, 2)


def test_a_failed_validation_stops_the_workers_it_started(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, spares_seen: list[spawn.Started]
) -> None:
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    with pytest.raises(omnimig.UsageError):
        omnimig.validate(bundle, type="no-such-type", threads=2)
    assert len(spares_seen) == 1
    assert spares_seen[0].process.poll() is not None
    assert spawn._spares == []


def test_a_worker_in_another_language_is_not_taken(
    bundle: Path, monkeypatch: pytest.MonkeyPatch, spares_seen: list[spawn.Started]
) -> None:
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    spawn.prestart([bundle], 2)
    assert len(spares_seen) == 1
    previous = i18n.current()
    i18n.use("tr" if previous != "tr" else "en")
    try:
        assert spawn.take() is None  # its messages would be in the other language
    finally:
        i18n.use(previous)
    assert spares_seen[0].process.poll() is not None


def test_the_cli_with_workers_started_early_reports_as_one_thread(bundle: Path) -> None:
    """A CLI run with workers started early gives the report of a one-thread run."""
    code = "import omnimig.validation.spawn as w; w.MIN_BYTES = 0; from omnimig.cli import app; app()"
    outs = {}
    for n in ("1", "2"):
        done = subprocess.run(
            [sys.executable, "-c", code, "validate", str(bundle), "--format", "json", "--threads", n],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode in (0, 1), done.stderr
        outs[n] = json.loads(done.stdout)
    assert outs["2"] == outs["1"]
