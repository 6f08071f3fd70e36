"""JSON: omnimig reading and validating 1,000,000 orders vs ``orjson.loads`` of the same file (issue 7).

    python bench/json_bench.py            # 1,000,000 orders, 3 interleaved runs each
    python bench/json_bench.py --quick    # 2,000 orders, one run: a smoke test, nothing asserted

Data: ``omnimig samples --orders N --format json --invalid-rate 0.001`` into bench/out/; the file
measured is the bundle's order.json. Each contender is its own process under /usr/bin/time -v.
"""

from __future__ import annotations

from _timing import PY, interleave, omnimig_samples, parser, sizes, table

READ = (
    "import sys; from pathlib import Path; from omnimig.io.read_json import read_json\n"
    "n = sum(len(c.data) for c in read_json(Path(sys.argv[1])).chunks); print(n)"
)
ORJSON = "import sys, orjson; print(len(orjson.loads(open(sys.argv[1], 'rb').read())))"


def main() -> None:
    ap = parser(__doc__)
    args = ap.parse_args()
    orders, repeat = sizes(args)
    bundle = omnimig_samples(args.out / f"json-{orders}", orders, "json", 0.001)
    path = bundle / "order.json"
    contenders = {
        "orjson.loads (whole file)": [PY, "-c", ORJSON, str(path)],
        "omnimig read (stream, all chunks)": [PY, "-c", READ, str(path)],
        "omnimig validate --type order": [PY, "-m", "omnimig", "validate", "--format", "json", str(path)],
    }
    runs = interleave(contenders, repeat)
    with path.open("rb") as f:
        rows = sum(1 for _ in f) - 2  # one record a line between "[" and "]"
    print(f"File: {path} ({path.stat().st_size / 1e6:.0f} MB)\n")
    print(table(runs, "orjson.loads (whole file)", rows))


if __name__ == "__main__":
    main()
