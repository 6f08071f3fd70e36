"""The README runs as written: every ```console block is executed and prints what the README shows.

A ```console block holds one or more ``$ command`` lines (a line ending in ``\\`` continues on the
next), each followed by the output the README promises: stdout and stderr as a terminal shows
them (the commands run with ``2>&1`` and unbuffered output, so the lines come in program order).
Elisions, documented in the README: a line ``…`` stands for any number of lines; a line ending in
``…`` matches any line that starts with the text before it.

The blocks of a page run in order, in one temporary folder laid out like a clone's root
(``samples/``, ``examples/``, ``tests/data/`` copied; ``omnimig/`` linked for the shipped mapping
files), so an example may use what an earlier one on its page wrote, and nothing is written into
the clone. Each page gets its own folder and test (a reader follows one page from a fresh clone),
so the pages run side by side under xdist instead of as one long test. ``sh``/plain
fenced blocks (synopses, JSON shapes, the upload walkthrough against a server) are not run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "docs" / "mapping.md", ROOT / "docs" / "i18n.md"]
BLOCK = re.compile(r"^```console\n(.*?)^```$", re.S | re.M)


@dataclass
class Example:
    page: str
    line: int  # 1-based line of the ``$`` command
    command: str
    expected: list[str]
    lines: int = 1  # lines the command takes (continuations)


def examples(page: Path) -> list[Example]:
    text = page.read_text(encoding="utf-8")
    found: list[Example] = []
    for block in BLOCK.finditer(text):
        first_line = text[: block.start()].count("\n") + 2
        lines = block.group(1).splitlines()
        i = 0
        while i < len(lines):
            if not lines[i].startswith("$ "):
                raise AssertionError(f"{page.name}:{first_line + i}: a console block starts each command with '$ '")
            start = i
            command = lines[i][2:]
            while command.endswith("\\"):
                i += 1
                command = command[:-1] + " " + lines[i].strip()
            i += 1
            output: list[str] = []
            while i < len(lines) and not lines[i].startswith("$ "):
                output.append(lines[i].rstrip())
                i += 1
            found.append(Example(page.name, first_line + start, command, output, i - start - len(output)))
    return found


def matches(expected: list[str], actual: list[str]) -> bool:
    """``actual`` fits ``expected`` with the README's elisions (``…`` lines and ``…`` line ends)."""
    if not expected:
        return not actual
    head, rest = expected[0], expected[1:]
    if head == "…":
        return any(matches(rest, actual[k:]) for k in range(len(actual) + 1))
    if not actual:
        return False
    line = actual[0]
    same = line.startswith(head[:-1]) if head.endswith("…") else line == head
    return same and matches(rest, actual[1:])


def test_the_readme_has_console_examples() -> None:
    found = [e for page in PAGES for e in examples(page)]
    assert len(found) >= 10
    assert all(e.command.startswith(("omnimig ", "cat ", "cut ", "ls ", "head ", "tail ", "grep ")) for e in found)


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A fresh folder laid out like a clone's root, for one page's examples."""
    here = tmp_path / "clone"
    for part in ("samples", "examples", "tests/data"):
        shutil.copytree(ROOT / part, here / part)
    (here / "omnimig").symlink_to(ROOT / "omnimig")
    return here


def run(command: str, cwd: Path) -> list[str]:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        "COLUMNS": "80",
        "TERM": "dumb",
        "NO_COLOR": "1",
    }
    env.pop("OMNIMIG_DEBUG", None)
    out = subprocess.run(
        ["bash", "-c", f"exec 2>&1\n{command}"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    # Trailing spaces (rich pads table titles) are not part of what a reader compares.
    return [line.rstrip() for line in out.stdout.rstrip("\n").splitlines()] if out.stdout.strip() else []


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_console_example_prints_what_the_readme_shows(page: Path, clone: Path) -> None:
    failures = []
    for example in examples(page):
        actual = run(example.command, clone)
        if not matches(example.expected, actual):
            failures.append(
                f"{example.page}:{example.line}: $ {example.command}\n--- README shows:\n"
                + "\n".join(example.expected)
                + "\n--- it prints:\n"
                + "\n".join(actual)
            )
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        (["a", "…", "d"], ["a", "b", "c", "d"], True),
        (["a", "…"], ["a"], True),
        (["ab…"], ["abc"], True),
        (["ab…"], ["a"], False),
        (["a", "d"], ["a", "b", "d"], False),
        ([], ["x"], False),
    ],
)
def test_elisions(expected: list[str], actual: list[str], ok: bool) -> None:
    assert matches(expected, actual) is ok


def update(page: Path = PAGES[0]) -> None:
    """Rewrite the output under each command that no longer matches with what it prints now.

    ``python tests/test_readme.py`` after a change of output; then read the diff, and put back an
    elision (``…``) where a long output should stay short.
    """
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        here = Path(tmp)
        for part in ("samples", "examples", "tests/data"):
            shutil.copytree(ROOT / part, here / part)
        (here / "omnimig").symlink_to(ROOT / "omnimig")
        lines = page.read_text(encoding="utf-8").split("\n")
        replacements = []
        for example in examples(page):
            actual = run(example.command, here)
            if not matches(example.expected, actual):
                start = example.line - 1 + example.lines
                replacements.append((start, start + len(example.expected), actual))
        for start, end, actual in reversed(replacements):
            lines[start:end] = actual
        page.write_text("\n".join(lines), encoding="utf-8")
        print(f"{page.name}: {len(replacements)} outputs rewritten")


if __name__ == "__main__":
    for page in PAGES:
        update(page)
