"""omnimig validate vs the Polars baseline vs a pyarrow parse, interleaved, on one CSV bundle (issue 16).

    python bench/polars_bench.py [--orders N] [--repeat K] [--pin] [--out DIR] [--quick] [--write-results]

1. Uses (or generates) the bundle of ``bench/validate_bench.py``: ``omnimig samples --orders N
   --invalid-rate 0.001 --seed 1`` in ``bench/out/validate-N`` (the same stamp file, so either
   bench reuses the other's bundle).
2. Runs K rounds of three processes, round-robin so machine noise hits them alike, each under
   ``/usr/bin/time -v`` (wall, user + system CPU, max RSS):
   a. the pyarrow parse of ``validate_bench.py`` (four files, every column as text);
   b. ``bench/polars_baseline.py`` (every field and cross-file rule, generated from the rule files);
   c. ``omnimig validate --format json``.
   The problems of b and c are each compared with the answer key ``expected_problems.json`` as an
   exact set of (file, row, field, rule, severity).
3. ``--pin`` repeats the rounds with every process pinned to one core (``taskset -c 0``).
4. Prints a Markdown table (medians, ratios to the parse and omnimig / Polars) and, with
   ``--write-results``, puts it in the "## Polars baseline (issue 16)" section of bench/RESULTS.md.

Any run exits 1 when a contender's set is not the planted one. Timings are measured here, never
asserted in a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from validate_bench import (  # noqa: E402  (a sibling script, not a package)
    PYARROW_SCRIPT,
    RESULTS,
    TYPES,
    ensure_bundle,
    git_commit,
    omnimig_exe,
    problem_key,
    warm_cache,
)

SECTION = "## Polars baseline (issue 16)"
GIB = 1024**3


@dataclass
class Run:
    wall: float
    cpu: float  # user + system seconds
    rss: int  # bytes
    stdout: str


def timed(cmd: list[str], pin: bool) -> Run:
    """One process under /usr/bin/time -v (pinned to core 0 with taskset when ``pin``)."""
    if pin:
        cmd = ["taskset", "-c", "0", *cmd]
    with tempfile.NamedTemporaryFile("r", suffix=".time") as log:
        proc = subprocess.run(["/usr/bin/time", "-v", "-o", log.name, *cmd], capture_output=True, text=True)
        report = Path(log.name).read_text()
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"bench: {' '.join(cmd[:4])} … exited {proc.returncode}")

    def field(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: (\S+)", report)
        if found is None:
            raise SystemExit(f"bench: no {label!r} in /usr/bin/time output:\n{report}")
        return found.group(1)

    wall = 0.0
    for part in field("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":"):
        wall = wall * 60 + float(part)
    cpu = float(field("User time (seconds)")) + float(field("System time (seconds)"))
    rss = int(field("Maximum resident set size (kbytes)")) * 1024
    return Run(wall, cpu, rss, proc.stdout)


def planted(out: Path) -> set[tuple[object, ...]]:
    return {problem_key(p) for p in json.loads((out / "expected_problems.json").read_text())}


def contenders(out: Path) -> dict[str, list[str]]:
    paths = [str(out / f"{t}.csv") for t in TYPES]
    return {
        "pyarrow parse (text columns)": [sys.executable, "-c", PYARROW_SCRIPT, *paths],
        "Polars baseline (bench/polars_baseline.py)": [sys.executable, str(HERE / "polars_baseline.py"), str(out)],
        "omnimig validate": [omnimig_exe(), "validate", "--format", "json", str(out)],
    }


def found_set(name: str, stdout: str) -> set[tuple[object, ...]] | None:
    """The (file, row, field, rule, severity) set a contender printed; None for the parse."""
    if name.startswith("pyarrow"):
        return None
    doc = json.loads(stdout)
    if name.startswith("Polars"):
        return {(f, r, fl, ru, s) for f, r, fl, ru, s in doc["problems"]}
    return {problem_key(p) for f in doc["files"] for p in f["problems"]}


def rounds(
    out: Path, repeat: int, pin: bool, key: set[tuple[object, ...]]
) -> tuple[dict[str, list[Run]], list[str], int]:
    """``repeat`` round-robin rounds; the runs, the sets that differ from ``key``, and the rows read."""
    runs: dict[str, list[Run]] = {}
    wrong: list[str] = []
    rows = 0
    for i in range(repeat):
        for name, cmd in contenders(out).items():
            run = timed(cmd, pin)
            runs.setdefault(name, []).append(run)
            got = found_set(name, run.stdout)
            if got is not None and got != key:
                missed, extra = len(key - got), len(got - key)
                wrong.append(f"{name}, round {i + 1}: {missed} planted problems missed, {extra} not planted")
            if name.startswith("Polars"):
                rows = sum(json.loads(run.stdout)["rows"].values())
            run.stdout = ""  # the sets are checked; do not hold every report
            where = " (one core)" if pin else ""
            print(
                f"bench{where}: round {i + 1}/{repeat} {name}: {run.wall:.2f} s wall, {run.cpu:.2f} s CPU, "
                f"{run.rss / 2**20:,.0f} MB",
                file=sys.stderr,
            )
    return runs, wrong, rows


def table(runs: dict[str, list[Run]], rows: int, planted_count: int, ok: bool) -> str:
    """Medians (and the best run, less sensitive to other work on a shared machine) and the ratios."""
    med = {n: (statistics.median(r.wall for r in rs), statistics.median(r.cpu for r in rs)) for n, rs in runs.items()}
    best = {n: min(r.wall for r in rs) for n, rs in runs.items()}
    parse = next(n for n in runs if n.startswith("pyarrow"))
    lines = [
        "| | wall s (median) | best wall s | all runs s | median / parse | CPU s (median) | CPU / parse CPU | "
        "CPU / wall | max RSS | problems |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, rs in runs.items():
        wall, cpu = med[name]
        every = ", ".join(f"{r.wall:.2f}" for r in rs)
        peak = max(r.rss for r in rs) / GIB
        problems = "—" if name == parse else f"{planted_count:,} = planted" if ok else "≠ planted (see notes)"
        lines.append(
            f"| {name} | {wall:.2f} | {best[name]:.2f} | {every} | {wall / med[parse][0]:.2f}× | {cpu:.2f} | "
            f"{cpu / med[parse][1]:.2f}× | {cpu / wall:.0%} | {peak:.2f} GB | {problems} |"
        )
    polars = next(n for n in runs if n.startswith("Polars"))
    omni = next(n for n in runs if n.startswith("omnimig"))
    speed, fastest, cpu_speed = med[polars][0] / med[omni][0], best[polars] / best[omni], med[polars][1] / med[omni][1]
    to_parse, best_to_parse = med[omni][0] / med[parse][0], best[omni] / best[parse]
    lines += [
        "",
        f"{rows:,} rows. Polars / omnimig: **{speed:.2f}×** by median wall, {fastest:.2f}× by best wall, "
        f"{cpu_speed:.2f}× by CPU time (issue 16 asks for omnimig at least 1.25× faster by wall: "
        f"{'met' if speed >= 1.25 else 'not met'} on the medians). omnimig / parse: **{to_parse:.2f}×** by median "
        f"wall, {best_to_parse:.2f}× by best wall (target at most 2.5×: {'met' if to_parse <= 2.5 else 'not met'} "
        f"on the medians); the Polars baseline takes {med[polars][0] / med[parse][0]:.2f}× the parse.",
    ]
    return "\n".join(lines)


def machine() -> str:
    import polars
    import pyarrow

    with open("/proc/cpuinfo") as f:
        cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}, pyarrow {pyarrow.__version__}, " + (
        f"polars {polars.__version__}"
    )


def write_results(text: str) -> None:
    """Replace (or append) the "## Polars baseline (issue 16)" section, leaving the rest of the file."""
    old = RESULTS.read_text(encoding="utf-8")
    start = old.find(SECTION)
    if start < 0:
        new = old.rstrip("\n") + "\n\n\n" + text
    else:
        after = old.find("\n## ", start + len(SECTION))
        new = old[:start] + text + ("\n\n" + old[after + 1 :] if after >= 0 else "")
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the three contenders (median reported)")
    ap.add_argument("--pin", action="store_true", help="also run every contender pinned to one core")
    ap.add_argument("--quick", action="store_true", help="2,000 orders, one round: checks the sets only")
    ap.add_argument("--out", type=Path, help="bundle folder (default bench/out/validate-<orders>)")
    ap.add_argument("--write-results", action="store_true", help="write the section into bench/RESULTS.md")
    args = ap.parse_args(argv)
    orders, repeat = (2_000, 1) if args.quick else (args.orders, args.repeat)
    if args.pin and shutil.which("taskset") is None:
        ap.error("--pin needs taskset (util-linux)")
    out = args.out or HERE / "out" / f"validate-{orders}"
    ensure_bundle(out, orders)
    warm_cache([out / f"{t}.csv" for t in TYPES])
    key = planted(out)
    load = os.getloadavg()[0]
    runs, wrong, rows = rounds(out, repeat, False, key)
    load_after = os.getloadavg()[0]
    command = "python bench/polars_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    parts = [
        SECTION,
        "",
        f"`{command.strip()}` — measured {dt.date.today().isoformat()} on {machine()}; omnimig at {git_commit()}.",
        f"Bundle: `omnimig samples --orders {orders} --invalid-rate 0.001 --seed 1` (CSV, {len(key):,} planted "
        "problems). Each contender is its own process under `/usr/bin/time -v`, files warm in the page cache, "
        f"{repeat} interleaved rounds; wall times include interpreter start and imports. Load average (1 min) "
        f"before and after: {load:.2f} and {load_after:.2f} on {os.cpu_count()} cores shared with other work.",
        "",
        table(runs, rows, len(key), not wrong),
    ]
    if args.pin:
        pinned, wrong_pinned, _ = rounds(out, repeat, True, key)
        wrong += wrong_pinned
        parts += [
            "",
            "Pinned to one core (`taskset -c 0`), the same rounds:",
            "",
            table(pinned, rows, len(key), not wrong),
        ]
    if wrong:
        parts += ["", "Sets that differ from the answer key:", "", *(f"- {w}" for w in wrong)]
    text = "\n".join(parts) + "\n"
    print(text)
    if args.write_results:
        write_results(text)
        print(f"bench: wrote {RESULTS}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
