"""``journal.json``: what each file (and each chunk of it) became on Omnitron, so a re-run resumes.

Omnitron has no idempotency key: a second POST of the same file imports it twice. The journal
therefore records ``starting`` *before* each POST, ``started`` with the migration id right after,
and ``finished`` with the final counts. A re-run skips what finished with the same file hash,
polls what started, and refuses a ``starting`` part without an id: only a person looking at
Omnitron can tell whether that POST arrived. Every write is atomic (temp file, fsync, rename),
so a crash leaves either the old journal or the new one, never half of one, and
conflict-checked: the journal carries a ``generation`` that each write bumps, and a write whose
file on disk is no longer the generation it read refuses instead of overwriting another run's
record. Every string in it goes through the run's redaction first (notes quote server answers);
the data is redacted, never the JSON text, so a cut escape cannot leave a journal that is not JSON.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from omnimig.exceptions import UploadError
from omnimig.i18n import _
from omnimig.io.private import write_privately
from omnimig.io.safe_text import visible
from omnimig.uploader.audit import now_iso
from omnimig.uploader.client import MIGRATION_ID
from omnimig.uploader.credentials import map_strings

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
    """The journal of one state folder, for one Omnitron URL and channel.

    ``redact`` is applied to every string (keys too) before the journal is serialised and
    written (the run passes its token's); redacting the serialised text could break its JSON.
    """

    def __init__(self, path: Path, url: str, channel: str, redact: Callable[[str], str] = lambda text: text) -> None:
        self.path = path
        self._redact = redact
        if path.exists():
            try:
                self.data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
                _check_shape(self.data)
            except (OSError, ValueError, RecursionError) as exc:
                line = _("{path}: cannot read the journal ({reason}); move it away to start over")
                raise JournalError(line.format(path=path, reason=visible(str(exc))[:200])) from None
            if self.data.get("url") != url or str(self.data.get("channel")) != channel:
                line = _(
                    "{path} records uploads to {was_url} channel {was_channel}, not {url} channel {channel}; "
                    "use another --state-dir for another shop"
                )
                raise JournalError(
                    line.format(
                        path=path,
                        was_url=visible(str(self.data.get("url")))[:200],
                        was_channel=visible(str(self.data.get("channel")))[:40],
                        url=url,
                        channel=channel,
                    )
                )
        else:
            self.data = {"version": VERSION, "url": url, "channel": channel, "files": {}, "history": []}
        self.generation: int | None = self.data.get("generation", 0) if path.exists() else None

    def _on_disk_generation(self) -> int | None:
        """The generation of the journal file as it is now (``None``: there is none)."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, RecursionError):
            return -1
        return data.get("generation", 0) if isinstance(data, dict) else -1

    def save(self) -> None:
        """Check nobody wrote since we read, then write temp (0600), fsync, rename: atomic on POSIX."""
        if self._on_disk_generation() != self.generation:
            line = _(
                "{path} was changed by another run while this one was using it; this run stops "
                "without writing over it. Check that only one omnimig upload runs on this bundle, then run again"
            )
            raise JournalError(line.format(path=self.path))
        generation = (self.generation or 0) + 1
        self.data["generation"] = generation
        text = json.dumps(map_strings(self.data, self._redact), indent=2, ensure_ascii=False) + "\n"
        write_privately(self.path, text.encode("utf-8"))
        self.generation = generation

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
                if entry["source_sha256"] != plan.source_sha256:
                    line = _(
                        "{file} changed since it was uploaded ({ids}); to send it again, re-run with --restart {type}"
                    )
                else:
                    line = _(
                        "{file} is chunked differently since it was uploaded ({ids}); "
                        "to send it again, re-run with --restart {type}"
                    )
                raise JournalError(line.format(file=plan.file, ids=_ids(entry), type=plan.type))
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
        migration_id = record.get("migration_id")
        if record["state"] == "started" and migration_id:
            if not isinstance(migration_id, str) or not MIGRATION_ID.fullmatch(migration_id):
                line = _(
                    "{path} records migration id {id} for {name}, which is not 1 to 64 letters, digits, '-' or '_' "
                    "and is never put in a URL. Check the {type} migrations in Omnitron, then re-run "
                    "with --restart {type} if it must be sent again"
                )
                raise JournalError(
                    line.format(
                        path=self.path,
                        id=repr(visible(str(migration_id))[:80]),
                        name=visible(str(record.get("name")))[:100],
                        type=type_name,
                    )
                )
            return "poll"
        line = _(
            "{name} was being sent at {when} but no migration id came back ({why}). "
            "Check the {type} migrations in Omnitron: "
            "if it did not arrive, re-run with --restart {type}; if it did, do not send it again"
        )
        why = record.get("note") or _("the run was interrupted")
        raise JournalError(
            line.format(name=visible(str(record.get("name"))), when=record.get("updated"), why=why, type=type_name)
        )

    def mark(self, key: str, part: int, **fields: Any) -> dict[str, Any]:
        """Update one part's record and save the journal at once."""
        parts = self.files[key]["parts"]
        record = parts.setdefault(str(part), {"part": part})
        record.update(fields, updated=now_iso())
        self.save()
        return record


def finished_types(path: Path, url: str, channel: str) -> set[str]:
    """The types of which some file finished uploading to ``url`` channel ``channel``, per the journal at ``path``.

    Read without the run lock and never written: it only informs a warning (a type uploaded
    before its prerequisites). A missing, unreadable or foreign journal records nothing.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        _check_shape(data)
    except (OSError, ValueError, RecursionError):
        return set()
    if data.get("url") != url or str(data.get("channel")) != channel:
        return set()
    done = set()
    for entry in data["files"].values():
        parts = entry["parts"]
        total = entry.get("parts_total") if isinstance(entry.get("parts_total"), int) else len(parts)
        if parts and len(parts) >= total and all(p["state"] == "finished" for p in parts.values()):
            done.add(entry["type"])
    return done


def _check_shape(data: Any) -> None:
    """Raise ``ValueError`` unless ``data`` has the shape this module reads (a damaged or foreign file)."""
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        raise ValueError("not an omnimig journal")
    if not isinstance(data.get("history", []), list) or not isinstance(data.get("generation", 0), int):
        raise ValueError("not an omnimig journal")
    data.setdefault("history", [])
    for key, entry in data["files"].items():
        if not isinstance(entry, dict) or not isinstance(entry.get("parts"), dict):
            raise ValueError(f"entry {key!r} has no parts")
        for field in ("type", "file", "source_sha256"):
            if not isinstance(entry.get(field), str):
                raise ValueError(f"entry {key!r} has no {field}")
        for number, part in entry["parts"].items():
            if not isinstance(part, dict) or part.get("state") not in ("starting", "started", "finished", "failed"):
                raise ValueError(f"entry {key!r} part {number!r} has no known state")
            named = isinstance(part.get("name"), str) and isinstance(part.get("rows"), int)
            if part["state"] != "failed" and not named:
                raise ValueError(f"entry {key!r} part {number!r} has no name or rows")
            counts = part.get("counts")
            if part["state"] == "finished" and not (
                isinstance(counts, dict)
                and all(isinstance(counts.get(k), int) for k in ("total_count", "processed_count", "error_count"))
            ):
                raise ValueError(f"entry {key!r} part {number!r} is finished without counts")


def _ids(entry: dict[str, Any]) -> str:
    ids = [p["migration_id"] for p in entry["parts"].values() if p.get("migration_id")]
    return _("migration {ids}").format(ids=", ".join(ids)) if ids else _("no migration id recorded")
