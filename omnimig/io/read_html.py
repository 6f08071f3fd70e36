"""HTML table exports (a web panel's "Excel export" that is really a web page), read as a table.

Excel opens such a file as a sheet: each ``<tr>`` a row, each ``<td>``/``<th>`` a cell, whitespace
collapsed as a browser shows it, ``<br>`` a line break in the cell, ``colspan`` leaving empty
cells after the value. The first table with any text is read; its first row is the header
(row 1). The standard library's ``html.parser`` is enough for that, so neither lxml nor bs4 is
needed (pandas' ``read_html`` requires one of them).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd

from omnimig.exceptions import ReadError
from omnimig.i18n import _, ngettext
from omnimig.io.read_csv import _unique_header
from omnimig.io.table import MAX_COLUMNS, Chunk, Notice, Source, repeat_key

# An HTML export is parsed in pure Python and held whole: larger ones are refused.
MAX_HTML = 64 << 20
_SPACE = re.compile(r"[ \t\r\n\f]+")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


class _Row(list[str]):
    """One ``<tr>``: its cells up to one past ``MAX_COLUMNS``, and the width it really has.

    ``colspan`` multiplies cells (1 MB of ``<td colspan=1000>`` would be a billion of them), and no
    cell past the widest header allowed is ever read, so only the first ``MAX_COLUMNS + 1`` cells are
    kept: enough to refuse a header too wide and to report a row too wide. ``width`` counts them
    all, and ``lost`` says whether a cell not kept held text.
    """

    width: int = 0
    lost: bool = False


class _Tables(HTMLParser):
    """Collects the rows of every table (a nested table's rows go to the nested table)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[list[_Row]] = []
        self.open: list[list[_Row]] = []  # tables being read, innermost last
        self.cell: list[str] | None = None
        self.span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._end_cell()
            table: list[_Row] = []
            self.tables.append(table)
            self.open.append(table)
        elif not self.open:
            return
        elif tag == "tr":
            self._end_cell()
            self.open[-1].append(_Row())
        elif tag in ("td", "th"):
            self._end_cell()
            if not self.open[-1]:
                self.open[-1].append(_Row())
            self.cell = []
            span = (dict(attrs).get("colspan") or "1").strip()
            # Browsers cap colspan at 1000 as well; a longer digit string is no number Python takes.
            self.span = max(min(int(span[:6]), MAX_COLUMNS), 1) if span.isdigit() else 1
        elif tag == "br" and self.cell is not None:
            self.cell.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr"):
            self._end_cell()
        elif tag == "table" and self.open:
            self._end_cell()
            self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(_SPACE.sub(" ", data))

    def _end_cell(self) -> None:
        if self.cell is None or not self.open:
            self.cell = None
            return
        text = "\n".join(line.strip() for line in "".join(self.cell).split("\n")).strip()
        row = self.open[-1][-1]
        row.width += self.span
        room = MAX_COLUMNS + 1 - len(row)
        if room > 0:
            row.append(text)
            row.extend([""] * min(self.span - 1, room - 1))
        elif text:
            row.lost = True
        self.cell = None
        self.span = 1


def _decode(path: Path, data: bytes) -> str:
    """BOM first, then a declared charset, then UTF-8, then Windows-1254."""
    for bom, codec in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(codec, errors="replace")
    declared = _CHARSET.search(data[:4096])
    if declared is not None:
        try:
            return data.decode(codecs.lookup(declared.group(1).decode("ascii")).name)
        except (LookupError, UnicodeDecodeError):
            pass
    for codec in ("utf-8", "cp1254"):
        try:
            return data.decode(codec)
        except UnicodeDecodeError:
            continue
    raise ReadError(
        _(
            "{path}: the HTML table is neither UTF-8 nor Windows-1254 text; open it in Excel and save it as .xlsx"
        ).format(path=path)
    )


def read_html(path: Path, chunk_rows: int = 200_000, file_format: str = "xls") -> Source:
    """The first table of an HTML export; ``file_format`` is what the file is named as (for writing back)."""
    try:
        size = path.stat().st_size
        if size > MAX_HTML:
            raise ReadError(
                _(
                    "{path}: the HTML table is {size} MB; omnimig reads HTML exports up to {limit} MB: "
                    'open it in Excel and save it as .xlsx or "CSV UTF-8"'
                ).format(path=path, size=size >> 20, limit=MAX_HTML >> 20)
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ReadError(
            _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    parser = _Tables()
    try:
        parser.feed(_decode(path, data))
        parser.close()
    except (ValueError, AssertionError) as exc:
        raise ReadError(_("{path}: cannot read the HTML table: {error}").format(path=path, error=exc)) from None
    tables = [t for t in parser.tables if any(any(c for c in r) for r in t)]
    if not tables:
        raise ReadError(_("{path}: the HTML file holds no table with any text").format(path=path))
    rows = tables[0]
    header = list(rows[0])
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise ReadError(
            _("{path}: row 1 of the HTML table is empty; row 1 must hold the column names").format(path=path)
        )
    if len(header) > MAX_COLUMNS or rows[0].lost:
        wide = _("more than {n}").format(n=f"{MAX_COLUMNS:,}") if len(rows[0]) > MAX_COLUMNS else f"{len(header):,}"
        raise ReadError(
            _("{path}: the HTML table has {columns} columns; a migration file has at most {limit}").format(
                path=path, columns=wide, limit=f"{MAX_COLUMNS:,}"
            )
        )
    columns, duplicates = _unique_header(header)
    notices = []
    if len(tables) > 1:
        notices.append(
            Notice(
                "sheet",
                ngettext(
                    "the HTML file holds {n} table; read the first one",
                    "the HTML file holds {n} tables; read the first one",
                    len(tables),
                ).format(n=len(tables)),
            )
        )
    return Source(
        path=str(path),
        format=file_format,
        columns=tuple(columns),
        chunks=_chunks(header, rows[1:], chunk_rows),
        notices=notices,
        duplicate_columns=tuple(duplicates),
        header=tuple(header),
    )


def _chunks(header: list[str], body: list[_Row], chunk_rows: int) -> Iterator[Chunk]:
    width = len(header)
    seen: dict[str, int] = {}
    names = []
    for name in header:
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else repeat_key(name, seen[name]))
    for start in range(0, len(body), chunk_rows):
        part = body[start : start + chunk_rows]
        notices = []
        cells = []
        for i, row in enumerate(part):
            if row.lost or any(row[width:]):
                notices.append(
                    Notice(
                        "row-width",
                        _(
                            "the row has {cells} cells but the header has {columns} columns; "
                            "the cells after the last column are not read"
                        ).format(cells=row.width, columns=width),
                        row=start + i + 2,
                        severity="error",
                        value="\t".join(row),
                    )
                )
            cells.append(row[:width] + [""] * (width - len(row)))
        index = pd.RangeIndex(start, start + len(part))
        frame = pd.DataFrame(
            {name: pd.array([r[j] for r in cells], dtype="string[pyarrow]") for j, name in enumerate(names)},
            index=index,
        )
        yield Chunk(
            data=frame, rows=pd.Series(np.arange(start + 2, start + 2 + len(part)), index=index), notices=notices
        )
