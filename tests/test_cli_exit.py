"""The console script's quick way out after ``validate`` (``omnimig.cli.console``): same output and
exit code as ``app()``, the interpreter's teardown skipped only after ``validate`` printed everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Registers an exit hook that prints a marker: it runs only when the interpreter shuts down as usual.
HOOKED = (
    "import atexit; atexit.register(lambda: print('TEARDOWN', flush=True)); from omnimig.cli import {entry}; {entry}()"
)


def run(entry: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HOOKED.format(entry=entry), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.mark.parametrize("bundle", ["samples", "examples/bundle"])
def test_validate_through_main_prints_what_app_prints_and_exits_with_its_code(bundle: str) -> None:
    quick = run("console", "validate", bundle, "--format", "json")
    usual = run("app", "validate", bundle, "--format", "json")
    assert quick.returncode == usual.returncode
    assert "TEARDOWN" not in quick.stdout  # ended at once, after the report
    assert usual.stdout.endswith("TEARDOWN\n")
    assert json.loads(quick.stdout) == json.loads(usual.stdout.removesuffix("TEARDOWN\n"))
    assert quick.stderr == usual.stderr


def test_other_commands_end_as_usual() -> None:
    done = run("console", "schemas")
    assert done.returncode == 0
    assert done.stdout.endswith("TEARDOWN\n")


def test_an_error_before_the_report_ends_as_usual_with_its_code() -> None:
    done = run("console", "validate", "no/such/folder")
    assert done.returncode == 2
    assert done.stdout.endswith("TEARDOWN\n")


def test_a_closed_pipe_keeps_the_exit_code() -> None:
    quick = subprocess.run(
        f"{sys.executable} -m omnimig validate examples/bundle --format json | head -c 10 > /dev/null; "
        "echo ${PIPESTATUS[0]}",
        shell=True,
        executable="/bin/bash",
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    usual = run("app", "validate", "examples/bundle", "--format", "json")
    assert int(quick.stdout.strip()) == usual.returncode
