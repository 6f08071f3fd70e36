"""Transform inputs of the wrong shape: one line and exit 2, or rejects with reasons; never a traceback."""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.io.table import Chunk, Notice, Source
from omnimig.transforms import mapping as mapping_module
from omnimig.transforms import omnitron
from omnimig.transforms import settings as settings_module
from omnimig.transforms.normalize import fold
from omnimig.transforms.settings import Settings, SettingsError, load

TALLY = re.compile(r"^(.+?): (\d+) (\w+(?: \w+)?) read = (\d+) written \+ (\d+) merged \+ (\d+) rejected$", re.M)


def run(*args: object) -> Result:
    result = CliRunner().invoke(app, ["transform", *(str(a) for a in args)])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def one_line(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def tallies(result: Result) -> list[tuple[int, int, int, int]]:
    """Every ``read = written + merged + rejected`` line of the summary, checked to add up."""
    found = [(int(m[2]), int(m[4]), int(m[5]), int(m[6])) for m in TALLY.finditer(result.stdout)]
    assert found, result.stdout
    for read, written, merged, rejected in found:
        assert read == written + merged + rejected, result.stdout
    return found


ADDRESS = {
    "first_name": "Ayşe",
    "last_name": "Kaya",
    "line": "Moda Cad. 12",
    "city": "İstanbul",
    "township": "Kadıköy",
    "country": "Türkiye",
    "phone_number": "5321234567",
}


def order(number: int, email: str = "a@example.com", **more: object) -> dict[str, object]:
    return {
        "number": str(number),
        "customer": {"email": email, "first_name": "Ayşe", "last_name": "Kaya"},
        "status": "500",
        "date_placed": "2023-01-02T10:00:00Z",
        "amount": "10.00",
        "currency": "try",
        "payment_option_slug": "credit_card",
        "shipping_address": ADDRESS,
        "billing_address": ADDRESS,
        "orderitem_set": [{"product_sku": "S1", "price": "10.00"}],
        **more,
    }


# ------------------------------------------------------------------------------------ omnitron-orders


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("array.json", json.dumps([{"order_no": 1, "email": "a@example.com"}, {"order_no": 2}])),
        ("lines.json", '{"order_no": 1, "email": "a@example.com"}\n{"order_no": 2}\n'),
        ("lines.jsonl", '"just text"\n3\n'),
    ],
)
def test_flat_objects_or_json_lines_of_another_export_are_one_line(tmp_path: Path, name: str, content: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    line = one_line(run("omnitron-orders", path, "--out", tmp_path / "out"))
    assert str(path) in line and "expected the JSON of GET /api/i1/orders/" in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content", ['[{"number": 1, "amount": NaN}]', '[{"number": 1, "amount": ' + "9" * 5000 + "}]"])
def test_json_numbers_python_cannot_keep_are_one_line(tmp_path: Path, content: str) -> None:
    path = tmp_path / "orders.json"
    path.write_text(content, encoding="utf-8")
    assert str(path) in one_line(run("omnitron-orders", path, "--out", tmp_path / "out"))


def test_malformed_records_among_orders_are_rejected_with_reasons(tmp_path: Path) -> None:
    records = [
        order(1),
        {"order_no": 2},  # a flat object of another export
        7,
        order(4, billing_address="Moda Cad. 12", customer="a@example.com", email=None),  # text where objects go
        order(5, shipping_address=[1, 2], orderitem_set=[{"product_sku": "S1", "price": {"x": 1}, "product": 3}]),
        order(6, customer={"email": ["a@example.com"]}),
        order(7, amount="\ud800"),
    ]
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    result = run("omnitron-orders", path, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    orders_tally = tallies(result)[0]
    assert orders_tally[0] == 7
    with (tmp_path / "out" / "rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = {(r["source_row"], r["source_line"]): r["reason"] for r in csv.DictReader(handle)}
    assert "neither results nor number" in rejects[("2", "")]
    assert "found int where an order object was expected" in rejects[("3", "")]
    assert all(rejects.get((str(n), "")) for n in (4, 7)), rejects  # 5 and 6 go as the rules say
    assert "1" not in {row for row, _ in rejects}, rejects  # the good order is written


def test_an_order_that_trips_anything_is_rejected_whole_and_the_others_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = omnitron._items

    def flaky(record: object, lines: list, origins: list, draft: object) -> None:
        if record.get("number") == "2":  # type: ignore[attr-defined]
            raise ZeroDivisionError("an unforeseen shape")
        real(record, lines, origins, draft)  # type: ignore[arg-type]

    monkeypatch.setattr(omnitron, "_items", flaky)
    path = tmp_path / "orders.json"
    path.write_text(json.dumps([order(1), order(2, "b@example.com"), order(3)]), encoding="utf-8")
    result = run("omnitron-orders", path, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert tallies(result) == [(3, 2, 0, 1), (3, 2, 0, 1)]  # orders, order lines
    user_csv = (tmp_path / "out" / "user.csv").read_text(encoding="utf-8")
    assert "b@example.com" not in user_csv  # the failed order's buyer was taken back
    assert "ZeroDivisionError: an unforeseen shape" in (tmp_path / "out" / "rejects.csv").read_text(encoding="utf-8")


# ------------------------------------------------------------------------------------ the boundary


def test_an_unexpected_exception_is_one_line_naming_the_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> list:
        raise KeyError("\x1b[2Jsurprise")

    monkeypatch.setattr(omnitron, "read_orders", boom)
    monkeypatch.delenv("OMNIMIG_DEBUG", raising=False)
    path = tmp_path / "orders.json"
    path.write_text("[]", encoding="utf-8")
    line = one_line(run("omnitron-orders", path, "--out", tmp_path / "out"))
    assert str(path) in line and "KeyError" in line and "--debug" in line
    assert "\x1b" not in line  # a terminal escape from the input is shown, not obeyed


def test_omnimig_debug_lets_the_traceback_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(path: Path) -> list:
        raise KeyError("surprise")

    monkeypatch.setattr(omnitron, "read_orders", boom)
    monkeypatch.setenv("OMNIMIG_DEBUG", "1")
    path = tmp_path / "orders.json"
    path.write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(app, ["transform", "omnitron-orders", str(path), "--out", str(tmp_path / "out")])
    assert isinstance(result.exception, KeyError)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "orders.json"
    os.mkfifo(fifo)
    assert "not a regular file" in one_line(run("omnitron-orders", fifo, "--out", tmp_path / "out"))


# ------------------------------------------------------------------------------------ mapping files


def test_a_mapping_nested_5000_deep_is_one_line(tmp_path: Path) -> None:
    mapping = tmp_path / "deep.toml"
    mapping.write_text("[source]\nx = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    export = tmp_path / "export.csv"
    export.write_text("a\n1\n", encoding="utf-8")
    line = one_line(run("mapping", export, "--mapping", mapping, "--out", tmp_path / "out"))
    assert str(mapping) in line and "nested too deeply" in line


def test_a_mapping_deeper_than_the_bound_but_readable_is_refused(tmp_path: Path) -> None:
    mapping = tmp_path / "deep.toml"
    mapping.write_text("[defaults]\n" + "a = " + "{ b = " * 40 + "1" + " }" * 40 + "\n", encoding="utf-8")
    with pytest.raises(SettingsError, match="nested 17 levels deep"):
        load(mapping, allow_targets=True)


def test_mapping_size_and_entries_are_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text("[values.status]\n" + "".join(f'"s{i}" = "{i}"\n' for i in range(50)), encoding="utf-8")
    monkeypatch.setattr(settings_module, "MAX_ENTRIES", 40)
    with pytest.raises(SettingsError, match="more than 40 entries"):
        load(mapping, allow_targets=True)
    monkeypatch.setattr(settings_module, "MAX_MAPPING_BYTES", 100)
    with pytest.raises(SettingsError, match="a mapping file is at most"):
        load(mapping, allow_targets=True)


def test_a_value_table_of_20000_entries_loads_and_looks_up_fast(tmp_path: Path) -> None:
    mapping = tmp_path / "m.toml"
    mapping.write_text("[values.status]\n" + "".join(f'"Durum {i}" = "{i}"\n' for i in range(20_000)), encoding="utf-8")
    s = load(mapping, allow_targets=True)
    assert [s.value("status", f" DURUM {i} ") for i in range(20_000)] == [str(i) for i in range(20_000)]
    assert s.value("status", "durum 20000") is None


def naive(entries: dict[str, str], key: str) -> str | None:
    """The definition: exact key, else the first entry equal ignoring outer spaces and (Turkish) case."""
    if key in entries:
        return entries[key]
    for k, v in entries.items():
        if k.strip().casefold() == key.strip().casefold() or fold(k.strip()) == fold(key.strip()):
            return v
    return None


KEYS = st.text(alphabet=" aAıIiİsSşŞ", max_size=4)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(KEYS, st.text(max_size=2), max_size=12), st.lists(KEYS, max_size=8), KEYS, st.text(max_size=2))
def test_indexed_lookup_agrees_with_the_definition(
    entries: dict[str, str], keys: list[str], added: str, to: str
) -> None:
    s = Settings(values={"t": dict(entries)})
    for key in keys:
        assert s.value("t", key) == naive(entries, key)
    s.values["t"][added] = to  # --map adds an entry after the file was read: the index follows
    entries[added] = to
    for key in [*keys, added]:
        assert s.value("t", key) == naive(entries, key)


# ------------------------------------------------------------------------------------ reader notices


def test_rows_the_reader_could_not_read_faithfully_are_rejected_with_its_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = mapping_module.open_source

    def noticing(path: Path) -> Source:
        source = real(path)
        original = source.chunks

        def chunks() -> Iterator[Chunk]:
            for chunk in original:
                chunk.notices += [
                    Notice("row-width", "row 3 has 4 cells but the header has 2 columns", 3, "error"),
                    Notice("excel-error", "price is the Excel error #N/A", 4, "error", "price", "#N/A"),
                    Notice("excel-error", "note is the Excel error #REF!", 2, "error", "note", "#REF!"),  # unused
                    Notice("encoding", "a warning about row 2", 2, "warning"),
                ]
                yield chunk

        source.chunks = chunks()
        return source

    monkeypatch.setattr(mapping_module, "open_source", noticing)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[order_item]\norder_number = "no"\nprice = "price"\nquantity = { value = "1" }\n')
    export = tmp_path / "export.csv"
    export.write_text("no,price,note\n1,1.00,a\n2,2.00,b\n3,3.00,c\n", encoding="utf-8")
    result = run("mapping", export, "--mapping", mapping, "--out", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert tallies(result) == [(3, 1, 0, 2)]
    with (tmp_path / "out" / "rejects.csv").open(encoding="utf-8", newline="") as handle:
        rejects = {r["source_row"]: r["reason"] for r in csv.DictReader(handle)}
    assert rejects == {
        "3": "row-width: row 3 has 4 cells but the header has 2 columns",
        "4": "excel-error: price is the Excel error #N/A",
    }


def test_ctrl_c_is_exit_130_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(path: Path) -> list:
        raise KeyboardInterrupt

    monkeypatch.setattr(omnitron, "read_orders", interrupted)
    path = tmp_path / "orders.json"
    path.write_text("[]", encoding="utf-8")
    result = CliRunner().invoke(app, ["transform", "omnitron-orders", str(path), "--out", str(tmp_path / "out")])
    assert result.exit_code == 130 and "interrupted" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_value_longer_than_an_xlsx_cell_is_rejected_in_xlsx_and_kept_whole_elsewhere(tmp_path: Path) -> None:
    path = tmp_path / "orders.json"
    long_note = "n" * 40_000
    path.write_text(json.dumps([order(1), order(2, extra_field={"note": long_note})]), encoding="utf-8")
    result = run("omnitron-orders", path, "--out", tmp_path / "xlsx", "--format", "xlsx")
    assert result.exit_code == 1, result.output
    assert tallies(result) == [(2, 1, 0, 1), (2, 1, 0, 1)]  # the order and its line go together
    reasons = (tmp_path / "xlsx" / "rejects.csv").read_text(encoding="utf-8")
    assert "extra_field has 40,0" in reasons and "an XLSX cell holds at most 32,767" in reasons
    result = run("omnitron-orders", path, "--out", tmp_path / "csv")
    assert result.exit_code == 0, result.output
    assert long_note in (tmp_path / "csv" / "order.csv").read_text(encoding="utf-8")


def test_rejects_csv_shows_formula_like_cells_as_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("m.toml").write_text('[order_item]\norder_number = "no"\nprice = "price"\nquantity = { value = "1" }\n')
    Path("=HYPERLINK(1).csv").write_text("no,price\n1,\n", encoding="utf-8")  # price is required: rejected
    result = run("mapping", "=HYPERLINK(1).csv", "--mapping", "m.toml", "--out", "out")
    assert result.exit_code == 1, result.output
    with open("out/rejects.csv", encoding="utf-8", newline="") as handle:
        (reject,) = list(csv.DictReader(handle))
    assert reject["source_file"] == "'=HYPERLINK(1).csv"
