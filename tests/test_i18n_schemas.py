"""``omnimig schemas`` in Turkish: the field descriptions and type titles kept in the schema files too.

They stay English text in ``omnimig/schemas/*.json`` (the rules are data, not Python); the Babel
extractor collects them and ``omnimig schemas`` translates them where it shows them. Field names,
codes, the file names and the exit code are the same in both languages.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig import i18n
from omnimig.cli import app
from omnimig.schemas.rules import migration_type, schema_dir, table_rules, type_names
from omnimig.validation.describe import schema_text

#: Wide enough that no description wraps: a test can look for a whole sentence.
WIDE = {"COLUMNS": "400", "OMNIMIG_TOKEN": ""}


@pytest.fixture(autouse=True)
def language_chosen_again() -> Iterator[None]:
    """A test that picks Turkish must not leave it to the next test in the process."""
    yield
    i18n.use(None)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=WIDE, prog_name="omnimig")
    return result.exit_code, result.output


def field_column(output: str) -> list[str]:
    """The first line of each row's first cell: the field names as the table shows them, in order."""
    names: list[str] = []
    starts_row = False
    for line in output.splitlines():
        if line.startswith(("┡", "├")):
            starts_row = True
        elif line.startswith("│") and starts_row:
            names.append(line.split("│")[1].strip())
            starts_row = False
    return names


def machine_words(output: str) -> list[str]:
    """What a program or a person types, whatever the language: titles' type codes, file and schema names."""
    found = re.findall(r"^(\w+): ", output, flags=re.MULTILINE)
    found += re.findall(r"\b[\w-]+\.(?:table|schema)\.json\b|\bchoices/[\w-]+\.json\b", output)
    return found


def test_schemas_in_turkish_shows_turkish_descriptions_and_titles() -> None:
    code_en, english = invoke("schemas")
    code_tr, turkish = invoke("--lang", "tr", "schemas")
    assert code_en == code_tr == 0
    for title in ("user: Müşteriler", "address: Adresler", "order: Geçmiş siparişler"):
        assert title in turkish
    assert "order_item: Geçmiş sipariş kalemleri" in turkish
    for sentence in (
        "Müşterinin kodu; adresler ve siparişler user sütununda bu koda başvurur. Benzersiz olmalı.",
        "Bu adresin ait olduğu müşterinin customer_code değeri.",
        "Kargo takip numarası.",
        "Bu kalemin ait olduğu siparişin numarası.",
    ):
        assert sentence in turkish
    for english_text in ("Old orders", "Shipment tracking number.", "Address line.", "Stock keeping unit."):
        assert english_text in english and english_text not in turkish
    # the same fields in the same order, named as Akinon names them; the same codes and file names
    assert field_column(turkish) == field_column(english)
    assert field_column(english) == [f.name for name in type_names() for f in table_rules(name).fields]
    assert machine_words(turkish) == machine_words(english)
    assert "choices/shipping-companies.json" in turkish


def test_schemas_order_in_turkish() -> None:
    code_en, english = invoke("schemas", "order")
    code_tr, turkish = invoke("schemas", "order", "--lang", "tr")
    assert code_en == code_tr == 0
    assert turkish.lstrip().startswith("order: Geçmiş siparişler")
    for sentence in (
        "Sipariş durumu kodu, örneğin 400 (onaylandı), 500 (kargoya verildi), 550 (teslim edildi).",
        "Taksit sayısı; verildiyse en az 1.",
        "Kargo firmasının kısa kodu (slug), örneğin yurtici.",
        "Siparişle birlikte saklanan ek bilgiler: bir JSON nesnesi; boş bırakılırsa {} sayılır.",
    ):
        assert sentence in turkish
    assert "Order status code, e.g. 400 (approved)" in english
    assert field_column(turkish) == field_column(english) == list(table_rules("order").names)
    assert machine_words(turkish) == machine_words(english)
    assert "order.table.json" in turkish and "order.schema.json" in turkish


def test_an_unknown_type_fails_the_same_way_in_both_languages() -> None:
    code_en, english = invoke("schemas", "orderz")
    code_tr, turkish = invoke("--lang", "tr", "schemas", "orderz")
    assert code_en == code_tr == 2
    assert "'orderz'" in english and "'orderz'" in turkish and english != turkish


@pytest.mark.parametrize("type_name", type_names())
def test_every_description_and_title_shown_has_turkish(type_name: str) -> None:
    """A new field's description without Turkish would be shown in English in a Turkish run."""
    rules = table_rules(type_name)
    shown = [rules.title] + [f.description for f in rules.fields if f.description]
    i18n.use("tr")
    untranslated = [text for text in shown if schema_text(text) == text]
    assert untranslated == []
    assert schema_text("") == ""  # not the catalogue's header, which is what gettext gives for ""


@pytest.mark.parametrize("type_name", type_names())
def test_the_extractor_collects_every_description_and_title(type_name: str) -> None:
    """The schema files are the only place these texts are written: Babel reads them from there."""
    mtype = migration_type(type_name)
    for schema in (mtype.table_schema, mtype.json_schema):
        path: Path = schema_dir() / schema
        found = {
            message
            for _line, funcname, message, _comments in i18n.extract_schema(
                io.BytesIO(path.read_bytes()), None, None, None
            )
            if funcname == "_"
        }
        rules = table_rules(type_name)
        assert rules.title in found
        assert {f.description for f in rules.fields if f.description} <= found, schema
