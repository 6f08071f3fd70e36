"""Shared by the format benchmarks: run contenders as separate processes under /usr/bin/time -v, interleaved."""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

PY = sys.executable


def parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every format bench shares: size, repeats, the quick smoke mode, where data goes."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000 orders, one run")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    return ap


def sizes(args: argparse.Namespace) -> tuple[int, int]:
    """(orders, repeats): --quick is 2,000 orders once, whatever else was asked."""
    return (2_000, 1) if args.quick else (args.orders, args.repeat)


def omnimig_samples(out: Path, orders: int, fmt: str, invalid_rate: float) -> Path:
    """The bundle ``omnimig samples`` writes (seed 1), generated once and reused."""
    done = out / ".complete"
    if not done.exists():
        shutil.rmtree(out, ignore_errors=True)
        cmd = [PY, "-m", "omnimig", "samples", "--out", str(out), "--orders", str(orders), "--format", fmt]
        cmd += ["--seed", "1", "--invalid-rate", str(invalid_rate)]
        print("$", " ".join(cmd[1:]), file=sys.stderr)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        done.write_text("")
    return out


def measure(cmd: Sequence[str]) -> tuple[float, float, str]:
    """(wall seconds, max RSS in MB, stdout) of one run of ``cmd``."""
    timed = ["/usr/bin/time", "-v", *cmd] if Path("/usr/bin/time").exists() else list(cmd)
    start = time.perf_counter()
    proc = subprocess.run(timed, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    rss = int(found.group(1)) / 1024 if found else float("nan")
    return wall, rss, proc.stdout


def interleave(contenders: dict[str, list[str]], repeat: int) -> dict[str, list[tuple[float, float]]]:
    """Run each contender ``repeat`` times, round-robin, so machine noise hits them alike."""
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in contenders}
    for i in range(repeat):
        for name, cmd in contenders.items():
            wall, rss, _ = measure(cmd)
            runs[name].append((wall, rss))
            print(f"  run {i + 1}/{repeat} {name}: {wall:.2f} s, {rss:.0f} MB", file=sys.stderr)
    return runs


def table(runs: dict[str, list[tuple[float, float]]], base: str, rows: int) -> str:
    """Markdown: median wall and RSS per contender, and the ratios to ``base``."""
    med = {n: (statistics.median(w for w, _ in r), max(m for _, m in r)) for n, r in runs.items()}
    bw, bm = med[base]
    lines = [
        "| contender | rows | wall s (median) | all runs s | max RSS MB | wall / base | RSS / base |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, (w, m) in med.items():
        every = ", ".join(f"{x:.2f}" for x, _ in runs[name])
        lines.append(f"| {name} | {rows:,} | {w:.2f} | {every} | {m:.0f} | {w / bw:.2f}× | {m / bm:.2f}× |")
    return "\n".join(lines)
