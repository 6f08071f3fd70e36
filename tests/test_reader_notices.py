"""A reader's row and cell notices become problems at their row and field, like any rule's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import omnimig.validation.run as run_module
from omnimig.io.table import Chunk, Notice, Source
from omnimig.schemas.rules import load_choices
from omnimig.validation.run import Target, validate_file


def test_chunk_notices_become_problems_at_their_row_and_field(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "user.csv"
    path.write_text("x\n", encoding="utf-8")
    columns = ("customer_code", "email", "first_name", "last_name")
    data = pd.DataFrame(
        {"customer_code": ["C1"], "email": ["a@example.com"], "first_name": ["A"], "last_name": ["B"]},
        dtype="string[pyarrow]",
    )
    note = Notice("excel-error", 'email holds the Excel error "#N/A"', row=2, severity="error", column="email",
                  value="#N/A")  # fmt: skip
    chunk = Chunk(data, pd.Series([2]), notices=[note])
    source = Source(str(path), "csv", columns, iter([chunk]), notices=[Notice("sheet", "read sheet 2")])
    monkeypatch.setattr(run_module, "open_source", lambda p, n, options=None: source)
    result = validate_file(Target(path, "user"), load_choices(None))
    found = {(p.row, p.field, p.rule, p.severity, p.value) for p in result.problems}
    assert (2, "email", "excel-error", "error", "#N/A") in found
    assert (None, None, "sheet", "warning", None) in found
