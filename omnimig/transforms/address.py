"""Address and name helpers shared by the sources.

Akinon's order file wants each address as one free-text line, while exports hold parts; the
line is built in the order a courier reads it (street, district, township, postcode and
city, country) with empty and repeated parts left out. A line over the field's maximum is
not cut here: the rules reject it, or ``--truncate`` cuts it and says so.
"""

from __future__ import annotations

from typing import Any

from omnimig.transforms import normalize as nz


def join_parts(parts: list[str | None], *, clean: bool = False) -> str:
    """``", "``-join the non-empty parts, each once (a district named like its township is said once).

    ``clean``: the parts are ``normalize.text``'s output already (a source that cleaned each cell),
    so they are not cleaned again; two parts are one when their ``normalize.match_key`` is.
    """
    seen: set[str] = set()
    out: list[str] = []
    for part in parts:
        text = (part if clean else nz.text(part)) if part else None
        if not text:
            continue
        key = nz.match_key(text)
        if key in seen:
            continue
        seen.add(key)
        out.append(text)
    return ", ".join(out)


def _name(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("name")
    return "" if value is None else str(value)


def flatten_address(address: dict[str, Any] | None) -> str:
    """An Omnitron address object as one line: name, street, district, township, postcode city, country, phone."""
    if not address:
        return ""
    person = " ".join(p for p in (_name(address.get("first_name")), _name(address.get("last_name"))) if p)
    postcode = _name(address.get("postcode"))
    city = _name(address.get("city"))
    return join_parts(
        [
            person,
            _name(address.get("company_name")),
            _name(address.get("line")),
            _name(address.get("district")),
            _name(address.get("township")),
            f"{postcode} {city}".strip(),
            _name(address.get("country")),
            _name(address.get("phone_number")),
        ]
    )


def split_name(full: str | None) -> tuple[str, str]:
    """``Ayşe Nur Kaya`` → (``Ayşe Nur``, ``Kaya``): the surname is the last word, as Turkish exports write names."""
    text = nz.text(full) or ""
    if " " not in text:
        return text, ""
    first, _, last = text.rpartition(" ")
    return first, last
