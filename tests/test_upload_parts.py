"""The part check of ``--chunk-rows`` and converted copies compares problems one row at a time.

``_first_difference`` stands in for two whole-file ``Counter``s: it must say "equal" exactly when
the two row-ordered problem streams are the same multiset, and name the first row that is not,
while reading no further than that row (memory holds one row's problems, whatever ``--force``
lets through).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator

from hypothesis import given
from hypothesis import strategies as st

from omnimig.uploader.run import _first_difference

Key = tuple[str | None, str, str]
KEYS: list[Key] = [("email", "pattern", "error"), ("phone", "pattern", "error"), (None, "type", "warning")]

problems = st.lists(st.tuples(st.integers(2, 30), st.sampled_from(KEYS)), max_size=40).map(
    lambda items: sorted(items, key=lambda item: item[0])
)


def shuffled_within_rows(items: list[tuple[int, Key]]) -> list[tuple[int, Key]]:
    """The same problems, each row's in reverse order: order within a row must not matter."""
    out: list[tuple[int, Key]] = []
    for _, group in itertools.groupby(items, key=lambda item: item[0]):
        out.extend(reversed(list(group)))
    return out


@given(problems)
def test_the_same_problems_are_equal_in_any_order_within_a_row(items: list[tuple[int, Key]]) -> None:
    assert _first_difference(items, shuffled_within_rows(items)) is None


@given(problems, problems)
def test_a_difference_is_found_exactly_when_the_multisets_differ(
    want: list[tuple[int, Key]], got: list[tuple[int, Key]]
) -> None:
    found = _first_difference(want, got)
    assert (found is None) == (Counter(want) == Counter(got))
    if found is not None:
        row, key = found
        assert Counter(p for p in want if p[0] == row) != Counter(p for p in got if p[0] == row)
        earlier = [p for p in want if p[0] < row], [p for p in got if row is not None and p[0] < row]
        assert Counter(earlier[0]) == Counter(earlier[1]), "no earlier row differs"
        assert (row, key) in want or (row, key) in got


def test_an_extra_problem_in_a_part_is_named_before_a_missing_one() -> None:
    want = [(3, KEYS[0])]
    got = [(3, KEYS[1])]
    assert _first_difference(want, got) == (3, KEYS[1])


def test_a_part_row_outside_its_rows_is_a_difference() -> None:
    assert _first_difference([(2, KEYS[0])], [(None, KEYS[0])]) == (None, KEYS[0])


def test_the_streams_are_read_no_further_than_the_first_differing_row() -> None:
    def endless(start: int) -> Iterator[tuple[int, Key]]:
        for row in itertools.count(start):
            yield row, KEYS[0]

    # a whole-file Counter would never return here
    assert _first_difference(endless(2), itertools.chain([(2, KEYS[0]), (3, KEYS[1])], endless(4))) == (3, KEYS[1])
