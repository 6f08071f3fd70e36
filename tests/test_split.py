"""``omnimig validate --split OUT``: ready rows to migrate today, held rows with the reasons.

A bundle with errors planted at known rows is split; the tests read ``OUT/ready`` and
``OUT/held`` back and check, per file, that ready + held = input, which rows went where and
why, that dependants of held rows are held and say so, and that the written files keep their
format, their values and their JSON types, and validate again.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_bundle import (
    FORMATS,
    SAMPLES,
    SUFFIX,
    Bundle,
    checked,
    problems,
    report,
    row_no,
    run,
    samples,
    write_bundle,
)

from omnimig.io.safe_text import neutralise_formula
from omnimig.schemas.rules import default_choices
from omnimig.validation.bundle import check_bundle
from omnimig.validation.run import collect_targets, validate_file
from omnimig.validation.split import split_bundle

TYPES = ["user", "address", "order", "order_item"]
B = Path("b")
OUT = Path("out")


# --------------------------------------------------------------------------- reading the output back


class Num(str):
    """The literal text of a JSON number (so 123.90 is told from 123.9 and from the string "123.90")."""

    __slots__ = ()


def read_rows(path: Path) -> tuple[list[str], list[dict[str, Any]]]:
    """Header and rows of a written file, values as the file holds them.

    CSV: text. XLSX: text (a non-text cell fails the test: every value is written as a string).
    JSON: ``Num`` for number literals, ``str`` for strings, other JSON types as parsed.
    """
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
        return rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path)
        sheet = book.worksheets[0]
        grid = []
        for line in sheet.iter_rows():
            for c in line:
                assert c.data_type in ("s", "n") and (c.value is None or isinstance(c.value, str)), (
                    c.coordinate,
                    c.data_type,
                    c.value,
                )
            grid.append(["" if c.value is None else c.value for c in line])
        header = grid[0]
        return header, [dict(zip(header, r, strict=True)) for r in grid[1:]]
    records = json.loads(path.read_text(encoding="utf-8"), parse_float=Num, parse_int=Num)
    keys: list[str] = []
    for r in records:
        keys.extend(k for k in r if k not in keys)
    return keys, records


def people(row: dict[str, Any]) -> dict[str, Any]:
    """A row as the held/ CSV holds it: formula-like cells neutralised."""
    return {k: neutralise_formula(v) for k, v in row.items()}


def out_file(kind: str, type_name: str, fmt: str) -> Path:
    return OUT / kind / f"{type_name}{SUFFIX[fmt]}"


# --------------------------------------------------------------------------- the planted bundle


def planted() -> Bundle:
    """The samples bundle with one error of each kind, and formula-like text, at known rows.

    user          #1 C0002 first_name empty                      -> held (own error)
    address       #1 user C0404 (dangling)                        -> held (own error)
                  #2 belongs to C0002                             -> held: user C0002 has errors
    order         #1 ORD-2023-0002 currency empty                 -> held (own error)
                  #2 ORD-2023-0003 of C0002                       -> held: user C0002 has errors
    order_item    #0 quantity 0                                    -> held (own error)
                  #2 of ORD-2023-0002                              -> held: order ORD-2023-0002 has errors
                  #3 of ORD-2023-0003 (held only through its user) -> held: order ORD-2023-0003 has errors
    Everything else is ready. Indices are 0-based data rows.
    """
    t = samples()
    t["user"].rows[1]["first_name"] = ""
    t["address"].rows[1]["user"] = "C0404"
    t["address"].rows[1]["line"] = "=SUM(A1:A2)"
    t["address"].rows[0]["line"] = "=1+2"
    t["address"].rows[0]["title"] = "@home"
    t["address"].rows[0]["district"] = "+CADDEBOSTAN"
    t["address"].rows[3]["company_name"] = '-=HYPERLINK("http://example.com")'
    t["order"].rows[1]["currency"] = ""
    t["order_item"].rows[0]["quantity"] = "0"
    t["order_item"].rows[1]["price"] = "123.90"
    return t


READY = {"user": [0, 2], "address": [0, 3], "order": [0, 3], "order_item": [1, 4]}


def held_reasons(fmt: str) -> dict[str, dict[int, str]]:
    user = f"b/user{SUFFIX[fmt]}"
    empty = "null" if fmt == "json" else "empty"  # the JSON bundle writes an empty cell as null
    return {
        "user": {1: f"[required] first_name is required but {empty}"},
        "address": {
            1: f'[foreign-key] user "C0404" matches no user customer_code in {user}',
            2: "held: user C0002 has errors",
        },
        "order": {1: f"[required] currency is required but {empty}", 2: "held: user C0002 has errors"},
        "order_item": {
            0: '[min-value] quantity "0" is below the minimum; it must be at least 1',
            2: "held: order ORD-2023-0002 has errors",
            3: "held: order ORD-2023-0003 has errors",
        },
    }


def split_planted(fmt: str, *extra: object) -> tuple[dict[str, Path], Any]:
    paths = write_bundle(B, planted(), fmt)
    result = checked(run("validate", "--split", OUT, *extra, B), 1)
    return paths, result


# --------------------------------------------------------------------------- counts


@pytest.mark.parametrize("fmt", FORMATS)
def test_split_prints_ready_plus_held_equals_input_per_file(here: Path, fmt: str) -> None:
    _, result = split_planted(fmt)
    s = SUFFIX[fmt]
    counts = {"user": (3, 2, 1), "address": (4, 2, 2), "order": (4, 2, 2), "order_item": (5, 2, 3)}
    expected = [
        f"split b/{t}{s}: {n} rows = {r} ready (out/ready/{t}{s}) + {h} held (out/held/{t}{s})"
        for t, (n, r, h) in counts.items()
    ]
    assert [line for line in result.stderr.splitlines() if line.startswith("split ")] == expected
    for t, (n, r, h) in counts.items():
        assert r + h == n
        assert len(read_rows(out_file("ready", t, fmt))[1]) == r
        assert len(read_rows(out_file("held", t, fmt))[1]) == h


# --------------------------------------------------------------------------- which rows, and why


@pytest.mark.parametrize("fmt", FORMATS)
def test_ready_and_held_hold_exactly_the_right_rows_with_reasons(here: Path, fmt: str) -> None:
    paths, _ = split_planted(fmt)
    reasons = held_reasons(fmt)
    for t in TYPES:
        columns, original = read_rows(paths[t])
        ready_columns, ready = read_rows(out_file("ready", t, fmt))
        held_columns, held = read_rows(out_file("held", t, fmt))
        if fmt != "json":
            assert ready_columns == columns
            assert held_columns == [*columns, "problems"]
        assert ready == [original[i] for i in READY[t]], t
        # ready/ is upload data, written as read; the held/ CSV, which people open, has its
        # formula-like cells neutralised (=SUM(A1:A2) -> '=SUM(A1:A2)).
        shown = people if fmt == "csv" else dict
        assert held == [shown({**original[i], "problems": why}) for i, why in sorted(reasons[t].items())], t


@pytest.mark.parametrize("fmt", FORMATS)
def test_ready_files_validate_without_errors(here: Path, fmt: str) -> None:
    split_planted(fmt)
    result = checked(run("validate", "--format", "json", "--require-all", OUT / "ready"), 0)
    assert problems(result) == []
    assert [f["rows"] for f in report(result)["files"]] == [2, 2, 2, 2]
    assert all(step["ready"] for step in report(result)["bundle"]["upload_order"])


def test_every_ready_reference_resolves_to_a_ready_row(here: Path) -> None:
    split_planted("csv")
    ready = {t: read_rows(out_file("ready", t, "csv"))[1] for t in TYPES}
    users = {r["customer_code"] for r in ready["user"]}
    orders = {r["number"] for r in ready["order"]}
    assert users and orders
    assert {r["user"] for r in ready["address"]} <= users
    assert {r["user"] for r in ready["order"]} <= users
    assert {r["order_number"] for r in ready["order_item"]} <= orders


@pytest.mark.parametrize("fmt", FORMATS)
def test_ready_and_held_together_report_the_original_errors(here: Path, fmt: str) -> None:
    split_planted(fmt)
    before = checked(run("validate", "--format", "json", B), 1)
    after = checked(run("validate", "--format", "json", OUT / "ready", OUT / "held"), 1)

    def errors(result: Any) -> list[tuple[Any, ...]]:
        return sorted(
            (p["type"], p["rule"], p["field"], p["value"]) for p in problems(result) if p["severity"] == "error"
        )

    assert errors(after) == errors(before)
    warnings = [(p["file"], p["rule"], p["field"]) for p in problems(after) if p["severity"] == "warning"]
    assert warnings == [(str(out_file("held", t, fmt)), "unknown-column", "problems") for t in TYPES]


def test_a_missing_required_column_holds_every_row_and_its_dependants(here: Path) -> None:
    tables = samples()
    tables["order"].columns.remove("currency")
    for r in tables["order"].rows:
        del r["currency"]
    write_bundle(B, tables, "csv")
    result = checked(run("validate", "--split", OUT, B), 1)
    assert "split b/order.csv: 4 rows = 0 ready + 4 held (out/held/order.csv)" in result.stderr
    assert "split b/order_item.csv: 5 rows = 0 ready" in result.stderr
    assert "split b/user.csv: 3 rows = 3 ready" in result.stderr
    assert "split b/address.csv: 4 rows = 4 ready" in result.stderr
    held_orders = read_rows(out_file("held", "order", "csv"))[1]
    assert [r["problems"] for r in held_orders] == ['[missing-column] required column "currency" is missing'] * 4
    held_items = read_rows(out_file("held", "order_item", "csv"))[1]
    assert [r["problems"] for r in held_items] == [
        f"held: order {n} has errors"
        for n in ["ORD-2023-0001"] * 2 + ["ORD-2023-0002", "ORD-2023-0003", "ORD-2024-0004"]
    ]
    assert not out_file("ready", "order", "csv").exists()  # no rows, no file


def test_ready_folder_validates_clean_even_when_a_file_had_a_missing_column(here: Path) -> None:
    tables = samples()
    tables["order"].columns.remove("currency")
    for r in tables["order"].rows:
        del r["currency"]
    write_bundle(B, tables, "csv")
    checked(run("validate", "--split", OUT, B), 1)
    ready = checked(run("validate", "--format", "json", OUT / "ready"), 0)
    assert {p["rule"] for p in problems(ready) if p["severity"] == "error"} == set()


def test_a_missing_required_json_key_holds_every_record(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    items = B / "order_item.json"
    records = json.loads(items.read_text(encoding="utf-8"), parse_float=Num, parse_int=Num)
    text = items.read_text(encoding="utf-8")
    for r in records:
        text = text.replace(f'"quantity": {r["quantity"]}, ', "", 1)
    items.write_text(text, encoding="utf-8")
    result = checked(run("validate", "--split", OUT, B), 1)
    assert "split b/order_item.json: 5 rows = 0 ready + 5 held" in result.stderr
    held = read_rows(out_file("held", "order_item", "json"))[1]
    assert len(held) == 5
    assert all('"quantity"' in r["problems"] and "quantity" not in r for r in held)
    assert not (OUT / "ready" / "order_item.json").exists()  # no rows, no file


def test_a_duplicate_is_held_and_the_first_keeps_its_dependants_ready(here: Path) -> None:
    tables = samples()
    tables["user"].rows.append(dict(tables["user"].rows[0], email="copy@example.com"))  # C0001 again
    write_bundle(B, tables, "csv")
    result = checked(run("validate", "--split", OUT, B), 1)
    assert "split b/user.csv: 4 rows = 3 ready (out/ready/user.csv) + 1 held (out/held/user.csv)" in result.stderr
    assert "split b/address.csv: 4 rows = 4 ready" in result.stderr
    assert "split b/order.csv: 4 rows = 4 ready" in result.stderr
    (held,) = read_rows(out_file("held", "user", "csv"))[1]
    assert held["problems"] == (
        '[unique] customer_code "C0001" is a duplicate; it first appears in row 2 of b/user.csv'
    )


def test_warnings_do_not_hold_rows(here: Path) -> None:
    tables = samples()
    tables["order"].rows[0]["user_email"] = "someone@else.com"  # email-mismatch warning
    tables["order"].rows[1]["amount"] = "1.00"  # amount-below-items warning
    write_bundle(B, tables, "csv")
    result = checked(run("validate", "--split", OUT, B), 0)
    for t, n in zip(TYPES, [3, 4, 4, 5], strict=True):
        assert f"split b/{t}.csv: {n} rows = {n} ready" in result.stderr


def test_two_inputs_with_one_name_do_not_overwrite_each_other(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    other = Path("c")
    other.mkdir()
    tables = samples()
    tables["user"].rows = [dict(tables["user"].rows[0], customer_code="C0100", email="new@example.com")]
    write_bundle(other, {"user": tables["user"]}, "csv")
    result = checked(run("validate", "--split", OUT, B / "user.csv", other / "user.csv"), 0)
    lines = [line for line in result.stderr.splitlines() if line.startswith("split ")]
    assert lines == [
        "split b/user.csv: 3 rows = 3 ready (out/ready/user.csv) + 0 held",
        "split c/user.csv: 1 rows = 1 ready (out/ready/user-2.csv) + 0 held",
    ]
    assert [r["customer_code"] for r in read_rows(OUT / "ready" / "user-2.csv")[1]] == ["C0100"]


def test_small_chunks_split_the_same_as_one_chunk(here: Path) -> None:
    write_bundle(B, planted(), "csv")
    checked(run("validate", "--split", OUT, B), 1)
    checked(run("validate", "--split", "small", "--chunk-rows", "2", B), 1)
    for kind in ("ready", "held"):
        for t in TYPES:
            assert (Path("small") / kind / f"{t}.csv").read_bytes() == out_file(kind, t, "csv").read_bytes()


# --------------------------------------------------------------------------- formats, values and types


ITEMS = """[
  {"order_number": "ORD-2023-0001", "sku": "TS-001-W-M", "quantity": 0, "price": 149.90, "extra_field": {}},
  {"order_number": "ORD-2023-0001", "sku": "0012345", "quantity": 1, "price": 123.90, "image_url": "",
   "extra_field": {"size": "32/32", "n": 1.50}, "product": "=1+2"},
  {"order_number": "ORD-2023-0002", "sku": "SC-003", "quantity": 1, "price": 129.90, "image_url": null},
  {"order_number": "ORD-2023-0003", "sku": "KM-1000", "quantity": 1, "price": 1250.00, "extra_field": null},
  {"order_number": "ORD-2024-0004", "sku": "00.10", "quantity": 3, "price": 29.99}
]
"""


def test_json_output_keeps_number_literals_and_types(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    (B / "order_item.json").write_text(ITEMS, encoding="utf-8")
    result = checked(run("validate", "--split", OUT, B), 1)
    assert "split b/order_item.json: 5 rows = 4 ready (out/ready/order_item.json) + 1 held" in result.stderr
    ready_text = (OUT / "ready" / "order_item.json").read_text(encoding="utf-8")
    assert '"price": 123.90' in ready_text
    assert '"price": 1250.00' in ready_text
    ready = read_rows(OUT / "ready" / "order_item.json")[1]
    assert ready == [
        {"order_number": "ORD-2023-0001", "sku": "0012345", "quantity": Num("1"), "price": Num("123.90"),
         "image_url": "", "extra_field": {"size": "32/32", "n": Num("1.50")}, "product": "=1+2"},
        {"order_number": "ORD-2023-0002", "sku": "SC-003", "quantity": Num("1"), "price": Num("129.90"),
         "image_url": None},
        {"order_number": "ORD-2023-0003", "sku": "KM-1000", "quantity": Num("1"), "price": Num("1250.00"),
         "extra_field": None},
        {"order_number": "ORD-2024-0004", "sku": "00.10", "quantity": Num("3"), "price": Num("29.99")},
    ]  # fmt: skip
    # Types, not only text: numbers stay numbers, strings that look like numbers stay strings,
    # keys a record left out stay out.
    for record, original in zip(ready, [r for i, r in enumerate(_items()) if i], strict=True):
        assert set(record) == set(original)
        for key, value in record.items():
            assert type(value) is type(original[key]), (key, value)
    (held,) = read_rows(OUT / "held" / "order_item.json")[1]
    assert held == {
        "order_number": "ORD-2023-0001", "sku": "TS-001-W-M", "quantity": Num("0"), "price": Num("149.90"),
        "extra_field": {}, "problems": '[min-value] quantity "0" is below the minimum; it must be at least 1',
    }  # fmt: skip
    assert '"price": 149.90' in (OUT / "held" / "order_item.json").read_text(encoding="utf-8")


def _items() -> list[dict[str, Any]]:
    return json.loads(ITEMS, parse_float=Num, parse_int=Num)


def test_json_output_re_reads_as_the_same_records(here: Path) -> None:
    shutil.copytree(SAMPLES, B)
    (B / "order_item.json").write_text(ITEMS, encoding="utf-8")
    checked(run("validate", "--split", OUT, B), 1)
    ready = read_rows(OUT / "ready" / "order_item.json")[1]
    held = read_rows(OUT / "held" / "order_item.json")[1]
    held_plain = [{k: v for k, v in r.items() if k != "problems"} for r in held]

    def canonical(records: list[dict[str, Any]]) -> list[str]:
        return sorted(json.dumps(r, sort_keys=True) for r in records)

    assert canonical(ready + held_plain) == canonical(_items())


def test_xlsx_input_is_written_as_xlsx_with_formula_text_kept_as_text(here: Path) -> None:
    paths, _ = split_planted("xlsx")
    assert sorted(p.name for p in (OUT / "ready").iterdir()) == sorted(f"{t}.xlsx" for t in TYPES)
    assert sorted(p.name for p in (OUT / "held").iterdir()) == sorted(f"{t}.xlsx" for t in TYPES)
    # read_rows fails on any cell that is not a string (a formula, a number)
    ready = read_rows(out_file("ready", "address", "xlsx"))[1]
    held = read_rows(out_file("held", "address", "xlsx"))[1]
    assert (ready[0]["line"], ready[0]["title"], ready[0]["district"]) == ("=1+2", "@home", "+CADDEBOSTAN")
    assert ready[1]["company_name"] == '-=HYPERLINK("http://example.com")'
    assert held[0]["line"] == "=SUM(A1:A2)"
    # and openpyxl agrees that no cell anywhere holds a formula
    for kind in ("ready", "held"):
        for t in TYPES:
            sheet = openpyxl.load_workbook(out_file(kind, t, "xlsx")).worksheets[0]
            assert not [c.coordinate for line in sheet.iter_rows() for c in line if c.data_type == "f"]
    assert paths["address"].suffix == ".xlsx"


def test_xls_input_is_written_as_xlsx(here: Path) -> None:
    xlwt = pytest.importorskip("xlwt")
    shutil.copytree(SAMPLES, B)
    (B / "user.csv").unlink()
    book = xlwt.Workbook()
    sheet = book.add_sheet("users")
    tables = samples()
    tables["user"].rows[2]["email"] = "not-an-email"
    users = [tables["user"].columns, *([r[c] for c in tables["user"].columns] for r in tables["user"].rows)]
    for r, row in enumerate(users):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(B / "user.xls"))
    result = checked(run("validate", "--split", OUT, B), 1)
    assert "split b/user.xls: 3 rows = 2 ready (out/ready/user.xlsx) + 1 held (out/held/user.xlsx)" in result.stderr
    assert [r["customer_code"] for r in read_rows(OUT / "ready" / "user.xlsx")[1]] == ["C0001", "C0002"]
    (held,) = read_rows(OUT / "held" / "user.xlsx")[1]
    assert held["email"] == "not-an-email"
    assert held["problems"].startswith("[pattern] ")


# --------------------------------------------------------------------------- re-splitting held files


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_re_splitting_a_held_file_keeps_one_problems_column(here: Path, fmt: str) -> None:
    split_planted(fmt)
    checked(run("validate", "--split", "again", OUT / "held"), 1)
    path = Path("again") / "held" / f"user{SUFFIX[fmt]}"
    if fmt == "csv":
        header = path.read_text(encoding="utf-8").splitlines()[0].split(",")
        assert header.count("problems") == 1, header
    else:
        pairs = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=lambda kv: kv)
        assert [k for k, _ in pairs[0]].count("problems") == 1, pairs[0]


# --------------------------------------------------------------------------- property: any planted errors


BREAK = {"user": "last_name", "address": "city", "order": "bank", "order_item": "quantity"}


def _expected_held(tables: Bundle, broken: dict[str, set[int]]) -> dict[str, set[int]]:
    """Broken rows, plus every row whose parent (through the foreign keys) is held."""
    held = {t: set(broken[t]) for t in TYPES}
    held_users = {tables["user"].rows[i]["customer_code"] for i in held["user"]}
    for t in ("address", "order"):
        held[t] |= {i for i, r in enumerate(tables[t].rows) if r["user"] in held_users}
    held_orders = {tables["order"].rows[i]["number"] for i in held["order"]}
    held["order_item"] |= {i for i, r in enumerate(tables["order_item"].rows) if r["order_number"] in held_orders}
    return held


def _validate(folder: Path) -> list[Any]:
    targets, _ = collect_targets([folder], None)
    results = [validate_file(t, default_choices()) for t in targets]
    check_bundle(results)
    return results


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_split_property_held_is_the_closure_of_broken_rows(data: st.DataObject) -> None:
    tables = samples()
    fmt = data.draw(st.sampled_from(FORMATS), label="format")
    broken = {
        t: data.draw(st.sets(st.integers(0, len(tables[t].rows) - 1), max_size=2), label=f"broken {t}") for t in TYPES
    }
    for t, rows in broken.items():
        for i in rows:
            tables[t].rows[i][BREAK[t]] = ""
    expected = _expected_held(tables, broken)
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "b", Path(tmp) / "out"
        paths = write_bundle(folder, tables, fmt)
        counts = split_bundle(_validate(folder), out)
        by_type = {Path(c.path).stem: c for c in counts}
        for t in TYPES:
            c = by_type[t]
            assert c.ready + c.held == c.rows == len(tables[t].rows)
            original = read_rows(paths[t])[1]
            ready = read_rows(Path(c.ready_path))[1] if c.ready else []
            held = read_rows(Path(c.held_path))[1] if c.held else []
            assert ready == [r for i, r in enumerate(original) if i not in expected[t]], t
            shown = people if fmt == "csv" else dict
            assert [{k: v for k, v in r.items() if k != "problems"} for r in held] == [
                shown(original[i]) for i in sorted(expected[t])
            ], t
            assert all(r["problems"] for r in held)
        ready_results = _validate(out / "ready")
        assert [p for r in ready_results for p in r.problems if p.severity == "error"] == []
        # a type whose rows are all held has no ready file
        assert [r.rows for r in ready_results] == [
            len(tables[t].rows) - len(expected[t]) for t in TYPES if len(tables[t].rows) > len(expected[t])
        ]


def test_row_numbers_in_held_reasons_follow_the_input(here: Path) -> None:
    # the unique message names the first row as the *input* numbers it, in every format
    for fmt in FORMATS:
        tables = samples()
        tables["order"].rows.append(dict(tables["order"].rows[3]))
        folder = Path(f"b-{fmt}")
        write_bundle(folder, tables, fmt)
        result = checked(run("validate", "--split", Path(f"out-{fmt}"), folder), 1)
        assert f"split {folder}/order{SUFFIX[fmt]}: 5 rows = 4 ready" in result.stderr
        (held,) = read_rows(Path(f"out-{fmt}") / "held" / f"order{SUFFIX[fmt]}")[1]
        assert held["problems"] == (
            f'[unique] number "ORD-2024-0004" is a duplicate; it first appears in row {row_no(fmt, 3)} '
            f"of {folder}/order{SUFFIX[fmt]}"
        )
