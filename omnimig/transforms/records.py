"""What a transform source produces: target records that remember the input rows they came from.

Every input row must end in exactly one place (written, merged or rejected), so each record
carries its origin row and the rows folded into it, and a source declares every row it read.
The fates are decided only at the end, after the rules have had their say, because a record a
source built can still be rejected (a value too long) and take its dependants with it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: The target types in the order Akinon imports them.
TARGETS = ("user", "address", "order", "order_item")


@dataclass(frozen=True, order=True)
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
            return f"{self.file} record {self.row}, line {self.part}"
        return f"{self.file} {'record' if self.unit != 'row' else 'row'} {self.row}"


@dataclass
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

    def get(self, name: str) -> str:
        return self.values.get(name) or ""


@dataclass(frozen=True)
class Reject:
    """A target record (or a whole input row) that was not written, and why."""

    origin: Origin
    type: str  # the target type, or "" when the row produced nothing at all
    field: str
    reason: str


@dataclass(frozen=True)
class Warning_:
    """A change made on the way (a value cut, a phone dropped, a user derived) that a person should know."""

    origin: Origin
    type: str
    field: str
    code: str  # short kebab-case kind, counted in the summary
    message: str


@dataclass
class Draft:
    """A source's output before the rules: records, rows it read, and what it refused or changed."""

    records: list[Record] = field(default_factory=list)
    read: list[Origin] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    warnings: list[Warning_] = field(default_factory=list)
    # Target fields this source has no data for, with the reason shown in the summary.
    cannot_fill: dict[tuple[str, str], str] = field(default_factory=dict)
    # Summary lines a source wants a person to read (a fallback used, users derived).
    notes: list[str] = field(default_factory=list)

    def add(self, record: Record) -> Record:
        self.records.append(record)
        return record

    def reject(self, origin: Origin, type_name: str, field_name: str, reason: str) -> None:
        self.rejects.append(Reject(origin, type_name, field_name, reason))

    def warn(self, origin: Origin, type_name: str, field_name: str, code: str, message: str) -> None:
        self.warnings.append(Warning_(origin, type_name, field_name, code, message))


@dataclass
class Tally:
    """``read = written + merged + rejected`` for the rows of one unit of one input file."""

    file: str
    unit: str
    read: int = 0
    written: int = 0
    merged: int = 0
    rejected: int = 0

    @property
    def adds_up(self) -> bool:
        return self.read == self.written + self.merged + self.rejected

    def line(self) -> str:
        unit = "rows" if self.unit == "row" else f"{self.unit}s"
        return (
            f"{self.file}: {self.read:,} {unit} read = {self.written:,} written + {self.merged:,} merged"
            f" + {self.rejected:,} rejected"
        )


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
    with_reason = {r.origin for r in rejects}
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
                extra.append(Reject(origin, "", "", "no record was made from this row"))
    return list(counts.values()), extra
