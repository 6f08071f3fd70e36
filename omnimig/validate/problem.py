"""``Problem``: the one result type every check produces and every report renders."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from typing import Literal

import pandas as pd

Severity = Literal["error", "warning"]

#: How long a value may be in any report before it is shortened.
MAX_VALUE_CHARS = 80


def shorten(value: str | None, limit: int = MAX_VALUE_CHARS) -> str | None:
    """Cut long values so one bad 10 kB cell cannot flood a terminal or a JSON report."""
    if value is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…"


def plural(n: int, word: str) -> str:
    """``1 row``, ``1,204 rows``: counts as every report prints them."""
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"


@dataclass(frozen=True, slots=True)
class Problem:
    """One broken rule at one place.

    ``row`` is where a person finds it: the spreadsheet row for CSV/XLS/XLSX (header = 1),
    the 1-based record number for JSON; ``None`` for a problem of the whole file.
    ``field`` is ``None`` when no single column is at fault.
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


@dataclass
class FileResult:
    """What validating one file found."""

    path: str
    type: str | None
    format: str | None
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    columns: tuple[str, ...] = ()
    # The columns cross-file rules read (``rules.bundle_fields``), with a ``row`` column.
    keys: pd.DataFrame | None = None

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for p in self.problems if p.severity == "warning")

    def counts(self) -> Counter[tuple[str, str | None, str]]:
        """Problems per (rule, field, severity)."""
        return Counter((p.rule, p.field, p.severity) for p in self.problems)

    def sort(self, column_order: tuple[str, ...] = ()) -> None:
        rank = {name: i for i, name in enumerate(column_order)}
        self.problems.sort(
            key=lambda p: (
                -1 if p.row is None else p.row,
                -1 if p.field is None else rank.get(p.field, len(rank)),
                p.rule,
            )
        )


def escalate(problems: list[Problem]) -> list[Problem]:
    """``--strict``: every warning becomes an error."""
    return [replace(p, severity="error") if p.severity == "warning" else p for p in problems]
