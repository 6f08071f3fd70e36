"""What every command does with an exception nobody planned for: one line, or the traceback under --debug.

A person cannot act on a traceback, and a CI job reads exit 1 as "errors found", so an unexpected
failure is one line naming where it happened (exit 2). ``omnimig --debug`` (or ``OMNIMIG_DEBUG=1``,
which ``--debug`` sets so that every layer reads one switch) lets the traceback through for a bug
report. Validate, transform and upload all ask ``debug_enabled()``; none parses the variable itself.
"""

from __future__ import annotations

import os

from omnimig.i18n import _
from omnimig.io.safe_text import cut, visible

DEBUG_ENV = "OMNIMIG_DEBUG"
#: The longest exception text quoted in a one-line message; the rest is cut with "…".
SHOWN = 200


def debug_enabled() -> bool:
    """``--debug`` or ``OMNIMIG_DEBUG`` set to 1, true, yes or on: let unexpected exceptions through."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def clip(text: str, limit: int = SHOWN) -> str:
    """``text`` on one line, at most ``limit`` characters (the cut marked with "…")."""
    return cut(" ".join(text.split()), limit)


def describe(exc: BaseException) -> str:
    """An exception as one short visible phrase: its kind and its text (what Python said went wrong)."""
    if isinstance(exc, RecursionError):
        return _("it is nested too deeply to be read")
    if isinstance(exc, MemoryError):
        return _("it is too large to be read in memory")
    text = clip(str(exc))
    return visible(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)


def internal_error_line(where: str | None, exc: BaseException, doing: str | None = None) -> str:
    """The one line an unexpected exception becomes: where, what failed, and how to get the traceback.

    ``doing`` is what was being done, already in the language of the run (default: reading).
    """
    prefix = "" if where is None else f"{visible(where)}: "
    doing = _("reading") if doing is None else doing
    if isinstance(exc, MemoryError):
        return prefix + _("ran out of memory while {doing}").format(doing=doing)
    detail = visible(clip(str(exc)))
    error = f"{type(exc).__name__}{': ' + detail if detail else ''}"
    line = _("internal error while {doing} ({error}); run with --debug for the traceback and please report it")
    return prefix + line.format(doing=doing, error=error)
