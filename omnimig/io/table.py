"""The shape every reader produces: columns of text, in chunks, with source row numbers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas and pyarrow cost half a second to import: not for ``omnimig --help``
    import pandas as pd
    import pyarrow as pa

    # The Arrow type of every text column: what pandas' ``string[pyarrow]`` holds, so readers that
    # produce it and code that stitches columns together never cast.
    TEXT: pa.DataType


def __getattr__(name: str) -> Any:
    """``TEXT`` (``pyarrow.large_string()``), made on first use so importing ``omnimig.io`` stays light."""
    if name == "TEXT":
        import pyarrow as pa

        return pa.large_string()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


#: The widest header any reader accepts: the schemas have fewer than 40 fields, and every column
#: costs memory per row, so a file (CSV, HTML, JSON keys, a workbook sheet) wider than this is refused.
MAX_COLUMNS = 1000


def repeat_key(name: str, n: int) -> str:
    """The chunk column holding the ``n``-th (2, 3, …) column headed ``name``; no header can spell it."""
    return f"{name}\x00{n}"


@dataclass(frozen=True)
class ReadOptions:
    """How to read a workbook when the defaults guess wrong: ``--sheet NAME|N`` and ``--header-row N``.

    Kept with a file's result, so every later reader of the file (``--split``, the annotated
    report, upload parts) opens the same sheet from the same row. Text and JSON files ignore them.
    """

    sheet: str | int | None = None
    header_row: int | None = None


@dataclass
class Notice:
    """Something a reader noticed: about the whole file (a fallback encoding, the sheet it chose),
    or about one row or cell (an Excel error cell, a duplicate JSON key, a malformed CSV row).

    ``row`` is the row as a person finds it (see ``Chunk.rows``); ``column`` is the file's own
    header name, or ``None`` for the whole row or file; ``value`` is the cell as read, if any.
    The validator turns each notice into a ``Problem``, so a row with an error notice is held
    by ``--split`` like any other broken row.
    """

    rule: str
    message: str
    row: int | None = None
    severity: str = "warning"
    column: str | None = None
    value: str | None = None


@dataclass
class Chunk:
    """A slice of a file's rows.

    ``data`` holds every cell as text (``NA`` where JSON had ``null`` or no key). ``rows`` is the
    row number of each record as a person finds it (see DESIGN.md). ``kinds`` exists for JSON
    files only: the JSON type of each cell (``string``, ``number``, ``boolean``, ``null``,
    ``object``, ``array``, ``absent``), because JSON Schema judges types that text cannot show.
    """

    data: pd.DataFrame
    rows: pd.Series
    kinds: pd.DataFrame | None = None
    # Row and cell problems a reader found in this chunk (Excel error cells, duplicate JSON keys, ...).
    notices: list[Notice] = field(default_factory=list)


@dataclass
class Source:
    """An opened file: its header and an iterator over its chunks."""

    path: str
    format: str  # csv, xlsx, xls, json
    columns: tuple[str, ...]
    chunks: Iterator[Chunk]
    notices: list[Notice] = field(default_factory=list)
    # Index of header duplicates: a column name that appears twice keeps its first position.
    duplicate_columns: tuple[str, ...] = ()
    # Every header label in file order, repeats included (empty: the same as ``columns``). A
    # repeated column's values are kept in the chunks under ``repeat_key(name, n)`` so that
    # nothing is lost when rows are written back (``--split``, upload parts); the rules check
    # only the first column of a name and report the repeat as ``duplicate-column``.
    header: tuple[str, ...] = ()
    # The row that holds the column names, as a person finds it (a workbook's header may sit under
    # title rows); ``None`` for JSON, which has no header row.
    header_row: int | None = 1
    # The options it was opened with, so that reading it again reads the same sheet and rows.
    options: ReadOptions = field(default_factory=ReadOptions)
    # Records in the file when known before reading the chunks (JSON); None otherwise.
    known_rows: int | None = None
    # Bytes of the file read so far, for a progress bar; None when the reader cannot tell
    # (a legacy XLS is read whole before the first chunk; the JSON reader does not report it).
    bytes_read: Callable[[], int | None] = field(default=lambda: None)
