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
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.exceptions import SchemaError
from omnimig.i18n import _
from omnimig.i18n import field as named
from omnimig.io.table import TEXT
from omnimig.schemas.rules import NUMBER_TEXT, MigrationType, line_column, migration_types, table_rules
from omnimig.validation.fields import Text, as_mask, text_array
from omnimig.validation.problem import FileResult, Problem, Severity, shorten
from omnimig.validation.stats import BundleStats, build, summary_specs

#: The rule of a cross-file rule that could not run (its other file is absent or unreadable, or a
#: key column is missing): a ``note``, since nothing was found wrong.
NOT_CHECKED = "not-checked"
#: The rule of a type missing under --require-all: an error of the bundle, in no file.
MISSING_FILE = "missing-file"


@dataclass
class BundleOutcome:
    """What the bundle checks find besides the problems of files: the bundle's own problems, and its summary.

    ``problems`` is the one list (``Problem`` with ``file == ""``): ``missing-file`` errors under
    --require-all and ``not-checked`` notes. ``notes``, ``errors`` and ``missing_required`` are views
    of it, kept for the callers that print lines.
    """

    problems: list[Problem] = field(default_factory=list)
    missing_types: list[str] = field(default_factory=list)
    # Types whose only files could not be read: notes say so instead of "the bundle has no … file".
    unreadable_types: set[str] = field(default_factory=set)
    # The bundle summary (rows per type, orders per status, totals per currency, …).
    stats: BundleStats | None = None

    @property
    def notes(self) -> list[str]:
        """The message of each ``note`` (a rule not checked)."""
        return [p.message for p in self.problems if p.severity == "note"]

    @property
    def errors(self) -> list[str]:
        """The message of each bundle error (a type missing under --require-all)."""
        return [p.message for p in self.problems if p.severity == "error"]

    @property
    def missing_required(self) -> list[str]:
        return [p.type or "" for p in self.problems if p.rule == MISSING_FILE]

    def add(self, type_name: str, rule: str, severity: Severity, message: str, fld: str | None = None) -> None:
        self.problems.append(Problem("", type_name, None, fld, rule, severity, None, message))

    def absent(self, name: str) -> str:
        """Why a type's rows are not there: no file, or a file that could not be read."""
        if name in self.unreadable_types:
            return _("the {type} file could not be read").format(type=name)
        return _("the bundle has no {type} file").format(type=name)

    def missing_problems(self) -> list[Problem]:
        """The --require-all errors (kept for callers of the former API; ``problems`` has them all)."""
        return [p for p in self.problems if p.rule == MISSING_FILE]


@dataclass
class _Table:
    """All files of one type stacked: key columns plus ``_file`` (categorical) and ``row``."""

    frame: pd.DataFrame
    files: list[str]
    type: str = ""
    domains: _Domains | None = None

    def text(self, name: str) -> Text:
        return text_array(self.frame[name])

    def key(self, fields: list[str]) -> Text:
        return key_array(self.frame, fields)

    def raw_key(self, fields: list[str]) -> Text:
        """The key text without masking (read it only at rows whose code is not -1)."""
        return raw_key(self.frame, fields)[0]

    def codes(self, fields: list[str]) -> tuple[np.ndarray, int]:
        """The key of each row as an integer (-1 for none), comparable across related keys."""
        assert self.domains is not None
        return self.domains.codes(self.type, fields)


Node = tuple[str, tuple[str, ...]]  # (type, key fields)


class _Domains:
    """Integer codes for key columns, one code space per group of keys that are compared.

    A referenced key and every key that refers to it (``order.number`` and
    ``order_item.order_number``; ``user.customer_code``, ``address.user`` and ``order.user``) are
    dictionary-encoded together in one pass, so each string is hashed once and every later
    check (unique, foreign key, has-children, covers-children, same-value) is numpy work on
    integers. Equal codes mean equal keys only within one group, and the checks compare keys
    only within one.
    """

    def __init__(self, tables: dict[str, _Table]) -> None:
        self.tables = tables
        self.parent: dict[Node, Node] = {}
        self.cache: dict[Node, tuple[np.ndarray, int]] = {}
        for t in migration_types():
            for fk in t.foreign_keys:
                self._join(
                    (t.name, tuple(fk["fields"])), (fk["reference"]["resource"], tuple(fk["reference"]["fields"]))
                )
            for check in t.consistency:
                if "children" in check:
                    spec = check["children"]
                    self._join((t.name, tuple(check["fields"])), (spec["resource"], tuple(spec["fields"])))
        for summary in summary_specs().values():  # the per-parent figures of the bundle summary
            for child in summary.children:
                self._join((summary.type, child.key), (child.resource, child.fields))

    def _root(self, node: Node) -> Node:
        while self.parent.setdefault(node, node) != node:
            node = self.parent[node]
        return node

    def _join(self, a: Node, b: Node) -> None:
        self.parent[self._root(a)] = self._root(b)

    def _usable(self, node: Node) -> bool:
        table = self.tables.get(node[0])
        return table is not None and all(f in table.frame for f in node[1])

    def groups(self) -> list[list[Node]]:
        """Every group of usable keys that ``codes`` would encode together, in the order it would."""
        found: dict[Node, list[Node]] = {}
        for node in list(self.parent):
            if self._usable(node):
                found.setdefault(self._root(node), []).append(node)
        return list(found.values())

    def warm(self, threads: int) -> None:
        """Encode every group now, the groups side by side on ``threads`` threads (the codes are the
        ones ``codes`` would make on demand: the same keys in the same order)."""
        todo = [g for g in self.groups() if any(n not in self.cache for n in g)]
        if len(todo) < 2 or threads < 2:
            return
        with ThreadPoolExecutor(max_workers=min(threads, len(todo)), thread_name_prefix="omnimig-encode") as pool:
            for done in pool.map(self._encode, todo):
                del done

    def codes(self, type_name: str, fields: list[str]) -> tuple[np.ndarray, int]:
        node = (type_name, tuple(fields))
        if node not in self.cache:
            root = self._root(node)
            group = [n for n in list(self.parent) if self._root(n) == root and self._usable(n)]
            self._encode(group if node in group else [node])
        return self.cache[node]

    def _encode(self, nodes: list[Node]) -> None:
        keys = [raw_key(self.tables[t].frame, list(fields)) for t, fields in nodes]
        codes, size = encode([k for k, _f in keys], [f for _k, f in keys])
        start = 0
        for node, (key, _filled) in zip(nodes, keys, strict=True):
            self.cache[node] = (codes[start : start + len(key)], size)
            start += len(key)


def encode(keys: list[Text], filled: list[np.ndarray] | None = None) -> tuple[np.ndarray, int]:
    """One integer per key of all ``keys`` end to end, equal for equal text; -1 for a null key
    or where ``filled`` is False. Returns the codes (int32) and an upper bound of them."""
    chunks: list[pa.Array] = []
    for key in keys:
        key = key if key.type == TEXT else pc.cast(key, TEXT)
        chunks.extend(key.chunks if isinstance(key, pa.ChunkedArray) else [key])
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=TEXT))
    codes = np.empty(sum(len(c) for c in chunks), dtype=np.int32)
    start = 0
    for chunk in encoded.chunks:
        indices = chunk.indices
        if indices.null_count:
            indices = pc.fill_null(indices, -1)
        codes[start : start + len(indices)] = indices.to_numpy(zero_copy_only=False)
        start += len(indices)
    del encoded
    if filled is not None:
        codes[~np.concatenate(filled)] = -1
    return codes, int(codes.max()) + 1 if codes.size else 0


def _release() -> None:
    """Hand the memory of the last check's temporary arrays back to the system.

    Arrow's allocator keeps freed memory for reuse; between checks that only raises the peak
    (on the 5x bundle the next encoding then comes on top of the last one's leftovers).
    """
    pa.default_memory_pool().release_unused()


def _first_rows(codes: np.ndarray, size: int) -> np.ndarray:
    """For each code, the position of its first row (-1 when no row has it)."""
    where = np.flatnonzero(codes >= 0)
    _values, first = np.unique(codes[where], return_index=True)
    first_row = np.full(size, -1, dtype=np.int64)
    first_row[codes[where[first]]] = where[first]
    return first_row


def _holds(codes: np.ndarray, size: int) -> np.ndarray:
    """For each code, whether some row has it."""
    held = np.zeros(size, dtype=bool)
    held[codes[codes >= 0]] = True
    return held


def _lookup(table: np.ndarray, codes: np.ndarray, missing: object) -> np.ndarray:
    """``table[code]`` for each code, ``missing`` where the code is -1."""
    if not len(table):
        return np.full(len(codes), missing)
    return np.where(codes >= 0, table[np.maximum(codes, 0)], missing)  # type: ignore[call-overload]


def _filled_mask(text: Text) -> np.ndarray:
    """True where a key cell holds a value (not empty, not null)."""
    return as_mask(pc.not_equal(text, ""))


def _tables(results: list[FileResult]) -> dict[str, _Table]:
    grouped: dict[str, list[FileResult]] = defaultdict(list)
    for r in results:
        if r.format is not None and r.keys is not None and r.type is not None:
            grouped[r.type].append(r)
    tables = {}
    for type_name, files in grouped.items():
        keys = [r.keys for r in files if r.keys is not None]  # every grouped file has them
        frame = pd.concat(keys, ignore_index=True) if len(keys) > 1 else keys[0].reset_index(drop=True)
        # One small code per row instead of the path repeated as text on every row.
        paths = [r.path for r in files]
        names = list(dict.fromkeys(paths))
        codes = np.repeat(np.array([names.index(p) for p in paths], dtype=np.int32), [len(k) for k in keys])
        frame = frame.assign(_file=pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object)))
        tables[type_name] = _Table(frame, paths, type_name)
    domains = _Domains(tables)
    for table in tables.values():
        table.domains = domains
    return tables


def _where(files: list[str]) -> str:
    """``a.csv or b.csv``: the files of one type, as a message names them."""
    shown = files[0] if files else ""
    for other in files[1:]:
        shown = _("{first} or {second}").format(first=shown, second=other)
    return shown


def _key_label(fields: list[str]) -> str:
    """The fields of a key as a message names them: ``number``, ``number (sipariş numarası)``, ``a + b``."""
    return " + ".join(named(f) for f in fields)


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
        self.by_path[file].problems.add(row, fld, rule, severity, shorten(value), message)


class _Recorded(_Sink):
    """A rule's problems and outcome notes, kept in the order the rule made them, to be handed to
    the real sink and outcome later: rules run side by side, their results go out in rule order,
    so the reports are the same as when the rules run one after another."""

    def __init__(self, sink: _Sink, outcome: BundleOutcome) -> None:
        self.by_path = sink.by_path
        self.touched = set()
        self.outcome = outcome
        self.problems: list[tuple[Any, ...]] = []
        self.notes: list[tuple[Any, ...]] = []

    def add(self, *problem: Any) -> None:
        self.problems.append(problem)

    # The part of ``BundleOutcome`` the rules use: notes are recorded, the rest is read.
    def absent(self, name: str) -> str:
        return self.outcome.absent(name)

    def note(self, *args: Any, **kw: Any) -> None:
        self.notes.append((args, kw))

    def replay(self, sink: _Sink, outcome: BundleOutcome) -> None:
        for problem in self.problems:
            sink.add(*problem)
        for args, kw in self.notes:
            outcome.add(*args, **kw)


class _NoteTaker:
    """What a rule sees as the outcome when it runs beside others: ``add`` goes to the record."""

    def __init__(self, record: _Recorded) -> None:
        self.record = record

    def add(self, *args: Any, **kw: Any) -> None:
        self.record.note(*args, **kw)

    def absent(self, name: str) -> str:
        return self.record.absent(name)


Rule = Callable[[_Sink, BundleOutcome], None]


def _recorded(rule: Rule, sink: _Sink, outcome: BundleOutcome) -> _Recorded:
    record = _Recorded(sink, outcome)
    rule(record, _NoteTaker(record))  # type: ignore[arg-type]
    _release()
    return record


def check_bundle(
    results: list[FileResult],
    require_all: bool = False,
    progress: Callable[[str, int, int], None] | None = None,
    unreadable_types: Iterable[str] = (),
    threads: int = 1,
) -> BundleOutcome:
    """Apply every cross-file rule to ``results`` in place (problems are appended and re-sorted).

    ``progress``, when given, is called as ``progress(step, steps done, steps)`` before each rule.
    With ``threads > 1`` the key groups are dictionary-encoded side by side and the rules run on a
    pool of that many threads (Arrow kernels and numpy release the GIL); each rule's problems are
    recorded and handed out in rule order, so the outcome does not depend on the thread count.
    """
    tables = _tables(results)
    sink = _Sink(results)
    outcome = BundleOutcome()
    types = migration_types()
    outcome.unreadable_types = {t for t in unreadable_types if t not in tables}
    present = set(tables)
    for mtype in types:
        if mtype.name not in present:
            outcome.missing_types.append(mtype.name)
    steps = sum(1 + len(m.foreign_keys) + len(m.consistency) for m in types if m.name in tables)
    done = 0

    def step(what: str) -> None:
        nonlocal done
        if progress is not None:
            progress(what, done, steps)
        done += 1

    rules: list[tuple[str, Rule]] = []
    for mtype in types:
        table = tables.get(mtype.name)
        if table is None:
            continue
        rules.append((_("{type}: unique keys").format(type=mtype.name), _as_rule(_unique, mtype, table)))
        for fk in mtype.foreign_keys:
            rules.append(
                (_("{type}: references").format(type=mtype.name), partial(_foreign_key, mtype, fk, table, tables))
            )
        for check in mtype.consistency:
            rules.append(
                (_("{type}: consistency").format(type=mtype.name), _as_rule(_consistency, mtype, check, table, tables))
            )
    if threads > 1 and len(rules) > 1 and tables:
        next(iter(tables.values())).domains.warm(threads)  # type: ignore[union-attr]
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="omnimig-bundle") as pool:
            running = [pool.submit(_recorded, rule, sink, outcome) for _what, rule in rules]
            for (what, _rule), future in zip(rules, running, strict=True):
                step(what)
                future.result().replay(sink, outcome)
    else:
        for what, rule in rules:
            step(what)
            rule(sink, outcome)
            _release()
    if progress is not None:
        progress(_("bundle rules"), steps, steps)
    if require_all:
        for name in outcome.missing_types:
            if name in outcome.unreadable_types:
                continue  # the file is there; its ``unreadable`` error already counts
            outcome.add(
                name,
                MISSING_FILE,
                "error",
                _("the bundle has no {type} file; --require-all needs all of {types}").format(
                    type=name, types=", ".join(t.name for t in types)
                ),
            )
    outcome.stats = build((r.tally for r in results if r.tally is not None), partial(_codes, tables))
    for path in sink.touched:
        r = sink.by_path[path]
        if r.problems.ordered:
            r.problems.flush()  # the engine's order already: the bundle's run is merged when read
        else:
            r.sort((*table_rules(r.type).names, *r.columns) if r.type else r.columns)
    return outcome


def _as_rule(check: Callable[..., None], *args: Any) -> Rule:
    """A rule that takes the sink but not the outcome, as a ``Rule``."""

    def rule(sink: _Sink, _outcome: BundleOutcome) -> None:
        check(*args, sink)

    return rule


def _codes(tables: dict[str, _Table], type_name: str, fields: list[str]) -> tuple[np.ndarray, int] | None:
    """The key codes of a type's rows for the bundle summary; None when the type or a column is absent."""
    table = tables.get(type_name)
    if table is None or any(f not in table.frame for f in fields):
        return None
    return table.codes(fields)


def _unique(mtype: MigrationType, table: _Table, sink: _Sink) -> None:
    keys: list[dict[str, Any]] = []
    if mtype.primary_key:
        keys.append({"fields": list(mtype.primary_key), "caseInsensitive": False})
    keys.extend(mtype.unique_keys)
    frame = table.frame
    for key in keys:
        fields = key["fields"]
        if any(f not in frame for f in fields):
            continue  # the file lacks the column; missing-column already says so
        if key.get("caseInsensitive"):
            text, filled = raw_key(frame, fields)
            codes, size = encode([pc.utf8_lower(text)], [filled])
        else:
            codes, size = table.codes(fields)
        # The codes may be shared with the keys that refer to this one: count only this table.
        first_row = _first_rows(codes, size)
        repeats = np.flatnonzero(_lookup(first_row, codes, -1) != np.arange(len(codes)))
        repeats = repeats[codes[repeats] >= 0]
        label = _key_label(fields)
        duplicate = (
            _('{key} "{value}" is a duplicate (ignoring case); it first appears in row {row} of {file}')
            if key.get("caseInsensitive")
            else _('{key} "{value}" is a duplicate; it first appears in row {row} of {file}')
        )
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
                duplicate.format(
                    key=label, value=shorten(shown), row=int(frame.at[first, "row"]), file=frame.at[first, "_file"]
                ),
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
        note = _("{rule} was not checked: {reason}").format(rule=label, reason=outcome.absent(ref["resource"]))
        outcome.add(mtype.name, NOT_CHECKED, "note", note, fields[0])
        return
    frame = table.frame
    if any(f not in frame for f in fields) or any(f not in parent.frame for f in ref["fields"]):
        reason = _("a key column is missing")
        outcome.add(
            mtype.name,
            NOT_CHECKED,
            "note",
            _("{rule} was not checked: {reason}").format(rule=label, reason=reason),
            fields[0],
        )
        return
    child, size = table.codes(fields)
    known = _holds(parent.codes(ref["fields"])[0], size)
    dangling = (child >= 0) & ~_lookup(known, child, False)
    if not dangling.any():
        return
    value_of = table.raw_key(fields)
    for idx in np.flatnonzero(dangling).tolist():
        value = value_of[idx].as_py()
        sink.at(
            frame,
            idx,
            mtype.name,
            fields[0],
            "foreign-key",
            "error",
            value,
            _('{field} "{value}" matches no {type} {key} in {files}').format(
                field=named(fields[0]),
                value=shorten(value),
                type=ref["resource"],
                key="+".join(ref["fields"]),
                files=_where(parent.files),
            ),
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


def raw_key(frame: pd.DataFrame, fields: list[str]) -> tuple[Text, np.ndarray]:
    """The key text of each row (parts joined by U+001F) and where every part holds a value.

    Kept apart so that the encodings need no null-masked copy of millions of keys: a row that
    is not filled simply gets no code.
    """
    parts = [text_array(frame[f]) for f in fields]
    filled = _filled_mask(parts[0])
    for part in parts[1:]:
        filled &= _filled_mask(part)
    key = parts[0] if len(parts) == 1 else pc.binary_join_element_wise(*parts, "\x1f")
    return key, filled


def key_array(frame: pd.DataFrame, fields: list[str]) -> Text:
    """One comparable key per row as Arrow text (null when any part is empty or null)."""
    key, filled = raw_key(frame, fields)
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
    codes, size = table.codes(check["via"])
    first_row = _lookup(_first_rows(parent.codes(fk["reference"]["fields"])[0], size), codes, -1)
    linked = first_row >= 0
    if not linked.any():
        return
    at = pa.array(np.where(linked, first_row, 0))
    ckey = table.raw_key(check["via"])
    for mine, theirs in zip(check["fields"], ref["fields"], strict=True):
        here = table.text(mine)
        there = pc.take(parent.text(theirs), at)
        differs = linked & _filled_mask(here) & _filled_mask(there) & as_mask(pc.not_equal(here, there))
        if check.get("caseInsensitive") and differs.any():
            # Equal text is equal in any case: only the few that differ are lower-cased.
            idx = pa.array(np.flatnonzero(differs))
            same = as_mask(pc.equal(pc.utf8_lower(pc.take(here, idx)), pc.utf8_lower(pc.take(there, idx))))
            differs[idx.to_numpy()[same]] = False
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
                _('{message}: "{mine}" here, "{theirs}" for {type} {key} in {files}').format(
                    message=_(check["message"]),
                    mine=shorten(mine_value),
                    theirs=shorten(their_value),
                    type=ref["resource"],
                    key=ckey[idx].as_py(),
                    files=_where(parent.files),
                ),
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
    codes, size = table.codes(check["fields"])
    used = _holds(children.codes(spec["fields"])[0], size)
    lonely = (codes >= 0) & ~_lookup(used, codes, False)
    if not lonely.any():
        return
    key = table.raw_key(check["fields"])
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
            _('{message} ({field} "{value}" is not referred to by any row of {files})').format(
                message=_(check["message"]),
                field=named(check["fields"][0]),
                value=shorten(value),
                files=_where(children.files),
            ),
        )


def _numbers(text: Text) -> np.ndarray:
    """Numeric text as float64, NaN where it is not a number (as ``pandas.to_numeric`` coerces).

    Plain decimal text, nearly every cell, is cast by Arrow; the few other non-empty cells go
    through ``pandas.to_numeric`` so that what it accepted before (" 3", "1e3") still counts.
    """
    plain = as_mask(pc.match_substring_regex(text, NUMBER_TEXT))
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
    plain = as_mask(pc.match_substring_regex(text, NUMBER_TEXT))
    numbers = pc.cast(pc.if_else(pa.array(plain), text, "0"), pa.float64()).to_numpy(zero_copy_only=False)
    return np.where(plain, np.round(numbers * 100), np.nan)


def line_amounts(price: Text, quantity: Text) -> np.ndarray:
    """Each row's price x quantity in cents (float64), NaN where either is not a number.

    The one definition of a line's amount for the covers-children check: ``run`` keeps it per
    row of a child file (``rules.line_column``) instead of the price and quantity text.
    """
    return _cents(price) * _numbers(quantity)


def _covers_children(
    mtype: MigrationType, check: dict[str, Any], table: _Table, tables: dict[str, _Table], sink: _Sink
) -> None:
    spec = check["children"]
    children = tables.get(spec["resource"])
    frame = table.frame
    needed = [*check["fields"], check["amount"]]
    if children is None or any(f not in frame for f in needed):
        return
    kept = line_column(spec["price"], spec["quantity"])
    if any(f not in children.frame for f in [*spec["fields"], kept]):
        return
    codes, size = table.codes(check["fields"])
    # Sum of price x quantity per key: child rows are summed by key code with bincount; a key
    # whose lines all lack a number has no total. The line amounts were worked out as each child
    # file was read (``line_amounts``).
    line = children.frame[kept].to_numpy(dtype=np.float64, na_value=np.nan)
    child_codes = children.codes(spec["fields"])[0]
    counted = (child_codes >= 0) & ~np.isnan(line)
    totals = np.bincount(child_codes[counted], weights=line[counted], minlength=size)
    lines = np.bincount(child_codes[counted], minlength=size)
    expected = _lookup(np.where(lines > 0, totals, np.nan), codes, np.nan)
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
            _("{message}: amount {amount} < items {items} - discount {discount} = {expected}").format(
                message=_(check["message"]),
                amount=f"{amount[idx] / 100:.2f}",
                items=f"{items:.2f}",
                discount=f"{disc:.2f}",
                expected=f"{items - disc:.2f}",
            ),
        )
