"""Text files as people and panels produce them (issue 13, "Text files"): malformed rows are
problems at their rows, Excel's encodings and ``sep=`` line, and extensions that lie.

Every case asserts the exact problems at the exact rows, through the CLI where a person would
meet it; ``--split`` output is read back to show the row's values are kept.
"""

from __future__ import annotations

import csv
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner, Result

import omnimig.io.read_csv as read_csv_module
from omnimig.cli import app
from omnimig.io import open_source

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
USER_LINES = (SAMPLES / "user.csv").read_text(encoding="utf-8").splitlines()
HEADER = USER_LINES[0].split(",")


def run(*args: object) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def validate(path: Path, *extra: object) -> tuple[int, list[tuple[Any, Any, str, str]], list[dict[str, Any]]]:
    """Exit code, (row, field, rule, severity) of every problem, and the problems, from --format json;
    the text report is run too and must give the same exit code without a traceback."""
    result = run("validate", "--format", "json", *extra, path)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    text = run("validate", *extra, path)
    assert "Traceback" not in text.output and text.exit_code == result.exit_code, text.output
    found = [p for f in json.loads(result.stdout)["files"] for p in f["problems"]]
    return result.exit_code, [(p["row"], p["field"], p["rule"], p["severity"]) for p in found], found


def user_rows() -> list[list[str]]:
    """The committed valid users, as cells (header first)."""
    return [line.split(",") for line in USER_LINES]


def write(path: Path, lines: list[str], encoding: str = "utf-8", newline: str = "\n") -> Path:
    path.write_bytes(newline.join(lines).encode(encoding) + newline.encode(encoding))
    return path


def read_back(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


# --------------------------------------------------------------------------- 6. one malformed row


def test_an_unquoted_delimiter_is_a_row_width_problem_at_that_row_and_split_holds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    rows = [",".join(r) for r in user_rows()]
    cells = user_rows()[2]
    cells[1] = "Mehmet, Ali"  # unquoted: one cell too many, spreadsheet row 3
    rows[2] = ",".join(cells)
    path = write(Path("user.csv"), rows)
    code, brief, found = validate(path)
    assert code == 1
    assert (3, None, "row-width", "error") in brief
    assert {b[0] for b in brief} == {3}  # the shifted cells break rules too, but only on row 3
    assert "13 cells but the header has 12 columns" in next(p["message"] for p in found if p["rule"] == "row-width")
    width = next(p for p in found if p["rule"] == "row-width")
    assert 'the cells after the last column are "sha1"' in width["message"]
    result = run("validate", "--split", "out", path)
    assert result.exit_code == 1, result.output
    ready, held = read_back(Path("out/ready/user.csv")), read_back(Path("out/held/user.csv"))
    assert [r[0] for r in ready[1:]] == ["C0001", "C0003"]
    assert [r[:3] for r in held[1:]] == [["C0002", "Mehmet", " Ali"]]  # its first cells, in their columns
    assert "row-width" in held[1][-1]


def test_a_short_row_is_a_row_width_problem_and_later_rows_keep_their_numbers(tmp_path: Path) -> None:
    rows = [",".join(r) for r in user_rows()]
    rows.insert(2, 'C0009,"two\nlines"')  # row 3: a multi-line cell counts once; only 2 cells
    bad = user_rows()[3]
    bad[4] = "robot"  # gender of C0003, now at row 5
    rows[4] = ",".join(bad)
    code, brief, found = validate(write(tmp_path / "user.csv", rows))
    assert code == 1
    assert [b for b in brief if b[2] != "required"] == [
        (3, None, "row-width", "error"),
        (5, "gender", "pattern", "error"),
    ]
    assert found[0]["value"] == "C0009,two\nlines"


def test_an_unterminated_quote_is_reported_at_the_row_where_it_opened(tmp_path: Path) -> None:
    rows = [",".join(r) for r in user_rows()]
    cells = user_rows()[2]
    cells[2] = '"Öztürk'  # row 3: the quote is never closed, the rest of the file is its cell
    rows[2] = ",".join(cells)
    code, brief, found = validate(write(tmp_path / "user.csv", rows))
    assert code == 1
    quote = [p for p in found if p["rule"] == "unterminated-quote"]
    assert [(p["row"], p["field"], p["severity"]) for p in quote] == [(3, "last_name", "error")]
    assert "never closed" in quote[0]["message"] and "1 more line)" in quote[0]["message"]
    assert {b[0] for b in brief} == {3}  # rows 2 is fine; row 4 is inside the cell


def test_an_unterminated_quote_in_the_last_column_is_found_at_the_end_of_the_file(tmp_path: Path) -> None:
    rows = [",".join(r) for r in user_rows()]
    rows[1] = rows[1] + '"'  # row 2: the last cell opens a quote ... to the end of the file
    rows[1] = ",".join(user_rows()[1][:-1]) + ',"md5'
    code, brief, found = validate(write(tmp_path / "user.csv", rows))
    assert code == 1
    assert (2, "password_algorithm", "unterminated-quote", "error") in brief
    assert [p["row"] for p in found if p["rule"] == "unterminated-quote"] == [2]


@pytest.mark.parametrize(
    "last", ['"md5"', '"md5"\n', '"md5""x"""', '""'], ids=["quoted", "newline", "escaped", "empty"]
)
def test_a_closed_quote_at_the_end_of_the_file_is_no_unterminated_quote(tmp_path: Path, last: str) -> None:
    lines = [",".join(r) for r in user_rows()]
    lines[-1] = ",".join(user_rows()[-1][:-1]) + "," + last
    path = tmp_path / "user.csv"
    path.write_text("\n".join(lines), encoding="utf-8")  # no line end after the last row unless given
    notices = [n.rule for c in open_source(path).chunks for n in c.notices]
    assert "unterminated-quote" not in notices


CELL = st.sampled_from(["", "x", "a b", "Ş", 'q"t', "l1\nl2", "a;b"])


def _render(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\r\n') else cell


@settings(max_examples=100, deadline=None)
@given(
    width=st.integers(1, 4),
    records=st.lists(st.lists(CELL, max_size=6), max_size=25),
    chunk_rows=st.integers(1, 6),
    block=st.sampled_from([128, 256, 1 << 20]),
)
def test_every_row_keeps_its_place_and_only_odd_rows_are_problems(
    width: int, records: list[list[str]], chunk_rows: int, block: int
) -> None:
    """Rows of any width, in any parse block and chunk size: each record at its row, its first
    cells in their columns, and a row-width notice exactly where the width is not the header's
    (a blank line is a blank row, not a row-width problem)."""
    header = [f"c{i}" for i in range(width)]
    expected = [dict(zip(header, (r + [""] * width)[:width], strict=True)) for r in records]
    lines = [",".join(_render(c) for c in r) for r in records]
    odd = [i + 2 for i, r in enumerate(records) if lines[i] and len(r) != width]  # a blank line is no odd row
    text = "\n".join([",".join(header), *lines]) + "\n"
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(read_csv_module, "PARSE_BLOCK", block)
        path = Path(folder) / "user.csv"
        path.write_text(text, encoding="utf-8")
        got, rows, noticed = [], [], []
        for chunk in open_source(path, chunk_rows).chunks:
            got += chunk.data.to_dict("records")
            rows += [int(r) for r in chunk.rows]
            noticed += [n.row for n in chunk.notices if n.rule == "row-width"]
    assert got == expected
    assert rows == list(range(2, 2 + len(records)))
    assert noticed == odd


# --------------------------------------------------------------------------- 7. encodings


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("name", ["user.txt", "user.csv"])
def test_excel_unicode_text_is_read_with_an_encoding_note(tmp_path: Path, codec: str, name: str) -> None:
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated, CRLF."""
    rows = ["\t".join(r) for r in user_rows()]
    bad = user_rows()[2]
    bad[4] = "robot"
    rows[2] = "\t".join(bad)
    path = write(tmp_path / name, ["\ufeff" + rows[0], *rows[1:]], codec, "\r\n")
    code, brief, found = validate(path)
    assert code == 1
    assert brief == [(None, None, "encoding", "warning"), (3, "gender", "pattern", "error")]
    assert "UTF-16" in found[0]["message"]
    source = open_source(path)
    records = [r for c in source.chunks for r in c.data.to_dict("records")]
    assert [r["last_name"] for r in records] == ["Yılmaz", "Öztürk", user_rows()[3][2]]


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (b"\xff\xfe\x00\x00" + "a\tb\n".encode("utf-32-le"), ("UTF-32", "CSV UTF-8")),
        ("customer_code,email\nC1,a@b.co\n".encode("utf-16-le"), ("UTF-16", "byte-order mark", "CSV UTF-8")),
        (b"customer_code\nA\x81\x8d\n", ("line 2", "CSV UTF-8")),
    ],
    ids=["utf-32", "utf-16-without-bom", "neither-utf8-nor-1254"],
)
def test_other_encodings_are_one_line_saying_how_to_resave(
    tmp_path: Path, content: bytes, needles: tuple[str, ...]
) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(content)
    result = run("validate", path)
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("omnimig: error:")]
    assert len(errors) == 1
    for needle in (str(path), *needles):
        assert needle in errors[0], (needle, errors[0])


# --------------------------------------------------------------------------- 8. Excel's sep= line


def test_excel_sep_line_chooses_the_delimiter_and_rows_are_numbered_as_excel_shows_them(tmp_path: Path) -> None:
    rows = [";".join(r) for r in user_rows()]
    bad = user_rows()[2]
    bad[4] = "robot"  # Excel row 3 (the sep= line is hidden)
    rows[2] = ";".join(bad)
    rows.append("C0009")  # Excel row 5: too few cells
    path = write(tmp_path / "user.csv", ["sep=;", *rows], newline="\r\n")
    code, brief, _ = validate(path)
    assert code == 1
    assert [b for b in brief if b[2] != "required"] == [
        (None, None, "sep-line", "warning"),
        (3, "gender", "pattern", "error"),
        (5, None, "row-width", "error"),
    ]
    source = open_source(path)
    assert source.columns == tuple(HEADER)
    assert [int(r) for c in source.chunks for r in c.rows] == [2, 3, 4, 5]


def test_a_sep_line_after_a_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "user.csv"
    path.write_bytes(b"\xef\xbb\xbfsep=|\n" + "\n".join("|".join(r) for r in user_rows()).encode() + b"\n")
    code, brief, _ = validate(path)
    assert (code, brief) == (0, [(None, None, "sep-line", "warning")])


# --------------------------------------------------------------------------- 9. the extension lies


def test_an_html_table_named_xls_is_read_as_a_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = user_rows()
    rows[2][4] = "robot"  # row 3
    cells = "".join(f"<th>{h}</th>" for h in rows[0])
    body = "".join("<tr>" + "".join(f"<td> {c} </td>" for c in r) + "</tr>\n" for r in rows[1:])
    html = (
        '<html><head><meta charset="utf-8"></head><body><h1>Kullanıcılar</h1>'
        f"<table><tr>{cells}</tr>\n{body}</table></body></html>"
    )
    path = Path("user.xls")
    path.write_text(html, encoding="utf-8")
    code, brief, found = validate(path)
    assert code == 1
    assert brief == [(None, None, "file-format", "warning"), (3, "gender", "pattern", "error")]
    assert "HTML table" in found[0]["message"]
    source = open_source(path)
    records = [r for c in source.chunks for r in c.data.to_dict("records")]
    assert records[0]["customer_code"] == "C0001" and records[0]["last_name"] == "Yılmaz"
    assert run("validate", "--split", "out", path).exit_code == 1
    assert sorted(p.name for p in Path("out").rglob("*.*")) == [".omnimig-split.json", "user.xlsx", "user.xlsx"]


def test_csv_text_named_xls_is_read_as_csv(tmp_path: Path) -> None:
    path = tmp_path / "user.xls"
    shutil.copy(SAMPLES / "user.csv", path)
    code, brief, found = validate(path)
    assert (code, brief) == (0, [(None, None, "file-format", "warning")])
    assert "really CSV text" in found[0]["message"] and "rename it to .csv" in found[0]["message"]


def test_an_xlsx_named_xls_is_read_as_xlsx(tmp_path: Path) -> None:
    path = tmp_path / "user.xls"
    book = xlsxwriter.Workbook(str(tmp_path / "made.xlsx"))
    sheet = book.add_worksheet()
    for r, row in enumerate(user_rows()):
        sheet.write_row(r, 0, row)
    book.close()
    shutil.move(tmp_path / "made.xlsx", path)
    code, brief, found = validate(path)
    assert (code, brief) == (0, [(None, None, "file-format", "warning")])
    assert "really an XLSX workbook" in found[0]["message"]
    assert not list(Path(tempfile.gettempdir()).glob("omnimig-*/file.xlsx"))  # the private link is gone


def test_transform_mapping_rejects_a_malformed_row_instead_of_guessing(tmp_path: Path) -> None:
    """The reader keeps a too-wide row's first cells for --split; a transform must not map them."""
    from test_transform_mapping import rows as written
    from test_transform_mapping import run_small, small_row, tally

    result = run_small(tmp_path, [small_row("1"), [*small_row("2"), "stray"]])
    assert tally(result) == (2, 1, 0, 1), result.stdout
    reject = written(tmp_path / "out" / "rejects.csv")[0]
    assert reject["source_row"] == "3"
    assert "row-width" in reject["reason"] and "10 cells but the header has 9 columns" in reject["reason"]
