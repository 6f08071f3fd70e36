"""What a person tells a transform: defaults, value tables and reading options, from TOML or flags.

One mapping file format serves every source. Its ``[source]``, ``[defaults]`` and
``[values.*]`` tables apply to all of them (a cargo-company table for the Omnitron export, a
status table for Shopify); the per-type tables (``[order]``, ``[user]`` …) describe a whole
export and are read only by the ``mapping`` source. Command-line flags win over the file.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omnimig.exceptions import TransformError
from omnimig.i18n import _, number
from omnimig.schemas.rules import table_rules
from omnimig.transforms.normalize import fold
from omnimig.transforms.records import TARGETS

SHARED_TABLES = ("source", "defaults", "values")

# What a mapping file may claim. A real one nests 3 or 4 levels ([values.status] "x" = "y",
# order.amount = { columns = [...] }) and holds at most tens of thousands of value-table entries;
# these bounds refuse a hostile file in one line instead of a RecursionError or minutes of work.
MAX_MAPPING_BYTES = 64 * 1024 * 1024
MAX_DEPTH = 16
MAX_ENTRIES = 1_000_000


class SettingsError(TransformError):
    """A mapping file or flag that cannot be used; the message is one line naming the file and line."""


@dataclass
class Settings:
    defaults: dict[tuple[str, str], str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)  # mapping source only
    path: Path | None = None
    text: str = ""
    explain: bool = False  # list mechanical changes (whitespace, value tables) in changes.csv too
    _indexes: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def line_of(self, *keys: str) -> int | None:
        """The line of the file where ``keys`` (a table, then a key in it) is written, for messages."""
        return line_of(self.text, *keys)

    def where(self, *keys: str) -> str:
        line = self.line_of(*keys)
        return _("{file} line {line}").format(file=self.path, line=line) if line else str(self.path)

    def value(self, table: str, key: str) -> str | None:
        """Look ``key`` up in value table ``table``: exactly, then ignoring case and outer spaces.

        Case is ignored both ways: Unicode casefold (``INR`` = ``inr``) and Turkish folding
        (``İPTAL EDİLDİ`` = ``İptal Edildi``, which casefold alone does not match). When several
        entries match, the first in the table wins. Each lookup is a dict lookup: the folded
        index is built once per table (and again only when entries are added), so a table of
        20,000 entries costs the same per row as one of 20.
        """
        entries = self.values.get(table)
        if not entries:
            return None
        if key in entries:
            return entries[key]
        by_casefold, by_turkish = self._index(table, entries)
        hits = [h for h in (by_casefold.get(key.strip().casefold()), by_turkish.get(fold(key.strip()))) if h]
        return entries[min(hits)[1]] if hits else None

    def _index(
        self, table: str, entries: dict[str, str]
    ) -> tuple[dict[str, tuple[int, str]], dict[str, tuple[int, str]]]:
        """Folded key -> (position, original key) of its first entry; rebuilt when the table grows or is replaced."""
        cached = self._indexes.get(table)
        if cached is not None and cached[0] == (id(entries), len(entries)):
            return cached[1], cached[2]
        by_casefold: dict[str, tuple[int, str]] = {}
        by_turkish: dict[str, tuple[int, str]] = {}
        for i, k in enumerate(entries):
            by_casefold.setdefault(k.strip().casefold(), (i, k))
            by_turkish.setdefault(fold(k.strip()), (i, k))
        self._indexes[table] = ((id(entries), len(entries)), by_casefold, by_turkish)
        return by_casefold, by_turkish


def line_of(text: str, *keys: str) -> int | None:
    """Best-effort line number of a TOML table or key; tomllib reports lines only for syntax errors."""
    if not text or not keys:
        return None
    lines = text.splitlines()
    start = 0
    # A named table ("address.billing") is found by its own header, [address.billing].
    if len(keys) > 1 or keys[0].partition(".")[0] in (*TARGETS, *SHARED_TABLES):
        header = re.compile(rf"^\s*\[+\s*{re.escape(keys[0])}(\.[^\]]*)?\s*\]+")
        for i, line in enumerate(lines):
            if header.match(line):
                start = i
                if len(keys) == 1:
                    return i + 1
                break
    wanted = keys[-1]
    key = re.compile(rf'^\s*("{re.escape(wanted)}"|{re.escape(wanted)})\s*=')
    for i in range(start, len(lines)):
        if key.match(lines[i]):
            return i + 1
    return None


def _target_field(settings: Settings, spec: str, where: str) -> tuple[str, str]:
    type_name, _dot, name = spec.partition(".")
    if type_name not in TARGETS or not name:
        raise SettingsError(
            _("{where}: {spec} is not TYPE.FIELD; TYPE is one of {types}").format(
                where=where, spec=repr(spec), types=", ".join(TARGETS)
            )
        )
    if name not in table_rules(type_name).names:
        raise SettingsError(
            _("{where}: {type} has no field {name}; its fields are {fields}").format(
                where=where, type=type_name, name=repr(name), fields=", ".join(table_rules(type_name).names)
            )
        )
    return type_name, name


def load(path: Path | None, allow_targets: bool) -> Settings:
    """Read a mapping file; ``allow_targets`` is False for sources that define the layout themselves."""
    settings = Settings()
    if path is None:
        return settings
    try:
        if not path.is_file():
            found = _("{file}: mapping file not found") if not path.exists() else _("{file}: not a file")
            raise SettingsError(found.format(file=path))
        size = path.stat().st_size
        if size > MAX_MAPPING_BYTES:
            raise SettingsError(
                _(
                    "{file}: the mapping file is {size} MB; a mapping file is at most "
                    "{limit} MB (put large value lists in the export itself)"
                ).format(file=path, size=f"{size / 2**20:,.0f}", limit=MAX_MAPPING_BYTES // 2**20)
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SettingsError(_("{file}: mapping file not found").format(file=path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(
            _("{file}: cannot read the mapping file ({reason})").format(file=path, reason=exc.__class__.__name__)
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(_("{file}: not valid TOML: {reason}").format(file=path, reason=exc)) from None
    except RecursionError:
        raise SettingsError(
            _("{file}: the TOML is nested too deeply; a mapping file nests at most {limit} levels").format(
                file=path, limit=MAX_DEPTH
            )
        ) from None
    _check_shape(path, data)
    settings.path = path
    settings.text = text
    for key, value in data.items():
        if key in TARGETS:
            if not allow_targets:
                raise SettingsError(
                    _(
                        "{where}: [{table}] describes an export's columns, which only the mapping "
                        "source reads; this source knows its layout (keep [source], [defaults] and [values.*])"
                    ).format(where=settings.where(key), table=key)
                )
            if not isinstance(value, dict):
                raise SettingsError(
                    _("{where}: {table} must be a table of field = column").format(where=settings.where(key), table=key)
                )
            settings.targets[key] = value
        elif key == "source":
            if not isinstance(value, dict):
                raise SettingsError(_("{where}: [source] must be a table").format(where=settings.where(key)))
            settings.source = value
        elif key == "defaults":
            if not isinstance(value, dict):
                raise SettingsError(
                    _('{where}: [defaults] must be a table of "TYPE.FIELD" = value').format(where=settings.where(key))
                )
            for spec, default in _flatten(value):
                line = settings.line_of("defaults", spec) or settings.line_of("defaults", spec.rsplit(".", 1)[-1])
                where = _("{file} line {line}").format(file=path, line=line) if line else str(path)
                settings.defaults[_target_field(settings, spec, where)] = _text(default, where)
        elif key == "values":
            if not isinstance(value, dict):
                raise SettingsError(
                    _("{where}: [values.NAME] tables map source values to target values").format(
                        where=settings.where(key)
                    )
                )
            for table, entries in value.items():
                if not isinstance(entries, dict):
                    raise SettingsError(
                        _("{where}: [values.{table}] must be a table").format(
                            where=settings.where("values", table), table=table
                        )
                    )
                settings.values[table] = {
                    str(k): _text(v, _where(settings, "values", str(k))) for k, v in entries.items()
                }
        else:
            allowed = ", ".join([*SHARED_TABLES, *(TARGETS if allow_targets else ())])
            raise SettingsError(
                _("{where}: unknown table [{table}]; a mapping file has {allowed}").format(
                    where=settings.where(key), table=key, allowed=allowed
                )
            )
    return settings


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """``order.bank = "x"`` in TOML is a nested table; ``"order.bank" = "x"`` is one key. Accept both."""
    out = []
    for k, v in table.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, name + ".")
        else:
            out.append((name, v))
    return out


def _check_shape(path: Path, data: dict[str, Any]) -> None:
    """Refuse a mapping nested deeper than ``MAX_DEPTH`` or holding more than ``MAX_ENTRIES`` values.

    Walked with a stack, not recursion, so the walk itself cannot overflow.
    """
    stack: list[tuple[Any, int]] = [(data, 0)]
    count = 0
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SettingsError(
                _("{file}: the TOML is nested {depth} levels deep; a mapping file nests at most {limit}").format(
                    file=path, depth=depth, limit=MAX_DEPTH
                )
            )
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        for child in children:
            count += 1
            if count > MAX_ENTRIES:
                raise SettingsError(
                    _(
                        "{file}: the mapping file holds more than {limit} entries; split the value tables or "
                        "fix the values in the export"
                    ).format(file=path, limit=number(MAX_ENTRIES))
                )
            if isinstance(child, (dict, list)):
                stack.append((child, depth + 1))


def _where(settings: Settings, *keys: str) -> Callable[[], str]:
    """``settings.where(*keys)``, computed only when an error needs it (finding a line costs a scan)."""
    return lambda: settings.where(*keys)


def _text(value: Any, where: str | Callable[[], str]) -> str:
    """A TOML value as text; ``where`` (or a function giving it, as finding a line costs a scan) names it on error."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    place = where() if callable(where) else where
    raise SettingsError(
        _("{where}: expected text or a number, got {kind}").format(where=place, kind=type(value).__name__)
    )


def apply_flags(settings: Settings, defaults: Sequence[str], maps: Sequence[str], options: Sequence[str] = ()) -> None:
    """``--default TYPE.FIELD=VALUE``, ``--map TABLE:FROM=TO`` and ``--option KEY=VALUE`` override the file."""
    pairs: list[tuple[str, str, str]] = []
    for item in defaults:
        spec, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(
                _("--default {item}: write TYPE.FIELD=VALUE, e.g. order.bank=Garanti").format(item=repr(item))
            )
        pairs.append((spec.strip(), value, f"--default {item!r}"))
    set_defaults(settings, pairs, label="--default")
    for item in maps:
        table, sep, rest = item.partition(":")
        source, eq, target = rest.partition("=")
        if not sep or not eq or not table:
            raise SettingsError(
                _("--map {item}: write TABLE:FROM=TO, e.g. shipping_company:1=yurtici").format(item=repr(item))
            )
        settings.values.setdefault(table.strip(), {})[source] = target
    for item in options:
        key, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(
                _("--option {item}: write KEY=VALUE, e.g. customer_code_from=email").format(item=repr(item))
            )
        settings.source[key.strip()] = value


def set_defaults(settings: Settings, pairs: Iterable[tuple[str, str, str]], label: str = "default") -> None:
    """Defaults ``(TYPE.FIELD, value, where it was given)`` over the file's; one field given twice differently
    is an error (``label`` names how defaults were given: ``--default`` on the command line)."""
    given: dict[tuple[str, str], str] = {}
    for spec, value, where in pairs:
        key = _target_field(settings, spec, where)
        if key in given and given[key] != value:
            raise SettingsError(
                _("{label} {spec} is given twice ({first} and {second}); give it once").format(
                    label=label, spec=spec, first=repr(given[key]), second=repr(value)
                )
            )
        given[key] = settings.defaults[key] = value


def apply_arguments(
    settings: Settings,
    defaults: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    options: Mapping[str, str] | None = None,
) -> None:
    """The Python API's form of the flags: ``{"order.bank": "-"}``, ``{"shipping_company": {"1": "yurtici"}}``,
    ``{"customer_code_from": "email"}``; they override the mapping file like the flags do."""
    set_defaults(settings, ((spec, str(value), f"default {spec!r}") for spec, value in (defaults or {}).items()))
    for table, entries in (values or {}).items():
        settings.values.setdefault(table, {}).update({str(k): str(v) for k, v in entries.items()})
    for key, value in (options or {}).items():
        settings.source[key] = str(value)
