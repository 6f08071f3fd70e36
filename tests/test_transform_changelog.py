"""``ChangeLog``: the run's changes held as Arrow columns read back as the very ``Change`` list logged.

``Result.warnings`` is public (``omnimig.transform(...).warnings``); holding it as columns must not
change what a caller sees: the same changes, in the same order, by index, slice or iteration,
and the summary's code counts in the same order (``Counter.most_common`` keeps first-seen order on ties).
"""

from __future__ import annotations

from collections import Counter
from random import Random

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.transforms.records import Change, ChangeLog, Origin

TEXT = st.text(alphabet=st.sampled_from(list("ab ,\"\nşİ'=")), max_size=5)
CHANGES = st.builds(
    Change,
    st.builds(
        Origin,
        st.sampled_from(["a.csv", "b.json"]),
        st.integers(-1, 10**9),
        st.sampled_from(["row", "order"]),
        st.integers(0, 5),
    ),
    st.sampled_from(["user", "order", "order_item", ""]),
    TEXT,
    st.sampled_from(["sku-empty", "name-split", "trimmed"]),
    TEXT,
    TEXT,
    TEXT,
    TEXT,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(CHANGES, max_size=30))
def test_a_change_log_reads_back_as_the_list_it_was_made_from(changes: list[Change]) -> None:
    log = ChangeLog(changes)
    assert len(log) == len(changes)
    assert list(log) == changes and log == changes
    assert [log[i] for i in range(-len(changes), len(changes))] == changes + changes
    assert log[1:4] == changes[1:4]
    assert log.codes() == Counter(c.code for c in changes)
    assert list(log.codes().most_common()) == Counter(c.code for c in changes).most_common()


def test_iteration_crosses_slices() -> None:
    changes = [Change(Origin("f.csv", i), "order", "status", f"c{i % 3}", f"m{i}") for i in range(25)]
    log = ChangeLog(changes)
    log._SLICE = 4  # several slices, the last one short
    assert list(log) == changes


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(CHANGES, max_size=12), max_size=5), st.randoms(use_true_random=False))
def test_joined_and_reordered_logs_are_the_list_they_stand_for(parts: list[list[Change]], rng: Random) -> None:
    """A streamed run joins its batches' logs and puts the source's changes back in the order logged."""
    whole = [c for part in parts for c in part]
    log = ChangeLog.joined([ChangeLog(part) for part in parts])
    assert list(log) == whole and len(log) == len(whole)
    # Code counts in first-seen order, whatever order each part's dictionary has.
    assert list(log.codes().most_common()) == Counter(c.code for c in whole).most_common()
    places = list(range(len(whole)))
    rng.shuffle(places)
    shuffled = log.take(pa.array(places, pa.int64()))
    assert list(shuffled) == [whole[i] for i in places]
    assert list(shuffled.codes().most_common()) == Counter(whole[i].code for i in places).most_common()


@settings(max_examples=100, deadline=None)
@given(st.lists(CHANGES, max_size=30))
def test_in_file_order_is_the_stable_sort_changes_csv_had(changes: list[Change]) -> None:
    order = {"b.json": 0, "a.csv": 1}
    expected = sorted(changes, key=lambda c: (order.get(c.origin.file, 0), c.origin.row, c.origin.part))
    assert list(ChangeLog(changes).in_file_order(order)) == expected
    assert list(ChangeLog(changes).in_file_order({})) == sorted(changes, key=lambda c: (c.origin.row, c.origin.part))
