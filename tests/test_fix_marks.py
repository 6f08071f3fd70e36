"""validate marks what omnimig fix corrects, in every output format, and the marks are fix's promise.

A problem marked fixable with a suggestion must be a cell ``omnimig fix`` changes to exactly that
value; the text summary's count must be fix's count of fixed problems.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import openpyxl
import pytest
from typer.testing import CliRunner

import omnimig
from omnimig.cli import app

DIRTY = Path(__file__).parent / "data" / "fix"
runner = CliRunner()


def fix_changes(out: Path) -> dict[tuple[str, str, str], str]:
    """(file, row, field) -> the value fix wrote, from its changes.csv (cell changes only)."""
    with (out / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return {
            (r["file"], r["row"], r["field"]): r["after"] for r in csv.DictReader(handle) if r["row"] and r["field"]
        }


@pytest.fixture(scope="module")
def fixed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("fix") / "out"
    result = runner.invoke(app, ["fix", str(DIRTY), "--out", str(out)])
    assert result.exit_code in (0, 1), result.output
    return result.stdout, out


def test_the_text_summary_counts_what_fix_fixes(fixed: tuple[str, Path]) -> None:
    """A promise fix keeps: never more than fix corrects. Less only where a fix depends on another
    cell of the row (a currency sign must agree with the row's currency: ``649,90 TL`` in a USD order)."""
    fix_output, _ = fixed
    result = runner.invoke(app, ["validate", str(DIRTY)])
    found = re.search(r"^([\d,]+) of them can be fixed with omnimig fix", result.stdout, re.M)
    assert found, result.stdout
    fixed_count = re.search(r"(\d+) problems: (\d+) fixed", fix_output)
    assert fixed_count
    assert int(fixed_count.group(2)) - 2 <= int(found.group(1)) <= int(fixed_count.group(2))
    assert omnimig.validate(DIRTY).fixable == int(found.group(1))


def test_every_json_suggestion_is_the_value_fix_writes(fixed: tuple[str, Path]) -> None:
    _, out = fixed
    written = fix_changes(out)
    doc = json.loads(runner.invoke(app, ["validate", str(DIRTY), "--format", "json"]).stdout)
    marked = [p for f in doc["files"] for p in f["problems"] if "suggestion" in p]
    assert len(marked) >= 10
    for p in marked:
        assert p["fixable"] is True
        assert written[(p["file"], str(p["row"]), p["field"])] == p["suggestion"], p
    # and what fix changed in a cell, validate marked, except the row-dependent currency signs
    suggested = {(p["file"], str(p["row"]), p["field"]) for p in marked}
    unmarked = {k for k in written if k not in suggested and k[1] != "1"}  # row 1: the header (a column alias)
    assert {written[k] for k in unmarked} <= {"1249.90"}


def test_the_csv_report_and_the_workbook_carry_the_suggestion(tmp_path: Path) -> None:
    text = runner.invoke(app, ["validate", str(DIRTY), "--format", "csv"]).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    phone = next(r for r in rows if r["field"] == "phone" and r["value"].endswith("+90 532 123 45 67"))
    assert phone["suggestion"] == "5321234567"
    assert next(r for r in rows if r["value"] == "01/02/2023")["suggestion"] == ""  # two readings: none
    report = tmp_path / "r.xlsx"
    runner.invoke(app, ["validate", str(DIRTY), "--report", str(report)])
    notes = [
        c.comment.text
        for ws in openpyxl.load_workbook(report).worksheets
        for row in ws.iter_rows()
        for c in row
        if c.comment
    ]
    assert any(n.startswith("→ write '1998-11-14' here") for n in notes)
    assert any("01/02/2023" in n and "→ write" not in n for n in notes)


def test_a_clean_bundle_has_nothing_to_fix() -> None:
    report = omnimig.validate(Path(__file__).parent.parent / "samples")
    assert report.fixable == 0
    assert "can be fixed with omnimig fix" not in runner.invoke(app, ["validate", "samples"]).stdout
