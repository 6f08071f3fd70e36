"""Frictionless as the reference validator: our Table Schemas plus one custom check.

DESIGN.md makes Frictionless, given our schema files and a custom check we register, the
reference our engine must agree with. This module is that reference, for CSV files. It is a
test-time tool: frictionless is a test dependency and nothing on the ``omnimig validate`` path
imports this module.

What Frictionless does by itself, from ``<type>.table.json`` unchanged:

- types ``string``/``number``/``integer``/``boolean``/``object`` with ``trueValues``/``falseValues``;
- the constraints ``required``, ``maxLength``, ``pattern``, ``minimum``, ``enum``;
- blank rows, and a type error on a cell ending that cell's checks.

The header is matched to the fields by name (``fieldsMatch: "equal"`` is set on the loaded
schema, not in the file: our schema files describe columns, not their order), so a missing
field is a ``missing-label`` error and an extra column an ``extra-label``, which, like our
``unknown-column``, is only a warning.

What the custom check ``AkinonCheck`` adds, reading each cell's original text from
``row.cells`` (the row as the parser produced it, in header order, before any type casting;
``row.fields`` gives the field at each position, with our properties in ``field.custom``, and
``row.error_cells`` the cells Frictionless already found of the wrong type):

- the number syntax: Frictionless casts with ``Decimal()``/``int()``, which also take ``1e5``,
  ``NaN``, ``Infinity``, `` 12``, ``1_000``, ``.5`` or non-ASCII digits. Our types are plain
  decimal text (``NUMBER_TEXT``/``INTEGER_TEXT`` in ``rules.py``); anything else is a type error.
- ``decimalPlaces`` and ``maxDigits``, field-level properties Frictionless keeps in
  ``field.custom`` but does not interpret: digits after the point, and significant integer
  digits (leading zeros dropped) plus digits after the point.
- ``temporal``: a value of the right shape must be a real calendar day (``2023-02-30`` is not).
  Day validity is the proleptic Gregorian calendar, year 0000 included (a leap year).
- whole-cell patterns: Frictionless anchors a pattern as ``^…$`` and uses ``re.match``, where
  ``$`` also matches before a final newline, so ``5321234567\\n`` would pass ``^5[0-9]{9}$``.
  A pattern must match the whole cell.

A type error found by the check ends that cell's checks, as Frictionless' own type errors do:
``reference_findings`` drops any other error on a cell the check found of the wrong type.

The CSV dialect is given in full (delimiter, quote, no skipped initial space) as our reader
uses it; left to itself Frictionless sniffs it from a sample and may guess differently.

Duplicate column names: Frictionless refuses to match fields by name when a label repeats;
the reference then reports ``duplicate-column`` for each repeated label and checks no rows.
"""

from __future__ import annotations

import calendar
import csv
import json
import re
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import attrs
from frictionless import Check, Checklist, Dialect, FrictionlessException, Resource, Schema, errors
from frictionless.formats import CsvControl

from omnimig.schemas.rules import INTEGER_TEXT, NUMBER_TEXT, migration_type, schema_dir

#: Our rule code for each Frictionless constraint (including the ones the check adds).
CONSTRAINT_RULES = {
    "required": "required",
    "maxLength": "max-length",
    "minLength": "min-length",
    "pattern": "pattern",
    "minimum": "min-value",
    "enum": "enum",
    "decimalPlaces": "decimal-places",
    "maxDigits": "max-digits",
}

#: Our rule code for each Frictionless header or row error type.
ERROR_RULES = {
    "blank-row": "blank-row",
    "missing-label": "missing-column",
    "extra-label": "unknown-column",
    "duplicate-label": "duplicate-column",
    "extra-cell": "extra-cell",
    "missing-cell": "missing-cell",
}

#: Findings that are warnings in our rule set (everything else Frictionless reports is an error).
WARNING_RULES = frozenset({"unknown-column"})

_NUMBER = re.compile(NUMBER_TEXT)
_INTEGER = re.compile(INTEGER_TEXT)
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_CONSTRAINT_NOTE = re.compile(r'^constraint "([A-Za-z]+)"')


@dataclass(frozen=True)
class Finding:
    """One error or warning of the reference, in our vocabulary."""

    row: int | None
    field: str | None
    rule: str
    severity: str
    note: str = ""


def _digits(text: str) -> tuple[int, int]:
    """(significant integer digits, fraction digits) of plain decimal text."""
    whole, _, fraction = text.lstrip("+-").partition(".")
    return len(whole.lstrip("0")), len(fraction)


def _is_calendar_day(text: str) -> bool:
    match = _DAY.match(text)
    if match is None:
        return False
    year, month, day = (int(g) for g in match.groups())
    if not 1 <= month <= 12:
        return False
    days = [31, 29 if calendar.isleap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    return 1 <= day <= days


@attrs.define(kw_only=True, repr=False)
class AkinonCheck(Check):
    """The rules of our Table Schemas that Frictionless reads but does not enforce."""

    type: ClassVar[str] = "akinon-rules"
    Errors: ClassVar[list[type[errors.Error]]] = [errors.TypeError, errors.ConstraintError]

    def validate_row(self, row: Any) -> Iterable[errors.Error]:
        if any(e.type == "blank-row" for e in row.errors):
            return
        cells = row.cells
        already_bad = row.error_cells
        missing = self.resource.schema.missing_values
        for number, field in enumerate(row.fields, start=1):
            if number > len(cells) or field.name in already_bad:
                continue
            raw = cells[number - 1]
            if raw is None:
                continue
            text = str(raw)
            if text in missing:
                continue
            yield from self._cell(row, number, field, text)

    def _cell(self, row: Any, number: int, field: Any, text: str) -> Iterator[errors.Error]:
        def error(kind: type[errors.CellError], note: str) -> errors.Error:
            return kind(
                note=note,
                cells=[str(c) if c is not None else "" for c in row.cells],
                row_number=row.row_number,
                cell=text,
                field_name=field.name,
                field_number=number,
            )

        custom = field.custom
        if field.type in ("number", "integer"):
            syntax = _NUMBER if field.type == "number" else _INTEGER
            if not syntax.fullmatch(text):
                shape = (
                    "digits with an optional sign and point"
                    if field.type == "number"
                    else "digits with an optional sign"
                )
                yield error(errors.TypeError, f'type is "{field.type}/plain" ({shape}, nothing else)')
                return
            whole, fraction = _digits(text)
            places = custom.get("decimalPlaces")
            if places is not None and fraction > places:
                yield error(errors.ConstraintError, f'constraint "decimalPlaces" is "{places}"')
            most = custom.get("maxDigits")
            if most is not None and whole + fraction > most:
                yield error(errors.ConstraintError, f'constraint "maxDigits" is "{most}"')
            return
        if field.type != "string":
            return
        pattern = field.constraints.get("pattern")
        if pattern is not None and not re.fullmatch(pattern, text):
            if re.match(f"^{pattern}$", text):  # Frictionless let it pass; only the whole cell counts
                yield error(errors.ConstraintError, f'constraint "pattern" is "{pattern}"')
            return  # a value of the wrong shape is not judged as a date
        if custom.get("temporal") is not None and not _is_calendar_day(text[:10]):
            yield error(errors.TypeError, f'type is "string/{custom["temporal"]}" (not a calendar day)')


def table_schema(type_name: str) -> Schema:
    """Our ``<type>.table.json`` as a Frictionless schema, fields matched to columns by name."""
    path = schema_dir() / migration_type(type_name).table_schema
    schema = Schema.from_descriptor(json.loads(path.read_text(encoding="utf-8")))
    schema.fields_match = "equal"
    return schema


def _resource(csv_path: Path, delimiter: str, schema: Schema | None) -> Resource:
    path = csv_path.resolve()
    # basepath makes the path "safe" in Frictionless' terms (no absolute paths in descriptors).
    return Resource(
        path=path.name,
        basepath=str(path.parent),
        schema=schema,
        encoding="utf-8-sig",
        # Every reading option is set: Frictionless otherwise lets csv.Sniffer guess the ones left
        # open, and a sniffed skipinitialspace turns a cell " " before a quoted cell into "".
        dialect=Dialect(controls=[CsvControl(delimiter=delimiter, quote_char='"', skip_initial_space=False)]),
    )


def _duplicate_labels(csv_path: Path, delimiter: str) -> list[str]:
    """The labels the header repeats, as Frictionless reads the header.

    Frictionless reads a CSV file with Python's csv module and the dialect ``_resource`` sets, so
    a first row that csv reads as non-empty cells none of which repeats has no repeated label: that
    file skips opening a Frictionless resource for its labels (schema detection and metadata
    checks, about half the reference's time per file). Anything else (an unreadable or empty first
    row, a blank label or one with spaces around it, or a repeat) is still answered by Frictionless.
    """
    try:
        with csv_path.open(encoding="utf-8-sig", newline="") as handle:
            first = next(csv.reader(handle, delimiter=delimiter, quotechar='"', skipinitialspace=False), [])
        if first and all(c and c == c.strip() for c in first) and len(set(first)) == len(first):
            return []
    except (UnicodeDecodeError, csv.Error):
        pass
    try:
        with _resource(csv_path, delimiter, None) as resource:
            labels = list(resource.labels or [])
    except FrictionlessException:
        return []  # the validation run below reports why the file cannot be read
    seen: set[str] = set()
    duplicates = []
    for label in labels:
        if label in seen:
            duplicates.append(label)
        seen.add(label)
    return duplicates


def _finding(error: Any, schema: Schema) -> Finding:
    kind = error.type
    note = getattr(error, "note", "") or ""
    if kind in ("type-error", "constraint-error"):
        field = error.field_name
        if kind == "type-error":
            is_object = schema.has_field(field) and schema.get_field(field).type == "object"
            rule = "json-object" if is_object else "type"
        else:
            match = _CONSTRAINT_NOTE.match(note)
            rule = CONSTRAINT_RULES.get(match.group(1), "constraint") if match else "constraint"
        return Finding(error.row_number, field, rule, "error", note)
    if kind in ("missing-label", "extra-label", "duplicate-label"):
        field = error.field_name if kind == "missing-label" else error.label
        rule = ERROR_RULES[kind]
        row = error.row_numbers[0] if error.row_numbers else 1
        return Finding(row, field, rule, "warning" if rule in WARNING_RULES else "error", note)
    rule = ERROR_RULES.get(kind, kind)
    return Finding(getattr(error, "row_number", None), getattr(error, "field_name", None) or None, rule, "error", note)


def reference_findings(
    csv_path: Path, type_name: str, delimiter: str = ",", custom_check: bool = True
) -> list[Finding]:
    """Everything Frictionless, with our schema and ``AkinonCheck``, reports for one CSV file.

    ``custom_check=False`` runs Frictionless on our schema alone (to show what the check adds).
    """
    duplicates = _duplicate_labels(csv_path, delimiter)
    if duplicates:
        return sorted({Finding(1, label, "duplicate-column", "error") for label in duplicates}, key=_place)
    schema = table_schema(type_name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        checklist = Checklist(checks=[AkinonCheck()] if custom_check else [])
        report = _resource(csv_path, delimiter, schema).validate(checklist, limit_errors=10**9)
    found = [_finding(e, schema) for task in report.tasks for e in task.errors]
    found += [Finding(None, None, e.type, "error", e.note) for e in report.errors]
    # A cell of the wrong type gets no other error (Frictionless' rule for its own type errors).
    wrong_type = {(f.row, f.field) for f in found if f.rule in ("type", "json-object")}
    kept = (
        f for f in found if f.rule in ("type", "json-object") or f.field is None or (f.row, f.field) not in wrong_type
    )
    return sorted(kept, key=_place)


def _place(f: Finding) -> tuple[int, str, str]:
    return (f.row or 0, f.field or "", f.rule)


def reference_problems(
    csv_path: Path, type_name: str, delimiter: str = ",", custom_check: bool = True
) -> set[tuple[int | None, str | None, str]]:
    """The (row, field, rule) of every error the reference finds; ``row`` as in DESIGN.md (header = 1)."""
    found = reference_findings(csv_path, type_name, delimiter, custom_check)
    return {(f.row, f.field, f.rule) for f in found if f.severity == "error"}
