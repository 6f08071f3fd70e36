"""A thin Omnitron migration client: start a migration, read its progress.

Only two endpoints exist (spec section 8). The client is careful about three things the docs
leave open: the upload is multipart with the file in field ``file`` (never a JSON content
type, which would break the boundary), progress keys come in any case, and a start POST must
never be sent twice unless the first one surely never reached the server.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from omnimig.errors import clip
from omnimig.exceptions import UploadError, UploadRefused
from omnimig.i18n import _
from omnimig.io.safe_text import visible
from omnimig.uploader.credentials import Token
from omnimig.uploader.defaults import DEFAULT_BUDGET

if TYPE_CHECKING:
    from omnimig.uploader.audit import AuditLog

#: Connect fast, but give a large upload and a slow importer time to answer (each cut to the budget left).
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=300.0, pool=10.0)
#: The most of an answer that is read: Omnitron's answers are a few hundred bytes, so anything
#: bigger is a proxy page or a misbehaving server, and reading it whole could exhaust memory.
MAX_BODY_BYTES = 1 << 20
#: A start POST may also take this long per byte sent (a floor of 256 KiB/s), so a big file on a
#: slow line is not cut off while it is still being uploaded.
MIN_UPLOAD_RATE = 256 * 1024
#: What a migration id may look like before it goes into a URL path or a journal.
MIGRATION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
#: How much of a response body an error message shows.
BODY_CHARS = 300
CONTENT_TYPES = {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".txt": "text/plain",
    ".json": "application/json",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    ".xls": "application/vnd.ms-excel",
}


def start_url(base: str, channel: str | int, type_name: str) -> str:
    """Omnitron's endpoint that starts a migration of ``type_name`` (Akinon's docs; the plan prints it)."""
    return f"{base}/api/v1/remote/{channel}/migrations/start/{type_name}/"


def progress_url(base: str, channel: str | int, migration_id: str) -> str:
    """Omnitron's endpoint reporting a migration's progress (``{migration_id}`` in the printed plan)."""
    return f"{base}/api/v1/remote/{channel}/migrations/{migration_id}/progress/"


class InsecureUrl(UploadRefused):
    """The URL is refused: plain HTTP to a remote host, credentials in it, or not a base URL at all."""


class HttpError(UploadError):
    """Omnitron answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        # A server's body may hold terminal escapes: the message shows them, never sends them.
        self.body = visible(clip(body, BODY_CHARS))
        line = _("{method} {url} answered HTTP {status}: {body}")
        body = self.body or _("(empty body)")
        super().__init__(line.format(method=visible(method), url=visible(url), status=status, body=body))


class Unreachable(UploadError):
    """The server could not be reached (or kept failing) within the retry budget; nothing was imported."""


class UncertainStart(UploadError):
    """A start POST may have reached Omnitron but we have no usable migration id: never retried blindly."""


class BadAnswer(UploadError):
    """A 2xx answer whose body is not what the docs show (or is far too big to be one)."""


def shown_url(url: str) -> str:
    """``url`` as it may be printed: any ``user:password@`` replaced, control characters escaped."""
    text = re.sub(r"^([^:/?#]*:?//)[^/?#]*@", r"\1***@", url.strip())
    return visible(clip(text, 200))


def check_url(url: str, insecure: bool = False) -> str:
    """The base URL without a trailing slash; refuses credentials, plain HTTP to anything but this machine.

    ``https://user:pass@host`` is refused rather than stripped: the password would otherwise be
    sent, logged and journaled, and a person should know it is not used. No message repeats it.
    """
    text = url.strip()
    if re.match(r"^[^:/?#]*:?//[^/?#]*@", text):
        line = _(
            "{url}: the URL holds a user name or password; give the base URL without them "
            "(the API token comes from --token-env or the prompt)"
        )
        raise InsecureUrl(line.format(url=shown_url(text)))
    if any(not c.isprintable() or c.isspace() for c in text):
        raise InsecureUrl(_("{url}: the URL holds spaces or control characters").format(url=shown_url(text)))
    unusable = _("{url}: not a usable URL ({reason})")
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise InsecureUrl(unusable.format(url=shown_url(text), reason=exc)) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        line = _("{url} is not an http(s) URL such as https://omnitron.example.com")
        raise InsecureUrl(line.format(url=repr(shown_url(text))))
    try:
        parts.port  # noqa: B018 - a bad port raises here, not in the middle of the run
        httpx.URL(text)
    except (ValueError, httpx.InvalidURL) as exc:
        raise InsecureUrl(unusable.format(url=shown_url(text), reason=exc)) from None
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS and not insecure:
        line = _(
            "{url} uses plain HTTP, which would send the API token unencrypted; "
            "use https:// (or --insecure-http if you really mean it)"
        )
        raise InsecureUrl(line.format(url=shown_url(text)))
    if parts.query or parts.fragment:
        line = _("{url}: give the base URL only, without ?query or #fragment")
        raise InsecureUrl(line.format(url=shown_url(text)))
    return text.rstrip("/")


def check_migration_id(value: object, where: str) -> str:
    """``value`` as a migration id, or ``BadAnswer``: it goes into a URL path, so nothing else may."""
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
    if text is None or not MIGRATION_ID.fullmatch(text):
        shown = visible(clip(str(value), 80))
        line = _("{where}: migration id {id} is not 1 to 64 letters, digits, '-' or '_'; it is not used in a URL")
        raise BadAnswer(line.format(where=where, id=repr(shown)))
    return text


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Progress:
    """The three counts Omnitron reports for one migration."""

    total: int
    processed: int
    errors: int

    def done(self, rows_sent: int | None = None) -> bool:
        """Processed + errors reached total. A total of 0 means "not counted yet" unless nothing was sent."""
        if self.total == 0:
            return rows_sent == 0
        return self.processed + self.errors >= self.total

    def as_dict(self) -> dict[str, int]:
        return {"total_count": self.total, "processed_count": self.processed, "error_count": self.errors}


def parse_progress(body: Any) -> Progress:
    """Read the counts case-insensitively (the docs show ``error_count`` and ``Error_count``)."""
    if not isinstance(body, dict):
        line = _("the progress answer is not a JSON object: {body}")
        raise BadAnswer(line.format(body=clip(json.dumps(body), BODY_CHARS)))
    lowered = {str(k).lower(): v for k, v in body.items()}
    counts = []
    for key in ("total_count", "processed_count", "error_count"):
        value = lowered.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            line = _("the progress answer has no usable {key}: {body}")
            raise BadAnswer(line.format(key=key, body=clip(json.dumps(body), BODY_CHARS)))
        counts.append(value)
    return Progress(*counts)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently idempotent requests are retried (exponential backoff)."""

    attempts: int = 6
    backoff: float = 1.0
    max_delay: float = 60.0
    #: A Retry-After longer than this is cut to it, so one bad header cannot stall a run for hours.
    max_retry_after: float = 300.0

    def delay(self, attempt: int) -> float:
        return min(self.max_delay, self.backoff * 2 ** (attempt - 1))


def retry_after(value: str | None, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; ``None`` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now()).total_seconds())


def content_type(name: str) -> str:
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    return CONTENT_TYPES.get(suffix, "application/octet-stream")


@dataclass(frozen=True)
class Answer:
    """One HTTP answer as read: status, headers and at most ``MAX_BODY_BYTES`` of body."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class _TooBig(Exception):
    """The answer's body passed ``MAX_BODY_BYTES``."""


class _OutOfTime(httpx.TimeoutException):
    """The request's total budget ran out while its answer was still arriving."""


class OmnitronClient:
    """Start migrations and poll them, logging every exchange to the audit log.

    ``budget`` bounds one request in wall time, every retry and backoff included: a server
    that accepts connections and never answers costs at most that long, never attempts × read
    timeout. ``sleep`` and ``clock`` are injectable so tests do not wait for real backoffs.
    """

    def __init__(
        self,
        url: str,
        channel: str,
        token: Token,
        *,
        audit: AuditLog | None = None,
        insecure: bool = False,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        budget: float = DEFAULT_BUDGET,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(token, Token):
            raise TypeError("pass the token wrapped in omnimig.uploader.Token")
        self.base = check_url(url, insecure)
        self.channel = str(channel)
        self._token = token
        self.audit = audit
        self.timeout = timeout
        self.budget = float(budget)
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self.clock = clock
        self._transport = transport
        # One TLS context (the CA bundle, ~50 ms to load) for the client's life: every start attempt
        # builds a fresh httpx.Client for a fresh connection (see ``start``), and would load it again.
        self._tls = httpx.create_ssl_context()
        self._http = self._new_http()

    def __repr__(self) -> str:
        return f"OmnitronClient({self.base!r}, channel={self.channel!r})"

    def _new_http(self) -> httpx.Client:
        """An httpx client with its own connection pool, sharing this client's TLS context."""
        return httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=False, verify=self._tls)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OmnitronClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_url(self, type_name: str) -> str:
        return start_url(self.base, self.channel, type_name)

    def progress_url(self, migration_id: str) -> str:
        return progress_url(self.base, self.channel, check_migration_id(migration_id, "progress"))

    def _headers(self) -> dict[str, str]:
        # No Content-Type: httpx writes multipart/form-data with its boundary itself. Identity
        # encoding keeps the body cap a cap on what is held in memory, not on compressed bytes.
        return {
            "Authorization": f"Token {self._token.reveal()}",
            "Accept": "application/json",
            "Accept-Encoding": "identity",
        }

    def _log(self, method: str, url: str, request: Mapping[str, str], **fields: Any) -> None:
        if self.audit is not None:
            self.audit.exchange(method, url, request, **fields)

    def _attempt_timeout(self, deadline: float) -> httpx.Timeout:
        """The per-operation timeouts, none longer than what is left of the request's budget."""
        left = max(0.05, deadline - self.clock())
        t = self.timeout
        return httpx.Timeout(
            connect=min(t.connect or left, left),
            read=min(t.read or left, left),
            write=min(t.write or left, left),
            pool=min(t.pool or left, left),
        )

    def _exchange(self, http: httpx.Client, method: str, url: str, deadline: float, **kwargs: Any) -> Answer:
        """Send one request and read at most ``MAX_BODY_BYTES`` of its answer before ``deadline``."""
        with http.stream(method, url, timeout=self._attempt_timeout(deadline), **kwargs) as response:
            body = bytearray()
            for piece in response.iter_bytes():
                body += piece
                if len(body) > MAX_BODY_BYTES:
                    raise _TooBig
                if self.clock() > deadline:
                    raise _OutOfTime("the answer was still arriving when the time budget ran out")
            return Answer(response.status_code, dict(response.headers), bytes(body))

    def _redacted(self, text: str) -> str:
        return self._token.redact(text)

    def _http_error(self, method: str, url: str, answer: Answer) -> HttpError:
        return HttpError(method, url, answer.status_code, self._redacted(answer.text))

    def _out_of_budget(self, attempt: int, delay: float, deadline: float) -> bool:
        return attempt >= self.retry.attempts or self.clock() + delay >= deadline

    def start(self, type_name: str, name: str, data: bytes, rows: int | None) -> str:
        """POST one file; returns the ``migration_id``.

        Retried only on errors that happen before any byte reaches the server (connect errors,
        connect/pool timeouts), within the request budget. Every other transport failure, an
        answer too big to be Omnitron's, and an answer without a usable id raise
        ``UncertainStart``. Each attempt uses a fresh connection (a new pool; only the TLS context is
        shared), so a keep-alive connection the server already closed cannot turn into a false
        "maybe sent".
        """
        url = self.start_url(type_name)
        digest = sha256_hex(data)
        sent = self.audit.keep_sent(data, digest) if self.audit is not None else None
        upload = {"file": name, "rows": rows, "sha256": digest, "bytes": len(data), "sent": sent}
        headers = self._headers()
        deadline = self.clock() + self.budget + len(data) / MIN_UPLOAD_RATE
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._new_http() as http:
                    response = self._exchange(
                        http, "POST", url, deadline, headers=headers, files={"file": (name, data, content_type(name))}
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error=_describe(exc))
                delay = self.retry.delay(attempt)
                if self._out_of_budget(attempt, delay, deadline):
                    line = _(
                        "POST {url}: cannot connect after {attempts} attempts within {budget} s ({reason}); "
                        "nothing was sent"
                    )
                    reason = self._redacted(_describe(exc))
                    raise Unreachable(
                        line.format(url=url, attempts=attempt, budget=f"{self.budget:g}", reason=reason)
                    ) from None
                self.sleep(delay)
                continue
            except (httpx.UnsupportedProtocol, httpx.InvalidURL, UnicodeError) as exc:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error=_describe(exc))
                reason = self._redacted(_describe(exc))
                line = _("POST {url}: cannot be sent ({reason}); nothing was sent")
                raise Unreachable(line.format(url=url, reason=reason)) from None
            except _TooBig:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error="answer over the size cap")
                line = _(
                    "POST {url} for {name}: the answer is bigger than {size} KiB, so it is not "
                    "Omnitron's; Omnitron may have started a migration"
                )
                raise UncertainStart(line.format(url=url, name=name, size=MAX_BODY_BYTES // 1024)) from None
            except httpx.TransportError as exc:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error=_describe(exc))
                line = _(
                    "POST {url} for {name} failed after the request was sent ({reason}); "
                    "Omnitron may have started a migration"
                )
                reason = self._redacted(_describe(exc))
                raise UncertainStart(line.format(url=url, name=name, reason=reason)) from None
            self._log("POST", url, headers, upload=upload, attempt=attempt, response=response)
            if not response.is_success:
                raise self._http_error("POST", url, response)
            try:
                body = response.json()
            except (ValueError, RecursionError):
                body = None
            lowered = {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
            migration_id = lowered.get("migration_id")
            if migration_id is None or migration_id == "":
                line = _("POST {url} answered HTTP {status} without a migration_id: {body}")
                body = visible(clip(self._redacted(response.text), BODY_CHARS)) or _("(empty body)")
                raise UncertainStart(line.format(url=url, status=response.status_code, body=body))
            try:
                return check_migration_id(migration_id, f"POST {url}")
            except BadAnswer as exc:
                raise UncertainStart(_("{error}; Omnitron may have started a migration").format(error=exc)) from None

    def progress(self, migration_id: str) -> Progress:
        """GET the counts; connect errors, timeouts, dropped connections, 429 and 5xx are retried within the budget."""
        url = self.progress_url(migration_id)
        headers = self._headers()
        deadline = self.clock() + self.budget
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._exchange(self._http, "GET", url, deadline, headers=headers)
            except _TooBig:
                self._log("GET", url, headers, attempt=attempt, error="answer over the size cap")
                line = _("GET {url}: the answer is bigger than {size} KiB, so it is not Omnitron's")
                raise BadAnswer(line.format(url=url, size=MAX_BODY_BYTES // 1024)) from None
            except httpx.TransportError as exc:
                self._log("GET", url, headers, attempt=attempt, error=_describe(exc))
                delay = self.retry.delay(attempt)
                if self._out_of_budget(attempt, delay, deadline):
                    line = _(
                        "GET {url}: failed {attempts} times within {budget} s, last: "
                        "{reason} (--http-timeout sets how long a request may take)"
                    )
                    reason = self._redacted(_describe(exc))
                    raise Unreachable(
                        line.format(url=url, attempts=attempt, budget=f"{self.budget:g}", reason=reason)
                    ) from None
                self.sleep(delay)
                continue
            self._log("GET", url, headers, attempt=attempt, response=response)
            status = response.status_code
            if status == 429 or status >= 500:
                wait = retry_after(response.headers.get("retry-after")) if status in (429, 503) else None
                delay = min(wait, self.retry.max_retry_after) if wait is not None else self.retry.delay(attempt)
                if self._out_of_budget(attempt, delay, deadline):
                    raise self._http_error("GET", url, response)
                self.sleep(delay)
                continue
            if not response.is_success:
                raise self._http_error("GET", url, response)
            try:
                body = response.json()
            except (ValueError, RecursionError):
                line = _("GET {url}: the answer is not JSON: {body}")
                body = visible(clip(self._redacted(response.text), BODY_CHARS))
                raise BadAnswer(line.format(url=url, body=body)) from None
            try:
                return parse_progress(body)
            except BadAnswer as exc:
                raise BadAnswer(self._redacted(str(exc))) from None


def _describe(exc: Exception) -> str:
    """``ConnectError: [Errno 111] Connection refused``: the kind and the reason, never request headers."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
