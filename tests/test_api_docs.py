"""docs/api.md runs as written: every ```python block in order, each printed result as its ```output block shows.

The blocks run in one namespace, in a temporary folder holding a copy of what they read from the
repository (``samples/`` and ``tests/data/transform/``), so the page is checked the way a reader
runs it, from a clone's root, without writing into the clone.
"""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api.md"
BLOCK = re.compile(r"^```(python|output)\n(.*?)^```$", re.S | re.M)


def blocks(text: str) -> list[tuple[str, str | None]]:
    """Each python block with the output block right after it (None when it has none)."""
    found = [(m.group(1), m.group(2)) for m in BLOCK.finditer(text)]
    pairs: list[tuple[str, str | None]] = []
    for i, (kind, body) in enumerate(found):
        if kind == "python":
            following = found[i + 1] if i + 1 < len(found) else None
            pairs.append((body, following[1] if following and following[0] == "output" else None))
    return pairs


def test_the_page_has_examples() -> None:
    pairs = blocks(PAGE.read_text(encoding="utf-8"))
    assert len(pairs) >= 8
    assert all(out is not None for _, out in pairs), "every example shows what it prints"


def test_every_example_prints_what_the_page_shows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    shutil.copytree(ROOT / "tests" / "data" / "transform", tmp_path / "tests" / "data" / "transform")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "api_docs"}
    for number, (code, expected) in enumerate(blocks(PAGE.read_text(encoding="utf-8")), start=1):
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, f"docs/api.md block {number}", "exec"), namespace)
        assert printed.getvalue() == (expected or ""), f"block {number}:\n{code}"


def test_the_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "Use from Python" block runs from a clone's root and prints what its comments say."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use from Python") :]
    code = BLOCK.search(section)
    assert code is not None and code.group(1) == "python"
    shutil.copytree(ROOT / "samples", tmp_path / "samples")
    shutil.copytree(ROOT / "tests" / "data" / "transform", tmp_path / "tests" / "data" / "transform")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.group(2), "README.md", "exec"), {"__name__": "readme"})
    shown = [
        line.split("# ", 1)[1] for line in code.group(2).splitlines() if line.startswith("print(") and "# " in line
    ]
    lines = printed.getvalue().splitlines()
    assert lines[0] == shown[0]
    assert lines[-1].endswith(shown[1].removeprefix("… "))
    assert (tmp_path / "report.xlsx").is_file() and (tmp_path / "out" / "ready").is_dir()
