"""Cost of the bundle summary (issue 14): ``omnimig validate`` before and after, interleaved.

    python bench/summary_bench.py [--orders N] [--repeat R] [--base REV] [--quick] [--out DIR]

Generates (once) the CSV bundle of ``omnimig samples --orders N --invalid-rate 0.001 --seed 1``,
exports the package as it was at ``REV`` (default: the commit before the summary) with
``git archive``, and runs ``omnimig validate --format json BUNDLE`` with each package in turn,
round-robin, under ``/usr/bin/time -v``. Both runs read the same files with the same installed
libraries; only ``PYTHONPATH`` differs (each run starts in an empty folder, so the working tree
is not imported by accident). Prints a Markdown table of median wall time and peak memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _timing import PY, interleave, omnimig_samples, parser, sizes, table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The last commit before the bundle summary.
BASE = "982d878"


def base_tree(rev: str, out: Path) -> Path:
    """The ``omnimig`` package as it was at ``rev``, exported once under ``out``."""
    target = out / f"base-{rev}"
    if not (target / "omnimig" / "__init__.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "omnimig"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--base", default=BASE, help=f"the revision to compare with (default {BASE})")
    args = ap.parse_args()
    orders, repeat = sizes(args)
    out = args.out.resolve()
    bundle = omnimig_samples(out / f"summary-{orders}", orders, "csv", 0.001)
    base = base_tree(args.base, out)
    run = [PY, "-c", "from omnimig.cli import app; app()", "validate", "--format", "json", str(bundle)]
    contenders = {
        f"before ({args.base})": ["env", f"PYTHONPATH={base}", *run],
        "after (this tree, with the summary)": ["env", f"PYTHONPATH={ROOT}", *run],
    }
    os.chdir(tempfile.mkdtemp(prefix="omnimig-bench-"))
    runs = interleave(contenders, repeat)
    rows = sum(max(0, sum(1 for _ in p.open(encoding="utf-8")) - 1) for p in bundle.glob("*.csv"))
    print(table(runs, f"before ({args.base})", rows))


if __name__ == "__main__":
    sys.exit(main())
