"""fix: ``omnimig fix`` on a 1,000,000-order order file against ``omnimig validate`` of the same file (issue 17).

    python bench/fix_bench.py             # 1,000,000 orders, 3 interleaved runs each
    python bench/fix_bench.py --quick     # 2,000 orders, one run: a smoke test, nothing asserted

Data: the order file of ``omnimig samples --orders N --invalid-rate 0.001`` (bench/out/), with one
amount in 20 rewritten the way Turkish spreadsheets write it (a decimal comma: ``129,90``), so
fix has 5% of the rows to correct. Issue 17's target: fix takes at most 2x the time of validate.
Each contender is its own process under /usr/bin/time -v; the fix output folder is removed
before each run.
"""

from __future__ import annotations

import csv
import shutil
import statistics

from _timing import PY, interleave, omnimig_samples, parser, sizes, table

CLEAN = "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)"


def dirty_copy(source: str, target: str) -> int:
    """Write ``source`` with every 20th amount in decimal-comma form; the number of data rows."""
    with open(source, encoding="utf-8", newline="") as f, open(target, "w", encoding="utf-8", newline="") as g:
        rows = csv.reader(f)
        out = csv.writer(g, lineterminator="\n")
        header = next(rows)
        out.writerow(header)
        amount = header.index("amount")
        n = 0
        for n, row in enumerate(rows, start=1):
            if n % 20 == 0:
                row[amount] = row[amount].replace(".", ",")
            out.writerow(row)
    return n


def main() -> None:
    ap = parser(__doc__)
    args = ap.parse_args()
    orders, repeat = sizes(args)
    bundle = omnimig_samples(args.out / f"csv-{orders}", orders, "csv", 0.001)
    work = args.out / f"fix-{orders}"
    work.mkdir(parents=True, exist_ok=True)
    path = work / "order.csv"
    rows = dirty_copy(str(bundle / "order.csv"), str(path))
    fixed = work / "fixed"
    contenders = {
        "omnimig validate": [PY, "-m", "omnimig", "validate", str(path)],
        "omnimig fix": [
            "bash",
            "-c",
            f'{PY} -c "{CLEAN}" "$1" && exec {PY} -m omnimig fix "$2" --out "$1"',
            "fix",
            str(fixed),
            str(path),
        ],
    }
    runs = interleave(contenders, repeat)
    shutil.rmtree(fixed, ignore_errors=True)
    ratio = statistics.median(w for w, _ in runs["omnimig fix"]) / statistics.median(
        w for w, _ in runs["omnimig validate"]
    )
    print(f"File: {path} ({path.stat().st_size / 1e6:.0f} MB, {rows:,} rows, 5% of amounts with a decimal comma)\n")
    print(table(runs, "omnimig validate", rows))
    print(f"\nfix / validate = {ratio:.2f}× (target: at most 2×: {'met' if ratio <= 2 else 'not met'})")


if __name__ == "__main__":
    main()
