"""The language of the text a person reads: English, or Turkish from a gettext catalogue.

Message text goes through ``_()`` (and ``ngettext()`` for counts, ``pgettext()`` for a word whose
meaning depends on where it stands), so that the standard tools manage it: ``pybabel extract``
collects every message id into ``omnimig/locale/messages.pot`` and ``pybabel compile`` turns the
Turkish ``.po`` into the ``.mo`` shipped in the wheel (see docs/i18n.md for the one command).
English is the message ids themselves: without a catalogue nothing changes.

The language is chosen once per run: ``use("tr")`` (the CLI's ``--lang``), else ``OMNIMIG_LANG``,
else the locale (``LC_ALL``, ``LC_MESSAGES``, ``LANG``: ``tr_TR.UTF-8`` is Turkish), else English.
Only text changes with it: rule codes, JSON keys, CSV headers and exit codes never do.

This is a bottom layer (like ``omnimig.schemas``): it imports nothing of omnimig, so every
layer may use it. It also holds the Babel extractor that collects the human text kept as data in
the schema files (field names and descriptions, ``hint`` texts, type and value-list titles).
"""

from __future__ import annotations

import gettext
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

#: The languages with a catalogue ("en" is the message ids themselves).
LANGUAGES = ("en", "tr")
DEFAULT = "en"
#: The environment variable that chooses the language when ``--lang`` is not given.
LANG_ENV = "OMNIMIG_LANG"
DOMAIN = "omnimig"
LOCALE_DIR = Path(__file__).parent / "locale"
#: The context of a field name's gloss in the catalogue: ``pgettext(FIELD, "amount")`` is "tutar".
FIELD = "field"

_current: str | None = None
_catalogues: dict[str, gettext.NullTranslations] = {}


def language_of(value: str | None) -> str | None:
    """The supported language a setting names (``tr``, ``TR``, ``tr_TR.UTF-8``, ``en_US``), else None."""
    if not value:
        return None
    code = value.strip().split(".")[0].split("@")[0].replace("-", "_").split("_")[0].lower()
    return code if code in LANGUAGES else None


def detect(environ: Mapping[str, str] | None = None) -> str:
    """The language when none is given: ``OMNIMIG_LANG``, else the locale variables, else English.

    A setting naming a language omnimig does not speak (``OMNIMIG_LANG=de``) is passed over, as
    gettext passes over a locale it has no catalogue for; ``C`` and ``POSIX`` are English.
    """
    env = os.environ if environ is None else environ
    for name in (LANG_ENV, "LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            found = language_of(value)
            if found is not None:
                return found
            if name != LANG_ENV:
                break  # the first locale variable set decides, as in POSIX
    return DEFAULT


def use(lang: str | None = None) -> str:
    """Make ``lang`` the language of every message from now on (None: detect it again); returns it.

    A name omnimig does not speak is a ``ValueError`` that says which ones it does.
    """
    global _current
    if lang is None:
        _current = detect()
    else:
        found = language_of(lang)
        if found is None:
            raise ValueError(f"language {lang!r} is not available; use one of: {', '.join(LANGUAGES)}")
        _current = found
    return _current


def current() -> str:
    """The language messages are written in now (detected on first use)."""
    return _current if _current is not None else use(None)


def catalogue(lang: str | None = None) -> gettext.NullTranslations:
    """The compiled catalogue of ``lang`` (default: the current language); English is the ids themselves."""
    lang = lang or current()
    found = _catalogues.get(lang)
    if found is None:
        if lang == DEFAULT:
            found = gettext.NullTranslations()
        else:
            found = gettext.translation(DOMAIN, LOCALE_DIR, languages=[lang], fallback=True)
        _catalogues[lang] = found
    return found


def _(message: str) -> str:
    """``message`` in the current language (the English id when the catalogue has no entry)."""
    return catalogue().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for the count ``n``, by the language's plural rule."""
    return catalogue().ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """``message`` as translated in ``context`` (the same English word can need two Turkish ones)."""
    return catalogue().pgettext(context, message)


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where it is used."""
    return message


def number(n: int) -> str:
    """A count as a person reads it: ``1,204`` in English, ``1.204`` in Turkish."""
    text = f"{n:,}"
    return text.replace(",", ".") if current() == "tr" else text


def count(singular: str, plural: str, n: int) -> str:
    """``1 row``, ``1,204 rows``, ``1.204 satır``: a counted message with ``{n}`` formatted for the language."""
    return ngettext(singular, plural, n).format(n=number(n))


def lower(text: str) -> str:
    """Lower case by the current language's rules: in Turkish ``I`` is ``ı`` and ``İ`` is ``i``."""
    if current() == "tr":
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def upper(text: str) -> str:
    """Upper case by the current language's rules: in Turkish ``i`` is ``İ`` and ``ı`` is ``I``."""
    if current() == "tr":
        text = text.replace("i", "İ").replace("ı", "I")
    return text.upper()


def field(name: str) -> str:
    """A field as a message names it: Akinon's name, with the language's gloss when it has one.

    ``amount`` in English, ``amount (tutar)`` in Turkish: the file keeps Akinon's column names,
    and the gloss says what the column holds.
    """
    gloss = pgettext(FIELD, name)
    return name if not gloss or gloss == name else f"{name} ({gloss})"


# --------------------------------------------------------------------------- extraction (pybabel)


def _line_of(text: str, value: str) -> int:
    at = text.find(json.dumps(value, ensure_ascii=False))
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def extract_schema(
    fileobj: IO[bytes], keywords: object, comment_tags: object, options: object
) -> Iterator[tuple[int, str, Any, list[str]]]:
    """Babel extractor for the schema files: the human text that is kept there as data.

    A Table Schema gives each field's name (as ``pgettext("field", name)``: its gloss), its
    ``description`` and its ``hint``, and the type's ``title`` and ``description``; a JSON Schema
    the same texts of its properties (but not their names) and of the type; a value list
    (``choices/*.json``) its ``title``; ``datapackage.json`` the ``message`` of each consistency
    check. ``omnimig schemas`` shows the descriptions and titles through ``_()``, so they are
    translated where they are shown and stay English text in the schema files.
    Registered in ``babel.cfg``, so ``pybabel extract`` needs no list kept by hand.
    """
    text = fileobj.read().decode("utf-8")
    doc = json.loads(text)
    found: list[tuple[int, str, Any, list[str]]] = []

    def add(value: object, comment: str) -> None:
        if isinstance(value, str) and value:
            found.append((_line_of(text, value), "_", value, [comment]))

    if "values" in doc:
        add(doc.get("title"), "the title of a value list")
    elif "fields" in doc or "properties" in doc:  # a type's schema: its title and what it holds
        add(doc.get("title"), "the title of a migration type")
        add(doc.get("description"), "what a migration type holds")
    for spec in doc.get("fields", ()):
        found.append((_line_of(text, spec["name"]), "pgettext", (FIELD, spec["name"]), ["a field's gloss"]))
        add(spec.get("description"), "what a field holds")
        add(spec.get("hint"), "what to write in a field")
    for spec in doc.get("properties", {}).values():
        if isinstance(spec, dict):
            add(spec.get("description"), "what a field holds")
            add(spec.get("hint"), "what to write in a field")
    for resource in doc.get("resources", ()):  # datapackage.json: what a consistency warning says
        for check in resource.get("consistency", ()):
            if isinstance(check.get("message"), str):
                found.append((_line_of(text, check["message"]), "_", check["message"], ["a cross-file warning"]))
    yield from sorted(found, key=lambda item: item[0])


__all__ = [
    "DEFAULT",
    "FIELD",
    "LANGUAGES",
    "LANG_ENV",
    "N_",
    "_",
    "count",
    "current",
    "detect",
    "extract_schema",
    "field",
    "language_of",
    "lower",
    "ngettext",
    "number",
    "pgettext",
    "upper",
    "use",
]
