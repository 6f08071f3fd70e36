"""``records.Lines``: a streamed run's orders and items held as values stand for the records a whole run makes.

``as_records`` must give back exactly the ``Record`` list a non-streamed draft collects from the same
calls (same types, values, origins, order, and each item's parent being its order's record), so a
batch that the rules must see record by record is the batch a whole run would have finished.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.schemas.rules import table_rules
from omnimig.transforms.records import Draft, LineRef, Origin, Record, as_records

#: One call a source makes: an address record, an order line, or an item line of the last order.
STEPS = st.lists(st.sampled_from(["address", "order", "item"]), max_size=25)


def _replay(draft: Draft, steps: list[str]) -> None:
    order: Record | LineRef | None = None
    for row, step in enumerate(steps, start=2):
        origin = Origin("orders.csv", row)
        if step == "address":
            draft.add(Record("address", {"user": f"u{row}", "line": f"street {row}"}, origin, primary=False))
        elif step == "order":
            order = draft.add_line("order", {"number": f"#{row}", "user": f"u{row}", "amount": "1.00"}, origin)
        elif order is not None:
            draft.add_line("order_item", {"order_number": f"#{row}", "sku": f"S{row}", "price": "2"}, origin, order)


def _shape(records: list[Record]) -> list[tuple[object, ...]]:
    place = {id(r): i for i, r in enumerate(records)}
    # A line holds every field of its type (a missing one empty, as ``Record.get`` reads it).
    values = [tuple(r.get(n) for n in table_rules(r.type).names) for r in records]
    return [(r.type, v, r.origin, r.primary, place.get(id(r.parent))) for r, v in zip(records, values, strict=True)]


@settings(max_examples=200, deadline=None)
@given(steps=STEPS)
def test_lines_as_records_are_the_records_a_whole_run_collects(steps: list[str]) -> None:
    whole = Draft()
    _replay(whole, steps)
    streamed = Draft(streamed=frozenset({"address", "order", "order_item"}))
    _replay(streamed, steps)
    assert streamed.waiting() == len(whole.records)
    assert _shape(as_records(streamed.pending, streamed.lines)) == _shape(whole.records)
