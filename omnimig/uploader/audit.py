"""``audit.jsonl``: every request and answer of an upload run, with the exact bytes sent.

Akinon reports only counts and keeps no error details, so this log is the only way to tell
later what was sent when a migration went wrong. One JSON line per exchange; the token (and any
credential a server echoes) is replaced by ``***`` before anything touches the disk. The log and
the copies hold customer data, so they are created 0600 in 0700 folders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from omnimig.io.private import make_private, open_private, private_dir, write_privately
from omnimig.uploader.client import Answer
from omnimig.uploader.credentials import Token

#: Response bodies longer than this are cut in the log (the progress answers are tiny).
MAX_BODY_CHARS = 65_536
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"})


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers as logged: credentials become ``Token ***`` (or ``***``), everything else is kept."""
    out = {}
    for key, value in headers.items():
        if key.lower() in SECRET_HEADERS:
            scheme = value.split(" ", 1)[0] if " " in value else ""
            value = f"{scheme} ***" if scheme else "***"
        out[key] = value
    return out


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    """Append-only log in ``state_dir/audit.jsonl`` plus ``state_dir/sent/<sha256>`` copies."""

    def __init__(self, state_dir: Path, token: Token) -> None:
        self.path = state_dir / "audit.jsonl"
        self.sent_dir = state_dir / "sent"
        self._token = token
        private_dir(state_dir)

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r})"

    def keep_sent(self, data: bytes, digest: str) -> str:
        """Store the bytes about to be sent under their hash; returns the path relative to the state dir."""
        private_dir(self.sent_dir)
        target = self.sent_dir / digest
        if target.exists():
            make_private(target)
        else:
            write_privately(target, data)
        return f"sent/{digest}"

    def exchange(
        self,
        method: str,
        url: str,
        request_headers: Mapping[str, str],
        *,
        response: Answer | None = None,
        error: str | None = None,
        upload: dict[str, Any] | None = None,
        attempt: int = 1,
    ) -> None:
        """One line for one request: what went out, and what came back (or why nothing did)."""
        line: dict[str, Any] = {
            "time": now_iso(),
            "method": method,
            "url": url,
            "attempt": attempt,
            "request_headers": redact_headers(request_headers),
        }
        if upload is not None:
            line["upload"] = upload
        if response is not None:
            line["status"] = response.status_code
            line["response_headers"] = redact_headers(response.headers)
            text = response.text
            try:
                line["response_body"] = response.json() if len(text) <= MAX_BODY_CHARS else text[:MAX_BODY_CHARS]
            except (ValueError, RecursionError):
                line["response_body"] = text[:MAX_BODY_CHARS]
        else:
            line["status"] = None
            line["error"] = error
        self.note(line)

    def _shown(self, value: Any) -> str:
        """A value json cannot hold (or nests too deep for it) as redacted text."""
        try:
            text = str(value)
        except RecursionError:
            text = f"<{type(value).__name__} nested too deep to show>"
        return self._token.redact(text)

    def note(self, line: dict[str, Any]) -> None:
        """Append one line (also used for run events: start, skip, stop)."""
        line.setdefault("time", now_iso())
        # The data is redacted, then serialised: redacting the JSON text could cut an escape
        # (``\\"``) in half and leave a line that is no longer JSON.
        try:
            text = json.dumps(self._token.redact_data(line), ensure_ascii=False, default=self._shown)
        except (ValueError, RecursionError):  # an answer nested too deep for json: keep it as text
            flat = {str(k): self._shown(v) for k, v in line.items()}
            text = json.dumps(flat, ensure_ascii=False)
        with open_private(self.path, "a", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
