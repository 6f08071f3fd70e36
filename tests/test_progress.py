"""The validate progress bar: on stderr, for large files, only on a terminal, gone afterwards."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from omnimig.cli import app
from omnimig.validation.progress import FileProgress
from omnimig.validation.run import validate_paths

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"


def many_users(folder: Path, rows: int) -> Path:
    """A user.csv of ``rows`` valid-looking rows (the committed sample's first row, renumbered)."""
    lines = (SAMPLES / "user.csv").read_text(encoding="utf-8").splitlines()
    header, first = lines[0], lines[1].split(",")
    code = header.split(",").index("customer_code")
    email = header.split(",").index("email")
    body = []
    for i in range(rows):
        cells = list(first)
        cells[code], cells[email] = f"C{i}", f"u{i}@example.com"
        body.append(",".join(cells))
    path = folder / "user.csv"
    path.write_text("\n".join([header, *body]) + "\n", encoding="utf-8")
    return path


def test_hook_sees_every_file_grow_to_its_size(tmp_path: Path) -> None:
    path = many_users(tmp_path, 50)
    shutil.copy(SAMPLES / "order_item.json", tmp_path / "order_item.json")
    calls: list[tuple[str, int, int]] = []
    validate_paths([tmp_path], chunk_rows=7, progress=lambda p, done, total: calls.append((p.name, done, total)))
    by_file: dict[str, list[tuple[int, int]]] = {}
    for name, done, total in calls:
        by_file.setdefault(name, []).append((done, total))
    assert set(by_file) == {"user.csv", "order_item.json"}
    steps = by_file["user.csv"]
    assert len(steps) > 2  # one call per chunk of 7 rows, then the end
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)
    assert steps[-1] == (path.stat().st_size, path.stat().st_size)
    size = (tmp_path / "order_item.json").stat().st_size
    assert by_file["order_item.json"][-1] == (size, size)


def test_bar_is_drawn_on_a_terminal_for_files_above_the_threshold(tmp_path: Path) -> None:
    path = many_users(tmp_path, 20)
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with FileProgress(console, threshold=0) as hook:
        validate_paths([path], chunk_rows=5, progress=hook)
        assert hook.tasks  # a bar for user.csv
    assert "validating user.csv" in out.getvalue()


def test_small_files_get_no_bar(tmp_path: Path) -> None:
    path = many_users(tmp_path, 20)
    out = io.StringIO()
    with FileProgress(Console(file=out, force_terminal=True), threshold=path.stat().st_size + 1) as hook:
        validate_paths([path], progress=hook)
        assert not hook.tasks
    assert "validating" not in out.getvalue()


def test_silent_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    path = many_users(tmp_path, 20)
    out = io.StringIO()
    with FileProgress(Console(file=out), threshold=0) as hook:
        assert not hook.enabled
        validate_paths([path], chunk_rows=5, progress=hook)
    assert out.getvalue() == ""


def test_cli_output_has_no_bar_when_not_on_a_terminal(tmp_path: Path) -> None:
    path = many_users(tmp_path, 20)
    result = CliRunner().invoke(app, ["validate", "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    assert "validating" not in result.output
    assert result.stdout.lstrip().startswith("{")
