"""Bundle-level problems are ``Problem``s (issue 14): one list, rule codes, severities, every renderer.

``missing-file`` (an error, under --require-all) and ``not-checked`` (a note: a cross-file rule whose
other file is absent or unreadable) are stored once in ``BundleOutcome.problems``; the former string
lists ``notes`` and ``errors`` are views of it.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import openpyxl
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.validation.bundle import MISSING_FILE, NOT_CHECKED
from omnimig.validation.problem import Problem
from omnimig.validation.run import validate_paths
from omnimig.validation.workbook import write_workbook

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ALL = "user, address, order, order_item"
NOTE = "order.user -> user.customer_code was not checked: the bundle has no user file"


def run(*args: object) -> Result:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result


def _missing(name: str) -> Problem:
    message = f"the bundle has no {name} file; --require-all needs all of {ALL}"
    return Problem("", name, None, None, MISSING_FILE, "error", None, message)


def test_bundle_problems_are_one_list_of_problems_with_rule_codes() -> None:
    outcome = validate_paths([SAMPLES / "order.csv"], require_all=True).outcome
    note = Problem("", "order", None, "user", NOT_CHECKED, "note", None, NOTE)
    assert sorted(outcome.problems, key=lambda p: p.rule) == [
        _missing("user"),
        _missing("address"),
        _missing("order_item"),
        note,
    ]
    # The former string lists are views of the one list, for the callers that print lines.
    assert outcome.notes == [NOTE]
    assert outcome.errors == [p.message for p in outcome.problems if p.rule == MISSING_FILE]
    assert outcome.missing_required == ["user", "address", "order_item"]
    assert outcome.missing_problems() == [_missing("user"), _missing("address"), _missing("order_item")]


def test_without_require_all_only_the_note_remains_and_it_is_no_warning(here: Path) -> None:
    result = run("validate", "--format", "json", "--strict", SAMPLES / "order.csv", SAMPLES / "order_item.csv")
    assert result.exit_code == 0, result.output  # --strict escalates warnings, never notes
    doc = json.loads(result.stdout)
    assert {k: doc["summary"][k] for k in ("errors", "warnings")} == {"errors": 0, "warnings": 0}
    assert doc["bundle"]["notes"] == [NOTE]
    assert doc["bundle"]["problems"] == [
        {
            "file": "",
            "type": "order",
            "row": None,
            "field": "user",
            "rule": NOT_CHECKED,
            "severity": "note",
            "value": None,
            "message": NOTE,
        }
    ]


def test_json_lists_bundle_problems_errors_first_and_keeps_the_former_keys(here: Path) -> None:
    result = run("validate", "--format", "json", "--require-all", SAMPLES / "order.csv", SAMPLES / "order_item.csv")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    listed = [(p["rule"], p["severity"], p["type"]) for p in doc["bundle"]["problems"]]
    assert listed == [
        (MISSING_FILE, "error", "user"),
        (MISSING_FILE, "error", "address"),
        (NOT_CHECKED, "note", "order"),
    ]
    assert doc["bundle"]["errors"] == [p["message"] for p in doc["bundle"]["problems"] if p["severity"] == "error"]
    assert doc["bundle"]["notes"] == [NOTE]
    assert doc["summary"]["errors"] == 2


def test_csv_lists_the_bundle_errors_not_the_notes(here: Path) -> None:
    result = run("validate", "--format", "csv", "--require-all", SAMPLES / "order.csv", SAMPLES / "order_item.csv")
    assert result.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["file"], r["type"], r["rule"], r["severity"]) for r in rows] == [
        ("", "user", MISSING_FILE, "error"),
        ("", "address", MISSING_FILE, "error"),
    ]


def test_text_keeps_its_note_and_error_lines(here: Path) -> None:
    result = run("validate", "--require-all", SAMPLES / "order.csv", SAMPLES / "order_item.csv")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    first_error = lines.index(f"✗ error: the bundle has no user file; --require-all needs all of {ALL}")
    assert lines.index(f"note: {NOTE}") < first_error  # notes, then errors, as before
    assert lines[-1] == "2 files, 36 rows: 2 errors, 0 warnings — fix the errors before uploading"


def test_an_unreadable_parent_file_makes_a_not_checked_note_saying_so(here: Path) -> None:
    shutil.copytree(SAMPLES, "b")
    Path("b/user.csv").write_bytes(b"\x00\xff\xfe garbage \x00" * 10)
    outcome = validate_paths([Path("b")]).outcome
    notes = [p for p in outcome.problems if p.rule == NOT_CHECKED]
    assert {p.message for p in notes} == {
        "address.user -> user.customer_code was not checked: the user file could not be read",
        "order.user -> user.customer_code was not checked: the user file could not be read",
    }
    assert all(p.severity == "note" and p.file == "" for p in notes)


def test_workbook_lists_bundle_problems_without_a_cell_and_counts_the_errors(tmp_path: Path) -> None:
    run_ = validate_paths([SAMPLES / "order.csv"], require_all=True)
    out = tmp_path / "r.xlsx"
    write_workbook(run_.reported, out, outcome=run_.outcome)
    cells = [
        [c for c in row if c is not None] for row in openpyxl.load_workbook(out)["Summary"].iter_rows(values_only=True)
    ]
    assert cells[1] == ["1 file, 9 rows: 3 errors, 0 warnings"]  # the bundle's errors count too
    listed = [row for row in cells if row and row[0] == "(bundle)"]
    assert [(row[1], row[2]) for row in listed] == [
        (MISSING_FILE, "error"),
        (MISSING_FILE, "error"),
        (MISSING_FILE, "error"),
        ("user", NOT_CHECKED),  # field, rule, severity, message: the field is user here
    ]
    assert ["Bundle: " + NOTE] in cells
