"""The output folder of a transform: what may be written there, replaced, or removed, and how.

A transform writes a bundle (``user.csv`` … ``order_item.csv``, ``rejects.csv``,
``warnings.csv``) into ``--out DIR``. A person may point DIR at a folder that holds their export,
other work, or an earlier run; the bundle must never cost them a file. The rules:

- DIR must be new, empty, or one omnimig made: the manifest ``DIR/.omnimig-transform.json``
  lists the files a run wrote and proves the folder is omnimig's. A non-empty folder without
  it is refused unless ``--force``.
- A re-run may replace or remove only files its manifest lists (and only names a transform
  writes, whatever a manifest says); any other file there is left as it is. A file with a
  bundle name that omnimig did not write is refused, even with ``--force``: replacing it would
  lose it, and leaving it would mix a stranger's file into the bundle.
- An input (or the mapping file) is never written over: same resolved path, same file
  (``os.path.samefile``: hard links, symlinks, a case-insensitive disk), refused even with
  ``--force``.
- Each file is written to a private temporary file beside its target and moved into place with
  ``os.replace``, so an interrupted run leaves no half file; the manifest is updated before the
  first move (listing old and new files) and after the last, so every file of ours is always
  listed. Files and folder are customer data: 0600 and 0700.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from omnimig.exceptions import TransformError
from omnimig.i18n import _
from omnimig.io.paths import TRANSFORM_LOGS, same_file
from omnimig.io.private import make_private, private_dir, write_privately
from omnimig.io.safe_text import visible
from omnimig.io.write import SUFFIX
from omnimig.transforms.records import TARGETS

MANIFEST = ".omnimig-transform.json"
WRITTEN_BY = "omnimig transform"
LOGS = TRANSFORM_LOGS
PARTIAL = ".omnimig-partial-"
#: A manifest larger than this is not one omnimig wrote (it lists at most a dozen names).
MANIFEST_MAX_BYTES = 64 * 1024


def bundle_names() -> tuple[str, ...]:
    """Every name a transform may write into DIR: each type in each format, and the two logs."""
    return (*(f"{t}{s}" for t in TARGETS for s in dict.fromkeys(SUFFIX.values())), *LOGS)


@dataclass(frozen=True)
class OutFolder:
    """A checked output folder and the files in it that an earlier run wrote (which may be replaced)."""

    path: Path
    owned: frozenset[str]


def _shown(path: Path) -> str:
    return visible(str(path))


def read_manifest(folder: Path) -> frozenset[str] | None:
    """The names an earlier run listed, limited to bundle names; ``None`` when there is no valid manifest."""
    path = folder / MANIFEST
    try:
        if not path.is_file() or path.stat().st_size > MANIFEST_MAX_BYTES:
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("written_by") != WRITTEN_BY or not isinstance(data.get("files"), list):
        return None
    allowed = set(bundle_names())
    # Defence in depth: a manifest edited to list "thesis.docx" still cannot make omnimig remove it.
    return frozenset(n for n in data["files"] if isinstance(n, str) and n in allowed)


def prepare(out: Path, protected: Iterable[Path], force: bool = False) -> OutFolder:
    """Check ``out`` before anything is read or written; raise ``TransformError`` (one line) when unsafe.

    ``protected`` are the inputs and the mapping file: never written over, even with ``force``.
    """
    if out.exists() and not out.is_dir():
        raise TransformError(
            _("{folder}: exists and is not a folder; --out names the folder for the bundle").format(folder=_shown(out))
        )
    targets = [out / n for n in (*bundle_names(), MANIFEST)]
    for source in protected:
        for target in targets:
            if same_file(source, target):
                raise TransformError(
                    _(
                        "{file} would overwrite the input {input}; choose another --out folder "
                        "(omnimig never writes over an input, even with --force)"
                    ).format(file=_shown(target), input=_shown(source))
                )
    if not out.exists():
        return OutFolder(out, frozenset())
    owned = read_manifest(out)
    try:
        empty = next(out.iterdir(), None) is None
    except OSError as exc:
        raise TransformError(
            _("{folder}: cannot list the folder ({reason})").format(folder=_shown(out), reason=exc.strerror or exc)
        ) from None
    if owned is None:
        if not empty and not force:
            raise TransformError(
                _(
                    "{folder}: the folder is not empty and omnimig did not create it (it has no {manifest}); "
                    "choose a new or empty folder, or add --force to write beside the files in it "
                    "(omnimig never replaces or deletes a file it did not write)"
                ).format(folder=_shown(out), manifest=MANIFEST)
            )
        owned = frozenset()
    for name in bundle_names():
        target = out / name
        if name not in owned and (target.exists() or target.is_symlink()):
            raise TransformError(
                _(
                    "{file}: exists and omnimig did not write it; move it away or choose another --out "
                    "folder (omnimig never replaces a file it did not write, even with --force)"
                ).format(file=_shown(target))
            )
    return OutFolder(out, owned)


def _write_manifest(folder: Path, names: Iterable[str]) -> None:
    body = json.dumps({"written_by": WRITTEN_BY, "version": 1, "files": sorted(set(names))}, indent=1) + "\n"
    write_privately(folder / MANIFEST, body.encode("utf-8"))


def write_bundle(folder: OutFolder, writers: dict[str, Callable[[Path], None]]) -> dict[str, Path]:
    """Write each ``name -> writer(path)`` atomically; remove what the last run wrote and this one did not.

    Returns name -> final path. On any failure the temporary files go and the files already in
    place stay listed in the manifest, so the next run can replace them.
    """
    out = private_dir(folder.path)
    temps: dict[str, Path] = {}
    try:
        for name, writer in writers.items():
            fd, temp_name = tempfile.mkstemp(dir=out, prefix=PARTIAL, suffix="-" + name)  # 0600, a fresh name
            os.close(fd)
            temps[name] = Path(temp_name)
            writer(temps[name])
            make_private(temps[name])  # a library may have made its own file (xlsxwriter)
        _write_manifest(out, folder.owned | set(writers))
        placed: dict[str, Path] = {}
        for name, tmp in temps.items():
            target = out / name
            if name not in folder.owned and (target.exists() or target.is_symlink()):  # appeared meanwhile
                raise TransformError(
                    _(
                        "{file}: appeared while omnimig was writing and omnimig did not write it; it was left as it is"
                    ).format(file=_shown(target))
                )
            os.replace(tmp, target)
            placed[name] = target
        for name in sorted(folder.owned - set(writers)):  # an earlier run's files this run does not write
            with contextlib.suppress(FileNotFoundError, IsADirectoryError, PermissionError):
                (out / name).unlink()
        _write_manifest(out, writers)
        return placed
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
