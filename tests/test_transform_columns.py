"""Column normalisers agree with the per-cell ones, cell by cell (issue 15, "Big exports").

A column version only decides in Arrow which cells have the common shape; the rule is the
scalar function's. These properties are what lets the Shopify source clean a whole chunk's
column at once and still write what the per-cell code wrote.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.transforms import normalize as nz


def _scalar_date(cell: str | None) -> str | None:
    try:
        return nz.date(cell) or ""
    except nz.NormaliseError:
        return None


def _two(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:02d}")


#: Shopify's shape with every part drawn past its range too (month 13, day 31 in February, hour 24,
#: offset +2400, year 0000), and padded, so the Arrow check meets what ``date`` refuses.
shopify_like = st.builds(
    lambda y, mo, d, h, mi, s, sign, oh, om, pad: f"{pad}{y:04d}-{mo}-{d} {h}:{mi}:{s} {sign}{oh}{om}{pad}",
    st.integers(0, 9999),
    _two(0, 13),
    _two(0, 32),
    _two(0, 25),
    _two(0, 61),
    _two(0, 61),
    st.sampled_from(["+", "-", "−"]),
    _two(0, 25),
    _two(0, 61),
    st.sampled_from(["", " ", "\u00a0"]),
)
cells = st.lists(
    st.one_of(shopify_like, shopify_like, st.none(), st.text(max_size=30), st.sampled_from(["-0000", "+0000"])),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(cells)
def test_date_column_is_date_on_every_cell(values: list[str | None]) -> None:
    assert nz.date_column(values) == [_scalar_date(v) for v in values]


def test_date_column_edges() -> None:
    values = [
        "2024-03-05 10:22:11 +0300",  # the common shape
        "2024-02-30 10:22:11 +0300",  # no such day
        "2024-02-29 23:59:59 -0000",  # -0000 is written +00:00
        "0999-01-01 00:00:00 +0100",  # a year before 1000: left to date
        None,
        "",
    ]
    assert nz.date_column(values) == [
        "2024-03-05T10:22:11+03:00",
        None,
        "2024-02-29T23:59:59+00:00",
        "0999-01-01T00:00:00+01:00",
        "",
        "",
    ]


#: Cells that meet every branch: clean words, padding and doubled spaces, NBSP and line breaks,
#: decomposed letters, JSON's escaped characters, control characters.
messy = st.one_of(
    st.text(alphabet=st.sampled_from("ab Ş.#-'\"\\\u00a0\n\t\x01s\u0327İ"), max_size=8),
    st.text(max_size=6),
    st.sampled_from(["", "paid", "1249.00", "Standart Kargo", "kapıda ödeme"]),
)


@settings(deadline=None)
@given(st.lists(st.one_of(messy, st.none()), max_size=20))
def test_unchanged_by_text_only_where_text_changes_nothing(values: list[str | None]) -> None:
    import pyarrow as pa

    mask = nz.unchanged_by_text(pa.array(values, type=pa.string()))
    for value, same in zip(values, mask.tolist(), strict=True):
        if same:
            assert value is not None
            assert (nz.text(value) or "") == value
            assert (nz.text(value, keep_newlines=True) or "") == value


@settings(deadline=None, max_examples=100)
@given(st.data())
def test_extras_column_is_encoded_on_every_row(data: st.DataObject) -> None:
    """A chunk's extra_field built in Arrow is what ``_encoded`` makes of each row it covers."""
    import numpy as np
    import pandas as pd

    from omnimig.transforms import shopify

    for names, newlines in ((shopify.ITEM_EXTRA, ()), (shopify.ORDER_EXTRA, shopify.ORDER_NEWLINES)):
        n = data.draw(st.integers(1, 6))
        rows = [data.draw(st.lists(messy, min_size=len(names), max_size=len(names))) for _ in range(n)]
        frame = pd.DataFrame(rows, columns=list(names), dtype="string[pyarrow]")
        numbers = np.arange(2, n + 2, dtype=np.int64)
        made = shopify._extras(frame, {name: j for j, name in enumerate(names)}, names, numbers)
        for number, cells in zip(numbers.tolist(), rows, strict=True):
            if number in made:
                assert made[number] == shopify._encoded(names, tuple(cells), newlines)


def test_extras_column_covers_clean_rows_only() -> None:
    import numpy as np
    import pandas as pd

    from omnimig.transforms import shopify

    names = shopify.ITEM_EXTRA
    rows = [["12.00", "Acme", "true", "", "", ""], ["", 'Ac"me', "", "", "", ""], ["", " Acme", "", "", "", ""]]
    frame = pd.DataFrame(rows, columns=list(names), dtype="string[pyarrow]")
    made = shopify._extras(frame, {n: j for j, n in enumerate(names)}, names, np.array([2, 3, 4]))
    assert made == {
        2: '{"shopify":{"Lineitem compare at price":"12.00","Vendor":"Acme","Lineitem requires shipping":"true"}}'
    }
