"""XLSX: omnimig reading a 1,000,000-row order sheet vs openpyxl's read-only mode (issue 7).

    python bench/xlsx_bench.py            # 1,000,000 orders, 3 interleaved runs each
    python bench/xlsx_bench.py --quick    # 2,000 orders, one run: a smoke test, nothing asserted

Data: ``omnimig samples --orders N --format xlsx --invalid-rate 0.001`` into bench/out/; the file
measured is the bundle's order.xlsx. Each contender is its own process under /usr/bin/time -v:
openpyxl read-only iterating every row's values, calamine's whole-sheet ``to_python()`` (what the
reader did before), omnimig's reader (calamine row iterator, text columns in chunks) and
``omnimig validate``.
"""

from __future__ import annotations

from _timing import PY, interleave, omnimig_samples, parser, sizes, table

OPENPYXL = (
    "import sys, openpyxl\n"
    "ws = openpyxl.load_workbook(sys.argv[1], read_only=True).worksheets[0]\n"
    "print(sum(1 for _ in ws.iter_rows(values_only=True)) - 1)"
)
CALAMINE = (
    "import sys; from python_calamine import CalamineWorkbook\n"
    "print(len(CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0).to_python(skip_empty_area=False)) - 1)"
)
READ = (
    "import sys; from pathlib import Path; from omnimig.io.read_excel import read_excel\n"
    "print(sum(len(c.data) for c in read_excel(Path(sys.argv[1]), 'xlsx').chunks))"
)


def main() -> None:
    ap = parser(__doc__)
    args = ap.parse_args()
    orders, repeat = sizes(args)
    bundle = omnimig_samples(args.out / f"xlsx-{orders}", orders, "xlsx", 0.001)
    path = bundle / "order.xlsx"
    contenders = {
        "openpyxl read-only (iter_rows values)": [PY, "-c", OPENPYXL, str(path)],
        "calamine to_python (whole sheet)": [PY, "-c", CALAMINE, str(path)],
        "omnimig read (calamine iter_rows, chunks)": [PY, "-c", READ, str(path)],
        "omnimig validate --type order": [PY, "-m", "omnimig", "validate", "--format", "json", str(path)],
    }
    runs = interleave(contenders, repeat)
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).height - 1
    print(f"File: {path} ({path.stat().st_size / 1e6:.0f} MB)\n")
    print(table(runs, "openpyxl read-only (iter_rows values)", rows))


if __name__ == "__main__":
    main()
