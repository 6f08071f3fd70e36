"""``journal.json``: what each file (and each chunk of it) became on Omnitron, so a re-run resumes.

Omnitron has no idempotency key: a second POST of the same file imports it twice. The journal
therefore records ``starting`` *before* each POST, ``started`` with the migration id right after,
and ``finished`` with the final counts. A re-run skips what finished with the same file hash,
polls what started, and refuses a ``starting`` part without an id: only a person looking at
Omnitron can tell whether that POST arrived. Every write is atomic (temp file, fsync, rename),
so a crash leaves either the old journal or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnimig.upload.audit import now_iso
from omnimig.upload.client import UploadError

VERSION = 1
Action = Literal["upload", "poll", "skip"]


class JournalError(UploadError):
    """The journal says something a person must decide about (changed file, unknown outcome)."""


@dataclass(frozen=True)
class FileKey:
    """What identifies one planned file: same source bytes and same chunking means same parts."""

    key: str  # "<type>/<file name>"
    type: str
    file: str
    source_sha256: str
    rows: int
    chunk_rows: int | None
    parts: int


class Journal:
    """The journal of one state folder, for one Omnitron URL and channel."""

    def __init__(self, path: Path, url: str, channel: str) -> None:
        self.path = path
        if path.exists():
            try:
                self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise JournalError(f"{path}: cannot read the journal ({exc}); move it away to start over") from None
            if self.data.get("url") != url or str(self.data.get("channel")) != channel:
                raise JournalError(
                    f"{path} records uploads to {self.data.get('url')} channel {self.data.get('channel')}, "
                    f"not {url} channel {channel}; use another --state-dir for another shop"
                )
        else:
            self.data = {"version": VERSION, "url": url, "channel": channel, "files": {}, "history": []}

    def save(self) -> None:
        """Write temp, fsync, rename: atomic on POSIX and Windows."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            json.dump(self.data, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable
            fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @property
    def files(self) -> dict[str, Any]:
        return self.data["files"]

    def restart(self, type_name: str) -> list[str]:
        """Forget every file of ``type_name`` (kept under ``history``); returns the keys dropped."""
        dropped = [k for k, v in self.files.items() if v["type"] == type_name]
        for key in dropped:
            entry = self.files.pop(key)
            entry["restarted_at"] = now_iso()
            self.data["history"].append(entry)
        return dropped

    def prepare(self, plan: FileKey) -> None:
        """Check ``plan`` against what the journal holds and make an entry for it.

        Raises ``JournalError`` when the file changed (or is chunked differently) since parts of
        it were sent: re-sending needs an explicit ``--restart TYPE``.
        """
        entry = self.files.get(plan.key)
        if entry is not None:
            same = entry["source_sha256"] == plan.source_sha256 and entry.get("chunk_rows") == plan.chunk_rows
            if not same and any(p["state"] != "failed" for p in entry["parts"].values()):
                what = "changed" if entry["source_sha256"] != plan.source_sha256 else "is chunked differently"
                raise JournalError(
                    f"{plan.file} {what} since it was uploaded ({_ids(entry)}); "
                    f"to send it again, re-run with --restart {plan.type}"
                )
            if same:
                return
        self.files[plan.key] = {
            "type": plan.type,
            "file": plan.file,
            "source_sha256": plan.source_sha256,
            "rows": plan.rows,
            "chunk_rows": plan.chunk_rows,
            "parts_total": plan.parts,
            "parts": {},
        }

    def part(self, key: str, part: int) -> dict[str, Any] | None:
        return self.files[key]["parts"].get(str(part))

    def action(self, key: str, part: int, type_name: str) -> Action:
        """What a run does with one part: upload it, poll it, or skip it."""
        record = self.part(key, part)
        if record is None or record["state"] == "failed":
            return "upload"
        if record["state"] == "finished":
            return "skip"
        if record["state"] == "started" and record.get("migration_id"):
            return "poll"
        raise JournalError(
            f"{record['name']} was being sent at {record.get('updated')} but no migration id came back "
            f"({record.get('note') or 'the run was interrupted'}). Check the {type_name} migrations in Omnitron: "
            f"if it did not arrive, re-run with --restart {type_name}; if it did, do not send it again"
        )

    def mark(self, key: str, part: int, **fields: Any) -> dict[str, Any]:
        """Update one part's record and save the journal at once."""
        parts = self.files[key]["parts"]
        record = parts.setdefault(str(part), {"part": part})
        record.update(fields, updated=now_iso())
        self.save()
        return record


def _ids(entry: dict[str, Any]) -> str:
    ids = [p["migration_id"] for p in entry["parts"].values() if p.get("migration_id")]
    return "migration " + ", ".join(ids) if ids else "no migration id recorded"
