"""The Table Schema and the JSON Schema of each type say the same thing.

(a) Both compile to the same ``FieldRule`` for every field, in the same order.
(b) Records generated from the JSON Schema file (hypothesis-jsonschema) are valid per
    ``jsonschema`` and pass our engine as a JSON file and, written out, as a CSV file.
(c) Rows generated from the Table Schema's rules (``rulegen``) pass our engine as CSV and,
    converted to typed JSON records, pass ``jsonschema`` and our engine as a JSON file.
"""

from __future__ import annotations

import copy
import json
import tempfile
from dataclasses import dataclass, fields
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import rulegen
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema
from jsonschema import Draft202012Validator
from rulegen import JsonLiteral

from omnimig.schemas.rules import (
    NUMBER_RE,
    SHARED_PROPERTIES,
    default_choices,
    json_rules,
    migration_type,
    schema_dir,
    table_rules,
    type_names,
)
from omnimig.validation.problem import Problem
from omnimig.validation.run import Target, validate_file

CHOICES = default_choices()

PROPERTY = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)


def json_schema(type_name: str) -> dict[str, Any]:
    return json.loads((schema_dir() / migration_type(type_name).json_schema).read_text(encoding="utf-8"))


@cache
def validator(type_name: str) -> Draft202012Validator:
    schema = json_schema(type_name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(type_name: str, json_text: str) -> list[str]:
    """jsonschema's verdict on every record of a JSON file's text (floats as json.loads reads them)."""
    return [
        f"record {i}: {e.json_path}: {e.message}"
        for i, record in enumerate(json.loads(json_text), start=1)
        for e in validator(type_name).iter_errors(record)
    ]


def engine_problems(directory: Path, type_name: str, fmt: str, rows: list[dict[str, Any]]) -> list[Problem]:
    """Our engine's problems on ``rows`` written as a CSV (text rows) or JSON (records) file."""
    path = directory / f"{type_name}.{fmt}"
    if fmt == "csv":
        rulegen.write_csv(path, table_rules(type_name).names, rows)
    else:
        path.write_text(rulegen.dump_json(rows), encoding="utf-8")
    return validate_file(Target(path, type_name), CHOICES).problems


def unexpected(problems: list[Problem]) -> list[tuple[Any, ...]]:
    """Everything but value-list warnings (generated values are rarely on the lists)."""
    return [(p.row, p.field, p.rule, p.severity, p.value) for p in problems if p.rule != "choices"]


def text_rows(type_name: str, records: list[dict[str, Any]]) -> list[dict[str, str]]:
    """JSON records as CSV rows: numbers as written, booleans true/false, null -> "", objects as JSON text."""
    return [{f.name: rulegen.json_to_text(r.get(f.name)) for f in table_rules(type_name).fields} for r in records]


# --------------------------------------------------------------------------------------------
# (a) field by field
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name", type_names())
def test_same_fields_in_same_order(type_name: str) -> None:
    assert table_rules(type_name).names == json_rules(type_name).names


@pytest.mark.parametrize(
    ("type_name", "field"),
    [pytest.param(t, f, id=f"{t}.{f}") for t in type_names() for f in table_rules(t).names],
)
def test_field_rules_agree(type_name: str, field: str) -> None:
    table, js = table_rules(type_name).field(field), json_rules(type_name).field(field)
    differ = {
        f.name: (getattr(table, f.name), getattr(js, f.name))
        for f in fields(table)
        if f.name not in ("true_values", "false_values", "description")
        and getattr(table, f.name) != getattr(js, f.name)
    }
    assert table.same_rule(js), f"table vs json: {differ}"


# --------------------------------------------------------------------------------------------
# (b) JSON Schema -> records -> jsonschema, engine on JSON, engine on CSV
# --------------------------------------------------------------------------------------------

#: Suffix of the helper property that carries a generated number's count of decimal places.
SCALE = "__decimal_places"


@dataclass(frozen=True)
class Generation:
    """A copy of a JSON Schema that hypothesis-jsonschema generates valid records from."""

    schema: dict[str, Any]
    places: dict[str, int]  # property -> most decimal places (numbers generated as scaled integers)
    minimum: dict[str, Decimal]  # numbers whose minimum is checked after scaling
    temporal: tuple[str, ...]  # strings that must also be calendar dates
    floats: tuple[str, ...]  # other numbers, kept only when they have plain decimal text


def generation_schema(schema: dict[str, Any]) -> Generation:
    """Rewrite a schema so that what hypothesis-jsonschema generates also respects our keywords.

    * ``maxDigits``/``decimalPlaces``: the number is generated as an integer within
      ``maxDigits`` digits plus a helper property with its decimal places; ``finish`` scales it
      (``Decimal(n).scaleb(-places)``) so the written text has exactly that many places.
    * ``temporal``: the pattern already fixes the shape; impossible days are dropped in ``finish``.
    * objects (``extra_field``): at most three keys of small scalar values.
    * no extra top-level keys (they would be unknown columns), and our other custom keywords
      are removed (they carry no constraint hypothesis-jsonschema could use).
    """
    out = copy.deepcopy(schema)
    out["additionalProperties"] = False
    props: dict[str, Any] = out["properties"]
    required: list[str] = out.setdefault("required", [])
    places: dict[str, int] = {}
    minimum: dict[str, Decimal] = {}
    temporal: list[str] = []
    floats: list[str] = []
    for name, spec in list(props.items()):
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        nullable = "null" in types
        if "temporal" in spec:
            temporal.append(name)
        if "maxDigits" in spec or "decimalPlaces" in spec:
            digits = int(spec.get("maxDigits", 15))
            places[name] = min(int(spec.get("decimalPlaces", 2)), digits)
            if "minimum" in spec:
                minimum[name] = Decimal(str(spec["minimum"]))
            props[name] = {
                "type": ["integer", "null"] if nullable else "integer",
                "minimum": -(10**digits - 1),
                "maximum": 10**digits - 1,
            }
            props[name + SCALE] = {"type": "integer", "minimum": 0, "maximum": places[name]}
            required.append(name + SCALE)
            continue
        for key in SHARED_PROPERTIES:
            spec.pop(key, None)
        if "number" in types:
            floats.append(name)
        if "object" in types:
            spec["maxProperties"] = 3
            spec["additionalProperties"] = {"type": ["string", "integer", "boolean", "null"], "maxLength": 8}
        if "string" in types and "maxLength" in spec and "pattern" not in spec:
            # The same set of values, with strings at the length limit drawn as often as short ones.
            at_limit = {**spec, "type": "string", "minLength": max(spec["maxLength"] - 1, 1)}
            props[name] = {"anyOf": [spec, at_limit]}
    return Generation(out, places, minimum, tuple(temporal), tuple(floats))


def finish(gen: Generation, record: dict[str, Any]) -> dict[str, Any]:
    """A generated record as the file will hold it (or rejected with ``assume``)."""
    record = dict(record)
    for name, _most in gen.places.items():
        places = record.pop(name + SCALE)
        if isinstance(record.get(name), int):
            value = Decimal(record[name]).scaleb(-places)
            assume(name not in gen.minimum or value >= gen.minimum[name])
            record[name] = JsonLiteral(format(value, "f"))
    for name in gen.floats:
        value = record.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            text = repr(value)
            assume(NUMBER_RE.fullmatch(text) is not None)
            record[name] = JsonLiteral(text)
    for name in gen.temporal:
        if isinstance(record.get(name), str):
            assume(rulegen.real_date(record[name]))
    return record


def _values(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one property schema.

    hypothesis-jsonschema 0.23.1 cannot generate objects with the installed Hypothesis
    (``cu.many(...).more()`` no longer exists: AttributeError), so objects are composed here:
    keys of the sizes the schema allows, values from its ``additionalProperties`` schema.
    Every scalar still comes from ``from_schema``. NUL is left out of text because a CSV
    holding NUL is refused as binary by design (io/read_csv.py).
    """
    types = spec.get("type", [])
    types = types if isinstance(types, list) else [types]
    if "object" not in types:
        return from_schema(spec, allow_x00=False)
    others = [t for t in types if t != "object"]
    objects = st.dictionaries(
        st.text(rulegen.TEXT_CHARS, max_size=6),
        from_schema(spec["additionalProperties"], allow_x00=False),
        max_size=spec["maxProperties"],
    )
    return objects | from_schema({**spec, "type": others}, allow_x00=False) if others else objects


def record_strategy(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Records of an object schema without additional properties: required keys always, others maybe."""
    assert schema["additionalProperties"] is False
    required = set(schema.get("required", []))
    parts = {
        name: _values(spec) if name in required else st.just(rulegen.ABSENT) | _values(spec)
        for name, spec in schema["properties"].items()
    }
    return st.fixed_dictionaries(parts).map(lambda r: {k: v for k, v in r.items() if v is not rulegen.ABSENT})


@cache
def json_schema_records(type_name: str) -> tuple[Generation, st.SearchStrategy[list[dict[str, Any]]]]:
    gen = generation_schema(json_schema(type_name))
    return gen, st.lists(record_strategy(gen.schema), min_size=1, max_size=4)


@pytest.mark.parametrize("type_name", type_names())
@PROPERTY
@given(data=st.data())
def test_records_from_json_schema_pass_both_kinds(type_name: str, data: st.DataObject) -> None:
    gen, strategy = json_schema_records(type_name)
    records = [finish(gen, r) for r in data.draw(strategy, label="records")]
    text = rulegen.dump_json(records)
    assert schema_errors(type_name, text) == []
    with tempfile.TemporaryDirectory() as tmp:
        as_json = engine_problems(Path(tmp), type_name, "json", records)
        as_csv = engine_problems(Path(tmp), type_name, "csv", text_rows(type_name, records))
    assert unexpected(as_json) == []
    assert unexpected(as_csv) == []


def test_generation_schema_keeps_every_property() -> None:
    for type_name in type_names():
        gen = generation_schema(json_schema(type_name))
        assert set(json_schema(type_name)["properties"]) <= set(gen.schema["properties"])
        Draft202012Validator.check_schema(gen.schema)


# --------------------------------------------------------------------------------------------
# (c) Table Schema rules -> CSV rows -> engine; -> typed JSON -> jsonschema, engine on JSON
# --------------------------------------------------------------------------------------------


@cache
def table_schema_rows(type_name: str) -> st.SearchStrategy[list[dict[str, str]]]:
    """Built once per type: hypothesis validates a strategy the first time it draws from it, and
    a row strategy is large (every field's rule), so a new one per example cost a third of the test."""
    return st.lists(rulegen.row_values(table_rules(type_name), "text", CHOICES), min_size=1, max_size=4)


@pytest.mark.parametrize("type_name", type_names())
@PROPERTY
@given(data=st.data())
def test_rows_from_table_schema_pass_both_kinds(type_name: str, data: st.DataObject) -> None:
    table = table_rules(type_name)
    rows = data.draw(table_schema_rows(type_name), label="rows")
    records = [{f.name: rulegen.text_to_json(f, row[f.name]) for f in table.fields} for row in rows]
    with tempfile.TemporaryDirectory() as tmp:
        as_csv = engine_problems(Path(tmp), type_name, "csv", rows)
        as_json = engine_problems(Path(tmp), type_name, "json", records)
    assert unexpected(as_csv) == []
    assert schema_errors(type_name, rulegen.dump_json(records)) == []
    assert unexpected(as_json) == []


# --------------------------------------------------------------------------------------------
# Empty strings: the engine reads "" in an optional string as empty; does the JSON Schema?
# --------------------------------------------------------------------------------------------


def _empty_string_params() -> list[Any]:
    params = []
    for t in type_names():
        for rule in json_rules(t).fields:
            if rule.kind == "string" and not rule.required:
                params.append(pytest.param(t, rule.name, id=f"{t}.{rule.name}"))
    return params


@pytest.mark.parametrize(("type_name", "field"), _empty_string_params())
def test_empty_string_in_optional_string_field_agrees(type_name: str, field: str, tmp_path: Path) -> None:
    records = rulegen.sample_json_records(table_rules(type_name))[:1]
    records[0][field] = ""
    engine_ok = unexpected(engine_problems(tmp_path, type_name, "json", records)) == []
    schema_ok = schema_errors(type_name, rulegen.dump_json(records)) == []
    assert (engine_ok, schema_ok) == (True, True)


def _sample_params() -> list[Any]:
    params = []
    for t in type_names():
        params.append(pytest.param(t, id=f"{t}-{rulegen.sample_file(t).name}"))
    return params


@pytest.mark.parametrize("type_name", _sample_params())
def test_committed_samples_are_valid_per_json_schema(type_name: str) -> None:
    """samples/ (JSON as committed, CSV converted to typed records) passes jsonschema too."""
    assert schema_errors(type_name, rulegen.dump_json(rulegen.sample_json_records(table_rules(type_name)))) == []
