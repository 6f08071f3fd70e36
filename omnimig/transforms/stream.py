"""Big exports: orders and their items finished, set aside and written a batch at a time.

A million-order export makes some three million order and item records; kept as Python objects
until the end they need several gigabytes. A source that can hand its orders on in batches
(``shopify``: an order and its items are made from one run of rows) gives each batch to
``Stream.take``, which applies the same rules as a whole run (``finish.finish`` on the batch),
names the changes, and writes the records that survive to a private spill file. What stays in
memory is what the cross-record rules need: users and addresses (their fates are decided at the
end, with ``date_joined`` from the orders), and one flag byte per input row for the accounting.

At the end (``Stream.finish``) the spill is read back a batch at a time and written into the
order and item files; an order whose user was rejected at the end goes then, with its items,
each with a line in ``rejects.csv`` naming the user, as a whole run does. The files, ``rejects.csv``,
``changes.csv`` and the summary are the same as a whole run's: the tests compare them.

Limits of a batch, and why they do not bite for Shopify: a repeated order key is found within a
batch only (the Shopify source refuses a repeated ``Name`` itself, across the whole export,
before the rules see it), and an item belongs to the order of its own batch (its parent).
"""

from __future__ import annotations

import contextlib
import marshal
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc

from omnimig.i18n import _
from omnimig.io.private import open_private
from omnimig.io.write import TableWriter
from omnimig.schemas.rules import ChoiceList, default_choices, table_rules
from omnimig.transforms.finish import (
    Finished,
    Options,
    Prepared,
    depends_on,
    finish,
    finish_lines,
    lines_need_records,
    prepare_lines,
)
from omnimig.transforms.output import write_rows
from omnimig.transforms.records import (
    TARGETS,
    ChangeLog,
    Draft,
    LineRef,
    Origin,
    Record,
    Reject,
    Tally,
    TypeTally,
    as_records,
    record_label,
)

#: The types a streamed run hands on in batches: an order, its items and the addresses its rows name.
STREAMED = frozenset({"address", "order", "order_item"})
#: The streamed types in the order Akinon imports them (and a batch is written).
SPILLED = ("address", "order", "order_item")
#: Records (orders and items) per batch: memory holds about this many, whatever the export's size.
BATCH_RECORDS = 60_000
#: The prefix of the spill file in the output folder (private, removed at the end of the run).
SPILL = ".omnimig-partial-spill-"

READ, FOLDED, REASON = 1, 2, 4


class Fates:
    """The fate of each input row, one flag byte (and one owner count) per row, not an object per row.

    ``records.tally`` holds a set of origins per fate; at three million rows those sets alone
    are hundreds of megabytes. A row is written while a written record of its own owns it,
    merged when it was only folded into written records, rejected otherwise.
    """

    def __init__(self) -> None:
        self.flags: dict[tuple[str, str], bytearray] = {}
        self.owners: dict[tuple[str, str], bytearray] = {}
        self.other: list[Origin] = []  # rows with a part (a JSON order line): kept as they are

    def _arrays(self, origin: Origin) -> tuple[bytearray, bytearray]:
        key = (origin.file, origin.unit)
        flags = self.flags.get(key)
        if flags is None:
            flags = self.flags[key] = bytearray()
            self.owners[key] = bytearray()
        owners = self.owners[key]
        if origin.row >= len(flags):
            grow = max(origin.row + 1 - len(flags), len(flags) // 2, 1024)
            flags.extend(bytes(grow))
            owners.extend(bytes(grow))
        return flags, owners

    def read(self, origins: list[Origin]) -> None:
        for origin in origins:
            if origin.part or origin.row < 0:
                self.other.append(origin)
                continue
            flags, _ = self._arrays(origin)
            flags[origin.row] |= READ

    def flag(self, origin: Origin, bit: int) -> None:
        flags, _ = self._arrays(origin)
        flags[origin.row] |= bit

    def own(self, origin: Origin, by: int = 1) -> None:
        _, owners = self._arrays(origin)
        owners[origin.row] = min(255, max(0, owners[origin.row] + by))

    def tally(self) -> tuple[list[Tally], list[Reject]]:
        """``records.tally`` over the flags: one Tally per input and unit, and a reject for a row with no reason."""
        if self.other:
            raise AssertionError("a streamed source declared rows with parts")  # only Shopify streams
        tallies: list[Tally] = []
        extra: list[Reject] = []
        for (file, unit), flags in self.flags.items():
            owners = self.owners[(file, unit)]
            t = Tally(file, unit)
            for row, bits in enumerate(flags):
                if not bits & READ:
                    continue
                t.read += 1
                if owners[row]:
                    t.written += 1
                elif bits & FOLDED:
                    t.merged += 1
                else:
                    t.rejected += 1
                    if not bits & REASON:
                        extra.append(Reject(Origin(file, row, unit), "", "", _("no record was made from this row")))
            tallies.append(t)
        return tallies, extra


def _line(parent: Record | LineRef) -> LineRef:
    """A line's parent, a line itself (``lines_need_records`` sends lines with a record parent to ``finish``)."""
    if not isinstance(parent, LineRef):
        raise AssertionError(f"a line's parent is a record: {parent.label()}")
    return parent


def _origin(o: Origin) -> tuple[str, int, str, int]:
    return (o.file, o.row, o.unit, o.part)


#: What the spill keeps of a record besides its values (the column names cannot be field names).
META = pa.schema(
    [
        ("\x00place", pa.int32()),  # index into ``Stream.places``: the origin's (file, unit)
        ("\x00row", pa.int64()),
        ("\x00part", pa.int32()),
        ("\x00merged", pa.binary()),  # marshal of the merged origins' tuples; null when none
        ("\x00primary", pa.bool_()),
        ("\x00filled", pa.string()),  # the fields given their default, joined by \x1f
        ("\x00parent", pa.int32()),  # an item's order: its index among the batch's orders, else -1
    ]
)


def _schema(type_name: str) -> pa.Schema:
    fields = [pa.field(name, pa.string()) for name in table_rules(type_name).names]
    return pa.schema([*fields, *META])


@dataclass
class Written:
    """What the end of a streamed run wrote: counts, the late rejects, the empty cannot-fill fields."""

    counts: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    empty: dict[tuple[str, str], int] = field(default_factory=dict)
    defaulted: dict[tuple[str, str], int] = field(default_factory=dict)


class Stream:
    """Orders and items finished a batch at a time and spilled; written at the end (see the module).

    The spill is one Arrow IPC stream per type (values as columns, the bookkeeping a late reject
    needs as a few more), so reading it back and writing the files takes Arrow kernels, not a
    Python tuple per record: a batch whose user survived is filtered and written whole.
    """

    def __init__(self, options: Options, folder: Path, choices: dict[str, ChoiceList] | None = None) -> None:
        self.options = options
        self.choices = choices if choices is not None else default_choices()
        self.folder = folder
        self.batch = BATCH_RECORDS  # a source hands on its orders when it has made this many records
        self.spill_paths: dict[str, Path] = {}
        self.spills: dict[str, IO[bytes]] = {}
        self.writers: dict[str, pa.ipc.RecordBatchStreamWriter] = {}
        try:
            for type_name in SPILLED:
                fd, name = tempfile.mkstemp(dir=folder, prefix=SPILL, suffix=f"-{type_name}")  # 0600: customer data
                os.close(fd)
                self.spill_paths[type_name] = Path(name)
                self.spills[type_name] = open_private(Path(name), "wb")
                self.writers[type_name] = pa.ipc.new_stream(self.spills[type_name], _schema(type_name))
        except BaseException:
            self.close()
            raise
        self.batches = 0
        self.places: dict[tuple[str, str], int] = {}  # (file, unit) of the origins spilled -> its index
        self.defaulted: dict[tuple[str, str], int] = {}  # defaults given to spilled records
        self.fates = Fates()
        # The changes made so far, compact (see ``_settle``): the source's, each with its place in the
        # order they were logged, and the rules' to orders and items, batch by batch.
        self.settled: list[ChangeLog] = []
        self.settled_at: list[pa.Array] = []
        self.held: list[int] = []  # the place of each change still in the draft's list (a user's, unnamed)
        self.logged = 0  # changes the source has logged so far
        self.warnings: list[ChangeLog] = []
        self.rejects: list[Reject] = []  # orders and items the rules rejected, batch by batch
        self.types = {t: TypeTally(t) for t in sorted(STREAMED)}
        self.named = 0  # draft.warnings before this index have been given their record's label

    @property
    def spill_path(self) -> Path:
        """The first spill file (each type has its own, beside it)."""
        return self.spill_paths[SPILLED[0]]

    def close(self) -> None:
        for writer in self.writers.values():
            with contextlib.suppress(Exception):
                writer.close()
        self.writers = {}
        for handle in self.spills.values():
            with contextlib.suppress(OSError):
                handle.close()
        for path in self.spill_paths.values():
            path.unlink(missing_ok=True)

    def take(self, draft: Draft) -> None:
        """Finish the orders and items a source has made so far and set them aside."""
        from omnimig.transforms.run import name_changes  # run imports this module

        batch, draft.pending = draft.pending, []
        lines, draft.lines = draft.lines, {}
        self.fates.read(draft.read)
        draft.read.clear()
        if not batch and not any(lines.values()):
            return
        part = Draft(records=batch, cannot_fill=draft.cannot_fill, explain=draft.explain)
        # Lines the rules have nothing more to say about are finished as columns (``finish_lines``),
        # after the records; when any line needs the rules record by record, every line of the batch
        # joins it as a record, in its place, for ``finish`` itself (an item's order is one of them).
        prepared = [prepare_lines(lines[t], self.options) for t in sorted(lines, key=TARGETS.index) if len(lines[t])]
        # A type with records that may be written as well as lines (a customers export's addresses)
        # goes record by record too: a batch writes a type one way.
        written = {r.type for r in batch if r.refused is None and (r.parent is None or r.parent.refused is None)}
        if any(p.lines.type in written for p in prepared) or any(
            lines_need_records(p, part, self.options, self.choices, STREAMED) for p in prepared
        ):
            part.records = batch = as_records(batch, lines)
            prepared = []
        done = finish(part, self.options, self.choices)
        done.types += [finish_lines(p, part) for p in prepared]
        # The source's changes to these orders and items (logged since the last batch), then the rules'.
        name_changes(draft.warnings, batch, start=self.named, types=STREAMED)
        name_changes(part.warnings, batch)
        self._settle(draft)
        if part.warnings:
            self.warnings.append(ChangeLog(part.warnings))
        self.rejects += done.rejects
        for t in done.types:
            if t.type in self.types:
                mine = self.types[t.type]
                mine.seen += t.seen
                mine.written += t.written
                mine.merged += t.merged
                mine.rejected += t.rejected
        self._spill(done, {p.lines.type: p for p in prepared})

    def _settle(self, draft: Draft) -> None:
        """Move the source's changes that are final into compact Arrow columns (``ChangeLog``).

        Why: a million-order export logs some 750,000 changes (a name split for every buyer, a
        status for every refund); as ``Change`` objects they were a few hundred megabytes held to
        the end of the run. A change is final once it names its record: an order's, item's or
        address's is named with its batch (above); a user's without a name waits in the draft's
        list for the end, when users are final (``_name_changed_records``). Each change keeps its
        place in the order logged, so ``changes`` gives the same sequence a whole run's list is.
        """
        changes = draft.warnings
        fresh = len(changes) - len(self.held)
        places = [*self.held, *range(self.logged, self.logged + fresh)]
        self.logged += fresh
        final, final_at, kept, kept_at = [], [], [], []
        for change, place in zip(changes, places, strict=True):
            if change.record or change.type in STREAMED:
                final.append(change)
                final_at.append(place)
            else:
                kept.append(change)
                kept_at.append(place)
        if final:
            self.settled.append(ChangeLog(final))
            self.settled_at.append(pa.array(final_at, pa.int64()))
        changes[:] = kept  # the same list: the source goes on logging into it
        self.held = kept_at
        self.named = len(changes)

    def changes(self, draft: Draft) -> ChangeLog:
        """Every change of the run in the order logged: the source's (settled, then what the draft still
        holds), then the rules' to orders and items batch by batch, as a whole run's list would be."""
        fresh = len(draft.warnings) - len(self.held)
        places = [*self.settled_at, pa.array([*self.held, *range(self.logged, self.logged + fresh)], pa.int64())]
        source = ChangeLog.joined([*self.settled, ChangeLog(draft.warnings)])
        source = source.take(pc.sort_indices(pa.chunked_array(places, pa.int64())))
        return ChangeLog.joined([source, *self.warnings])

    def _place(self, origin: Origin) -> int:
        key = (origin.file, origin.unit)
        place = self.places.get(key)
        if place is None:
            place = self.places[key] = len(self.places)
        return place

    def _spill(self, done: Finished, lines: dict[str, Prepared]) -> None:
        orders = done.records.get("order", [])
        index = {id(r): i for i, r in enumerate(orders)}
        filled_of = done.filled
        for type_name in SPILLED:
            records = done.records.get(type_name, [])
            if type_name in lines:
                if records:  # ``take`` sends a batch with records of a type that has lines to ``finish`` whole
                    raise AssertionError(f"a batch wrote {type_name} records and lines")
                self._spill_lines(type_name, lines[type_name], len(index))
                continue
            for r in records:
                if r.primary:
                    self.fates.own(r.origin)
                for o in r.merged:
                    self.fates.flag(o, FOLDED)
            filled = [filled_of.get(id(r), ()) for r in records]
            for given in filled:
                for key in given:
                    self.defaulted[key] = self.defaulted.get(key, 0) + 1
            meta = [
                pa.array([self._place(r.origin) for r in records], pa.int32()),
                pa.array([r.origin.row for r in records], pa.int64()),
                pa.array([r.origin.part for r in records], pa.int32()),
                pa.array(
                    [marshal.dumps(tuple(_origin(o) for o in r.merged)) if r.merged else None for r in records],
                    pa.binary(),
                ),
                pa.array([r.primary for r in records], pa.bool_()),
                pa.array(["\x1f".join(f for _t, f in given) for given in filled], pa.string()),
                pa.array([index.get(id(r.parent), -1) if r.parent is not None else -1 for r in records], pa.int32()),
            ]
            values = [column.combine_chunks() for column in done.table(type_name, records).columns]
            self.writers[type_name].write_batch(pa.record_batch([*values, *meta], schema=_schema(type_name)))
        self.batches += 1

    def _spill_lines(self, type_name: str, prepared: Prepared, before: int) -> None:
        """``_spill`` for lines (every one is written): their values as they are, the bookkeeping in columns.

        An item's parent is its order line's place among the orders this batch writes: after the
        ``before`` orders that are records, in the order of their lines.
        """
        lines = prepared.lines
        origins = lines.origins
        for origin, primary in zip(origins, lines.primary, strict=True):
            if primary:
                self.fates.own(origin)
        for key, mask in prepared.defaulted.items():
            self.defaulted[key] = self.defaulted.get(key, 0) + int(mask.sum())
        parents = [-1 if p is None else before + _line(p).index for p in lines.parents]
        meta = [
            pa.array([self._place(o) for o in origins], pa.int32()),
            pa.array([o.row for o in origins], pa.int64()),
            pa.array([o.part for o in origins], pa.int32()),
            pa.nulls(len(origins), pa.binary()),
            pa.array(lines.primary, pa.bool_()),
            prepared.filled,
            pa.array(parents, pa.int32()),
        ]
        values = [column.combine_chunks() for column in prepared.table.columns]
        self.writers[type_name].write_batch(pa.record_batch([*values, *meta], schema=_schema(type_name)))

    def _read_back(self) -> Iterator[tuple[pa.RecordBatch, ...]]:
        """The spilled batches, one per type at a time, in the order they were taken."""
        for writer in self.writers.values():
            writer.close()
        self.writers = {}
        for handle in self.spills.values():
            handle.close()
        with contextlib.ExitStack() as stack:
            readers = [
                pa.ipc.open_stream(stack.enter_context(pa.OSFile(str(self.spill_paths[t]), "rb"))) for t in SPILLED
            ]
            yield from zip(*readers, strict=True)

    def finish(
        self,
        held: Finished,
        fmt: str,
        paths: dict[str, Path],
        cannot_fill: dict[tuple[str, str], str],
    ) -> Written:
        """Write the spilled orders and items into ``paths`` (type -> file), losing those whose user went.

        ``held`` is the finished users and addresses: a user the rules rejected takes its orders
        with it (the reason names the user), and their items follow their order.
        """
        written = Written()
        losses = held.losses
        assert losses is not None
        gone_users: dict[str, Record] = {}
        for r in losses.lost.get("user", []):
            gone_users.setdefault(r.get("customer_code"), r)
        for r in held.records.get("user", []):
            gone_users.pop(r.get("customer_code"), None)
        gone = pa.array(list(gone_users), pa.string())
        because: dict[str, str] = {}  # the reason of each lost user's dependants, said once
        places = {i: place for place, i in self.places.items()}
        writers: dict[str, TableWriter] = {}
        wanted = {t: [f for tt, f in cannot_fill if tt == t] for t in SPILLED}
        empty = {(t, f): 0 for t in wanted for f in wanted[t]}
        defaulted = dict(self.defaulted)
        try:
            for batch in self._read_back():
                lost_orders: dict[int, str] = {}
                for type_name, rows in zip(SPILLED, batch, strict=True):
                    names = table_rules(type_name).names
                    lost = None
                    if "user" in names and gone_users:
                        lost = pc.is_in(rows.column("user"), value_set=gone)
                    elif type_name == "order_item" and lost_orders:
                        lost = pc.is_in(rows.column("\x00parent"), value_set=pa.array(list(lost_orders), pa.int32()))
                    if lost is not None and pc.any(lost).as_py():
                        for i in pc.indices_nonzero(lost).to_pylist():
                            row = rows.slice(i, 1).to_pylist()[0]
                            values = {n: row[n] for n in names}
                            if type_name == "order_item" and "user" not in names:
                                reason = lost_orders[row["\x00parent"]]
                            else:
                                user = values["user"]
                                if user not in because:
                                    because[user] = losses.because_of(gone_users[user])
                                reason = because[user]
                            label = record_label(type_name, values)
                            file, unit = places[row["\x00place"]]
                            o = Origin(file, row["\x00row"], unit, row["\x00part"])
                            merged = marshal.loads(row["\x00merged"]) if row["\x00merged"] is not None else ()
                            rows_of = (o, *(Origin(*m) for m in merged))
                            written.rejects.append(Reject(o, type_name, "", reason, label, rows_of))
                            if type_name == "order":
                                lost_orders[i] = depends_on(label, reason)
                            if row["\x00primary"]:
                                self.fates.own(o, -1)
                            for name in row["\x00filled"].split("\x1f") if row["\x00filled"] else ():
                                defaulted[(type_name, name)] -= 1
                            self.types[type_name].written -= 1
                            self.types[type_name].rejected += 1
                        rows = rows.filter(pc.invert(lost))
                    if not rows.num_rows:
                        continue
                    table = pa.Table.from_batches([rows.select(list(names))])
                    for f in wanted[type_name]:
                        empty[(type_name, f)] += pc.sum(pc.equal(table.column(f), "")).as_py() or 0
                    if type_name not in writers:
                        writers[type_name] = TableWriter(paths[type_name], fmt, list(names))
                    write_rows(writers[type_name], type_name, fmt, table)
                    written.counts[type_name] = written.counts.get(type_name, 0) + table.num_rows
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        for w in writers.values():
            w.close()
        written.empty = empty
        written.defaulted = {key: n for key, n in defaulted.items() if n}
        return written
