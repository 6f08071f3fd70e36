"""``omnimig validate`` and ``omnimig schemas`` through typer's CliRunner.

Every test asserts the exit code (0 no errors, 1 errors, 2 could not run; see DESIGN.md) and
what the output says. The committed ``samples/`` bundle is the valid baseline: tests copy it
into ``tmp_path`` and break one thing.
"""

from __future__ import annotations

import builtins
import csv
import datetime as dt
import errno
import io
import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from filetools import write_xlsx
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.schemas.rules import default_choices, table_rules

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "bundle"
DATA = Path(__file__).resolve().parent / "data" / "cli"
# "suggestion" too when omnimig fix corrects the cell ("fixable": true)
PROBLEM_KEYS = {"file", "type", "row", "field", "rule", "severity", "value", "message", "fixable"}
UPLOAD_ORDER = ["user", "address", "order", "order_item"]


# --------------------------------------------------------------------------- helpers


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def assert_cannot_run(result: Result, *needles: str) -> str:
    """Exit code 2, no traceback, and exactly one ``omnimig: error:`` line holding every needle."""
    assert_no_traceback(result)
    assert result.exit_code == 2, (result.exit_code, result.output)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("omnimig: error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def report(result: Result) -> dict[str, Any]:
    """The ``--format json`` document on stdout."""
    return json.loads(result.stdout)


def problems(result: Result) -> list[dict[str, Any]]:
    return [p for f in report(result)["files"] for p in f["problems"]]


def brief(result: Result) -> list[tuple[Any, Any, str, str]]:
    """(row, field, rule, severity) of every problem, in report order."""
    return [(p["row"], p["field"], p["rule"], p["severity"]) for p in problems(result)]


def rows_of(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def edit_cell(path: Path, row: int, column: str, value: str) -> Path:
    """Set one cell; ``row`` is the spreadsheet row (header = 1)."""
    rows = rows_of(path)
    rows[row - 1][rows[0].index(column)] = value
    return write_rows(path, rows)


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the committed, valid ``samples/`` bundle, as a short relative path.

    The text report is for people and wraps at the console width (80 under CliRunner), so
    tests work from ``tmp_path`` to keep the paths in its lines short.
    """
    monkeypatch.chdir(tmp_path)
    folder = Path("bundle")
    shutil.copytree(SAMPLES, folder)
    return folder


@pytest.fixture
def order_csv(bundle: Path) -> Path:
    return bundle / "order.csv"


# --------------------------------------------------------------------------- baseline


def test_committed_samples_validate_clean_in_text() -> None:
    result = run("validate", SAMPLES)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert "4 files, 16 rows: 0 errors, 0 warnings" in result.stdout
    assert "no errors" in result.stdout


def test_folder_files_are_reported_in_upload_order(bundle: Path) -> None:
    result = run("validate", "--format", "json", bundle)
    assert result.exit_code == 0, result.output
    files = report(result)["files"]
    assert [f["type"] for f in files] == UPLOAD_ORDER
    assert [Path(f["path"]).name for f in files] == ["user.csv", "address.csv", "order.csv", "order_item.json"]
    assert [f["rows"] for f in files] == [3, 4, 4, 5]
    # text output too: user before address before order before order_item
    text = run("validate", bundle).stdout
    positions = [text.index(name) for name in ("user.csv", "address.csv", "order.csv", "order_item.json")]
    assert positions == sorted(positions)


def test_folder_stems_in_any_case_and_plural(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(SAMPLES / "order_item.json", folder / "Order_Items.json")
    shutil.copy(SAMPLES / "order.csv", folder / "ORDERS.csv")
    shutil.copy(SAMPLES / "address.csv", folder / "addresses.csv")
    shutil.copy(SAMPLES / "user.csv", folder / "Users.csv")
    result = run("validate", "--format", "json", folder)
    assert result.exit_code == 0, result.output
    files = report(result)["files"]
    assert [f["type"] for f in files] == UPLOAD_ORDER
    assert [Path(f["path"]).name for f in files] == ["Users.csv", "addresses.csv", "ORDERS.csv", "Order_Items.json"]


# --------------------------------------------------------------------------- --format


def test_json_format_follows_the_contract(order_csv: Path) -> None:
    edit_cell(order_csv, 3, "amount", "12.345")
    result = run("validate", "--format", "json", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 1
    doc = report(result)
    assert set(doc) >= {"files", "summary"}
    assert {k: v for k, v in doc["summary"].items() if k != "types"} == {"errors": 1, "warnings": 0, "rows": 4}
    [entry] = doc["files"]
    assert {"path", "type", "rows", "problems"} <= set(entry)
    assert entry["path"] == str(order_csv)
    assert entry["type"] == "order"
    assert entry["rows"] == 4
    [problem] = entry["problems"]
    assert set(problem) == PROBLEM_KEYS
    assert problem == {
        "file": str(order_csv),
        "type": "order",
        "row": 3,
        "field": "amount",
        "rule": "decimal-places",
        "severity": "error",
        "value": "12.345",
        "message": problem["message"],
        "fixable": False,  # 12.345 has no one reading: omnimig fix leaves it to a person
    }
    assert '"12.345"' in problem["message"] and "3 decimal places" in problem["message"]
    assert "at most 2" in problem["message"]


def test_json_format_summary_counts_every_file(bundle: Path) -> None:
    edit_cell(bundle / "user.csv", 4, "email", "not-an-email")
    edit_cell(bundle / "order.csv", 2, "shipping_company", "kargoist")
    result = run("validate", "--format", "json", bundle)
    assert result.exit_code == 1
    doc = report(result)
    # The changed email also makes user C0003's address and order disagree with it (bundle warnings).
    assert {k: v for k, v in doc["summary"].items() if k != "types"} == {"errors": 1, "warnings": 3, "rows": 16}
    by_type = {f["type"]: f for f in doc["files"]}
    assert [(p["row"], p["field"], p["rule"]) for p in by_type["user"]["problems"]] == [(4, "email", "pattern")]
    assert [(p["row"], p["field"], p["rule"]) for p in by_type["order"]["problems"]] == [
        (2, "shipping_company", "choices"),
        (5, "user_email", "email-mismatch"),
    ]
    assert [(p["row"], p["field"], p["rule"]) for p in by_type["address"]["problems"]] == [
        (5, "email", "email-mismatch")
    ]
    for f in doc["files"]:
        for p in f["problems"]:
            assert set(p) - {"suggestion"} == PROBLEM_KEYS
            assert ("suggestion" in p) <= p["fixable"]
            assert p["file"] == f["path"]


def test_json_format_clean_file_has_empty_problem_list() -> None:
    result = run("validate", "--format", "json", SAMPLES / "order_item.json")
    assert result.exit_code == 0
    doc = report(result)
    assert doc["files"][0]["problems"] == []
    assert {k: v for k, v in doc["summary"].items() if k != "types"} == {"errors": 0, "warnings": 0, "rows": 5}


def test_csv_format_is_one_problem_per_line(order_csv: Path) -> None:
    edit_cell(order_csv, 2, "amount", "12,50")
    edit_cell(order_csv, 4, "currency", "TL")
    result = run("validate", "--format", "csv", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 1
    lines = list(csv.reader(io.StringIO(result.stdout)))
    assert lines[0] == ["file", "type", "row", "field", "rule", "severity", "value", "message", "suggestion"]
    body = [dict(zip(lines[0], line, strict=True)) for line in lines[1:]]
    assert [(b["row"], b["field"], b["rule"], b["severity"], b["value"]) for b in body] == [
        ("2", "amount", "type", "error", "12,50"),
        ("4", "currency", "pattern", "error", "TL"),
    ]
    assert all(b["file"] == str(order_csv) and b["type"] == "order" for b in body)
    assert "point" in body[0]["message"]  # the hint: write 12.50
    assert "TRY" in body[1]["message"]


def test_csv_format_of_a_clean_file_is_only_the_header() -> None:
    result = run("validate", "--format", "csv", SAMPLES / "user.csv")
    assert result.exit_code == 0
    assert result.stdout.strip().splitlines() == ["file,type,row,field,rule,severity,value,message,suggestion"]


def test_text_format_groups_by_rule_with_row_and_value(order_csv: Path) -> None:
    edit_cell(order_csv, 3, "amount", "12.345")
    edit_cell(order_csv, 5, "amount", "1234567890123")
    result = run("validate", "--format", "text", order_csv)
    assert result.exit_code == 1
    out = result.stdout
    assert "(order, csv, 4 rows): 2 errors, 0 warnings" in out
    assert "decimal-places · amount — 1 problem" in out
    assert "max-digits · amount — 1 problem" in out
    assert 'row 3: amount "12.345" has 3 decimal places' in out
    assert 'row 5: amount "1234567890123"' in out
    assert "fix the errors before uploading" in out


def test_unknown_format_is_a_usage_error(order_csv: Path) -> None:
    result = run("validate", "--format", "xml", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "xml" in result.output


# --------------------------------------------------------------------------- --type


def order_rows_for_excel() -> list[list[object]]:
    return [list(r) for r in rows_of(SAMPLES / "order.csv")]


def test_type_option_for_a_file_name_that_does_not_say_its_type(tmp_path: Path) -> None:
    export = write_xlsx(tmp_path / "export-2023.xlsx", order_rows_for_excel())
    result = run("validate", "--format", "json", "--type", "order", export)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    [entry] = report(result)["files"]
    assert (entry["type"], entry["rows"], entry["problems"]) == ("order", 4, [])


def test_type_option_overrides_the_name_and_judges_by_that_type(tmp_path: Path) -> None:
    export = write_xlsx(tmp_path / "export-2023.xlsx", order_rows_for_excel())
    result = run("validate", "--format", "json", "-t", "user", export)
    assert result.exit_code == 1
    [entry] = report(result)["files"]
    assert entry["type"] == "user"
    missing = {p["field"] for p in entry["problems"] if p["rule"] == "missing-column"}
    assert {"customer_code", "email", "first_name"} <= missing


def test_file_name_without_type_and_no_type_option(tmp_path: Path) -> None:
    export = write_xlsx(tmp_path / "export-2023.xlsx", order_rows_for_excel())
    line = assert_cannot_run(run("validate", export), str(export), "--type")
    assert "user, address, order, order_item" in line


def test_unknown_type_option() -> None:
    line = assert_cannot_run(run("validate", "--type", "purchases", SAMPLES / "order.csv"), "'purchases'")
    assert "unknown type" in line and "user, address, order, order_item" in line


@pytest.mark.parametrize("spelling", ["orders", "Order", "ORDERS"])
def test_type_names_as_people_write_them(spelling: str) -> None:
    """A type is accepted as its file stems are (datapackage.json): plural, any case."""
    result = run("validate", "--format", "json", "--type", spelling, SAMPLES / "order.csv")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["files"][0]["type"] == "order"


@pytest.mark.parametrize(("spelling", "title"), [("users", "user:"), ("order-items", "order_item:")])
def test_schemas_takes_type_names_as_people_write_them(spelling: str, title: str) -> None:
    result = run("schemas", spelling)
    assert result.exit_code == 0 and result.stdout.startswith(title)


# --------------------------------------------------------------------------- --strict


def test_strict_turns_warnings_into_errors(order_csv: Path) -> None:
    edit_cell(order_csv, 2, "shipping_company", "kargoist")
    lenient = run("validate", "--format", "json", order_csv)
    assert lenient.exit_code == 0
    assert brief(lenient) == [(2, "shipping_company", "choices", "warning")]
    assert report(lenient)["summary"]["warnings"] == 1
    strict = run("validate", "--format", "json", "--strict", order_csv)
    assert_no_traceback(strict)
    assert strict.exit_code == 1
    assert brief(strict) == [(2, "shipping_company", "choices", "error")]
    counts = {k: v for k, v in report(strict)["summary"].items() if k != "types"}
    assert counts == {
        "errors": 1,
        "warnings": 0,
        "rows": 4,
    }


def test_strict_on_a_clean_file_still_exits_zero() -> None:
    assert run("validate", "--strict", SAMPLES / "order.csv").exit_code == 0


def test_strict_escalates_column_warnings(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    write_rows(path, [[*r, "gold" if i else "loyalty_tier"] for i, r in enumerate(rows)])
    assert run("validate", path).exit_code == 0
    result = run("validate", "--format", "json", "--strict", path)
    assert result.exit_code == 1
    assert brief(result) == [(1, "loyalty_tier", "unknown-column", "error")]


# --------------------------------------------------------------------------- --choices


def test_choices_file_that_adds_a_value_removes_the_warning(order_csv: Path, tmp_path: Path) -> None:
    edit_cell(order_csv, 2, "shipping_company", "kargoist")
    lists = tmp_path / "choices.json"
    lists.write_text(json.dumps({"shipping-companies": ["kargoist", "aras", "mng", "ptt"]}), encoding="utf-8")
    result = run("validate", "--format", "json", "--strict", "--choices", lists, order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert problems(result) == []


def test_choices_file_that_narrows_a_list_adds_warnings(order_csv: Path, tmp_path: Path) -> None:
    lists = tmp_path / "choices.json"
    lists.write_text(json.dumps({"currencies": ["EUR"]}), encoding="utf-8")
    result = run("validate", "--format", "json", "--choices", lists, order_csv)
    assert result.exit_code == 0
    assert brief(result) == [(r, "currency", "choices", "warning") for r in (2, 3, 4, 5)]
    assert "EUR" in problems(result)[0]["message"]
    # the other lists keep their defaults: statuses and shipping companies still pass
    assert {p["field"] for p in problems(result)} == {"currency"}


def test_choices_file_in_object_form_can_be_case_sensitive(order_csv: Path, tmp_path: Path) -> None:
    lists = tmp_path / "choices.json"
    lists.write_text(json.dumps({"currencies": {"values": ["TRY"], "caseInsensitive": False}}), encoding="utf-8")
    result = run("validate", "--format", "json", "--choices", lists, order_csv)
    assert result.exit_code == 0
    # samples/order.csv row 4 writes "try"
    assert [(p["row"], p["value"]) for p in problems(result)] == [(4, "try")]


def test_choices_replaces_lists_shown_by_schemas(tmp_path: Path) -> None:
    lists = tmp_path / "choices.json"
    lists.write_text(json.dumps({"currencies": ["EUR", "USD"]}), encoding="utf-8")
    default = run("schemas", "order")
    replaced = run("schemas", "order", "--choices", lists)
    assert replaced.exit_code == 0
    assert f"({len(default_choices()['currencies'].values)} known values)" in default.stdout
    assert "(2 known values)" in replaced.stdout


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"carriers": ["x"]}', "unknown list 'carriers'"),
        ("{not json", "cannot read choices file"),
        ('["EUR"]', "JSON object"),
        ('{"currencies": 3}', "currencies"),
    ],
    ids=["unknown-list", "syntax-error", "not-an-object", "list-not-an-array"],
)
def test_bad_choices_file_cannot_run(order_csv: Path, tmp_path: Path, content: str, needle: str) -> None:
    lists = tmp_path / "choices.json"
    lists.write_text(content, encoding="utf-8")
    assert_cannot_run(run("validate", "--choices", lists, order_csv), str(lists), needle)
    assert_cannot_run(run("schemas", "--choices", lists), str(lists), needle)


def test_missing_choices_file_cannot_run(order_csv: Path, tmp_path: Path) -> None:
    lists = tmp_path / "nope.json"
    assert_cannot_run(run("validate", "--choices", lists, order_csv), str(lists))


# --------------------------------------------------------------------------- --max-examples


@pytest.fixture
def four_warnings(order_csv: Path, tmp_path: Path) -> tuple[Path, Path]:
    lists = tmp_path / "choices.json"
    lists.write_text(json.dumps({"currencies": ["EUR"]}), encoding="utf-8")
    return order_csv, lists


def example_lines(out: str) -> list[str]:
    return [line.strip() for line in out.splitlines() if line.strip().startswith("row ")]


def test_max_examples_default_shows_up_to_five(four_warnings: tuple[Path, Path]) -> None:
    path, lists = four_warnings
    out = run("validate", "--choices", lists, path).stdout
    assert "choices · currency — 4 problems" in out
    assert [line.split(":")[0] for line in example_lines(out)] == ["row 2", "row 3", "row 4", "row 5"]
    assert "more" not in out


def test_max_examples_bounds_the_text_examples(four_warnings: tuple[Path, Path]) -> None:
    path, lists = four_warnings
    result = run("validate", "--max-examples", "1", "--choices", lists, path)
    assert result.exit_code == 0
    assert "choices · currency — 4 problems" in result.stdout
    assert [line.split(":")[0] for line in example_lines(result.stdout)] == ["row 2"]
    assert "… and 3 more" in result.stdout
    zero = run("validate", "--max-examples", "0", "--choices", lists, path).stdout
    assert example_lines(zero) == []
    assert "… and 4 more" in zero


def test_max_examples_does_not_bound_json(four_warnings: tuple[Path, Path]) -> None:
    path, lists = four_warnings
    result = run("validate", "--format", "json", "--max-examples", "1", "--choices", lists, path)
    assert len(problems(result)) == 4
    assert report(result)["summary"]["warnings"] == 4


def test_negative_max_examples_is_a_usage_error(order_csv: Path) -> None:
    result = run("validate", "--max-examples", "-1", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 2
    assert "--max-examples" in result.output


# --------------------------------------------------------------------------- folders


def test_folder_skips_unrecognised_names_with_a_note(bundle: Path) -> None:
    shutil.copy(bundle / "user.csv", bundle / "notes.csv")
    (bundle / "README.md").write_text("not data", encoding="utf-8")
    result = run("validate", "--format", "json", bundle)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert [Path(f["path"]).name for f in report(result)["files"]] == [
        "user.csv",
        "address.csv",
        "order.csv",
        "order_item.json",
    ]
    notes = [line for line in result.stderr.splitlines() if "notes.csv" in line]
    assert len(notes) == 1
    assert "skipped" in notes[0] and "--type" in notes[0]
    assert "error" not in result.stderr


def test_folder_with_type_option_takes_every_file(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    shutil.copy(SAMPLES / "order.csv", folder / "export-2023.csv")
    shutil.copy(SAMPLES / "order.csv", folder / "export-2024.csv")
    result = run("validate", "--format", "json", "--type", "order", folder)
    # Both files are one order table: every number of the second repeats one of the first.
    assert result.exit_code == 1, result.output
    files = report(result)["files"]
    assert [(Path(f["path"]).name, f["type"]) for f in files] == [
        ("export-2023.csv", "order"),
        ("export-2024.csv", "order"),
    ]
    assert files[0]["problems"] == []
    assert [(p["row"], p["rule"]) for p in files[1]["problems"]] == [(r, "unique") for r in (2, 3, 4, 5)]
    assert "export-2023.csv" in files[1]["problems"][0]["message"]


def test_folder_with_no_recognisable_files(tmp_path: Path) -> None:
    folder = tmp_path / "stuff"
    folder.mkdir()
    shutil.copy(SAMPLES / "order.csv", folder / "export-2023.csv")
    (folder / "report.pdf").write_bytes(b"%PDF-1.4")
    line = assert_cannot_run(run("validate", folder), str(folder))
    assert "no migration files" in line


def test_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert_cannot_run(run("validate", folder), str(folder), "no migration files")


def test_folder_with_one_unreadable_file_reports_the_rest_and_exits_two(bundle: Path) -> None:
    (bundle / "order.csv").write_bytes(b"")
    result = run("validate", "--format", "json", bundle)
    line = assert_cannot_run(result, str(bundle / "order.csv"), "empty")
    doc = report(result)
    assert [f["type"] for f in doc["files"]] == ["user", "address", "order", "order_item"]
    order = doc["files"][2]
    assert (order["path"], order["rows"], order["format"], order["errors"]) == (str(bundle / "order.csv"), 0, "csv", 1)
    [problem] = order["problems"]
    where = (problem["rule"], problem["row"], problem["field"], problem["severity"])
    assert where == ("unreadable", None, None, "error")
    assert problem["message"] == line.removeprefix("omnimig: error: ")
    assert doc["summary"]["errors"] >= 1
    [step] = [s for s in doc["bundle"]["upload_order"] if s["type"] == "order"]
    assert step["files"][0]["unreadable"] is True and step["ready"] is False


# --------------------------------------------------------------------------- bad input


def test_empty_csv(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(b"")
    line = assert_cannot_run(run("validate", path), str(path))
    assert "empty" in line
    # the text report still lists it, so its summary never says "0 errors"
    stdout = run("validate", path).stdout
    assert "unreadable" in stdout and "1 file, 0 rows: 1 error, 0 warnings" in stdout


def test_whitespace_only_csv(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(b"  \r\n\n")
    assert_cannot_run(run("validate", path), str(path), "empty")


def test_empty_json(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_bytes(b"")
    assert_cannot_run(run("validate", path), str(path), "empty")


def test_random_bytes_named_csv(tmp_path: Path) -> None:
    path = tmp_path / "order.csv"
    path.write_bytes(random.Random(2).randbytes(2048))
    assert_cannot_run(run("validate", path), str(path))


def test_undecodable_text_named_csv(tmp_path: Path) -> None:
    # 0x81 is undefined in both UTF-8 (as a start byte) and Windows-1254
    path = tmp_path / "order.csv"
    path.write_bytes(b"number,user\nA\x81B,C1\n")
    assert_cannot_run(run("validate", path), str(path), "line 2", "UTF-8")


def test_random_bytes_named_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "order.xlsx"
    path.write_bytes(random.Random(3).randbytes(2048))
    assert_cannot_run(run("validate", path), str(path), "XLSX")


def test_truncated_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    write_xlsx(path, [list(r) for r in rows_of(SAMPLES / "user.csv")] * 20)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert_cannot_run(run("validate", path), str(path), "XLSX")


def test_csv_text_named_xlsx_is_read_by_content_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    shutil.copy(SAMPLES / "user.csv", path)
    result = run("validate", "--format", "json", path)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert brief(result) == [(None, None, "file-format", "warning")]
    assert "really CSV text" in problems(result)[0]["message"]
    assert report(result)["summary"]["rows"] == 3


def test_xlsx_named_csv_is_read_by_content_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    write_xlsx(path, [list(r) for r in rows_of(SAMPLES / "user.csv")])
    result = run("validate", "--format", "json", path)
    assert_no_traceback(result)
    assert result.exit_code == 0, result.output
    assert brief(result) == [(None, None, "file-format", "warning")]
    assert "really an XLSX workbook" in problems(result)[0]["message"]
    assert "rename it to .xlsx" in problems(result)[0]["message"]
    text = run("validate", path)
    assert text.exit_code == 0 and "file-format" in text.stdout


def test_xlsx_with_empty_first_sheet(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    write_xlsx(path, [])
    assert_cannot_run(run("validate", path), str(path), "row 1")


def test_random_bytes_named_xls(tmp_path: Path) -> None:
    path = tmp_path / "user.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0" + random.Random(4).randbytes(1024))
    assert_cannot_run(run("validate", path), str(path), "XLS")


@pytest.mark.parametrize(
    ("content", "needle"),
    [('{"number": "A1"}', "an object"), ("42", "a number"), ('"orders"', "a string"), ("null", "null")],
    ids=["object", "number", "string", "null"],
)
def test_json_that_is_not_an_array(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "order.json"
    path.write_text(content, encoding="utf-8")
    line = assert_cannot_run(run("validate", path), str(path), needle)
    assert "array of objects" in line


def test_json_syntax_error_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    shutil.copy(DATA / "order_item_syntax_error.json", path)
    assert_cannot_run(run("validate", path), str(path), "line 3", "column 19")


def test_json_array_holding_a_non_object(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    records = json.loads((SAMPLES / "order_item.json").read_text(encoding="utf-8"))
    path.write_text(json.dumps([records[0], ["ORD-1", 2]]), encoding="utf-8")
    assert_cannot_run(run("validate", path), str(path), "record 2", "an array")


def test_json_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_bytes('[{"product": "Şişli"}]'.encode("cp1254"))
    assert_cannot_run(run("validate", path), str(path), "UTF-8")


def test_json_nested_too_deeply(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    assert_cannot_run(run("validate", path), str(path))


def test_nonexistent_path(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    assert_cannot_run(run("validate", path), str(path), "no such file")


def test_nonexistent_path_next_to_a_good_one(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    assert_cannot_run(run("validate", SAMPLES / "order.csv", path), str(path), "no such file")


def test_unreadable_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The OS refuses to open the file (as it would for a mode-000 file when not root)."""
    path = tmp_path / "user.csv"
    shutil.copy(SAMPLES / "user.csv", path)
    real_open = builtins.open

    def denied(file: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(file, (str, os.PathLike)) and Path(file) == path:
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", denied)
    monkeypatch.setattr(io, "open", denied)
    assert_cannot_run(run("validate", path), str(path), "Permission denied")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read a mode-000 file")
def test_unreadable_path_by_permissions(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    shutil.copy(SAMPLES / "user.csv", path)
    path.chmod(0)
    try:
        assert_cannot_run(run("validate", path), str(path))
    finally:
        path.chmod(0o644)


def test_unsupported_extension(tmp_path: Path) -> None:
    path = tmp_path / "order.pdf"
    path.write_bytes(b"%PDF-1.4\n")
    line = assert_cannot_run(run("validate", path), str(path), "'.pdf'")
    assert ".csv" in line and ".xlsx" in line and ".json" in line


def test_no_extension(tmp_path: Path) -> None:
    path = tmp_path / "order"
    shutil.copy(SAMPLES / "order.csv", path)
    assert_cannot_run(run("validate", path), str(path), "extension")


def test_csv_row_with_more_cells_than_the_header_is_a_problem_at_its_row(order_csv: Path) -> None:
    """One unquoted delimiter is a row-width error at that row; every other row is still checked."""
    rows = rows_of(order_csv)
    rows[2].append("surplus")  # spreadsheet row 3
    rows[4][rows[0].index("amount")] = "12,50"  # a field problem after it still shows
    write_rows(order_csv, rows)
    result = run("validate", "--format", "json", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 1, result.output
    found = [p for p in problems(result) if p["rule"] == "row-width"]
    assert [(p["row"], p["field"], p["severity"]) for p in found] == [(3, None, "error")]
    assert found[0]["value"].startswith(",".join(rows[2][:3]))  # the raw cells, joined (long values are shortened)
    assert "17 cells but the header has 16 columns" in found[0]["message"]
    assert (5, "amount", "type", "error") in brief(result)
    text = run("validate", order_csv)
    assert text.exit_code == 1
    assert "row-width" in text.stdout and "row 3" in text.stdout


def test_csv_first_data_row_with_more_cells_than_the_header(order_csv: Path) -> None:
    rows = rows_of(order_csv)
    rows[1].append("surplus")  # spreadsheet row 2, the first data row
    write_rows(order_csv, rows)
    result = run("validate", "--format", "json", order_csv)
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert [(p["row"], p["rule"]) for p in problems(result) if p["severity"] == "error"] == [(2, "row-width")]


def test_csv_with_only_blank_header(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text(",,\nC1,a@b.co,x\n", encoding="utf-8")
    assert_cannot_run(run("validate", path), str(path), "row 1")


# --------------------------------------------------------------------------- columns and rows


def test_duplicate_header_column(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    # a second "email" column holding junk: only the first is checked
    write_rows(path, [[*r, "email" if i == 0 else "junk"] for i, r in enumerate(rows)])
    result = run("validate", "--format", "json", path)
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert brief(result) == [(1, "email", "duplicate-column", "error")]
    assert "more than once" in problems(result)[0]["message"]


def test_blank_row_is_one_problem_and_keeps_later_row_numbers(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    rows[3][rows[0].index("gender")] = "robot"  # C0003, spreadsheet row 4 before the blank line
    rows.insert(2, [])  # a blank line after the first data row -> row 3
    write_rows(path, rows)
    assert path.read_text(encoding="utf-8").splitlines()[2] == ""
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    assert brief(result) == [(3, None, "blank-row", "error"), (5, "gender", "pattern", "error")]
    assert report(result)["files"][0]["rows"] == 4


def test_blank_row_of_empty_cells(bundle: Path) -> None:
    path = bundle / "address.csv"
    rows = rows_of(path)
    rows.insert(3, [""] * len(rows[0]))  # ",,,,,," as row 4
    write_rows(path, rows)
    result = run("validate", "--format", "json", path)
    assert brief(result) == [(4, None, "blank-row", "error")]


def test_header_only_csv_is_a_no_rows_warning(bundle: Path) -> None:
    path = bundle / "order.csv"
    write_rows(path, rows_of(path)[:1])
    result = run("validate", "--format", "json", path)
    assert_no_traceback(result)
    assert result.exit_code == 0
    assert brief(result) == [(None, None, "no-rows", "warning")]
    assert report(result)["files"][0]["rows"] == 0


def test_empty_json_array_is_a_no_rows_warning(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    path.write_text("[]", encoding="utf-8")
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 0
    assert brief(result) == [(None, None, "no-rows", "warning")]


def test_missing_documented_column_is_one_problem(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    col = rows[0].index("email")
    write_rows(path, [r[:col] + r[col + 1 :] for r in rows])
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    # one problem for the column, not one "required" per row
    assert brief(result) == [(1, "email", "missing-column", "error")]
    assert '"email" is missing' in problems(result)[0]["message"]


def test_missing_optional_column_is_one_problem(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    col = rows[0].index("phone")
    write_rows(path, [r[:col] + r[col + 1 :] for r in rows])
    result = run("validate", "--format", "json", path)
    assert [(row, field, rule) for row, field, rule, _ in brief(result)] == [(1, "phone", "missing-column")]


def test_misspelt_column_gets_a_rename_hint(bundle: Path) -> None:
    path = bundle / "user.csv"
    rows = rows_of(path)
    rows[0][rows[0].index("email")] = "Email"
    write_rows(path, rows)
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    assert [(p["field"], p["rule"]) for p in problems(result)] == [
        ("email", "missing-column"),
        ("Email", "unknown-column"),
    ]
    assert 'rename it to "email"' in problems(result)[0]["message"]


def test_extra_column_is_an_unknown_column_warning(bundle: Path) -> None:
    path = bundle / "order.csv"
    rows = rows_of(path)
    write_rows(path, [[*r, "web" if i else "sales_channel"] for i, r in enumerate(rows)])
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 0
    assert brief(result) == [(1, "sales_channel", "unknown-column", "warning")]
    assert "not checked" in problems(result)[0]["message"]


def test_customer_code_in_an_address_file_is_an_alias_and_still_checked(tmp_path: Path) -> None:
    path = tmp_path / "address.csv"
    shutil.copy(DATA / "address_customer_code.csv", path)
    result = run("validate", "--format", "json", path)
    assert_no_traceback(result)
    assert result.exit_code == 1
    assert brief(result) == [(1, "user", "column-alias", "warning"), (3, "user", "required", "error")]
    alias = problems(result)[0]
    assert '"customer_code"' in alias["message"] and '"user"' in alias["message"]
    # no unknown-column for customer_code, no missing-column for user
    assert {p["rule"] for p in problems(result)} == {"column-alias", "required"}


def test_long_values_are_shortened_in_every_report(bundle: Path) -> None:
    path = bundle / "address.csv"
    edit_cell(path, 3, "first_name", "Ş" * 10_000)
    result = run("validate", "--format", "json", path)
    [problem] = problems(result)
    assert (problem["row"], problem["field"], problem["rule"]) == (3, "first_name", "max-length")
    assert len(problem["value"]) <= 100 and problem["value"].endswith("…")
    assert len(problem["message"]) < 300
    for fmt in ("text", "csv"):
        out = run("validate", "--format", fmt, path).stdout
        assert "Ş" * 200 not in out


# --------------------------------------------------------------------------- other file kinds


def test_xlsx_with_typed_cells_passes(tmp_path: Path) -> None:
    """Numbers, booleans, dates and date-times typed as Excel values read back as valid text."""
    rows: list[list[object]] = [list(r) for r in rows_of(SAMPLES / "user.csv")]
    header = rows[0]
    for r in rows[1:]:
        r[header.index("phone")] = int(r[header.index("phone")]) if r[header.index("phone")] else None
        for name in ("sms_allowed", "email_allowed"):
            r[header.index(name)] = r[header.index(name)].lower() in ("true", "1")
        dob = r[header.index("date_of_birth")]
        r[header.index("date_of_birth")] = dt.date.fromisoformat(dob) if dob else None
    rows[1][header.index("date_joined")] = dt.datetime(2021, 3, 14, 10, 22, 5)
    path = write_xlsx(tmp_path / "users.xlsx", rows)
    result = run("validate", "--format", "json", "--strict", path)
    assert result.exit_code == 0, result.output
    [entry] = report(result)["files"]
    assert (entry["type"], entry["rows"], entry["problems"]) == ("user", 3, [])


def test_xlsx_problems_carry_spreadsheet_rows(tmp_path: Path) -> None:
    rows: list[list[object]] = [list(r) for r in rows_of(SAMPLES / "user.csv")]
    rows[3][rows[0].index("email")] = "no-at-sign"
    path = write_xlsx(tmp_path / "users.xlsx", rows)
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    assert brief(result) == [(4, "email", "pattern", "error")]


def test_json_problems_carry_record_numbers(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    records = json.loads((SAMPLES / "order_item.json").read_text(encoding="utf-8"))
    records[1]["price"] = "200.00"  # a string, not a JSON number
    del records[3]["quantity"]
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    result = run("validate", "--format", "json", path)
    assert result.exit_code == 1
    assert brief(result) == [(2, "price", "type", "error"), (4, "quantity", "required", "error")]


def test_json_money_judged_by_its_literal_text(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    text = (SAMPLES / "order_item.json").read_text(encoding="utf-8")
    text = text.replace('"price": 149.90', '"price": 0.29').replace('"price": 29.99', '"price": 29.999')
    path.write_text(text, encoding="utf-8")
    result = run("validate", "--format", "json", path)
    assert brief(result) == [(5, "price", "decimal-places", "error")]
    assert problems(result)[0]["value"] == "29.999"


def test_json_empty_record_is_a_blank_row(tmp_path: Path) -> None:
    path = tmp_path / "order_item.json"
    records = json.loads((SAMPLES / "order_item.json").read_text(encoding="utf-8"))
    path.write_text(json.dumps([records[0], {}, records[1]]), encoding="utf-8")
    result = run("validate", "--format", "json", path)
    assert brief(result) == [(2, None, "blank-row", "error")]


# --------------------------------------------------------------------------- schemas


def test_schemas_lists_all_four_types() -> None:
    result = run("schemas")
    assert_no_traceback(result)
    assert result.exit_code == 0
    for name in UPLOAD_ORDER:
        assert f"{name}: " in result.stdout
    assert "customer_code" in result.stdout and "order_number" in result.stdout


def test_schemas_order_prints_its_fields() -> None:
    result = run("schemas", "order")
    assert result.exit_code == 0
    out = result.stdout
    assert out.lstrip().startswith("order: ")
    for name in table_rules("order").names:
        assert name in out, name
    for name in ("number", "user_email", "created_date", "amount", "currency", "shipping_company"):
        assert f"│ {name} " in out
    assert "at most 128 characters" in out  # order number length, the stricter reading
    assert "password_algorithm" not in out and "order_item:" not in out


def test_schemas_unknown_type() -> None:
    line = assert_cannot_run(run("schemas", "nope"), "'nope'")
    assert "user, address, order, order_item" in line


def test_no_arguments_shows_help() -> None:
    result = run()
    assert_no_traceback(result)
    assert "validate" in result.output and "schemas" in result.output


def test_sigterm_takes_the_ctrl_c_path_interrupted_exit_130(tmp_path: Path) -> None:
    """A run stopped with SIGTERM (kill, a CI runner, a container) cleans up like Ctrl-C: the command's
    own KeyboardInterrupt handling runs (partial files, spill files and workers go), one line, exit 130."""
    script = (
        "import os, signal, time\n"
        "import omnimig.api as api\n"
        "def stopped(*a, **k):\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(30)\n"
        "api.validate = stopped\n"
        "from omnimig.cli import app\n"
        "app()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "validate", "samples/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OMNIMIG_LANG": "en"},
    )
    assert done.returncode == 130, done.stderr
    assert "interrupted" in done.stderr and "Traceback" not in done.stderr
