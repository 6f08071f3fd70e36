"""The API token and the redaction every message, journal and audit line goes through.

Kept apart from the http client (``client.py``) so that ``omnimig.Token`` and
``omnimig.Token.from_env`` cost neither httpx (its import and a CA bundle) nor pandas: a script
checks its token first, and only an upload needs the client. This module imports the standard
library and omnimig's bottom layers (``exceptions``, ``i18n``) only; a test holds it to that.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

from omnimig.exceptions import UploadRefused
from omnimig.i18n import _

#: Where the API token is read from when none is passed (``--token-env``'s default).
TOKEN_ENV = "OMNIMIG_TOKEN"


class BadToken(UploadRefused, ValueError):
    """The token cannot be a valid API token (empty, or holding a character no HTTP header can carry)."""


#: Text that carries a credential whatever the token is: ``Token abc``, ``Bearer abc``, ``Basic abc``
#: (a server echoing a cut ``Token abc…`` is caught here even though ``abc…`` is not the token).
#: A quoted value (``Token="abc"``, or ``Token=\"abc\"`` inside JSON text) is redacted inside its
#: quotes, and a backslash never belongs to the value, so a JSON escape is never cut in half.
_SCHEME_VALUE = re.compile(r"(\b(?:Token|Bearer|Basic)(?:\s+|=)(?:\\?[\"'])?)(?!\*\*\*)[^\s\"'<>,;)\]}\\]+")
#: ``Authorization: value`` / ``"authorization": "value"`` in echoed headers or bodies (up to a quote
#: or a backslash, so a JSON escape in a quoted body is never cut in half).
_AUTH_VALUE = re.compile(
    r"(?i)(\b(?:proxy-)?authorization[\"']?\s*[:=]\s*[\"']?)"
    r"(?!(?:Token |Bearer |Basic )?\*\*\*)[^\s\"'\\][^\"'\r\n,}\\]*"
)
#: A cut echo of the token is redacted from this many leading characters on (8 hex characters
#: turn up by chance in a sha256 or a migration id about once in a hundred million).
PARTIAL_ECHO = 8


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every credential replaced by ``***``: THE redaction every message and file goes through.

    Removes each secret (also JSON-escaped, and any echo of its first ``PARTIAL_ECHO`` characters
    or more, since servers and proxies cut tokens with ``…``), every ``Token``/``Bearer``/``Basic``
    value and every ``Authorization`` value, whoever's they are.
    """
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, json.dumps(secret)[1:-1]}:
            text = text.replace(form, "***")
        text = _drop_cut_echoes(text, secret)
    text = _SCHEME_VALUE.sub(lambda m: f"{m[1]}***", text)
    return _AUTH_VALUE.sub(lambda m: f"{m[1]}***", text)


def _drop_cut_echoes(text: str, secret: str) -> str:
    """``text`` with each run of ``secret``'s first ``PARTIAL_ECHO`` characters (or more of it) replaced by ``***``.

    Plain string search, linear in the text and the token: a regex built from the token (one
    nested group per character) was rebuilt on every call and overflowed ``re`` for long tokens.
    """
    head = secret[:PARTIAL_ECHO]
    found = text.find(head)
    if found < 0:
        return text
    pieces: list[str] = []
    done = 0
    while found >= 0:
        end = found + len(head)
        matched = len(head)
        while end < len(text) and matched < len(secret) and text[end] == secret[matched]:
            end += 1
            matched += 1
        pieces += [text[done:found], "***"]
        done = end
        found = text.find(head, done)
    pieces.append(text[done:])
    return "".join(pieces)


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """``value`` with ``change`` applied to every string (keys too) inside nested dicts and lists.

    Redaction works on data, before it is serialised: redacting JSON text could cut an escape
    (``\\"``) in half and leave a journal or audit line that is no longer JSON.
    """
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {change(str(k)): map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [map_strings(v, change) for v in value]
    return value


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """``redact`` applied to every string (keys too) inside nested dicts and lists."""
    secrets = tuple(secrets)
    return map_strings(value, lambda text: redact(text, secrets))


#: The shortest token accepted: Omnitron's are 40 hex characters; shorter ones cannot be redacted safely.
MIN_TOKEN_CHARS = 16


class Token:
    """The API token. It is only ever revealed to build the Authorization header.

    ``repr``/``str``/``format`` print a placeholder so a token cannot leak through a log line,
    an f-string, a traceback's locals or a dataclass repr by accident. A token holding anything
    but printable ASCII (a pasted zero-width or no-break space, a line break) is refused here,
    before any request is built: no header could carry it, and the error says where it is
    without showing the token.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = (value or "").strip()
        if not value:
            raise BadToken(_("the API token is empty"))
        for i, char in enumerate(value, 1):
            if not "!" <= char <= "~":
                name = unicodedata.name(char, "")
                what = f"U+{ord(char):04X}" + (f" ({name})" if name else "")
                line = _(
                    "the API token has {what} at character {i} of {n}; a token is printable "
                    "ASCII without spaces (was an invisible character pasted with it?). Nothing was sent"
                )
                raise BadToken(line.format(what=what, i=i, n=len(value)))
        if len(value) < MIN_TOKEN_CHARS:
            # Redaction removes every occurrence of the token from every message and file; a token
            # this short (a pasted fragment, a placeholder) would also blank ordinary words.
            line = _(
                "the API token has {n} characters; an Omnitron API token has at least "
                "{least} (was only part of it pasted?). Nothing was sent"
            )
            raise BadToken(line.format(n=len(value), least=MIN_TOKEN_CHARS))
        self._value = value

    @classmethod
    def from_env(cls, name: str = TOKEN_ENV) -> Token:
        """The token held by the environment variable ``name``; ``BadToken`` when it is unset or unusable.

        The way a script passes the token without writing it in the script (or a command line).
        """
        value = os.environ.get(name, "").strip()
        if not value:
            raise BadToken(_("no API token: set the environment variable {name}").format(name=name))
        try:
            return cls(value)
        except BadToken as exc:
            raise BadToken(f"{name}: {exc}") from None

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        """``text`` without this token or any other credential (see ``redact``)."""
        return redact(text, (self._value,))

    def redact_data(self, value: Any) -> Any:
        return redact_data(value, (self._value,))

    def __repr__(self) -> str:
        return "Token('***')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("a Token cannot be pickled")
