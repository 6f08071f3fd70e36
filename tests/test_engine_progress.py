"""Progress for the steps after reading: bundle rules, report writing, split writing (issue 13).

Bars go to stderr only on a terminal; the hooks that feed them are tested directly.
"""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.validation.progress import FileProgress, StepProgress
from omnimig.validation.report import write_csv, write_json
from omnimig.validation.run import validate_paths
from omnimig.validation.workbook import write_workbook


def test_bundle_rules_report_each_step_and_finish(bundle: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    validate_paths([bundle], steps=lambda what, done, total: calls.append((what, done, total)))
    totals = {total for _, _, total in calls}
    assert len(totals) == 1
    [total] = totals
    assert total >= 4  # at least one unique-key step per type
    assert [done for _, done, _ in calls] == list(range(total + 1))
    assert calls[-1] == ("bundle rules", total, total)
    assert any(what.startswith("order: ") for what, _, _ in calls)


def test_report_writers_count_up_to_what_they_write(bundle: Path, tmp_path: Path) -> None:
    run = validate_paths([bundle])
    seen: list[tuple[int, int]] = []
    write_workbook(run.reported, tmp_path / "r.xlsx", progress=lambda done, total: seen.append((done, total)))
    total = sum(r.rows for r in run.reported)
    assert seen and seen[-1] == (total, total)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    # JSON/CSV call back per few thousand problems: a small report calls back never or with exact totals
    calls: list[tuple[int, int]] = []
    write_json(run.reported, run.outcome, io.StringIO(), lambda d, t: calls.append((d, t)))
    write_csv(run.reported, run.outcome, io.StringIO(), lambda d, t: calls.append((d, t)))
    assert all(d <= t for d, t in calls)


def test_step_bars_show_on_a_terminal_only() -> None:
    shown = io.StringIO()
    with StepProgress(Console(file=shown, force_terminal=True, width=100)) as steps:
        steps.hook("writing report.xlsx")(5, 10)
        steps.bundle_hook()("order: references", 1, 3)
    assert "writing report.xlsx" in shown.getvalue()
    assert "bundle rules (order: references)" in shown.getvalue()

    quiet = io.StringIO()
    with StepProgress(Console(file=quiet)) as steps:
        steps.hook("writing report.xlsx")(5, 10)
        steps.hook("split")(0, None)
    assert quiet.getvalue() == ""


def test_step_bars_share_the_file_bar() -> None:
    """rich shows one live display at a time: the bundle bar rides on the file bar."""
    shown = io.StringIO()
    console = Console(file=shown, force_terminal=True, width=100)
    with FileProgress(console, threshold=0) as files, StepProgress(console, bar=files.bar) as steps:
        files(Path("order.csv"), 10, 100)
        steps.bundle_hook()("user: unique keys", 0, 2)
    out = shown.getvalue()
    assert "validating order.csv" in out and "bundle rules (user: unique keys)" in out


def test_no_bar_noise_off_a_terminal(bundle: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["validate", str(bundle), "--report", str(tmp_path / "r.xlsx"), "--split", str(tmp_path / "out")]
    )
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if not line.startswith("split ")] == []
