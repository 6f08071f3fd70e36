"""``fields.SHALLOW_OBJECT``: the RE2 fast path of the json-object rule must never pass what ``json.loads`` refuses.

The rule parses in Python only the cells the pattern does not accept, so the pattern accepting a
text that is not a JSON object would let a broken ``extra_field`` through. Checked through Arrow's
RE2 (the engine the validator uses) on JSON of every shape and on broken variants of it; and the
shapes transforms write (objects of scalars, one level deep) must take the fast path.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from omnimig.validation.fields import SHALLOW_OBJECT

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
)
SHALLOW = st.dictionaries(
    st.text(max_size=6),
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=8),
        st.dictionaries(st.text(max_size=6), st.text() | st.integers() | st.none()),
    ),
    max_size=4,
)


def _accepted(texts: list[str]) -> list[bool]:
    found = pc.match_substring_regex(pa.array(texts, pa.string()), SHALLOW_OBJECT)
    return [bool(v) for v in found.to_pylist()]


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


BREAKS = [",", "}", "{", '"', "\\", "]", ":", " ", "\n", "\x00", "0", "-", "e"]


@settings(max_examples=150, deadline=None)
@given(JSON, st.booleans())
def test_what_the_pattern_accepts_json_reads_as_an_object(value: object, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    # The text, and every one-character insertion or deletion of it: the near misses a pattern
    # that is too loose would accept (a trailing comma, a bare key, a cut string).
    variants = [text, f" {text}\n"]
    for i in range(len(text) + 1):
        variants += [text[:i] + cut + text[i:] for cut in BREAKS]
        variants.append(text[:i] + text[i + 1 :])
    for variant, accepted in zip(variants, _accepted(variants), strict=True):
        if accepted:
            assert _is_object(variant), variant


@settings(max_examples=200, deadline=None)
@given(SHALLOW, st.booleans(), st.sampled_from([None, 1, 2]))
def test_objects_one_level_deep_take_the_fast_path(
    value: dict[str, object], ascii_only: bool, indent: int | None
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    assert _accepted([text]) == [True], text
