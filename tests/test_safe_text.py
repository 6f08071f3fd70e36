"""Cells shown to people: escapes are printed visibly, formula-like CSV cells are neutralised, numbers kept."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimig.io.safe_text import is_formula_like, neutralise_formula, visible


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "@SUM(A1:A2)", "-2+3", "\tx"])
def test_formula_leading_values_are_neutralised(value: str) -> None:
    assert is_formula_like(value)
    assert neutralise_formula(value) == "'" + value


@pytest.mark.parametrize("value", ["-12.5", "+905321234567", "-3", "12", "", "a=b", "-1,5"])
def test_plain_values_and_numbers_are_kept(value: str) -> None:
    assert neutralise_formula(value) == value


def test_terminal_escapes_are_printed_visibly() -> None:
    assert visible("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert visible("tab\tand\nnewline stay") == "tab\tand\nnewline stay"
    assert visible("\x9b31m") == "\\x9b31m"


@given(st.text())
def test_visible_never_leaves_a_control_character(text: str) -> None:
    shown = visible(text)
    assert not any(ord(c) < 32 and c not in "\t\n" for c in shown)
    assert not any(0x7F <= ord(c) <= 0x9F for c in shown)
