"""Hostile JSON through the CLI: every defect is a problem at its record and field, or one line
naming the file (exit 2); never a traceback, and ``--split`` holds the record it concerns."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.io import read_json as rj

GOOD = {
    "number": "ORD-1",
    "user": "C01",
    "user_email": "ayse@example.com",
    "status": "550",
    "created_date": "2024-01-18",
    "amount": None,
    "discount_amount": None,
    "currency": "TRY",
    "payment_type": "credit_card",
    "bank": "Ziraat",
    "installment_count": None,
    "tracking_number": "665821153719",
    "shipping_company": "yurtici",
    "shipping_address": "Çiçek Sk. No: 9, Trabzon",
    "billing_address": "Çiçek Sk. No: 9, Trabzon",
    "extra_field": {},
}


def order(number: str, **raw: str) -> str:
    """One valid order record as JSON text; ``raw`` gives fields as JSON text written as is."""
    raw = {"amount": "12.50", **raw}
    record = {**GOOD, "number": number, **{k: f"__{k}__" for k in raw}}
    text = json.dumps(record, ensure_ascii=False)
    for key, literal in raw.items():
        text = text.replace(json.dumps(f"__{key}__"), literal)
    return text


def write(tmp_path: Path, *records: str, name: str = "order.json") -> Path:
    path = tmp_path / name
    path.write_text("[\n  " + ",\n  ".join(records) + "\n]\n", encoding="utf-8")
    return path


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result.exit_code, result.stdout, result.stderr


def problems(path: Path) -> list[dict[str, object]]:
    code, out, _ = run("validate", "--format", "json", path)
    assert code == 1, out
    return json.loads(out)["files"][0]["problems"]


def split(path: Path, tmp_path: Path) -> tuple[list[dict[str, object]], str]:
    """The records written to ready/ and the text of held/ (each JSON file must stay readable)."""
    out = tmp_path / "split"
    code, stdout, stderr = run("validate", "--split", out, path)
    assert code == 1, stdout + stderr
    ready = json.loads((out / "ready" / path.name).read_text(encoding="utf-8"))
    held = (out / "held" / path.name).read_text(encoding="utf-8")
    return ready, held


def test_the_base_record_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1"), order("ORD-2"))
    code, out, _ = run("validate", "--strict", path)
    assert code == 0, out


# --------------------------------------------------------------------------- NaN and Infinity


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("mode", [[], ["--format", "json"], ["--split", "SPLIT"]])
def test_nan_and_infinity_are_one_line_naming_line_and_column(tmp_path: Path, constant: str, mode: list[str]) -> None:
    path = write(tmp_path, order("ORD-1"), order("ORD-2", amount=constant))
    args = [str(tmp_path / "split") if a == "SPLIT" else a for a in mode]
    code, _, err = run("validate", *args, path)
    assert code == 2
    assert f"{path}: invalid JSON at line 3 column" in err
    assert f"{constant} is not a JSON number" in err


def test_nan_inside_a_string_is_text(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", bank='"NaN Infinity"'))
    code, out, _ = run("validate", "--strict", path)
    assert code == 0, out


# --------------------------------------------------------------------------- lone surrogates


def test_a_lone_surrogate_is_an_encoding_problem_at_its_record(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1"), order("ORD-2", bank='"Zir\\ud800aat"'))
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"], p["severity"]) for p in found] == [(2, "bank", "encoding", "error")]
    assert "\\ud800" in found[0]["value"]
    code, text, _ = run("validate", path)
    assert code == 1 and "surrogate" in text
    ready, held = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]
    assert "ORD-2" in held and "\ud800" not in held
    json.loads(held)


def test_lone_surrogates_in_keys_and_nested_values(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", extra_field='{"a": ["x\\udfff"], "k\\ud801": 1}'))
    found = problems(path)
    assert {(p["row"], p["field"], p["rule"]) for p in found} == {(1, "extra_field", "encoding")}


def test_a_surrogate_pair_is_one_character(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", bank='"Bank \\ud83d\\ude00"'))
    code, out, _ = run("validate", "--strict", path)
    assert code == 0, out


# --------------------------------------------------------------------------- nesting depth


@pytest.mark.parametrize("depth", [rj.MAX_DEPTH + 1, 400, 900])
def test_extra_field_nested_too_deep_is_a_problem_at_its_record(tmp_path: Path, depth: int) -> None:
    deep = '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)
    path = write(tmp_path, order("ORD-1"), order("ORD-2", extra_field=deep))
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"]) for p in found] == [(2, "extra_field", "json-object")]
    assert f"at most {rj.MAX_DEPTH} levels" in found[0]["message"]
    code, text, _ = run("validate", path)
    assert code == 1 and "levels" in text
    ready, held = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]
    assert held.count('{"a": ') == depth - 1  # the value is held whole, not cut


def test_extra_field_at_the_depth_limit_passes(tmp_path: Path) -> None:
    deep = '{"a": ' * (rj.MAX_DEPTH - 1) + "[1.50]" + "}" * (rj.MAX_DEPTH - 1)
    path = write(tmp_path, order("ORD-1", extra_field=deep))
    code, out, _ = run("validate", "--strict", path)
    assert code == 0, out


def test_a_whole_file_nested_50000_deep_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    code, _, err = run("validate", "--format", "json", path)
    assert code == 2 and "nested too deeply" in err


# --------------------------------------------------------------------------- repeated keys


def test_a_repeated_key_is_a_problem_with_every_value(tmp_path: Path) -> None:
    dup = order("ORD-2").replace('"currency": "TRY"', '"currency": "TRY", "currency": "EUR"')
    path = write(tmp_path, order("ORD-1"), dup)
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"], p["severity"]) for p in found] == [
        (2, "currency", "duplicate-key", "error")
    ]
    assert found[0]["value"] == '"TRY", "EUR"'
    code, text, _ = run("validate", path)
    assert code == 1 and "duplicate-key" in text
    ready, held = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]
    assert "ORD-2" in held


def test_a_repeated_key_inside_extra_field(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", extra_field='{"gift": true, "note": {"x": 1, "x": 2}}'))
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"], p["value"]) for p in found] == [
        (1, "extra_field", "duplicate-key", "1, 2")
    ]


@pytest.mark.parametrize("window", [64, 700, 1 << 20])
def test_repeated_keys_are_found_in_every_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    """Colons inside strings, escaped colons and nested numbers must not hide a repeat, nor invent one."""
    monkeypatch.setattr(rj, "WINDOW_BYTES", window)
    rows = []
    for i in range(60):
        text = f'{{"n": "N{i}", "t": "a:b\\u003a{i}", "x": {{"k": "{i}:{i}", "v": {i}.50}}}}'
        if i % 7 == 3:
            text = text.replace('"t":', '"t": "first", "t":')
        if i % 11 == 5:
            text = text.replace('"k":', '"k": 0, "k":')
        rows.append(text)
    path = tmp_path / "order.json"
    path.write_text("[\n" + ",\n".join(rows) + "\n]", encoding="utf-8")
    found = []
    texts = []
    for chunk in rj.read_json(path, chunk_rows=9).chunks:
        found += [(n.row, n.column, n.rule) for n in chunk.notices]
        texts += chunk.data["t"].tolist()
    want = [(i + 1, "t", "duplicate-key") for i in range(60) if i % 7 == 3]
    want += [(i + 1, "x", "duplicate-key") for i in range(60) if i % 11 == 5]
    assert sorted(found) == sorted(want)
    assert texts == [f"a:b:{i}" for i in range(60)]


# --------------------------------------------------------------------------- number literals


def test_an_exponent_literal_is_kept_and_judged_by_its_value(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", amount="1.5E2"), order("ORD-2", amount="1e-3"))
    source = rj.read_json(path)
    amounts = [a for c in source.chunks for a in c.data["amount"].tolist()]
    assert amounts == ["1.5E2", "1e-3"]
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"]) for p in found] == [(2, "amount", "decimal-places")]
    ready, _ = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]
    ready_text = (tmp_path / "split" / "ready" / "order.json").read_text(encoding="utf-8")
    assert '"amount": 1.5E2' in ready_text


@pytest.mark.parametrize(
    ("literal", "digits"), [("1" + "2" * 4999, "5,000"), ("1e-99999", "100,000"), ("0." + "0" * 5000 + "1", "5,002")]
)
def test_a_number_too_long_to_pass_on_is_a_problem(tmp_path: Path, literal: str, digits: str) -> None:
    path = write(tmp_path, order("ORD-1"), order("ORD-2", extra_field=f'{{"n": {literal}}}'))
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"]) for p in found] == [(2, "extra_field", "max-digits")]
    assert digits in found[0]["message"]
    ready, _ = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]


def test_a_5000_digit_amount_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", amount="9" * 5000))
    found = problems(path)
    assert ("max-digits", "amount") in {(p["rule"], p["field"]) for p in found}
    assert any("5,000 digits" in p["message"] for p in found)
    code, _, _ = run("validate", path)
    assert code == 1


def test_a_huge_exponent_costs_nothing(tmp_path: Path) -> None:
    path = write(tmp_path, order("ORD-1", amount="1e999999999"))
    code, out, _ = run("validate", "--format", "json", path)
    assert code == 1
    assert "max-digits" in out


# --------------------------------------------------------------------------- JSON Lines and wrappers


def test_json_lines_in_a_json_file_number_rows_by_line(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    bad = order("ORD-3", amount="12.345")
    path.write_text(order("ORD-1") + "\n\n" + order("ORD-2") + "\n   \n" + bad + "\n", encoding="utf-8")
    found = problems(path)
    assert [(p["row"], p["field"], p["rule"]) for p in found] == [(5, "amount", "decimal-places")]
    ready, held = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1", "ORD-2"]
    assert "ORD-3" in held


def test_jsonl_name_is_read_as_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "order.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + order("ORD-1").encode() + b"\r\n")
    code, out, _ = run("validate", "--strict", path)
    assert code == 0, out


@pytest.mark.parametrize(
    ("lines", "needle"),
    [
        (['{"n": 1}', '{"n": 2'], "line 2 column"),
        (['{"n": 1}', "[1, 2]"], "line 2 is an array"),
        (['{"n": 1}', '{"n": 2} {"n": 3}'], "line 2 holds more than one JSON value"),
        (['{"n": 1}', '{"n": NaN}'], "line 2 column 7: NaN"),
    ],
)
def test_a_bad_line_is_one_line_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lines: list[str], needle: str
) -> None:
    path = tmp_path / "order.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run("validate", path)
    assert code == 2 and needle in err, err


@pytest.mark.parametrize("window", [64, 1 << 20])
def test_lines_across_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int) -> None:
    monkeypatch.setattr(rj, "WINDOW_BYTES", window)
    lines = [f'{{"n": "N{i}", "amount": {i}.10}}' if i % 4 else "" for i in range(1, 80)]
    path = tmp_path / "order.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    rows, amounts = [], []
    for chunk in rj.read_json(path, chunk_rows=7).chunks:
        rows += chunk.rows.tolist()
        amounts += chunk.data["amount"].tolist()
    assert rows == [i for i in range(1, 80) if i % 4]
    assert amounts == [f"{i}.10" for i in range(1, 80) if i % 4]


@pytest.mark.parametrize(
    "wrapper",
    [
        '{"results": [RECORDS]}',
        '{\n  "count": 2, "next": null, "tags": [], "data": [\n RECORDS\n ],\n "meta": {"page": 1}}',
    ],
)
def test_a_wrapper_object_is_read_with_a_notice(tmp_path: Path, wrapper: str) -> None:
    path = tmp_path / "order.json"
    bad = order("ORD-2", amount="12.345")
    path.write_text(wrapper.replace("RECORDS", order("ORD-1") + ",\n" + bad), encoding="utf-8")
    found = problems(path)
    key = "results" if "results" in wrapper else "data"
    assert [(p["row"], p["field"], p["rule"], p["severity"]) for p in found] == [
        (None, None, "json-wrapper", "warning"),
        (2, "amount", "decimal-places", "error"),
    ]
    assert f'"{key}"' in found[0]["message"]
    ready, _ = split(path, tmp_path)
    assert [r["number"] for r in ready] == ["ORD-1"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('{"data": [{"n": 1}], "included": [{"x": 1}]}', '2 arrays of records ("data", "included")'),
        ('{"n": 1, "m": 2}', "the top level is an object"),
        ('{"a": [], "b": []}', "the top level is an object"),
        ('{"data": [{"n": 1}, 7]}', '"data" record 2 is a number'),
        ('{"data": [{"n": 1}]} x', "invalid JSON"),
    ],
)
def test_a_wrapper_that_is_not_one_array_of_records_is_refused(tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "order.json"
    path.write_text(content, encoding="utf-8")
    code, _, err = run("validate", "--format", "json", path)
    assert code == 2 and needle in err, err


# --------------------------------------------------------------------------- in a subprocess, bounded


def test_hostile_files_never_crash_the_interpreter(tmp_path: Path) -> None:
    """The interpreter itself survives (no RecursionError, no abort) and finishes within its bound."""
    import subprocess

    files = {
        "a_order.json": "[" + order("O1", extra_field='{"a": ' * 950 + "1" + "}" * 950) + "]",
        "b_order.json": "[" + order("O1", amount="1" * 20000) + "]",
        "c_order.json": "[" + order("O1", bank='"\\udc00"').replace('"currency"', '"currency": 1, "currency"') + "]",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    for fmt in ("text", "json"):
        proc = subprocess.run(
            [sys.executable, "-c", "from omnimig.cli import app; app()", "validate", "--type", "order",
             "--format", fmt, *sorted(str(p) for p in tmp_path.glob("*.json"))],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert proc.returncode in (1, 2), proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        assert re.search("json-object|nested", proc.stdout + proc.stderr)


def test_an_empty_wrapper_has_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text('{"count": 0, "results": []}', encoding="utf-8")
    code, out, _ = run("validate", "--format", "json", path)
    assert code == 0
    assert [p["rule"] for p in json.loads(out)["files"][0]["problems"]] == ["json-wrapper", "no-rows"]


def test_a_line_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_bytes(b'{"n": 1}\n\n{"n": "\xff"}\n')
    code, _, err = run("validate", path)
    assert code == 2 and "line 3: JSON must be UTF-8" in err, err
