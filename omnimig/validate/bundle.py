"""Cross-file rules: unique keys, references and consistency, as ``datapackage.json`` declares them.

Several files of one type are one table here (``orders-2021.csv`` + ``orders-2022.csv``), but
every problem still points at its own file and row. The checks read only the key columns each
file kept while its field rules ran (``FileResult.keys``), never the files again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

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
    """All files of one type stacked: key columns plus ``_file`` and ``row``."""

    frame: pd.DataFrame
    files: list[str]


def _filled(series: pd.Series) -> pd.Series:
    """True where a key cell holds a value (not empty, not null)."""
    return series.notna() & series.astype("string").ne("").fillna(False)


def _tables(results: list[FileResult]) -> dict[str, _Table]:
    grouped: dict[str, list[FileResult]] = defaultdict(list)
    for r in results:
        if r.format is not None and r.keys is not None and r.type is not None:
            grouped[r.type].append(r)
    tables = {}
    for type_name, files in grouped.items():
        frames = [r.keys.assign(_file=r.path) for r in files]
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
        tables[type_name] = _Table(frame, [r.path for r in files])
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
        norm = key_series(frame, fields).dropna()
        if key.get("caseInsensitive"):
            norm = norm.str.lower()
        repeats = norm.duplicated(keep="first")
        if not repeats.any():
            continue
        firsts = norm[~repeats]
        first_at = pd.Series(firsts.index, index=firsts.to_numpy())
        label = " + ".join(fields)
        case = " (ignoring case)" if key.get("caseInsensitive") else ""
        for idx, value in norm[repeats].items():
            first = frame.loc[first_at[value]]
            shown = " + ".join(str(frame.at[idx, f]) for f in fields)
            sink.at(
                frame,
                idx,
                mtype.name,
                fields[0],
                "unique",
                "error",
                shown,
                f'{label} "{shorten(shown)}" is a duplicate{case}; it first appears in row {int(first["row"])} '
                f"of {first['_file']}",
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
    child = key_series(frame, fields)
    known = key_series(parent.frame, ref["fields"]).dropna()
    dangling = child.notna() & ~member(child, known)
    for idx in dangling[dangling].index:
        here = frame.loc[idx]
        value = child[idx]
        sink.add(
            here["_file"],
            mtype.name,
            int(here["row"]),
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


def key_series(frame: pd.DataFrame, fields: list[str]) -> pd.Series:
    """One comparable key per row (NA when any part is empty)."""
    filled = pd.Series(True, index=frame.index)
    for f in fields:
        filled &= _filled(frame[f])
    key = frame[fields[0]].astype("string")
    for f in fields[1:]:
        key = key + "\x1f" + frame[f].astype("string")
    return key.where(filled, pd.NA)


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
    pkey = key_series(pframe, fk["reference"]["fields"])
    first = ~pkey.duplicated(keep="first") & pkey.notna()
    lookup = pframe[first].set_index(pkey[first].to_numpy())
    ckey = key_series(frame, check["via"])
    linked = ckey.notna() & member(ckey, lookup.index.to_series())
    for mine, theirs in zip(check["fields"], ref["fields"], strict=True):
        here = frame[mine].astype("string")
        there = pd.Series(lookup[theirs].reindex(ckey[linked].to_numpy()).to_numpy(), index=ckey[linked].index)
        there = there.astype("string")
        a, b = here[linked], there
        if check.get("caseInsensitive"):
            a, b = a.str.lower(), b.str.lower()
        differs = _filled(here[linked]) & _filled(there) & a.ne(b).fillna(False)
        for idx in differs[differs].index:
            sink.at(
                frame,
                idx,
                mtype.name,
                mine,
                check["rule"],
                "warning",
                here[idx],
                f'{check["message"]}: "{shorten(here[idx])}" here, "{shorten(there[idx])}" for '
                f"{ref['resource']} {ckey[idx]} in {_where(parent.files)}",
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
    key = key_series(frame, check["fields"])
    used = key_series(children.frame, spec["fields"]).dropna()
    lonely = key.notna() & ~member(key, used)
    for idx in lonely[lonely].index:
        sink.at(
            frame,
            idx,
            mtype.name,
            check["fields"][0],
            check["rule"],
            "warning",
            key[idx],
            f'{check["message"]} ({check["fields"][0]} "{shorten(key[idx])}" is not referred to by '
            f"any row of {_where(children.files)})",
        )


def _cents(series: pd.Series) -> pd.Series:
    """Money text as whole cents; NA where the text is not a plain number (its own rule says so)."""
    text = series.astype("string")
    plain = text.str.fullmatch(NUMBER_TEXT).fillna(False).astype(bool)
    numbers = pd.to_numeric(text.where(plain).astype(object), errors="coerce")
    return (numbers * 100).round().astype("Int64")


def _covers_children(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    spec = check["children"]
    children = tables.get(spec["resource"])
    frame = table.frame
    needed = [*check["fields"], check["amount"]]
    if children is None or any(f not in frame for f in needed):
        return
    cframe = children.frame
    if any(f not in cframe for f in [*spec["fields"], spec["price"], spec["quantity"]]):
        return
    quantity = pd.to_numeric(cframe[spec["quantity"]].astype(object), errors="coerce")
    line = _cents(cframe[spec["price"]]).astype("Float64") * quantity
    ckey = key_series(cframe, spec["fields"])
    totals = line[ckey.notna()].groupby(ckey[ckey.notna()].to_numpy()).sum(min_count=1)
    key = key_series(frame, check["fields"])
    amount = _cents(frame[check["amount"]])
    no_discount = pd.Series(0, index=frame.index, dtype="Int64")
    discount = _cents(frame[check["discount"]]).fillna(0) if check.get("discount") in frame else no_discount
    expected = pd.Series(totals.reindex(key.to_numpy()).to_numpy(), index=frame.index).astype("Float64")
    tolerance = round(float(check.get("tolerance", "0.01")) * 100)
    short = (amount - (expected - discount)).lt(-tolerance).fillna(False)
    for idx in short[short].index:
        items = expected[idx] / 100
        disc = discount[idx] / 100
        sink.at(
            frame,
            idx,
            mtype.name,
            check["amount"],
            check["rule"],
            "warning",
            str(frame.loc[idx, check["amount"]]),
            f"{check['message']}: amount {amount[idx] / 100:.2f} < items {items:.2f} - discount {disc:.2f} "
            f"= {items - disc:.2f}",
        )
