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
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

if TYPE_CHECKING:
    from omnimig.upload.audit import AuditLog

#: Connect fast, but give a large upload and a slow importer time to answer.
DEFAULT_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=300.0, pool=10.0)
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


class Token:
    """The API token. It is only ever revealed to build the Authorization header.

    ``repr``/``str``/``format`` print a placeholder so a token cannot leak through a log line,
    an f-string, a traceback's locals or a dataclass repr by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = (value or "").strip()
        if not value:
            raise ValueError("the API token is empty")
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` with every occurrence of the token replaced by ``***``."""
        return text.replace(self._value, "***")

    def __repr__(self) -> str:
        return "Token('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a Token cannot be pickled")


class UploadError(Exception):
    """Anything that stops an upload run. The message is printable as is and never holds the token."""


class InsecureUrl(UploadError):
    """Plain HTTP to a remote host would send the token in clear text."""


class HttpError(UploadError):
    """Omnitron answered with a non-2xx status."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.body = shorten(body)
        super().__init__(f"{method} {url} answered HTTP {status}: {self.body or '(empty body)'}")


class Unreachable(UploadError):
    """The server could not be reached (or kept failing) after every retry."""


class UncertainStart(UploadError):
    """A start POST may have reached Omnitron but we have no migration id: never retried blindly."""


class BadAnswer(UploadError):
    """A 2xx answer whose body is not what the docs show."""


def shorten(text: str, limit: int = BODY_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_url(url: str, insecure: bool = False) -> str:
    """The base URL without a trailing slash; refuses plain HTTP to anything but this machine."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InsecureUrl(f"{url!r} is not an http(s) URL such as https://omnitron.example.com")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS and not insecure:
        raise InsecureUrl(
            f"{url} uses plain HTTP, which would send the API token unencrypted; "
            "use https:// (or --insecure-http if you really mean it)"
        )
    if parts.query or parts.fragment:
        raise InsecureUrl(f"{url}: give the base URL only, without ?query or #fragment")
    return url.strip().rstrip("/")


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
        raise BadAnswer(f"the progress answer is not a JSON object: {shorten(json.dumps(body))}")
    lowered = {str(k).lower(): v for k, v in body.items()}
    counts = []
    for key in ("total_count", "processed_count", "error_count"):
        value = lowered.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise BadAnswer(f"the progress answer has no usable {key}: {shorten(json.dumps(body))}")
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


class OmnitronClient:
    """Start migrations and poll them, logging every exchange to the audit log.

    ``sleep`` is injectable so tests (and impatient people) do not wait for real backoffs.
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
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not isinstance(token, Token):
            raise TypeError("pass the token wrapped in omnimig.upload.Token")
        self.base = check_url(url, insecure)
        self.channel = str(channel)
        self._token = token
        self.audit = audit
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        self._transport = transport
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False)

    def __repr__(self) -> str:
        return f"OmnitronClient({self.base!r}, channel={self.channel!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OmnitronClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_url(self, type_name: str) -> str:
        return f"{self.base}/api/v1/remote/{self.channel}/migrations/start/{type_name}/"

    def progress_url(self, migration_id: str) -> str:
        return f"{self.base}/api/v1/remote/{self.channel}/migrations/{migration_id}/progress/"

    def _headers(self) -> dict[str, str]:
        # No Content-Type: httpx writes multipart/form-data with its boundary itself.
        return {"Authorization": f"Token {self._token.reveal()}", "Accept": "application/json"}

    def _log(self, method: str, url: str, request: Mapping[str, str], **fields: Any) -> None:
        if self.audit is not None:
            self.audit.exchange(method, url, request, **fields)

    def start(self, type_name: str, name: str, data: bytes, rows: int | None) -> str:
        """POST one file; returns the ``migration_id``.

        Retried only on errors that happen before any byte reaches the server (connect errors,
        connect/pool timeouts). Every other transport failure raises ``UncertainStart``. Each
        attempt uses a fresh connection, so a keep-alive connection the server already closed
        cannot turn into a false "maybe sent".
        """
        url = self.start_url(type_name)
        digest = sha256_hex(data)
        sent = self.audit.keep_sent(data, digest) if self.audit is not None else None
        upload = {"file": name, "rows": rows, "sha256": digest, "bytes": len(data), "sent": sent}
        headers = self._headers()
        attempt = 0
        while True:
            attempt += 1
            try:
                with httpx.Client(timeout=self.timeout, transport=self._transport, follow_redirects=False) as http:
                    response = http.post(url, headers=headers, files={"file": (name, data, content_type(name))})
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error=_describe(exc))
                if attempt >= self.retry.attempts:
                    raise Unreachable(
                        f"POST {url}: cannot connect after {attempt} attempts ({_describe(exc)}); nothing was sent"
                    ) from None
                self.sleep(self.retry.delay(attempt))
                continue
            except httpx.TransportError as exc:
                self._log("POST", url, headers, upload=upload, attempt=attempt, error=_describe(exc))
                raise UncertainStart(
                    f"POST {url} for {name} failed after the request was sent ({_describe(exc)}); "
                    "Omnitron may have started a migration"
                ) from None
            self._log("POST", url, headers, upload=upload, attempt=attempt, response=response)
            if not response.is_success:
                raise HttpError("POST", url, response.status_code, response.text)
            try:
                body = response.json()
            except ValueError:
                body = None
            lowered = {str(k).lower(): v for k, v in body.items()} if isinstance(body, dict) else {}
            migration_id = lowered.get("migration_id")
            if not isinstance(migration_id, str | int) or isinstance(migration_id, bool) or not str(migration_id):
                raise UncertainStart(
                    f"POST {url} answered HTTP {response.status_code} without a migration_id: "
                    f"{shorten(response.text) or '(empty body)'}"
                )
            return str(migration_id)

    def progress(self, migration_id: str) -> Progress:
        """GET the counts; connect errors, timeouts, dropped connections, 429 and 5xx are retried."""
        url = self.progress_url(migration_id)
        headers = self._headers()
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._http.get(url, headers=headers)
            except httpx.TransportError as exc:
                self._log("GET", url, headers, attempt=attempt, error=_describe(exc))
                if attempt >= self.retry.attempts:
                    raise Unreachable(f"GET {url}: failed {attempt} times, last: {_describe(exc)}") from None
                self.sleep(self.retry.delay(attempt))
                continue
            self._log("GET", url, headers, attempt=attempt, response=response)
            status = response.status_code
            if status == 429 or status >= 500:
                if attempt >= self.retry.attempts:
                    raise HttpError("GET", url, status, response.text)
                wait = retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
                delay = min(wait, self.retry.max_retry_after) if wait is not None else self.retry.delay(attempt)
                self.sleep(delay)
                continue
            if not response.is_success:
                raise HttpError("GET", url, status, response.text)
            try:
                body = response.json()
            except ValueError:
                raise BadAnswer(f"GET {url}: the answer is not JSON: {shorten(response.text)}") from None
            return parse_progress(body)


def _describe(exc: Exception) -> str:
    """``ConnectError: [Errno 111] Connection refused``: the kind and the reason, never request headers."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
