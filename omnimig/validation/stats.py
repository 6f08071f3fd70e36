"""The bundle summary (``stats``): the figures a migration engineer reconciles with the old system.

Rows per type; for orders the rows per status, currency, payment type and shipping company, the
range of ``created_date`` and ``amount`` totalled per currency; users with no orders and orders per
user (min/median/max). What is counted, ranged and totalled is data: the ``"summary"`` property of
each resource in ``datapackage.json`` names the fields, and this module only interprets it::

    "summary": {"count": ["status", ...], "range": ["created_date"],
                "total": [{"field": "amount", "by": "currency"}],
                "children": [{"resource": "order", "fields": ["user"], "key": ["customer_code"]}]}

Everything is gathered in the validation pass itself: each chunk the engine already holds as
Arrow columns is tallied (``TypeTally.add``: value counts, min/max, exact sums by group) and the
per-user figures come from the integer key codes the bundle rules compute anyway. Money is
summed exactly (Arrow ``decimal128``, Python ``Decimal`` for the rare value too long for it),
never as float, so a total matches the old system's to the cent.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import MAX_EMAX, MAX_PREC, MIN_EMIN, Context, Decimal
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.exceptions import SchemaError
from omnimig.i18n import _, current
from omnimig.i18n import number as figure
from omnimig.schemas.rules import NUMBER_TEXT, schema_dir, table_rules, type_names
from omnimig.validation.fields import Text, as_mask

#: Distinct values counted exactly per field; values first seen after this many are counted as "other",
#: so a column of a million distinct texts cannot fill memory.
MAX_DISTINCT = 10_000
#: Values shown per counted field in the text report (the JSON report lists every counted value).
SHOWN_VALUES = 8
#: Decimal arithmetic that never rounds (the default context keeps 28 digits and would).
EXACT = Context(prec=MAX_PREC, Emax=MAX_EMAX, Emin=MIN_EMIN)
#: Characters of a number summed in Arrow's decimal128; a longer one is summed in Python.
#: 18 digits times 2**31 rows stays far inside decimal128's 38.
ARROW_CHARS = 18


@dataclass(frozen=True)
class Total:
    """``field`` summed per value of ``by`` (``amount`` per ``currency``)."""

    field: str
    by: str | None = None


@dataclass(frozen=True)
class Children:
    """Rows of ``resource`` whose ``fields`` refer to this type's ``key``: how many each row has."""

    resource: str
    fields: tuple[str, ...]
    key: tuple[str, ...]


@dataclass(frozen=True)
class SummarySpec:
    """The ``"summary"`` property of one resource of ``datapackage.json``."""

    type: str
    count: tuple[str, ...] = ()
    range: tuple[str, ...] = ()
    total: tuple[Total, ...] = ()
    children: tuple[Children, ...] = ()

    @property
    def chunk_fields(self) -> tuple[str, ...]:
        """The fields tallied chunk by chunk while the field rules run."""
        names = [*self.count, *self.range]
        for t in self.total:
            names += [t.field] if t.by is None else [t.field, t.by]
        return tuple(dict.fromkeys(names))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SchemaError(f"datapackage.json: {where} must be a list of field names")
    return tuple(value)


@cache
def summary_specs() -> dict[str, SummarySpec]:
    """Every type's summary spec, read once from ``datapackage.json`` (a type without one gets rows only)."""
    package = json.loads((schema_dir() / "datapackage.json").read_text(encoding="utf-8"))
    specs: dict[str, SummarySpec] = {}
    for resource in package.get("resources", []):
        name = resource["name"]
        raw = resource.get("summary", {})
        where = f"resource {name!r} summary"
        if not isinstance(raw, dict):
            raise SchemaError(f"datapackage.json: {where} must be an object")
        fields = set(table_rules(name).names)
        totals = []
        for item in raw.get("total", []):
            if not isinstance(item, dict) or not isinstance(item.get("field"), str):
                raise SchemaError(f'datapackage.json: {where}: each total is {{"field": NAME, "by": NAME}}')
            totals.append(Total(item["field"], item.get("by")))
        children = []
        for item in raw.get("children", []):
            if not isinstance(item, dict) or not isinstance(item.get("resource"), str):
                raise SchemaError(
                    f'datapackage.json: {where}: each child is {{"resource": NAME, "fields": [...], "key": [...]}}'
                )
            children.append(
                Children(item["resource"], _strings(item.get("fields"), where), _strings(item.get("key"), where))
            )
        spec = SummarySpec(
            name,
            _strings(raw.get("count", []), f"{where} count"),
            _strings(raw.get("range", []), f"{where} range"),
            tuple(totals),
            tuple(children),
        )
        unknown = [f for f in spec.chunk_fields if f not in fields]
        if unknown:
            raise SchemaError(f"datapackage.json: {where} names unknown {name} fields: {', '.join(unknown)}")
        specs[name] = spec
    return specs


def summary_spec(type_name: str) -> SummarySpec:
    return summary_specs().get(type_name, SummarySpec(type_name))


def key_fields(type_name: str) -> tuple[str, ...]:
    """The key columns of ``type_name`` the per-parent figures need (kept with the bundle keys)."""
    wanted: list[str] = []
    for spec in summary_specs().values():
        for child in spec.children:
            if spec.type == type_name:
                wanted += child.key
            if child.resource == type_name:
                wanted += child.fields
    return tuple(dict.fromkeys(wanted))


# --------------------------------------------------------------------------- chunk tallies


def _is_day(text: str) -> bool:
    try:
        dt.date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


@dataclass
class Range:
    """The earliest and latest valid value of a field, compared as text (ISO dates sort as text)."""

    low: str | None = None
    high: str | None = None

    def add(self, low: str | None, high: str | None) -> None:
        if low is not None and (self.low is None or low < self.low):
            self.low = low
        if high is not None and (self.high is None or high > self.high):
            self.high = high


@dataclass
class Sum:
    """Exact sums of one field per group, and how many cells were not numbers (not summed)."""

    totals: dict[str, Decimal] = field(default_factory=dict)
    rows: Counter[str] = field(default_factory=Counter)
    not_numbers: int = 0
    places: int = 0  # decimal places a total is shown with at least (the field's decimal_places)

    def shown(self, group: str) -> Decimal:
        """A total as people write it: no trailing zeros beyond ``places`` (10.500 -> 10.50), value unchanged."""
        value = self.totals[group]
        exponent = value.normalize().as_tuple().exponent
        places = max(self.places, -exponent if isinstance(exponent, int) else 0)
        return value.quantize(Decimal(1).scaleb(-places), context=EXACT)

    def add(self, group: str, amount: Decimal, rows: int) -> None:
        self.totals[group] = EXACT.add(self.totals.get(group, Decimal(0)), amount)
        self.rows[group] += rows


@dataclass
class TypeTally:
    """The chunk-level figures of one type (one file, or several merged)."""

    type: str
    rows: int = 0
    files: int = 0
    counts: dict[str, Counter[str]] = field(default_factory=dict)
    other: Counter[str] = field(default_factory=Counter)  # per field: cells of values beyond MAX_DISTINCT
    ranges: dict[str, Range] = field(default_factory=dict)
    sums: dict[str, Sum] = field(default_factory=dict)
    patterns: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def start(cls, type_name: str) -> TypeTally:
        spec = summary_spec(type_name)
        rules = {f.name: f for f in table_rules(type_name).fields}
        patterns = {name: re.compile(rules[name].pattern or ".*") for name in spec.range if name in rules}
        return cls(type_name, files=1, patterns=patterns)

    def add(self, rows: int, columns: Mapping[str, Text], kinds: Mapping[str, np.ndarray | None]) -> None:
        """Tally one chunk: ``columns`` holds the spec's fields the file has, as Arrow text."""
        self.rows += rows
        spec = summary_spec(self.type)
        for name in spec.count:
            if name in columns:
                self._count(name, columns[name])
        for name in spec.range:
            if name in columns:
                self._range(name, columns[name])
        for total in spec.total:
            if total.field in columns:
                by = columns.get(total.by) if total.by is not None else None
                self._sum(total, columns[total.field], kinds.get(total.field), by)

    def _count(self, name: str, arr: Text) -> None:
        counts = self.counts.setdefault(name, Counter())
        found = pc.value_counts(arr)
        for value, n in zip(found.field("values").to_pylist(), found.field("counts").to_pylist(), strict=True):
            key = "" if value is None else value
            if key in counts or len(counts) < MAX_DISTINCT:
                counts[key] += n
            else:
                self.other[name] += n

    def _range(self, name: str, arr: Text) -> None:
        pattern = self.patterns.get(name)

        def valid(text: str | None) -> bool:
            if not text:
                return False
            return (pattern is None or pattern.fullmatch(text) is not None) and _is_day(text)

        found = self.ranges.setdefault(name, Range())
        extremes = pc.min_max(arr)
        low, high = extremes["min"].as_py(), extremes["max"].as_py()
        if low is None or (valid(low) and valid(high)):
            found.add(low, high)  # the common case: one min/max pass, no regex over the column
            return
        # Some extreme breaks the field's rules: keep only the cells that match, then drop the
        # few extremes that are not calendar days (2023-02-30 has the right shape).
        kept = pc.filter(arr, pc.not_equal(arr, ""))
        if pattern is not None:
            try:
                matched = pc.match_substring_regex(kept, f"^(?:{pattern.pattern})$")
            except pa.ArrowInvalid:  # a pattern RE2 cannot compile: Python's re decides
                matched = pa.array([pattern.fullmatch(v) is not None for v in kept.to_pylist()], pa.bool_())
            kept = pc.filter(kept, matched)
        while len(kept):
            extremes = pc.min_max(kept)
            low, high = extremes["min"].as_py(), extremes["max"].as_py()
            bad = [v for v in {low, high} if not _is_day(v)]
            if not bad:
                found.add(low, high)
                return
            for v in bad:
                kept = pc.filter(kept, pc.not_equal(kept, v))

    def _sum(self, total: Total, arr: Text, kinds: np.ndarray | None, by: Text | None) -> None:
        sums = self.sums.get(total.field)
        if sums is None:
            places = table_rules(self.type).field(total.field).decimal_places
            sums = self.sums[total.field] = Sum(places=places or 0)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if isinstance(by, pa.ChunkedArray):
            by = by.combine_chunks()
        if arr.null_count:
            arr = pc.fill_null(arr, "")
        if kinds is not None:
            from omnimig.io.read_json import plain_numbers

            arr = plain_numbers(arr, kinds)  # JSON keeps 1.5E2 as written; it sums as 150
        number = as_mask(pc.match_substring_regex(arr, NUMBER_TEXT))
        if kinds is not None:
            number &= kinds == "number"
        filled = as_mask(pc.not_equal(arr, ""))
        sums.not_numbers += int((filled & ~number).sum())
        if not number.any():
            return
        groups = pa.repeat("", len(arr)) if by is None else pc.fill_null(by, "")
        encoded = pc.dictionary_encode(groups)
        names: list[str] = encoded.dictionary.to_pylist()
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        # Short text (sign, digits, point) fits an exact decimal128 whose sums cannot overflow.
        length = pc.utf8_length(arr).to_numpy(zero_copy_only=False)
        short = number & (length <= ARROW_CHARS)
        if short.any():
            texts = pc.filter(arr, pa.array(short))
            point = pc.find_substring(texts, ".").to_numpy(zero_copy_only=False)
            scale = int(np.where(point >= 0, length[short] - point - 1, 0).max())
            values = pc.cast(texts, pa.decimal128(38, scale))
            found = _group_sums(values, codes[short], len(names))
            if found is None:  # too large for the integer sums: Arrow sums the decimals per group
                table = pa.table({"g": pc.filter(groups, pa.array(short)), "v": values})
                summed = table.group_by("g", use_threads=False).aggregate([("v", "sum"), ("v", "count")])
                found = {
                    names.index(g): (v, n)
                    for g, v, n in zip(
                        summed["g"].to_pylist(), summed["v_sum"].to_pylist(), summed["v_count"].to_pylist(), strict=True
                    )
                }
            for code, (unscaled, n) in found.items():
                value = unscaled if isinstance(unscaled, Decimal) else Decimal(unscaled).scaleb(-scale)
                sums.add(names[code], value, n)
        long = np.flatnonzero(number & ~short)
        if long.size:
            idx = pa.array(long)
            for g, v in zip(pc.take(groups, idx).to_pylist(), pc.take(arr, idx).to_pylist(), strict=True):
                sums.add(g, Decimal(v), 1)

    def merge(self, other: TypeTally) -> None:
        """Add another file's tally of the same type."""
        self.rows += other.rows
        self.files += other.files
        for name, counts in other.counts.items():
            mine = self.counts.setdefault(name, Counter())
            for value, n in counts.items():
                if value in mine or len(mine) < MAX_DISTINCT:
                    mine[value] += n
                else:
                    self.other[name] += n
        self.other.update(other.other)
        for name, r in other.ranges.items():
            self.ranges.setdefault(name, Range()).add(r.low, r.high)
        for name, s in other.sums.items():
            mine_sum = self.sums.setdefault(name, Sum(places=s.places))
            for g, v in s.totals.items():
                mine_sum.add(g, v, s.rows[g])
            mine_sum.not_numbers += s.not_numbers


def _group_sums(values: pa.Array, codes: np.ndarray, groups: int) -> dict[int, tuple[int, int]] | None:
    """Exact per-group sums of a ``decimal128`` array, as unscaled integers, by numpy; None when too large.

    Each value is read as the integer in its 128-bit slot (zero copy) and must fit in 64 bits; it is
    split into 24 low bits and the rest, and each part is summed per group with ``bincount`` in
    float64, which is exact while every partial sum stays below 2**53 (checked). Much cheaper than a
    group-by over decimals, which costs as much as all the field rules on the column.
    """
    if values.null_count or not len(values):
        return {} if not len(values) else None
    words = np.frombuffer(values.buffers()[1], dtype="<i8")[2 * values.offset : 2 * (values.offset + len(values))]
    low, high = words[0::2], words[1::2]
    if not np.array_equal(high, low >> 63):  # some value needs more than 64 bits
        return None
    upper, lower = low >> 24, low & 0xFFFFFF
    if float(np.abs(upper).max()) * len(low) >= 2.0**53 or float(len(low)) * 2**24 >= 2.0**53:
        return None
    counts = np.bincount(codes, minlength=groups)
    high_sums = np.bincount(codes, weights=upper.astype(np.float64), minlength=groups)
    low_sums = np.bincount(codes, weights=lower.astype(np.float64), minlength=groups)
    return {int(k): ((int(high_sums[k]) << 24) + int(low_sums[k]), int(counts[k])) for k in np.flatnonzero(counts)}


# --------------------------------------------------------------------------- the bundle


@dataclass
class PerParent:
    """How many ``child`` rows each distinct ``parent`` key has (users with no orders, orders per user)."""

    parent: str
    child: str
    parents: int  # distinct parent keys
    without: int  # parents no child row refers to
    minimum: int
    median: float
    maximum: int

    def to_dict(self) -> dict[str, object]:
        return {
            "parents": self.parents,
            "without": self.without,
            "min": self.minimum,
            "median": self.median,
            "max": self.maximum,
        }


@dataclass
class TypeStats:
    """The summary of one migration type."""

    type: str
    files: int = 0
    rows: int = 0
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)
    ranges: dict[str, Range] = field(default_factory=dict)
    sums: dict[str, tuple[str | None, Sum]] = field(default_factory=dict)
    children: dict[str, PerParent] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"files": self.files, "rows": self.rows}
        if self.counts:
            out["counts"] = {
                name: dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
                for name, counts in self.counts.items()
            }
            if self.other:
                # rows whose value was first seen after MAX_DISTINCT others, counted but not by value
                out["other_values"] = dict(self.other)
        if self.ranges:
            out["ranges"] = {n: {"min": r.low, "max": r.high} for n, r in self.ranges.items()}
        if self.sums:
            out["totals"] = {
                name: {
                    "by": by,
                    # exact decimal text: a JSON number would be read back as a float
                    "totals": {g: str(s.shown(g)) for g in s.totals},
                    "rows": dict(s.rows),
                    "not_numbers": s.not_numbers,
                }
                for name, (by, s) in self.sums.items()
            }
        if self.children:
            out["children"] = {name: p.to_dict() for name, p in self.children.items()}
        return out


@dataclass
class BundleStats:
    """``Validation.stats``: the bundle summary, per type in upload order."""

    types: dict[str, TypeStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"types": {name: t.to_dict() for name, t in self.types.items()}}

    def lines(self) -> list[tuple[str, str]]:
        """The summary as (label, text) pairs, short: what the text report and the workbook show."""
        out: list[tuple[str, str]] = []
        last: list[tuple[str, str]] = []  # the per-parent figures close the section
        present = [t for t in self.types.values() if t.files]
        rows = " · ".join(f"{t.type} {figure(t.rows)}" for t in present)
        out.append((_("rows"), rows or _("no files")))
        for t in present:
            for name, counts in t.counts.items():
                ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                shown = [f"{_label(v)} {figure(n)}" for v, n in ranked[:SHOWN_VALUES]]
                rest = len(ranked) - SHOWN_VALUES + (1 if t.other.get(name) else 0)
                if rest > 0:
                    shown.append(_("… {n} more").format(n=figure(rest)))
                out.append((f"{t.type} {name}", ", ".join(shown) or _("none")))
            for name, r in t.ranges.items():
                text = _("no valid value") if r.low is None else _("{low} to {high}").format(low=r.low, high=r.high)
                out.append((f"{t.type} {name}", text))
            for name, (by, s) in t.sums.items():
                parts = [f"{_label(g)} {_decimal(s.shown(g))}" for g in sorted(s.totals)]
                if s.not_numbers:
                    parts.append(_("({n} not a number, not summed)").format(n=figure(s.not_numbers)))
                label = f"{t.type} {name}"
                if by:
                    label = _("{type} {field} by {by}").format(type=t.type, field=name, by=by)
                out.append((label, ", ".join(parts) or _("none")))
            for child, p in t.children.items():
                last.append(
                    (
                        _("{child}s per {type}").format(child=child, type=t.type),
                        _(
                            "min {minimum}, median {median}, max {maximum}; {without} of {parents} {type}s have none"
                        ).format(
                            minimum=figure(p.minimum),
                            median=_decimal(f"{p.median:g}"),
                            maximum=figure(p.maximum),
                            without=figure(p.without),
                            parents=figure(p.parents),
                            type=t.type,
                        ),
                    )
                )
        return out + last


def _label(value: str) -> str:
    return value if value else _("(empty)")


def _decimal(value: Decimal | str) -> str:
    """A total or a median as a person reads it: ``12,345.67``; in Turkish ``12.345,67``."""
    text = f"{value:,}" if isinstance(value, Decimal) else value
    return text.translate(str.maketrans(",.", ".,")) if current() == "tr" else text


Codes = Callable[[str, list[str]], "tuple[np.ndarray, int] | None"]


def build(tallies: Iterable[TypeTally], codes: Codes | None = None) -> BundleStats:
    """The bundle summary from each file's tally and, for the per-parent figures, the key codes.

    ``codes(type, fields)`` gives the integer code of each row's key (-1 for none), with one code
    space shared by a parent key and the keys that refer to it (the bundle rules' encoding), or
    None when that type or column is absent.
    """
    merged: dict[str, TypeTally] = {}
    for tally in tallies:
        if tally.type in merged:
            merged[tally.type].merge(tally)
        else:
            copy = TypeTally(tally.type)
            copy.merge(tally)
            merged[tally.type] = copy
    stats = BundleStats()
    for name in type_names():
        found = merged.get(name)
        spec = summary_spec(name)
        t = TypeStats(name)
        if found is not None:
            t.files, t.rows = found.files, found.rows
            t.counts = {n: dict(found.counts.get(n, {})) for n in spec.count if n in found.counts}
            t.other = {n: k for n, k in found.other.items() if k}
            t.ranges = {n: found.ranges[n] for n in spec.range if n in found.ranges}
            t.sums = {x.field: (x.by, found.sums[x.field]) for x in spec.total if x.field in found.sums}
            if codes is not None:
                for child in spec.children:
                    per = _per_parent(name, child, codes)
                    if per is not None:
                        t.children[child.resource] = per
        stats.types[name] = t
    return stats


def _per_parent(name: str, child: Children, codes: Codes) -> PerParent | None:
    parent = codes(name, list(child.key))
    kids = codes(child.resource, list(child.fields))
    if parent is None or kids is None:
        return None
    parent_codes, size = parent
    child_codes = kids[0]
    size = max(size, int(child_codes.max()) + 1 if child_codes.size else 0)
    held = np.zeros(size, dtype=bool)  # the parents' codes, sorted and once each (cheaper than np.unique)
    held[parent_codes[parent_codes >= 0]] = True
    keys = np.flatnonzero(held)
    per = np.bincount(child_codes[child_codes >= 0], minlength=size)[keys] if keys.size else np.zeros(0, dtype=int)
    if not per.size:
        return PerParent(name, child.resource, 0, 0, 0, 0.0, 0)
    return PerParent(
        name,
        child.resource,
        int(per.size),
        int((per == 0).sum()),
        int(per.min()),
        float(np.median(per)),
        int(per.max()),
    )
