"""Text that is safe to show a person: in a terminal, and in a spreadsheet that opens a CSV.

Cells and file names come from files we did not write. Printed raw, an escape sequence in a
cell can rewrite the report on screen; written raw into a CSV that a person opens, ``=HYPERLINK(…)``
becomes a live formula. Reports and ``held/`` files are read by people and go through these
functions; ``ready/`` files are upload data and stay byte-faithful.
"""

from __future__ import annotations

import re
from typing import Any

# C0 and C1 controls and DEL, except tab and newline (a message may span lines on purpose), and
# lone surrogates: a file name that is not UTF-8 (os.fsdecode's surrogateescape) or a JSON "\ud800",
# which no terminal, UTF-8 file or workbook can hold.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
# The OWASP list of characters that make a spreadsheet read a cell as a formula.
_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def cut(text: str, limit: int) -> str:
    """``text`` if it has at most ``limit`` characters, else its first ``limit - 1`` and "…".

    Every place that shows a value or a message of unknown length shortens it this one way, so a
    10 kB cell or a kilobyte of binary in an exception cannot flood a line, a note or a report.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def visible(text: str) -> str:
    """``text`` with control characters and lone surrogates shown as escapes (``\\x1b``, ``\\udcff``).

    A terminal then prints, never obeys, them, and any UTF-8 output (a report, a workbook) can hold them.
    """
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def is_formula_like(value: str) -> bool:
    """Would a spreadsheet opening this cell from a CSV treat it as a formula? Plain numbers (``-12.5``) are not."""
    return value.startswith(_FORMULA_LEAD) and not _PLAIN_NUMBER.fullmatch(value)


def neutralise_formula(value: str) -> str:
    """The OWASP convention: a formula-like cell gets a leading apostrophe, which spreadsheets show as text."""
    return "'" + value if is_formula_like(value) else value


def neutralise_formula_column(values: Any) -> Any:
    """``neutralise_formula`` over an Arrow string array, for a log of a million lines.

    Why: writing ``changes.csv`` with a Python call per cell was most of its cost. Only a cell that
    starts with one of the formula characters can change, and Arrow finds those in one pass; each
    of them goes through ``neutralise_formula`` itself, so the rule stays there (null stays null).
    pyarrow is imported here, so the per-cell functions stay stdlib-only.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    lead = "^[" + "".join(re.escape(c) for c in _FORMULA_LEAD) + "]"
    maybe = pc.fill_null(pc.match_substring_regex(values, lead), False).to_numpy(zero_copy_only=False)
    at = np.flatnonzero(maybe)
    if not len(at):
        return values
    cells = values.to_pylist()
    for i in at.tolist():
        cells[i] = neutralise_formula(cells[i])
    return pa.array(cells, pa.string())
