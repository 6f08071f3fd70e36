"""Bundle validation: the cross-file rules of ``datapackage.json`` through ``omnimig validate``.

Unique keys, references, missing files (and ``--require-all``), consistency warnings and the
upload order printout. The valid ``samples/`` bundle is loaded once as text tables; each test
edits a copy and writes it in the format under test (CSV, XLSX written cell by cell with
xlsxwriter's ``write_string``, JSON with the value types its JSON Schema asks for), so one
planted problem can be checked in every format at an exactly known row.
"""

from __future__ import annotations

import copy
import csv
import functools
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from filetools import write_xlsx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

import omnimig.schemas.rules as rules
from omnimig.cli import app
from omnimig.schemas.rules import bundle_fields, default_choices, json_rules, migration_types, table_rules
from omnimig.validation.bundle import check_bundle
from omnimig.validation.run import collect_targets, validate_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "bundle"
FORMATS = ["csv", "xlsx", "json"]
SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json"}
UPLOAD_ORDER = ["user", "address", "order", "order_item"]


# --------------------------------------------------------------------------- bundle model


@dataclass
class Table:
    """One migration file as text: the header and one dict per data row."""

    columns: list[str]
    rows: list[dict[str, str]]

    def row(self, key: str, value: str) -> dict[str, str]:
        return next(r for r in self.rows if r[key] == value)


Bundle = dict[str, Table]


def _text(value: Any) -> str:
    """A JSON value as the text a CSV cell would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@functools.cache
def _samples() -> Bundle:
    tables: Bundle = {}
    for name in ("user", "address", "order"):
        with (SAMPLES / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            tables[name] = Table(list(reader.fieldnames or []), list(reader))
    # Number literals stay the text that was written (149.90, not 149.9).
    records = json.loads((SAMPLES / "order_item.json").read_text(encoding="utf-8"), parse_float=str, parse_int=str)
    columns = list(records[0])
    tables["order_item"] = Table(columns, [{c: _text(r.get(c)) for c in columns} for r in records])
    return tables


def samples() -> Bundle:
    """A fresh, editable copy of the valid samples bundle."""
    return copy.deepcopy(_samples())


def first_row(fmt: str) -> int:
    """Where the first data row is: spreadsheet row 2 (header = 1), JSON record 1."""
    return 1 if fmt == "json" else 2


def row_no(fmt: str, index: int) -> int:
    """The reported row of the data row at 0-based ``index``."""
    return first_row(fmt) + index


def _json_value(type_name: str, column: str, text: str) -> str:
    if text == "":
        return "null"
    kind = json_rules(type_name).field(column).kind
    if kind == "boolean":  # a table spells booleans many ways (1, True, …); JSON has two
        return "true" if text in table_rules(type_name).field(column).true_values else "false"
    if kind in ("number", "integer", "object"):
        return text  # the literal itself: 449.80 stays 449.80
    return json.dumps(text, ensure_ascii=False)


def write_table(path: Path, type_name: str, table: Table, fmt: str) -> Path:
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, table.columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(table.rows)
    elif fmt == "xlsx":
        write_xlsx(path, [list(table.columns), *([r.get(c, "") for c in table.columns] for r in table.rows)])
    else:
        records = [
            "{" + ", ".join(f"{json.dumps(c)}: {_json_value(type_name, c, r.get(c, ''))}" for c in table.columns) + "}"
            for r in table.rows
        ]
        path.write_text("[\n  " + ",\n  ".join(records) + "\n]\n", encoding="utf-8")
    return path


def write_bundle(folder: Path, tables: Bundle, fmt: str, names: dict[str, str] | None = None) -> dict[str, Path]:
    """Write every table of ``tables`` into ``folder`` as ``<type>.<fmt>`` (or ``names[type]``)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for type_name, table in tables.items():
        name = (names or {}).get(type_name, type_name) + SUFFIX[fmt]
        paths[type_name] = write_table(folder / name, type_name, table, fmt)
    return paths


# --------------------------------------------------------------------------- CLI helpers


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def checked(result: Result, code: int) -> Result:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (result.exit_code, result.output)
    return result


def report(result: Result) -> dict[str, Any]:
    return json.loads(result.stdout)


def problems(result: Result) -> list[dict[str, Any]]:
    return [p for f in report(result)["files"] for p in f["problems"]]


def where(result: Result) -> list[tuple[Any, ...]]:
    """(file, row, field, rule, severity) of every problem, in report order."""
    return [(p["file"], p["row"], p["field"], p["rule"], p["severity"]) for p in problems(result)]


def validate_json(*args: object, code: int) -> Result:
    return checked(run("validate", "--format", "json", *args), code)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in ``tmp_path`` so report paths (and messages) are short and relative: ``b/user.csv``."""
    monkeypatch.chdir(tmp_path)
    return Path(".")


B = Path("b")


def f(fmt: str, type_name: str, folder: Path = B) -> str:
    """The path of ``type_name``'s file as reports spell it."""
    return str(folder / f"{type_name}{SUFFIX[fmt]}")


# --------------------------------------------------------------------------- baseline


@pytest.mark.parametrize("fmt", FORMATS)
def test_samples_bundle_is_clean_in_every_format(here: Path, fmt: str) -> None:
    write_bundle(B, samples(), fmt)
    result = validate_json(B, code=0)
    assert where(result) == []
    assert [Path(x["path"]).name for x in report(result)["files"]] == [f"{t}{SUFFIX[fmt]}" for t in UPLOAD_ORDER]
    assert report(result)["bundle"]["notes"] == []
    assert report(result)["bundle"]["errors"] == []


# --------------------------------------------------------------------------- unique keys


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_customer_code_is_an_error_at_the_duplicate_naming_the_first(here: Path, fmt: str) -> None:
    tables = samples()
    extra = dict(tables["user"].rows[2], customer_code="C0001", email="someone.else@example.com")
    tables["user"].rows.append(extra)  # index 3
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=1)
    assert where(result) == [(f(fmt, "user"), row_no(fmt, 3), "customer_code", "unique", "error")]
    (p,) = problems(result)
    assert p["value"] == "C0001"
    assert p["message"] == (
        f'customer_code "C0001" is a duplicate; it first appears in row {row_no(fmt, 0)} of {f(fmt, "user")}'
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_email_differing_only_in_case_is_a_duplicate(here: Path, fmt: str) -> None:
    tables = samples()
    tables["user"].rows.append(dict(tables["user"].rows[1], customer_code="C0004", email="MEHMET.Ozturk@Example.COM"))
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=1)
    assert where(result) == [(f(fmt, "user"), row_no(fmt, 3), "email", "unique", "error")]
    (p,) = problems(result)
    assert p["value"] == "MEHMET.Ozturk@Example.COM"
    assert p["message"] == (
        'email "MEHMET.Ozturk@Example.COM" is a duplicate (ignoring case); '
        f"it first appears in row {row_no(fmt, 1)} of {f(fmt, 'user')}"
    )


def test_duplicate_in_text_output_names_the_row_and_file_of_the_first(here: Path) -> None:
    tables = samples()
    tables["user"].rows.append(dict(tables["user"].rows[2], customer_code="C0001", email="x@example.com"))
    write_bundle(B, tables, "csv")
    lines = [line.strip() for line in checked(run("validate", B), 1).stdout.splitlines()]
    assert "b/user.csv  (user, csv, 4 rows): 1 error, 0 warnings  errors" in lines
    assert "✗ error unique · customer_code — 1 problem" in lines
    assert 'row 5: customer_code "C0001" is a duplicate; it first appears in row 2 of b/user.csv' in lines


def test_every_duplicate_after_the_first_is_an_error_at_its_own_row(here: Path) -> None:
    tables = samples()
    users = tables["user"]
    users.rows.insert(1, dict(users.rows[0], customer_code="C0010", email="x1@example.com"))
    users.rows.append(dict(users.rows[0], customer_code="C0010", email="x2@example.com"))
    users.rows.append(dict(users.rows[0], customer_code="C0010", email="x3@example.com"))
    write_bundle(B, tables, "csv")
    result = validate_json(B, code=1)
    # C0010 first at row 3; its copies at rows 6 and 7. The email-mismatch of C0001's
    # addresses and orders does not apply: C0001 itself is unchanged.
    assert where(result) == [
        ("b/user.csv", 6, "customer_code", "unique", "error"),
        ("b/user.csv", 7, "customer_code", "unique", "error"),
    ]
    assert {p["message"] for p in problems(result)} == {
        'customer_code "C0010" is a duplicate; it first appears in row 3 of b/user.csv'
    }


def _two_order_files(tables: Bundle, names: tuple[str, str], fmt: str = "csv") -> tuple[Path, Path]:
    """Orders 1-2 in the first file; orders 3-4 plus a copy of order 1 in the second."""
    orders = tables.pop("order")
    first = Table(orders.columns, orders.rows[:2])
    second = Table(orders.columns, [*orders.rows[2:], dict(orders.rows[0])])
    return (
        write_table(B / f"{names[0]}{SUFFIX[fmt]}", "order", first, fmt),
        write_table(B / f"{names[1]}{SUFFIX[fmt]}", "order", second, fmt),
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_duplicate_order_number_across_two_order_files_in_one_folder(here: Path, fmt: str) -> None:
    tables = samples()
    B.mkdir()
    a, b = _two_order_files(tables, ("orders-2021", "orders-2022"), fmt)
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=1)
    files = report(result)["files"]
    assert [(x["path"], x["type"], x["rows"]) for x in files] == [
        (f(fmt, "user"), "user", 3),
        (f(fmt, "address"), "address", 4),
        (str(a), "order", 2),
        (str(b), "order", 3),
        (f(fmt, "order_item"), "order_item", 5),
    ]
    assert where(result) == [(str(b), row_no(fmt, 2), "number", "unique", "error")]
    assert problems(result)[0]["message"] == (
        f'number "ORD-2023-0001" is a duplicate; it first appears in row {row_no(fmt, 0)} of {a}'
    )


def test_duplicate_order_number_across_files_named_by_type_option(here: Path) -> None:
    B.mkdir()
    _two_order_files(samples(), ("export-2021", "export-2022"))
    result = validate_json("--type", "order", B, code=1)
    assert [x["path"] for x in report(result)["files"]] == ["b/export-2021.csv", "b/export-2022.csv"]
    assert where(result) == [("b/export-2022.csv", 4, "number", "unique", "error")]
    assert problems(result)[0]["message"] == (
        'number "ORD-2023-0001" is a duplicate; it first appears in row 2 of b/export-2021.csv'
    )
    # Without a user file, order.user is not checked, and that is said once for both files.
    assert report(result)["bundle"]["notes"] == [
        "order.user -> user.customer_code was not checked: the bundle has no user file"
    ]


def test_duplicate_within_a_second_file_of_one_type_names_that_file(here: Path) -> None:
    tables = samples()
    B.mkdir()
    orders = tables.pop("order")
    write_table(B / "orders-a.csv", "order", Table(orders.columns, orders.rows[:1]), "csv")
    write_table(B / "orders-b.csv", "order", Table(orders.columns, [*orders.rows[1:], dict(orders.rows[2])]), "csv")
    write_bundle(B, tables, "csv")
    result = validate_json(B, code=1)
    assert where(result) == [("b/orders-b.csv", 5, "number", "unique", "error")]
    assert problems(result)[0]["message"] == (
        'number "ORD-2023-0003" is a duplicate; it first appears in row 3 of b/orders-b.csv'
    )


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("fmt", FORMATS)
def test_dangling_references_are_errors_at_the_referring_rows(here: Path, fmt: str) -> None:
    tables = samples()
    tables["address"].rows[2]["user"] = "C9999"
    tables["order"].rows[1]["user"] = "C0404"
    # An item of ORD-2023-0001, which keeps another item: no consistency warning follows.
    tables["order_item"].rows[1]["order_number"] = "ORD-MISSING"
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=1)
    assert where(result) == [
        (f(fmt, "address"), row_no(fmt, 2), "user", "foreign-key", "error"),
        (f(fmt, "order"), row_no(fmt, 1), "user", "foreign-key", "error"),
        (f(fmt, "order_item"), row_no(fmt, 1), "order_number", "foreign-key", "error"),
    ]
    assert [(p["value"], p["message"]) for p in problems(result)] == [
        ("C9999", f'user "C9999" matches no user customer_code in {f(fmt, "user")}'),
        ("C0404", f'user "C0404" matches no user customer_code in {f(fmt, "user")}'),
        ("ORD-MISSING", f'order_number "ORD-MISSING" matches no order number in {f(fmt, "order")}'),
    ]


def test_reference_looked_for_in_every_file_of_the_type(here: Path) -> None:
    tables = samples()
    B.mkdir()
    _two_order_files(tables, ("orders-2021", "orders-2022"))
    tables["order_item"].rows[1]["order_number"] = "ORD-MISSING"
    write_bundle(B, tables, "csv")
    result = validate_json(B, code=1)
    assert ("b/order_item.csv", 3, "order_number", "foreign-key", "error") in where(result)
    (p,) = [p for p in problems(result) if p["rule"] == "foreign-key"]
    assert p["message"] == (
        'order_number "ORD-MISSING" matches no order number in b/orders-2021.csv or b/orders-2022.csv'
    )


def test_reference_into_a_second_file_of_the_parent_type_resolves(here: Path) -> None:
    tables = samples()
    B.mkdir()
    users = tables.pop("user")
    write_table(B / "users-1.csv", "user", Table(users.columns, users.rows[:1]), "csv")
    write_table(B / "users-2.csv", "user", Table(users.columns, users.rows[1:]), "csv")
    write_bundle(B, tables, "csv")
    assert where(validate_json(B, code=0)) == []


def test_empty_reference_is_a_required_error_not_a_foreign_key_error(here: Path) -> None:
    tables = samples()
    tables["order"].rows[3]["user"] = ""
    write_bundle(B, tables, "csv")
    result = validate_json(B, code=1)
    assert where(result) == [("b/order.csv", 5, "user", "required", "error")]


# --------------------------------------------------------------------------- absent files


NOTE = "order.user -> user.customer_code was not checked: the bundle has no user file"


def test_absent_user_file_is_one_note_and_exit_zero(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    order, items = B / "order.csv", B / "order_item.json"
    result = validate_json(order, items, code=0)
    assert where(result) == []
    assert report(result)["bundle"]["notes"] == [NOTE]
    assert report(result)["bundle"]["errors"] == []
    counts = {k: v for k, v in report(result)["summary"].items() if k != "types"}
    assert counts == {
        "errors": 0,
        "warnings": 0,
        "rows": 9,
    }
    text = checked(run("validate", order, items), 0).stdout
    assert text.count("was not checked") == 1
    assert f"note: {NOTE}" in text.splitlines()


def test_absent_files_with_require_all_are_errors(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    order, items = B / "order.csv", B / "order_item.json"
    result = validate_json("--require-all", order, items, code=1)
    doc = report(result)
    assert where(result) == []
    assert {k: v for k, v in doc["summary"].items() if k != "types"} == {"errors": 2, "warnings": 0, "rows": 9}
    assert doc["bundle"]["errors"] == [
        "the bundle has no user file; --require-all needs all of user, address, order, order_item",
        "the bundle has no address file; --require-all needs all of user, address, order, order_item",
    ]
    assert doc["bundle"]["notes"] == [NOTE]
    lines = checked(run("validate", "--require-all", order, items), 1).stdout.splitlines()
    assert "✗ error: the bundle has no user file; --require-all needs all of user, address, order, order_item" in lines
    assert "2 files, 9 rows: 2 errors, 0 warnings — fix the errors before uploading" in lines


def test_require_all_errors_are_reported_in_csv_output(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    result = checked(run("validate", "--format", "csv", "--require-all", B / "order.csv", B / "order_item.json"), 1)
    assert "the bundle has no user file" in result.stdout + result.stderr


def test_require_all_on_a_complete_bundle_passes(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    result = validate_json("--require-all", B, code=0)
    assert report(result)["bundle"]["errors"] == []
    assert report(result)["summary"]["errors"] == 0


def test_json_report_file_counts_require_all_errors(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    checked(run("validate", "--require-all", "--report", "r.json", B / "order.csv", B / "order_item.json"), 1)
    doc = json.loads(Path("r.json").read_text(encoding="utf-8"))
    assert doc["summary"]["errors"] == 2
    assert [e.split(";")[0] for e in doc["bundle"]["errors"]] == [
        "the bundle has no user file",
        "the bundle has no address file",
    ]


def test_absent_order_file_leaves_item_references_unchecked(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    result = validate_json(B / "user.csv", B / "order_item.json", code=0)
    assert report(result)["bundle"]["notes"] == [
        "order_item.order_number -> order.number was not checked: the bundle has no order file"
    ]


# --------------------------------------------------------------------------- consistency warnings


@pytest.mark.parametrize("fmt", FORMATS)
def test_order_user_email_differing_from_its_user_is_a_warning(here: Path, fmt: str) -> None:
    tables = samples()
    tables["order"].rows[2]["user_email"] = "mehmet@elsewhere.com"
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=0)
    assert where(result) == [(f(fmt, "order"), row_no(fmt, 2), "user_email", "email-mismatch", "warning")]
    assert problems(result)[0]["message"] == (
        "the order's user_email differs from its user's email: "
        f'"mehmet@elsewhere.com" here, "mehmet.ozturk@example.com" for user C0002 in {f(fmt, "user")}'
    )


def test_emails_equal_but_for_case_are_consistent(here: Path) -> None:
    tables = samples()
    tables["order"].rows[2]["user_email"] = "Mehmet.OZTURK@example.COM"
    tables["address"].rows[3]["email"] = "SULE.celik@EXAMPLE.com"
    write_bundle(B, tables, "csv")
    assert where(validate_json(B, code=0)) == []


def test_address_email_differing_from_its_user_is_a_warning(here: Path) -> None:
    tables = samples()
    tables["address"].rows[1]["email"] = "ayse@work.example.com"
    write_bundle(B, tables, "json")
    result = validate_json(B, code=0)
    assert where(result) == [("b/address.json", 2, "email", "email-mismatch", "warning")]
    assert problems(result)[0]["message"] == (
        "the address email differs from its user's email: "
        '"ayse@work.example.com" here, "ayse.yilmaz@example.com" for user C0001 in b/user.json'
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_order_without_items_is_a_warning(here: Path, fmt: str) -> None:
    tables = samples()
    del tables["order_item"].rows[4]  # the only item of ORD-2024-0004
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=0)
    assert where(result) == [(f(fmt, "order"), row_no(fmt, 3), "number", "order-without-items", "warning")]
    assert problems(result)[0]["message"] == (
        "the order has no items in the order_item file "
        f'(number "ORD-2024-0004" is not referred to by any row of {f(fmt, "order_item")})'
    )


def test_orders_are_not_said_to_lack_items_when_there_is_no_item_file(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    (B / "order_item.json").unlink()
    result = validate_json(B, code=0)
    assert where(result) == []


def _amount_message(amount: str, items: str, discount: str, expected: str) -> str:
    return (
        "the order amount is below the sum of its items' price x quantity minus its discount_amount: "
        f"amount {amount} < items {items} - discount {discount} = {expected}"
    )


@pytest.mark.parametrize(
    ("index", "amount", "warned"),
    [
        # ORD-2023-0002: one item 129.90 x 1, no discount.
        (1, "129.90", False),
        (1, "129.89", False),  # exactly 0.01 below: within the tolerance
        (1, "129.88", True),  # 0.02 below
        (1, "500.00", False),  # above the items is fine
        # ORD-2023-0001: 149.90 x 2 + 200.00 x 1 = 499.80, discount 50.00 -> 449.80.
        (0, "449.79", False),
        (0, "449.78", True),
    ],
)
def test_amount_below_items_minus_discount_by_more_than_a_cent(
    here: Path, index: int, amount: str, warned: bool
) -> None:
    tables = samples()
    tables["order"].rows[index]["amount"] = amount
    write_bundle(B, tables, "csv")
    result = validate_json(B, code=0)
    if not warned:
        assert where(result) == []
        return
    assert where(result) == [("b/order.csv", index + 2, "amount", "amount-below-items", "warning")]
    (p,) = problems(result)
    assert p["value"] == amount
    if index == 1:
        assert p["message"] == _amount_message(amount, "129.90", "0.00", "129.90")
    else:
        assert p["message"] == _amount_message(amount, "499.80", "50.00", "449.80")


@pytest.mark.parametrize("fmt", FORMATS)
def test_amount_tolerance_in_every_format(here: Path, fmt: str) -> None:
    tables = samples()
    tables["order"].rows[0]["amount"] = "449.79"  # 0.01 below: fine
    tables["order"].rows[1]["amount"] = "129.88"  # 0.02 below: warned
    tables["order"].rows[3]["discount_amount"] = "0.02"  # 89.99 >= 89.99 - 0.02: fine
    write_bundle(B, tables, fmt)
    result = validate_json(B, code=0)
    assert where(result) == [(f(fmt, "order"), row_no(fmt, 1), "amount", "amount-below-items", "warning")]
    assert problems(result)[0]["message"] == _amount_message("129.88", "129.90", "0.00", "129.90")


def test_consistency_problems_are_warnings_and_strict_makes_them_errors(here: Path) -> None:
    tables = samples()
    tables["order"].rows[1]["amount"] = "100.00"
    write_bundle(B, tables, "csv")
    assert [p["severity"] for p in problems(validate_json(B, code=0))] == ["warning"]
    assert [p["severity"] for p in problems(validate_json("--strict", B, code=1))] == ["error"]


# --------------------------------------------------------------------------- upload order


def _order_lines(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = lines.index("Upload order:")
    block = []
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        block.append(line.rstrip())
    return block


def test_upload_order_printout_for_a_folder(here: Path) -> None:
    tables = samples()
    tables["order"].rows[0]["currency"] = ""  # one error in order.csv
    tables["order"].rows[1]["currency"] = ""  # two
    write_bundle(B, tables, "csv")
    (B / "address.csv").unlink()
    stdout = checked(run("validate", B), 1).stdout
    assert _order_lines(stdout) == [
        "  1. user        b/user.csv  3 rows  ready",
        "  2. address     no file",
        "  3. order       b/order.csv  4 rows  2 errors",
        "  4. order_item  b/order_item.csv  5 rows  ready",
    ]
    # after the problems, before the summary line
    assert stdout.index("b/order_item.csv  (order_item") < stdout.index("Upload order:")
    assert stdout.index("Upload order:") < stdout.index("3 files, 12 rows")


def test_upload_order_lists_every_file_of_a_type(here: Path) -> None:
    tables = samples()
    B.mkdir()
    _two_order_files(tables, ("orders-2021", "orders-2022"))
    write_bundle(B, tables, "csv")
    lines = _order_lines(checked(run("validate", B), 1).stdout)
    assert lines == [
        "  1. user        b/user.csv  3 rows  ready",
        "  2. address     b/address.csv  4 rows  ready",
        "  3. order       b/orders-2021.csv  2 rows  ready",
        "                 b/orders-2022.csv  3 rows  1 error",
        "  4. order_item  b/order_item.csv  5 rows  ready",
    ]


def test_upload_order_in_json(here: Path) -> None:
    tables = samples()
    tables["order"].rows[0]["currency"] = ""
    del tables["address"]
    write_bundle(B, tables, "json")
    doc = report(validate_json(B, code=1))
    assert doc["bundle"]["upload_order"] == [
        {"type": "user", "files": [{"path": "b/user.json", "rows": 3, "errors": 0}], "rows": 3, "errors": 0,
         "ready": True},
        {"type": "address", "files": [], "rows": 0, "errors": 0, "ready": False},
        {"type": "order", "files": [{"path": "b/order.json", "rows": 4, "errors": 1}], "rows": 4, "errors": 1,
         "ready": False},
        {"type": "order_item", "files": [{"path": "b/order_item.json", "rows": 5, "errors": 0}], "rows": 5,
         "errors": 0, "ready": True},
    ]  # fmt: skip


def test_single_file_prints_no_upload_order(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    assert "Upload order:" not in checked(run("validate", B / "user.csv"), 0).stdout


# --------------------------------------------------------------------------- property: one dangling reference


def _foreign_keys() -> list[tuple[str, str, str, str]]:
    """(child type, child field, parent type, parent field) of every single-column foreign key."""
    out = []
    for mtype in migration_types():
        for fk in mtype.foreign_keys:
            assert len(fk["fields"]) == 1
            out.append((mtype.name, fk["fields"][0], fk["reference"]["resource"], fk["reference"]["fields"][0]))
    return out


def _validate_folder(folder: Path) -> list[Any]:
    targets, _ = collect_targets([folder], None)
    results = [validate_file(t, default_choices()) for t in targets]
    check_bundle(results)
    return [p for r in results for p in r.problems]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_planted_dangling_reference_gives_exactly_that_error(data: st.DataObject) -> None:
    fks = _foreign_keys()
    assert len(fks) == 3
    child, column, parent, key = data.draw(st.sampled_from(fks), label="foreign key")
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    tables = samples()
    index = data.draw(st.integers(0, len(tables[child].rows) - 1), label="row index")
    suffix = data.draw(st.text("ABCXYZ0123456789-_", min_size=0, max_size=12), label="suffix")
    value = "ZZ-" + suffix
    assert value not in {r[key] for r in tables[parent].rows}
    tables[child].rows[index][column] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "b"
        paths = write_bundle(folder, tables, fmt)
        found = _validate_folder(folder)
    errors = [p for p in found if p.severity == "error"]
    assert [(p.file, p.row, p.field, p.rule, p.value) for p in errors] == [
        (str(paths[child]), row_no(fmt, index), column, "foreign-key", value)
    ]
    assert errors[0].message == f'{column} "{value}" matches no {parent} {key} in {paths[parent]}'
    # The only warning a dangling item can cause: its order lost its only item.
    assert {p.rule for p in found if p.severity == "warning"} <= {"order-without-items"}


# --------------------------------------------------------------------------- the rules follow datapackage.json


@pytest.fixture
def package(tmp_path: Path) -> Iterator[Path]:
    """An editable copy of ``omnimig/schemas`` that every rule loader reads instead; caches reset after."""
    caches = [
        rules.migration_types,
        rules.bundle_fields,
        rules.table_rules,
        rules.json_rules,
        rules.default_choices,
    ]
    folder = tmp_path / "schemas"
    shutil.copytree(rules.schema_dir(), folder)
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(rules, "schema_dir", lambda: folder)
            for cache in caches:
                cache.cache_clear()
            yield folder / "datapackage.json"
    finally:
        for cache in caches:
            cache.cache_clear()


def edit_package(path: Path, edit: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    edit({r["name"]: r for r in doc["resources"]})
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    migration_types.cache_clear()
    bundle_fields.cache_clear()


def test_removing_a_foreign_key_from_datapackage_removes_the_check(here: Path, package: Path) -> None:
    tables = samples()
    tables["order"].rows[1]["user"] = "C0404"
    write_bundle(B, tables, "csv")
    assert where(validate_json(B, code=1)) == [("b/order.csv", 3, "user", "foreign-key", "error")]

    def drop_order_user(res: dict[str, Any]) -> None:
        res["order"]["foreignKeys"] = []
        # the email check goes through that key, so it goes too
        res["order"]["consistency"] = [c for c in res["order"]["consistency"] if c.get("via") != ["user"]]

    edit_package(package, drop_order_user)
    assert "user" not in bundle_fields("order")
    result = validate_json(B, code=0)
    assert where(result) == []
    assert report(result)["bundle"]["notes"] == []


def test_adding_a_unique_key_to_datapackage_adds_the_check(here: Path, package: Path) -> None:
    tables = samples()
    tables["order_item"].rows[1]["sku"] = "TS-001-W-M"  # the sku of item 1
    write_bundle(B, tables, "json")
    assert where(validate_json(B, code=0)) == []

    edit_package(package, lambda res: res["order_item"].setdefault("uniqueKeys", []).append({"fields": ["sku"]}))
    assert "sku" in bundle_fields("order_item")
    result = validate_json(B, code=1)
    assert where(result) == [("b/order_item.json", 2, "sku", "unique", "error")]
    assert problems(result)[0]["message"] == (
        'sku "TS-001-W-M" is a duplicate; it first appears in row 1 of b/order_item.json'
    )


def test_the_amount_tolerance_comes_from_datapackage(here: Path, package: Path) -> None:
    tables = samples()
    tables["order"].rows[1]["amount"] = "129.86"  # 0.04 below
    write_bundle(B, tables, "csv")
    assert where(validate_json(B, code=0)) == [("b/order.csv", 3, "amount", "amount-below-items", "warning")]

    def widen(res: dict[str, Any]) -> None:
        for check in res["order"]["consistency"]:
            if check["check"] == "covers-children":
                check["tolerance"] = "0.05"

    edit_package(package, widen)
    assert where(validate_json(B, code=0)) == []


def test_package_fixture_restores_the_shipped_rules() -> None:
    # Runs after the editing tests (file order): the shipped package is back in force.
    names = [t.name for t in migration_types()]
    assert names == UPLOAD_ORDER
    assert rules.migration_type("order").foreign_keys
    assert "sku" not in bundle_fields("order_item")
