"""A streamed Shopify run (orders read a chunk at a time, finished and written a batch at a time)
gives the bundle, ``rejects.csv``, ``changes.csv`` and summary of a run that holds everything.

The batch and chunk sizes are shrunk to one so that every boundary case happens in a small
export: an order whose rows span two chunks, an order repeated further down (not contiguous), a
user rejected at the end whose orders were finished batches earlier.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from filetools import read_dict_csv, write_dict_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transform_corpus import Shop, shops, write_shopify

from omnimig import i18n
from omnimig.transforms import shopify, stream
from omnimig.transforms.finish import Options
from omnimig.transforms.run import Result, transform
from omnimig.transforms.settings import Settings

DATA = Path(__file__).parent / "data" / "transform" / "shopify"
ORDERS = DATA / "orders_export.csv"
CUSTOMERS = DATA / "customers_export.csv"
NAMES = ("user.csv", "address.csv", "order.csv", "order_item.csv", "rejects.csv", "changes.csv")


def _run(inputs: list[Path], out: Path, streamed: bool, small: bool, fmt: str = "csv") -> Result:
    """One transform: streamed or whole; ``small``: chunks of one row and batches of one record."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shopify, "STREAMS", streamed)
        if small:
            mp.setattr(shopify, "ORDER_CHUNK_ROWS", 1)
            mp.setattr(stream, "BATCH_RECORDS", 1)
        options = Options(password_policy="unusable")
        return transform("shopify", inputs, out, fmt, Settings(), options)


def _same(whole: Result, streamed: Result) -> None:
    assert streamed.adds_up and whole.adds_up
    a, b = whole.out, streamed.out
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for path in a.iterdir():
        assert (b / path.name).read_bytes() == path.read_bytes(), path.name
    assert [line.replace(str(a), str(b)) for line in whole.lines()] == streamed.lines()
    assert streamed.exit_code == whole.exit_code


@pytest.mark.parametrize("fmt", ["csv", "json", "xlsx"])
def test_fixture_streamed_in_ones_is_the_whole_run(tmp_path: Path, fmt: str) -> None:
    inputs = [ORDERS, CUSTOMERS]
    whole = _run(inputs, tmp_path / "whole", streamed=False, small=False, fmt=fmt)
    _same(whole, _run(inputs, tmp_path / "small", streamed=True, small=True, fmt=fmt))
    _same(whole, _run(inputs, tmp_path / "big", streamed=True, small=False, fmt=fmt))


def test_no_spill_file_is_left(tmp_path: Path) -> None:
    _run([ORDERS], tmp_path / "out", streamed=True, small=True)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".omnimig-partial")]


def test_an_order_repeated_further_down_is_refused_as_before(tmp_path: Path) -> None:
    """Rows of one order that are not together: the later run is a second export of the order,
    refused with its items, whether the rows are read whole or a row at a time."""
    header, rows = read_dict_csv(ORDERS)
    first = rows[0]["Name"]
    again = [dict(r) for r in rows if r["Name"] == first]
    path = write_dict_csv(tmp_path / "orders_export.csv", header, [*rows, *again])
    whole = _run([path], tmp_path / "whole", streamed=False, small=False)
    small = _run([path], tmp_path / "small", streamed=True, small=True)
    _same(whole, small)
    reasons = (small.out / "rejects.csv").read_text(encoding="utf-8")
    assert "was already read from" in reasons


@pytest.mark.parametrize("lang", ["en", "tr"])
def test_a_user_rejected_at_the_end_takes_orders_from_earlier_batches(tmp_path: Path, lang: str) -> None:
    """A customers-export user with no name, whose orders give none either, is rejected when the
    users are finished, after its orders were finished batches before: they go then, naming the
    user, and their items with them — in the run's language, as a whole run writes it."""
    previous = i18n.current()
    i18n.use(lang)
    try:
        _late_user(tmp_path, lang)
    finally:
        i18n.use(previous)


def _late_user(tmp_path: Path, lang: str) -> None:
    header, rows = read_dict_csv(ORDERS)
    email = rows[0]["Email"].strip().lower()
    c_header, customers = read_dict_csv(CUSTOMERS)
    nameless = {"First Name": "", "Last Name": ""}
    customers = [dict(c, **nameless) if c["Email"].strip().lower() == email else c for c in customers]
    if not any(c["Email"].strip().lower() == email for c in customers):
        customers.append(dict(dict.fromkeys(c_header, ""), Email=email))
    blank = {"Billing Name": "", "Shipping Name": ""}
    rows = [dict(r, **blank) if r["Email"].strip().lower() == email else r for r in rows]
    orders = write_dict_csv(tmp_path / "orders_export.csv", header, rows)
    cust = write_dict_csv(tmp_path / "customers_export.csv", c_header, customers)
    whole = _run([orders, cust], tmp_path / "whole", streamed=False, small=False)
    small = _run([orders, cust], tmp_path / "small", streamed=True, small=True)
    _same(whole, small)
    lines = (small.out / "rejects.csv").read_text(encoding="utf-8")
    if lang == "en":
        assert "order_item" in lines and "its user" in lines and "was rejected" in lines
    else:
        assert "order_item" in lines and "(user " in lines and "reddedildi" in lines and "was rejected" not in lines
    order_type = next(t for t in small.types if t.type == "order")
    assert order_type.rejected >= 1


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shop=shops(defects=True), rows_shuffled=st.randoms(use_true_random=False))
def test_generated_exports_stream_like_the_whole_run(
    tmp_path_factory: pytest.TempPathFactory, shop: Shop, rows_shuffled: random.Random
) -> None:
    """Any generated shop with planted defects, its rows shuffled (so orders come apart): same bundle."""
    base = tmp_path_factory.mktemp("shop")
    path = write_shopify(shop, base / "orders_export.csv")
    header, rows = read_dict_csv(path)
    rows_shuffled.shuffle(rows)
    path = write_dict_csv(path, header, rows)
    whole = _run([path], base / "whole", streamed=False, small=False)
    _same(whole, _run([path], base / "small", streamed=True, small=True))


def _paths(mp: pytest.MonkeyPatch) -> list[str]:
    """Which way each batch's lines went (``columns``: ``finish_lines``; ``records``: ``finish``)."""
    taken: list[str] = []
    need = stream.lines_need_records

    def spy(*args: object, **kwargs: object) -> bool:
        answer = need(*args, **kwargs)  # type: ignore[arg-type]
        taken.append("records" if answer else "columns")
        return answer

    mp.setattr(stream, "lines_need_records", spy)
    return taken


def test_lines_the_rules_act_on_are_finished_as_records_and_lines_of_a_lost_order_go_with_it(tmp_path: Path) -> None:
    """Items are finished as columns only when the rules have nothing to say about them; an item the
    rules repair or refuse sends its batch's items through ``finish`` as records, and the items of
    an order the rules lose go with it either way: the bundle is the whole run's."""
    header, rows = read_dict_csv(ORDERS)
    names = list(dict.fromkeys(r["Name"] for r in rows))
    long_name = "#" + "9" * 300  # over the number's maximum length: the rules lose the order
    rows = [dict(r, Name=long_name) if r["Name"] == names[0] else r for r in rows]
    rows = [dict(r, **{"Lineitem quantity": "two"}) if r["Name"] == names[1] else r for r in rows]  # items acted on
    path = write_dict_csv(tmp_path / "orders_export.csv", header, rows)
    whole = _run([path], tmp_path / "whole", streamed=False, small=False)
    with pytest.MonkeyPatch.context() as mp:
        taken = _paths(mp)
        small = _run([path], tmp_path / "small", streamed=True, small=True)
        big = _run([path], tmp_path / "big", streamed=True, small=False)
    assert "records" in taken and "columns" in taken, taken
    _same(whole, small)
    _same(whole, big)
    rejects = (small.out / "rejects.csv").read_text(encoding="utf-8")
    assert f"its order {long_name} was rejected" in rejects


def test_a_default_for_items_is_applied_in_columns_as_finish_applies_it(tmp_path: Path) -> None:
    """A default for an item field is given in columns (``prepare_lines``) as ``finish`` gives it, counted the same."""
    with pytest.MonkeyPatch.context() as mp:
        taken = _paths(mp)
        mp.setattr(stream, "BATCH_RECORDS", 1)
        options = Options(
            password_policy="unusable", defaults={("order_item", "image_url"): "https://cdn.example.com/x.png"}
        )
        streamed = transform("shopify", [ORDERS], tmp_path / "streamed", "csv", Settings(), options)
    assert taken and set(taken) == {"columns"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(shopify, "STREAMS", False)
        options = Options(
            password_policy="unusable", defaults={("order_item", "image_url"): "https://cdn.example.com/x.png"}
        )
        whole = transform("shopify", [ORDERS], tmp_path / "whole", "csv", Settings(), options)
    _same(whole, streamed)
    assert "https://cdn.example.com/x.png" in (streamed.out / "order_item.csv").read_text(encoding="utf-8")
