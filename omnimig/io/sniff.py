"""What a file really is, from its first bytes, when its extension says otherwise.

Web panels' "Excel export" buttons often write an HTML table or CSV text and name it ``.xls``;
people rename an ``.xlsx`` to ``.xls`` or save CSV text under ``.xlsx``. Excel opens all of
these by content, so omnimig does too, and says what the file really is: Akinon's importer
goes by the extension, so the file has to be saved properly before it is uploaded.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from omnimig.exceptions import ReadError
from omnimig.i18n import N_, _
from omnimig.io.table import Notice

ZIP = b"PK\x03\x04"  # XLSX is a ZIP container
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy XLS is an OLE2 compound file
HEAD = 4096

WHAT = {
    "xlsx": N_("an XLSX workbook"),
    "xls": N_("a legacy XLS workbook"),
    "html": N_('an HTML table (what many web panels\' "Excel export" writes)'),
    "csv": N_("CSV text"),
}
ADVICE = {
    "xlsx": N_("rename it to .xlsx"),
    "xls": N_("rename it to .xls, or save it as .xlsx in Excel"),
    "html": N_('open it in Excel and save it as .xlsx or "CSV UTF-8"'),
    "csv": N_("rename it to .csv"),
}


def content_format(head: bytes) -> str | None:
    """``xlsx``, ``xls``, ``html`` or ``csv`` (any other text) from a file's first bytes; ``None``
    for an empty file or binary content none of these."""
    if head.startswith(ZIP):
        return "xlsx"
    if head.startswith(OLE):
        return "xls"
    text = _text(head)
    if text is None:
        return None
    start = text.lstrip().lower()
    if not start:
        return None
    if start.startswith("<") and any(tag in start for tag in ("<table", "<html", "<!doctype html")):
        return "html"
    return "csv"


def _text(head: bytes) -> str | None:
    """The start of the file as text (any ASCII-compatible encoding, or UTF-16 with a BOM), or ``None``."""
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom) and not head.startswith(codecs.BOM_UTF32_LE):
            return head[len(bom) :].decode(codec, errors="ignore")
    if b"\x00" in head:
        return None
    return head.decode("utf-8-sig", errors="ignore")  # only the start is looked at: a bad byte does not matter


def sniff_format(path: Path, named: str) -> tuple[str, Notice | None]:
    """The format to read ``path`` as, and a ``file-format`` notice when it is not ``named``.

    JSON files are left to the JSON reader, and content none of the known kinds is read as
    the extension says (its reader gives the one-line reason).
    """
    if named == "json":
        return named, None
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD)
    except OSError as exc:
        raise ReadError(
            _("{path}: cannot read the file: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    found = content_format(head)
    if found is None or found == named:
        return named, None
    notice = Notice(
        "file-format",
        _(
            "the file is named {extension} but is really {what}; read it as such. "
            "Akinon goes by the extension: {advice} before uploading"
        ).format(extension=path.suffix, what=_(WHAT[found]), advice=_(ADVICE[found])),
    )
    return found, notice
