"""Annotated report: ``write_workbook`` for 1,000,000 rows vs xlsxwriter writing the same data plainly (issue 7).

    python bench/report_bench.py            # 1,000,000 orders, 3 interleaved runs each
    python bench/report_bench.py --quick    # 2,000 orders, one run: a smoke test, nothing asserted

Data: ``omnimig samples --orders N --format json --invalid-rate 0.001`` into bench/out/ (the same
bundle as bench/json_bench.py); the file is the bundle's order.json (its planted problems are the
report's problems). Both contenders run in their own process and are timed inside it, after
validation, so only the workbook counts:

- plain: read the file with omnimig's reader and write every row with xlsxwriter (constant
  memory, ``write_row``), no formats, no comments;
- annotated: ``write_workbook`` (reads the file again, writes every row with fills, comments
  and the Summary sheet), with ``report_rows`` = Excel's 1,048,575 so no row is left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from _timing import PY, measure, omnimig_samples, parser, sizes


def _plain(path: Path, out: Path) -> None:
    import xlsxwriter

    from omnimig.io import open_source

    start = time.perf_counter()
    source = open_source(path, 10_000)
    book = xlsxwriter.Workbook(str(out), {"constant_memory": True, "strings_to_numbers": False})
    ws = book.add_worksheet("order")
    ws.write_row(0, 0, source.columns)
    r = 1
    for chunk in source.chunks:
        for values in chunk.data.to_numpy(dtype=object, na_value="").tolist():
            ws.write_row(r, 0, values)
            r += 1
    book.close()
    print(json.dumps({"seconds": time.perf_counter() - start, "rows": r - 1}))


def _annotated(path: Path, out: Path) -> None:
    from omnimig.schemas.rules import load_choices
    from omnimig.validation.run import Target, validate_file
    from omnimig.validation.workbook import EXCEL_DATA_ROWS, write_workbook

    result = validate_file(Target(path, "order"), load_choices(None))
    start = time.perf_counter()
    write_workbook([result], out, report_rows=EXCEL_DATA_ROWS)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": result.rows, "problems": len(result.problems)}))


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--worker", choices=["plain", "annotated"], help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        (_plain if args.worker == "plain" else _annotated)(*args.files)
        return
    orders, repeat = sizes(args)
    bundle = omnimig_samples(args.out / f"json-{orders}", orders, "json", 0.001)
    path = bundle / "order.json"
    me = str(Path(__file__).resolve())
    runs: dict[str, list[tuple[float, float, float]]] = {"plain": [], "annotated": []}
    info: dict[str, object] = {}
    for i in range(repeat):
        for name in runs:
            out = args.out / f"report-{name}.xlsx"
            wall, rss, stdout = measure([PY, me, "--worker", name, str(path), str(out)])
            got = json.loads(stdout.strip().splitlines()[-1])
            info.update(got)
            runs[name].append((got["seconds"], wall, rss))
            print(f"  run {i + 1}/{repeat} {name}: {got['seconds']:.2f} s writing, {rss:.0f} MB", file=sys.stderr)
    base = sorted(s for s, _, _ in runs["plain"])[len(runs["plain"]) // 2]
    print(f"File: {path}; rows {info['rows']:,}; problems {info.get('problems', '?')}\n")
    print("| contender | workbook s (median) | all runs s | process max RSS MB | ratio to plain |")
    print("|---|---|---|---|---|")
    for name, r in runs.items():
        med = sorted(s for s, _, _ in r)[len(r) // 2]
        every = ", ".join(f"{s:.2f}" for s, _, _ in r)
        print(f"| {name} | {med:.2f} | {every} | {max(m for _, _, m in r):.0f} | {med / base:.2f}× |")


if __name__ == "__main__":
    main()
