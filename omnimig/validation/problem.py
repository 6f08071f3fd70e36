"""``Problem``: the one result type every check produces and every report renders.

A file's problems live in a ``ProblemStore``: exact counts and the first examples of each
(rule, field, severity) stay in memory, and every problem beyond a small in-memory budget is
spilled, sorted, to a private temporary file that the JSON/CSV outputs, the workbook and
``--split`` stream back in report order. An order file where every row breaks a rule then costs
disk, not memory (issue 12: one million such rows used to hold 3.2 GB of Python objects).
"""

from __future__ import annotations

import heapq
import os
import pickle
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from itertools import islice, repeat
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any, Literal

import pandas as pd

from omnimig.io.safe_text import cut
from omnimig.io.table import ReadOptions

if TYPE_CHECKING:
    from omnimig.validation.stats import TypeTally

#: ``note`` is for the bundle only: something that was not checked (a rule whose other file is
#: absent). It is neither an error nor a warning, so it changes no count and no exit code, and
#: ``--strict`` leaves it as it is.
Severity = Literal["error", "warning", "note"]

#: How long a value may be in any report before it is shortened.
MAX_VALUE_CHARS = 80


def shorten(value: str | None, limit: int = MAX_VALUE_CHARS) -> str | None:
    """Cut long values so one bad 10 kB cell cannot flood a terminal or a JSON report."""
    return None if value is None else cut(value, limit)


def plural(n: int, word: str) -> str:
    """``1 row``, ``1,204 rows``: counts as every report prints them."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule at one place.

    ``row`` is where a person finds it: the spreadsheet row for CSV/XLS/XLSX (header = 1),
    the 1-based record number for JSON; ``None`` for a problem of the whole file.
    ``field`` is ``None`` when no single column is at fault. A problem of the bundle as a whole
    (``missing-file``, ``not-checked``) has ``file == ""`` and the type it is about.
    """

    file: str
    type: str | None
    row: int | None
    field: str | None
    rule: str
    severity: Severity
    value: str | None
    message: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


# A stored problem without its file and type (the store's own): (row, field, rule, severity, value, message).
Entry = tuple[int | None, str | None, str, str, str | None, str]
GroupKey = tuple[str, str | None, str]  # (rule, field, severity)

_group_of = itemgetter(2, 1, 3)


class ProblemStore:
    """Every problem of one file, in report order (row, then column order, then rule), with bounded memory.

    Problems arrive in runs (a chunk's field rules, then each bundle rule); ``flush`` sorts what
    arrived since the last flush and appends it to the last run when it continues it in order, or
    starts a new run; iteration merges the runs. Up to ``memory_budget`` problems are kept as
    Python tuples, the rest are pickled in batches to an unnamed temporary file (created 0600 and
    already unlinked, so nothing is left behind). Counts per (rule, field, severity) are exact,
    and the first ``examples`` problems of each group are kept for the text report.

    It behaves like the list it replaces where callers need it to: ``append``, ``len``,
    iteration, indexing and slicing, equality with a list.
    """

    BATCH = 4_096
    #: Problems held as Python tuples before the rest go to the temporary file.
    MEMORY_BUDGET = 20_000
    #: Examples kept per (rule, field, severity) for the text report.
    EXAMPLES = 20

    def __init__(
        self,
        file: str = "",
        type_name: str | None = None,
        problems: Iterable[Problem] = (),
        memory_budget: int | None = None,
        examples: int | None = None,
    ) -> None:
        self.file = file
        self.type = type_name
        self.memory_budget = self.MEMORY_BUDGET if memory_budget is None else max(1, memory_budget)
        self.keep_examples = self.EXAMPLES if examples is None else examples
        self._rank: dict[str, int] = {}
        self._buffer: list[Entry] = []
        # Is the buffer already in report order? Tracked on the way in (rows strictly ascending), so
        # the common case of one failing rule per chunk needs no key function and no sort.
        self._buffer_sorted = True
        self._buffer_last_row: int | None = None
        # Each run is a list of parts: an in-memory list of entries, or (offset, length) of a pickled batch.
        self._runs: list[list[list[Entry] | tuple[int, int]]] = []
        self._last_key: list[tuple[Any, ...] | None] = []
        self._in_memory = 0
        self._spill: IO[bytes] | None = None
        self._spilled_at = 0
        self._counts: Counter[GroupKey] = Counter()
        self._examples: dict[GroupKey, list[Entry]] = {}
        self._escalated = False
        for p in problems:
            self.append(p)

    # -- adding ---------------------------------------------------------------------------------
    def append(self, p: Problem) -> None:
        self.add(p.row, p.field, p.rule, p.severity, p.value, p.message)

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.append(p)

    def add(
        self, row: int | None, field: str | None, rule: str, severity: str, value: str | None, message: str
    ) -> None:
        """The fast path the engine uses: no ``Problem`` object is made."""
        last = self._buffer_last_row
        if self._buffer_sorted and (row is None or last is None or row <= last) and self._buffer:
            self._buffer_sorted = False  # a tie or a step back: flush sorts (ties keep their order)
        self._buffer_last_row = row
        self._buffer.append((row, field, rule, severity, value, message))
        if len(self._buffer) >= self.memory_budget:
            self.flush()

    def add_many(
        self,
        rows: list[int],
        field: str | None,
        rule: str,
        severity: str,
        values: list[str | None],
        messages: list[str],
    ) -> None:
        """Many problems of one rule and field at ascending ``rows`` (a failing mask of one chunk)."""
        if not rows:
            return
        buf = self._buffer
        if self._buffer_sorted and buf:
            last = self._buffer_last_row
            if last is None or rows[0] <= last:
                self._buffer_sorted = False
        self._buffer_last_row = rows[-1]
        if not len(rows) == len(values) == len(messages):
            raise ValueError("add_many: rows, values and messages differ in length")
        buf.extend(zip(rows, repeat(field), repeat(rule), repeat(severity), values, messages))
        if len(buf) >= self.memory_budget:
            self.flush()

    def set_order(self, column_order: Iterable[str]) -> None:
        """The column order problems of one row are sorted by; re-sorts what is already stored."""
        rank: dict[str, int] = {}
        for name in column_order:
            rank.setdefault(name, len(rank))
        if rank == self._rank:
            return
        old = list(self._entries()) if self._runs else []
        self._reset_storage()
        self._rank = rank
        self._buffer = old + self._buffer
        self._buffer_sorted = False
        self._counts.clear()
        self._examples.clear()
        self.flush()

    @property
    def ordered(self) -> bool:
        """Has a column order been set (``set_order``)?"""
        return bool(self._rank)

    def _reset_storage(self) -> None:
        self._runs = []
        self._last_key = []
        self._in_memory = 0
        if self._spill is not None:
            self._spill.close()
        self._spill = None
        self._spilled_at = 0

    def _key(self, e: Entry) -> tuple[int, int, str]:
        rank = self._rank
        field = e[1]
        return (-1 if e[0] is None else e[0], -1 if field is None else rank.get(field, len(rank)), e[2])

    def flush(self) -> None:
        """Sort what arrived since the last flush into the runs; counts and examples are updated."""
        buf = self._buffer
        if not buf:
            return
        self._buffer = []
        key = self._key
        if not self._buffer_sorted:
            buf.sort(key=key)
        self._buffer_sorted, self._buffer_last_row = True, None
        self._counts.update(map(_group_of, buf))
        self._take_examples(buf)
        first, last = key(buf[0]), key(buf[-1])
        extend = bool(self._runs) and self._last_key[-1] is not None and self._last_key[-1] <= first
        if self._in_memory + len(buf) <= self.memory_budget:
            part: list[Entry] | tuple[int, int] = buf
            parts = [part]
            self._in_memory += len(buf)
        else:
            parts = list(self._write(buf))
        if extend:
            self._runs[-1].extend(parts)
            self._last_key[-1] = last
        else:
            self._runs.append(parts)
            self._last_key.append(last)

    def _write(self, buf: list[Entry]) -> Iterator[tuple[int, int]]:
        if self._spill is None:
            # mode 0600 and already unlinked; closed by ``close`` or when the store goes
            self._spill = tempfile.TemporaryFile(prefix="omnimig-problems-")  # noqa: SIM115
        for start in range(0, len(buf), self.BATCH):
            data = pickle.dumps(buf[start : start + self.BATCH], protocol=pickle.HIGHEST_PROTOCOL)
            self._spill.seek(self._spilled_at)
            self._spill.write(data)
            yield (self._spilled_at, len(data))
            self._spilled_at += len(data)
        self._spill.flush()

    def _take_examples(self, buf: list[Entry]) -> None:
        n = self.keep_examples
        fresh: dict[GroupKey, list[Entry]] = {}
        for e in buf:
            g = (e[2], e[1], e[3])
            got = fresh.get(g)
            if got is None:
                fresh[g] = [e]
            elif len(got) < n:
                got.append(e)
        for g, items in fresh.items():
            old = self._examples.get(g)
            self._examples[g] = items if old is None else sorted(old + items, key=self._key)[:n]

    # -- reading --------------------------------------------------------------------------------
    def _read_run(self, parts: list[list[Entry] | tuple[int, int]]) -> Iterator[Entry]:
        for part in parts:
            if isinstance(part, list):
                yield from part
            else:
                assert self._spill is not None
                offset, length = part
                yield from pickle.loads(os.pread(self._spill.fileno(), length, offset))

    def _entries(self) -> Iterator[Entry]:
        """Every stored entry (not the unflushed buffer), merged in report order."""
        if len(self._runs) == 1:
            yield from self._read_run(self._runs[0])
        elif self._runs:
            yield from heapq.merge(*(self._read_run(r) for r in self._runs), key=self._key)

    def entries(self) -> Iterator[Entry]:
        """Every problem as an ``Entry`` tuple in report order (severity escalated under --strict)."""
        self.flush()
        if not self._escalated:
            yield from self._entries()
            return
        for e in self._entries():
            yield e if e[3] == "error" else (e[0], e[1], e[2], "error", e[4], e[5])

    def __iter__(self) -> Iterator[Problem]:
        file, type_name = self.file, self.type
        for e in self.entries():
            yield Problem(file, type_name, *e)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return sum(self._counts.values()) + len(self._buffer)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            if (index.start or 0) >= 0 and (index.stop is None or index.stop >= 0) and (index.step or 1) > 0:
                return list(islice(self, index.start, index.stop, index.step))
            return list(self)[index]
        if index < 0:
            return list(self)[index]
        for p in islice(self, index, None):
            return p
        raise IndexError(index)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ProblemStore | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProblemStore({self.file!r}, {len(self)} problems)"

    # -- summaries ------------------------------------------------------------------------------
    def escalate(self) -> None:
        """``--strict``: every warning is read back as an error, in counts, examples and the stream."""
        self._escalated = True

    def counts(self) -> Counter[GroupKey]:
        """Exact problems per (rule, field, severity)."""
        self.flush()
        if not self._escalated:
            return Counter(self._counts)
        out: Counter[GroupKey] = Counter()
        for (rule, field, _), n in self._counts.items():
            out[(rule, field, "error")] += n
        return out

    def count(self, severity: str) -> int:
        return sum(n for (_, _, s), n in self.counts().items() if s == severity)

    def examples(self, group: GroupKey, n: int) -> list[Problem]:
        """The first ``n`` problems of one (rule, field, severity) group, in report order."""
        self.flush()
        rule, field, severity = group
        if n <= self.keep_examples:
            if self._escalated:
                if severity != "error":
                    return []
                found = [e for s in ("error", "warning") for e in self._examples.get((rule, field, s), [])]
                if len({self._key(e) for e in found}) < len(found):
                    # a warning and an error at one place: only the stream knows which came first
                    return list(islice((p for p in self if (p.rule, p.field, p.severity) == group), n))
                found = sorted(found, key=self._key)[:n]
            else:
                found = self._examples.get(group, [])[:n]
            return [Problem(self.file, self.type, e[0], e[1], e[2], severity, e[4], e[5]) for e in found]  # type: ignore[arg-type]
        return list(islice((p for p in self if (p.rule, p.field, p.severity) == group), n))

    def close(self) -> None:
        if self._spill is not None:
            self._spill.close()
            self._spill = None


class FileResult:
    """What validating one file found.

    ``problems`` is a ``ProblemStore`` (assigning a list replaces its contents); ``readable`` is
    False for a file that could not be read at all, whose only problem is the ``unreadable`` one.
    """

    def __init__(
        self,
        path: str,
        type: str | None,
        format: str | None,
        rows: int = 0,
        problems: Iterable[Problem] | ProblemStore | None = None,
        columns: tuple[str, ...] = (),
        keys: pd.DataFrame | None = None,
        readable: bool = True,
    ) -> None:
        self.path = path
        self.type = type
        self.format = format
        self.rows = rows
        self.columns = columns
        # The columns cross-file rules read (``rules.bundle_fields``), with a ``row`` column.
        self.keys = keys
        self.readable = readable
        # How the file was read (--sheet, --header-row): whoever reads it again reads it the same way.
        self.read_options = ReadOptions()
        # The row holding the column names (a workbook's may sit under title rows); None for JSON.
        self.header_row: int | None = None if format == "json" else 1
        # The file's share of the bundle summary (``stats.TypeTally``), tallied as it was read.
        self.tally: TypeTally | None = None
        self._problems = ProblemStore(path, type)
        self.problems = problems if problems is not None else ()

    @property
    def problems(self) -> ProblemStore:
        return self._problems

    @problems.setter
    def problems(self, value: Iterable[Problem] | ProblemStore) -> None:
        if isinstance(value, ProblemStore):
            value.file, value.type = self.path, self.type
            self._problems = value
            return
        store = ProblemStore(self.path, self.type)
        store._rank = dict(self._problems._rank)
        store.extend(value)
        self._problems = store

    def __repr__(self) -> str:
        problems = len(self.problems)
        return f"FileResult({self.path!r}, {self.type!r}, {self.format!r}, rows={self.rows}, {problems} problems)"

    @property
    def errors(self) -> int:
        return self._problems.count("error")

    @property
    def warnings(self) -> int:
        return self._problems.count("warning")

    def counts(self) -> Counter[tuple[str, str | None, str]]:
        """Problems per (rule, field, severity)."""
        return self._problems.counts()

    def sort(self, column_order: tuple[str, ...] = ()) -> None:
        """Problems in report order: by row, then ``column_order``, then rule."""
        self._problems.set_order(column_order)
        self._problems.flush()
