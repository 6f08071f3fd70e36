"""Properties of ``omnimig fix`` for any bundle (hypothesis), and the planted-defect samples' known split.

- idempotent: fixing a fixed bundle changes nothing;
- sound: every changed cell passes its field rules afterwards, and had a problem before (a value
  that passes is never touched);
- faithful: rows in = rows out, and exactly the cells listed in ``changes.csv`` differ;
- never worse: no field problem appears that the input did not have (bundle problems that the
  fixes made checkable are counted and said, ``FixResult.new``).
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import omnimig
from omnimig.fixing.engine import failures, field_fixer, suggest
from omnimig.fixing.run import FIELD_RULES, REFERENCE_RULES
from omnimig.io import open_source

USER = list(omnimig.schemas.load("user").names)
ORDER = list(omnimig.schemas.load("order").names)


#: Any short text a CSV cell can hold (a NUL makes the file binary: a refusal, tested elsewhere).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)


def values(*given: str) -> st.SearchStrategy[str]:
    """The listed spellings (valid and dirty), now and then any short text."""
    return st.one_of(st.sampled_from(given), TEXT) if len(given) > 2 else st.sampled_from(given)


USER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "customer_code": st.sampled_from(["C1", "C2", " C1", "C3 "]),
    "first_name": st.sampled_from(["Ayşe", "", " Ali ", "İ" * 3]),
    "last_name": st.just("Yılmaz"),
    "email": values("a@example.com", " a@example.com", "B@example.com ", "\u200b c@example.com", "x", ""),
    "gender": values("", "male", "Female", "Kadın", " male"),
    "sms_allowed": values("true", "evet", "Hayır", "1", "x", "maybe", "", "TRUE "),
    "email_allowed": st.sampled_from(["false", "no", "0"]),
    "phone": values("", "5321234567", "0532 123 45 67", "+90 532 123 45 67", "0212 123 45 67", "532"),
    "date_of_birth": values("", "1990-04-23", "14.11.1998", "01/02/2023", "31/12/1990", "45291", "2023-02-30"),
    "date_joined": values("2023-12-31 14:05:00", "2023-12-31", "45291.5", "31.12.2023 14:05", ""),
    "password": st.just("x"),
    "password_algorithm": st.sampled_from(["md5", " md5", "MD5"]),
}
ORDER_VALUES: dict[str, st.SearchStrategy[str]] = {
    "number": st.sampled_from(["O1", "O2", " O1"]),
    "user": st.sampled_from(["C1", "C2", "NOPE", "C1 ", "\u200bC2"]),
    "user_email": st.sampled_from(["a@example.com", "a@example.com "]),
    "status": st.sampled_from(["550", "Delivered", " 550"]),
    "created_date": values("2023-11-14", "14.11.2023 10:00", "01/02/2023", "45291", ""),
    "amount": values("129,90", "129.90", "1.234", "₺1.249,90", "649,90 TL", "$5", "89.999", "", "1 249,90"),
    "discount_amount": st.sampled_from(["", "0", "0,50"]),
    "currency": values("TRY", "TL", "try", "USD", "$", "", "₺"),
    "payment_type": st.just("card"),
    "bank": st.just("-"),
    "installment_count": values("", "3", "3.0", "0", "1,0", "2.5"),
    "tracking_number": st.just("T"),
    "shipping_company": st.sampled_from(["aras", "Aras ", "Yurtiçi"]),
    "shipping_address": st.just("a"),
    "billing_address": st.just("a"),
    "extra_field": st.sampled_from(["", "{}", "x"]),
}


def rows_of(fields: dict[str, st.SearchStrategy[str]], names: list[str]) -> st.SearchStrategy[list[list[str]]]:
    return st.lists(st.fixed_dictionaries(fields).map(lambda r: [r[n] for n in names]), min_size=1, max_size=5)


def write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


def cells(path: Path) -> list[list[str | None]]:
    rows: list[list[str | None]] = []
    for chunk in open_source(path).chunks:
        rows.extend(chunk.data.astype(object).where(chunk.data.notna(), None).values.tolist())
    return rows


def change_lines(out: Path) -> list[dict[str, str]]:
    with (out / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


Key = tuple[str, int | None, str | None]


def field_problems(report: omnimig.Report, name: Callable[[str], str]) -> dict[Key, set[str]]:
    found: dict[Key, set[str]] = {}
    for p in report.problems():
        if p.severity in ("error", "warning"):
            found.setdefault((name(p.file), p.row, p.field), set()).add(p.rule)
    return found


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(users=rows_of(USER_VALUES, USER), orders=rows_of(ORDER_VALUES, ORDER))
def test_fix_is_idempotent_sound_faithful_and_never_worse(users: list[list[str]], orders: list[list[str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "in").mkdir()
        write(root / "in" / "users.csv", USER, users)
        write(root / "in" / "orders.csv", ORDER, orders)
        result = omnimig.fix(root / "in", root / "once")
        lines = change_lines(root / "once")
        changed = {(Path(c["file"]).name, int(c["row"]), c["field"]) for c in lines if c["row"]}
        assert len(changed) == len([c for c in lines if c["row"]]), "one line per changed cell"

        # faithful: rows in = rows out, and exactly the listed cells differ
        for header, name in ((USER, "users.csv"), (ORDER, "orders.csv")):
            before, after = cells(root / "in" / name), cells(root / "once" / name)
            assert len(before) == len(after)
            differ = {
                (name, r, field)
                for r, (old, new) in enumerate(zip(before, after, strict=True), start=2)
                for field, a, b in zip(header, old, new, strict=True)
                if a != b
            }
            assert differ == {c for c in changed if c[0] == name}

        # sound: a changed cell broke a rule before and breaks no field rule after
        base = Path.name.fget  # type: ignore[attr-defined]
        was = field_problems(omnimig.validate(root / "in"), lambda f: base(Path(f)))
        now = field_problems(omnimig.validate(root / "once"), lambda f: base(Path(f)))
        for cell in changed:
            assert was.get(cell), f"{cell} passed and was changed"
            assert not (now.get(cell, set()) & (FIELD_RULES | REFERENCE_RULES | {"required"})), (cell, now[cell])

        # never worse: no new field problem anywhere (rows are the same: CSV in, CSV out)
        for cell, rules in now.items():
            assert not ((rules - was.get(cell, set())) & FIELD_RULES), (cell, rules, was.get(cell))
        assert result.fixed + result.need_person == result.before

        # idempotent
        again = omnimig.fix(root / "once", root / "twice")
        assert change_lines(root / "twice") == []
        assert again.fixed == 0


FIELDS = [(t, f) for t in omnimig.schemas.type_names() for f in omnimig.schemas.load(t).names]
DIRTY = st.sampled_from(
    [" 129,90", "₺1.249,90", "1.234", "3.0", "evet", "HAYIR", "0532 123 45 67", "14.11.1998", "45291", "TL", "x"]
)


@settings(max_examples=150, deadline=None)
@given(where=st.sampled_from(FIELDS), value=st.one_of(DIRTY, st.text(max_size=12)))
def test_a_suggestion_passes_its_rule_and_is_not_fixed_again(where: tuple[str, str], value: str) -> None:
    type_name, field = where
    found = suggest(type_name, field, value)
    if found is None:
        return
    fixed, code = found
    assert fixed != value
    assert failures(field_fixer(type_name, field).rule, [fixed], None) == [[]]
    assert suggest(type_name, field, fixed) is None
    assert code in field_fixer(type_name, field).steps


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "json"])
def test_the_planted_defect_samples_split_into_a_known_fixable_part(tmp_path: Path, fmt: str) -> None:
    """Of the planted defects, exactly the decimal commas in number fields are fixable, in every format."""
    omnimig.samples(tmp_path / "in", orders=30, seed=3, invalid_rate=0.1, format=fmt)
    key = json.loads((tmp_path / "in" / "expected_problems.json").read_text(encoding="utf-8"))
    numbers = {(t, f.name) for t in omnimig.schemas.type_names() for f in omnimig.schemas.load(t).fields}
    numbers = {(t, f) for t, f in numbers if omnimig.schemas.load(t).field(f).kind == "number"}
    fixable = {
        (Path(k["file"]).name, k["row"], k["field"])
        for k in key
        if k["rule"] == "type" and (Path(k["file"]).stem, k["field"]) in numbers
    }
    result = omnimig.fix(tmp_path / "in", tmp_path / "out")
    lines = change_lines(tmp_path / "out")
    assert {(Path(c["file"]).name, int(c["row"]), c["field"]) for c in lines} == fixable
    assert {c["before"] for c in lines} == ({'"12,50"'} if fmt == "json" else {"12,50"})
    assert result.fixed == len(fixable) == 10
    assert result.need_person == len(key) - len(fixable)
    # The unit of a planted item defect holds an unreadable amount to keep covers-children quiet;
    # once that amount is read, the check speaks: the run says so.
    assert result.new == 8
    new_rules = {g.rule for g in result.remaining} - {k["rule"] for k in key}
    assert new_rules <= {"amount-below-items"}
