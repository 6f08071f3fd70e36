"""The transform's one error type, and the boundary that turns any surprise into it.

A legacy export can be anything: a truncated file, binary garbage, JSON of another shape. The
sources check what they expect and say so, but a check they do not make must still end as one
line naming the input (exit 2), never a traceback, because a person cannot act on a traceback
and a CI job reads exit 1 as "rows rejected". ``OMNIMIG_DEBUG=1`` lets the traceback through
for a bug report.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from omnimig.errors import debug_enabled, describe
from omnimig.exceptions import TransformError
from omnimig.i18n import _
from omnimig.io.safe_text import visible

__all__ = ["TransformError", "debug_enabled", "describe", "reading", "unexpected"]


def unexpected(where: str | Path, exc: BaseException, what: str | None = None) -> TransformError:
    """The one line for an exception nobody planned for, naming the input and how to see more."""
    return TransformError(
        _(
            "{file}: {what} ({reason}); check that it is the export the source reads, "
            "or run with --debug to see the traceback for a bug report"
        ).format(file=visible(str(where)), what=what or _("cannot transform this file"), reason=describe(exc))
    )


@contextmanager
def reading(path: Path | str, *expected: type[BaseException]) -> Iterator[None]:
    """Everything done with one input inside this block fails, at worst, as one line naming it.

    ``expected`` exceptions (the sources' own one-line errors) pass unchanged.
    """
    try:
        yield
    except (TransformError, *expected):  # type: ignore[misc]  # mypy cannot type a starred tuple of classes
        raise
    except Exception as exc:  # the boundary: whatever a hostile file provokes
        if debug_enabled():
            raise
        raise unexpected(path, exc) from exc
