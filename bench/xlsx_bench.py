"""XLSX: omnimig reading a 1,000,000-row order sheet vs openpyxl's read-only mode (issue 13).

    python bench/xlsx_bench.py --repeat 2                         # 1,000,000 orders, 2 interleaved runs each
    python bench/xlsx_bench.py --repeat 2 --before /tmp/xlsx-old  # and the reader of an older checkout
    python bench/xlsx_bench.py --quick                            # 2,000 orders, one run: a smoke test

Data: ``omnimig samples --orders N --format csv --seed 1 --invalid-rate 0.001`` into bench/out/, and
its order.csv written as order.xlsx by omnimig's own XLSX writer (``TableWriter``, xlsxwriter in
constant-memory mode: what ``samples --format xlsx`` writes; the bundle itself cannot be XLSX at
this size, because its order_item file has more rows than a sheet holds). Each contender is its own
process under /usr/bin/time -v: openpyxl read-only iterating every row's values, python-calamine
loading the sheet and iterating its rows (the engine of the reader before the streaming one),
omnimig's reader (text columns in chunks) and ``omnimig validate``. ``--before DIR`` adds the
reader of an older omnimig (``git archive <commit> | tar -x -C DIR``), run interleaved.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _timing import PY, interleave, omnimig_samples, parser, sizes, table

OPENPYXL = (
    "import sys, openpyxl\n"
    "ws = openpyxl.load_workbook(sys.argv[1], read_only=True).worksheets[0]\n"
    "print(sum(1 for _ in ws.iter_rows(values_only=True)) - 1)"
)
CALAMINE = (
    "import sys; from python_calamine import CalamineWorkbook\n"
    "print(sum(1 for _ in CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).iter_rows()) - 1)"
)
READ = (
    "import sys; sys.path.insert(0, sys.argv[2]) if len(sys.argv) > 2 else None\n"
    "from pathlib import Path; from omnimig.io.read_excel import read_excel\n"
    "print(sum(len(c.data) for c in read_excel(Path(sys.argv[1]), 'xlsx').chunks))"
)


def as_xlsx(csv_path: Path) -> Path:
    """order.csv written as order.xlsx by omnimig's writer, once."""
    out = csv_path.with_suffix(".xlsx")
    if out.exists():
        return out
    import pandas as pd

    from omnimig.io import open_source
    from omnimig.io.write import TableWriter

    source = open_source(csv_path)
    partial = out.with_suffix(".partial.xlsx")
    with TableWriter(partial, "xlsx", list(source.header or source.columns)) as writer:
        for chunk in source.chunks:
            writer.write(chunk, pd.Series(True, index=chunk.data.index))
    partial.rename(out)
    return out


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--before", type=Path, help="a checkout of an older omnimig to run its reader interleaved")
    args = ap.parse_args()
    orders, repeat = sizes(args)
    bundle = omnimig_samples(args.out / f"csv-{orders}", orders, "csv", 0.001)
    path = as_xlsx(bundle / "order.csv")
    contenders = {
        "openpyxl read-only (iter_rows values)": [PY, "-c", OPENPYXL, str(path)],
        "calamine iter_rows (whole sheet loaded)": [PY, "-c", CALAMINE, str(path)],
        "omnimig read (streaming, chunks)": [PY, "-c", READ, str(path)],
        "omnimig validate --format json": [PY, "-m", "omnimig", "validate", "--format", "json", str(path)],
    }
    if args.before is not None:
        contenders["omnimig read, before (--before)"] = [PY, "-c", READ, str(path), str(args.before.resolve())]
    runs = interleave(contenders, repeat)
    from omnimig.io.read_excel import read_excel

    rows = sum(len(c.data) for c in read_excel(path, "xlsx").chunks)
    print(f"File: {path} ({path.stat().st_size / 1e6:.0f} MB), {sys.version.split()[0]}\n")
    print(table(runs, "openpyxl read-only (iter_rows values)", rows))


if __name__ == "__main__":
    main()
