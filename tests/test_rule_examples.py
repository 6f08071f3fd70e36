"""Every rule of every schema, in CSV and in JSON files, shown by examples derived from the schema files.

``rulegen`` derives, from each field's rule parameters, values that must pass and values that
must fail with one named rule. Each example is placed into its own row of a copy of the
committed sample (so every other cell of that row is valid), and the engine must report on
that row exactly the expected error (or none) and exactly the expected warnings, and nothing
in any other column. All examples of one field share one file (one row each), so the engine
runs once per field and format; every example is still its own test id.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import rulegen
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rulegen import ABSENT, Example, JsonLiteral

from omnimig.schemas.rules import TypeRules, default_choices, json_rules, table_rules, type_names
from omnimig.validation.problem import Problem
from omnimig.validation.run import Target, validate_file

CHOICES = default_choices()

#: file format -> (value form, the schema kind that judges it)
FORMATS: dict[str, tuple[rulegen.Form, Callable[[str], TypeRules]]] = {
    "csv": ("text", table_rules),
    "json": ("json", json_rules),
}


# --------------------------------------------------------------------------------------------
# Files built from the committed samples
# --------------------------------------------------------------------------------------------


def base_rows(fmt: str, type_name: str) -> list[dict[str, Any]]:
    table = table_rules(type_name)
    return rulegen.sample_text_rows(table) if fmt == "csv" else rulegen.sample_json_records(table)


def row_number(fmt: str, index: int) -> int:
    """Where a person finds data row ``index`` (0-based): header is row 1 in CSV; records count from 1 in JSON."""
    return index + 2 if fmt == "csv" else index + 1


def write_rows(directory: Path, fmt: str, type_name: str, field: str, values: list[Any]) -> Path:
    """One row per value: a copy of a sample row with ``field`` set to the value."""
    base = base_rows(fmt, type_name)
    rows = []
    for i, value in enumerate(values):
        row = dict(base[(i + 1) % len(base)])
        row[field] = value
        rows.append(row)
    path = directory / f"{type_name}.{fmt}"
    if fmt == "csv":
        rulegen.write_csv(path, [f.name for f in table_rules(type_name).fields], rows)
    else:
        path.write_text(rulegen.dump_json(rows), encoding="utf-8")
    return path


def validate(path: Path, type_name: str) -> list[Problem]:
    return validate_file(Target(path, type_name), CHOICES).problems


def describe(problems: list[Problem]) -> list[tuple[Any, ...]]:
    return [(p.row, p.field, p.rule, p.severity, p.value) for p in problems]


@dataclass
class Batch:
    rows: dict[str, int]  # example label -> row number
    problems: list[Problem]


def _example_params() -> Iterator[Any]:
    for fmt, (form, rules_of) in FORMATS.items():
        for type_name in type_names():
            for rule in rules_of(type_name).fields:
                for example in rulegen.examples(rule, form, CHOICES):
                    yield pytest.param(
                        fmt,
                        type_name,
                        rule.name,
                        example,
                        id=f"{fmt}-{type_name}.{rule.name}-{example.label}",
                    )


def _field_params() -> Iterator[Any]:
    for fmt in FORMATS:
        for type_name in type_names():
            for field in table_rules(type_name).names:
                yield pytest.param(fmt, type_name, field, id=f"{fmt}-{type_name}.{field}")


EXAMPLES = list(_example_params())
FIELDS = list(_field_params())


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str, str], Batch]:
    """All examples of one field in one file, validated once."""
    cache: dict[tuple[str, str, str], Batch] = {}

    def run(fmt: str, type_name: str, field: str) -> Batch:
        key = (fmt, type_name, field)
        if key not in cache:
            form, rules_of = FORMATS[fmt]
            examples = rulegen.examples(rules_of(type_name).field(field), form, CHOICES)
            path = write_rows(
                tmp_path_factory.mktemp(f"{fmt}-{type_name}-{field}"),
                fmt,
                type_name,
                field,
                [e.value for e in examples],
            )
            rows = {e.label: row_number(fmt, i) for i, e in enumerate(examples)}
            cache[key] = Batch(rows, validate(path, type_name))
        return cache[key]

    return run


# --------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("type_name", type_names())
def test_base_rows_are_valid(fmt: str, type_name: str, tmp_path: Path) -> None:
    """The committed sample, in either format, is the clean background the examples rely on."""
    rows = base_rows(fmt, type_name)
    path = tmp_path / f"{type_name}.{fmt}"
    if fmt == "csv":
        rulegen.write_csv(path, table_rules(type_name).names, rows)
    else:
        path.write_text(rulegen.dump_json(rows), encoding="utf-8")
    assert describe(validate(path, type_name)) == []


@pytest.mark.parametrize(("fmt", "type_name", "field"), FIELDS)
def test_every_rule_has_examples(fmt: str, type_name: str, field: str) -> None:
    """Each rule a field's parameters imply has a failing example, and the field has passing ones."""
    form, rules_of = FORMATS[fmt]
    rule = rules_of(type_name).field(field)
    examples = rulegen.examples(rule, form, CHOICES)
    assert any(e.passes and not e.warnings for e in examples)
    shown = {r for e in examples for r in e.accepted_rules}
    assert rulegen.rule_codes(rule) <= shown
    if rule.choices is not None:
        assert any(e.warnings == ("choices",) for e in examples)
    if not rule.required and form == "json":
        assert {e.label for e in examples if e.passes} >= {"pass-null=null", "pass-absent"}


@pytest.mark.parametrize(("fmt", "type_name", "field"), FIELDS)
def test_examples_leave_other_rows_and_columns_alone(fmt: str, type_name: str, field: str, batch: Any) -> None:
    result = batch(fmt, type_name, field)
    stray = [p for p in result.problems if p.field != field or p.row not in result.rows.values()]
    assert describe(stray) == []


@pytest.mark.parametrize(("fmt", "type_name", "field", "example"), EXAMPLES)
def test_example(fmt: str, type_name: str, field: str, example: Example, batch: Any) -> None:
    result = batch(fmt, type_name, field)
    row = result.rows[example.label]
    here = [p for p in result.problems if p.row == row]
    assert all(p.field == field for p in here), describe(here)
    errors = [p.rule for p in here if p.severity == "error"]
    warnings = sorted(p.rule for p in here if p.severity == "warning")
    if example.passes:
        assert errors == [], describe(here)
    else:
        assert len(errors) == 1, describe(here)
        assert errors[0] in example.accepted_rules, describe(here)
    assert warnings == sorted(example.warnings), describe(here)


@pytest.mark.parametrize(("fmt", "type_name", "field"), FIELDS)
@settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data())
def test_generated_passing_values(fmt: str, type_name: str, field: str, data: st.DataObject) -> None:
    """Values drawn from the rule's parameters (patterns via from_regex) raise no error."""
    form, rules_of = FORMATS[fmt]
    rule = rules_of(type_name).field(field)
    values = data.draw(st.lists(rulegen.passing_values(rule, form, CHOICES), min_size=1, max_size=8), label="values")
    with tempfile.TemporaryDirectory() as tmp:
        problems = validate(write_rows(Path(tmp), fmt, type_name, field, values), type_name)
    unexpected = [p for p in problems if p.severity == "error" or p.rule != "choices" or p.field != field]
    assert describe(unexpected) == []


# --------------------------------------------------------------------------------------------
# The JSON cases the brief names, pinned by value (each is also derived above)
# --------------------------------------------------------------------------------------------


def _first(kind: str, attr: str | None = None) -> tuple[str, str]:
    """The first (type, field) whose rule has ``kind`` (and the parameter ``attr``)."""
    for type_name in type_names():
        for rule in json_rules(type_name).fields:
            if rule.kind == kind and (attr is None or getattr(rule, attr) is not None):
                return type_name, rule.name
    pytest.skip(f"no {kind} field with {attr}")


NAMED_JSON_CASES = [
    pytest.param("number", "decimal_places", JsonLiteral("0.29"), None, id="0.29-has-two-places"),
    pytest.param("number", "decimal_places", JsonLiteral("0.295"), "decimal-places", id="0.295-has-three-places"),
    pytest.param("number", None, "12.5", "type", id="number-as-string"),
    pytest.param("boolean", None, "true", "type", id="boolean-as-string"),
    pytest.param("object", None, "{}", "json-object", id="object-as-string"),
    pytest.param("object", None, [], "json-object", id="array-for-object"),
]


@pytest.mark.parametrize(("kind", "attr", "value", "expected"), NAMED_JSON_CASES)
def test_named_json_cases(kind: str, attr: str | None, value: Any, expected: str | None, tmp_path: Path) -> None:
    type_name, field = _first(kind, attr)
    path = write_rows(tmp_path, "json", type_name, field, [value])
    text = path.read_text(encoding="utf-8")
    assert json.dumps(field) + ": " + (str(value) if isinstance(value, JsonLiteral) else json.dumps(value)) in text
    errors = [p.rule for p in validate(path, type_name) if p.severity == "error"]
    assert errors == ([] if expected is None else [expected])


def test_absent_marker_is_not_written() -> None:
    assert rulegen.dump_json([{"a": ABSENT, "b": JsonLiteral("1.10")}]) == '[\n{"b": 1.10}\n]\n'
