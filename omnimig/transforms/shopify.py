"""Source ``shopify``: Shopify's orders export CSV, optionally with its customers export CSV.

Inputs are told apart by their header, not their position: an orders export has ``Lineitem
name``, a customers export has ``Email`` with ``Customer ID`` or ``First Name``. Columns are
found by name (the 79- and 73-column order layouts, the 20/21-column and older customer layouts,
and the alias spellings seen in the wild), so column order and unknown new columns do not matter;
a missing needed column stops the run with one line naming the file and the columns.

One input row is one CSV record, numbered as a spreadsheet shows it (header = row 1; a cell
with line breaks inside quotes does not add rows); completely blank rows hold nothing and are
skipped. The orders export has one row per line item and puts the order-level columns only on
an order's first row, so rows are grouped by ``Name``: the first row writes the order and its
first item, every other row writes an item. A customers row writes a user (and its default
address); a second row with the same email is merged into the first user.

Orders link to customers by email (trimmed, lower case), the only key the orders export has; a
buyer missing from the customers export gets a user derived from the order (customer_code = the
email). The status comes from ``Cancelled at``, ``Financial Status`` and ``Fulfillment Status``
through the table in ``tables/shopify-status.toml``, which ``[values.shopify_status]`` in a
mapping file or ``--map shopify_status:KEY=CODE`` override entry by entry.

What Shopify does not export (password hashes, sign-up dates, banks, installments, tracking
numbers, carriers) is left empty and listed in the summary (``Draft.cannot_fill``), so
``--default`` can fill it; nothing is invented.
"""

from __future__ import annotations

import gc
import json
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from operator import itemgetter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig import i18n  # i18n._(): this module uses _ as a loop variable
from omnimig.exceptions import ReadError
from omnimig.io import open_source
from omnimig.io.table import Source
from omnimig.transforms import core
from omnimig.transforms import normalize as nz
from omnimig.transforms.address import join_parts, split_name
from omnimig.transforms.errors import reading
from omnimig.transforms.records import Draft, LineRef, Origin, Record, record_label
from omnimig.transforms.settings import Settings, SettingsError
from omnimig.transforms.stream import STREAMED, Stream

TITLE = "Shopify orders export CSV (+ customers export CSV)"

ORDERS = "orders"
CUSTOMERS = "customers"

#: Orders export columns this source reads, with the other spellings seen in public code.
ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "Fulfilled at": ("Fulfillment Date",),
    "Cancelled at": ("Canceled at",),
    "Lineitem compare at price": ("Lineitem compare-at price",),
    "Payment Reference": ("Payment Reference (deprecated)",),
}
#: Without these an orders export cannot give an order and its items.
ORDER_NEEDED: tuple[str, ...] = (
    "Name",
    "Email",
    "Financial Status",
    "Fulfillment Status",
    "Cancelled at",
    "Currency",
    "Total",
    "Created at",
    "Lineitem quantity",
    "Lineitem name",
    "Lineitem price",
)
ORDER_EXTRA = (  # kept in order.extra_field (legacy-exports.md §6.3)
    "Id",
    "Financial Status",
    "Fulfillment Status",
    "Paid at",
    "Fulfilled at",
    "Cancelled at",
    "Subtotal",
    "Shipping",
    "Taxes",
    "Refunded Amount",
    "Outstanding Balance",
    "Discount Code",
    "Shipping Method",
    "Notes",
    "Note Attributes",
    "Tags",
    "Source",
    "Payment Reference",
)
ITEM_EXTRA = (  # kept in order_item.extra_field (§6.4)
    "Lineitem compare at price",
    "Vendor",
    "Lineitem requires shipping",
    "Lineitem taxable",
    "Lineitem fulfillment status",
    "Lineitem discount",
)
ORDER_DROPPED = (  # no target field and not kept: reported when they hold values
    *(f"Tax {n} {part}" for n in range(1, 6) for part in ("Name", "Value")),
    "Duties",
    "Employee",
    "Location",
    "Device ID",
    "Payment ID",
    "Payment References",
    "Payment Terms Name",
    "Next Payment Due At",
    "Risk Level",
    "Receipt Number",
)
ADDRESS_PARTS = (
    "Name",
    "Street",
    "Address1",
    "Address2",
    "Company",
    "City",
    "Zip",
    "Province",
    "Country",
    "Phone",
    "Province Name",
)
ORDER_USED = (
    *ORDER_NEEDED,
    "Accepts Marketing",
    "Discount Amount",
    "Payment Method",
    "Phone",
    "Lineitem sku",
    *(f"{side} {part}" for side in ("Billing", "Shipping") for part in ADDRESS_PARTS),
)
ORDER_KNOWN = tuple(dict.fromkeys((*ORDER_USED, *ORDER_EXTRA, *ITEM_EXTRA, *ORDER_DROPPED)))

#: Customers export columns (current layout first, then the older one's spelling).
CUSTOMER_ALIASES: dict[str, tuple[str, ...]] = {
    "Accepts Email Marketing": ("Accepts Marketing",),
    "Default Address Company": ("Company",),
    "Default Address Address1": ("Address1",),
    "Default Address Address2": ("Address2",),
    "Default Address City": ("City",),
    "Default Address Province Code": ("Province Code",),
    "Default Address Province": ("Province",),
    "Default Address Country Code": ("Country Code",),
    "Default Address Country": ("Country",),
    "Default Address Zip": ("Zip",),
}
CUSTOMER_NEEDED: tuple[str, ...] = ("Email", "First Name", "Last Name")
CUSTOMER_DROPPED = ("Total Spent", "Total Orders", "Note", "Tax Exempt", "Tags", "Accepts WhatsApp Marketing")
CUSTOMER_KNOWN: tuple[str, ...] = (
    "Customer ID",
    *CUSTOMER_NEEDED,
    "Phone",
    "Accepts SMS Marketing",
    "Default Address Phone",
    *CUSTOMER_ALIASES,
    *CUSTOMER_DROPPED,
)

#: ISO 3166-1 codes Akinon's location tree names differently; ``[values.country]`` adds or overrides.
COUNTRY_NAMES = {"TR": "Türkiye"}

CANNOT_FILL = {
    ("user", "password"): i18n.N_("Shopify never exports password hashes"),
    ("user", "gender"): i18n.N_("Shopify exports no gender"),
    ("user", "date_of_birth"): i18n.N_("Shopify exports no date of birth"),
    ("order", "bank"): i18n.N_("not in the export (Payment Method is a gateway name, not a bank)"),
    ("order", "installment_count"): i18n.N_("not in the export (Payment Method carries no installments)"),
    ("order", "tracking_number"): i18n.N_("not in the export (Shopify does not export fulfillments)"),
    ("order_item", "image_url"): i18n.N_("not in the orders export (a products export has Image Src)"),
    ("address", "title"): i18n.N_("Shopify addresses have no title"),
    ("address", "tax_office"): i18n.N_("only as free text in Note Attributes, kept in the order's extra_field"),
    ("address", "tax_no"): i18n.N_("only as free text in Note Attributes, kept in the order's extra_field"),
}
SHIPPING_COMPANY_WHY = i18n.N_(
    "Shipping Method is a checkout rate name, not a carrier; map rate names with "
    "--map 'shipping_company:Standard Shipping=yurtici' or [values.shipping_company]"
)
OPTIONS = ("strip_hash",)


@dataclass
class Sheet:
    """One export: which kind, where each known column is, and its rows with their numbers.

    A customers export is read whole (``rows``). An orders export is streamed: ``stream`` reads it
    again a chunk at a time (``chunks``), so the rows of a million-order export are never all in
    memory; what the orders need from the whole file before the first order (province names, the
    rows the reader could not read, which dropped columns hold a value) comes from a first pass.
    ``columns`` are positions in a row's ``cells`` (for a streamed export, only the known columns
    are turned into Python text).
    """

    path: Path
    kind: str
    columns: dict[str, int]
    rows: list[tuple[int, list[str]]]
    width: int
    unknown: list[str] = field(default_factory=list)
    # Rows the reader could not read faithfully (a stray quote, an Excel error cell), with why.
    broken: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    pickers: dict[object, Callable[[list[str]], tuple[str, ...]]] = field(default_factory=dict, repr=False)
    # A streamed export: the rows again, chunk by chunk, in file order.
    stream: Callable[[], Iterator[list[tuple[int, list[str]]]]] | None = field(default=None, repr=False)
    # Dropped columns (no target field) that hold a value somewhere, found by the first pass.
    filled: set[str] = field(default_factory=set)
    # Province code (folded) -> name, the first pair the export writes, found by the first pass.
    provinces: dict[str, str] = field(default_factory=dict)
    # (kept columns -> row number -> extra_field) for the rows of the chunk streamed last (``_extras``).
    extras: dict[tuple[str, ...], dict[int, str]] = field(default_factory=dict, repr=False)
    # ``Created at`` cell -> ``nz.date`` of it (None: read it with ``nz.date``), for the chunk streamed last.
    dates: dict[str, str | None] = field(default_factory=dict, repr=False)

    def chunks(self) -> Iterator[list[tuple[int, list[str]]]]:
        """The rows in file order, in chunks (one chunk, ``rows``, for a sheet read whole)."""
        if self.stream is None:
            yield self.rows
        else:
            yield from self.stream()

    def get(self, cells: list[str], name: str) -> str:
        i = self.columns.get(name)
        return cells[i] if i is not None and i < len(cells) else ""

    def has(self, name: str) -> bool:
        return name in self.columns

    def pick(self, names: tuple[str, ...]) -> Callable[[list[str]], tuple[str, ...]]:
        """A function giving the cells of ``names`` of a row at once (``""`` for a missing column).

        The hot loops read a dozen columns per row; one C-level ``itemgetter`` call instead of a
        ``get`` per cell is most of the cost of reading them.
        """
        where = [self.columns[n] for n in names if n in self.columns]
        if len(where) == len(names) > 1:
            getter = itemgetter(*where)
            width = max(where)

            def picked(cells: list[str]) -> tuple[str, ...]:
                if len(cells) > width:
                    return getter(cells)
                return tuple(self.get(cells, n) for n in names)

            return picked
        return lambda cells: tuple(self.get(cells, n) for n in names)


def _key(name: str) -> str:
    return " ".join(name.replace("\ufeff", "").split()).casefold()


#: Rows of an orders export turned into Python text at a time: the export is streamed, so
#: memory holds one chunk of rows, not the file.
ORDER_CHUNK_ROWS = 20_000

#: Every character ``str.split()`` and ``str.strip()`` treat as whitespace, as a regex class, so a
#: column can be tested for blank cells in Arrow exactly as Python would judge each cell.
WHITESPACE = nz.whitespace_class()  # runs written as ranges: Arrow compiles it once per column and chunk
_BLANK = f"^[{WHITESPACE}]*$"


def _blank(column: pd.Series) -> np.ndarray:
    """Which cells are empty or whitespace only (``not cell.strip()``), judged in Arrow."""
    array = pa.array(column, type=pa.string(), from_pandas=True)
    return np.asarray(pc.match_substring_regex(array, _BLANK).to_numpy(zero_copy_only=False), dtype=bool)


def load_sheet(path: Path) -> Sheet:
    """Read one export through ``omnimig.io`` (CSV in any encoding or delimiter the validator reads, XLSX,
    XLS); ReadError (one line, naming the file) when it is not a usable Shopify export.

    A customers export is read whole; an orders export gets a first pass over the file (see
    ``Sheet``) and is streamed again by ``Sheet.chunks``.
    """
    source = open_source(path)
    header = list(source.columns)
    if not any(h.strip() for h in header):
        raise ReadError(i18n._("{file}: the file is empty or has no header row").format(file=path))
    found = {_key(h): i for i, h in reversed(list(enumerate(header)))}  # the first of a repeated name wins
    if "lineitem name" in found:
        kind, aliases, needed, known = ORDERS, ORDER_ALIASES, ORDER_NEEDED, ORDER_KNOWN
    elif "email" in found and ("customer id" in found or "first name" in found):
        kind, aliases, needed, known = CUSTOMERS, CUSTOMER_ALIASES, CUSTOMER_NEEDED, CUSTOMER_KNOWN
    else:
        raise ReadError(
            i18n._(
                "{file}: neither a Shopify orders export (no 'Lineitem name' column) nor a customers export "
                "(no 'Email' with 'Customer ID' or 'First Name')"
            ).format(file=path)
        )
    columns: dict[str, int] = {}
    for name in known:
        for spelling in (name, *aliases.get(name, ())):
            if _key(spelling) in found:
                columns[name] = found[_key(spelling)]
                break
    missing = [n for n in needed if n not in columns]
    if missing:
        raise ReadError(
            i18n.ngettext(
                "{file}: the Shopify {kind} export lacks the column {columns}",
                "{file}: the Shopify {kind} export lacks the columns {columns}",
                len(missing),
            ).format(file=path, kind=kind, columns=", ".join(repr(m) for m in missing))
        )
    used = set(columns.values())
    unknown = [h for i, h in enumerate(header) if i not in used and h.strip()]
    # An error cell (#N/A) in a column the source does not read costs nothing; a malformed row does.
    dropped = ORDER_DROPPED if kind == ORDERS else CUSTOMER_DROPPED
    read_columns = {header[i] for name, i in columns.items() if name not in dropped}
    notes = (
        [i18n._("{file}: not UTF-8; read as Windows-1254 (cp1254)").format(file=path)]
        if any(n.rule == "encoding" for n in source.notices)
        else []
    )
    if kind == ORDERS:
        return _orders_sheet(path, source, header, columns, read_columns, unknown, notes)
    numbered: list[tuple[int, list[str]]] = []
    notices = []
    for chunk in source.chunks:
        frame = chunk.data[header].fillna("")
        numbered += zip((int(n) for n in chunk.rows), _cells(frame), strict=True)
        notices += chunk.notices
    broken = core.broken_rows(notices, read_columns)
    rows = [(n, cells) for n, cells in numbered if n in broken or any(c.strip() for c in cells)]
    return Sheet(path, kind, columns, rows, len(header), unknown, broken, notes)


def _orders_sheet(
    path: Path,
    source: Source,
    header: list[str],
    columns: dict[str, int],
    read_columns: set[str],
    unknown: list[str],
    notes: list[str],
) -> Sheet:
    """An orders export, streamed: a first pass for what the orders need from the whole file.

    The first pass (in Arrow and pandas, a column at a time) finds the rows the reader could not
    read, the province names (the first code-name pair in file order, as the orders need them
    before their own row), and the dropped columns that hold a value. The rows themselves are
    read again, chunk by chunk, by ``Sheet.chunks``; only the known columns become Python text.
    """
    # Streamed rows carry the columns the orders read; the dropped ones only matter to the first pass.
    streamed = {name: i for name, i in columns.items() if name not in ORDER_DROPPED}
    kept = sorted(set(streamed.values()))
    position = {i: j for j, i in enumerate(kept)}
    sheet = Sheet(path, ORDERS, {name: position[i] for name, i in streamed.items()}, [], len(header), unknown)
    sheet.columns.update({name: len(kept) + j for j, name in enumerate(ITEM_MADE)})  # after the export's cells
    sheet.notes = notes
    notices = []
    dropped = [c for c in ORDER_DROPPED if c in columns]
    # The first pass reads in chunks of the streamed size, and only the columns it needs, so it
    # holds no more than the streaming does.
    options = source.options
    first = open_source(path, chunk_rows=ORDER_CHUNK_ROWS, options=options)
    for chunk in first.chunks:
        data = chunk.data[header]
        notices += chunk.notices
        for name in dropped:
            if name not in sheet.filled and not _blank(data.iloc[:, columns[name]].fillna("")).all():
                sheet.filled.add(name)
        _learn_provinces(data, columns, sheet.provinces)
    sheet.broken = broken = core.broken_rows(notices, read_columns)

    def stream() -> Iterator[list[tuple[int, list[str]]]]:
        again = open_source(path, chunk_rows=ORDER_CHUNK_ROWS, options=options)
        for chunk in again.chunks:
            frame = chunk.data[header].fillna("")
            numbers = chunk.rows.to_numpy(dtype=np.int64)
            keep = np.zeros(len(frame), dtype=bool)
            for j in range(frame.shape[1]):  # a row is kept when any cell is not blank
                rest = np.flatnonzero(~keep)
                if not len(rest):
                    break
                keep[rest] = ~_blank(frame.iloc[rest, j])
            if broken:
                keep |= np.isin(numbers, np.fromiter(broken, dtype=np.int64))
            if not keep.any():
                continue
            made = _item_cells(frame.iloc[keep], columns)
            cells = _cells(frame.iloc[keep, kept], made)
            sheet.dates = _dates(frame.iloc[keep, columns["Created at"]])
            rows = numbers[keep]
            sheet.extras = {
                kept_columns: _extras(frame.iloc[keep], columns, kept_columns, rows) for kept_columns in EXTRAS
            }
            yield list(zip(numbers[keep].tolist(), cells, strict=True))

    sheet.stream = stream
    return sheet


#: The kept-column sets of ``extra_field`` (order, item) and the columns whose line breaks are kept.
ORDER_NEWLINES = ("Notes", "Note Attributes")
EXTRAS = (ORDER_EXTRA, ITEM_EXTRA)
#: A cell JSON writes escaped (``"``, ``\``, control characters): left to ``_encoded``.
_JSON_ESCAPED = r'["\\\x00-\x1f]'


def _extras(frame: pd.DataFrame, at: dict[str, int], names: tuple[str, ...], rows: np.ndarray) -> dict[int, str]:
    """``_encoded`` of each row of a chunk whose kept cells are clean, built as one Arrow column; row number -> text.

    Why: an order's kept columns (its Id, dates, notes) differ on every order, so the cache of
    ``_encoded`` misses and each order paid a loop and a JSON encoding. A row whose cells
    ``nz.text`` leaves as they are (``nz.unchanged_by_text``) and JSON writes without escapes is
    ``{"shopify":{"Column":"value",…}}`` over its non-empty cells, which string kernels build for
    the whole chunk; every other row is left out and made by ``_encoded`` itself (the rule stays there).
    """
    ok = np.ones(len(frame), dtype=bool)
    fragments = []
    for name in names:
        j = at.get(name)
        if j is None:
            continue
        cells = pa.array(frame.iloc[:, j], type=pa.string(), from_pandas=True)
        ok &= nz.unchanged_by_text(cells)
        ok &= ~np.asarray(
            pc.fill_null(pc.match_substring_regex(cells, _JSON_ESCAPED), True).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        pair = pc.binary_join_element_wise(_JSON.encode(name) + ':"', cells, '",', "")
        fragments.append(pc.if_else(pc.equal(cells, ""), "", pair))  # no nulls: "skip" drops rows (pyarrow 26)
    if not fragments or not ok.any():
        return {}
    body = pc.binary_join_element_wise(*fragments, "")
    body = pc.utf8_slice_codeunits(body, 0, -1)  # the last pair's comma
    made = pc.if_else(pc.equal(body, ""), "", pc.binary_join_element_wise('{"shopify":{', body, "}}", ""))
    return dict(zip(rows[ok].tolist(), made.filter(pa.array(ok)).to_pylist(), strict=True))


def _dates(column: pd.Series) -> dict[str, str | None]:
    """Each distinct ``Created at`` cell of a chunk with ``nz.date`` of it, read as one column (``nz.date_column``).

    An order's first row reads its date here with one dict lookup; a cell ``nz.date`` refuses maps
    to None, and so does a cell of another chunk (an order whose rows span two chunks): ``_order``
    reads those with ``nz.date`` itself, for the same value or the same error.
    """
    distinct = pd.unique(column.to_numpy(dtype=object))
    return dict(zip(distinct.tolist(), nz.date_column(distinct.tolist()), strict=True))


def _learn_provinces(frame: pd.DataFrame, columns: dict[str, int], names: dict[str, str]) -> None:
    """The orders export writes a province as code and name; the customers export has only the code.

    The first pair in file order wins (a row's Billing side before its Shipping side); each
    distinct raw pair is cleaned once.
    """
    sides = []
    for side in ("Billing", "Shipping"):
        at_code, at_name = columns.get(f"{side} Province"), columns.get(f"{side} Province Name")
        empty = pd.Series("", index=frame.index, dtype=object)
        sides.append(
            (
                frame.iloc[:, at_code].fillna("").astype(object) if at_code is not None else empty,
                frame.iloc[:, at_name].fillna("").astype(object) if at_name is not None else empty,
            )
        )
    n = len(frame)
    codes = np.empty(2 * n, dtype=object)
    values = np.empty(2 * n, dtype=object)
    for k, (code_column, name_column) in enumerate(sides):
        codes[k::2] = code_column.to_numpy()
        values[k::2] = name_column.to_numpy()
    pairs = pd.DataFrame({"code": codes, "name": values})
    pairs = pairs[(pairs["code"] != "") & (pairs["name"] != "")].drop_duplicates()
    cleaned = zip(nz.text_column(pairs["code"].tolist()), nz.text_column(pairs["name"].tolist()), strict=True)
    for clean_code, clean_name in cleaned:
        if clean_code and clean_name:
            names.setdefault(clean_code.casefold(), clean_name)


#: How many distinct cell values each cleaning cache keeps. An export repeats most of its values
#: (cities, countries, statuses, a buyer's email and address on every order), so a bounded cache
#: turns millions of normaliser calls into dict lookups without growing with the export.
CACHED = 1 << 16


def _forget() -> None:
    """Empty the cleaning caches after a run: a library in a long-lived process keeps no customer data."""
    for cached in (_text, _marked, _email, _boolean, _amount, _encoded):
        cached.cache_clear()
    core.forget()


def _cells(frame: pd.DataFrame, made: list[list[str]] | None = None) -> list[list[str]]:
    """A chunk's rows as lists of text, each distinct value of a column one shared string; ``made``
    columns (one value per row) follow the frame's.

    Exports repeat most values (statuses, currencies, cities, a buyer's email on every row), and
    the rows are kept until the orders are built: sharing the strings (through Arrow's dictionary
    encoding of each column, in C) roughly halves the memory of the rows read; it is also about
    twice as fast as a pandas categorical, which sorts its categories.
    """
    columns = []
    for j in range(frame.shape[1]):
        column = frame.iloc[:, j]
        found = pa.array(column if column.dtype != object else column.astype(str), type=pa.string(), from_pandas=True)
        if isinstance(found, pa.ChunkedArray):
            found = found.combine_chunks()
        found = pc.fill_null(found, "").dictionary_encode()
        distinct = np.empty(len(found.dictionary), dtype=object)
        distinct[:] = found.dictionary.to_pylist()
        columns.append(distinct.take(found.indices.to_numpy(zero_copy_only=False)).tolist())
    columns += made or []
    if not columns:
        return [[] for _ in range(len(frame))]
    return list(map(list, zip(*columns, strict=True)))


#: What ``_item_cells`` adds to each row of an orders export, after the export's own cells.
ITEM_MADE = ("\x00price error", "\x00price", "\x00sku", "\x00product", "\x00quantity")


def _item_cells(frame: pd.DataFrame, at: dict[str, int]) -> list[list[str]]:
    """The cleaned line-item cells of a chunk's rows (``ITEM_MADE``), each distinct cell cleaned once.

    Why: a line item's price, SKU, name and quantity repeat across an export (a product on each
    of its orders); cleaning them a column at a time, a call per distinct value, leaves ``_item``
    nothing to call per row. The cleaning is ``_amount`` and ``_text``'s, as before; a price
    ``_amount`` refuses gets its message in the first column and an empty price.
    """
    n = len(frame)

    def each(name: str, clean: Callable[[str], str]) -> list[str]:
        j = at.get(name)
        if j is None:
            return [clean("")] * n
        codes, distinct = pd.factorize(frame.iloc[:, j].fillna("").astype(str), sort=False)
        made = np.empty(len(distinct), dtype=object)
        made[:] = [clean(v) for v in distinct]
        return made.take(codes).tolist()

    refused: dict[str, str] = {}  # a price cell _amount refuses -> why

    def price(value: str) -> str:
        try:
            return _amount(value)
        except nz.NormaliseError as exc:
            refused[value] = str(exc)
            return ""

    amounts = each("Lineitem price", price)
    errors = [""] * n
    if refused:
        cells = frame.iloc[:, at["Lineitem price"]].fillna("").astype(str).tolist()
        errors = [refused.get(cell, "") for cell in cells]
    return [
        errors,
        amounts,
        each("Lineitem sku", _text),
        each("Lineitem name", _text),
        each("Lineitem quantity", _text),
    ]


@lru_cache(maxsize=CACHED)
def _text(value: str, keep_newlines: bool = False) -> str:
    return nz.text(value, keep_newlines=keep_newlines) or ""


@lru_cache(maxsize=CACHED)
def _marked(value: str) -> str:
    """A zip code, phone or id without the leading ``'`` Shopify adds for spreadsheets."""
    return _text(nz.strip_marker(value) or "")


@lru_cache(maxsize=CACHED)
def _email(value: str) -> str:
    """Emails match trimmed and lower-cased (not Turkish-folded: ``I`` in an address is ``i``)."""
    return nz.email(_text(value)) or ""


def _lack(draft: Draft, type_name: str, name: str, why: str) -> None:
    if (type_name, name) not in draft.cannot_fill:  # translated once, not for every order that lacks it
        draft.cannot_fill[(type_name, name)] = i18n._(why)


@lru_cache(maxsize=CACHED)
def _boolean(value: str) -> str:
    try:
        found = nz.boolean(value)
    except nz.NormaliseError:
        return ""
    return "" if found is None else ("true" if found else "false")


def _option_true(settings: Settings, name: str) -> bool:
    value = settings.source.get(name, False)
    if isinstance(value, bool):
        return value
    try:
        return bool(nz.boolean(str(value), empty=False))
    except nz.NormaliseError:
        raise SettingsError(
            i18n._("option {name}={value}: use true or false").format(name=name, value=repr(value))
        ) from None


def status_table(settings: Settings) -> dict[str, str]:
    """The shipped status table, with the person's ``[values.shopify_status]`` entries on top; keys folded."""
    text = resources.files("omnimig.transforms").joinpath("tables/shopify-status.toml").read_text(encoding="utf-8")
    table = {k.strip().casefold(): v for k, v in tomllib.loads(text)["values"]["shopify_status"].items()}
    for k, v in settings.values.get("shopify_status", {}).items():
        table[k.strip().casefold()] = v
    return table


def status_keys(cancelled: str, financial: str, fulfillment: str) -> list[str]:
    """The table keys tried for one order, in order (see tables/shopify-status.toml)."""
    f = financial.strip().casefold()
    g = fulfillment.strip().casefold() or "unfulfilled"
    keys = ["cancelled"] if cancelled.strip() else []
    return [*keys, f"{f}/{g}", f, f"*/{g}"]


@dataclass
class Context:
    settings: Settings
    draft: Draft
    statuses: dict[str, str]
    strip_hash: bool
    customers: dict[str, Record] = field(default_factory=dict)  # email -> user from the customers export
    derived: dict[str, Record] = field(default_factory=dict)  # email -> user made from an order
    addresses: core.AddressBook | None = None
    earliest: core.Joined = field(default_factory=core.Joined)  # email -> first valid order date
    # order Name -> its first row: the row number alone when it is in ``numbers_file`` (the first
    # orders export; a million orders' Origins were 70 MB), its Origin when in another export.
    numbers: dict[str, int | Origin] = field(default_factory=dict)
    numbers_file: str = ""
    countries: Counter[str] = field(default_factory=Counter)  # country codes left as codes
    provinces: Counter[str] = field(default_factory=Counter)  # province codes used as city
    province_names: dict[str, str] = field(default_factory=dict)  # code -> name, learnt from the orders export
    refunded_600: int = 0
    coded_by_email: int = 0
    # (a side's raw cells, the buyer's code, email and names) -> what _order_address made of
    # them: a buyer's address repeats on each of their orders. Cleared when it grows too big.
    address_memo: dict[tuple[object, ...], tuple[dict[str, str] | None, str, object]] = field(default_factory=dict)


#: Orders between two ``gc.freeze()`` calls while the orders are read (see ``_settled``).
SETTLE_EVERY = 1000


@contextmanager
def _settled() -> Iterator[None]:
    """Keep the cyclic garbage collector off what the orders already made; as it was afterwards.

    Why: the run keeps hundreds of thousands of container objects alive for its whole length
    (users, the cleaning caches, the rows of a chunk, the records of a batch), and every full
    collection walked all of them again: at 50,000 orders a quarter of the source's CPU went to
    collections that found nothing. ``gc.freeze()`` every ``SETTLE_EVERY`` orders moves what
    exists to the permanent generation, so a collection only looks at what the recent orders
    allocated (reference counting still frees everything as before: only cycles wait, and these
    records make none). ``gc.unfreeze()`` hands it all back to the collector at the end.
    """
    try:
        yield
    finally:
        gc.unfreeze()


#: ``transforms.run`` hands this source a ``Stream``: orders and their items go on in batches.
STREAMS = True


def read(inputs: list[Path], settings: Settings, stream: Stream | None = None) -> Draft:
    """The draft of a Shopify run; with ``stream``, orders and items are handed to it a batch at a time."""
    unknown = sorted(set(settings.source) - set(OPTIONS))
    if unknown:
        raise SettingsError(
            i18n._("unknown option {option} for the shopify source; options: {options}").format(
                option=repr(unknown[0]), options=", ".join(OPTIONS)
            )
        )
    ctx = Context(
        settings,
        Draft(cannot_fill={k: i18n._(v) for k, v in CANNOT_FILL.items()}, explain=settings.explain),
        status_table(settings),
        _option_true(settings, "strip_hash"),
    )
    ctx.addresses = core.AddressBook(ctx.draft)
    if stream is not None:
        ctx.draft.streamed = STREAMED
        ctx.addresses.compact = True
    sheets = []
    for path in inputs:
        with reading(path, ReadError, SettingsError):
            sheets.append(load_sheet(path))
    for sheet in sheets:
        ctx.draft.notes += sheet.notes
    orders = [s for s in sheets if s.kind == ORDERS]
    if not orders:
        raise ReadError(
            i18n._(
                "{files}: no Shopify orders export among the inputs (the orders export has a 'Lineitem name' column)"
            ).format(files=", ".join(str(p) for p in inputs))
        )
    draft = ctx.draft
    for sheet in orders:
        for code, name in sheet.provinces.items():
            ctx.province_names.setdefault(code, name)
    for sheet in sheets:
        if sheet.kind == CUSTOMERS:
            with reading(sheet.path, ReadError, SettingsError):
                _customers(sheet, ctx)
    with _settled():
        for sheet in orders:
            with reading(sheet.path, ReadError, SettingsError):
                for i, group in enumerate(_groups(sheet, ctx)):
                    if not i % SETTLE_EVERY:
                        gc.freeze()
                    _order(sheet, group, ctx)
                    if stream is not None and draft.waiting() >= stream.batch:
                        stream.take(draft)  # an order is whole: its items were made with it
    _date_joined(ctx)
    _notes(ctx, sheets, bool(len(sheets) - len(orders)))
    _forget()
    position = {str(p): i for i, p in enumerate(inputs)}
    draft.read.sort(key=lambda o: position.get(o.file, 0))  # the summary lists inputs as given
    return draft


# ---------------------------------------------------------------------------------------------
# customers


def _customers(sheet: Sheet, ctx: Context) -> None:
    draft = ctx.draft
    if not sheet.has("Accepts SMS Marketing"):
        _lack(
            draft, "user", "sms_allowed", i18n._("{file} has no 'Accepts SMS Marketing' column").format(file=sheet.path)
        )
    if not sheet.has("Accepts Email Marketing"):
        _lack(
            draft,
            "user",
            "email_allowed",
            i18n._("{file} has no 'Accepts Email Marketing' column").format(file=sheet.path),
        )
    for _, cells, origin in _rows(sheet, draft):
        email = _email(sheet.get(cells, "Email"))
        if not email:
            draft.reject(
                origin,
                "user",
                "email",
                i18n._(
                    "the customer has no Email; Akinon users need one (phone-only and POS customers cannot be migrated)"
                ),
                {"customer_code": _marked(sheet.get(cells, "Customer ID"))},
            )
            continue
        code = _marked(sheet.get(cells, "Customer ID"))
        if not code:
            code = email
            ctx.coded_by_email += 1
        phone = _user_phone([sheet.get(cells, "Phone"), sheet.get(cells, "Default Address Phone")], origin, draft)
        values = {
            "customer_code": code,
            "first_name": _text(sheet.get(cells, "First Name")),
            "last_name": _text(sheet.get(cells, "Last Name")),
            "email": email,
            "gender": "",
            "sms_allowed": _boolean(sheet.get(cells, "Accepts SMS Marketing")),
            "email_allowed": _boolean(sheet.get(cells, "Accepts Email Marketing")),
            "phone": phone,
            "date_of_birth": "",
            "date_joined": "",
            "password": "",
            "password_algorithm": "",
        }
        for name, column in (("sms_allowed", "Accepts SMS Marketing"), ("email_allowed", "Accepts Email Marketing")):
            if not values[name]:
                _lack(draft, "user", name, i18n._("some customers have no yes/no in '{column}'").format(column=column))
        first = ctx.customers.get(email)
        if first is None:
            user = ctx.customers[email] = draft.add(Record("user", values, origin))
        else:
            user = first
            first.merged.append(origin)
            draft.folded["user"] += 1
            for k, v in values.items():
                if v and not first.values.get(k):
                    first.values[k] = v
            dropped = (
                i18n._("; its Customer ID {code} is dropped").format(code=repr(code))
                if code != first.get("customer_code")
                else ""
            )
            draft.warn(
                origin,
                "user",
                "email",
                "customer-merged",
                i18n._("same email as {where}: merged into that user{dropped} (orders link by email)").format(
                    where=first.origin.where(), dropped=dropped
                ),
            )
        _customer_address(sheet, cells, user, origin, ctx)


def _rows(sheet: Sheet, draft: Draft) -> Iterator[tuple[int, list[str], Origin]]:
    """Each data row with its origin, declared read; a row the reader could not read whole is refused here."""
    for n, cells in sheet.rows:
        origin = Origin(str(sheet.path), n)
        draft.read.append(origin)
        if n in sheet.broken:
            draft.reject(origin, "", "", sheet.broken[n])
            continue
        yield n, cells, origin


def _user_phone(candidates: list[str], origin: Origin, draft: Draft) -> str:
    raw = next((v for v in (_marked(c) for c in candidates) if v), "")
    if not raw:
        return ""
    try:
        return nz.phone(raw) or ""
    except nz.NormaliseError as exc:
        draft.warn(
            origin,
            "user",
            "phone",
            "phone-dropped",
            i18n._("{field} left empty: {reason}").format(field="phone", reason=exc),
            raw,
        )
        return ""


def _country(code: str, ctx: Context) -> str:
    code = _text(code)
    if not code:
        return ""
    named = ctx.settings.value("country", code) or COUNTRY_NAMES.get(code.upper())
    if named is None and len(code) == 2:
        ctx.countries[code.upper()] += 1
    return named or code


def _city(name: str, code: str, ctx: Context) -> str:
    name, code = _text(name), _text(code)
    if name:
        return name
    if not code:
        return ""
    named = ctx.settings.value("province", code) or ctx.province_names.get(code.casefold())
    if named is None:
        ctx.provinces[code] += 1
    return named or code


def _customer_address(sheet: Sheet, cells: list[str], user: Record, origin: Origin, ctx: Context) -> None:
    def get(name: str) -> str:
        return sheet.get(cells, f"Default Address {name}")

    line = _text(f"{get('Address1')} {get('Address2')}")
    township = _text(get("City"))
    if not line and not township:
        return  # no default address (sign-ups, phone-only customers)
    values = {
        "user": user.get("customer_code"),
        "email": user.get("email"),
        "phone_number": _marked(get("Phone")),
        "first_name": user.get("first_name"),
        "last_name": user.get("last_name"),
        "title": "",
        "line": line,
        "tax_office": "",
        "tax_no": "",
        "country": _country(get("Country Code") or get("Country"), ctx),
        "city": _city(get("Province"), get("Province Code"), ctx),
        "township": township,
        "district": "",
        "company_name": _text(get("Company")),
    }
    _add_address(values, origin, ctx)


def _add_address(values: dict[str, str], origin: Origin, ctx: Context) -> None:
    """Each distinct address of a user once (the core's address identity)."""
    assert ctx.addresses is not None
    ctx.addresses.note(values, origin)


# ---------------------------------------------------------------------------------------------
# orders


@dataclass
class Group:
    name: str
    rows: list[tuple[int, list[str]]]
    broken: list[Origin] = field(default_factory=list)  # rows of the order the reader could not read whole


def _groups(sheet: Sheet, ctx: Context) -> Iterator[Group]:
    """Consecutive rows with one ``Name`` are one order; rows without a Name are refused here.

    Streamed: an order is handed on when the next row names another one (or the file ends), so
    an order's rows may span two chunks. Shopify writes an order's rows together; when an
    export does not, the later run of rows is a second order with the same Name, which
    ``_order`` refuses as a repeat (the behaviour of the whole-file reading this replaced).
    """
    draft = ctx.draft
    file = str(sheet.path)
    current: Group | None = None
    for chunk in sheet.chunks():
        for n, cells in chunk:
            origin = Origin(file, n)
            draft.read.append(origin)
            name = _text(sheet.get(cells, "Name"))
            if n in sheet.broken:
                # The row makes nothing; the order it belongs to cannot be made whole, so it goes too.
                draft.reject(origin, "", "", sheet.broken[n])
                if not name:
                    continue
                if current is None or current.name != name:
                    if current is not None:
                        yield current
                    current = Group(name, [])
                current.broken.append(origin)
                continue
            if not name:
                draft.reject(origin, "", "", i18n._("the row has no Name (order number), so it belongs to no order"))
                continue
            if current is not None and current.name == name:
                current.rows.append((n, cells))
            else:
                if current is not None:
                    yield current
                current = Group(name, [(n, cells)])
    if current is not None:
        yield current


#: The order-level columns ``_order`` reads from an order's first row, fetched in one call.
ORDER_HEAD = (
    "Email",
    "Financial Status",
    "Fulfillment Status",
    "Cancelled at",
    "Currency",
    "Total",
    "Created at",
    "Discount Amount",
    "Refunded Amount",
    "Shipping Method",
    "Payment Method",
)


def _order(sheet: Sheet, group: Group, ctx: Context) -> None:
    draft, settings = ctx.draft, ctx.settings
    file = str(sheet.path)
    number = group.name.lstrip("#") if ctx.strip_hash else group.name
    if not group.rows:  # every row of the order is broken: the order is counted, and rejected
        first = group.broken[0]
        draft.reject(
            first,
            "order",
            "",
            i18n._("its rows cannot be read whole: {reason}").format(reason=sheet.broken[first.row]),
            {"number": number},
        )
        return
    head_n, head = group.rows[0]
    origin = Origin(file, head_n)
    picker = sheet.pickers.get("order")
    if picker is None:
        picker = sheet.pickers["order"] = sheet.pick(ORDER_HEAD)
    found = dict(zip(ORDER_HEAD, picker(head), strict=True))

    def get(name: str) -> str:
        value = found.get(name)
        return sheet.get(head, name) if value is None else value

    def refuse(name: str, reason: str) -> None:
        lines = [
            (Origin(file, n), {"order_number": number, "sku": _text(sheet.get(cells, "Lineitem sku"))})
            for n, cells in group.rows
        ]
        core.reject_order(draft, origin, name, reason, {"number": number, "user_email": _email(get("Email"))}, lines)

    if group.broken:
        first = group.broken[0]
        refuse(
            "",
            i18n._("{where} of the order cannot be read whole: {reason}").format(
                where=first.where(), reason=sheet.broken[first.row]
            ),
        )
        return
    seen = ctx.numbers.get(number)
    if seen is not None:
        if isinstance(seen, int):
            seen = Origin(ctx.numbers_file, seen)
        refuse(
            "number",
            i18n._(
                "order {number} was already read from {where}; Shopify writes an order's rows "
                "together, so this is a second export of the same order"
            ).format(number=repr(number), where=seen.where()),
        )
        return
    if not ctx.numbers_file:
        ctx.numbers_file = file
    ctx.numbers[number] = head_n if file == ctx.numbers_file else origin
    if not _text(get("Financial Status")) and not _text(get("Total")):
        refuse(
            "",
            i18n._(
                "the order's first row has no Financial Status and no Total; Shopify writes the order-level "
                "columns on an order's first row"
            ),
        )
        return
    email = _email(get("Email"))
    if not email:
        refuse("user_email", i18n._("the order has no Email; Akinon needs user_email (and a user) for every order"))
        return
    # The buyer and their addresses first: what is wrong with this order below is the order's own
    # problem (scoped rejection) and must not cost the customer.
    user = _user_for(email, sheet, head, origin, ctx)
    code = user.get("customer_code")
    texts = {}
    for side in ("Shipping", "Billing"):
        values, texts[side], key = _order_address(sheet, head, side, user, ctx)
        if values is not None:
            assert ctx.addresses is not None
            ctx.addresses.note(values, origin, key)
    raw_created = get("Created at")
    created = sheet.dates.get(raw_created)
    if created is None:
        try:
            created = nz.date(raw_created) or ""
        except nz.NormaliseError as exc:
            refuse("created_date", str(exc))
            return
    ctx.earliest.see(email, created)  # a readable order date counts for date_joined, whatever else fails
    cancelled = _text(get("Cancelled at"))
    financial, fulfillment = _text(get("Financial Status")), _text(get("Fulfillment Status"))
    keys = status_keys(cancelled, financial, fulfillment)
    status = next((ctx.statuses[k] for k in keys if k in ctx.statuses), None)
    if status is None:
        refuse(
            "status",
            i18n._(
                "no status for Financial Status {financial} and Fulfillment Status {fulfillment}: "
                "add --map 'shopify_status:{key}=CODE'"
            ).format(financial=repr(financial), fulfillment=repr(fulfillment), key=keys[-3]),
        )
        return
    try:
        amount = _amount(get("Total"))
        discount = _amount(get("Discount Amount"))
    except nz.NormaliseError as exc:
        refuse("", str(exc))
        return
    # The order's changes name it now: a streamed run's order is a line, not a record to name them by later.
    label = record_label("order", {"number": number})
    _status_warnings(origin, cancelled, financial, status, get("Refunded Amount"), ctx, label)
    for side, other in (("Shipping", "Billing"), ("Billing", "Shipping")):
        if not texts[side] and texts[other]:
            texts[side] = texts[other]
            draft.warn(
                origin,
                "order",
                f"{side.lower()}_address",
                f"{side.lower()}-address-from-{other.lower()}",
                i18n._("the order has no {side} address; used its {other} address").format(side=side, other=other),
                record=label,
            )
    method = _text(get("Shipping Method"))
    carrier = (settings.value("shipping_company", method) if method else None) or ""
    if not carrier:
        _lack(draft, "order", "shipping_company", SHIPPING_COMPANY_WHY)
    payment = _text(get("Payment Method"))
    if not payment:
        _lack(draft, "order", "payment_type", i18n.N_("some orders have no Payment Method (free or manual orders)"))
    order = draft.add_line(
        "order",
        {
            "number": number,
            "user": code,
            "user_email": email,
            "status": status,
            "created_date": created,
            "amount": amount,
            "discount_amount": discount,
            "currency": settings.value("currency", _text(get("Currency"))) or _text(get("Currency")).upper(),
            "payment_type": (settings.value("payment_type", payment) if payment else None) or payment,
            "bank": "",
            "installment_count": "",
            "tracking_number": "",
            "shipping_company": carrier,
            "shipping_address": texts["Shipping"],
            "billing_address": texts["Billing"],
            "extra_field": _extra(sheet, head, ORDER_EXTRA, head_n, keep_newlines=ORDER_NEWLINES),
        },
        origin,
    )
    for n, cells in group.rows:
        _item(sheet, cells, Origin(file, n), number, order, ctx)


#: Prices and totals repeat (a product's price on each of its orders); a value that is no amount
#: raises every time (lru_cache does not keep exceptions).
_amount = lru_cache(maxsize=CACHED)(core.amount)


def _status_warnings(
    origin: Origin, cancelled: str, financial: str, status: str, refunded: str, ctx: Context, order: str
) -> None:
    """A status the export does not say in Akinon's terms: what it said (before) and the code written (after)."""
    f = financial.casefold()
    if cancelled:
        message = i18n._("cancelled at {cancelled}: status {status}").format(cancelled=cancelled, status=status)
        ctx.draft.warn(
            origin, "order", "status", "status-cancelled", message, f"Cancelled at {cancelled}", status, order
        )
    elif f == "refunded":
        if status == "600":
            ctx.refunded_600 += 1
        label = core.unconfirmed_label("order", "status", status)
        message = i18n._("refunded: status {status}").format(status=status) + (
            i18n._(" ({label}: Akinon's docs do not confirm it)").format(label=label) if label else ""
        )
        ctx.draft.warn(origin, "order", "status", "status-refunded", message, financial, status, order)
    elif f == "partially_refunded":
        message = i18n._(
            "partially refunded ({amount}): status {status} from the fulfillment; "
            "the Refunded Amount is kept in extra_field"
        ).format(amount=_text(refunded) or i18n._("amount not given"), status=status)
        ctx.draft.warn(origin, "order", "status", "status-partially-refunded", message, financial, status, order)


def _user_for(email: str, sheet: Sheet, head: list[str], origin: Origin, ctx: Context) -> Record:
    """The customers-export user with this email, else one derived from the order (made once per email)."""
    draft = ctx.draft
    user = ctx.customers.get(email)
    if user is not None:
        if user.get("first_name") or user.get("last_name"):
            return user
        billing = _text(sheet.get(head, "Billing Name")) or _text(sheet.get(head, "Shipping Name"))
        if billing:
            first, last = split_name(billing)
            user.values["first_name"], user.values["last_name"] = first, last
            draft.warn(
                user.origin,
                "user",
                "first_name",
                "name-from-order",
                i18n._(
                    "the customer has no name; used the Billing Name {billing} of order {order}, "
                    "split at its last space"
                ).format(billing=repr(billing), order=_text(sheet.get(head, "Name"))),
                billing,
                f"{first} | {last}",
            )
        return user
    user = ctx.derived.get(email)
    if user is not None:
        return user
    billing = _text(sheet.get(head, "Billing Name")) or _text(sheet.get(head, "Shipping Name"))
    first, last = split_name(billing)
    email_allowed = _boolean(sheet.get(head, "Accepts Marketing"))
    if not email_allowed:
        _lack(draft, "user", "email_allowed", i18n.N_("some orders have no yes/no in 'Accepts Marketing'"))
    _lack(
        draft,
        "user",
        "sms_allowed",
        i18n.N_("buyers missing from the customers export: the orders export has no SMS consent"),
    )
    phone = _user_phone([sheet.get(head, "Phone"), sheet.get(head, "Billing Phone")], origin, draft)
    # Only the fields the order gives (a missing field reads as empty everywhere, ``Record.get``):
    # users are held to the end of the run, and a dict of 12 keys is twice the size of one of 6.
    values = {"customer_code": email, "first_name": first, "last_name": last, "email": email}
    if email_allowed:
        values["email_allowed"] = email_allowed
    if phone:
        values["phone"] = phone
    user = ctx.derived[email] = draft.add(Record("user", values, origin, primary=False))
    if billing:
        message = i18n._("first and last name split from the Billing Name {billing} at its last space").format(
            billing=repr(billing)
        )
        draft.warn(origin, "user", "first_name", "name-split", message, billing, f"{first} | {last}", user.label())
    return user


#: Bound of ``Context.address_memo``: past it the memo starts again (a cache, not a store). An entry
#: holds a side's raw cells and the address made of them; at 65,536 entries that was about 100 MB at
#: a million orders. What repeats most is an order's billing and shipping sides and a buyer's orders
#: close together; 4,096 entries made 73% more addresses again at 50,000 orders, 16,384 is the middle.
MEMO_LIMIT = 1 << 14


def _order_address(
    sheet: Sheet, head: list[str], side: str, user: Record, ctx: Context
) -> tuple[dict[str, str] | None, str, object]:
    """One side's address record (None when it has no street and no city), its one-line text, its book key.

    The same cells for the same buyer give the same address, so it is made once and remembered
    with the key the address book knows it by (the returned dict is copied by the address book,
    never changed).
    """
    picker = sheet.pickers.get(side)
    if picker is None:
        picker = sheet.pickers[side] = sheet.pick(tuple(f"{side} {part}" for part in ADDRESS_PARTS))
    raw = picker(head)
    u = user.values
    # Not keyed by side: an order's billing address is most often its shipping address, cell for cell.
    key = (raw, u.get("customer_code"), u.get("email"), u.get("first_name"), u.get("last_name"))
    made = ctx.address_memo.get(key)
    if made is None:
        if len(ctx.address_memo) >= MEMO_LIMIT:
            ctx.address_memo.clear()
        values, text = _make_order_address(dict(zip(ADDRESS_PARTS, raw, strict=True)), user, ctx)
        if values is None:
            made = ctx.address_memo[key] = (None, text, None)
        else:
            assert ctx.addresses is not None
            full_values, book_key = ctx.addresses.key(values)
            made = ctx.address_memo[key] = (full_values, text, book_key)
    else:
        _city(raw[10], raw[7], ctx)  # the codes left as codes are still counted for the summary
        _country(raw[8], ctx)
    return made


def _make_order_address(cells: dict[str, str], user: Record, ctx: Context) -> tuple[dict[str, str] | None, str]:
    get = cells.__getitem__
    name = _text(get("Name"))
    line = _text(f"{get('Address1')} {get('Address2')}") or _text(get("Street"))
    township = _text(get("City"))
    city = _city(get("Province Name"), get("Province"), ctx)
    country = _country(get("Country"), ctx)
    zip_code = _marked(get("Zip"))
    phone = _marked(get("Phone"))
    company = _text(get("Company"))
    # Every part cleaned as join_parts would (a mapped city or country may come from the mapping as written).
    parts: list[str | None] = [name, company, line, township, _text(f"{zip_code} {city}"), _text(country), phone]
    text = join_parts(parts, clean=True)
    if not line and not township:
        return None, text
    first, last = split_name(name) if name else (user.get("first_name"), user.get("last_name"))
    values = {
        "user": user.get("customer_code"),
        "email": user.get("email"),
        "phone_number": phone,
        "first_name": first,
        "last_name": last,
        "title": "",
        "line": line,
        "tax_office": "",
        "tax_no": "",
        "country": country,
        "city": city,
        "township": township,
        "district": "",
        "company_name": company,
    }
    return values, text


#: One encoder for every extra_field: ``json.dumps`` with options builds a new encoder each call.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _extra(
    sheet: Sheet, cells: list[str], columns: tuple[str, ...], row: int, keep_newlines: tuple[str, ...] = ()
) -> str:
    """The kept columns of a row as ``{"shopify": {column: value}}``, for ``extra_field``.

    Most rows' are made for their whole chunk at once (``_extras``); the others here.
    """
    made = sheet.extras.get(columns, {}).get(row)
    if made is not None:
        return made
    picker = sheet.pickers.get(columns)
    if picker is None:
        picker = sheet.pickers[columns] = sheet.pick(columns)
    return _encoded(columns, picker(cells), keep_newlines)


@lru_cache(maxsize=1 << 12)
def _encoded(columns: tuple[str, ...], raw: tuple[str, ...], keep_newlines: tuple[str, ...]) -> str:
    """``_extra`` for cells already picked; cached, as a line item's kept columns repeat across the export."""
    kept = {}
    for column, cell in zip(columns, raw, strict=True):
        if cell:
            value = _text(cell, column in keep_newlines)
            if value:
                kept[column] = value
    return _JSON.encode({"shopify": kept}) if kept else ""


def _item(sheet: Sheet, cells: list[str], origin: Origin, number: str, order: Record | LineRef, ctx: Context) -> None:
    """One line item of the order ``number``, from its row's cells cleaned for the whole chunk (``_item_cells``)."""
    draft = ctx.draft
    picker = sheet.pickers.get("item")
    if picker is None:
        picker = sheet.pickers["item"] = sheet.pick(ITEM_MADE)
    error, price, sku, product, quantity = picker(cells)
    if error:
        values = {"order_number": number, "sku": sku}
        draft.reject(origin, "order_item", "price", f"Lineitem price: {error}", values)  # refused: its own reason
        return
    # An empty SKU is reported by finish (sku-empty), for every source.
    values = {
        "order_number": number,
        "product": product,
        "sku": sku,
        "quantity": quantity,
        "price": price,
        "image_url": "",
        "extra_field": _extra(sheet, cells, ITEM_EXTRA, origin.row),
    }
    draft.add_line("order_item", values, origin, order)


# ---------------------------------------------------------------------------------------------
# after all rows


def _date_joined(ctx: Context) -> None:
    """Shopify exports no sign-up date: a user joined no later than their first valid order."""
    ctx.earliest.apply(
        ctx.draft,
        [*ctx.customers.items(), *ctx.derived.items()],
        has_default=("user", "date_joined") in ctx.settings.defaults,
        migration_date=core.migration_date(),
        why=i18n._("Shopify exports no sign-up date"),
    )


def _notes(ctx: Context, sheets: list[Sheet], have_customers: bool) -> None:
    notes = ctx.draft.notes
    if ctx.derived:
        n = len(ctx.derived)
        where = (
            i18n.ngettext(
                "{n} buyer missing from the customers export", "{n} buyers missing from the customers export", n
            )
            if have_customers
            else i18n.ngettext("{n} buyer (no customers export given)", "{n} buyers (no customers export given)", n)
        )
        notes.append(
            i18n._(
                "{buyers}: users derived from their orders (customer_code = the email, names from Billing Name)"
            ).format(buyers=where.format(n=i18n.number(n)))
        )
    if ctx.coded_by_email:
        notes.append(
            i18n.ngettext(
                "{n} customer without a Customer ID: their email is the customer_code",
                "{n} customers without a Customer ID: their email is the customer_code",
                ctx.coded_by_email,
            ).format(n=i18n.number(ctx.coded_by_email))
        )
    if ctx.refunded_600:
        notes.append(
            i18n.ngettext(
                "{n} refunded order got status 600, which Akinon's docs do not confirm; "
                "--map shopify_status:refunded=100 files them as cancelled",
                "{n} refunded orders got status 600, which Akinon's docs do not confirm; "
                "--map shopify_status:refunded=100 files them as cancelled",
                ctx.refunded_600,
            ).format(n=i18n.number(ctx.refunded_600))
        )
    if ctx.countries:
        codes = ", ".join(sorted(ctx.countries))
        notes.append(
            i18n._(
                "country codes kept as written (Akinon expects its country names): {codes}; "
                "map them with --map country:CODE=NAME"
            ).format(codes=codes)
        )
    if ctx.provinces:
        codes = ", ".join(sorted(ctx.provinces)[:10]) + (" …" if len(ctx.provinces) > 10 else "")
        notes.append(
            i18n._(
                "province codes used as city for want of a name: {codes}; map them with --map province:CODE=NAME"
            ).format(codes=codes)
        )
    for sheet in sheets:
        dropped = ORDER_DROPPED if sheet.kind == ORDERS else CUSTOMER_DROPPED
        if sheet.stream is not None:
            filled = [c for c in dropped if c in sheet.filled]
        else:
            filled = [c for c in dropped if sheet.has(c) and _any_value(sheet, c)]
        if filled:
            notes.append(
                i18n._("{file}: not carried over (no Akinon field): {columns}").format(
                    file=sheet.path, columns=", ".join(filled)
                )
            )
        if sheet.unknown:
            notes.append(
                i18n._("{file}: unknown columns ignored: {columns}").format(
                    file=sheet.path, columns=", ".join(sheet.unknown)
                )
            )


def _any_value(sheet: Sheet, column: str) -> bool:
    """Whether any row of a sheet read whole has a value in ``column``."""
    return any(sheet.get(cells, column).strip() for _, cells in sheet.rows)
