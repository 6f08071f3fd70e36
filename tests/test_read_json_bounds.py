"""Bounds of the JSON reader: the number of keys (columns), the length of one JSON Lines line, and
the memory spent wording why a large file is broken. Each is one line naming the file, not gigabytes."""

from __future__ import annotations

import json
import pathlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.exceptions import ReadError
from omnimig.io import read_json as rj
from omnimig.io.table import MAX_COLUMNS


def read_all(path: Path) -> list[dict[str, object]]:
    """Every record as read (missing keys left out), so a test sees what the reader kept."""
    out: list[dict[str, object]] = []
    for chunk in rj.read_json(path, chunk_rows=50).chunks:
        for record in chunk.data.to_dict("records"):
            out.append({k: v for k, v in record.items() if isinstance(v, str)})
    return out


def refusal(path: Path) -> str:
    with pytest.raises(ReadError) as caught:
        rj.read_json(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message


# --------------------------------------------------------------------------- R5: keys are columns


def test_records_with_a_different_key_each_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps([{f"k{i}": "x"} for i in range(MAX_COLUMNS + 1)]), encoding="utf-8")
    message = refusal(path)
    assert f"more than {MAX_COLUMNS:,} different keys" in message
    assert f"record {MAX_COLUMNS + 1}" in message


def test_one_record_with_too_many_keys_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    records = [{"number": "A"}, {f"k{i}": "x" for i in range(MAX_COLUMNS + 1)}, {"number": "B"}]
    path.write_text(json.dumps(records), encoding="utf-8")
    assert "(record 2 brings key" in refusal(path)


def test_keys_are_counted_across_windows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "WINDOW_BYTES", 512)
    path = tmp_path / "order.json"
    records = [{"number": f"N{i}", f"key{i}": "x"} for i in range(MAX_COLUMNS)]
    path.write_text(json.dumps(records), encoding="utf-8")
    assert f"(record {MAX_COLUMNS} brings key" in refusal(path)


def test_json_lines_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "order.jsonl"
    lines = [json.dumps({f"k{i}": i}) for i in range(MAX_COLUMNS + 1)]
    path.write_text("\n\n".join(lines) + "\n", encoding="utf-8")
    assert f"(line {2 * MAX_COLUMNS + 1} brings key" in refusal(path)


def test_the_widest_allowed_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "WINDOW_BYTES", 2048)
    path = tmp_path / "order.json"
    records = [{f"k{i}": str(i), "same": "s"} for i in range(MAX_COLUMNS - 1)]
    path.write_text(json.dumps(records), encoding="utf-8")
    source = rj.read_json(path)
    assert len(source.columns) == MAX_COLUMNS
    kept = []  # (k<i>, same) of record i, cell by cell: to_dict of the million-cell grid took 4 s
    for chunk in source.chunks:
        data = chunk.data
        for pos in range(len(data)):
            i = len(kept)
            kept.append((data.iat[pos, data.columns.get_loc(f"k{i}")], data.iat[pos, data.columns.get_loc("same")]))
    assert kept == [(str(i), "s") for i in range(MAX_COLUMNS - 1)]


def test_too_many_keys_through_the_cli_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text(json.dumps([{f"k{i}": "x" for i in range(MAX_COLUMNS + 5)}]), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"more than {MAX_COLUMNS:,} different keys" in result.output


# --------------------------------------------------------------------------- R15: one JSON Lines line


def test_a_json_lines_line_longer_than_the_bound_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "WINDOW_BYTES", 4096)
    monkeypatch.setattr(rj, "MAX_LINE_BYTES", 64 * 1024)
    path = tmp_path / "order.jsonl"
    long = json.dumps({"number": "N2", "note": "x" * (100 * 1024)})
    path.write_text(json.dumps({"number": "N1"}) + "\n" + long + "\n" + json.dumps({"number": "N3"}) + "\n")
    message = refusal(path)
    assert "line 2 is longer than" in message


def test_long_lines_under_the_bound_are_read_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "WINDOW_BYTES", 1000)
    monkeypatch.setattr(rj, "MAX_LINE_BYTES", 64 * 1024)
    path = tmp_path / "order.jsonl"
    notes = ["a" * 30_000, "", "b" * 5, "ç" * 20_000, "c" * 999]
    body = "\n".join(json.dumps({"number": f"N{i}", "note": n}, ensure_ascii=False) for i, n in enumerate(notes))
    path.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))  # a BOM, and no newline after the last line
    assert read_all(path) == [{"number": f"N{i}", "note": n} for i, n in enumerate(notes)]


# --------------------------------------------------------------------------- R14: a large broken file


BROKEN = [
    ('{"number": "X", "amount": 1,, "b": 2}', None),  # inside a record
    ('{"number": "X"} {"number": "Y"}', None),  # a missing comma between records
    ('{"number": "X", "note": "ç\u00fc\u015f", "amount": tru}', None),  # characters before the fault
    ('{"number": "X"}', "]]"),  # text after the array
    ('{"number": "X"', ""),  # the file ends inside a record
    ('{"number": "X"}', "\n]" + " \n" * 3000 + "junk"),  # text after a long run of whitespace
]


@pytest.mark.parametrize(("bad", "end"), BROKEN)
@pytest.mark.parametrize(("window", "bom"), [(64, ""), (8 << 20, ""), (64, "\ufeff")])
def test_a_large_broken_file_is_placed_without_loading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: str, end: str | None, window: int, bom: str
) -> None:
    path = tmp_path / "order.json"
    good = [json.dumps({"number": f"N{i}", "note": "şöğüı" * (i % 3)}, ensure_ascii=False) for i in range(200)]
    text = "[\n" + ",\n".join([*good[:150], bad, *good[150:]]) + ("\n]\n" if end is None else end)
    path.write_text(bom + text, encoding="utf-8")
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        expected = f"invalid JSON at line {exc.lineno} column {exc.colno}: "
    monkeypatch.setattr(rj, "WINDOW_BYTES", window)
    monkeypatch.setattr(rj, "EXACT_ERROR_BYTES", 1024)

    def whole(self: Path) -> bytes:
        raise AssertionError(f"{self} was loaded whole")

    monkeypatch.setattr(pathlib.Path, "read_bytes", whole)
    message = refusal(path)
    assert expected in message


def test_a_small_broken_file_keeps_the_exact_reason(tmp_path: Path) -> None:
    path = tmp_path / "order.json"
    path.write_text('[{"number": "X"}, 5]', encoding="utf-8")
    assert "record 2 is a number" in refusal(path)


def test_a_wrapper_with_a_huge_tail_is_not_loaded_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rj, "EXACT_ERROR_BYTES", 1024)
    monkeypatch.setattr(rj, "WINDOW_BYTES", 256)
    path = tmp_path / "order.json"
    path.write_text('{"results": [{"number": "N1"}], "log": "' + "x" * 5000 + '"}', encoding="utf-8")

    def whole(self: Path) -> bytes:
        raise AssertionError(f"{self} was loaded whole")

    monkeypatch.setattr(pathlib.Path, "read_bytes", whole)
    # column 31 is the first character after the array's "]"
    assert "line 1 column 31: the text after the array of records is too long" in refusal(path)


def test_a_broken_first_line_after_a_bom_is_placed_as_python_places_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rj, "EXACT_ERROR_BYTES", 0)
    path = tmp_path / "order.json"
    path.write_bytes(b'\xef\xbb\xbf[{"number": "N1"} {"number": "N2"}]')
    assert "line 1 column 19: Expecting ',' delimiter" in refusal(path)
