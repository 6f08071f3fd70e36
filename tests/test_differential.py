"""Differential test: our engine and Frictionless (our schemas + our custom check) agree.

Files are built from the committed ``samples/`` rows with random planted defects: values that
break each rule of each field (derived from the compiled ``FieldRule``), edge values that must
pass, random text, blank rows and header changes (columns shuffled, dropped or added). Both
validators read the same CSV file; their errors must match as (row, field, rule).
"""

from __future__ import annotations

import csv
import json
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import reference_findings, reference_problems

from omnimig.schemas.rules import FieldRule, default_choices, table_rules, type_names
from omnimig.validation.run import Target, validate_file

SAMPLES = Path(__file__).resolve().parent / "data" / "bundle"
TYPES = type_names()

Key = tuple[int | None, str | None, str]

#: Inputs on which the two are known to disagree, each with the reason; empty when they agree.
#: Keyed by (type, field, cell text); a difference listed here is tolerated in the random test.
KNOWN_DIFFERENCES: dict[tuple[str, str, str], str] = {}


# --- building files -------------------------------------------------------------------------


def _cell(value: object) -> str:
    """A JSON value as the text of a CSV cell (numbers arrive as their literal text)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@cache
def base(type_name: str) -> tuple[tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]]:
    """The header and the valid rows of the committed sample for one type."""
    csv_path = SAMPLES / f"{type_name}.csv"
    if csv_path.exists():
        with csv_path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = [dict(r) for r in reader]
            header = tuple(reader.fieldnames or ())
    else:
        text = (SAMPLES / f"{type_name}.json").read_text(encoding="utf-8")
        records = json.loads(text, parse_float=str, parse_int=str)
        header = tuple(f.name for f in table_rules(type_name).fields)
        rows = [{name: _cell(r.get(name)) for name in header} for r in records]
    assert rows, f"samples for {type_name} have no rows"
    return header, tuple(tuple(r.items()) for r in rows)


def write_csv(path: Path, header: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def ours(path: Path, type_name: str, chunk_rows: int = 200_000) -> set[Key]:
    result = validate_file(Target(path, type_name), default_choices(), chunk_rows=chunk_rows)
    return {(p.row, p.field, p.rule) for p in result.problems if p.severity == "error"}


# --- defects ---------------------------------------------------------------------------------

NUMBER_DEFECTS = [
    "12,50",
    "1e5",
    "abc",
    "NaN",
    "Infinity",
    "-inf",
    " 12",
    "12 ",
    "12.",
    ".5",
    "1_000",
    "١٢",
    "+1.5",
    "-0.00",
    "12\n",
    "0x1F",
    "1.2.3",
    "--1",
    "+",
    "-",
]
INTEGER_DEFECTS = ["1.0", "1e2", " 3", "abc", "٣", "+7", "-0", "00012", "3\n", "1_0", "0x10", "2.", "+", "--3"]
BOOLEAN_DEFECTS = ["maybe", "yes", " true", "TRUE", "tRuE", "T", "2", "0", "1", "false\n", "fAlSe", "no"]
OBJECT_DEFECTS = [
    "[1]",
    '"x"',
    "1",
    "null",
    "true",
    "{",
    "{}",
    '{"a": 1}',
    " {} ",
    "NaN",
    "[]",
    '{"a": NaN}',
    '{"a": {"b": [1, 2]}}',
    "{'a': 1}",
]
PATTERN_DEFECTS = [
    "x",
    "TL",
    "₺",
    "try",
    "TRY",
    "a@b",
    "a@b.c",
    "a@b.c\n",
    "a b@c.d",
    "ayse@example.com ",
    "532 123 45 67",
    "05321234567",
    "+905321234567",
    "5321234567",
    "5321234567\n",
    "532123456",
    "https://x.y/z.jpg",
    "ftp://x",
    "HTTP://X",
    "https://a b",
    "male",
    "FEMALE",
    "Male\n",
    "other",
    "2023-02-30",
    "2023-13-01",
    "2023-12-31 24:00",
    "2023-12-31T23:59:60",
    "2023-12-31 10:00:00.1234567",
    "2023-12-31T10:00+0300",
    "2023-12-31T10:00:00Z",
    "2023-12-31",
    "1990-04-23\n",
    "1990-4-23",
]
TEMPORAL_DEFECTS = [
    "2023-02-30",
    "2023-02-29",
    "2024-02-29",
    "1900-02-29",
    "2000-02-29",
    "0000-02-29",
    "0001-02-29",
    "2023-04-31",
    "2023-02-30 10:00",
    "2023-02-29T23:59:59Z",
    "2023-06-31T10:00:00+03:00",
    "2023-06-30T10:00:00+03:00",
    "1500-01-01",
    "2300-12-31 23:59",
    "9999-12-31",
]


def defect_values(f: FieldRule) -> list[str]:
    """Values that break (or sit just inside) each rule of one field, from the rule's parameters."""
    values = ["", " ", "\n"]
    if f.max_length is not None:
        n = f.max_length
        values += ["x" * (n + 1), "ş" * (n + 1), "x" * n, "ğ" * n]
    if f.kind == "number":
        values += NUMBER_DEFECTS
    elif f.kind == "integer":
        values += INTEGER_DEFECTS
    elif f.kind == "boolean":
        values += BOOLEAN_DEFECTS
    elif f.kind == "object":
        values += OBJECT_DEFECTS
    if f.decimal_places is not None:
        d = f.decimal_places
        values += ["12." + "3" * (d + 1), "0." + "0" * (d + 1), "1." + "5" * d, "-7." + "1" * (d + 1)]
    if f.max_digits is not None:
        m = f.max_digits
        d = f.decimal_places or 0
        values += [
            "1" * (m + 1),
            "1" * m,
            "9" * (m - d) + "." + "9" * d,
            "1" * (m - 1) + "." + "5" * 2,
            "0" * 20 + "1" * m,
            "-" + "1" * (m + 1),
            "+" + "0" * 30 + "1.5",
            "0" * 40,
        ]
    if f.minimum is not None:
        low = f.minimum
        values += [str(low - 1), str(low), str(low + 1), "-" + "9" * 30, "9" * 30, "+0", "-0", "0" * 10, "-5"]
    if f.pattern is not None:
        values += PATTERN_DEFECTS
    if f.temporal is not None:
        values += TEMPORAL_DEFECTS
    return values


ALPHABET = st.one_of(
    st.sampled_from(list('0123456789.,+-eE @{}[]":/\n\r\tTZ')),
    st.characters(codec="utf-8", exclude_characters="\x00"),
)
RANDOM_TEXT = st.text(ALPHABET, max_size=12)
EXTRA_COLUMNS = ["notes", "Extra", "legacy_id"]


@st.composite
def planted(draw: st.DrawFn, type_name: str) -> tuple[list[str], list[dict[str, str]]]:
    """A header and rows: sample rows with random defects planted in random cells."""
    header, pool = base(type_name)
    rules = table_rules(type_name)
    rows = [dict(draw(st.sampled_from(pool))) for _ in range(draw(st.integers(1, 6)))]
    for _ in range(draw(st.integers(0, 8))):
        row = rows[draw(st.integers(0, len(rows) - 1))]
        f = draw(st.sampled_from(rules.fields))
        how = draw(st.sampled_from(["defect", "defect", "defect", "random", "suffix", "prefix"]))
        if how == "defect":
            value = draw(st.sampled_from(defect_values(f)))
        elif how == "random":
            value = draw(RANDOM_TEXT)
        elif how == "suffix":
            value = row.get(f.name, "") + draw(RANDOM_TEXT)
        else:
            value = draw(RANDOM_TEXT) + row.get(f.name, "")
        row[f.name] = value
    if draw(st.integers(0, 4)) == 0:
        rows.insert(draw(st.integers(0, len(rows))), {})
    columns = list(header)
    change = draw(st.sampled_from(["none", "none", "none", "shuffle", "drop", "extra"]))
    if change == "shuffle":
        columns = draw(st.permutations(columns))
    elif change == "drop":
        columns.remove(draw(st.sampled_from(columns)))
    elif change == "extra":
        extra = draw(st.sampled_from(EXTRA_COLUMNS))
        columns.insert(draw(st.integers(0, len(columns))), extra)
        for row in rows:
            if row:
                row[extra] = draw(st.sampled_from(["", "n"]))
    return list(columns), rows


def tolerated(type_name: str, path: Path, key: Key) -> bool:
    """Whether a one-sided finding is a listed known difference."""
    row, field, _rule = key
    if row is None or field is None or not KNOWN_DIFFERENCES:
        return False
    with path.open(encoding="utf-8", newline="") as fh:
        records = list(csv.DictReader(fh))
    index = row - 2
    text = records[index].get(field, "") if 0 <= index < len(records) else ""
    return (type_name, field, text) in KNOWN_DIFFERENCES


def assert_agree(path: Path, type_name: str, chunk_rows: int = 200_000) -> set[Key]:
    mine = ours(path, type_name, chunk_rows)
    theirs = reference_problems(path, type_name)
    only_ours = {k for k in mine - theirs if not tolerated(type_name, path, k)}
    only_theirs = {k for k in theirs - mine if not tolerated(type_name, path, k)}
    assert not only_ours and not only_theirs, (
        f"engine and Frictionless disagree on {path.name}\n"
        f"  only our engine: {sorted(only_ours, key=str)}\n"
        f"  only Frictionless: {sorted(only_theirs, key=str)}\n"
        f"  file:\n{path.read_text(encoding='utf-8')}"
    )
    return mine


# --- the differential property ----------------------------------------------------------------


@pytest.mark.parametrize("type_name", TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_engine_and_frictionless_find_the_same_errors(type_name: str, data: st.DataObject) -> None:
    header, rows = data.draw(planted(type_name))
    chunk_rows = data.draw(st.sampled_from([200_000, 200_000, 1, 2, 3]), label="engine chunk_rows")
    with tempfile.TemporaryDirectory() as tmp:
        path = write_csv(Path(tmp) / f"{type_name}.csv", header, rows)
        assert_agree(path, type_name, chunk_rows)


@pytest.mark.parametrize("type_name", TYPES)
def test_committed_samples_are_clean_for_both(type_name: str, tmp_path: Path) -> None:
    header, pool = base(type_name)
    path = write_csv(tmp_path / f"{type_name}.csv", list(header), [dict(r) for r in pool])
    assert assert_agree(path, type_name) == set()


# --- explicit examples: both name exactly these rows ------------------------------------------


def _file(tmp_path: Path, type_name: str, changes: list[dict[str, str]], header: list[str] | None = None) -> Path:
    columns, pool = base(type_name)
    rows = []
    for change in changes:
        row = dict(pool[0])
        row.update(change)
        rows.append(row if change != {"*": ""} else {})
    return write_csv(tmp_path / f"{type_name}.csv", header or list(columns), rows)


EXAMPLES: dict[str, tuple[list[dict[str, str]], set[Key]]] = {
    "user": (
        [
            {},
            {"email": "ayse@", "phone": "05321234567"},
            {"sms_allowed": "maybe", "date_of_birth": "2023-02-30"},
            {"customer_code": "", "date_joined": "2021-03-14 10:22:05\n"},
            {"*": ""},
            {"gender": "Female", "date_of_birth": "2000-02-29", "email_allowed": "FALSE"},
        ],
        {
            (3, "email", "pattern"),
            (3, "phone", "pattern"),
            (4, "sms_allowed", "type"),
            (4, "date_of_birth", "type"),
            (5, "customer_code", "required"),
            (5, "date_joined", "pattern"),
            (6, None, "blank-row"),
        },
    ),
    "address": (
        [
            {"first_name": "x" * 256, "title": "t" * 128},
            {"email": "ayse@example.com\n", "city": ""},
            {"line": "ş" * 255},
        ],
        {(2, "first_name", "max-length"), (3, "email", "pattern"), (3, "city", "required")},
    ),
    "order": (
        [
            {"amount": "12.345", "discount_amount": "1234567890123"},
            {"amount": "12,50", "installment_count": "0"},
            {"amount": "1e5", "installment_count": " 0"},
            # " " before a quoted cell: present (csv.Sniffer would guess skipinitialspace here)
            {"discount_amount": "0000000000000000012.50", "extra_field": "[1]", "shipping_address": " "},
            {"created_date": "2023-02-29 10:00", "currency": "TL", "extra_field": ""},
            {"amount": "9999999999.99", "installment_count": "-" + "9" * 30},
        ],
        {
            (2, "amount", "decimal-places"),
            (2, "discount_amount", "max-digits"),
            (3, "amount", "type"),
            (3, "installment_count", "min-value"),
            (4, "amount", "type"),
            (4, "installment_count", "type"),
            (5, "extra_field", "json-object"),
            (6, "created_date", "type"),
            (6, "currency", "pattern"),
            (7, "installment_count", "min-value"),
        },
    ),
    "order_item": (
        [
            {"quantity": "0", "price": "NaN"},
            {"quantity": "1.0", "price": "12.5", "image_url": "ftp://x"},
            {"order_number": "", "extra_field": '"x"', "price": "999999999999.5"},
        ],
        {
            (2, "quantity", "min-value"),
            (2, "price", "type"),
            (3, "quantity", "type"),
            (3, "image_url", "pattern"),
            (4, "order_number", "required"),
            (4, "extra_field", "json-object"),
            (4, "price", "max-digits"),
        },
    ),
}


@pytest.mark.parametrize("type_name", TYPES)
def test_known_defects_are_found_by_both(type_name: str, tmp_path: Path) -> None:
    changes, expected = EXAMPLES[type_name]
    path = _file(tmp_path, type_name, changes)
    assert ours(path, type_name) == expected
    assert reference_problems(path, type_name) == expected


def test_header_changes_are_judged_alike(tmp_path: Path) -> None:
    header = list(base("order")[0])
    header.remove("bank")
    header.reverse()
    header.insert(3, "notes")
    path = _file(tmp_path, "order", [{"bank": "", "amount": "12.345"}, {"*": ""}], header=header)
    expected = {(1, "bank", "missing-column"), (2, "amount", "decimal-places"), (3, None, "blank-row")}
    assert ours(path, "order") == expected
    assert reference_problems(path, "order") == expected
    warnings = {(f.row, f.field, f.rule) for f in reference_findings(path, "order") if f.severity == "warning"}
    assert warnings == {(1, "notes", "unknown-column")}


def test_duplicate_columns_are_found_by_both(tmp_path: Path) -> None:
    # Frictionless refuses to match fields by name when a label repeats, so the reference
    # judges only the header here; our engine goes on with the first of the two columns.
    header = [*base("address")[0], "city"]
    path = _file(tmp_path, "address", [{}], header=header)
    assert ours(path, "address") == {(1, "city", "duplicate-column")}
    assert reference_problems(path, "address") == {(1, "city", "duplicate-column")}


def test_frictionless_alone_misses_what_the_custom_check_adds(tmp_path: Path) -> None:
    # Each of these is an error for our engine; without AkinonCheck, Frictionless passes it:
    # exponent/NaN/space-padded numbers, decimal places, digit counts, impossible calendar days
    # and a pattern value followed by a newline (Frictionless anchors with ^…$ and re.match).
    changes = [
        {"amount": "1e5", "discount_amount": "12.345"},
        {"amount": "NaN", "discount_amount": "1234567890123"},
        {"amount": " 12", "created_date": "2023-02-30", "user_email": "ayse@example.com\n"},
    ]
    path = _file(tmp_path, "order", changes)
    added = {
        (2, "amount", "type"),
        (2, "discount_amount", "decimal-places"),
        (3, "amount", "type"),
        (3, "discount_amount", "max-digits"),
        (4, "amount", "type"),
        (4, "created_date", "type"),
        (4, "user_email", "pattern"),
    }
    assert reference_problems(path, "order", custom_check=False) == set()
    assert reference_problems(path, "order") == added == ours(path, "order")


def test_a_space_before_a_quoted_cell_is_a_value_for_both(tmp_path: Path) -> None:
    # Found by the differential test: csv.Sniffer, which Frictionless runs on a sample unless
    # every reading option is given, guesses skipinitialspace from `, ,"…"` and reads " " as "".
    header, pool = base("order")
    row = dict(pool[1])
    row["shipping_address"] = " "
    path = write_csv(tmp_path / "order.csv", list(header), [row])
    assert ours(path, "order") == set()
    assert reference_problems(path, "order") == set()
