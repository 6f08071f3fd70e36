"""Review findings on validate's outputs: no report over an input, no half report, nothing skipped silently."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import BUNDLE
from typer.testing import CliRunner, Result

import omnimig.validation.workbook as workbook_module
from omnimig.cli import app


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("name", ["user.csv", "order_item.json"])
def test_a_report_named_like_an_input_is_refused_and_the_input_kept(bundle: Path, name: str) -> None:
    target = bundle / name
    before = target.read_bytes()
    result = run("validate", bundle, "--report", target.with_suffix(".csv" if name.endswith(".csv") else ".json"))
    assert result.exit_code == 2
    assert "is one of the files being validated" in result.stderr
    assert target.read_bytes() == before


def test_a_failed_workbook_report_leaves_no_half_file_and_keeps_the_old_one(
    bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "report.xlsx"
    report.write_bytes(b"the previous report")

    def broken(*args: object, **kwargs: object) -> None:
        Path(str(args[1])).write_bytes(b"half")
        raise RuntimeError("disk trouble")

    monkeypatch.setattr(workbook_module, "write_workbook", broken)
    result = run("validate", bundle, "--report", report)
    assert result.exit_code == 2
    assert report.read_bytes() == b"the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle", "report.xlsx"]  # no temporary left


def test_a_fifo_or_broken_link_in_a_folder_is_reported_not_skipped(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    shutil.copytree(BUNDLE, folder)
    (folder / "order.csv").unlink()
    os.mkfifo(folder / "order.csv")
    (folder / "address.csv").unlink()
    (folder / "address.csv").symlink_to(tmp_path / "gone.csv")
    result = run("validate", folder, "--format", "json")
    assert result.exit_code == 2
    files = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert [p["rule"] for p in files["order.csv"]["problems"]] == ["unreadable"]
    assert [p["rule"] for p in files["address.csv"]["problems"]] == ["unreadable"]
    assert json.loads(result.stdout)["summary"]["errors"] >= 2


def test_more_examples_than_kept_by_default_are_shown(tmp_path: Path) -> None:
    header = "order_number,product,sku,quantity,price,image_url,extra_field"
    rows = [f"O{i},P,S,x,1.00,,{{}}" for i in range(40)]
    path = tmp_path / "order_item.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    result = run("validate", path, "--max-examples", "30")
    assert result.exit_code == 1
    assert result.stdout.count('quantity "x"') == 30
    assert "… and 10 more" in result.stdout


def test_a_file_name_that_is_not_utf8_is_shown_escaped_in_every_report(tmp_path: Path) -> None:
    name = os.fsdecode(b"users_\xff.json")  # what a cp1254 zip extracted on Linux gives
    (tmp_path / name).write_text('[{"customer_code": "C1"}]', encoding="utf-8")
    report = tmp_path / "r.xlsx"
    result = run("validate", tmp_path / name, "--report", report, "--format", "csv")
    assert result.exit_code == 1, result.stderr
    assert "users_\\udcff.json" in result.stdout
    import openpyxl

    book = openpyxl.load_workbook(report)
    assert any(str(c.value).endswith("users_\\udcff.json") for c in book["Summary"]["A"])
