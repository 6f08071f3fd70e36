"""``ChangeLog``: the run's changes held as Arrow columns read back as the very ``Change`` list logged.

``Result.warnings`` is public (``omnimig.transform(...).warnings``); holding it as columns must not
change what a caller sees: the same changes, in the same order, by index, slice or iteration,
and the summary's code counts in the same order (``Counter.most_common`` keeps first-seen order on ties).
"""

from __future__ import annotations

from collections import Counter

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
