"""``omnimig serve``: a local web page over ``omnimig.validate``, for the people who fix the data.

The people who correct migration files in Excel are often not the ones who run a command line.
This package serves one page on 127.0.0.1 where they drop a bundle and see what the CLI would
report: the summary, the problems grouped by rule, a grid of each file's rows with the problem
cells marked, and the same downloads (annotated workbook, JSON and CSV reports, the ready/held
split). Nothing leaves the machine: every asset is served from this package, the page forbids
other origins, the uploads live in a private temporary folder deleted on exit.

The web framework (Starlette, uvicorn, Jinja2) is the optional extra ``omnimig[serve]``; this
module imports none of it, so ``omnimig --help`` and a missing extra cost nothing and the latter
is one clear line.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable

from omnimig.exceptions import UsageError
from omnimig.i18n import _

__all__ = ["DEFAULT_MAX_UPLOAD", "DEFAULT_PORT", "ServeError", "parse_size", "require_extra", "serve"]

DEFAULT_PORT = 8765
DEFAULT_MAX_UPLOAD = 2 * 1024**3
#: The packages of the ``serve`` extra (import names).
EXTRA_MODULES = ("starlette", "uvicorn", "jinja2")
INSTALL_LINE = "pip install 'omnimig[serve]'"

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


class ServeError(UsageError):
    """The page cannot be served as asked: the extra is missing, the port is taken, a bad option."""


def require_extra() -> None:
    """``ServeError`` naming the install line when a package of the ``serve`` extra is missing.

    Checked before anything is imported, so a missing extra is one line, not an ImportError.
    """
    missing = [name for name in EXTRA_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ServeError(
            _("omnimig serve needs {packages}: install them with {install}").format(
                packages=", ".join(missing), install=INSTALL_LINE
            )
        )


def parse_size(text: str | int) -> int:
    """``2GB``, ``500MB``, ``1.5G``, ``800k`` or a plain number of bytes, as bytes (powers of 1024)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        match = _SIZE.fullmatch(str(text))
        if match is None:
            raise ServeError(
                _("size {size}: give a number of bytes or a size such as 500MB or 2GB").format(size=repr(text))
            )
        value = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if value < 1:
        raise ServeError(_("size {size}: give at least 1 byte").format(size=repr(text)))
    return value


def serve(
    port: int = DEFAULT_PORT,
    *,
    open_browser: bool = True,
    max_upload: int | str = DEFAULT_MAX_UPLOAD,
    announce: Callable[[str], object] = print,
) -> None:
    """Serve the page on 127.0.0.1:``port`` until Ctrl-C; the uploads are deleted when it stops.

    ``port`` 0 takes a free port. ``max_upload`` bounds the bytes one bundle may upload (``2GB``).
    ``announce(line)`` is given the address to open (with the token made for this run) and is ``print`` by
    default. ``ServeError`` when the extra is missing or the port cannot be bound.
    """
    require_extra()
    if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
        raise ServeError(_("port {port}: a number from 1 to 65535 (0 takes a free one)").format(port=repr(port)))
    from omnimig.serve.server import LocalServer

    try:
        with LocalServer(port=port, max_upload=parse_size(max_upload)) as server:
            server.run(open_browser=open_browser, announce=announce)
    except KeyboardInterrupt:  # Ctrl-C is how the page is stopped: not an error
        pass
    announce(_("omnimig serve: stopped; the uploaded files were deleted"))
