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
from omnimig.i18n import _
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
    "type_named",
    "type_names",
]


def type_named(name: str) -> str:
    """The migration type a person means: its name, or a file stem of it in any case (``orders``,
    ``Order-Items``), as ``datapackage.json`` lists them. ``UsageError`` naming the types otherwise."""
    wanted = "_".join(name.strip().lower().replace("-", " ").split())
    for mtype in migration_types():
        if wanted == mtype.name or wanted in (stem.lower() for stem in mtype.stems):
            return mtype.name
    raise UsageError(
        _("unknown type {name}; use one of: {names}").format(name=repr(name), names=", ".join(type_names()))
    )


def load(type_name: str, format: str = "csv") -> TypeRules:
    """The rules of one migration type as a file of ``format`` (csv, xlsx, xls: the Table Schema;
    json: the JSON Schema) is checked against them; ``type_name`` as ``type_named`` reads it."""
    return rules_for(type_named(type_name), format)
