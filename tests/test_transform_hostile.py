"""Every transform source on a hostile mini-corpus: no traceback, exit 0/1/2 as the README says, counts add up.

The corpus is generated here (small files; one 1 MB cell), per source, in the shapes a broken
or wrong export takes: truncated, binary garbage under a text name, empty, BOM only, header
only, NUL bytes, a 1 MB cell, 2,000 columns, deep nesting. Exit 2 must be exactly one line
naming the input; exit 0 or 1 must print the accounting, and it must add up.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig.cli import app

DATA = Path(__file__).resolve().parent / "data" / "transform"
TALLY = re.compile(r"^(.+?): (\d+) (\w+(?: \w+)?) read = (\d+) written \+ (\d+) merged \+ (\d+) rejected$", re.M)
BOM = b"\xef\xbb\xbf"
GARBAGE = bytes(range(256)) * 8
MB = 1024 * 1024

MAPPING = """\
[order]
number = "no"
amount = { column = "amount", normalise = "decimal" }
[order_item]
order_number = "no"
sku = "sku"
quantity = "qty"
price = { column = "price", normalise = "decimal" }
"""
MAPPING_HEADER = "no,amount,sku,qty,price"


def shopify_header() -> str:
    with (DATA / "shopify" / "orders_export.csv").open(encoding="utf-8-sig") as handle:
        return handle.readline().rstrip("\r\n")


def shopify_row() -> str:
    with (DATA / "shopify" / "orders_export.csv").open(encoding="utf-8-sig") as handle:
        handle.readline()
        return handle.readline().rstrip("\r\n")


def csv_corpus(header: str, row: str) -> dict[str, bytes]:
    """Hostile CSV files for a source whose good header and one good row are given."""
    good = f"{header}\n{row}\n".encode()
    width = header.count(",") + 1
    return {
        "truncated.csv": good[: len(header) + len(row) // 2] + b'"unterminated',
        "garbage.csv": GARBAGE,
        "empty.csv": b"",
        "bom-only.csv": BOM,
        "header-only.csv": f"{header}\n".encode(),
        "nul-bytes.csv": f"{header}\n".encode() + row.encode().replace(b",", b",\x00", 3) + b"\n",
        "one-mb-cell.csv": f"{header}\n".encode() + b'"' + b"x" * MB + b'",' + row.encode().split(b",", 1)[1] + b"\n",
        "2000-columns.csv": (
            f"{header},{','.join(f'extra{i}' for i in range(2000 - width))}\n{row}{',v' * (2000 - width)}\n".encode()
        ),
        "2000-columns-no-header.csv": (",".join(f"c{i}" for i in range(2000)) + "\n" + "1," * 1999 + "1\n").encode(),
        "short-and-long-rows.csv": f"{header}\n1\n{row},extra,extra\n{row}\n".encode(),
    }


def omnitron_corpus() -> dict[str, bytes]:
    good = (DATA / "omnitron" / "orders.json").read_bytes()
    deep_extra = '[{"number": "1", "extra_field": ' + '{"a": ' * 500 + "1" + "}" * 500 + "}]"
    return {
        "truncated.json": good[: len(good) // 2],
        "garbage.json": GARBAGE,
        "garbage-named.csv": GARBAGE,
        "empty.json": b"",
        "bom-only.json": BOM,
        "empty-array.json": b"[]",
        "nul-bytes.json": good.replace(b'"number": "', b'"number": "\\u0000', 1),
        "raw-nul.json": b'[{"number": "1\x00"}]',
        "one-mb-cell.json": json.dumps(
            [{"number": "1", "customer": {"email": "a@example.com"}, "note": "x" * MB}]
        ).encode(),
        "2000-keys.json": json.dumps([{"number": "1", **{f"k{i}": i for i in range(2000)}}]).encode(),
        "deep-extra.json": deep_extra.encode(),
        "results-not-list.json": b'{"results": 5}',
        "mixed.jsonl": b'{"number": "1"}\n[1, [2, [3, [4]]]]\n"text"\nnull\n',
    }


def run_cli(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    return result.exit_code, result.output


def run_subprocess(args: list[str]) -> tuple[int, str]:
    """For inputs that could exhaust the C stack: a crash here must not take pytest with it."""
    code = "from omnimig.cli import app; app()"
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False)
    return done.returncode, done.stdout + done.stderr


def check(code: int, output: str, path: Path) -> None:
    assert "Traceback" not in output and "Exception ignored" not in output, output
    assert code in (0, 1, 2), (code, output)
    if code == 2:
        lines = output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("omnimig: error: "), output
        assert path.name in lines[0], output
        return
    found = TALLY.findall(output)
    assert found, output
    for _file, read, _unit, written, merged, rejected in found:
        assert int(read) == int(written) + int(merged) + int(rejected), output
    if code == 0:  # exit 0 means nothing was rejected
        assert all(int(rejected) == 0 for *_, rejected in found), output


def corpus(tmp_path: Path, files: dict[str, bytes]) -> list[Path]:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return sorted(folder.iterdir())


#: Run in a subprocess: nesting that could exhaust the C stack must not take pytest down with it.
DEEP = {"deep-extra.json", "deep.json"}


def each(tmp_path: Path, paths: list[Path], args: Callable[[Path, Path], list[str]]) -> None:
    for n, path in enumerate(paths):
        out = tmp_path / f"out{n}"
        argv = args(path, out)
        code, output = (run_subprocess if path.name in DEEP else run_cli)(argv)
        check(code, output, path)


def test_omnitron_orders_on_the_hostile_corpus(tmp_path: Path) -> None:
    paths = corpus(tmp_path, omnitron_corpus())
    each(tmp_path, paths, lambda p, out: ["transform", "omnitron-orders", str(p), "--out", str(out)])


def test_deeply_nested_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, output = run_subprocess(["transform", "omnitron-orders", str(path), "--out", str(tmp_path / "out")])
    check(code, output, path)
    assert code == 2


def test_shopify_on_the_hostile_corpus(tmp_path: Path) -> None:
    paths = corpus(tmp_path, csv_corpus(shopify_header(), shopify_row()))
    customers = DATA / "shopify" / "customers_export.csv"
    each(tmp_path, paths, lambda p, out: ["transform", "shopify", str(p), str(customers), "--out", str(out)])


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_mapping_on_the_hostile_corpus(tmp_path: Path, kind: str) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    files = csv_corpus(MAPPING_HEADER, "1,10.00,S1,2,5.00")
    if kind == "json":
        files = {name.replace(".csv", ".json"): data for name, data in omnitron_corpus().items()}
        files["deep.json"] = b"[" * 100_000 + b"]" * 100_000
        files["flat.json"] = json.dumps(
            [{"no": "1", "amount": "1.00", "sku": "S", "qty": "1", "price": "1.00"}]
        ).encode()
    paths = corpus(tmp_path, files)
    each(tmp_path, paths, lambda p, out: ["transform", "mapping", str(p), "--mapping", str(mapping), "--out", str(out)])
