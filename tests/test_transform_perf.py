"""The shortcuts the shopify source takes for speed give what the plain code gave.

``bench/transform_bench.py`` measures the speed; these tests pin the behaviour the speed-ups
could break: an order address remembered per buyer (the same address cells typed by two buyers
are two addresses, each the buyer's own), the one-call column reader (a missing column reads
as empty, as ``Sheet.get`` does), and the bounded caches.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from filetools import read_dict_csv, write_dict_csv
from hypothesis import given
from hypothesis import strategies as st

from omnimig.transforms import core, shopify
from omnimig.transforms import normalize as nz
from omnimig.transforms.finish import Options
from omnimig.transforms.run import transform
from omnimig.transforms.settings import Settings

ORDERS = Path(__file__).parent / "data" / "transform" / "shopify" / "orders_export.csv"


def test_same_address_cells_of_two_buyers_are_two_addresses(tmp_path: Path) -> None:
    """The remembered order address is keyed by the buyer too: a copy of order #1002 by another buyer,
    with the same shipping cells and no Shipping Name (so each buyer's own names fill it), gets its own."""
    header, rows = read_dict_csv(ORDERS)
    group = [dict(r, **{"Shipping Name": ""}) for r in rows if r["Name"] == "#1002"]
    copy = [dict(r, Name="#2002", Email="other.buyer@example.com") for r in group]
    copy[0]["Billing Name"] = "Başka Alıcı"
    path = write_dict_csv(tmp_path / "orders_export.csv", header, [*group, *copy])
    result = transform("shopify", [path], tmp_path / "out", "csv", Settings(), Options())
    with result.paths["user"].open(encoding="utf-8", newline="") as handle:
        users = {u["email"]: (u["first_name"], u["last_name"]) for u in csv.DictReader(handle)}
    with result.paths["address"].open(encoding="utf-8", newline="") as handle:
        addresses = list(csv.DictReader(handle))
    street = group[0]["Shipping Address1"]
    shipping = {a["email"]: (a["first_name"], a["last_name"]) for a in addresses if a["line"].startswith(street)}
    assert set(users) == {"mehmet@example.com", "other.buyer@example.com"}
    assert shipping == users  # each buyer's copy of the same cells, with that buyer's names
    with result.paths["order"].open(encoding="utf-8", newline="") as handle:
        orders = {o["number"]: o for o in csv.DictReader(handle)}
    assert orders["#2002"]["shipping_address"] == orders["#1002"]["shipping_address"]


def test_memo_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past its bound the address memo starts again, and the bundle and summary are the same."""
    header, rows = read_dict_csv(ORDERS)
    path = write_dict_csv(tmp_path / "orders_export.csv", header, rows)
    full = transform("shopify", [path], tmp_path / "a", "csv", Settings(), Options())
    monkeypatch.setattr(shopify, "MEMO_LIMIT", 1)
    tiny = transform("shopify", [path], tmp_path / "b", "csv", Settings(), Options())
    assert full.paths.keys() == tiny.paths.keys()
    for name, written in full.paths.items():
        assert written.read_bytes() == tiny.paths[name].read_bytes(), name
    assert [line.replace(str(tmp_path / "a"), str(tmp_path / "b")) for line in full.lines()] == tiny.lines()


COLUMNS = ("Name", "Email", "Total", "Shipping City")


@given(
    present=st.lists(st.sampled_from(COLUMNS), unique=True),
    cells=st.lists(st.text(max_size=4), max_size=6),
    wanted=st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=4),
)
def test_pick_reads_what_get_reads(present: list[str], cells: list[str], wanted: list[str]) -> None:
    """``Sheet.pick`` gives, for any row (short ones too) and any columns (missing ones too), ``Sheet.get``'s cells."""
    sheet = shopify.Sheet(Path("x.csv"), shopify.ORDERS, {n: i for i, n in enumerate(present)}, [], len(present))
    picked = sheet.pick(tuple(wanted))(cells)
    assert picked == tuple(sheet.get(cells, n) for n in wanted)


def test_caches_are_emptied_after_a_run(tmp_path: Path) -> None:
    """The cleaning caches hold customer data (emails, addresses): a run leaves none of it behind."""
    header, rows = read_dict_csv(ORDERS)
    path = write_dict_csv(tmp_path / "orders_export.csv", header, rows)
    transform("shopify", [path], tmp_path / "out", "csv", Settings(), Options())
    for cached in (shopify._text, shopify._email, shopify._amount, shopify._encoded, core._identity, nz.match_key):
        assert cached.cache_info().currsize == 0, cached


WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())
CELLS = st.one_of(
    st.none(),
    st.text(),  # any Unicode
    st.text(alphabet=st.sampled_from("ab ,.#'-" + WHITESPACE + "s\u0327\u015fİI"), max_size=12),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=12),
)


@given(cells=st.lists(CELLS, max_size=20), keep_newlines=st.booleans())
def test_text_column_is_text_on_every_cell(cells: list[str | None], keep_newlines: bool) -> None:
    """The column entry point (Arrow picks the cells already clean) gives what ``text`` gives cell by cell."""
    expected = [nz.text(c, keep_newlines=keep_newlines) or "" for c in cells]
    assert nz.text_column(cells, keep_newlines=keep_newlines) == expected


@given(cells=st.lists(st.one_of(st.text(), st.sampled_from(["", " ", "\u00a0", "\x1c", "\u2028 \t"])), max_size=20))
def test_blank_cells_in_arrow_are_blank_in_python(cells: list[str]) -> None:
    """The streamed reader drops blank rows with an Arrow test; it must judge a cell as ``not cell.strip()`` does."""
    import pandas as pd

    assert shopify._blank(pd.Series(cells, dtype=object)).tolist() == [not c.strip() for c in cells]


PARTS = st.text(alphabet=st.sampled_from("aA ıIİi\u0307,.\u00a0\t-"), max_size=6)


@given(parts=st.lists(st.one_of(st.none(), PARTS, st.text(max_size=5)), max_size=7))
def test_join_parts_of_clean_parts_is_join_parts_of_the_raw_ones(parts: list[str | None]) -> None:
    """A source that cleaned each part (``clean=True``) gets the line ``join_parts`` makes of the raw parts."""
    from omnimig.transforms.address import join_parts

    cleaned: list[str | None] = [nz.text(p) or "" if p is not None else None for p in parts]
    assert join_parts(cleaned, clean=True) == join_parts(parts)


@given(value=st.one_of(PARTS, st.text(max_size=8)))
def test_a_match_key_of_clean_text_is_its_fold(value: str) -> None:
    """``match_key`` (whitespace collapsed) is ``fold`` on clean text: either tells repeated parts apart."""
    clean = nz.text(value) or ""
    assert nz.match_key(clean) == nz.fold(clean)


def test_every_source_leaves_the_address_caches_empty(tmp_path: Path) -> None:
    """Any source's run ends by emptying the caches shared by every source (address identity, parts)."""
    orders = Path(__file__).parent / "data" / "transform" / "omnitron" / "orders.json"
    transform("omnitron-orders", [orders], tmp_path / "out", "csv", Settings(), Options())
    for cached in (core._identity, core._digits, nz.match_key):
        assert cached.cache_info().currsize == 0, cached
