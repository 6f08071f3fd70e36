"""Which of a validation's problems ``omnimig fix`` would correct, and to what.

``validate`` marks a problem fixable (the text summary counts them, the JSON and CSV reports carry
the suggestion, the workbook's note says "write 129.90") with exactly the attempt and check
``fix`` makes (``engine.suggestions``), so a mark is a promise ``fix`` keeps. The validation
layer does not import this module (``fixing`` sits above it): ``omnimig.validate`` hands the
function to the report, which calls it once, when a report first needs the marks.
"""

from __future__ import annotations

from collections import defaultdict

from omnimig.schemas import type_names
from omnimig.validation.problem import FileResult
from omnimig.validation.result import Fixes, FixKey

__all__ = ["fixable"]

#: Fix codes whose outcome depends on other cells of the row, so a value alone cannot promise them.
ROW_DEPENDENT = frozenset({"currency-sign"})


def _is_text(value: str) -> bool:
    """A value the column check can read: a lone surrogate (from a hostile JSON file) is no text to fix."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def fixable(results: list[FileResult]) -> Fixes:
    """What ``fix`` corrects: ``(type, field, format, value)`` → the corrected value, for every failing
    cell it corrects, and the whole-file rules writing the file plainly resolves.

    One column check per field for all its failing values at once (twice: before and after the
    attempt), so marking a report costs little beside validating it. Bundle rules are not
    considered: a corrected key may still be a duplicate, which ``fix`` then leaves to a person.
    """
    wanted: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    known = set(type_names())
    for result in results:
        if not result.readable or result.type not in known or result.format is None:
            continue
        for _row, field, _rule, severity, value, _message in result.problems.entries():
            if field and value is not None and severity in ("error", "warning") and _is_text(value):
                wanted[(result.type, field, result.format)].add(value)
    from omnimig.fixing.engine import suggestions

    marks: dict[FixKey, str] = {}
    for (type_name, field, fmt), values in wanted.items():
        ordered = sorted(values)
        try:
            found = suggestions(type_name, field, ordered, fmt)
        except KeyError:  # a column the rules do not know (a repeated or extra header)
            continue
        for value, suggestion in zip(ordered, found, strict=True):
            # A fix that depends on another cell of the row (a currency sign must agree with the
            # row's currency) is not promised from the value alone: fix decides it per row.
            if suggestion is not None and suggestion[1] not in ROW_DEPENDENT:
                marks[(type_name, field, fmt, value)] = suggestion[0]
    from omnimig.fixing.run import REWRITTEN

    return Fixes(marks, REWRITTEN | {"column-alias"})
