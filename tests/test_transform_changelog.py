"""``ChangeLog``: the run's changes held as Arrow columns read back as the very ``Change`` list logged.

``Result.warnings`` is public (``omnimig.transform(...).warnings``); holding it as columns must not
change what a caller sees: the same changes, in the same order, by index, slice or iteration,
and the summary's code counts in the same order (``Counter.most_common`` keeps first-seen order on ties).
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from random import Random

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.io.safe_text import neutralise_formula, neutralise_formula_column
from omnimig.transforms.output import CHANGE_COLUMNS, write_changes
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


FORMULA_TEXT = st.text(alphabet=st.sampled_from(list("=+-@\t\r1.,eE aş\"\n'")), max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(FORMULA_TEXT, st.text(max_size=6), st.none()), max_size=20))
def test_the_column_form_of_the_formula_rule_is_the_rule_cell_by_cell(cells: list[str | None]) -> None:
    """Only cells with a formula lead are handed to ``neutralise_formula``; the result is its, cell by cell."""
    cells = [
        c if c is None else c.encode("utf-8", "replace").decode("utf-8") for c in cells
    ]  # Arrow holds no lone surrogates
    made = neutralise_formula_column(pa.array(cells, pa.string())).to_pylist()
    assert made == [None if c is None else neutralise_formula(c) for c in cells]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            lambda c, before, file: Change(
                Origin(file, c.origin.row, c.origin.unit, c.origin.part),
                c.type,
                c.field,
                c.code,
                c.message,
                before,
                c.after,
                c.record,
            ),
            CHANGES,
            FORMULA_TEXT,
            st.sampled_from(["a.csv", "=b.csv", "-c.json"]),
        ),
        max_size=30,
    )
)
def test_changes_csv_is_what_csv_writer_wrote_line_by_line(
    tmp_path_factory: pytest.TempPathFactory, changes: list[Change]
) -> None:
    """``write_changes`` (Arrow kernels) writes the bytes the per-line ``csv.writer`` of ``_write_log`` wrote."""
    order = {"=b.csv": 0, "a.csv": 1}
    path = tmp_path_factory.mktemp("log") / "changes.csv"
    write_changes(path, ChangeLog(changes), order)
    expected = io.StringIO(newline="")
    out = csv.writer(expected, lineterminator="\r\n")
    out.writerow(CHANGE_COLUMNS)
    for c in sorted(changes, key=lambda c: (order.get(c.origin.file, 0), c.origin.row, c.origin.part)):
        place = [c.origin.file, str(c.origin.row), str(c.origin.part) if c.origin.part else ""]
        out.writerow(
            [neutralise_formula(v) for v in (*place, c.type, c.record, c.field, c.before, c.after, c.code, c.message)]
        )
    assert path.read_bytes() == expected.getvalue().encode("utf-8")
    assert path.stat().st_mode & 0o777 == 0o600
