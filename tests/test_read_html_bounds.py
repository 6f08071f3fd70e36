"""HTML table exports: ``colspan`` cannot multiply a row's cells without bound, and a row or header
too wide is still reported with its real width."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnimig.exceptions import ReadError
from omnimig.io.read_html import MAX_COLUMNS, _Tables, read_html


def page(*rows: str) -> str:
    return "<html><body><table>" + "".join(f"<tr>{r}</tr>" for r in rows) + "</table></body></html>"


def test_colspan_keeps_at_most_one_cell_past_the_widest_header() -> None:
    parser = _Tables()
    wide = "<td>a</td><td>b</td>" + '<td colspan="1000">x</td>' * 3 + "<td colspan=1000></td>"
    parser.feed(page("<th>number</th><th>user</th>", *([wide] * 20)))
    parser.close()
    rows = parser.tables[0]
    assert max(len(r) for r in rows) <= MAX_COLUMNS + 1
    assert [r.width for r in rows[1:]] == [2 + 4 * 1000] * 20
    assert all(r.lost for r in rows[1:])  # the 2nd and 3rd "x" were not kept


def test_a_row_widened_by_colspan_is_reported_with_its_real_width(tmp_path: Path) -> None:
    path = tmp_path / "order.xls"
    wide = "<td>a</td><td>b</td>" + '<td colspan="1000">x</td>' * 3
    path.write_text(page("<th>number</th><th>user</th>", "<td>n1</td><td>u1</td>", wide), encoding="utf-8")
    chunks = list(read_html(path).chunks)
    notices = [n for c in chunks for n in c.notices]
    assert [(n.rule, n.row, n.severity) for n in notices] == [("row-width", 3, "error")]
    assert "the row has 3002 cells but the header has 2 columns" in notices[0].message
    assert chunks[0].data.to_dict("list") == {"number": ["n1", "a"], "user": ["u1", "b"]}


def test_a_name_far_right_of_the_header_is_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "order.xls"
    header = '<th>number</th><th colspan="1000"></th><th>user</th>'
    path.write_text(page(header, "<td>n1</td>"), encoding="utf-8")
    with pytest.raises(ReadError, match=f"has more than {MAX_COLUMNS:,} columns"):
        read_html(path)


def test_an_empty_colspan_after_the_header_names_is_no_column(tmp_path: Path) -> None:
    path = tmp_path / "order.xls"
    header = '<th>number</th><th>user</th><th colspan="1000"></th><th colspan="1000"></th>'
    path.write_text(page(header, "<td>n1</td><td>u1</td>"), encoding="utf-8")
    source = read_html(path)
    assert source.columns == ("number", "user")
    assert [c.data.to_dict("list") for c in source.chunks] == [{"number": ["n1"], "user": ["u1"]}]


@pytest.mark.parametrize("span", ["0", "-3", "abc", "9" * 5000, " 2 "])
def test_odd_colspans_are_read_as_a_browser_would(tmp_path: Path, span: str) -> None:
    path = tmp_path / "order.xls"
    path.write_text(page("<th>number</th><th>user</th>", f'<td colspan="{span}">n1</td><td>u1</td>'), encoding="utf-8")
    rows = [c.data.to_dict("list") for c in read_html(path).chunks]
    expected = {"number": ["n1"], "user": [""]} if span.strip() == "2" else {"number": ["n1"], "user": ["u1"]}
    if span.isdigit() and len(span) > 6:
        expected = {"number": ["n1"], "user": [""]}
    assert rows == [expected]
