"""All-bad benchmark (issue 12, "The problem stream is bounded"): a clean order file against the
same file with every ``amount`` written with a decimal comma, through ``omnimig validate --format json``.

    python bench/allbad_bench.py [--orders 300000] [--repeat 3] [--quick] [--out DIR] [--write-results]

1. Generates ``DIR/orders-N/clean/order.csv`` with the installed ``omnimig samples`` (seed 1, only
   the order file is kept) and ``DIR/orders-N/allbad/order.csv``: the same rows with the decimal point
   of every ``amount`` turned into a comma (``129.90`` -> ``129,90``), so every row has one error.
2. Runs both, interleaved, each its own process under ``/usr/bin/time -v`` (wall time, max RSS),
   and checks the all-bad run's JSON reports one ``type`` problem per row.
3. Prints a Markdown table; ``--write-results`` appends it, with the command, to ``bench/RESULTS.md``.

Target: the all-bad file within 200 MB of the clean file's peak memory and at most 2x its time.
Timings are measured here, never asserted in a test.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import PY, parser, sizes

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
TARGET_EXTRA_MB = 200
TARGET_RATIO = 2.0


def make_files(out: Path, orders: int) -> tuple[Path, Path]:
    """The clean order file and its all-bad twin, generated once and reused."""
    base = out / f"allbad-{orders}"
    clean, bad = base / "clean" / "order.csv", base / "allbad" / "order.csv"
    if (base / ".complete").exists():
        return clean, bad
    shutil.rmtree(base, ignore_errors=True)
    gen = base / "gen"
    cmd = [PY, "-c", "from omnimig.cli import app; app()", "samples", "--out", str(gen), "--orders", str(orders)]
    print("$ omnimig", " ".join(cmd[3:]), file=sys.stderr)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    clean.parent.mkdir(parents=True)
    bad.parent.mkdir(parents=True)
    shutil.move(str(gen / "order.csv"), clean)
    shutil.rmtree(gen)
    with clean.open(newline="", encoding="utf-8") as src, bad.open("w", newline="", encoding="utf-8") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        at = header.index("amount")
        for row in reader:
            row[at] = row[at].replace(".", ",")
            writer.writerow(row)
    (base / ".complete").write_text("")
    return clean, bad


def measure(cmd: Sequence[str], env: dict[str, str] | None, cwd: Path) -> tuple[float, float, float, str, str]:
    """(wall s, CPU s = user + system, max RSS MB, stdout, the omnimig that ran) of one run under ``/usr/bin/time -v``.

    CPU time is reported besides wall time: on a shared machine the wall clock mostly measures
    the neighbours.
    """
    start = time.perf_counter()
    # ``cwd`` away from any checkout: ``python -c`` puts the working folder first on sys.path
    proc = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")

    def field(label: str) -> float:
        found = re.search(rf"{re.escape(label)}: ([0-9.]+)", proc.stderr)
        return float(found.group(1)) if found else float("nan")

    cpu = field("User time (seconds)") + field("System time (seconds)")
    module = proc.stderr.splitlines()[0] if proc.stderr else "?"
    return wall, cpu, field("Maximum resident set size (kbytes)") / 1024, proc.stdout, module


def main() -> None:
    ap = parser(__doc__)
    ap.set_defaults(orders=300_000)
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument(
        "--before",
        type=Path,
        help="a checkout of an older omnimig (e.g. `git archive` of a commit) to run interleaved, as 'before'",
    )
    args = ap.parse_args()
    orders, repeat = sizes(args)
    clean, bad = make_files(args.out.resolve(), orders)
    code = "import omnimig, sys; print(omnimig.__file__, file=sys.stderr); from omnimig.cli import app; app()"
    run = [PY, "-c", code, "validate", "--format", "json"]
    contenders = {"clean": [*run, str(clean)], "all-bad": [*run, str(bad)]}
    envs: dict[str, dict[str, str] | None] = {"clean": None, "all-bad": None}
    if args.before is not None:
        old = {**os.environ, "PYTHONPATH": str(args.before.resolve())}
        contenders |= {"clean, before": contenders["clean"], "all-bad, before": contenders["all-bad"]}
        envs |= {"clean, before": old, "all-bad, before": old}
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in contenders}
    for i in range(repeat):
        for name, cmd in contenders.items():
            wall, cpu, rss, stdout, module = measure(cmd, envs[name], clean.parent.parent)
            runs[name].append((wall, cpu, rss))
            print(
                f"  run {i + 1}/{repeat} {name}: {wall:.2f} s, CPU {cpu:.2f} s, {rss:.0f} MB ({module})",
                file=sys.stderr,
            )
            if name.startswith("all-bad"):
                doc = json.loads(stdout)
                found = sum(1 for p in doc["files"][0]["problems"] if p["rule"] == "type" and p["field"] == "amount")
                rows = doc["summary"]["rows"]
                if found != rows or doc["summary"]["errors"] < rows:
                    raise SystemExit(f"all-bad run reported {found} amount problems for {rows} rows")
                del doc, stdout
    wall = {n: statistics.median(w for w, _, _ in r) for n, r in runs.items()}
    cpu = {n: statistics.median(c for _, c, _ in r) for n, r in runs.items()}
    rss = {n: max(m for _, _, m in r) for n, r in runs.items()}
    lines = [
        "| file | rows | wall s (median) | all runs s | CPU s (median) | max RSS MB |",
        "|---|---|---|---|---|---|",
    ]
    for name in contenders:
        every = ", ".join(f"{w:.2f}" for w, _, _ in runs[name])
        lines.append(f"| {name} | {orders:,} | {wall[name]:.2f} | {every} | {cpu[name]:.2f} | {rss[name]:.0f} |")
    ratio = wall["all-bad"] / wall["clean"]
    cpu_ratio = cpu["all-bad"] / cpu["clean"]
    extra = rss["all-bad"] - rss["clean"]
    met = ratio <= TARGET_RATIO and extra <= TARGET_EXTRA_MB
    verdict = (
        f"all-bad / clean: {ratio:.2f}x the wall time ({cpu_ratio:.2f}x the CPU time; target <= "
        f"{TARGET_RATIO:.0f}x), {extra:+.0f} MB peak memory (target <= +{TARGET_EXTRA_MB} MB): "
        f"{'met' if met else 'NOT met'}"
    )
    if args.before is not None:
        before = wall["all-bad, before"] / wall["clean, before"]
        verdict += (
            f". Before (--before {args.before}): all-bad / clean {before:.2f}x "
            f"the wall time, {rss['all-bad, before'] - rss['clean, before']:+.0f} MB"
        )
    table = "\n".join(lines)
    print(table)
    print(verdict)
    if args.write_results and not args.quick:
        stamp = f"{dt.date.today().isoformat()}, {platform.python_version()}, {platform.machine()}"
        section = (
            f"\n\n### All-bad order file: the problem stream is bounded (issue 12)\n\n"
            f"`python bench/allbad_bench.py --orders {orders} --repeat {repeat}"
            f"{' --before ' + str(args.before) if args.before else ''} --write-results` ({stamp}):\n"
            f"`omnimig validate --format json` on an order file from `omnimig samples` (clean) and on the same\n"
            f"file with every `amount` written with a decimal comma (all-bad: one error per row), interleaved,\n"
            f"each its own process under `/usr/bin/time -v`.\n\n{table}\n\n{verdict}.\n"
        )
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(section)


if __name__ == "__main__":
    main()
