"""``--sheet`` and ``--header-row``: the person's choice of sheet and header row holds for every output."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from typer.testing import CliRunner, Result

from omnimig.cli import app

HEADER = ["customer_code", "first_name", "last_name", "email", "gender", "sms_allowed", "email_allowed", "phone",
          "date_of_birth", "date_joined", "password", "password_algorithm"]  # fmt: skip


def user(code: str, email: str) -> list[str]:
    return [code, "Ayşe", "Yılmaz", email, "female", "true", "false", "5321234567", "1990-01-01",
            "2021-01-01 10:00:00", "x", "md5"]  # fmt: skip


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def workbook(path: Path) -> Path:
    """Notes on the first sheet; on "Users" a title, a blank row, then the header on row 3 (and again on row 6)."""
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["customer_code", "email"])  # two documented names: a decoy the finder would take
    sheet = book.create_sheet("Users")
    sheet.append(["Customer list, 2024"])
    sheet.append([])
    sheet.append(HEADER)
    sheet.append(user("C1", "a@example.com"))
    sheet.append(user("C2", "not-an-email"))
    book.save(path)
    return path


def problems(result: Result) -> list[tuple[int | None, str | None, str]]:
    return [(p["row"], p["field"], p["rule"]) for f in json.loads(result.stdout)["files"] for p in f["problems"]]


def test_sheet_and_header_row_choose_what_is_read_and_rows_keep_the_sheet_numbers(tmp_path: Path) -> None:
    path = workbook(tmp_path / "user.xlsx")
    guessed = run("validate", path, "--format", "json")
    assert (1, "first_name", "missing-column") in problems(guessed)  # the decoy on the first sheet was read
    chosen = run("validate", path, "--format", "json", "--sheet", "Users", "--header-row", "3")
    assert chosen.exit_code == 1, chosen.output
    assert problems(chosen) == [(5, "email", "pattern")]
    by_number = run("validate", path, "--format", "json", "--sheet", "2", "--header-row", "3")
    assert problems(by_number) == problems(chosen)


def test_split_reads_the_chosen_sheet_again_and_writes_it_from_row_1(tmp_path: Path) -> None:
    path = workbook(tmp_path / "user.xlsx")
    out = tmp_path / "out"
    result = run("validate", path, "--sheet", "Users", "--header-row", "3", "--split", out)
    assert result.exit_code == 1, result.output
    ready = openpyxl.load_workbook(out / "ready" / "user.xlsx").active
    assert [[c.value for c in row] for row in ready.iter_rows()] == [HEADER, user("C1", "a@example.com")]
    held = openpyxl.load_workbook(out / "held" / "user.xlsx").active
    assert [c.value for c in next(held.iter_rows(min_row=2))][:4] == ["C2", "Ayşe", "Yılmaz", "not-an-email"]


def test_a_missing_column_is_reported_at_the_header_row_and_holds_every_row(tmp_path: Path) -> None:
    path = tmp_path / "user.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer list"])
    sheet.append(HEADER[:-2])
    sheet.append(user("C1", "a@example.com")[:-2])
    book.save(path)
    out = tmp_path / "out"
    result = run("validate", path, "--format", "json", "--split", out)
    assert (2, "password", "missing-column") in problems(result)
    assert "1 rows = 0 ready + 1 held" in result.stderr.replace("1 row ", "1 rows ")
    assert not (out / "ready").exists() or not any((out / "ready").iterdir())


def test_an_unknown_sheet_is_one_line_naming_the_sheets(tmp_path: Path) -> None:
    result = run("validate", workbook(tmp_path / "user.xlsx"), "--sheet", "Nope")
    assert result.exit_code == 2
    assert "no sheet 'Nope'; the sheets are 1: 'Notes', 2: 'Users'" in result.stderr
