"""Upload sends only files Akinon reads as omnimig read them (issue 12: what is sent is what was validated).

A file the readers accept but Akinon's importer would read differently (a ``sep=`` line, a
Windows-1254 or UTF-16 text, a JSON wrapper object, JSON Lines, an extension that lies) is sent as
a plain copy, validated like ``--chunk-rows`` parts; a plain file is still sent byte for byte.
Everything runs against the fake Omnitron on 127.0.0.1.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.schemas.rules import load_choices
from omnimig.uploader import RetryPolicy, Token, UploadEvent, UploadSummary, plan_upload, run_upload
from omnimig.uploader import run as run_module
from omnimig.uploader.fake_server import FakeOmnitron
from omnimig.uploader.run import NOT_PLAIN
from omnimig.validation.problem import FileResult
from omnimig.validation.run import Target, validate_file

TOKEN = "tok-c0nvert-5a1e"
FAST = RetryPolicy(attempts=4, backoff=0.01, max_delay=0.05)


class Interrupt(Exception):
    """Stands in for Ctrl-C at a chosen point of the run."""


@pytest.fixture
def server() -> Iterator[FakeOmnitron]:
    with FakeOmnitron(TOKEN) as srv:
        yield srv


def upload(bundle: Path, srv: FakeOmnitron, **options: Any) -> UploadSummary:
    plan_options = {k: options.pop(k) for k in ("only", "chunk_rows") if k in options}
    plan = plan_upload(bundle, srv.url, 5, **plan_options)
    return run_upload(plan, Token(TOKEN), poll_interval=0, retry=FAST, sleep=lambda s: None, **options)


# Hostile but readable files, each with one planted field error so "the same problems" is not empty.


def _bad_gender(bundle: Path) -> list[str]:
    lines = (bundle / "user.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace(",male,", ",robot,")  # row 3: an enum error
    (bundle / "user.csv").unlink()
    return lines


def sep_line(bundle: Path) -> tuple[Path, str]:
    lines = _bad_gender(bundle)
    path = bundle / "user.csv"
    path.write_text("sep=,\r\n" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path, "user.csv"


def windows_1254(bundle: Path) -> tuple[Path, str]:
    lines = _bad_gender(bundle)  # Ayşe, Şule: letters only Windows-1254 (not Latin-1) holds
    path = bundle / "user.csv"
    path.write_bytes(("\r\n".join(line.replace(",", ";") for line in lines) + "\r\n").encode("cp1254"))
    return path, "user.csv"


def utf16_text(bundle: Path) -> tuple[Path, str]:
    lines = _bad_gender(bundle)  # Excel's "Unicode text": UTF-16 with a BOM, tab-separated, often .txt
    path = bundle / "user.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + ("\r\n".join(line.replace(",", "\t") for line in lines)).encode("utf-16-le"))
    return path, "user.csv"


def csv_named_xls(bundle: Path) -> tuple[Path, str]:
    lines = _bad_gender(bundle)
    path = bundle / "user.xls"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, "user.csv"


def html_named_xls(bundle: Path) -> tuple[Path, str]:
    rows = list(csv.reader(_bad_gender(bundle)))
    cells = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    path = bundle / "user.xls"
    path.write_text(f"<html><body><table>{cells}</table></body></html>", encoding="utf-8")
    return path, "user.xlsx"


def _workbook(path: Path, sheets: dict[str, list[list[str]]]) -> None:
    """An XLSX as Excel saves it: every sheet given, cells typed as text."""
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)


def xlsx_named_xls(bundle: Path) -> tuple[Path, str]:
    rows = list(csv.reader(_bad_gender(bundle)))
    path = bundle / "user.xls"
    _workbook(path, {"Sheet1": rows})
    return path, "user.xlsx"


def _items(bundle: Path) -> list[str]:
    """The order items as JSON texts, one a record; record 3 has quantity 0 (a min-value error)."""
    path = bundle / "order_item.json"
    text = path.read_text(encoding="utf-8")
    path.unlink()
    records = [line.strip().rstrip(",") for line in text.splitlines() if line.strip().startswith("{")]
    records[2] = records[2].replace('"quantity": 1', '"quantity": 0')
    return records


def json_wrapper(bundle: Path) -> tuple[Path, str]:
    path = bundle / "order_item.json"
    path.write_text('{"count": 5, "results": [\n' + ",\n".join(_items(bundle)) + "\n]}\n", encoding="utf-8")
    return path, "order_item.json"


def json_lines(bundle: Path) -> tuple[Path, str]:
    path = bundle / "order_items.jsonl"
    path.write_text("\n".join(_items(bundle)) + "\n", encoding="utf-8")
    return path, "order_items.json"


def json_lines_named_json(bundle: Path) -> tuple[Path, str]:
    path = bundle / "order_item.json"
    path.write_text("\n".join(_items(bundle)) + "\n", encoding="utf-8")
    return path, "order_item.json"


CASES: dict[str, tuple[Callable[[Path], tuple[Path, str]], str]] = {
    "sep-line": (sep_line, "sep="),
    "windows-1254": (windows_1254, "Windows-1254"),
    "utf-16": (utf16_text, "UTF-16"),
    "csv-named-xls": (csv_named_xls, "CSV text"),
    "html-named-xls": (html_named_xls, "HTML table"),
    "xlsx-named-xls": (xlsx_named_xls, "XLSX workbook"),
    "json-wrapper": (json_wrapper, "wrapper object"),
    "jsonl": (json_lines, "JSON Lines"),
    "jsonl-named-json": (json_lines_named_json, "JSON Lines"),
}


def problems(result: FileResult) -> Counter[tuple[int | None, str | None, str, str]]:
    """Every problem but the notices that made the file be converted (the plain copy has none)."""
    return Counter(
        (p.row, p.field, p.rule, p.severity) for p in result.problems if not (p.row is None and p.rule in NOT_PLAIN)
    )


def assert_plain(arrived: Path, data: bytes) -> None:
    """What arrived is what Akinon reads: UTF-8 CSV with "," and the header first, a JSON array, or an XLSX."""
    if arrived.suffix == ".csv":
        text = data.decode("utf-8")  # UTF-8, or this raises
        header = next(csv.reader(io.StringIO(text)))
        assert header[0] in ("customer_code", "order_number") and len(header) > 3
    elif arrived.suffix == ".json":
        assert isinstance(json.loads(data), list)
    else:
        assert arrived.suffix == ".xlsx" and data.startswith(b"PK\x03\x04")


@pytest.mark.parametrize("case", list(CASES))
def test_a_file_akinon_would_read_differently_arrives_plain_and_revalidates_with_the_same_problems(
    bundle: Path, server: FakeOmnitron, tmp_path: Path, case: str
) -> None:
    make, why = CASES[case]
    path, sent_name = make(bundle)
    mtype = "user" if "user" in path.name else "order_item"
    plan = plan_upload(bundle, server.url, 5, only=[mtype])
    (step,) = plan.steps
    assert step.convert and why in "; ".join(step.convert)
    summary = run_upload(plan, Token(TOKEN), force=True, poll_interval=0, retry=FAST, sleep=lambda s: None)
    assert summary.ok
    (start,) = server.starts()
    assert start.file_name == sent_name and start.file_bytes is not None
    arrived = tmp_path / "arrived" / sent_name
    arrived.parent.mkdir()
    arrived.write_bytes(start.file_bytes)
    assert_plain(arrived, start.file_bytes)

    lists = load_choices(None)
    got = validate_file(Target(arrived, mtype), lists)
    want = validate_file(Target(path, mtype), lists)
    if "JSON Lines" not in why:  # the JSON reader reads JSON Lines without a notice
        assert any(p.row is None and p.rule in NOT_PLAIN for p in want.problems)
    assert not any(p.row is None and p.rule in NOT_PLAIN for p in got.problems)
    assert problems(got) == problems(want)
    assert any(rule in ("pattern", "min-value") for _, _, rule, _ in problems(got))  # the planted error came along
    assert got.rows == want.rows
    # The importer counted the rows that were validated (a sep= line read as the header would not be).
    assert summary.parts[0].progress.total == want.rows and summary.notes == []
    shown = sent_name if sent_name == path.name else f"{path.name} as {sent_name}"
    assert f"  {shown}  migration " in summary.lines()[0]


def test_a_plain_bundle_arrives_byte_identical_and_the_plan_converts_nothing(
    bundle: Path, server: FakeOmnitron
) -> None:
    plan = plan_upload(bundle, server.url, 5)
    assert all(not s.convert for s in plan.steps)
    assert "converted" not in "\n".join(plan.describe())
    assert upload(bundle, server).ok
    starts = server.starts()
    assert [r.file_name for r in starts] == ["user.csv", "address.csv", "order.csv", "order_item.json"]
    for r in starts:
        assert r.file_bytes == (bundle / (r.file_name or "")).read_bytes()
    assert not (bundle / ".omnimig" / "parts").exists()


def test_dry_run_says_which_files_are_converted_and_why_one_line_each(bundle: Path, server: FakeOmnitron) -> None:
    sep_line(bundle)
    json_wrapper(bundle)
    result = CliRunner().invoke(
        app, ["upload", str(bundle), "--url", server.url, "--channel", "5", "--dry-run"], env={"OMNIMIG_TOKEN": TOKEN}
    )
    assert result.exit_code == 1  # the planted errors; the plan is printed all the same
    converted = [line.strip() for line in result.output.splitlines() if line.strip().startswith("converted")]
    assert converted == [
        'converted, sent as user.csv (CSV UTF-8, ","-separated): ' + NOT_PLAIN["sep-line"],
        "converted, sent as order_item.json (a JSON array): " + NOT_PLAIN["json-wrapper"],
    ]
    assert server.requests == [] and not (bundle / ".omnimig").exists()


def test_a_converted_file_resumes_by_the_source_sha256_and_is_never_sent_twice(
    bundle: Path, server: FakeOmnitron
) -> None:
    windows_1254(bundle)
    _fix_gender(bundle)

    def stop_after_start(event: UploadEvent) -> None:
        if event.kind == "started" and event.step.type == "user":
            raise Interrupt

    with pytest.raises(Interrupt):
        upload(bundle, server, on_event=stop_after_start)
    assert [r.type for r in server.starts()] == ["user"]
    again = upload(bundle, server)
    assert again.ok and [p.how for p in again.parts] == ["resumed", "uploaded", "uploaded", "uploaded"]
    assert [r.type for r in server.starts()] == ["user", "address", "order", "order_item"]
    entry = json.loads((bundle / ".omnimig" / "journal.json").read_text())["files"]["user/user.csv"]
    assert entry["source_sha256"] == hashlib.sha256((bundle / "user.csv").read_bytes()).hexdigest()
    sent = server.starts()[0].file_bytes or b""
    assert entry["parts"]["1"]["sha256"] == hashlib.sha256(sent).hexdigest() != entry["source_sha256"]
    assert [p.how for p in upload(bundle, server).parts] == ["skipped"] * 4
    assert len(server.starts()) == 4


def _fix_gender(bundle: Path) -> None:
    path = bundle / "user.csv"
    path.write_bytes(path.read_bytes().replace(b";robot;", b";male;"))


def test_a_converted_file_is_chunked_into_plain_parts(bundle: Path, server: FakeOmnitron) -> None:
    sep_line(bundle)
    path = bundle / "user.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",robot,", ",male,"), encoding="utf-8")
    summary = upload(bundle, server, chunk_rows=2, only=["user"])
    assert summary.ok and [p.rows for p in summary.parts] == [2, 1]
    for r in server.starts():
        assert (r.file_bytes or b"").startswith(b"customer_code,")  # no sep= line in any part


def test_a_copy_that_does_not_validate_like_the_file_is_refused_before_anything_is_sent(
    bundle: Path, server: FakeOmnitron, monkeypatch: pytest.MonkeyPatch
) -> None:
    json_wrapper(bundle)

    class DroppingWriter(run_module.TableWriter):  # type: ignore[name-defined]
        """Loses the quantity of every record, as a broken converter would."""

        def write(self, chunk: Any, mask: Any, extra: Any = None) -> None:
            data = chunk.data.drop(columns=["quantity"]) if "quantity" in chunk.data else chunk.data
            kinds = chunk.kinds.drop(columns=["quantity"]) if chunk.kinds is not None else None
            self.columns = [c for c in self.columns if c != "quantity"]
            self.labels = [c for c in self.labels if c != "quantity"]
            super().write(dataclasses.replace(chunk, data=data, kinds=kinds), mask, extra)

    monkeypatch.setattr(run_module, "TableWriter", DroppingWriter)
    result = CliRunner().invoke(
        app, ["upload", str(bundle), "--url", server.url, "--channel", "5", "--force"], env={"OMNIMIG_TOKEN": TOKEN}
    )
    assert result.exit_code == 2, result.output
    assert "order_item.json: the copy written for Akinon (order_item.json" in result.output
    assert "Traceback" not in result.output
    assert server.requests == []  # refused before the users were sent, not after


@pytest.mark.parametrize("where", ["header-row", "second-sheet"])
def test_a_workbook_whose_header_or_sheet_is_not_the_first_arrives_with_the_header_in_row_1(
    bundle: Path, server: FakeOmnitron, tmp_path: Path, where: str
) -> None:
    rows = list(csv.reader(_bad_gender(bundle)))
    path = bundle / "user.xlsx"
    if where == "header-row":  # a title and a blank line above the header, as accountants write them
        _workbook(path, {"Müşteriler": [["Müşteri listesi 2024"], [], *rows]})
        offset = 2
    else:
        _workbook(path, {"Notlar": [["hazırlayan", "muhasebe"]], "Müşteriler": rows})
        offset = 0
    plan = plan_upload(bundle, server.url, 5, only=["user"])
    assert plan.steps[0].convert == (NOT_PLAIN["header-row" if offset else "sheet"],)
    assert run_upload(plan, Token(TOKEN), force=True, poll_interval=0, retry=FAST, sleep=lambda s: None).ok
    (start,) = server.starts()
    assert start.file_name == "user.xlsx" and start.file_bytes != path.read_bytes()
    arrived = tmp_path / "arrived" / "user.xlsx"
    arrived.parent.mkdir()
    arrived.write_bytes(start.file_bytes or b"")
    lists = load_choices(None)
    got = validate_file(Target(arrived, "user"), lists)
    want = validate_file(Target(path, "user"), lists)
    assert not any(p.row is None and p.rule in NOT_PLAIN for p in got.problems)
    # The sheet's own row numbers, as validated, are the copy's rows shifted up to a row-1 header.
    shifted = Counter({(row if row is None else row - offset, *rest): n for (row, *rest), n in problems(want).items()})
    assert problems(got) == shifted and ("pattern" in {rule for _, _, rule, _ in shifted})
    assert server.migrations[start.migration_id or ""].rows == 3  # Akinon counts the rows that were validated
