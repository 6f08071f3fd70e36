"""The validate engine never shows a traceback, counts every file it could not read, and writes
outputs that are safe to show: terminal escapes are printed visibly, CSV reports neutralise
formulas, reports are private (issue 12 "Never a traceback", "Outputs people open"; issue 13
"Everything that could not be read still counts").
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import omnimig.validation.run as engine
from omnimig.cli import app

BUNDLE = Path(__file__).resolve().parent / "data" / "bundle"
RUN_CLI = "from omnimig.cli import app; app()"


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    """--debug sets OMNIMIG_DEBUG in this process: monkeypatch puts the environment back."""
    monkeypatch.delenv("OMNIMIG_DEBUG", raising=False)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    shutil.copytree(BUNDLE, folder)
    return folder


def set_cell(path: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file; ``row`` is the spreadsheet row (header = 1)."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    rows[row - 1][rows[0].index(column)] = value
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("omnimig: error:")]


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


# --------------------------------------------------------------------------- never a traceback


def _crash_on(name: str, exc: BaseException, monkeypatch: pytest.MonkeyPatch) -> None:
    real = engine.validate_file

    def flaky(target: engine.Target, *args: object, **kwargs: object) -> object:
        if target.path.name == name:
            raise exc
        return real(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "validate_file", flaky)


def test_an_internal_error_in_one_file_is_one_line_and_the_others_are_still_reported(
    bundle: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crash_on("address.csv", RecursionError("maximum recursion depth exceeded"), monkeypatch)
    result = run("validate", "--format", "json", bundle)
    no_traceback(result)
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert str(bundle / "address.csv") in line
    assert "internal error while reading (RecursionError: maximum recursion depth exceeded)" in line
    assert "--debug" in line
    doc = json.loads(result.stdout)
    assert [f["type"] for f in doc["files"]] == ["user", "address", "order", "order_item"]
    address = doc["files"][1]
    assert [p["rule"] for p in address["problems"]] == ["unreadable"]
    assert all(f["rows"] > 0 for f in doc["files"] if f is not address)
    assert doc["summary"]["errors"] == 1


@pytest.mark.parametrize("how", [["--debug"], []])
def test_debug_lets_the_traceback_through(bundle: Path, monkeypatch: pytest.MonkeyPatch, how: list[str]) -> None:
    _crash_on("order.csv", ZeroDivisionError("boom"), monkeypatch)
    if not how:
        monkeypatch.setenv("OMNIMIG_DEBUG", "1")
    result = CliRunner().invoke(app, [*how, "validate", str(bundle)])
    assert isinstance(result.exception, ZeroDivisionError)


def test_debug_option_sets_the_variable_the_other_commands_read(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(app, ["--debug", "schemas", "user"])
    assert result.exit_code == 0
    assert os.environ.get("OMNIMIG_DEBUG") == "1"


def test_out_of_memory_in_one_file_is_a_clean_line(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _crash_on("user.csv", MemoryError(), monkeypatch)
    result = run("validate", bundle)
    no_traceback(result)
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "user.csv: ran out of memory while reading" in line


def test_ctrl_c_is_interrupted_and_exit_130(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _crash_on("order.csv", KeyboardInterrupt(), monkeypatch)
    result = run("validate", bundle)
    assert result.exit_code == 130
    assert "omnimig: interrupted" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_failing_report_writer_is_one_line(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import omnimig.validation.workbook as workbook

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("cannot place the comment")

    monkeypatch.setattr(workbook, "write_workbook", broken)
    result = run("validate", bundle, "--report", tmp_path / "r.xlsx")
    no_traceback(result)
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "r.xlsx: internal error while trying to write the report (ValueError: cannot place the comment)" in line


def test_a_failing_split_is_one_line(bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import omnimig.validation.split as split

    def broken(*args: object, **kwargs: object) -> None:
        raise KeyError("user")

    monkeypatch.setattr(split, "split_bundle", broken)
    result = run("validate", bundle, "--split", tmp_path / "out")
    no_traceback(result)
    assert result.exit_code == 2
    [line] = error_lines(result)
    assert "internal error while trying to write the split files (KeyError" in line


def test_a_bug_after_reading_is_one_line_in_a_real_process(bundle: Path) -> None:
    """The whole CLI in a subprocess: the bundle rules crash; one line, exit 2, no traceback."""
    code = (
        "import omnimig.validation.run as r\n"
        "def crash(*a, **k): raise IndexError('list index out of range')\n"
        "r.check_bundle = crash\n"
        f"{RUN_CLI}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMNIMIG_DEBUG"}
    proc = subprocess.run(
        [sys.executable, "-c", code, "validate", str(bundle)], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "internal error while trying to check the bundle (IndexError: list index out of range)" in proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", code, "--debug", "validate", str(bundle)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert "Traceback" in proc.stderr and "IndexError" in proc.stderr


# --------------------------------------------------------------------------- unreadable files count


@pytest.fixture
def broken_order(bundle: Path) -> Path:
    (bundle / "order.csv").write_bytes(b"\xff\xfe\x00garbage\x00\x00\x01")
    return bundle


def test_unreadable_file_in_json_csv_and_text(broken_order: Path) -> None:
    order = str(broken_order / "order.csv")
    result = run("validate", "--format", "json", broken_order)
    assert result.exit_code == 2
    [line] = error_lines(result)
    doc = json.loads(result.stdout)
    assert doc["summary"]["errors"] >= 1
    [entry] = [f for f in doc["files"] if f["path"] == order]
    assert (entry["rows"], entry["format"], entry["errors"]) == (0, "csv", 1)
    assert entry["problems"] == [
        {
            "file": order,
            "type": "order",
            "row": None,
            "field": None,
            "rule": "unreadable",
            "severity": "error",
            "value": None,
            "message": line.removeprefix("omnimig: error: "),
            "fixable": False,
        }
    ]

    result = run("validate", "--format", "csv", broken_order)
    assert result.exit_code == 2
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["rule"] for r in rows if r["file"] == order] == ["unreadable"]

    result = run("validate", broken_order)
    assert result.exit_code == 2
    out = result.stdout
    assert "unreadable" in out
    assert "4 files" in out and "1 error" in out
    order_line = [line for line in out.splitlines() if "order.csv" in line and "rows" not in line]
    assert any("unreadable" in line for line in order_line), out


def test_unreadable_file_in_every_report(broken_order: Path, tmp_path: Path) -> None:
    order = str(broken_order / "order.csv")
    for name in ("r.json", "r.csv", "r.xlsx"):
        result = run("validate", broken_order, "--report", tmp_path / name)
        assert result.exit_code == 2, result.output
    doc = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert doc["summary"]["errors"] >= 1
    assert any(f["path"] == order and f["problems"][0]["rule"] == "unreadable" for f in doc["files"])
    rows = list(csv.DictReader((tmp_path / "r.csv").open(encoding="utf-8")))
    assert any(r["file"] == order and r["rule"] == "unreadable" for r in rows)

    openpyxl = pytest.importorskip("openpyxl")
    ws = openpyxl.load_workbook(tmp_path / "r.xlsx")["Summary"]
    values = [[c for c in row if c is not None] for row in ws.iter_rows(values_only=True)]
    [file_row] = [v for v in values if v and v[0] == order and "could not be read; no sheet" in v]
    assert file_row[4] == 1  # errors column (rows 0 is column D)
    assert any(v[:4] == [order, "unreadable", "error", 1] for v in values if v)


# --------------------------------------------------------------------------- terminal escapes

ESC_VALUE = "\x1b[2J\x1b]0;pwned\x07\x9b31mTRY"


def test_escape_sequences_in_a_cell_are_printed_visibly(bundle: Path) -> None:
    set_cell(bundle / "order.csv", 3, "currency", ESC_VALUE)
    result = run("validate", bundle / "order.csv")
    assert result.exit_code == 1
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in result.output
    assert "\\x1b[2J\\x1b]0;pwned\\x07\\x9b31mTRY" in result.stdout


def test_escape_sequences_in_a_file_name_are_printed_visibly(tmp_path: Path) -> None:
    bad = tmp_path / "order\x1b[31m.csv"
    shutil.copy(BUNDLE / "order.csv", bad)
    set_cell(bad, 2, "amount", "1,5")
    result = run("validate", "--type", "order", bad)
    assert result.exit_code == 1
    assert "\x1b" not in result.output
    assert "order\\x1b[31m.csv" in result.stdout

    empty = tmp_path / "user\x1b]0;x\x07.csv"
    empty.write_bytes(b"")
    result = run("validate", "--type", "user", empty)
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\x07" not in result.output
    [line] = error_lines(result)
    assert "user\\x1b]0;x\\x07.csv" in line


# --------------------------------------------------------------------------- CSV injection, private reports

FORMULA = '=HYPERLINK("http://127.0.0.1/x","click")'


@pytest.fixture
def formula_bundle(bundle: Path) -> Path:
    set_cell(bundle / "order.csv", 2, "currency", FORMULA)
    set_cell(bundle / "order.csv", 3, "amount", "-5")  # a plain negative number stays as it is
    return bundle


def _check_neutralised(text: str) -> None:
    rows = list(csv.DictReader(io.StringIO(text)))
    values = {r["field"]: r["value"] for r in rows if r["file"].endswith("order.csv")}
    assert values["currency"] == "'" + FORMULA
    assert values["amount"] == "-5"
    for r in rows:
        for cell in r.values():
            assert not cell.startswith(("=", "+", "@")), r
    [note] = [r for r in rows if r["rule"] == "formula-neutralised"]
    assert note["severity"] == "warning" and note["file"] == ""
    assert note["message"].startswith("1 cell of this report")


def test_csv_output_and_report_neutralise_formulas(formula_bundle: Path, tmp_path: Path) -> None:
    result = run("validate", "--format", "csv", formula_bundle, "--report", tmp_path / "r.csv")
    assert result.exit_code == 1
    _check_neutralised(result.stdout)
    _check_neutralised((tmp_path / "r.csv").read_text(encoding="utf-8"))


def test_json_report_keeps_the_value_as_it_is(formula_bundle: Path) -> None:
    doc = json.loads(run("validate", "--format", "json", formula_bundle).stdout)
    assert FORMULA in [p["value"] for f in doc["files"] for p in f["problems"]]


def test_csv_without_formulas_has_no_note(bundle: Path) -> None:
    set_cell(bundle / "order.csv", 2, "currency", "TL")
    rows = list(csv.DictReader(io.StringIO(run("validate", "--format", "csv", bundle).stdout)))
    assert rows and all(r["rule"] != "formula-neutralised" for r in rows)


def test_xlsx_report_writes_a_formula_as_a_string_cell(formula_bundle: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.xlsx"
    assert run("validate", formula_bundle, "--report", out).exit_code == 1
    with zipfile.ZipFile(out) as z:
        sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        assert sheets
        for name in sheets:
            assert b"<f>" not in z.read(name) and b"<f " not in z.read(name)
        # constant-memory mode writes strings inline: the formula text is a string cell's text
        texts = b"".join(z.read(n) for n in z.namelist() if n.startswith(("xl/worksheets/", "xl/sharedStrings")))
        assert b"=HYPERLINK(&quot;http://127.0.0.1/x&quot;" in texts or b'=HYPERLINK("http://127.0.0.1/x"' in texts


@pytest.mark.parametrize("name", ["r.xlsx", "r.json", "r.csv"])
def test_reports_are_private(bundle: Path, tmp_path: Path, name: str) -> None:
    out = tmp_path / name
    out.write_text("old")
    os.chmod(out, 0o644)
    run("validate", bundle, "--report", out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    fresh = tmp_path / f"fresh-{name}"
    old = os.umask(0o022)
    try:
        run("validate", bundle, "--report", fresh)
    finally:
        os.umask(old)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600


def test_a_rule_skipped_for_an_unreadable_file_says_why(bundle: Path) -> None:
    (bundle / "user.csv").write_bytes(b"")
    doc = json.loads(run("validate", "--format", "json", "--require-all", bundle).stdout)
    notes = doc["bundle"]["notes"]
    assert any("order.user -> user.customer_code was not checked: the user file could not be read" in n for n in notes)
    assert not any("the bundle has no user file" in n for n in notes)
    assert doc["bundle"]["errors"] == []  # the file is there, it is unreadable (an error of its own)


@pytest.mark.parametrize("fmt", ["text", "json", "csv"])
def test_a_lone_surrogate_in_a_value_is_printed_as_its_escape(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from omnimig.validation.problem import Problem

    real = engine.validate_file

    def with_surrogate(target: engine.Target, *args: object, **kwargs: object) -> object:
        result = real(target, *args, **kwargs)  # type: ignore[arg-type]
        if target.path.name == "order.csv":
            message = 'currency "\ud800" is not valid'
            result.problems.append(
                Problem(str(target.path), "order", 2, "currency", "pattern", "error", "\ud800", message)
            )
        return result

    monkeypatch.setattr(engine, "validate_file", with_surrogate)
    report = tmp_path / ("r.csv" if fmt == "csv" else "r.json")
    result = run("validate", "--format", fmt, bundle / "order.csv", "--report", report)
    no_traceback(result)
    assert result.exit_code == 1, result.output
    assert "\\ud800" in result.stdout
    assert "\\ud800" in report.read_text(encoding="utf-8")
