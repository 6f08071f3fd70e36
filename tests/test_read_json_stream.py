"""The streaming JSON reader gives what the standard library's exact reading gives, at any window size."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnimig.exceptions import ReadError
from omnimig.io import open_source
from omnimig.io import read_json as rj


def _expected(text: str) -> tuple[tuple[str, ...], list[dict[str, object]], list[dict[str, str]]]:
    """Columns, texts and kinds the exact reading gives (the reader's contract, record by record)."""
    records = json.loads(text, parse_float=rj.JsonNumber, parse_int=rj.JsonNumber)
    columns: dict[str, None] = {}
    for r in records:
        columns.update(dict.fromkeys(r))
    texts, kinds = [], []
    for r in records:
        row_t, row_k = {}, {}
        for c in columns:
            if c in r:
                row_t[c], row_k[c] = rj.cell(r[c])
            else:
                row_t[c], row_k[c] = None, "absent"
        texts.append(row_t)
        kinds.append(row_k)
    return tuple(columns), texts, kinds


def _read(path: Path, chunk_rows: int = 3) -> tuple[tuple[str, ...], list[dict[str, object]], list[dict[str, str]]]:
    source = open_source(path, chunk_rows)
    texts: list[dict[str, object]] = []
    kinds: list[dict[str, str]] = []
    rows: list[int] = []
    for chunk in source.chunks:
        data = chunk.data.astype(object).where(chunk.data.notna(), None)
        texts += data.to_dict("records")
        kinds += chunk.kinds.astype(str).to_dict("records")
        rows += chunk.rows.tolist()
    assert rows == list(range(1, len(texts) + 1))
    assert source.known_rows == len(texts)
    return source.columns, texts, kinds


@pytest.fixture(params=[(64, 0), (1 << 20, 1 << 30)], ids=["tiny-windows-spilled", "one-window-in-memory"])
def windows(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    window, spill = request.param
    monkeypatch.setattr(rj, "WINDOW_BYTES", window)
    monkeypatch.setattr(rj, "SPILL_BYTES", spill)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.text(max_size=8),
    st.integers(min_value=-(10**25), max_value=10**25),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str),
    st.sampled_from(["1e-3", "1.5E2", "-0", "123.90", "0.10"]).map(rj.JsonNumber),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=6,
)
records = st.lists(
    st.dictionaries(st.sampled_from(["a", "amount", "b\\", 'q"k', "ç"]), values, max_size=5), max_size=12
)


def _encode(value: object, sep: str = ", ") -> str:
    if isinstance(value, rj.JsonNumber):
        return str(value)
    if isinstance(value, dict):
        return "{" + sep.join(f"{json.dumps(k)}: {_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    if isinstance(value, str) and value and value[0].isdigit():
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=records, layout=st.sampled_from(["lines", "minified", "pretty"]))
def test_stream_matches_exact_reading(
    tmp_path: Path, windows: None, rows: list[dict[str, object]], layout: str
) -> None:
    items = [_encode(r, ",\n    " if layout == "pretty" else ", ") for r in rows]
    if layout == "lines":
        text = "[\n" + ",\n".join("  " + i for i in items) + "\n]\n"
    elif layout == "minified":
        text = "[" + ",".join(items) + "]"
    else:
        text = "[\n  " + ",\n  ".join(items) + "\n]"
    path = tmp_path / "order.json"
    path.write_text(text, encoding="utf-8")
    columns, texts, kinds = _read(path)
    assert (columns, texts, kinds) == _expected(text)


def test_numbers_keep_their_literals_across_windows(tmp_path: Path, windows: None) -> None:
    rows = [f'{{"n": "N{i}", "amount": {i}.{i % 10}0, "big": 1234567890123456789012{i}, "e": 1e-3}}' for i in range(50)]
    path = tmp_path / "order.json"
    path.write_text("[\n" + ",\n".join(rows) + "\n]", encoding="utf-8")
    _, texts, kinds = _read(path, chunk_rows=7)
    assert [t["amount"] for t in texts] == [f"{i}.{i % 10}0" for i in range(50)]
    assert [t["big"] for t in texts] == [f"1234567890123456789012{i}" for i in range(50)]
    assert {t["e"] for t in texts} == {"1e-3"}  # the literal as written; the digit rules judge 0.001
    assert {k["amount"] for k in kinds} == {"number"}


def test_a_key_seen_only_late_is_a_column(tmp_path: Path, windows: None) -> None:
    rows = [{"n": f"N{i}"} for i in range(40)] + [{"n": "late", "extra": 1.50}]
    path = tmp_path / "order.json"
    path.write_text(json.dumps(rows).replace("1.5", "1.50"), encoding="utf-8")
    columns, texts, kinds = _read(path)
    assert columns == ("n", "extra")
    assert texts[-1] == {"n": "late", "extra": "1.50"}
    assert kinds[0]["extra"] == "absent"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ('[{"a": 1},\n {"a": 2},\n {"a" 3}]', "line 3 column 7"),
        ('[{"a": 1}, {"a": 2},]', "invalid JSON"),
        ('[{"a": 1} {"a": 2}]', "invalid JSON"),
        ('[{"a": 1}, {"a": 2}', "invalid JSON"),
        ('[{"a": 1}] x', "invalid JSON"),
        ('[{"a": 1}, {"a": 2}, [3]]', "record 3 is an array"),
        ('[{"a": 1}, 7]', "record 2 is a number"),
    ],
)
def test_errors_anywhere_say_where(tmp_path: Path, windows: None, content: str, needle: str) -> None:
    path = tmp_path / "order.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ReadError, match=needle):
        _read(path)


def test_invalid_utf8_after_the_first_window(tmp_path: Path, windows: None) -> None:
    path = tmp_path / "order.json"
    body = ",\n".join(f'{{"a": "{i}"}}' for i in range(30)).encode()
    path.write_bytes(b"[" + body + b',\n{"a": "\xff"}]')
    with pytest.raises(ReadError, match="UTF-8; byte"):
        _read(path)


def test_empty_array_has_no_rows(tmp_path: Path, windows: None) -> None:
    path = tmp_path / "order.json"
    path.write_text("  [ \n ]\n", encoding="utf-8")
    assert _read(path) == ((), [], [])


pairs = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c:d", "é"]), st.one_of(st.text(alphabet=':\\"ab', max_size=4), scalars)),
    min_size=1,
    max_size=5,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(pairs, st.booleans()), min_size=1, max_size=12))
def test_repeated_keys_are_noticed_exactly(
    tmp_path: Path, windows: None, rows: list[tuple[list[tuple[str, object]], bool]]
) -> None:
    """Every record with a key given twice (at the top or inside ``x``) has a ``duplicate-key``
    notice at that row, and no other record has one, whatever the window cuts and colons in strings."""
    items, want = [], set()
    for number, (members, nest) in enumerate(rows, start=1):
        body = ", ".join(f"{json.dumps(k)}: {_encode(v)}" for k, v in members)
        keys = [k for k, _ in members]
        if len(set(keys)) < len(keys):
            want.add((number, "x" if nest else keys[0]))
        items.append(f'{{"n": {number}, "x": {{{body}}}}}' if nest else f"{{{body}}}")
    path = tmp_path / "order.json"
    path.write_text("[\n" + ",\n".join(items) + "\n]", encoding="utf-8")
    found = set()
    for chunk in open_source(path, 3).chunks:
        found |= {(n.row, n.column) for n in chunk.notices if n.rule == "duplicate-key"}
    assert {row for row, _ in found} == {row for row, _ in want}
    for row, column in found:
        if column != "x":
            assert column in dict(rows[row - 1][0])
