"""``TableWriter.write_arrow`` writes the bytes the ``csv`` module writes for the same rows.

The transform's record files are written by Arrow kernels (``io.write.csv_bytes``) instead of
``csv.writer``; the bundle must stay byte-identical, so every character that makes ``csv``
quote a cell (comma, quote, CR, LF) and some that do not (tab, NUL, a formula sign, Unicode
line separators, Turkish letters) are tried in every position, empty cells and nulls included.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.io import write
from omnimig.io.write import TableWriter, csv_bytes

CELLS = st.text(alphabet=st.sampled_from(list("a,\"\r\n \tş\x00=\u2028\x1f\\İ'")), max_size=6)


def _python_csv(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.integers(2, 5).flatmap(lambda n: st.lists(st.lists(CELLS, min_size=n, max_size=n), max_size=8)))
def test_csv_bytes_are_the_csv_modules(rows: list[list[str]]) -> None:
    width = len(rows[0]) if rows else 2
    table = pa.table(
        [pa.array([r[i] for r in rows], pa.string()) for i in range(width)], names=[f"c{i}" for i in range(width)]
    )
    assert b"".join(bytes(part) for part in csv_bytes(table)) == _python_csv(rows)


def test_nulls_are_empty_cells_and_slices_join_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A null is written as an empty cell; a table longer than one slice is written whole, in order, 0600."""
    monkeypatch.setattr(write, "_CSV_SLICE_ROWS", 2)
    rows = [["1", None], ['x"y', "a,b"], ["", "line\nbreak"], ["z", ""], ["last", "ş"]]
    table = pa.table([pa.array([r[i] for r in rows], pa.string()) for i in range(2)], names=["a", "b"])
    path = tmp_path / "arrow.csv"
    with TableWriter(path, "csv", ["a", "b"]) as writer:
        writer.write_arrow(table)
        writer.write_arrow(table.slice(1, 2))
    expected = _python_csv([["a", "b"], *[[c or "" for c in r] for r in [*rows, *rows[1:3]]]])
    assert path.read_bytes() == expected
    assert (path.stat().st_mode & 0o777) == 0o600
