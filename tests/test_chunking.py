"""Chunk size is an implementation detail: it never hides a problem nor invents one.

Files are read and checked in chunks of ``chunk_rows`` rows, while the bundle rules (unique
keys, references) look across all of them. A bundle from ``omnimig samples --invalid-rate``
carries planted defects with an answer key; its duplicates repeat a key from the first rows
after all valid rows, so with small chunks every one of them crosses a chunk boundary.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimig.sampling.generate import generate
from omnimig.validation import spawn
from omnimig.validation.run import Validation, validate_paths

Key = tuple[str, int | None, str | None, str, str]


def keys(run: Validation) -> Counter[Key]:
    """Every problem as (file name, row, field, rule, severity), counted."""
    return Counter((Path(p.file).name, p.row, p.field, p.rule, p.severity) for r in run.results for p in r.problems)


def full(run: Validation) -> list[tuple[object, ...]]:
    """Every problem with its value and message, in report order."""
    return [
        (Path(p.file).name, p.row, p.field, p.rule, p.severity, p.value, p.message)
        for r in run.results
        for p in r.problems
    ]


@pytest.fixture(scope="module", params=["csv", "json"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[Key]]:
    """A 12-order bundle (about 270 rows) with defects of every kind and its answer key.

    The planted defects are one fixed catalogue (99 problems, every rule) whatever the order
    count; more orders only add valid rows, which at one row per chunk cost time and test nothing
    more. 12 orders still put every duplicate more than 60 rows after the key it repeats."""
    out = tmp_path_factory.mktemp(f"planted-{request.param}")
    generate(out, orders=12, fmt=request.param, seed=5, invalid_rate=0.05)
    answer = json.loads((out / "expected_problems.json").read_text(encoding="utf-8"))
    expected = Counter((e["file"], e["row"], e["field"], e["rule"], e["severity"]) for e in answer)
    return out, expected


@pytest.mark.parametrize("chunk_rows", [1, 2, 3, 7, 50, 200_000])
def test_planted_problems_are_found_exactly_at_every_chunk_size(
    planted: tuple[Path, Counter[Key]], chunk_rows: int
) -> None:
    folder, expected = planted
    found = keys(validate_paths([folder], chunk_rows=chunk_rows))
    assert any(rule == "unique" for _, _, _, rule, _ in expected)  # the bundle has duplicates to find
    assert found == expected  # as a multiset: nothing missing, nothing extra, nothing twice


@pytest.fixture(scope="module")
def whole(planted: tuple[Path, Counter[Key]]) -> list[tuple[object, ...]]:
    """The report with every file in one chunk."""
    return full(validate_paths([planted[0]]))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunk_rows=st.integers(min_value=2, max_value=300))
def test_problems_and_messages_do_not_depend_on_chunk_size(
    planted: tuple[Path, Counter[Key]], whole: list[tuple[object, ...]], chunk_rows: int
) -> None:
    assert full(validate_paths([planted[0]], chunk_rows=chunk_rows)) == whole


def test_duplicate_key_is_found_when_as_many_references_dangle(tmp_path: Path) -> None:
    """order.number and order_item.order_number share one code space in the bundle rules; one
    repeated number next to one unknown reference must still give one duplicate and one
    dangling reference (counting distinct codes of the shared space once hid the duplicate)."""
    (tmp_path / "order.csv").write_text("number\nA1\nA2\nA1\n", encoding="utf-8")
    (tmp_path / "order_item.csv").write_text("order_number\nA1\nA2\nZ9\n", encoding="utf-8")
    for chunk_rows in (1, 2, 200_000):
        found = {
            (Path(p.file).name, p.row, p.rule, p.value)
            for r in validate_paths([tmp_path], chunk_rows=chunk_rows).results
            for p in r.problems
            if p.rule in ("unique", "foreign-key")
        }
        assert found == {("order.csv", 4, "unique", "A1"), ("order_item.csv", 4, "foreign-key", "Z9")}


@pytest.mark.parametrize("chunk_rows", [1, 3, 200_000])
def test_worker_processes_find_the_same_problems_at_every_chunk_size(
    planted: tuple[Path, Counter[Key]],
    whole: list[tuple[object, ...]],
    chunk_rows: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files checked in worker processes (``omnimig.validation.workers``, forced on for this small
    bundle) give every problem, message and row number of the one-process report, in its order."""
    monkeypatch.setattr(spawn, "MIN_BYTES", 0)
    assert full(validate_paths([planted[0]], chunk_rows=chunk_rows, threads=2)) == whole
