"""Before/after of ``omnimig transform shopify`` for two checkouts, run side by side, one per core.

    python bench/transform_ab.py BEFORE_DIR AFTER_DIR [--orders 50000] [--pairs 4] [--out DIR]

Why side by side: on a shared virtual machine the CPU's speed drifts by a third within minutes
(the same run took 13 to 22 s of CPU), so a "before" run and an "after" run made one after the
other compare two moments, not two versions. Started together, each on its own core, both see
the same drift; their ratio is the measure. BEFORE_DIR and AFTER_DIR are checkouts of omnimig
(``git worktree add /tmp/before REV``); each run imports omnimig from its own directory.

Uses the export ``transform_bench.py`` generates (``DIR/transform-N-s1/orders_export.csv``, made
here when missing) and the options it passes; prints CPU seconds and peak RSS per pair, the
after/before ratio of each pair and their median. Checks that both versions wrote the same files.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from transform_bench import make_export, transform_command  # the bench's export and command


def _start(checkout: Path, export: Path, out: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(checkout.resolve()))
    command = transform_command(export, out)
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait(process: subprocess.Popen[bytes]) -> tuple[float, float]:
    """CPU seconds (user + system) and peak RSS in MB of a finished child."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):  # 1: some records rejected, as the bench's export plants
        raise SystemExit(f"transform exited {process.returncode}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024  # Linux: kilobytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--orders", type=int, default=50_000)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "omnimig-bench")
    args = parser.parse_args()
    export, _rows = make_export(args.out, args.orders, 1)
    ratios = []
    print("| pair | before CPU s | after CPU s | before MB | after MB | after / before |")
    print("|---:|---:|---:|---:|---:|---:|")
    for pair in range(1, args.pairs + 1):
        with tempfile.TemporaryDirectory() as scratch:
            outs = [Path(scratch) / "before", Path(scratch) / "after"]
            running = [_start(args.before, export, outs[0]), _start(args.after, export, outs[1])]
            (cpu_b, mb_b), (cpu_a, mb_a) = (_wait(p) for p in running)
            same = filecmp.dircmp(outs[0], outs[1])
            if same.diff_files or same.left_only or same.right_only:
                raise SystemExit(f"the two versions wrote different files: {same.diff_files or same.left_only}")
        ratios.append(cpu_a / cpu_b)
        print(f"| {pair} | {cpu_b:.2f} | {cpu_a:.2f} | {mb_b:,.0f} | {mb_a:,.0f} | {ratios[-1]:.3f} |")
    median = statistics.median(ratios)
    print(f"\n{args.orders:,} orders, {args.pairs} pairs side by side: after / before CPU, median {median:.3f}")


if __name__ == "__main__":
    main()
