"""Cross-file rules: unique keys, references and consistency, as ``datapackage.json`` declares them.

Several files of one type are one table here (``orders-2021.csv`` + ``orders-2022.csv``), but
every problem still points at its own file and row. The checks read only the key columns each
file kept while its field rules ran (``FileResult.keys``), never the files again.

The keys stay Arrow strings throughout: membership, lookups and first occurrences go through
``pyarrow.compute`` (``is_in``, ``index_in``, ``unique``) and numpy on their integer results, so
no Python object is made for a key that passes; only the rows with a problem are looked at in
Python. (pandas' own ``isin``, ``reindex`` and ``groupby`` on these columns turned millions of
keys into Python strings and dominated the run on a 4.8M-row bundle.)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.validate.problem import FileResult, Problem, Severity, shorten
from omnimig.validate.rules import NUMBER_TEXT, MigrationType, SchemaError, migration_types, table_rules


@dataclass
class BundleOutcome:
    """What the bundle checks add besides problems: notes about what could not be checked."""

    notes: list[str] = field(default_factory=list)
    missing_types: list[str] = field(default_factory=list)
    # Bundle-level errors that belong to no file (a type missing under --require-all).
    errors: list[str] = field(default_factory=list)
    missing_required: list[str] = field(default_factory=list)

    def missing_problems(self) -> list[Problem]:
        """The --require-all errors as problems of no file, for one-problem-per-line renderings."""
        return [
            Problem("", name, None, None, "missing-file", "error", None, message)
            for name, message in zip(self.missing_required, self.errors, strict=True)
        ]


@dataclass
class _Table:
    """All files of one type stacked: key columns plus ``_file`` (categorical) and ``row``."""

    frame: pd.DataFrame
    files: list[str]

    def text(self, name: str) -> pa.Array | pa.ChunkedArray:
        return _arrow(self.frame[name])

    def key(self, fields: list[str]) -> pa.Array | pa.ChunkedArray:
        return key_array(self.frame, fields)


Text = pa.Array | pa.ChunkedArray


def _arrow(series: pd.Series) -> Text:
    """A column as Arrow text without copying it (the kept key columns are ``string[pyarrow]``)."""
    if not (isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow"):
        series = series.astype("string[pyarrow]")
    return pa.array(series)


def _mask(result: Text) -> np.ndarray:
    """An Arrow boolean result as a numpy mask, null counted as False."""
    return np.asarray(pc.fill_null(result, False).to_numpy(zero_copy_only=False), dtype=bool)


def _filled_mask(text: Text) -> np.ndarray:
    """True where a key cell holds a value (not empty, not null)."""
    return _mask(pc.not_equal(text, ""))


def _tables(results: list[FileResult]) -> dict[str, _Table]:
    grouped: dict[str, list[FileResult]] = defaultdict(list)
    for r in results:
        if r.format is not None and r.keys is not None and r.type is not None:
            grouped[r.type].append(r)
    tables = {}
    for type_name, files in grouped.items():
        keys = [r.keys for r in files]
        frame = pd.concat(keys, ignore_index=True) if len(keys) > 1 else keys[0].reset_index(drop=True)
        # One small code per row instead of the path repeated as text on every row.
        paths = [r.path for r in files]
        names = list(dict.fromkeys(paths))
        codes = np.repeat(np.array([names.index(p) for p in paths], dtype=np.int32), [len(k) for k in keys])
        frame = frame.assign(_file=pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)))
        tables[type_name] = _Table(frame, paths)
    return tables


def _where(files: list[str]) -> str:
    return " or ".join(files)


class _Sink:
    def __init__(self, results: list[FileResult]) -> None:
        self.by_path = {r.path: r for r in results}
        self.touched: set[str] = set()

    def at(
        self,
        frame: pd.DataFrame,
        idx: object,
        type_name: str,
        fld: str | None,
        rule: str,
        severity: Severity,
        value: str | None,
        message: str,
    ) -> None:
        """A problem at the file and row that row ``idx`` of a stacked key table came from."""
        self.add(str(frame.at[idx, "_file"]), type_name, int(frame.at[idx, "row"]), fld, rule, severity, value, message)

    def add(
        self,
        file: str,
        type_name: str,
        row: int,
        fld: str | None,
        rule: str,
        severity: Severity,
        value: str | None,
        message: str,
    ) -> None:
        self.touched.add(file)
        self.by_path[file].problems.append(Problem(file, type_name, row, fld, rule, severity, shorten(value), message))


def check_bundle(results: list[FileResult], require_all: bool = False) -> BundleOutcome:
    """Apply every cross-file rule to ``results`` in place (problems are appended and re-sorted)."""
    tables = _tables(results)
    sink = _Sink(results)
    outcome = BundleOutcome()
    types = migration_types()
    present = set(tables)
    for mtype in types:
        if mtype.name not in present:
            outcome.missing_types.append(mtype.name)
    for mtype in types:
        table = tables.get(mtype.name)
        if table is None:
            continue
        _unique(mtype, table, sink)
        for fk in mtype.foreign_keys:
            _foreign_key(mtype, fk, table, tables, sink, outcome)
        for check in mtype.consistency:
            _consistency(mtype, check, table, tables, sink)
    if require_all:
        for name in outcome.missing_types:
            outcome.missing_required.append(name)
            outcome.errors.append(
                f"the bundle has no {name} file; --require-all needs all of {', '.join(t.name for t in types)}"
            )
    for path in sink.touched:
        r = sink.by_path[path]
        r.sort((*table_rules(r.type).names, *r.columns) if r.type else r.columns)
    return outcome


def _first_rows(key: Text) -> tuple[pa.Array, np.ndarray]:
    """The distinct non-null keys and, for each, the position of its first row."""
    distinct = pc.unique(key).drop_null()
    codes = pc.fill_null(pc.index_in(key, value_set=distinct, skip_nulls=True), -1).to_numpy(zero_copy_only=False)
    where = np.flatnonzero(codes >= 0)
    _, first = np.unique(codes[where], return_index=True)
    first_row = np.full(len(distinct), -1, dtype=np.int64)
    first_row[codes[where[first]]] = where[first]
    return distinct, first_row


def _codes(key: Text, distinct: pa.Array) -> np.ndarray:
    """Position of each key in ``distinct``; -1 for a null key or one not in ``distinct``."""
    found = pc.index_in(key, value_set=distinct, skip_nulls=True)
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def _unique(mtype: MigrationType, table: _Table, sink: _Sink) -> None:
    keys = []
    if mtype.primary_key:
        keys.append({"fields": list(mtype.primary_key), "caseInsensitive": False})
    keys.extend(mtype.unique_keys)
    frame = table.frame
    for key in keys:
        fields = key["fields"]
        if any(f not in frame for f in fields):
            continue  # the file lacks the column; missing-column already says so
        norm = table.key(fields)
        if key.get("caseInsensitive"):
            norm = pc.utf8_lower(norm)
        distinct, first_row = _first_rows(norm)
        if len(distinct) == len(norm) - norm.null_count:
            continue  # every key once
        codes = _codes(norm, distinct)
        has = codes >= 0
        repeats = np.flatnonzero(has & (first_row[np.where(has, codes, 0)] != np.arange(len(codes))))
        label = " + ".join(fields)
        case = " (ignoring case)" if key.get("caseInsensitive") else ""
        for idx in repeats.tolist():
            first = int(first_row[codes[idx]])
            shown = " + ".join(str(frame.at[idx, f]) for f in fields)
            sink.at(
                frame,
                idx,
                mtype.name,
                fields[0],
                "unique",
                "error",
                shown,
                f'{label} "{shorten(shown)}" is a duplicate{case}; it first appears in row '
                f"{int(frame.at[first, 'row'])} of {frame.at[first, '_file']}",
            )


def _foreign_key(
    mtype: MigrationType,
    fk: dict[str, Any],
    table: _Table,
    tables: dict[str, _Table],
    sink: _Sink,
    outcome: BundleOutcome,
) -> None:
    fields, ref = fk["fields"], fk["reference"]
    parent = tables.get(ref["resource"])
    label = f"{mtype.name}.{'+'.join(fields)} -> {ref['resource']}.{'+'.join(ref['fields'])}"
    if parent is None:
        outcome.notes.append(f"{label} was not checked: the bundle has no {ref['resource']} file")
        return
    frame = table.frame
    if any(f not in frame for f in fields) or any(f not in parent.frame for f in ref["fields"]):
        outcome.notes.append(f"{label} was not checked: a key column is missing")
        return
    child = table.key(fields)
    known = parent.key(ref["fields"])
    dangling = _mask(pc.is_valid(child)) & ~_mask(pc.is_in(child, value_set=pc.unique(known).drop_null()))
    for idx in np.flatnonzero(dangling).tolist():
        value = child[idx].as_py()
        sink.at(
            frame,
            idx,
            mtype.name,
            fields[0],
            "foreign-key",
            "error",
            value,
            f'{fields[0]} "{shorten(value)}" matches no {ref["resource"]} {"+".join(ref["fields"])} '
            f"in {_where(parent.files)}",
        )


def member(series: pd.Series, values: pd.Series | Iterable[str]) -> pd.Series:
    """``series.isin(values)`` through ``pyarrow.compute.is_in``.

    pandas' own ``isin`` on Arrow strings turns every value of a large key set into a Python
    object first, which dominated the bundle checks (about 17 of 43 s on a 4.8M-row bundle).
    """
    left = pa.array(series.astype("string[pyarrow]"))
    right = pa.array(pd.Series(list(values) if not isinstance(values, pd.Series) else values, dtype="string[pyarrow]"))
    hit = pc.fill_null(pc.is_in(left, value_set=pc.cast(right.drop_null(), left.type)), False)
    return pd.Series(hit.to_numpy(zero_copy_only=False), index=series.index)


def key_array(frame: pd.DataFrame, fields: list[str]) -> Text:
    """One comparable key per row as Arrow text (null when any part is empty or null)."""
    parts = [_arrow(frame[f]) for f in fields]
    filled = _filled_mask(parts[0])
    for part in parts[1:]:
        filled &= _filled_mask(part)
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    if filled.all():
        return key
    return pc.if_else(pa.array(filled), key, pa.scalar(None, key.type))


def key_series(frame: pd.DataFrame, fields: list[str]) -> pd.Series:
    """One comparable key per row (NA when any part is empty)."""
    key = key_array(frame, fields)
    chunked = pa.chunked_array([key]) if isinstance(key, pa.Array) else key
    return pd.Series(pd.arrays.ArrowStringArray(chunked), index=frame.index)


def _consistency(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    kind = check["check"]
    if kind == "same-value":
        _same_value(mtype, check, table, tables, sink)
    elif kind == "has-children":
        _has_children(mtype, check, table, tables, sink)
    elif kind == "covers-children":
        _covers_children(mtype, check, table, tables, sink)
    else:
        raise SchemaError(f"datapackage.json: unknown consistency check {kind!r} on {mtype.name}")


def _fk_for(mtype: MigrationType, via: list[str]) -> dict[str, Any]:
    for fk in mtype.foreign_keys:
        if fk["fields"] == via:
            return fk
    raise SchemaError(f"datapackage.json: {mtype.name} has no foreign key on {via}")


def _same_value(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    fk = _fk_for(mtype, check["via"])
    ref = check["reference"]
    parent = tables.get(ref["resource"])
    frame = table.frame
    needed = [*check["via"], *check["fields"]]
    if parent is None or any(f not in frame for f in needed):
        return
    pframe = parent.frame
    if any(f not in pframe for f in [*fk["reference"]["fields"], *ref["fields"]]):
        return
    # Each child row is compared with the first parent row that has its key.
    distinct, first_row = _first_rows(parent.key(fk["reference"]["fields"]))
    ckey = table.key(check["via"])
    codes = _codes(ckey, distinct)
    linked = codes >= 0
    at = pa.array(first_row[np.where(linked, codes, 0)]) if len(first_row) else None
    for mine, theirs in zip(check["fields"], ref["fields"], strict=True):
        here = table.text(mine)
        if at is None:
            continue
        there = pc.take(parent.text(theirs), at)
        a, b = (pc.utf8_lower(here), pc.utf8_lower(there)) if check.get("caseInsensitive") else (here, there)
        differs = linked & _filled_mask(here) & _filled_mask(there) & _mask(pc.not_equal(a, b))
        for idx in np.flatnonzero(differs).tolist():
            mine_value, their_value = here[idx].as_py(), there[idx].as_py()
            sink.at(
                frame,
                idx,
                mtype.name,
                mine,
                check["rule"],
                "warning",
                mine_value,
                f'{check["message"]}: "{shorten(mine_value)}" here, "{shorten(their_value)}" for '
                f"{ref['resource']} {ckey[idx].as_py()} in {_where(parent.files)}",
            )


def _has_children(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    spec = check["children"]
    children = tables.get(spec["resource"])
    frame = table.frame
    if children is None or any(f not in frame for f in check["fields"]):
        return
    if any(f not in children.frame for f in spec["fields"]):
        return
    key = table.key(check["fields"])
    used = pc.unique(children.key(spec["fields"])).drop_null()
    lonely = _mask(pc.is_valid(key)) & ~_mask(pc.is_in(key, value_set=used))
    for idx in np.flatnonzero(lonely).tolist():
        value = key[idx].as_py()
        sink.at(
            frame,
            idx,
            mtype.name,
            check["fields"][0],
            check["rule"],
            "warning",
            value,
            f'{check["message"]} ({check["fields"][0]} "{shorten(value)}" is not referred to by '
            f"any row of {_where(children.files)})",
        )


def _numbers(text: Text) -> np.ndarray:
    """Numeric text as float64, NaN where it is not a number (as ``pandas.to_numeric`` coerces).

    Plain decimal text, nearly every cell, is cast by Arrow; the few other non-empty cells go
    through ``pandas.to_numeric`` so that what it accepted before (" 3", "1e3") still counts.
    """
    plain = _mask(pc.match_substring_regex(text, NUMBER_TEXT))
    numbers = pc.cast(pc.if_else(pa.array(plain), text, "0"), pa.float64()).to_numpy(zero_copy_only=False)
    numbers = np.where(plain, numbers, np.nan)
    other = np.flatnonzero(~plain & _filled_mask(text))
    if other.size:
        values = pc.take(text, pa.array(other)).to_pylist()
        numbers[other] = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype=float)
    return numbers


def _cents(text: Text) -> np.ndarray:
    """Money text as whole cents (float64); NaN where the text is not a plain number (its own
    rule says so)."""
    plain = _mask(pc.match_substring_regex(text, NUMBER_TEXT))
    numbers = pc.cast(pc.if_else(pa.array(plain), text, "0"), pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(plain, np.round(numbers * 100), np.nan)


def _covers_children(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    spec = check["children"]
    children = tables.get(spec["resource"])
    frame = table.frame
    needed = [*check["fields"], check["amount"]]
    if children is None or any(f not in frame for f in needed):
        return
    if any(f not in children.frame for f in [*spec["fields"], spec["price"], spec["quantity"]]):
        return
    key = table.key(check["fields"])
    distinct = pc.unique(key).drop_null()
    # Sum of price x quantity per parent key: child rows are mapped to the parent's distinct
    # keys and summed with bincount; a key whose lines all lack a number has no total.
    line = _cents(children.text(spec["price"])) * _numbers(children.text(spec["quantity"]))
    child_codes = _codes(children.key(spec["fields"]), distinct)
    counted = (child_codes >= 0) & ~np.isnan(line)
    totals = np.bincount(child_codes[counted], weights=line[counted], minlength=len(distinct))
    lines = np.bincount(child_codes[counted], minlength=len(distinct))
    totals = np.where(lines > 0, totals, np.nan)
    codes = _codes(key, distinct)
    expected = np.where(codes >= 0, totals[np.where(codes >= 0, codes, 0)] if len(totals) else np.nan, np.nan)
    amount = _cents(table.text(check["amount"]))
    discount = np.zeros(len(frame))
    if check.get("discount") in frame:
        discount = np.nan_to_num(_cents(table.text(check["discount"])), nan=0.0)
    tolerance = round(float(check.get("tolerance", "0.01")) * 100)
    with np.errstate(invalid="ignore"):
        short = (amount - (expected - discount)) < -tolerance
    for idx in np.flatnonzero(short).tolist():
        items = expected[idx] / 100
        disc = discount[idx] / 100
        sink.at(
            frame,
            idx,
            mtype.name,
            check["amount"],
            check["rule"],
            "warning",
            str(frame.at[idx, check["amount"]]),
            f"{check['message']}: amount {amount[idx] / 100:.2f} < items {items:.2f} - discount {disc:.2f} "
            f"= {items - disc:.2f}",
        )
