"""Every hostile input, every output mode: no traceback, no abort, no hang, and exit codes as the README says.

The corpus is ``tests/hostile.py``. For each file the harness runs ``omnimig validate`` three ways,
which between them cover every output: ``--format json --report R.xlsx --split OUT``,
``--format csv --report R.csv`` and the text report with ``--report R.json``; then the transform
sources that read that kind of file. The promises checked on every run:

- exit code 0, 1 or 2, and the ones the case allows; 2 comes with a line on stderr naming the file;
- no Python traceback and no exception escaping the command;
- the JSON report parses, counts every error (an unreadable file is an error, never "0 errors");
- no raw terminal escape on screen, no live formula in a CSV a person opens;
- ``--split``: rows = ready + held, ready/ re-validates with no errors;
- reports and split files are private (0600);
- cases that could abort or hang the interpreter run in a subprocess with a time limit.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import Case, build_all, cases
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.io.safe_text import is_formula_like, visible

#: Seconds any one run may take. The slowest cases (a 20 MB cell) take a few seconds.
BOUND = 120
CASES = cases()
INPROCESS = [c for c in CASES if not c.isolate]
ISOLATED = [c for c in CASES if c.isolate]
SPLIT_LINE = re.compile(
    r"split (?P<path>.+): (?P<rows>[\d,]+) rows = (?P<ready>[\d,]+) ready.* \+ (?P<held>[\d,]+) held"
)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return build_all(tmp_path_factory.mktemp("hostile"), INPROCESS)


@pytest.fixture(autouse=True)
def bounded() -> Iterator[None]:
    """A run that hangs fails the test instead of the whole suite."""

    def expire(signum: int, frame: object) -> None:
        raise TimeoutError(f"a run took longer than {BOUND} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(BOUND)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def invoke(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def check_run(result: Result, case: Case, path: Path) -> None:
    """The promises every run keeps, whatever the file."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    for stream in (result.stdout, result.stderr):
        assert "Traceback" not in stream
        assert "\x1b" not in stream, "a terminal escape reached the screen raw"
    assert result.exit_code in case.exits, f"exit {result.exit_code}; stderr: {result.stderr[-500:]}"
    if result.exit_code == 2:
        assert visible(path.name) in result.stderr, result.stderr[-500:]
        assert len([line for line in result.stderr.splitlines() if path.name in line or visible(path.name) in line])


def check_private(path: Path) -> None:
    if path.exists():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is {oct(stat.S_IMODE(path.stat().st_mode))}"


@pytest.mark.parametrize("case", INPROCESS, ids=lambda c: c.name)
def test_json_report_workbook_and_split(case: Case, corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus[case.name]
    report, split = tmp_path / "report.xlsx", tmp_path / "split"
    result = invoke("validate", path, "--format", "json", "--report", report, "--split", split)
    check_run(result, case, path)
    if result.exit_code == 2 and not result.stdout:
        return  # could not run at all (a folder with no migration files): one line on stderr, no report
    doc = json.loads(result.stdout)
    summary = doc["summary"]
    problems = [p for f in doc["files"] for p in f["problems"]]
    if result.exit_code == 0:
        assert summary["errors"] == 0
    else:  # exit 1 (errors) and exit 2 (unreadable: an error too) both count in the summary
        assert summary["errors"] >= 1, "the JSON report says 0 errors for a file that failed"
        assert any(p["severity"] == "error" for p in problems)
    if case.rule is not None:
        assert case.rule in {p["rule"] for p in problems}
    check_private(report)
    counted = 0
    for match in SPLIT_LINE.finditer(result.stderr):
        rows, ready, held = (int(match[k].replace(",", "")) for k in ("rows", "ready", "held"))
        assert rows == ready + held
        counted += 1
    if counted:
        for written in split.rglob("*"):
            if written.is_file():
                check_private(written)
        ready_dir = split / "ready"
        if ready_dir.is_dir() and any(ready_dir.iterdir()):
            again = invoke("validate", ready_dir, "--type", doc["files"][0]["type"], "--format", "json")
            assert again.exit_code == 0, again.stdout[-2000:] + again.stderr[-500:]


@pytest.mark.parametrize("case", INPROCESS, ids=lambda c: c.name)
def test_csv_output_and_csv_report(case: Case, corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus[case.name]
    report = tmp_path / "report.csv"
    result = invoke("validate", path, "--format", "csv", "--report", report)
    check_run(result, case, path)
    texts = [result.stdout]
    if report.exists():
        check_private(report)
        texts.append(report.read_text(encoding="utf-8"))
    for body in texts:
        rows = list(csv.reader(io.StringIO(body)))
        if result.exit_code == 1 or (result.exit_code == 2 and result.stdout):
            assert len(rows) >= 2, "errors were found but the CSV lists no problem"
        for row in rows:
            for cell in row:
                assert not is_formula_like(cell), f"a spreadsheet would run {cell!r} as a formula"


@pytest.mark.parametrize("case", INPROCESS, ids=lambda c: c.name)
def test_text_output_and_json_report(case: Case, corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus[case.name]
    report = tmp_path / "report.json"
    result = invoke("validate", path, "--report", report)
    check_run(result, case, path)
    if report.exists():
        check_private(report)
        assert json.loads(report.read_text(encoding="utf-8"))["summary"]["errors"] >= (result.exit_code != 0)


#: The transform source that reads each kind of corpus file, by the case name's prefix.
TRANSFORMS = {"csv": "shopify", "json": "omnitron-orders"}


@pytest.mark.parametrize(
    ("case", "source"),
    [(c, TRANSFORMS[c.name.split("-")[0]]) for c in INPROCESS if c.name.split("-")[0] in TRANSFORMS],
    ids=lambda v: v.name if isinstance(v, Case) else v,
)
def test_transform_never_tracebacks(case: Case, source: str, corpus: dict[str, Path], tmp_path: Path) -> None:
    path = corpus[case.name]
    if not path.is_file():
        pytest.skip("not a file")
    result = invoke("transform", source, path, "--out", tmp_path / "out")
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2)
    if result.exit_code == 2:
        assert result.stderr.startswith("omnimig: error:"), result.stderr[-500:]


def run_isolated(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from omnimig.cli import app; app()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("case", ISOLATED, ids=lambda c: c.name)
def test_isolated_cases_neither_abort_nor_hang(case: Case, tmp_path: Path) -> None:
    path = build_all(tmp_path / "in", [case])[case.name]
    done = run_isolated(["validate", str(path), "--format", "json", "--split", str(tmp_path / "split")], timeout=90)
    assert done.returncode >= 0, f"killed by signal {-done.returncode}"
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode in case.exits, done.stderr[-500:]
    if done.returncode == 2:
        assert path.name in done.stderr
    doc = json.loads(done.stdout)
    assert doc["summary"]["errors"] >= (done.returncode != 0)


def test_a_folder_of_every_case_reports_every_readable_file(tmp_path: Path) -> None:
    """One bad file never takes the others down: the folder run lists every file it could read."""
    folder = tmp_path / "all"
    built = build_all(folder, CASES)
    done = run_isolated(["validate", str(folder), "--format", "json"], timeout=600)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    doc = json.loads(done.stdout)
    reported = {Path(f["path"]).name for f in doc["files"]}
    assert doc["summary"]["errors"] >= 1
    # Every regular file in the folder appears in the report, readable or not.
    regular = {p.name for p in built.values() if p.is_file() and not p.is_symlink()}
    assert regular <= reported, sorted(regular - reported)
