"""omnitron-orders streams files over ``WHOLE_BYTES``: the same records, bundle and errors as the
whole-file read, in memory that does not grow with the file, and no traceback or hang on deep input."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimig.exceptions import ReadError
from omnimig.transforms import omnitron
from omnimig.transforms.finish import Options
from omnimig.transforms.run import transform
from omnimig.transforms.settings import Settings

DATA = Path(__file__).parent / "data" / "transform" / "omnitron"


@contextmanager
def streaming(chars: int = 7) -> Iterator[None]:
    """Every file streamed, through a buffer of ``chars`` characters (so values cross refills)."""
    saved = omnitron.WHOLE_BYTES, omnitron.STREAM_CHARS
    omnitron.WHOLE_BYTES, omnitron.STREAM_CHARS = -1, chars
    try:
        yield
    finally:
        omnitron.WHOLE_BYTES, omnitron.STREAM_CHARS = saved


def records(path: Path) -> list[Any] | str:
    """The file's records (a ``Malformed`` as its reason), or the one-line error."""
    try:
        return [r.reason if isinstance(r, omnitron.Malformed) else r for r in omnitron.read_orders(path)]
    except ReadError as exc:
        return "ReadError: " + str(exc)


def bundle(path: Path, out: Path) -> dict[str, bytes]:
    transform("omnitron-orders", [path], out, "csv", Settings(), Options())
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}


def _pages(orders: list[dict[str, Any]], size: int) -> list[dict[str, Any]]:
    return [{"count": len(orders), "next": None, "results": orders[k : k + size]} for k in range(0, len(orders), size)]


@pytest.mark.parametrize("name", ["orders.json", "orders.jsonl"])
def test_fixtures_stream_into_the_same_bundle(tmp_path: Path, name: str) -> None:
    whole = bundle(DATA / name, tmp_path / "whole")
    with streaming():
        streamed = bundle(DATA / name, tmp_path / "stream")
    assert streamed == whole
    assert {"order.csv", "rejects.csv"} <= set(whole)


def test_every_shape_streams_into_the_same_bundle(tmp_path: Path) -> None:
    orders = json.loads((DATA / "orders.json").read_text(encoding="utf-8"))[0]["results"]
    shapes = {
        "page.json": json.dumps(_pages(orders, 10)[0], ensure_ascii=False),
        "pages.json": json.dumps(_pages(orders, 2), ensure_ascii=False, indent=2),
        "array.json": "\ufeff" + json.dumps(orders, ensure_ascii=False, indent="\t"),
        "lines.jsonl": "\n\n".join(json.dumps(o) for o in orders) + "\r\n",
        "page-lines.jsonl": "\n".join(json.dumps(p) for p in _pages(orders, 3)),
    }
    for name, text in shapes.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        whole = bundle(path, tmp_path / f"{name}.whole")
        with streaming():
            assert bundle(path, tmp_path / f"{name}.stream") == whole, name


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["number", "results", "x"]), inner),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(json_values, min_size=1, max_size=3),
    indent=st.sampled_from([None, 1]),
    chars=st.integers(1, 9),
)
def test_streamed_records_are_the_whole_files_records(
    tmp_path_factory: pytest.TempPathFactory, values: list[Any], indent: int | None, chars: int
) -> None:
    """Any JSON (one value, or JSON Lines): the same records or, both, a one-line error."""
    path = tmp_path_factory.mktemp("prop") / "orders.json"
    if len(values) == 1:
        path.write_text(json.dumps(values[0], indent=indent), encoding="utf-8")
    else:
        path.write_text("\n".join(json.dumps(v) for v in values), encoding="utf-8")
    whole = records(path)
    with streaming(chars):
        streamed = records(path)
    if isinstance(whole, str):
        assert isinstance(streamed, str) and "\n" not in streamed
        if "no Omnitron order" in whole:
            assert streamed == whole
    else:
        assert streamed == whole


@pytest.mark.parametrize(
    "content",
    [
        '[{"number": 1},\n {oops}]',
        '{"results": [{"number": 1}\n\n  {"number": 2}]}',
        '[{"number": 1, "amount": NaN}]',
        '{"results": [{"number": 1}, tru',
        '[{"number": "unterminated',
        '\n\n  {"number": 1}\n{"number": 2}\n{"number": 3\n',
        '{"number": 1}\n[1, 2, {"number": 2, "x": -Infinity}]\n',
        "[" + "1" * 5000 + "]",
    ],
)
def test_invalid_json_gives_the_same_line_streamed(tmp_path: Path, content: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(content, encoding="utf-8")
    whole = records(path)
    assert isinstance(whole, str) and str(path) in whole
    with streaming():
        assert records(path) == whole


def test_bad_utf8_is_named_by_its_byte_streamed(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    path.write_bytes(b'[{"number": 1, "x": "ab\xff"}]')
    whole = records(path)
    assert whole == f"ReadError: {path}: not UTF-8 text (byte 23); the orders API writes UTF-8 JSON"
    with streaming():
        assert records(path) == whole


def test_a_page_giving_its_results_twice_is_refused_when_streamed(tmp_path: Path) -> None:
    """json.loads keeps the last of two equal keys; a stream has given the first already, so it says so."""
    path = tmp_path / "orders.json"
    path.write_text('{"results": [{"number": 1}], "results": [{"number": 2}]}', encoding="utf-8")
    assert records(path) == [{"number": 2}]
    with streaming():
        message = records(path)
    assert isinstance(message, str) and "gives its results twice" in message and "line 1" in message


def test_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    """Streamed, twice the orders take no more memory; read whole, the file's text alone is more."""
    order = json.loads((DATA / "orders.json").read_text(encoding="utf-8"))[0]["results"][0]

    def peak(n: int, whole: bool = False) -> tuple[int, int]:
        path = tmp_path / f"orders{n}.json"
        path.write_text(json.dumps({"count": n, "results": [order] * n}, ensure_ascii=False), encoding="utf-8")
        saved = omnitron.WHOLE_BYTES
        omnitron.WHOLE_BYTES = path.stat().st_size if whole else -1
        tracemalloc.start()
        try:
            assert sum(1 for _ in omnitron.read_orders(path)) == n
            return path.stat().st_size, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            omnitron.WHOLE_BYTES = saved

    size, whole = peak(1500, whole=True)
    assert whole > size
    with streaming(64 << 10):
        small, big = peak(1500)[1], peak(3000)[1]
    assert big < small + size / 10  # a second file's worth of orders adds nothing
    assert big < size


def _run(path: Path, out: Path) -> subprocess.CompletedProcess[str]:
    code = "from omnimig.cli import app; app()"
    args = ["transform", "omnitron-orders", str(path), "--out", str(out)]
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    "body",
    [
        '{"results": [{"number": 1, "extra_field": ' + "[" * 200_000 + "]" * 200_000 + "}]}",
        "[" * 200_000 + "]" * 200_000,
        '[{"number": 1, "x": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000 + "}]",
    ],
)
def test_deep_documents_are_one_line_exit_2_streamed_or_whole(tmp_path: Path, body: str) -> None:
    small = tmp_path / "small.json"
    small.write_text(body, encoding="utf-8")
    big = tmp_path / "big.json"
    big.write_text(body + " " * (omnitron.WHOLE_BYTES + 1), encoding="utf-8")
    for path in (small, big):
        result = _run(path, tmp_path / path.stem)
        lines = result.stdout.strip().splitlines() + result.stderr.strip().splitlines()
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
        assert len(lines) == 1 and str(path) in lines[0], lines
        assert "nested too deeply" in lines[0] or "neither results nor number" in lines[0]


def test_a_huge_order_streams_through(tmp_path: Path) -> None:
    """One order of 20,000 lines in a page bigger than WHOLE_BYTES: read, folded, not cut or hung."""
    lines = [{"id": k, "product_sku": f"S{k % 3}", "price": "1.00"} for k in range(20_000)]
    order = {"number": "1", "customer": {"email": "a@example.com"}, "orderitem_set": lines, "note": "x" * 4_200_000}
    path = tmp_path / "orders.json"
    path.write_text(json.dumps({"results": [order]}), encoding="utf-8")
    assert path.stat().st_size > omnitron.WHOLE_BYTES
    result = _run(path, tmp_path / "out")
    assert result.returncode in (0, 1) and "Traceback" not in result.stderr
    assert "20,000 order lines read" in result.stdout
