"""The rules of a migration type in words, for ``omnimig schemas``: read from the schema files."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from omnimig.schemas.rules import ChoiceList, FieldRule, TypeRules, migration_type

TEMPORAL_WORDS = {"date": "date", "datetime": "date-time", "date-or-datetime": "date or date-time"}
TYPE_WORDS = {
    "string": "text",
    "number": "decimal",
    "integer": "whole number",
    "boolean": "true/false",
    "object": "JSON object",
}


def rule_words(f: FieldRule, choices: dict[str, ChoiceList]) -> list[str]:
    words: list[str] = []
    if f.max_length is not None:
        words.append(f"at most {f.max_length} characters")
    if f.max_digits is not None:
        words.append(f"at most {f.max_digits} digits")
    if f.decimal_places is not None:
        words.append(f"at most {f.decimal_places} decimal places")
    if f.minimum is not None:
        words.append(f"at least {f.minimum}")
    if f.enum:
        words.append("one of " + ", ".join(f.enum))
    if f.hint:
        words.append(f.hint)
    elif f.pattern:
        words.append(f"matches {f.pattern}")
    if f.kind == "boolean":
        words.append("CSV/XLSX: true/false (any case) or 1/0; JSON: true/false")
    if f.kind == "object":
        words.append("CSV/XLSX: JSON object text, empty means {}; JSON: an object")
    if f.kind in ("number", "integer"):
        words.append("JSON: a number, not a string")
    if f.choices:
        known = choices.get(f.choices)
        count = f"{len(known.values)} known values" if known else "known values"
        words.append(f"warning when not in choices/{f.choices}.json ({count})")
    if f.aliases:
        words.append("warning if named " + " or ".join(f.aliases))
    return words


def render_type(rules: TypeRules, choices: dict[str, ChoiceList], console: Console) -> None:
    mtype = migration_type(rules.type)
    table = Table(title=f"{rules.type}: {rules.title}", title_justify="left", show_lines=True, expand=False)
    table.add_column("field", style="bold", no_wrap=True)
    table.add_column("type", no_wrap=True)
    table.add_column("required", no_wrap=True)
    table.add_column("rules and meaning")
    for f in rules.fields:
        table.add_row(
            f.name,
            TEMPORAL_WORDS.get(f.temporal or "", TYPE_WORDS[f.kind]),
            "yes" if f.required else "no",
            f"{f.description}\n[dim]{escape('; '.join(rule_words(f, choices)))}[/]".rstrip(),
        )
    console.print(table)
    keys = []
    if mtype.primary_key:
        keys.append("unique key: " + ", ".join(mtype.primary_key))
    for fk in mtype.foreign_keys:
        ref = fk["reference"]
        keys.append(f"{', '.join(fk['fields'])} must exist as {ref['resource']}.{', '.join(ref['fields'])}")
    stems = ", ".join(mtype.stems)
    console.print(f"file names: {stems} (.csv, .xlsx, .xls, .json)" + (f"; {'; '.join(keys)}" if keys else ""))
    console.print(f"rules from omnimig/schemas/{mtype.table_schema} (CSV/XLS/XLSX) and {mtype.json_schema} (JSON)\n")
