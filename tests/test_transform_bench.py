"""Smoke test of bench/transform_bench.py: the export it generates is a Shopify orders export that
``omnimig transform shopify`` reads completely. Timings are measured by the bench, never here."""

from __future__ import annotations

import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from omnimig.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests/data/transform/shopify/orders_export.csv"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("transform_bench", ROOT / "bench/transform_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up by name
    spec.loader.exec_module(module)
    return module


def _records(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def test_export_has_shopify_layout_with_order_columns_on_first_row_only(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    rows = bench.write_export(path, 50, seed=3)
    header, *data = _records(path)
    assert header == _records(FIXTURE)[0]  # the 79 columns, in Shopify's order
    assert len(data) == rows and 50 < rows <= 250
    names = [r[0] for r in data]
    assert len(set(names)) == 50
    assert names == sorted(names, key=lambda n: -int(n[1:]))  # each order's rows contiguous, newest first
    repeated = {header.index(c) for c in bench.REPEATED}
    seen: set[str] = set()
    for row in data:
        assert len(row) == len(header)
        if row[0] in seen:  # a later row of an order: only the columns Shopify repeats
            assert all(not v for i, v in enumerate(row) if i not in repeated), row
        else:
            assert row[header.index("Financial Status")] and row[header.index("Total")]
        seen.add(row[0])
    assert rows > 50  # some orders have several items


def test_export_is_deterministic_by_seed(bench: ModuleType, tmp_path: Path) -> None:
    a, b, c = (tmp_path / n for n in ("a.csv", "b.csv", "c.csv"))
    bench.write_export(a, 50, seed=7)
    bench.write_export(b, 50, seed=7)
    bench.write_export(c, 50, seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_transform_accounts_for_every_generated_row(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    rows = bench.write_export(path, 50, seed=1)
    out = tmp_path / "bundle"
    result = CliRunner().invoke(app, ["transform", "shopify", str(path), "--out", str(out), *bench.DEFAULTS])
    assert result.exit_code == 0, result.output  # the defaults make a bundle that validates clean
    read, written, merged, rejected = bench.accounting(result.output)
    assert read == rows == written + merged + rejected
    assert written > 0
    assert "validate on the written files: no errors" in result.output


def test_reference_parse_counts_the_same_rows(bench: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "orders_export.csv"
    rows = bench.write_export(path, 50, seed=1)
    text = path.read_text(encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", bench.PYARROW, str(path)], capture_output=True, text=True, timeout=120, check=True
    )
    assert int(proc.stdout.split()[-1]) == rows
    if "\nvergi_no" in text:  # a cell with a line break is one record, not two
        assert text.count("\n") > rows + 1


def test_accounting_refuses_a_summary_that_does_not_add_up(bench: ModuleType) -> None:
    assert bench.accounting("f.csv: 1,200 rows read = 1,100 written + 0 merged + 100 rejected\n") == (
        1200,
        1100,
        0,
        100,
    )
    with pytest.raises(SystemExit, match="lost rows"):
        bench.accounting("f.csv: 10 rows read = 8 written + 0 merged + 1 rejected\n")
    with pytest.raises(SystemExit, match="no 'rows read"):
        bench.accounting("wrote nothing\n")
    with pytest.raises(SystemExit, match="lost records"):
        bench.accounting(
            "f.csv: 2 rows read = 2 written + 0 merged + 0 rejected\n"
            "orders: 3 seen = 1 written + 0 merged + 1 rejected\n"
        )
