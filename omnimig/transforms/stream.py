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
from typing import Any

import pandas as pd

from omnimig.i18n import _
from omnimig.io.kinds import json_kinds
from omnimig.io.private import open_private
from omnimig.io.table import Chunk
from omnimig.io.write import TableWriter
from omnimig.schemas.rules import ChoiceList, default_choices, table_rules
from omnimig.transforms.finish import Finished, Options, depends_on, finish
from omnimig.transforms.records import (
    Change,
    Draft,
    Origin,
    Record,
    Reject,
    Tally,
    TypeTally,
    columns,
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


def _origin(o: Origin) -> tuple[str, int, str, int]:
    return (o.file, o.row, o.unit, o.part)


@dataclass
class Written:
    """What the end of a streamed run wrote: counts, the late rejects, the empty cannot-fill fields."""

    counts: dict[str, int] = field(default_factory=dict)
    rejects: list[Reject] = field(default_factory=list)
    empty: dict[tuple[str, str], int] = field(default_factory=dict)
    defaulted: dict[tuple[str, str], int] = field(default_factory=dict)


class Stream:
    """Orders and items finished a batch at a time and spilled; written at the end (see the module)."""

    def __init__(self, options: Options, folder: Path, choices: dict[str, ChoiceList] | None = None) -> None:
        self.options = options
        self.choices = choices if choices is not None else default_choices()
        self.folder = folder
        self.batch = BATCH_RECORDS  # a source hands on its orders when it has made this many records
        fd, name = tempfile.mkstemp(dir=folder, prefix=SPILL)  # 0600: customer data
        os.close(fd)
        self.spill_path = Path(name)
        self.spill = open_private(self.spill_path, "wb")
        self.batches = 0
        self.fates = Fates()
        self.warnings: list[Change] = []  # changes made by the rules to orders and items, batch by batch
        self.rejects: list[Reject] = []  # orders and items the rules rejected, batch by batch
        self.types = {t: TypeTally(t) for t in sorted(STREAMED)}
        self.named = 0  # draft.warnings before this index have been given their record's label

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.spill.close()
        self.spill_path.unlink(missing_ok=True)

    def take(self, draft: Draft) -> None:
        """Finish the orders and items a source has made so far and set them aside."""
        from omnimig.transforms.run import name_changes  # run imports this module

        batch, draft.pending = draft.pending, []
        self.fates.read(draft.read)
        draft.read.clear()
        if not batch:
            return
        part = Draft(records=batch, cannot_fill=draft.cannot_fill, explain=draft.explain)
        done = finish(part, self.options, self.choices)
        # The source's changes to these orders and items (logged since the last batch), then the rules'.
        name_changes(draft.warnings, batch, start=self.named, types=STREAMED)
        self.named = len(draft.warnings)
        name_changes(part.warnings, batch)
        self.warnings += part.warnings
        self.rejects += done.rejects
        for t in done.types:
            if t.type in self.types:
                mine = self.types[t.type]
                mine.seen += t.seen
                mine.written += t.written
                mine.merged += t.merged
                mine.rejected += t.rejected
        self._spill(done)

    def _spill(self, done: Finished) -> None:
        orders = done.records.get("order", [])
        index = {id(r): i for i, r in enumerate(orders)}
        entries: dict[str, list[tuple[Any, ...]]] = {}
        for type_name in SPILLED:
            names = table_rules(type_name).names
            records = done.records.get(type_name, [])
            for r in records:
                if r.primary:
                    self.fates.own(r.origin)
                for o in r.merged:
                    self.fates.flag(o, FOLDED)
            values = list(zip(*columns(records, names), strict=True)) if records else []
            entries[type_name] = [
                (
                    row,
                    _origin(r.origin),
                    tuple(_origin(o) for o in r.merged),
                    r.primary,
                    tuple(done.filled.get(id(r), ())),
                    index.get(id(r.parent), -1) if r.parent is not None else -1,
                )
                for row, r in zip(values, records, strict=True)
            ]
        marshal.dump(tuple(entries[t] for t in SPILLED), self.spill)
        self.batches += 1

    def _read_back(self) -> Iterator[tuple[list[tuple[Any, ...]], ...]]:
        self.spill.close()
        with self.spill_path.open("rb") as handle:
            for _ in range(self.batches):
                yield marshal.load(handle)

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
        gone_users: dict[tuple[str, ...], Record] = {}
        for r in losses.lost.get("user", []):
            gone_users.setdefault((r.get("customer_code"),), r)
        for r in held.records.get("user", []):
            gone_users.pop((r.get("customer_code"),), None)
        writers: dict[str, TableWriter] = {}
        wanted = {t: [f for tt, f in cannot_fill if tt == t] for t in SPILLED}
        empty = {(t, f): 0 for t in wanted for f in wanted[t]}
        try:
            for batch in self._read_back():
                lost_orders: dict[int, str] = {}
                kept: dict[str, list[tuple[str, ...]]] = {t: [] for t in SPILLED}
                for type_name, rows in zip(SPILLED, batch, strict=True):
                    names = table_rules(type_name).names
                    user_at = names.index("user") if "user" in names else -1
                    for i, (values, origin, merged, primary, filled, parent) in enumerate(rows):
                        reason = None
                        if user_at >= 0 and gone_users:
                            user = gone_users.get((values[user_at],))
                            if user is not None:
                                reason = losses.because_of(user)
                        elif type_name == "order_item" and parent in lost_orders:
                            reason = lost_orders[parent]
                        if reason is not None:
                            mapping = dict(zip(names, values, strict=True))
                            label = record_label(type_name, mapping)
                            o = Origin(*origin)
                            rows_of = (o, *(Origin(*m) for m in merged))
                            written.rejects.append(Reject(o, type_name, "", reason, label, rows_of))
                            if type_name == "order":
                                lost_orders[i] = depends_on(label, reason)
                            if primary:
                                self.fates.own(o, -1)
                            self.types[type_name].written -= 1
                            self.types[type_name].rejected += 1
                            continue
                        kept[type_name].append(values)
                        for type_field in filled:
                            key = (type_field[0], type_field[1])
                            written.defaulted[key] = written.defaulted.get(key, 0) + 1
                for type_name, rows in kept.items():
                    if not rows:
                        continue
                    names = table_rules(type_name).names
                    frame = pd.DataFrame(rows, columns=names, dtype="string[pyarrow]")
                    for f in wanted[type_name]:
                        empty[(type_name, f)] += int((frame[f] == "").sum())
                    if type_name not in writers:
                        writers[type_name] = TableWriter(paths[type_name], fmt, list(names))
                    kinds = json_kinds(type_name, frame) if fmt == "json" else None
                    writers[type_name].write(
                        Chunk(frame, pd.Series(range(len(frame))), kinds), pd.Series(True, index=frame.index)
                    )
                    written.counts[type_name] = written.counts.get(type_name, 0) + len(rows)
        except BaseException:
            for w in writers.values():
                w.abort()
            raise
        for w in writers.values():
            w.close()
        written.empty = empty
        return written
