"""Write a finished transform: the target files, ``rejects.csv`` and ``changes.csv``.

Records are written in the order the source produced them and nothing depends on the clock,
so the same input and options give byte-identical files. Each writer writes to the path it is
given (a private temporary file that ``outdir.write_bundle`` moves into place), so no function
here decides where a file lands or what it may replace.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.io.kinds import json_kinds
from omnimig.io.private import open_private
from omnimig.io.safe_text import neutralise_formula, neutralise_formula_column
from omnimig.io.table import Chunk
from omnimig.io.write import SUFFIX, TableWriter, csv_bytes
from omnimig.schemas.rules import table_rules
from omnimig.transforms.records import TARGETS, ChangeLog, Origin, Record, Reject
from omnimig.transforms.records import columns as record_columns

REJECT_COLUMNS = ["source_file", "source_row", "source_line", "target_type", "record", "field", "reason"]
CHANGE_COLUMNS = [
    "source_file",
    "source_row",
    "source_line",
    "target_type",
    "record",
    "field",
    "before",
    "after",
    "code",
    "message",
]


def record_writers(
    fmt: str, records: dict[str, list[Record]], table: Callable[[str, list[Record]], pa.Table] | None = None
) -> dict[str, Callable[[Path], None]]:
    """File name -> writer, one file per target type that has records.

    ``table`` (``Finished.table``) gives the records' values as Arrow columns when the rules
    already built them; without it they are read from the records.
    """
    return {
        f"{type_name}{SUFFIX[fmt]}": partial(
            write_table, type_name=type_name, fmt=fmt, rows=records[type_name], table=table
        )
        for type_name in TARGETS
        if records.get(type_name)
    }


def write_table(
    path: Path,
    type_name: str,
    fmt: str,
    rows: list[Record],
    table: Callable[[str, list[Record]], pa.Table] | None = None,
) -> None:
    """One target file: every schema column in schema order."""
    columns = list(table_rules(type_name).names)
    if table is not None:
        values = table(type_name, rows)
    else:  # column by column: one list per field is cheaper to build and to hand to Arrow than a list per row
        values = pa.table([pa.array(column, pa.string()) for column in record_columns(rows, columns)], names=columns)
    with TableWriter(path, fmt, columns) as writer:
        write_rows(writer, type_name, fmt, values)


def write_rows(writer: TableWriter, type_name: str, fmt: str, table: pa.Table) -> None:
    """Rows of one target type (string columns in schema order) into ``writer``.

    CSV is written by Arrow kernels (``TableWriter.write_arrow``); JSON needs each cell's kind from
    the schema, and XLSX goes cell by cell anyway, so those take the frame path.
    """
    if fmt == "csv":
        writer.write_arrow(table)
        return
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    kinds = json_kinds(type_name, frame) if fmt == "json" else None
    writer.write(Chunk(frame, pd.Series(range(len(frame))), kinds), pd.Series(True, index=frame.index))


#: Distinct cell texts ``_write_log`` remembers the neutralised form of.
_MEMO = 4096


def _place(origin: Origin) -> list[str]:
    return [origin.file, str(origin.row), str(origin.part) if origin.part else ""]


def _write_log(
    path: Path,
    columns: list[str],
    entries: Iterable[tuple[Origin, list[str]]],
    order: dict[str, int],
) -> None:
    """Always written, header included, so a script can rely on the file; no rows means none.

    Sorted by input (in the order given), row and line, so the file reads like the input. People
    open these files in a spreadsheet: a formula-like cell (a file name or value quoted from a
    hostile export) gets the OWASP apostrophe, so it shows as text instead of running.
    """
    entries = sorted(entries, key=lambda e: (order.get(e[0].file, 0), e[0].row, e[0].part))
    # Most cells repeat (the file, the type, the code, one message for every empty SKU): each
    # distinct text is neutralised once, not once per line (the memo is bounded: unique texts are many).
    safe: dict[str, str] = {}

    def neutral(cell: str) -> str:
        shown = safe.get(cell)
        if shown is None:
            shown = neutralise_formula(cell)
            if len(safe) < _MEMO:
                safe[cell] = shown
        return shown

    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        out = csv.writer(handle, lineterminator="\r\n")
        out.writerow(columns)
        out.writerows([neutral(cell) for cell in (*_place(origin), *tail)] for origin, tail in entries)


def write_rejects(path: Path, rejects: list[Reject], order: dict[str, int]) -> None:
    """One line per record not written (and per row that made no record), with its own reason."""
    entries = [(r.origin, [r.type, r.record, r.field, r.reason]) for r in rejects]
    _write_log(path, REJECT_COLUMNS, entries, order)


def write_changes(path: Path, changes: ChangeLog, order: dict[str, int]) -> None:
    """One line per value changed on the way: where it was read, the record, before, after, what kind.

    The log is sorted in Arrow and written by Arrow kernels (``io.write.csv_bytes``, the bytes
    ``csv.writer`` writes), each column neutralised at once (``neutralise_formula_column``), so a
    million changes are never a million Python lines.
    """
    c = changes.sorted_by_file(order).columns()
    place = [c["file"], c["row"].cast(pa.string()), pc.if_else(pc.equal(c["part"], 0), "", c["part"].cast(pa.string()))]
    cells = [*place, *(c[name] for name in _CHANGE_FIELDS)]
    table = pa.table([neutralise_formula_column(column) for column in cells], names=CHANGE_COLUMNS)
    with open_private(path, "wb") as handle:
        handle.write((",".join(CHANGE_COLUMNS) + "\r\n").encode("utf-8"))
        for part_bytes in csv_bytes(table):
            handle.write(part_bytes)


#: The ``Change`` field of each ``changes.csv`` column after the three that say where.
_CHANGE_FIELDS = ("type", "record", "field", "before", "after", "code", "message")
