"""What a transform source produces: target records that remember the input rows they came from.

Every input row must end in exactly one place (written, merged or rejected), so each record
carries its origin row and the rows folded into it, and a source declares every row it read.
The fates are decided only at the end, after the rules have had their say, because a record a
source built can still be rejected (a value too long) and take its dependants with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from operator import itemgetter, methodcaller
from typing import overload

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.i18n import N_, _, number
from omnimig.schemas.rules import migration_types, table_rules

#: The target types in the order Akinon imports them.
TARGETS = ("user", "address", "order", "order_item")


@dataclass(frozen=True, order=True, slots=True)
class Origin:
    """One input row: the spreadsheet row (header = 1) of a table, or the 1-based record of JSON.

    ``unit`` names what a row is in that input, because a JSON orders export has two kinds of
    rows a person counts: the orders and the order lines inside them.
    """

    file: str
    row: int
    unit: str = "row"
    part: int = 0  # position inside the row's record (an order line inside an order), 0 otherwise

    def where(self) -> str:
        if self.part:
            return _("{file} record {row}, line {part}").format(file=self.file, row=self.row, part=self.part)
        shown = _("{file} record {row}") if self.unit != "row" else _("{file} row {row}")
        return shown.format(file=self.file, row=self.row)


@dataclass(slots=True)
class Record:
    """One row of a target file, as text; ``""`` is empty."""

    type: str
    values: dict[str, str]
    origin: Origin
    merged: list[Origin] = field(default_factory=list)
    # False for a record a row yields on the side (the buyer and addresses of an order row): the
    # row counts as written only when its own record (the order, the item) is.
    primary: bool = True
    # The record this one is part of (an item's order): a repeated order that is merged or refused
    # takes its own items with it, though they name the same order number as the first one's.
    parent: Record | None = field(default=None, repr=False, compare=False)
    # (field, reason) when the source already knows the record cannot be written (a value it could
    # not read): the record still counts as seen, and ``finish`` rejects it with its dependants.
    refused: tuple[str, str] | None = None

    def get(self, name: str) -> str:
        return self.values.get(name) or ""

    def label(self) -> str:
        """How a person names this record: ``order 100236``, ``user 50052``, ``item of order 100236``.

        The key fields come from ``datapackage.json`` (primary key, else the first reference), so a
        record is named by what identifies it in Akinon, not by where it came from.
        """
        return record_label(self.type, self.values)


def columns(records: list[Record], names: tuple[str, ...] | list[str]) -> list[list[str]]:
    """The values of ``names`` of each record, a list per field (``""`` where a record has none).

    One C-level pass per field (``map`` over the dicts) instead of a Python expression per cell:
    the rule checks, the spill and the writers build their frames from these.
    """
    dicts = [r.values for r in records]
    out = []
    for name in names:
        column = list(map(methodcaller("get", name, ""), dicts))
        if None in column:
            column = [v or "" for v in column]
        out.append(column)
    return out


NOUNS = {"user": "user", "address": "address", "order": "order", "order_item": "item"}
PLURALS = {"user": N_("users"), "address": N_("addresses"), "order": N_("orders"), "order_item": N_("order items")}
#: ``{n} rows read`` per unit of an input (a JSON orders export counts its orders and their lines).
READ = {"row": N_("{n} rows read"), "order": N_("{n} orders read"), "order line": N_("{n} order lines read")}


def record_label(type_name: str, values: dict[str, str]) -> str:
    """``order 100236``; ``item of order 100236``; ``address of user 50052``; ``order (no number)``."""
    noun = NOUNS.get(type_name, type_name)
    if not type_name:
        return ""
    mtype = next((m for m in migration_types() if m.name == type_name), None)
    if mtype is None:
        return noun
    if mtype.primary_key:
        key = ", ".join(values.get(f) or "" for f in mtype.primary_key)
        return f"{noun} {key}" if key.strip(", ") else f"{noun} (no {', '.join(mtype.primary_key)})"
    for fk in mtype.foreign_keys:
        key = ", ".join(values.get(f) or "" for f in fk["fields"])
        if key.strip(", "):
            return f"{noun} of {NOUNS.get(fk['reference']['resource'], fk['reference']['resource'])} {key}"
    named = [f for fk in mtype.foreign_keys for f in fk["fields"]]
    return f"{noun} (no {', '.join(named)})" if named else noun


@dataclass(frozen=True, slots=True)
class Reject:
    """A target record (or a whole input row that made none) that was not written, and why.

    One per record: ``rows`` are every input row the record was made of (its origin first), so
    the row accounting can tell that each of them has a reason.
    """

    origin: Origin
    type: str  # the target type, or "" when the row produced nothing at all
    field: str
    reason: str
    record: str = ""  # the record's label (``order 100236``); "" for a row that made no record
    rows: tuple[Origin, ...] = ()

    def all_rows(self) -> tuple[Origin, ...]:
        return self.rows or (self.origin,)


@dataclass(frozen=True, slots=True)
class Change:
    """A value changed on the way that a person may need to know: before, after, and what kind.

    ``code`` is short kebab-case, counted in the summary (``currency-alias``, ``unit-stripped``,
    ``status-unconfirmed``, ``default-used``, ``date-joined-fallback``, ``truncated``...).
    """

    origin: Origin
    type: str
    field: str
    code: str
    message: str
    before: str = ""
    after: str = ""
    record: str = ""


class ChangeLog(Sequence[Change]):
    """The changes of a finished run, held as Arrow columns: a ``Sequence`` of ``Change`` for the result.

    A million-order run lists some 750,000 changes; as ``Change`` objects (each with its
    ``Origin`` and strings) they were a few hundred megabytes still held while the written files
    were validated, the run's peak. Here they cost about their text: each ``Change`` is made again
    (equal to the one logged) when it is read, and the summary counts codes without making any.
    """

    _TEXT = ("type", "field", "code", "message", "before", "after", "record")
    _FEW = frozenset({"file", "unit", "type", "field", "code"})  # few distinct values: dictionary-encoded
    _SLICE = 10_000  # changes made at a time when iterating

    def __init__(self, changes: Sequence[Change] = ()) -> None:
        origins = [c.origin for c in changes]
        arrays = {
            "file": pa.array([o.file for o in origins], pa.string()),
            "row": pa.array([o.row for o in origins], pa.int64()),
            "unit": pa.array([o.unit for o in origins], pa.string()),
            "part": pa.array([o.part for o in origins], pa.int64()),
        }
        for name in self._TEXT:
            arrays[name] = pa.array([getattr(c, name) for c in changes], pa.string())
        self._table = pa.table({n: a.dictionary_encode() if n in self._FEW else a for n, a in arrays.items()})

    @classmethod
    def _of(cls, table: pa.Table) -> ChangeLog:
        log = cls.__new__(cls)
        log._table = table
        return log

    @classmethod
    def joined(cls, parts: Sequence[ChangeLog]) -> ChangeLog:
        """One log of ``parts``, in the order given (a streamed run compacts its changes a batch at a time)."""
        if not parts:
            return cls()
        return cls._of(pa.concat_tables([p._table for p in parts]).unify_dictionaries())

    def take(self, positions: pa.Array) -> ChangeLog:
        """The changes at ``positions`` (Arrow integers), in that order."""
        return self._of(self._table.take(positions))

    def in_file_order(self, order: dict[str, int]) -> Iterator[Change]:
        """The changes sorted as ``changes.csv`` lists them: by input (``order``), row and line, then as logged.

        Sorted by Arrow on the columns, so a million changes are never a million Python sort keys.
        """
        return iter(self.sorted_by_file(order))

    def sorted_by_file(self, order: dict[str, int]) -> ChangeLog:
        """``in_file_order`` as a log, whose ``columns`` a writer can take without making a ``Change`` each."""
        if not len(self):
            return self
        files = self._table.column("file").combine_chunks()
        ranks = pa.array([order.get(name, 0) for name in files.dictionary.to_pylist()], pa.int64()).take(files.indices)
        keys = pa.table(
            {
                "rank": ranks,
                "row": self._table.column("row"),
                "part": self._table.column("part"),
                "logged": pa.array(range(len(self)), pa.int64()),
            }
        )
        return self.take(pc.sort_indices(keys, [(n, "ascending") for n in keys.column_names]))

    def columns(self) -> dict[str, pa.Array]:
        """Each field of the changes as one Arrow array (``file``, ``row``, ``unit``, ``part``, then ``_TEXT``),
        in log order: text columns as plain strings."""
        out = {}
        for name in self._table.column_names:
            column = self._table.column(name).combine_chunks()
            out[name] = column.cast(pa.string()) if name in self._FEW else column
        return out

    def __len__(self) -> int:
        return self._table.num_rows

    @overload
    def __getitem__(self, index: int) -> Change: ...

    @overload
    def __getitem__(self, index: slice) -> list[Change]: ...

    def __getitem__(self, index: int | slice) -> Change | list[Change]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("change index out of range")
        return self._made(self._table.slice(index, 1))[0]

    def __iter__(self) -> Iterator[Change]:
        for start in range(0, len(self), self._SLICE):
            yield from self._made(self._table.slice(start, self._SLICE))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<ChangeLog of {len(self)} changes>"

    def codes(self) -> Counter[str]:
        """How many changes of each code, in the order each code first appears (as ``Counter`` of a list)."""
        column = self._table.column("code").combine_chunks()
        if not len(column):
            return Counter()
        # A joined or reordered log's dictionary is not in the order codes appear: order by first place.
        codes, first, counts = np.unique(column.indices.to_numpy(), return_index=True, return_counts=True)
        names = column.dictionary.to_pylist()
        return Counter({names[codes[i]]: int(counts[i]) for i in np.argsort(first, kind="stable")})

    @staticmethod
    def _made(part: pa.Table) -> list[Change]:
        c = {name: part.column(name).to_pylist() for name in part.column_names}
        origins = map(Origin, c["file"], c["row"], c["unit"], c["part"])
        return list(map(Change, origins, *(c[name] for name in ChangeLog._TEXT)))


class Lines:
    """Records of one type a streamed source made as values, not ``Record`` objects: orders, their items,
    the addresses an order row names.

    Why: a million-order export makes some three million orders and items; each was a ``Record``,
    its dict and its origin, read field by field into Arrow columns again by the rules, the spill
    and the writers. Here a record is a tuple of its values in schema order, its origin row and its
    parent (a ``LineRef`` to its order's line, or a ``Record``); ``table`` hands the rules and the
    spill Arrow columns at once, and ``as_records`` makes the ``Record`` objects a whole run (or a
    batch the rules must look at record by record) needs. A field a record's values lack is empty,
    as ``Record.get`` reads it.
    """

    def __init__(self, type_name: str) -> None:
        self.type = type_name
        self.names: tuple[str, ...] = tuple(table_rules(type_name).names)
        self._get = itemgetter(*self.names) if len(self.names) > 1 else None
        self.values: list[tuple[str, ...]] = []
        self.origins: list[Origin] = []
        self.parents: list[Record | LineRef | None] = []
        # Where each would stand among the ``Record`` objects of its batch (``len(pending)`` when
        # added), and among the lines of every type (``Draft.lined`` when added).
        self.at: list[int] = []
        self.seq: list[int] = []
        self.primary: list[bool] = []  # ``Record.primary``: False for a record a row yields on the side

    def __len__(self) -> int:
        return len(self.values)

    def add(
        self,
        values: dict[str, str],
        origin: Origin,
        parent: Record | LineRef | None,
        at: int,
        seq: int,
        primary: bool = True,
    ) -> LineRef:
        try:
            row = self._get(values) if self._get is not None else tuple(values.get(n) or "" for n in self.names)
        except KeyError:
            row = tuple(values.get(n) or "" for n in self.names)
        self.values.append(row)
        self.origins.append(origin)
        self.parents.append(parent)
        self.at.append(at)
        self.seq.append(seq)
        self.primary.append(primary)
        return LineRef(self, len(self.values) - 1)

    def values_of(self, i: int) -> dict[str, str]:
        return dict(zip(self.names, self.values[i], strict=True))

    def label(self, i: int) -> str:
        """``Record.label`` of line ``i``."""
        return record_label(self.type, self.values_of(i))

    def table(self) -> pa.Table:
        """The values as Arrow string columns, schema order."""
        columns = list(zip(*self.values, strict=True)) if self.values else [() for _ in self.names]
        return pa.table([pa.array(column, pa.string()) for column in columns], names=list(self.names))


class LineRef:
    """A line of a ``Lines``: what an item names as its order when the order is a line too."""

    __slots__ = ("index", "lines")

    def __init__(self, lines: Lines, index: int) -> None:
        self.lines = lines
        self.index = index

    def label(self) -> str:
        return self.lines.label(self.index)


def as_records(batch: list[Record], lines: dict[str, Lines]) -> list[Record]:
    """``batch`` with every line as the ``Record`` a source would have made of it, each in the place it was made.

    Types go parents first (``TARGETS``), so an item's order line is a ``Record`` by the time the
    item is made; the records keep the order the source made records and lines in.
    """
    made: dict[tuple[int, int], Record] = {}  # (id of a Lines, index) -> its Record
    placed: list[tuple[int, int, Record]] = []
    for type_name in sorted(lines, key=lambda t: TARGETS.index(t) if t in TARGETS else len(TARGETS)):
        these = lines[type_name]
        for i, (row, origin, parent) in enumerate(zip(these.values, these.origins, these.parents, strict=True)):
            if isinstance(parent, LineRef):
                parent = made[(id(parent.lines), parent.index)]
            values = dict(zip(these.names, row, strict=True))
            record = Record(type_name, values, origin, parent=parent, primary=these.primary[i])
            made[(id(these), i)] = record
            placed.append((these.at[i], these.seq[i], record))
    placed.sort(key=lambda p: (p[0], p[1]))
    merged: list[Record] = []
    start = 0
    for at, _seq, record in placed:
        merged += batch[start:at]
        start = max(start, at)
        merged.append(record)
    return merged + batch[start:]


#: What omnimig called a change before there was a change log; sources may still say ``warn``.
Warning_ = Change

#: Changes made the same way to every record, as the mapping or the source documents them
#: (whitespace, Unicode form, a value table's entry, date_joined from the first order, midnight added
#: to a date-only value of a date-time field): counted in
#: the summary, listed only with ``--explain``, so a million-row run does not write millions of lines.
MECHANICAL = frozenset({"trimmed", "unicode-normalised", "value-mapped", "date-joined-from-order", "time-added"})


@dataclass
class Draft:
    """A source's output before the rules: records, rows it read, and what it refused or changed."""

    records: list[Record] = field(default_factory=list)
    read: list[Origin] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Change] = field(default_factory=list)
    # Mechanical changes per code (whitespace trimmed...): always counted; listed in ``warnings``
    # too only when ``explain`` is set.
    mechanical: Counter[str] = field(default_factory=Counter)
    explain: bool = False
    # The export's zone (``[source] timezone``): the midnight ``finish`` gives a date-only value of a
    # date-time field is local to it, so it is written with that zone's offset, not naive.
    timezone: str | None = None
    # Records a source met again and folded into the first (an address on every order): per type.
    folded: Counter[str] = field(default_factory=Counter)
    # Target fields this source has no data for, with the reason shown in the summary.
    cannot_fill: dict[tuple[str, str], str] = field(default_factory=dict)
    # Summary lines a source wants a person to read (a fallback used, users derived).
    notes: list[str] = field(default_factory=list)
    # A streamed run (``transforms.stream``): records of these types go to ``pending`` instead of
    # ``records``, and the source hands them on a batch at a time.
    streamed: frozenset[str] = frozenset()
    pending: list[Record] = field(default_factory=list)
    # A streamed run's records made as values only (``Lines``, per type), beside ``pending``.
    lines: dict[str, Lines] = field(default_factory=dict)
    lined: int = 0  # lines made so far, of every type (their order among each other)

    def add(self, record: Record) -> Record:
        (self.pending if record.type in self.streamed else self.records).append(record)
        return record

    def add_line(
        self,
        type_name: str,
        values: dict[str, str],
        origin: Origin,
        parent: Record | LineRef | None = None,
        *,
        primary: bool = True,
    ) -> Record | LineRef:
        """A record no other record is merged into (an order, its item, an address on the side): kept
        as values in a streamed run (``Lines``), a ``Record`` otherwise; either way the same record, in
        the same place. What is returned is what the record's own parts (an order's items) name as
        their parent."""
        if type_name not in self.streamed:
            assert not isinstance(parent, LineRef)
            record = Record(type_name, values, origin, parent=parent, primary=primary)
            self.records.append(record)
            return record
        lines = self.lines.get(type_name)
        if lines is None:
            lines = self.lines[type_name] = Lines(type_name)
        self.lined += 1
        return lines.add(values, origin, parent, len(self.pending), self.lined, primary)

    def waiting(self) -> int:
        """Records handed on with the next batch: ``pending`` and the ``lines``."""
        return len(self.pending) + sum(len(lines) for lines in self.lines.values())

    def reject(
        self,
        origin: Origin,
        type_name: str,
        field_name: str,
        reason: str,
        values: dict[str, str] | None = None,
        parent: Record | None = None,
        primary: bool = True,
    ) -> Record | None:
        """Refuse a record the source could not make, or (``type_name`` "") a row that makes none.

        A refused record is still a record: it is counted as seen, named in ``rejects.csv`` by its
        key (``values`` holds what is known of it) and takes its dependants with it in ``finish``.
        """
        if not type_name:
            self.rejects.append(Reject(origin, "", field_name, reason))
            return None
        return self.reject_record(origin, type_name, field_name, reason, values, parent, primary)

    def reject_record(
        self,
        origin: Origin,
        type_name: str,
        field_name: str,
        reason: str,
        values: dict[str, str] | None = None,
        parent: Record | None = None,
        primary: bool = True,
    ) -> Record:
        """``reject`` for a record type: the refused record, to hang merged rows or dependants on."""
        record = Record(type_name, dict(values or {}), origin, parent=parent, primary=primary)
        record.refused = (field_name, reason)
        return self.add(record)

    def refuse(self, record: Record, field_name: str, reason: str) -> None:
        """Mark a record the source made as not writable (the first reason is kept)."""
        if record.refused is None:
            record.refused = (field_name, reason)

    def warn(
        self,
        origin: Origin,
        type_name: str,
        field_name: str,
        code: str,
        message: str,
        before: str = "",
        after: str = "",
        record: str = "",
    ) -> None:
        """Log a change; a mechanical one is only counted unless ``explain``."""
        if code in MECHANICAL:
            self.mechanical[code] += 1
            if not self.explain:
                return
        self.warnings.append(Change(origin, type_name, field_name, code, message, before, after, record))

    change = warn


class _Fates:
    """``written + merged + rejected``, said the same way for the rows of a file and the records of a type."""

    written: int
    merged: int
    rejected: int

    def adds_up_to(self, total: int) -> bool:
        return total == self.written + self.merged + self.rejected

    def fates(self) -> str:
        return _("{written} written + {merged} merged + {rejected} rejected").format(
            written=number(self.written), merged=number(self.merged), rejected=number(self.rejected)
        )


@dataclass
class Tally(_Fates):
    """``read = written + merged + rejected`` for the rows of one unit of one input file."""

    file: str
    unit: str
    read: int = 0
    written: int = 0
    merged: int = 0
    rejected: int = 0

    @property
    def adds_up(self) -> bool:
        return self.adds_up_to(self.read)

    def line(self) -> str:
        read = _(READ[self.unit]) if self.unit in READ else f"{{n}} {self.unit}s read"
        return f"{self.file}: {read.format(n=number(self.read))} = {self.fates()}"


@dataclass
class TypeTally(_Fates):
    """``seen = written + merged + rejected`` for the records of one target type.

    Seen is every record a source made or refused, and every repeat it folded into one it had;
    merged is a repeat folded into another record (by the source, or as an identical duplicate
    key); rejected has exactly one line in ``rejects.csv`` each.
    """

    type: str
    seen: int = 0
    written: int = 0
    merged: int = 0
    rejected: int = 0

    @property
    def adds_up(self) -> bool:
        return self.adds_up_to(self.seen)

    def line(self) -> str:
        seen = _("{n} seen").format(n=number(self.seen))
        return f"{_(PLURALS[self.type]) if self.type in PLURALS else self.type}: {seen} = {self.fates()}"


def tally(read: list[Origin], written: list[Record], rejects: list[Reject]) -> tuple[list[Tally], list[Reject]]:
    """Give each row read exactly one fate and count them per input file and unit.

    A row is written when its own (primary) record is written, merged when it was only folded
    into written records, rejected otherwise: an order row whose order was rejected is rejected
    even if the buyer made from it was written. A rejected row with no reason of its own would be a
    bug in a source; it gets an explicit reason rather than vanishing, and the returned list
    holds those extra rejects.
    """
    owners = {r.origin for r in written if r.primary}
    folded = {o for r in written for o in r.merged}
    with_reason = {o for r in rejects for o in r.all_rows()}
    extra: list[Reject] = []
    counts: dict[tuple[str, str], Tally] = {}
    seen: Counter[Origin] = Counter()
    for origin in read:
        seen[origin] += 1
        if seen[origin] > 1:
            continue  # a source that declares a row twice still counts it once
        t = counts.setdefault((origin.file, origin.unit), Tally(origin.file, origin.unit))
        t.read += 1
        if origin in owners:
            t.written += 1
        elif origin in folded:
            t.merged += 1
        else:
            t.rejected += 1
            if origin not in with_reason:
                extra.append(Reject(origin, "", "", _("no record was made from this row")))
    return list(counts.values()), extra
