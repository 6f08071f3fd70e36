"""JSON value kinds for rows held as text, so a text row can be written as typed JSON."""

from __future__ import annotations

import pandas as pd

from omnimig.schemas.rules import NUMBER_TEXT, json_rules


def json_kinds(type_name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """JSON kinds for text rows: what the JSON Schema says each field is; empty means null.

    A planted value that is not of its field's type (``12,50`` for a number) is written as a
    JSON string, which is how such a mistake looks in a real JSON export.
    """
    rules = json_rules(type_name)
    out = {}
    for column in frame.columns:
        kind = rules.field(column).kind
        text = frame[column]
        if kind in ("number", "integer"):
            fits = text.str.fullmatch(NUMBER_TEXT)
            kinds = pd.Series("number", index=frame.index).where(fits.fillna(False).astype(bool), "string")
        elif kind == "boolean":
            kinds = pd.Series("boolean", index=frame.index).where(text.isin(["true", "false"]), "string")
        elif kind == "object":
            kinds = pd.Series("string", index=frame.index)
            kinds = kinds.mask(text.str.startswith("{").fillna(False).astype(bool), "object")
            kinds = kinds.mask(text.str.startswith("[").fillna(False).astype(bool), "array")
        else:
            kinds = pd.Series("string", index=frame.index)
        empty = text.eq("").fillna(False).astype(bool)
        out[column] = kinds.where(~empty | (kind == "string"), "null")
    return pd.DataFrame(out, index=frame.index)
