"""Customer data is written private whatever the umask: files 0600, folders 0700, parents left alone."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from omnimig.io.private import make_private, open_private, private_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_and_folders_are_private_under_a_permissive_umask(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    old = os.umask(0)
    try:
        folder = private_dir(tmp_path / "a" / "b")
        with open_private(folder / "x.csv", "w", encoding="utf-8") as handle:
            handle.write("data")
        with open_private(folder / "x.csv", "a", encoding="utf-8") as handle:
            handle.write("more")
        other = folder / "y.bin"
        other.write_bytes(b"")
        make_private(other)
    finally:
        os.umask(old)
    assert mode(tmp_path / "a") == 0o700 and mode(folder) == 0o700
    assert mode(folder / "x.csv") == 0o600 and mode(other) == 0o600
    assert (folder / "x.csv").read_text(encoding="utf-8") == "datamore"
    assert mode(tmp_path) == 0o755  # the parent we did not make keeps its mode


def test_an_existing_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{}", encoding="utf-8")
    path.chmod(0o644)
    with open_private(path, "w", encoding="utf-8") as handle:
        handle.write("[]")
    assert mode(path) == 0o600
    assert path.read_text(encoding="utf-8") == "[]"


def test_a_write_is_all_or_nothing_and_private(tmp_path: Path) -> None:
    from omnimig.io.private import replaced_privately, write_privately

    path = tmp_path / "journal.json"
    write_privately(path, b"first")
    assert path.read_bytes() == b"first" and mode(path) == 0o600
    try:
        with replaced_privately(path, durable=True) as temp:
            temp.write_bytes(b"half")
            raise RuntimeError("crash halfway")
    except RuntimeError:
        pass
    assert path.read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["journal.json"]  # no temporary left behind
