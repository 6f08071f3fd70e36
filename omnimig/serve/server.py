"""The local server: 127.0.0.1 only, a one-time token, a checked Host, then the page's routes.

Guards, in the order every request meets them (``Guard``):

1. ``Host`` must be ``127.0.0.1:PORT`` or ``localhost:PORT``: another site the same browser has
   open cannot rebind its own name to 127.0.0.1 and read the page (DNS rebinding).
2. The token: the address printed in the terminal carries ``?token=...`` (a fresh random one per
   run); the first visit turns it into a ``SameSite=Strict``, ``HttpOnly`` cookie and redirects to
   the address without it. Every request, assets included, needs one or the other.
3. Requests that change something (POST, DELETE) also need the ``X-Omnimig`` header, which a
   form on another site cannot send (a cross-site fetch with it needs a preflight nobody answers).

Every response carries a Content-Security-Policy of ``default-src 'self'`` (no other origin, no
inline script or style), ``no-store`` and ``nosniff``. The access log is off: URLs hold file names.
"""

from __future__ import annotations

import secrets
import socket
import tempfile
import threading
import webbrowser
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from omnimig.i18n import N_, _
from omnimig.serve import DEFAULT_MAX_UPLOAD, ServeError
from omnimig.serve.routes import routes
from omnimig.serve.sessions import Sessions

COOKIE = "omnimig_token"
NO_TOKEN = N_("omnimig: open the address omnimig serve printed in the terminal (it holds the page's token)")
CSRF_HEADER = "x-omnimig"
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}


class Guard:
    """ASGI middleware: the Host check, the token check and the security headers (see the module doc)."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        response: Any = None
        if headers.get("host", "").lower() not in self.hosts:
            response = PlainTextResponse(_("omnimig: this page answers only at its own address (127.0.0.1)"), 421)
        else:
            query = _query(scope)
            given = query.get("token")
            cookie = _cookie(headers.get("cookie", ""))
            if given is not None and secrets.compare_digest(given.encode(), self.token.encode()):
                if scope["method"] in ("GET", "HEAD") and scope["path"] == "/":
                    response = RedirectResponse("/", 303)  # the token leaves the address bar
                    response.set_cookie(COOKIE, self.token, httponly=True, samesite="strict", path="/")
            elif cookie is None or not secrets.compare_digest(cookie.encode(), self.token.encode()):
                response = PlainTextResponse(_(NO_TOKEN), 403)
            if response is None and scope["method"] not in ("GET", "HEAD") and headers.get(CSRF_HEADER) != "1":
                response = PlainTextResponse(_("omnimig: this request must come from the page itself"), 403)
        if response is not None:
            await response(scope, receive, _secured(send))
            return
        await self.app(scope, receive, _secured(send))


def _secured(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            raw = list(message.get("headers", []))
            present = {k.lower() for k, _ in raw}
            for name, value in SECURITY_HEADERS.items():
                if name.encode() not in present:
                    raw.append((name.encode(), value.encode()))
            message = {**message, "headers": raw}
        await send(message)

    return wrapped


def _query(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


def _cookie(header: str) -> str | None:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


def create_app(sessions: Sessions, token: str, port: int, hosts: set[str] | None = None) -> Guard:
    """The page's ASGI app: ``sessions`` hold the uploads, ``token`` opens it, ``hosts`` may name it.

    ``hosts`` defaults to ``127.0.0.1:PORT`` and ``localhost:PORT``.
    """
    allowed = hosts if hosts is not None else {f"127.0.0.1:{port}", f"localhost:{port}"}
    app = Starlette(routes=routes())
    app.state.sessions = sessions
    app.state.token = token
    return Guard(app, token, {h.lower() for h in allowed})


class LocalServer:
    """The page on 127.0.0.1: bound on entry, served by ``run`` (blocking) or ``start`` (a thread).

    Leaving the ``with`` block stops the server and deletes every upload. The port is bound here,
    before uvicorn starts, so a taken port is one ``ServeError`` and port 0 gives a real number.
    """

    def __init__(self, port: int = 0, max_upload: int = DEFAULT_MAX_UPLOAD, root: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            self.sock.bind(("127.0.0.1", port))
        except OSError as exc:
            self.sock.close()
            raise ServeError(
                _("cannot listen on 127.0.0.1:{port}: {reason}; choose another with --port").format(
                    port=port, reason=exc.strerror or exc
                )
            ) from None
        self.port = self.sock.getsockname()[1]
        self.token = secrets.token_urlsafe(24)
        folder = Path(tempfile.mkdtemp(prefix="omnimig-serve-", dir=root))  # 0700
        self.sessions = Sessions(folder, max_upload)
        self.app = create_app(self.sessions, self.token, self.port)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=5)
        self.server = uvicorn.Server(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open: it holds the one-time token."""
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def run(self, open_browser: bool = True, announce: Callable[[str], object] = print) -> None:
        """Serve until Ctrl-C (uvicorn re-raises it after shutting down)."""
        announce(_("omnimig serve: open {url}").format(url=self.url))
        announce(_("omnimig serve: the files you drop stay on this machine and are deleted when you stop it (Ctrl-C)"))
        if open_browser:
            threading.Timer(0.5, webbrowser.open, (self.url,)).start()
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        """Serve in a background thread (tests, scripts); ``stop`` or leaving the block ends it."""
        # uvicorn listens for Ctrl-C only in the main thread: a background server is stopped by ``stop``.
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)
        self._thread.start()
        for _attempt in range(500):
            if self.server.started:
                return
            threading.Event().wait(0.01)
        raise ServeError(_("the server did not start"))

    def stop(self) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self.sock.close()
        self.sessions.close()

    def __enter__(self) -> LocalServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
