"""The bench's Polars transform (``bench/transform_polars.py``) writes what omnimig writes (issue 15).

The script is the "real alternative" the transform bench measures omnimig against; the comparison
is only fair if it does the same transform. These tests prove it on the bench's own generated
exports: the four files it writes are byte for byte omnimig's, with the options the bench passes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import omnimig
from omnimig.transforms.run import Result

pl = pytest.importorskip("polars")  # the bench extra: pip install -e '.[bench]'

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import transform_bench  # noqa: E402
import transform_polars  # noqa: E402

FILES = ("user", "address", "order", "order_item")


def _omnimig(export: Path, out: Path) -> Result:
    return omnimig.transform(
        "shopify",
        [export],
        out,
        password_policy="unusable",
        defaults={
            "order.bank": "-",
            "order.tracking_number": "-",
            "order.shipping_company": "yurtici",
            "user.sms_allowed": "false",
        },
    )


def test_the_defaults_are_the_benchs() -> None:
    """The script fills what the bench's command line fills, with the same values."""
    flags = transform_bench.DEFAULTS
    given = dict(flags[i + 1].split("=", 1) for i, flag in enumerate(flags) if flag == "--default")
    assert {k.split(".", 1)[1]: v for k, v in given.items()} == transform_polars.DEFAULTS
    assert flags[flags.index("--password-policy") + 1] == "unusable"


@pytest.mark.parametrize(("orders", "seed"), [(400, 1), (700, 7)])
def test_same_files_as_omnimig_on_the_bench_export(tmp_path: Path, orders: int, seed: int) -> None:
    export, rows = transform_bench.make_export(tmp_path / "exports", orders, seed)
    ours = _omnimig(export, tmp_path / "omnimig")
    counts = transform_polars.transform(export, tmp_path / "polars")
    assert counts["rows"] == rows
    for name in FILES:
        expected = (tmp_path / "omnimig" / f"{name}.csv").read_bytes()
        assert (tmp_path / "polars" / f"{name}.csv").read_bytes() == expected, name
    # Not an agreement on nothing: both wrote every kind of record, and both dropped the orders without email.
    assert all(counts[name] > 0 for name in FILES)
    assert counts["rejected orders"] == sum(1 for r in ours.rejects if r.type == "order") > 0


def test_json_strings_as_python_writes_them() -> None:
    import json

    values = ['say "hi"', "back\\slash", "two\nlines", "tab\there", "bell\x07 and \x08 and \x1b", "İstanbul ş", ""]
    made = pl.DataFrame({"v": values}).select(transform_polars.json_string(pl.col("v"))).to_series().to_list()
    assert [f'"{m}"' for m in made] == [json.dumps(v, ensure_ascii=False) for v in values]
