"""The rules, as data, and the bottom layer that loads them: nothing here imports the rest of omnimig.

``<type>.table.json`` (Frictionless Table Schemas, for CSV/XLS/XLSX), ``<type>.schema.json``
(JSON Schemas, for JSON), ``datapackage.json`` (keys across files, upload order, file stems) and
``choices/`` (replaceable value lists) are package data; ``rules`` compiles them into the one
in-memory form every layer reads::

    >>> import omnimig
    >>> rules = omnimig.schemas.load("order")
    >>> rules.field("amount").max_digits, rules.field("amount").decimal_places
    (12, 2)
"""

from __future__ import annotations

from omnimig.exceptions import UsageError
from omnimig.schemas.rules import (
    ChoiceList,
    FieldRule,
    MigrationType,
    TypeRules,
    default_choices,
    load_choices,
    migration_type,
    migration_types,
    rules_for,
    schema_dir,
    type_names,
)

__all__ = [
    "ChoiceList",
    "FieldRule",
    "MigrationType",
    "TypeRules",
    "default_choices",
    "load",
    "load_choices",
    "migration_type",
    "migration_types",
    "rules_for",
    "schema_dir",
    "type_names",
]


def load(type_name: str, format: str = "csv") -> TypeRules:
    """The rules of one migration type as a file of ``format`` (csv, xlsx, xls: the Table Schema;
    json: the JSON Schema) is checked against them. An unknown type is a ``UsageError`` naming the known ones."""
    if type_name not in type_names():
        raise UsageError(f"unknown type {type_name!r}; use one of: {', '.join(type_names())}")
    return rules_for(type_name, format)
