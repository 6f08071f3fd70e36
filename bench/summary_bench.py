"""Cost of the bundle summary (issue 14): ``omnimig validate`` before and after, interleaved.

    python bench/summary_bench.py [--orders N] [--repeat R] [--base REV] [--quick] [--out DIR]

Generates (once) the CSV bundle of ``omnimig samples --orders N --invalid-rate 0.001 --seed 1``,
exports the package as it was at ``REV`` (default: the commit before the summary) with
``git archive``, and runs ``omnimig validate --format json BUNDLE`` with each package in turn,
round-robin, under ``/usr/bin/time -v``. Both runs read the same files with the same installed
libraries; only ``PYTHONPATH`` differs (each run starts in an empty folder, so the working tree
is not imported by accident). Prints a Markdown table of wall time (median and best), CPU time
(user + system, less sensitive than wall time to other work on a shared machine) and peak memory,
then the share of one in-process validation spent tallying the summary.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _timing import PY, omnimig_samples, parser, sizes

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: The last commit before the bundle summary.
BASE = "982d878"

#: One validation in this process with the tally's three steps timed: their share of the run.
SHARE_SCRIPT = r"""
import sys, time
from pathlib import Path
import omnimig.validation.stats as stats
from omnimig.validation.run import validate_paths
spent = [0.0]
for name in ("_count", "_range", "_sum"):
    def timed(self, *args, _orig=getattr(stats.TypeTally, name)):
        t = time.perf_counter()
        try:
            return _orig(self, *args)
        finally:
            spent[0] += time.perf_counter() - t
    setattr(stats.TypeTally, name, timed)
start = time.perf_counter()
run = validate_paths([Path(sys.argv[1])])
total = time.perf_counter() - start
run.stats.to_dict()
print(f"{spent[0]:.3f} {total:.3f}")
"""


def base_tree(rev: str, out: Path) -> Path:
    """The ``omnimig`` package as it was at ``rev``, exported once under ``out``."""
    target = out / f"base-{rev}"
    if not (target / "omnimig" / "__init__.py").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "omnimig"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall s, user+system CPU s, max RSS MB) of one run."""
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")

    def field(label: str) -> float:
        found = re.search(rf"{re.escape(label)}: ([\d.]+)", proc.stderr)
        return float(found.group(1)) if found else float("nan")

    return (
        wall,
        field("User time (seconds)") + field("System time (seconds)"),
        field("Maximum resident set size (kbytes)") / 1024,
    )


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
        "after (with the summary)": ["env", f"PYTHONPATH={ROOT}", *run],
    }
    os.chdir(tempfile.mkdtemp(prefix="omnimig-bench-"))
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in contenders}
    for i in range(repeat):
        for name, cmd in contenders.items():
            runs[name].append(measure(cmd))
            wall, cpu, rss = runs[name][-1]
            print(f"  run {i + 1}/{repeat} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, {rss:.0f} MB", file=sys.stderr)
    rows = sum(max(0, sum(1 for _ in p.open(encoding="utf-8")) - 1) for p in bundle.glob("*.csv"))
    base_name = f"before ({args.base})"
    med = {n: [statistics.median(x[k] for x in r) for k in range(3)] for n, r in runs.items()}
    print("| contender | rows | wall s median (best) | CPU s median (best) | max RSS MB | CPU / before |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in runs.items():
        wall, cpu, _ = med[name]
        best_wall, best_cpu = min(x[0] for x in r), min(x[1] for x in r)
        rss = max(x[2] for x in r)
        print(
            f"| {name} | {rows:,} | {wall:.2f} ({best_wall:.2f}) | {cpu:.2f} ({best_cpu:.2f}) | {rss:.0f} "
            f"| {cpu / med[base_name][1]:.3f}× |"
        )
    share = subprocess.run(
        ["env", f"PYTHONPATH={ROOT}", PY, "-c", SHARE_SCRIPT, str(bundle)], capture_output=True, text=True, check=True
    )
    spent, total = (float(x) for x in share.stdout.split())
    print(
        f"\nOne in-process validation: the summary's tally took {spent:.2f} s of {total:.2f} s ({spent / total:.1%})."
    )


if __name__ == "__main__":
    sys.exit(main())
