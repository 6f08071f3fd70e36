"""One uploaded bundle ("session"): its private folder, its files, its validation and its downloads.

Every session lives in its own folder under the server's private root (0700; files 0600): the
uploaded files in ``in/``, the grid index in ``grid.sqlite``, downloads in ``out/``. The whole
root is deleted when the server stops. Validation runs in a background thread through
``omnimig.validate`` (the CLI's engine), so the page can show its progress; nothing here judges a
value.
"""

from __future__ import annotations

import os
import secrets
import shutil
import threading
import unicodedata
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omnimig import i18n
from omnimig.i18n import _
from omnimig.io.private import open_private, private_dir
from omnimig.serve import ServeError

if TYPE_CHECKING:
    from omnimig.serve.grid import Grid
    from omnimig.validation.result import Report

#: Files one bundle may hold: a bundle is four files, a folder of exports a few dozen.
MAX_FILES = 200
#: Bytes of a file name (most file systems allow 255).
MAX_NAME_BYTES = 200
#: What each download is, by the name it is asked for.
DOWNLOADS = {
    "report.xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "report.json": "application/json",
    "report.csv": "text/csv; charset=utf-8",
    "split.zip": "application/zip",
}


class UploadRefused(ServeError):
    """An upload the session does not take (a bad name, too many files, too many bytes)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def safe_name(raw: str) -> str:
    """The file name to store an upload under: its last path part, printable, never ``.`` or ``..``.

    A browser sends a folder's files as ``folder/users.csv``; a hostile client may send
    ``../../.bashrc`` or ``C:\\x\\users.csv``. Only the last part is kept (both separators), control
    characters are dropped and leading dots removed, so the name can neither leave the session's
    folder nor hide in it. ``UploadRefused`` when nothing usable is left.
    """
    name = unicodedata.normalize("NFC", str(raw)).replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".").strip()
    if not name:
        raise UploadRefused(_("file name {name}: give the file's own name, such as users.csv").format(name=repr(raw)))
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UploadRefused(
            _("file name {name}…: at most {n} bytes").format(name=repr(name[:40]), n=i18n.number(MAX_NAME_BYTES))
        )
    return name


@dataclass
class Progress:
    """What the page shows while a session works: a phase, a line, and done/total for a bar."""

    phase: str = "uploading"  # uploading, validating, done, failed
    text: str = ""
    done: int = 0
    total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"phase": self.phase, "text": self.text, "done": self.done, "total": self.total}


@dataclass
class Session:
    """One bundle: uploaded, then validated once; its report and downloads belong to it alone."""

    id: str
    folder: Path
    max_upload: int
    progress: Progress = field(default_factory=Progress)
    uploaded: int = 0  # bytes received, every file
    names: list[str] = field(default_factory=list)
    report: Report | None = None
    grid: Grid | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    download_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def inputs(self) -> Path:
        return self.folder / "in"

    @property
    def outputs(self) -> Path:
        return self.folder / "out"

    def shown(self, text: str) -> str:
        """``text`` with this session's folder left out of paths: ``users.csv``, as the person named it."""
        return text.replace(f"{self.inputs}{os.sep}", "").replace(str(self.inputs), _("the files"))

    # -- upload ---------------------------------------------------------------------------------
    def reserve(self, raw_name: str, length: int | None) -> Path:
        """The private path for the next uploaded file; refuses what would break a limit."""
        with self.lock:
            if self.progress.phase != "uploading":
                raise UploadRefused(_("this bundle has already been validated; start a new one to add files"), 409)
            if len(self.names) >= MAX_FILES:
                raise UploadRefused(_("at most {n} files in one bundle").format(n=i18n.number(MAX_FILES)), 413)
            if length is not None and self.uploaded + length > self.max_upload:
                raise UploadRefused(self.too_large(), 413)
            name = _unique(safe_name(raw_name), {n.lower() for n in self.names})
            self.names.append(name)
            return self.inputs / name

    def too_large(self) -> str:
        return _("the bundle is larger than the {size} this page takes (omnimig serve --max-upload)").format(
            size=size_text(self.max_upload)
        )

    def received(self, n: int) -> None:
        """Count ``n`` more bytes; ``UploadRefused`` (413) past ``max_upload``."""
        with self.lock:
            if self.uploaded + n > self.max_upload:
                raise UploadRefused(self.too_large(), 413)  # not counted: the caller forgets the part
            self.uploaded += n

    def forget(self, path: Path, size: int) -> None:
        """A refused or broken upload: its part is deleted and not counted."""
        path.unlink(missing_ok=True)
        with self.lock:
            self.uploaded -= size
            if path.name in self.names:
                self.names.remove(path.name)

    # -- validation -----------------------------------------------------------------------------
    def start(self) -> None:
        """Validate the uploaded files in a background thread (once); the page polls ``progress``."""
        with self.lock:
            if self.progress.phase != "uploading":
                return
            if not self.names:
                raise UploadRefused(_("no file uploaded yet: drop the bundle's files or folder first"), 400)
            self.progress = Progress("validating", _("reading the files"))
        threading.Thread(target=self._validate, name=f"omnimig-serve-{self.id[:6]}", daemon=True).start()

    def _validate(self) -> None:
        import omnimig
        from omnimig.serve.grid import Grid

        def read(path: Path, done: int, total: int) -> None:
            self.progress = Progress("validating", _("reading {file}").format(file=path.name), done, total)

        def step(rule: str, done: int, total: int) -> None:
            self.progress = Progress("validating", _("checking {rule}").format(rule=rule), done, total)

        try:
            report = omnimig.validate(self.inputs, progress=read, steps=step)
            grid = Grid(self.folder / "grid.sqlite", report)
        except Exception as exc:  # shown on the page as one line; the server goes on
            self.error = self.shown(_one_line(exc))
            self.progress = Progress("failed", self.error)
            return
        self.report, self.grid = report, grid
        self.progress = Progress("done", _("validated"))
        # The grid's rows are copied in the background: the summary is on screen meanwhile.
        grid.build()

    # -- downloads ------------------------------------------------------------------------------
    def download(self, name: str, progress: Callable[[int, int], None] | None = None) -> Path:
        """The file ``name`` (one of ``DOWNLOADS``), made on first request and kept for the next."""
        report = self.report
        if report is None or name not in DOWNLOADS:
            raise ServeError(_("no download {name} for this bundle").format(name=repr(name)))
        with self.download_lock:
            out = private_dir(self.outputs)
            target = out / name
            if target.exists():
                return target
            if name == "split.zip":
                folder = out / "split"
                report.split(folder)
                with open_private(target.with_suffix(".part"), "wb") as raw, zipfile.ZipFile(raw, "w") as archive:
                    for part in sorted(folder.glob("*/*")):
                        archive.write(part, part.relative_to(folder).as_posix(), zipfile.ZIP_DEFLATED)
                os.replace(target.with_suffix(".part"), target)
            elif name == "report.xlsx":
                written = report.write(out / f"raw-{name}")
                self._shown_in_workbook(written, target)
                written.unlink()
            else:
                written = report.write(out / f"raw-{name}")
                # The reports name the files as the person uploaded them, not by this temporary folder.
                text = written.read_text(encoding="utf-8")
                with open_private(target, "w", encoding="utf-8", newline="") as f:
                    f.write(self.shown(text))
                written.unlink()
            return target

    def _shown_in_workbook(self, source: Path, target: Path) -> None:
        """The workbook with the session's folder left out of every path in it, as ``shown`` does for text.

        A workbook is a zip of XML parts; the folder's name is plain ASCII (no character XML escapes),
        so the parts' text is edited as bytes and every other byte is kept.
        """
        prefix = f"{self.inputs}{os.sep}".encode()
        with (
            zipfile.ZipFile(source) as book,
            open_private(target.with_suffix(".part"), "wb") as raw,
            zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as copy,
        ):
            for item in book.infolist():
                data = book.read(item)
                if item.filename.endswith((".xml", ".vml")):
                    data = data.replace(prefix, b"")
                copy.writestr(item, data, zipfile.ZIP_DEFLATED)
        os.replace(target.with_suffix(".part"), target)


class Sessions:
    """Every session of one server, in its private root folder; ``close`` deletes them all."""

    def __init__(self, root: Path, max_upload: int) -> None:
        self.root = private_dir(root)
        self.max_upload = max_upload
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def new(self) -> Session:
        sid = secrets.token_urlsafe(12)
        folder = private_dir(self.root / sid)
        private_dir(folder / "in")
        session = Session(sid, folder, self.max_upload)
        with self._lock:
            self._sessions[sid] = session
        return session

    def get(self, sid: str) -> Session | None:
        with self._lock:
            return self._sessions.get(sid)

    def drop(self, sid: str) -> bool:
        """Delete one session's files now (the page's "forget these files")."""
        with self._lock:
            session = self._sessions.pop(sid, None)
        if session is None:
            return False
        if session.grid is not None:
            session.grid.close()
        shutil.rmtree(session.folder, ignore_errors=True)
        return True

    def close(self) -> None:
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            if session.grid is not None:
                session.grid.close()
        shutil.rmtree(self.root, ignore_errors=True)


def _unique(name: str, taken: set[str]) -> str:
    """Two files with one name (from two folders) are both kept: ``users.csv``, ``users-2.csv``."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{stem}-{n}{dot}{suffix}"
    return candidate


def size_text(n: int) -> str:
    """``2 GB``, ``500 MB``: a size as the page and its messages show it (powers of 1024, as --max-upload reads it).

    In Turkish the decimal mark is a comma (``1,5 GB``) and ``bytes`` is ``bayt``.
    """
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= factor:
            figure = format(float(f"{n / factor:.3g}"), "g")  # 3 significant digits, never 1e+03
            return f"{figure.replace('.', ',') if i18n.current() == 'tr' else figure} {unit}"
    return _("{n} bytes").format(n=i18n.number(n))


def _one_line(exc: BaseException) -> str:
    from omnimig.exceptions import Error

    if isinstance(exc, Error):
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, OSError):
        return _("cannot read the files: {reason}").format(reason=exc.strerror or exc)
    return _("internal error ({kind}); please report it with the files").format(kind=type(exc).__name__)
