"""JSON: omnimig reading and validating 1,000,000 orders vs ``orjson.loads`` of the same file (issue 7).

    python bench/json_bench.py            # 1,000,000 orders, 3 interleaved runs each
    python bench/json_bench.py --quick    # 2,000 orders, one run: a smoke test, nothing asserted

Data: ``omnimig samples --orders N --format json --invalid-rate 0.001`` into bench/out/; the file
measured is the bundle's order.json. Each contender is its own process under /usr/bin/time -v.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from _timing import PY, interleave, omnimig_samples, table

READ = (
    "import sys; from pathlib import Path; from omnimig.io.read_json import read_json\n"
    "n = sum(len(c.data) for c in read_json(Path(sys.argv[1])).chunks); print(n)"
)
ORJSON = "import sys, orjson; print(len(orjson.loads(open(sys.argv[1], 'rb').read())))"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="2,000 orders, one run")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "out")
    args = ap.parse_args()
    orders, repeat = (2_000, 1) if args.quick else (args.orders, args.repeat)
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
