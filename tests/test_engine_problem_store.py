"""``ProblemStore``: problems spilled to disk read back exactly as a sorted list would hold them
(issue 12, "The problem stream is bounded").
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.validation.problem import FileResult, Problem, ProblemStore

FIELDS = ["number", "amount", "currency", None]
ORDER = ("number", "amount", "currency")

problem_st = st.builds(
    Problem,
    file=st.just("order.csv"),
    type=st.just("order"),
    row=st.one_of(st.none(), st.integers(1, 40)),
    field=st.sampled_from(FIELDS),
    rule=st.sampled_from(["type", "pattern", "unique"]),
    severity=st.sampled_from(["error", "warning"]),
    value=st.one_of(st.none(), st.text(max_size=5)),
    message=st.text(max_size=8),
)


def report_key(p: Problem) -> tuple[int, int, str]:
    rank = {name: i for i, name in enumerate(ORDER)}
    return (-1 if p.row is None else p.row, -1 if p.field is None else rank.get(p.field, len(rank)), p.rule)


@settings(max_examples=150, deadline=None)
@given(
    groups=st.lists(st.lists(problem_st, max_size=12), max_size=8),
    budget=st.integers(1, 6),
    batch=st.integers(1, 4),
    strict=st.booleans(),
)
def test_store_reads_back_the_stable_sort_of_everything(
    groups: list[list[Problem]], budget: int, batch: int, strict: bool
) -> None:
    store = ProblemStore("order.csv", "order", memory_budget=budget, examples=2)
    store.BATCH = batch
    store.set_order(ORDER)
    for group in groups:
        for p in group:
            store.append(p)
        store.flush()
    everything = [p for g in groups for p in g]
    if strict:
        store.escalate()
        everything = [Problem(*[*vars_of(p)[:5], "error", *vars_of(p)[6:]]) for p in everything]
    expected = sorted(everything, key=report_key)
    assert list(store) == expected
    assert len(store) == len(expected)
    assert store.counts() == Counter((p.rule, p.field, p.severity) for p in expected)
    for group in store.counts():
        wanted = [p for p in expected if (p.rule, p.field, p.severity) == group]
        assert store.examples(group, 2) == wanted[:2]
        assert store.examples(group, 5) == wanted[:5]  # more than kept: read from the stream
    assert store[:3] == expected[:3]
    if expected:
        assert store[0] == expected[0]


def vars_of(p: Problem) -> list[object]:
    return [p.file, p.type, p.row, p.field, p.rule, p.severity, p.value, p.message]


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.integers(2, 10_000), unique=True, max_size=30), budget=st.integers(1, 5))
def test_add_many_keeps_ascending_runs_without_a_sort(rows: list[int], budget: int) -> None:
    rows.sort()
    store = ProblemStore("o.csv", "order", memory_budget=budget)
    store.set_order(ORDER)
    store.add_many(rows, "amount", "type", "error", [str(r) for r in rows], [f"m{r}" for r in rows])
    store.add(1, None, "missing-column", "error", None, "header")  # a step back: a second run
    assert [p.row for p in store] == [1, *rows]


def test_set_order_resorts_what_is_stored() -> None:
    store = ProblemStore("o.csv", "order", memory_budget=1)
    store.append(Problem("o.csv", "order", 2, "currency", "pattern", "error", "x", "m"))
    store.append(Problem("o.csv", "order", 2, "amount", "type", "error", "y", "m"))
    store.set_order(("amount", "currency"))
    assert [p.field for p in store] == ["amount", "currency"]


def test_file_result_keeps_its_list_interface() -> None:
    result = FileResult("o.csv", "order", "csv", 1)
    assert result.problems == [] and not result.problems
    p = Problem("o.csv", "order", 2, "amount", "type", "warning", "1,5", "m")
    result.problems = [p]
    result.problems.append(Problem("o.csv", "order", None, None, "no-rows", "warning", None, "m"))
    assert result.problems[0].rule == "no-rows" and len(result.problems) == 2
    assert (result.errors, result.warnings) == (0, 2)


@pytest.fixture(scope="module")
def practice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("practice") / "bundle"
    result = CliRunner().invoke(app, ["samples", "--out", str(out), "--orders", "25", "--invalid-rate", "0.2"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("fmt", ["json", "csv", "text"])
def test_spilling_changes_no_output(practice: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """Field and bundle problems over several chunks: a tiny memory budget gives byte-identical outputs."""
    args = ["validate", "--format", fmt, "--chunk-rows", "7", "--max-examples", "30", str(practice)]
    plain = CliRunner().invoke(app, args)
    assert plain.exit_code == 1, plain.output
    monkeypatch.setattr(ProblemStore, "MEMORY_BUDGET", 3)
    monkeypatch.setattr(ProblemStore, "BATCH", 2)
    monkeypatch.setattr(ProblemStore, "EXAMPLES", 1)
    spilled = CliRunner().invoke(app, args)
    assert spilled.stdout == plain.stdout
    assert spilled.exit_code == 1


def test_strict_escalates_a_spilled_store(practice: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ProblemStore, "MEMORY_BUDGET", 3)
    import json

    doc = json.loads(CliRunner().invoke(app, ["validate", "--format", "json", "--strict", str(practice)]).stdout)
    assert doc["summary"]["warnings"] == 0
    assert all(p["severity"] == "error" for f in doc["files"] for p in f["problems"])
    assert doc["summary"]["errors"] == sum(len(f["problems"]) for f in doc["files"])
