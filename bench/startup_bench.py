"""Start-up benchmark (issue 14): how long ``omnimig --help`` and ``import omnimig`` take.

    python bench/startup_bench.py [--repeat 20] [--write-results]

Runs, interleaved, each as a fresh process: ``python -c pass`` (the interpreter alone), ``python -c
"import omnimig"``, ``omnimig --help`` (the console script), ``python -c "import pandas"`` (what
every start paid before the package stopped importing it eagerly) and ``omnimig validate samples/``
(a real first command). Prints the median and minimum wall time of each; ``--write-results``
appends the table to ``bench/RESULTS.md``. The target (``omnimig --help`` well under 0.3 s) is
measured here, never asserted in a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def contenders() -> dict[str, list[str]]:
    script = shutil.which("omnimig") or str(Path(PY).with_name("omnimig"))
    return {
        "`python -c pass`": [PY, "-c", "pass"],
        "`python -c 'import omnimig'`": [PY, "-c", "import omnimig"],
        "`omnimig --help`": [script, "--help"],
        "`python -c 'import pandas'`": [PY, "-c", "import pandas"],
        "`omnimig validate samples/`": [script, "validate", str(ROOT / "samples")],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--write-results", action="store_true")
    args = ap.parse_args()
    runs = contenders()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeat):
        for name, cmd in runs.items():  # interleaved: a busy moment hits every contender alike
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            times[name].append(time.perf_counter() - start)
    lines = [
        "| command | median wall s | min wall s |",
        "|---|---:|---:|",
        *(f"| {n} | {statistics.median(t):.3f} | {min(t):.3f} |" for n, t in times.items()),
    ]
    table = "\n".join(lines)
    print(table)
    if args.write_results:
        when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        head = (
            f"\n\n### Start-up: `omnimig --help` (issue 14)\n\n`python bench/startup_bench.py --repeat {args.repeat} "
            f"--write-results` ({when}, Python {platform.python_version()}, {platform.machine()}; "
            f"{args.repeat} interleaved runs each):\n\n"
        )
        with (ROOT / "bench" / "RESULTS.md").open("a", encoding="utf-8") as out:
            out.write(head + table + "\n")


if __name__ == "__main__":
    main()
