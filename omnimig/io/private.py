"""Files and folders that hold customer data are created private: 0600 and 0700, whatever the umask.

Migration files carry every customer's name, email, phone and address. Anything omnimig writes
from them (split parts, reports, transform output, upload state) goes through these helpers, so
no other user of a shared machine can read it. Existing files and folders are tightened too.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from omnimig.exceptions import WriteError

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; tighten it if it exists. Returns ``path``."""
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by someone else: tightened below
            folder.mkdir(mode=DIR_MODE)
    # Only the folders we made, and the target itself, are tightened: never the user's parents.
    for folder in {*missing, path}:
        os.chmod(folder, DIR_MODE)
    return path


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open(path, mode)``, the file created 0600 (or tightened to 0600 when it exists)."""
    flags = os.O_WRONLY | os.O_CREAT
    if "a" in mode:
        flags |= os.O_APPEND
    elif "x" in mode:
        flags |= os.O_EXCL
    else:
        flags |= os.O_TRUNC
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        return os.fdopen(fd, mode.replace("x", "w"), **kwargs)
    except BaseException:
        os.close(fd)
        raise


@contextlib.contextmanager
def replaced_privately(path: Path, *, durable: bool = False) -> Iterator[Path]:
    """A private (0600) temporary path beside ``path`` that replaces it only when the block succeeds.

    A report or output that fails halfway (a full disk, an unexpected error) never leaves a
    truncated file under the name a person will open, nor destroys the file that was there.
    ``durable`` also flushes the file and the rename to disk (``fsync``), for state a crash must
    not lose or tear: the upload journal, the copies of what was sent.
    """
    folder = path.parent if str(path.parent) else Path(".")
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part" + path.suffix, dir=folder)
    os.close(fd)
    temp = Path(name)
    try:
        os.chmod(temp, FILE_MODE)
        yield temp
        os.chmod(temp, FILE_MODE)  # a library may have re-created it with its own mode
        if durable:
            _fsync(temp, os.O_RDONLY)
        os.replace(temp, path)
        if durable and hasattr(os, "O_DIRECTORY"):
            _fsync(folder, os.O_RDONLY | os.O_DIRECTORY)
    finally:
        temp.unlink(missing_ok=True)


def write_privately(path: Path, data: bytes) -> None:
    """``data`` into ``path`` as one durable step: all of it or nothing, 0600 (see ``replaced_privately``)."""
    with replaced_privately(path, durable=True) as temp:
        temp.write_bytes(data)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_private(path: Path) -> Path:
    """Tighten a file someone else's library created (xlsxwriter writes its own file) to 0600."""
    os.chmod(path, FILE_MODE)
    return path


@contextlib.contextmanager
def writing(out: str | bytes | os.PathLike[str], what: str = "write") -> Iterator[None]:
    """What the system refuses while writing into ``out`` (no such folder, a file in the way, no
    permission, a full disk) as a ``WriteError`` naming ``out`` — not an ``OSError`` naming a
    temporary file the person never chose. ``what`` says what was being written."""
    try:
        yield
    except OSError as exc:
        raise WriteError(f"{os.fsdecode(out)}: cannot {what}: {exc.strerror or exc}") from exc
