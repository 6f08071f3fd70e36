"""A stand-in for Omnitron's two migration endpoints, for tests and for trying ``omnimig upload`` safely.

Standard library only (``http.server`` on a thread), so it runs anywhere Python does. It checks
what the real importer needs (the token, a multipart body with one file in field ``file``),
records every request, counts the rows of each uploaded file, and can misbehave on purpose:
HTTP errors, 429 with Retry-After, 5xx, dropped connections, slow progress, mixed-case keys
(``Error_count``), migrations that report errors, answers that echo the caller's token, requests
that are accepted and never answered, and answers far too big. It is bounded: it listens on
127.0.0.1 by default, a hung request is released when the server stops (or after ``HANG_LIMIT``
seconds), and an oversized answer is at most ``MAX_FAULT_BYTES``.

    python -m omnimig.uploader.fake_server --port 8765 --token T [--errors order=1] [--polls 3]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The longest a ``hang`` fault holds a request, even if nobody stops the server.
HANG_LIMIT = 60.0
#: The most bytes a ``body_bytes`` fault sends.
MAX_FAULT_BYTES = 64 << 20
START = re.compile(r"^/api/v1/remote/(?P<channel>[^/]+)/migrations/start/(?P<type>[^/]+)/$")
PROGRESS = re.compile(r"^/api/v1/remote/(?P<channel>[^/]+)/migrations/(?P<id>[^/]+)/progress/$")


@dataclass(frozen=True)
class Fault:
    """One scripted misbehaviour, used once by the next request of its endpoint.

    ``status``: answer with this status (and ``headers``/``body``) instead of the real answer.
    ``drop``: read the request, then close the connection without answering. ``accept`` makes a
    dropped or failed start still create the migration, like a server that crashed after queuing.
    ``delay``: wait this many seconds before doing the rest. ``hang``: accept the request and
    never answer, until the server stops or ``release()`` is called. ``echo``: answer ``status``
    (401 when not given) with the caller's Authorization value in the body, cut and whole, and in
    two headers, as careless servers and proxies do. ``body_bytes``: answer ``status`` (200) with
    a body of that many bytes.
    """

    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    drop: bool = False
    accept: bool = False
    delay: float = 0.0
    hang: bool = False
    echo: bool = False
    body_bytes: int = 0


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    kind: str  # start, progress, other
    status: int | None = None  # None: dropped
    type: str | None = None
    channel: str | None = None
    file_name: str | None = None
    file_bytes: bytes | None = None
    migration_id: str | None = None
    #: The client's (host, port): two requests with one peer came over one connection.
    peer: tuple[str, int] | None = None


@dataclass
class Migration:
    id: str
    type: str
    channel: str
    file_name: str
    rows: int
    errors: int
    polls: int = 0


def count_rows(name: str, data: bytes) -> int:
    """Data rows of an uploaded file, as an importer would count them."""
    lower = name.lower()
    if lower.endswith(".json"):
        value = json.loads(data.decode("utf-8-sig"))
        return len(value) if isinstance(value, list) else 1
    if lower.endswith((".xlsx", ".xlsm")):
        with zipfile.ZipFile(io.BytesIO(data)) as book:
            sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
        return max(0, len(re.findall(r"<row[ >]", sheet)) - 1)
    text = data.decode("utf-8-sig", errors="replace")
    return max(0, sum(1 for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)) - 1)


class FakeOmnitron:
    """The server. Use as a context manager; ``url`` is its base URL."""

    def __init__(
        self,
        token: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        polls_to_finish: int = 1,
        errors: dict[str, int] | None = None,
        mixed_case: bool = False,
        verbose: bool = False,
        keep_alive: bool = False,
    ) -> None:
        """``keep_alive`` speaks HTTP/1.1 and keeps each connection open for the next request, as a
        real server does; by default every answer closes its connection (HTTP/1.0)."""
        self.token = token
        self.polls_to_finish = max(1, polls_to_finish)
        self.errors = dict(errors or {})
        self.mixed_case = mixed_case
        self.verbose = verbose
        self.requests: list[Recorded] = []
        self.migrations: dict[str, Migration] = {}
        self.problems: list[str] = []
        self.faults: dict[str, list[Fault]] = {"start": [], "progress": []}
        self.lock = threading.Lock()
        self.wake = threading.Event()  # releases hung requests
        self.httpd = ThreadingHTTPServer((host, port), _handler(self, keep_alive))
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def script(self, kind: str, *faults: Fault) -> None:
        """Queue faults for the next requests of ``kind`` (``start`` or ``progress``)."""
        with self.lock:
            self.faults[kind].extend(faults)

    def starts(self) -> list[Recorded]:
        return [r for r in self.requests if r.kind == "start"]

    def start(self) -> FakeOmnitron:
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Let every hung request go (they are then closed without an answer)."""
        self.wake.set()

    def stop(self) -> None:
        self.wake.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeOmnitron:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_fault(self, kind: str) -> Fault | None:
        with self.lock:
            return self.faults[kind].pop(0) if self.faults[kind] else None

    def progress_body(self, m: Migration) -> dict[str, int]:
        m.polls += 1
        if m.polls >= self.polls_to_finish:
            errors = min(m.errors, m.rows)
            processed = m.rows - errors
        else:
            errors = 0
            processed = m.rows * m.polls // self.polls_to_finish
        if self.mixed_case:
            return {"Processed_count": processed, "Error_count": errors, "total_count": m.rows}
        return {"total_count": m.rows, "error_count": errors, "processed_count": processed}


def _handler(server: FakeOmnitron, keep_alive: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1" if keep_alive else "HTTP/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            if server.verbose:
                sys.stderr.write("fake-omnitron: " + (format % args) + "\n")

        def _read(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _answer(self, record: Recorded, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            record.status = status
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def _flood(self, record: Recorded, status: int, size: int) -> None:
            record.status = status
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b" " * 65536
            try:
                while size > 0:
                    self.wfile.write(block[:size])
                    size -= len(block)
            except OSError:  # the client stopped reading: that is what a cap does
                pass
            self.close_connection = True

        def _record(self, kind: str, body: bytes) -> Recorded:
            record = Recorded(self.command, self.path, dict(self.headers.items()), body, kind)
            record.peer = (str(self.client_address[0]), int(self.client_address[1]))
            with server.lock:
                server.requests.append(record)
            return record

        def _authorised(self, record: Recorded) -> bool:
            if self.headers.get("Authorization") == f"Token {server.token}":
                return True
            self._answer(record, 401, {"detail": "Invalid token."})
            return False

        def _fault(self, record: Recorded, fault: Fault | None) -> bool:
            """Apply a scripted fault; True when the request was answered (or dropped) by it."""
            if fault is None:
                return False
            if fault.delay:
                time.sleep(fault.delay)
            if fault.hang:
                server.wake.wait(HANG_LIMIT)
                self.close_connection = True
                return True
            if fault.drop:
                self.close_connection = True
                return True
            if fault.echo:
                auth = self.headers.get("Authorization", "")
                secret = auth.split(" ", 1)[-1]
                body = {"detail": f"Invalid token. You sent: {auth}", "cut": f"Token {secret[:8]}…", "raw": secret}
                headers = {"X-Echo-Authorization": auth, "WWW-Authenticate": f'Token realm="{secret}"'}
                self._answer(record, fault.status or 401, body, headers)
                return True
            if fault.body_bytes:
                self._flood(record, fault.status or 200, min(fault.body_bytes, MAX_FAULT_BYTES))
                return True
            if fault.status is not None:
                self._answer(record, fault.status, fault.body if fault.body is not None else {}, fault.headers)
                return True
            return False

        def do_POST(self) -> None:
            body = self._read()
            match = START.match(self.path)
            record = self._record("start" if match else "other", body)
            if not match:
                self._answer(record, 404, {"detail": "Not found."})
                return
            record.type, record.channel = match["type"], match["channel"]
            fault = server.next_fault("start")
            if not self._authorised(record):
                return
            upload, problem = _file_part(self.headers.get("Content-Type", ""), body)
            if problem:
                server.problems.append(problem)
                self._answer(record, 400, {"file": [problem]})
                return
            assert upload is not None
            record.file_name, record.file_bytes = upload
            if fault is not None and not fault.accept and self._fault(record, fault):
                return
            m = Migration(
                uuid.uuid4().hex,
                match["type"],
                match["channel"],
                upload[0],
                count_rows(*upload),
                server.errors.get(match["type"], 0),
            )
            with server.lock:
                server.migrations[m.id] = m
            record.migration_id = m.id
            if fault is not None and fault.accept and self._fault(record, fault):
                return
            self._answer(record, 200, {"migration_id": m.id})

        def do_GET(self) -> None:
            match = PROGRESS.match(self.path)
            record = self._record("progress" if match else "other", b"")
            if not match:
                self._answer(record, 404, {"detail": "Not found."})
                return
            record.migration_id, record.channel = match["id"], match["channel"]
            if self._fault(record, server.next_fault("progress")) or not self._authorised(record):
                return
            m = server.migrations.get(match["id"])
            if m is None:
                self._answer(record, 404, {"detail": "Not found."})
                return
            self._answer(record, 200, server.progress_body(m))

    return Handler


def _file_part(content_type: str, body: bytes) -> tuple[tuple[str, bytes] | None, str | None]:
    """The one file of a multipart body, or what is wrong with the body's shape."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        return None, f"expected a multipart/form-data upload, got Content-Type {content_type or '(none)'}"
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    if not message.is_multipart():
        return None, "the multipart body could not be parsed"
    parts = list(message.iter_parts())
    names = [p.get_param("name", header="content-disposition") for p in parts]
    if names != ["file"]:
        return None, f"expected exactly one form field named 'file', got {names}"
    filename = parts[0].get_filename()
    if not filename:
        return None, "the 'file' field carries no filename"
    payload = parts[0].get_payload(decode=True)
    return (filename, payload if isinstance(payload, bytes) else b""), None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m omnimig.uploader.fake_server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", required=True, help="the token the server accepts")
    parser.add_argument("--polls", type=int, default=2, help="progress polls until a migration finishes")
    parser.add_argument("--errors", action="append", default=[], metavar="TYPE=N", help="report N errors for TYPE")
    parser.add_argument("--mixed-case", action="store_true", help="answer Processed_count/Error_count")
    args = parser.parse_args(argv)
    errors = {}
    for item in args.errors:
        name, _, count = item.partition("=")
        errors[name] = int(count or 1)
    server = FakeOmnitron(
        args.token,
        host=args.host,
        port=args.port,
        polls_to_finish=args.polls,
        errors=errors,
        mixed_case=args.mixed_case,
        verbose=True,
    )
    print(f"fake Omnitron listening on {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.httpd.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
