"""Hostile CSV input (issue 12): every case is one line naming the file with exit code 2, or a
problem at its row with exit code 1; never a traceback, never a hang, never a whole folder lost.

Each case runs through the CLI in text and ``--format json``. Fixtures are generated here, in
``tmp_path``; the bounds are monkeypatched small where the real ones would need large files.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from typer.testing import CliRunner, Result

import omnimig.io.read_csv as read_csv_module
from omnimig.cli import app
from omnimig.exceptions import ReadError
from omnimig.io import open_source

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
USER_HEADER, USER_ROW = (SAMPLES / "user.csv").read_text(encoding="utf-8").splitlines()[:2]


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert "Exception ignored" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def cannot_run(path: Path, *needles: str) -> str:
    """Text and JSON: exit 2 and one ``omnimig: error:`` line naming the file and each needle."""
    for fmt in ("text", "json"):
        result = run("validate", "--format", fmt, path)
        no_traceback(result)
        assert result.exit_code == 2, (fmt, result.exit_code, result.output)
        errors = [line for line in result.stderr.splitlines() if line.startswith("omnimig: error:")]
        assert len(errors) == 1, result.stderr
        for needle in (str(path), *needles):
            assert needle in errors[0], (needle, errors[0])
    return errors[0]


def problems_of(path: Path, *extra: object) -> tuple[int, list[dict[str, Any]]]:
    """Exit code and problems of ``validate --format json`` (the text run must agree on the code)."""
    result = run("validate", "--format", "json", *extra, path)
    no_traceback(result)
    text = run("validate", *extra, path)
    no_traceback(text)
    assert text.exit_code == result.exit_code, (text.output, result.output)
    return result.exit_code, [p for f in json.loads(result.stdout)["files"] for p in f["problems"]]


def user_file(folder: Path, *rows: str) -> Path:
    path = folder / "user.csv"
    path.write_text("\n".join([USER_HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def valid_user(code: str = "C1") -> str:
    """The first committed user row (first_name Ayşe), under another customer_code and email."""
    return USER_ROW.replace("C0001", code).replace("ayse.yilmaz@", f"{code.lower()}@")


# --------------------------------------------------------------------------- 1. the header is bounded


def test_a_header_of_100000_columns_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text(",".join(f"c{i}" for i in range(100_000)) + "\nC1\n", encoding="utf-8")
    cannot_run(path, "100,000 columns", "at most 1,000")


def test_a_huge_header_cell_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text("customer_code," + "x" * 200_000 + "\nC1,2\n", encoding="utf-8")
    cannot_run(path, "header cell 2", "200,000 characters", "at most 1,000")


def test_a_header_line_without_an_end_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_text('"' + "x" * (read_csv_module.MAX_HEADER_LINE + 10), encoding="utf-8")
    cannot_run(path, "header line is over")


def test_a_bad_header_does_not_stop_the_other_files_of_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    folder.mkdir()
    (folder / "user.csv").write_text(",".join(f"c{i}" for i in range(5_000)) + "\n", encoding="utf-8")
    shutil.copy(SAMPLES / "address.csv", folder / "address.csv")
    result = run("validate", "--format", "json", folder)
    no_traceback(result)
    assert result.exit_code == 2
    files = {Path(f["path"]).name: f for f in json.loads(result.stdout)["files"]}
    assert list(files) == ["user.csv", "address.csv"]  # the unreadable file still counts, as an error
    assert [p["rule"] for p in files["user.csv"]["problems"]] == ["unreadable"]
    assert files["address.csv"]["rows"] > 0
    assert "user.csv: the header (row 1) has 5,000 columns" in result.stderr


# --------------------------------------------------------------------------- 2. a short row with a huge cell


def test_a_short_row_with_a_cell_over_128_kib_is_a_row_width_problem(tmp_path: Path) -> None:
    path = user_file(tmp_path, valid_user("C1"), 'C2,"' + "y" * 200_000 + '"', valid_user("C3"))
    code, found = problems_of(path)
    assert code == 1
    width = [(p["row"], p["field"], p["severity"]) for p in found if p["rule"] == "row-width"]
    assert width == [(3, None, "error")]
    assert all(p["row"] == 3 for p in found if p["severity"] == "error")  # rows 2 and 4 are fine


def test_a_short_row_with_a_huge_cell_prints_no_exception_from_the_parser(tmp_path: Path) -> None:
    """pyarrow's row handler runs in C++: an exception there is printed as "Exception ignored"."""
    path = user_file(tmp_path, 'C2,"' + "y" * 200_000 + '"')
    done = subprocess.run(
        [sys.executable, "-c", "from omnimig.cli import app; app()", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Exception ignored" not in done.stderr and "Traceback" not in done.stderr
    assert "row-width" in done.stdout


# --------------------------------------------------------------------------- 3. a record longer than a parse block


def test_a_cell_longer_than_the_parse_block_is_a_max_length_problem_at_its_row(tmp_path: Path) -> None:
    """A 5 MB cell does not fit pyarrow's parse block (2 MB): the file is read again with a larger one."""
    assert read_csv_module.PARSE_BLOCK < 5 << 20
    path = tmp_path / "order_item.csv"
    lines = ["order_number,product,sku,quantity,price,image_url,extra_field", "O1,Kalem,SKU1,1,10.00,,"]
    lines += ["O2," + "K" * (5 << 20) + ",SKU2,1,10.00,,", "O3,Defter,SKU3,x,5.50,,"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, found = problems_of(path)
    assert code == 1
    assert [(p["row"], p["field"], p["rule"]) for p in found] == [(3, "product", "max-length"), (4, "quantity", "type")]


def test_rows_stay_exact_when_a_long_record_makes_the_file_be_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_csv_module, "PARSE_BLOCK", 1 << 12)
    rows = [valid_user(f"C{i}") for i in range(200)]
    rows[150] = rows[150].replace("Ayşe", "A" * 20_000)  # row 152
    rows[30] = rows[30] + ",stray"  # row 32, before the long one
    rows[170] = "C170"  # row 172, after it
    source = open_source(user_file(tmp_path, *rows), chunk_rows=64)
    got_rows: list[int] = []
    notices = []
    for chunk in source.chunks:
        got_rows.extend(int(r) for r in chunk.rows)
        notices.extend((n.row, n.rule) for n in chunk.notices)
        assert all(int(chunk.rows.iloc[0]) <= n.row <= int(chunk.rows.iloc[-1]) for n in chunk.notices)
        if 152 in set(chunk.rows):
            assert len(chunk.data.loc[chunk.rows == 152, "first_name"].iloc[0]) == 20_000
    assert got_rows == list(range(2, 202))
    assert notices == [(32, "row-width"), (172, "row-width")]


def test_a_record_longer_than_the_bound_is_refused_naming_its_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(read_csv_module, "PARSE_BLOCK", 1 << 12)
    monkeypatch.setattr(read_csv_module, "MAX_RECORD", 1 << 14)
    path = user_file(
        tmp_path, *[valid_user(f"C{i}") for i in range(100)], valid_user("CX").replace("Ayşe", "A" * 50_000)
    )
    cannot_run(path, "row 102 is longer than 16 KB")


# --------------------------------------------------------------------------- 4. only regular files are opened


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_being_opened(tmp_path: Path) -> None:
    """Opening a FIFO blocks until a writer comes: run in a subprocess with a timeout."""
    fifo = tmp_path / "user.csv"
    os.mkfifo(fifo)
    for fmt in ("text", "json"):
        done = subprocess.run(
            [sys.executable, "-c", "from omnimig.cli import app; app()", "validate", "--format", fmt, str(fifo)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert f"{fifo}: is a named pipe (FIFO), not a regular file" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_device_and_a_socket_are_refused(tmp_path: Path) -> None:
    device = tmp_path / "user.csv"
    device.symlink_to(os.devnull)
    cannot_run(device, "is a character device, not a regular file")
    if hasattr(socket, "AF_UNIX"):
        path = tmp_path / "sock" / "order.csv"
        path.parent.mkdir()
        with socket.socket(socket.AF_UNIX) as server:
            try:
                server.bind(str(path))
            except OSError:
                return  # path too long for a socket here
            with pytest.raises(ReadError, match="is a socket"):
                open_source(path)


# --------------------------------------------------------------------------- 5. no other failure escapes


@pytest.mark.parametrize(
    "failure",
    [
        pa.ArrowInvalid("CSV parse error: odd"),
        OSError(5, "Input/output error"),
        UnicodeDecodeError("utf-8", b"\xff", 0, 1, "bad"),
    ],
    ids=["arrow", "oserror", "unicode"],
)
def test_a_failure_while_reading_rows_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    path = user_file(tmp_path, valid_user("C1"), valid_user("C2"))

    def broken(*args: object, **kwargs: object) -> Any:
        raise failure

    monkeypatch.setattr(read_csv_module.pacsv, "open_csv", broken)
    cannot_run(path, "after row 1")


def test_invalid_utf16_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(b"\xff\xfe" + "a\tb\n".encode("utf-16-le") + b"\x00\xdc")  # a lone low surrogate
    cannot_run(path, "UTF-16", "CSV UTF-8")


# --------------------------------------------------------------------------- a file name that is not UTF-8


def _bytes_named(folder: Path, name: bytes) -> Path:
    """A file whose name holds bytes that are not UTF-8, as ``os.listdir`` gives it (surrogates)."""
    raw = os.path.join(os.fsencode(folder), name)
    try:
        with open(raw, "wb"):
            pass
    except OSError:
        pytest.skip("this file system only takes UTF-8 names")
    return Path(os.fsdecode(raw))


@pytest.mark.parametrize(
    ("name", "codec"), [(b"users_\xff.csv", "utf-8"), (b"users_\xfe.csv", "cp1254")], ids=["utf-8", "cp1254"]
)
def test_a_csv_whose_name_is_not_utf8_is_read(tmp_path: Path, name: bytes, codec: str) -> None:
    path = _bytes_named(tmp_path, name)
    path.write_bytes("\n".join([USER_HEADER, valid_user("C1"), valid_user("C2"), "C3,short"]).encode(codec) + b"\n")
    source = open_source(path)
    rows = [int(r) for chunk in source.chunks for r in chunk.rows]
    assert rows == [2, 3, 4]
    code, problems = problems_of(tmp_path)  # the folder, as a person gives it
    assert code == 1
    assert [(p["row"], p["rule"]) for p in problems if p["rule"] == "row-width"] == [(4, "row-width")]
