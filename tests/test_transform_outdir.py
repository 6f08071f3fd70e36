"""``transform --out DIR`` never costs a person a file: folder ownership, inputs, atomic private writes."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from omnimig.cli import app
from omnimig.exceptions import TransformError
from omnimig.transforms.outdir import MANIFEST, OutFolder, prepare, write_bundle

DATA = Path(__file__).resolve().parent / "data" / "transform"
ORDERS = DATA / "omnitron" / "orders.json"
SIPARISLER = DATA / "mapping" / "siparisler.csv"
TURKISH = Path(__file__).resolve().parents[1] / "omnimig" / "transforms" / "mappings" / "turkish-platform.toml"


def run(*args: object) -> Result:
    result = CliRunner().invoke(app, ["transform", *(str(a) for a in args)])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def refused(result: Result) -> str:
    """The one line of a run that could not happen (exit 2)."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


def test_a_new_folder_gets_the_bundle_a_manifest_and_private_modes(tmp_path: Path) -> None:
    out = tmp_path / "new" / "bundle"
    assert run("omnitron-orders", ORDERS, "--out", out).exit_code == 1  # one order is rejected
    names = {p.name for p in out.iterdir()}
    assert names == {MANIFEST, "user.csv", "address.csv", "order.csv", "order_item.csv", "rejects.csv", "changes.csv"}
    manifest = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    assert set(manifest["files"]) == names - {MANIFEST}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name


def test_a_non_empty_folder_omnimig_did_not_create_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    line = refused(run("omnitron-orders", ORDERS, "--out", tmp_path))
    assert str(tmp_path) in line and "not empty" in line and "--force" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_force_writes_beside_unrelated_files_which_survive(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    assert run("omnitron-orders", ORDERS, "--out", tmp_path, "--force").exit_code == 1
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert (tmp_path / "sub").is_dir() and (tmp_path / "order.csv").is_file()
    assert "notes.txt" not in json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))["files"]


def test_an_export_named_order_csv_is_never_written_over_even_with_force(tmp_path: Path) -> None:
    export = tmp_path / "order.csv"
    export.write_bytes(SIPARISLER.read_bytes())
    before = export.read_bytes()
    for extra in ([], ["--force"]):
        line = refused(run("mapping", export, "--mapping", TURKISH, "--out", tmp_path, *extra))
        assert "would overwrite the input" in line and "order.csv" in line
    assert export.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["order.csv"]


@pytest.mark.parametrize("link", ["hard", "symbolic"])
def test_an_input_reached_through_a_link_is_never_written_over(tmp_path: Path, link: str) -> None:
    export = tmp_path / "export.csv"
    export.write_bytes(SIPARISLER.read_bytes())
    out = tmp_path / "out"
    out.mkdir()
    (os.link if link == "hard" else os.symlink)(export, out / "user.csv")
    line = refused(run("mapping", export, "--mapping", TURKISH, "--out", out, "--force"))
    assert "would overwrite the input" in line
    assert export.read_bytes() == SIPARISLER.read_bytes()


def test_the_mapping_file_is_protected_like_an_input(tmp_path: Path) -> None:
    mapping = tmp_path / "changes.csv"  # an odd name, but it is the person's file
    mapping.write_bytes(TURKISH.read_bytes())
    line = refused(run("mapping", SIPARISLER, "--mapping", mapping, "--out", tmp_path, "--force"))
    assert "would overwrite the input" in line
    assert mapping.read_bytes() == TURKISH.read_bytes()


def test_a_rerun_replaces_only_its_own_files_and_removes_only_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("omnitron-orders", ORDERS, "--out", out, "--format", "xlsx").exit_code == 1
    assert (out / "order.xlsx").is_file()
    (out / "README.txt").write_text("the person's note", encoding="utf-8")
    (out / "order.xlsx.bak").write_text("a copy", encoding="utf-8")
    assert run("omnitron-orders", ORDERS, "--out", out).exit_code == 1  # csv now: the xlsx files go
    names = {p.name for p in out.iterdir()}
    assert not any(n.endswith(".xlsx") for n in names)
    assert {"order.csv", "README.txt", "order.xlsx.bak", MANIFEST} <= names
    assert (out / "README.txt").read_text(encoding="utf-8") == "the person's note"
    assert not any(n.startswith(".omnimig-partial") for n in names)


def test_a_bundle_name_omnimig_did_not_write_is_refused_even_in_its_own_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("omnitron-orders", ORDERS, "--out", out).exit_code == 1
    (out / "order_item.json").write_text("[]", encoding="utf-8")  # someone else's file with a bundle name
    for extra in ([], ["--force"]):
        line = refused(run("omnitron-orders", ORDERS, "--out", out, *extra))
        assert "order_item.json" in line and "did not write it" in line
    assert (out / "order_item.json").read_text(encoding="utf-8") == "[]"


def test_a_manifest_cannot_make_omnimig_delete_a_file_it_never_writes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run("omnitron-orders", ORDERS, "--out", out).exit_code == 1
    manifest = out / MANIFEST
    data = json.loads(manifest.read_text(encoding="utf-8"))
    data["files"] += ["thesis.docx", "../outside.txt"]
    manifest.write_text(json.dumps(data), encoding="utf-8")
    (out / "thesis.docx").write_text("years of work", encoding="utf-8")
    (tmp_path / "outside.txt").write_text("also mine", encoding="utf-8")
    assert run("omnitron-orders", ORDERS, "--out", out).exit_code == 1
    assert (out / "thesis.docx").read_text(encoding="utf-8") == "years of work"
    assert (tmp_path / "outside.txt").read_text(encoding="utf-8") == "also mine"


def test_an_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "bundle"
    target.write_text("x", encoding="utf-8")
    assert "not a folder" in refused(run("omnitron-orders", ORDERS, "--out", target))
    assert target.read_text(encoding="utf-8") == "x"


def test_an_interrupted_write_leaves_no_half_file_and_the_last_bundle_intact(tmp_path: Path) -> None:
    out = tmp_path / "out"
    write_bundle(prepare(out, []), {"user.csv": lambda p: p.write_text("old\n", encoding="utf-8")})

    def half(path: Path) -> None:
        path.write_text("half a fi", encoding="utf-8")
        raise KeyboardInterrupt  # Ctrl-C in the middle of a file

    folder = prepare(out, [])
    assert folder.owned == {"user.csv"}
    with pytest.raises(KeyboardInterrupt):
        write_bundle(folder, {"order.csv": lambda p: p.write_text("fine\n", encoding="utf-8"), "user.csv": half})
    assert (out / "user.csv").read_text(encoding="utf-8") == "old\n"
    assert not (out / "order.csv").exists()
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "user.csv"]


def test_a_file_that_appears_during_the_run_is_not_replaced(tmp_path: Path) -> None:
    out = tmp_path / "out"
    folder = prepare(out, [])

    def sneaky(path: Path) -> None:
        path.write_text("ours", encoding="utf-8")
        (out / "user.csv").write_text("theirs", encoding="utf-8")

    with pytest.raises(TransformError, match="did not write it"):
        write_bundle(OutFolder(folder.path, frozenset()), {"user.csv": sneaky})
    assert (out / "user.csv").read_text(encoding="utf-8") == "theirs"


def test_two_transforms_into_one_folder_do_not_interleave(tmp_path: Path) -> None:
    """While one run holds the output folder, a second is refused at once, in one line, and writes nothing."""
    import omnimig
    from omnimig.io.lock import folder_lock

    out = tmp_path / "bundle"
    out.mkdir()
    export = DATA / "shopify" / "orders_export.csv"
    with folder_lock(out, lambda: AssertionError("the test holds the lock")):
        with pytest.raises(omnimig.TransformError, match="another omnimig transform is writing into this folder"):
            omnimig.transform("shopify", export, out)
        assert list(out.iterdir()) == []
    assert omnimig.transform("shopify", export, out).adds_up  # free again once the first run ends


def test_a_failed_run_leaves_no_new_folder(tmp_path: Path) -> None:
    import omnimig

    out = tmp_path / "new"
    broken = tmp_path / "orders_export.csv"
    broken.write_text("not,a,shopify,export\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(omnimig.Error):
        omnimig.transform("shopify", broken, out)
    assert not out.exists()
