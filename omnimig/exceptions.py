"""One exception tree for every layer, so a script (and the CLI) catches ``omnimig.Error`` once.

Each layer raises a subclass of its own base here, and each message is one printable line that
names the file (row, column) or the option at fault and never holds the API token. This module
imports nothing, so the bottom layer (``omnimig.schemas``) can use it without pulling in the rest.

    Error
    ├── SchemaError     a rule file the engine does not understand
    ├── UsageError      the command or call cannot run as asked (bad type, nothing to read, a report
    │                   path that would replace an input)
    ├── ReadError       a file that cannot be read at all
    ├── WriteError      a table that cannot be written without cutting or changing a value
    ├── TransformError  a transform that cannot run (unknown source, bad mapping, unusable input)
    ├── SampleError     samples or a test set that cannot be made as asked
    └── UploadError     anything that stops an upload run (validation, server, journal)
        └── UploadRefused   refused before anything was sent (token, URL, option, lock)
"""

from __future__ import annotations

__all__ = [
    "Error",
    "ReadError",
    "SampleError",
    "SchemaError",
    "TransformError",
    "UploadError",
    "UploadRefused",
    "UsageError",
    "WriteError",
]


class Error(Exception):
    """The root of every error omnimig raises on purpose. ``str(error)`` is one line for a person."""


class SchemaError(Error):
    """A rule file uses something the engine does not understand (an ignored rule is one nobody enforces)."""


class UsageError(Error):
    """The command or call cannot run as asked (bad type, nothing to validate, a clashing output path)."""


class ReadError(Error):
    """A file cannot be read at all. The message is one line and names the file."""


class WriteError(Error):
    """A table cannot be written without cutting or changing a value. The message is one line
    naming the file being written and, where it is one cell, the input row and column."""


class TransformError(Error):
    """The transform cannot run (unknown source, unusable options or mapping, an unreadable input)."""


class SampleError(Error):
    """Samples or a test set cannot be made as asked."""


class UploadError(Error):
    """Anything that stops an upload run. The message is printable as is and never holds the token."""


class UploadRefused(UploadError):
    """An upload refused before anything was sent (bad token, URL or option, the lock held): exit code 2.

    Every other ``UploadError`` (validation errors without ``force`` included) exits 1.
    """
