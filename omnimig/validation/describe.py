"""The rules of a migration type in words, for ``omnimig schemas``: read from the schema files.

Everything shown is in the language of the run. A field's description and a type's title are
English text kept in the schema files (the rules stay data, not Python); the Babel extractor
``omnimig.i18n:extract_schema`` collects them into the catalogue, and they are translated here,
where they are shown, with ``_()`` like any other message.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from omnimig.i18n import N_, _, pgettext
from omnimig.schemas.rules import ChoiceList, FieldRule, TypeRules, migration_type

TEMPORAL_WORDS = {"date": N_("date"), "datetime": N_("date-time"), "date-or-datetime": N_("date or date-time")}
TYPE_WORDS = {
    "string": N_("text"),
    "number": N_("decimal"),
    "integer": N_("whole number"),
    "boolean": N_("true/false"),
    "object": N_("JSON object"),
}


def rule_words(f: FieldRule, choices: dict[str, ChoiceList]) -> list[str]:
    words: list[str] = []
    if f.max_length is not None:
        words.append(_("at most {n} characters").format(n=f.max_length))
    if f.max_digits is not None:
        words.append(_("at most {n} digits").format(n=f.max_digits))
    if f.decimal_places is not None:
        words.append(_("at most {n} decimal places").format(n=f.decimal_places))
    if f.minimum is not None:
        words.append(_("at least {n}").format(n=f.minimum))
    if f.enum:
        words.append(_("one of {values}").format(values=", ".join(f.enum)))
    if f.hint:
        words.append(_(f.hint))
    elif f.pattern:
        words.append(_("matches {pattern}").format(pattern=f.pattern))
    if f.kind == "boolean":
        words.append(_("CSV/XLSX: true/false (any case) or 1/0; JSON: true/false"))
    if f.kind == "object":
        words.append(_("CSV/XLSX: JSON object text, empty means {}; JSON: an object"))
    if f.kind in ("number", "integer"):
        words.append(_("JSON: a number, not a string"))
    if f.choices:
        known = choices.get(f.choices)
        count = _("{n} known values").format(n=len(known.values)) if known else _("known values")
        words.append(_("warning when not in choices/{list}.json ({count})").format(list=f.choices, count=count))
    if f.aliases:
        words.append(_("warning if named {names}").format(names=_(" or ").join(f.aliases)))
    return words


def schema_text(text: str) -> str:
    """A text from a schema file in the language of the run (empty stays empty, not the catalogue header)."""
    return _(text) if text else text


def render_type(rules: TypeRules, choices: dict[str, ChoiceList], console: Console) -> None:
    mtype = migration_type(rules.type)
    table = Table(
        title=f"{rules.type}: {schema_text(rules.title)}", title_justify="left", show_lines=True, expand=False
    )
    table.add_column(pgettext("column", "field"), style="bold", no_wrap=True)
    table.add_column(pgettext("column", "type"), no_wrap=True)
    table.add_column(pgettext("column", "required"), no_wrap=True)
    table.add_column(pgettext("column", "rules and meaning"))
    for f in rules.fields:
        gloss = pgettext("field", f.name)
        name = f.name if gloss == f.name else f"{f.name}\n[dim]{escape(gloss)}[/]"
        table.add_row(
            name,
            _(TEMPORAL_WORDS.get(f.temporal or "", TYPE_WORDS[f.kind])),
            _("yes") if f.required else _("no"),
            f"{schema_text(f.description)}\n[dim]{escape('; '.join(rule_words(f, choices)))}[/]".rstrip(),
        )
    console.print(table)
    keys = []
    if mtype.primary_key:
        keys.append(_("unique key: {fields}").format(fields=", ".join(mtype.primary_key)))
    for fk in mtype.foreign_keys:
        ref = fk["reference"]
        keys.append(
            _("{fields} must exist as {reference}").format(
                fields=", ".join(fk["fields"]), reference=f"{ref['resource']}.{', '.join(ref['fields'])}"
            )
        )
    stems = ", ".join(mtype.stems)
    console.print(
        _("file names: {names} (.csv, .xlsx, .xls, .json)").format(names=stems)
        + (f"; {'; '.join(keys)}" if keys else "")
    )
    console.print(
        _("rules from omnimig/schemas/{table} (CSV/XLS/XLSX) and {json} (JSON)").format(
            table=mtype.table_schema, json=mtype.json_schema
        )
        + "\n"
    )
