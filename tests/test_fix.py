"""``omnimig fix``: what it corrects, what it leaves (with the reason), and that it never loses or invents."""

from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path

import pytest
import xlsxwriter
from typer.testing import CliRunner, Result

import omnimig
from omnimig.cli import app
from omnimig.fixing.engine import CODES, field_fixer, suggest
from omnimig.io import open_source

DIRTY = Path(__file__).resolve().parent / "data" / "fix"
USER = list(omnimig.schemas.load("user").names)
ORDER = list(omnimig.schemas.load("order").names)


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return path


def user(code: str = "C1", **values: str) -> list[str]:
    base = {
        "customer_code": code,
        "first_name": "Ayşe",
        "last_name": "Yılmaz",
        "email": f"{code.lower()}@example.com",
        "gender": "female",
        "sms_allowed": "true",
        "email_allowed": "false",
        "phone": "5321234567",
        "date_of_birth": "1990-04-23",
        "date_joined": "2023-12-31 14:05:00",
        "password": "x",
        "password_algorithm": "md5",
    }
    base.update(values)
    return [base[name] for name in USER]


def changes(out: Path) -> list[dict[str, str]]:
    with (out / "changes.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cells(path: Path) -> list[list[str | None]]:
    """Every row of a file as the readers see it (what validate and upload read)."""
    source = open_source(path)
    rows: list[list[str | None]] = []
    for chunk in source.chunks:
        rows.extend(chunk.data.astype(object).where(chunk.data.notna(), None).values.tolist())
    return rows


def run(*args: object) -> Result:
    result = CliRunner().invoke(app, ["fix", *(str(a) for a in args)])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def refused(result: Result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def dirty(tmp_path: Path) -> Path:
    folder = tmp_path / "dirty"
    shutil.copytree(DIRTY, folder)
    return folder


# ------------------------------------------------------------------------------------- what is fixed


def test_the_dirty_bundle_gets_every_mechanical_fix_and_one_line_per_change(dirty: Path, tmp_path: Path) -> None:
    result = omnimig.fix(dirty, tmp_path / "out")
    got = {(c["field"], c["before"], c["after"], c["code"]) for c in changes(tmp_path / "out") if c["row"]}
    assert got == {
        ("email", " ayse@example.com ", "ayse@example.com", "trim"),
        ("sms_allowed", "evet", "true", "boolean"),
        ("sms_allowed", "yes", "true", "boolean"),
        ("email_allowed", "Hayır", "false", "boolean"),
        ("email_allowed", "no", "false", "boolean"),
        ("phone", "'+90 532 123 45 67", "5321234567", "phone"),  # the apostrophe: changes.csv is for people
        ("phone", "0532 123 4567", "5321234567", "phone"),
        ("date_of_birth", "14.11.1998", "1998-11-14", "date"),
        ("gender", "Kadın", "female", "synonym"),  # "synonyms" in the rule files
        ("date_joined", "45291.5", "2023-12-31T12:00:00", "excel-date"),
        ("user", "customer_code", "user", "column-alias"),
        ("created_date", "14.11.2023 10:00", "2023-11-14T10:00:00", "date"),
        ("amount", "129,90", "129.90", "number"),
        ("amount", "₺1.249,90", "1249.90", "currency-sign"),
        ("currency", "TL", "TRY", "currency-code"),
        ("installment_count", "3.0", "3", "integral-float"),
        ("quantity", "2,0", "2", "integral-float"),
        ("price", "129,90", "129.90", "number"),
        ("price", "624,95", "624.95", "number"),
    }
    rewrites = [c for c in changes(tmp_path / "out") if c["code"] == "rewrite"]
    assert [Path(c["file"]).name for c in rewrites] == ["users.csv"]
    assert "cp1254" in rewrites[0]["before"] and "';'" in rewrites[0]["before"]
    assert result.lines()[-1] == "29 problems: 21 fixed, 8 need a person"
    assert result.exit_code == 1
    assert (tmp_path / "out" / "users.csv").read_bytes().startswith(b"customer_code,first_name,")


def test_what_is_left_says_why_it_was_not_fixed(dirty: Path, tmp_path: Path) -> None:
    result = omnimig.fix(dirty, tmp_path / "out")
    reasons = {(g.rule, g.field): reason for g in result.remaining for _, reason in g.examples}
    assert "omnimig never invents" in reasons[("required", "first_name")]
    assert "day/month order unknown" in reasons[("pattern", "date_of_birth")]
    assert "landline" in reasons[("pattern", "phone")]
    assert "ambiguous" in reasons[("decimal-places", "amount")]  # 1.234
    assert "never invents the time of day" in reasons[("pattern", "date_joined")]
    assert "row's currency is USD" in reasons[("type", "amount")]  # 649,90 TL on a USD order
    assert "does not guess" in reasons[("choices", "status")]  # Delivered
    assert ("pattern", "gender") not in reasons  # Kadın: the rule file names it a spelling of female
    text = "\n".join(result.lines())
    assert "not fixed:" in text and "left for a person, by rule:" in text


def test_duplicate_keys_dangling_references_and_long_values_stay(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "users.csv", [USER, user("C1"), user("C1", email="other@example.com")])
    address = list(omnimig.schemas.load("address").names)
    row = {n: "x" for n in address} | {"user": "NOPE", "email": "c1@example.com", "first_name": "Ş" * 300}
    write_csv(folder / "addresses.csv", [address, [row[n] for n in address]])
    result = omnimig.fix(folder, tmp_path / "out")
    left = {(g.rule, g.field): g.examples[0][1] for g in result.remaining}
    assert "duplicate key" in left[("unique", "customer_code")]
    assert "dangling reference" in left[("foreign-key", "user")]
    assert "cutting it would lose text" in left[("max-length", "first_name")]
    assert changes(tmp_path / "out") == []
    assert result.fixed == 0 and result.need_person == result.before


def test_a_value_that_passes_is_never_touched(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    # "Male", "try"-like case, "1"/"0" booleans, a space inside a name: all pass their rules
    write_csv(folder / "users.csv", [USER, user("C1", gender="Male", sms_allowed="1", first_name=" Ali  Veli ")])
    result = omnimig.fix(folder / "users.csv", tmp_path / "out")
    assert changes(tmp_path / "out") == []
    assert (tmp_path / "out" / "users.csv").read_bytes() == (folder / "users.csv").read_bytes()
    assert result.before == 0 and result.exit_code == 0


def test_rows_in_equal_rows_out_and_unchanged_cells_are_identical(dirty: Path, tmp_path: Path) -> None:
    result = omnimig.fix(dirty, tmp_path / "out")
    changed = {(Path(c["file"]).name, int(c["row"]), c["field"]) for c in changes(tmp_path / "out") if c["row"]}
    for f in result.files:
        before, after = cells(Path(f.path)), cells(Path(f.out))
        assert f.rows == f.rows_out == len(before) == len(after)
        header = list(open_source(Path(f.path)).columns)
        for r, (old, new) in enumerate(zip(before, after, strict=True), start=2):
            for name, a, b in zip(header, old, new, strict=True):
                field = "user" if name == "customer_code" else name
                assert (a == b) != ((Path(f.path).name, r, field) in changed), (f.path, r, name, a, b)


def test_fixing_a_fixed_bundle_changes_nothing(dirty: Path, tmp_path: Path) -> None:
    omnimig.fix(dirty, tmp_path / "once")
    again = omnimig.fix(tmp_path / "once", tmp_path / "twice")
    assert changes(tmp_path / "twice") == []
    assert again.fixed == 0
    for name in ("users.csv", "orders.csv", "order_items.csv"):
        assert (tmp_path / "once" / name).read_bytes() == (tmp_path / "twice" / name).read_bytes()


def test_inputs_are_untouched_and_outputs_are_private(dirty: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in dirty.iterdir()}
    omnimig.fix(dirty, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in dirty.iterdir()} == before
    out = tmp_path / "out"
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for p in out.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p


def test_a_second_run_into_the_same_folder_replaces_its_own_files(dirty: Path, tmp_path: Path) -> None:
    omnimig.fix(dirty, tmp_path / "out")
    result = omnimig.fix(dirty, tmp_path / "out")
    assert result.fixed == 21


def test_a_file_omnimig_did_not_write_is_never_replaced(dirty: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "users.csv").write_text("mine", encoding="utf-8")
    line = refused(run(dirty, "--out", out, "--force"))
    assert "did not write it" in line
    assert (out / "users.csv").read_text(encoding="utf-8") == "mine"


def test_dry_run_writes_only_the_change_log(dirty: Path, tmp_path: Path) -> None:
    result = omnimig.fix(dirty, tmp_path / "out", dry_run=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["changes.csv"]
    assert len(changes(tmp_path / "out")) == result.changes == 20
    assert result.lines()[-1] == "29 problems: 21 fixed, 8 need a person"
    assert "(dry run: not written)" in result.lines()[0]


def test_only_limits_the_fix_codes(dirty: Path, tmp_path: Path) -> None:
    omnimig.fix(dirty, tmp_path / "out", only="phone,boolean")
    codes = {c["code"] for c in changes(tmp_path / "out")}
    assert codes == {"phone", "boolean", "rewrite"}
    with pytest.raises(omnimig.UsageError, match="unknown fix code 'nope'"):
        omnimig.fix(dirty, tmp_path / "out2", only=["nope"])


# ------------------------------------------------------------------------------------- formats


def test_json_strings_become_the_json_types_their_fields_need(tmp_path: Path) -> None:
    records = [
        {
            "number": "O1", "user": "C1", "user_email": "c1@example.com", "status": "550",
            "created_date": "2023-11-14", "amount": "129,90", "discount_amount": None, "currency": "TL",
            "payment_type": "card", "bank": "-", "installment_count": 3.0, "tracking_number": "T",
            "shipping_company": "aras", "shipping_address": "a", "billing_address": "a", "extra_field": "",
        },
        {
            "number": "O2", "user": "C1", "user_email": "c1@example.com", "status": "550",
            "created_date": "2023-11-14", "amount": "12.50", "discount_amount": 0, "currency": "TRY",
            "payment_type": "card", "bank": "-", "installment_count": None, "tracking_number": "T",
            "shipping_company": "aras", "shipping_address": "a", "billing_address": "a", "extra_field": {},
        },
    ]  # fmt: skip
    (tmp_path / "orders.json").write_text(json.dumps(records), encoding="utf-8")
    result = omnimig.fix(tmp_path / "orders.json", tmp_path / "out")
    written = json.loads((tmp_path / "out" / "orders.json").read_text(encoding="utf-8"))
    assert written[0]["amount"] == 129.90 and written[0]["currency"] == "TRY"
    assert written[0]["extra_field"] == {} and written[0]["installment_count"] == 3
    assert written[1]["amount"] == 12.50
    got = {(c["row"], c["field"], c["before"], c["after"], c["code"]) for c in changes(tmp_path / "out")}
    assert ("2", "amount", '"12.50"', "12.50", "json-type") in got
    assert ("1", "extra_field", '""', "{}", "empty-object") in got
    assert ("1", "installment_count", "3.0", "3", "integral-float") in got
    assert result.fixed == result.before  # nothing is left but the notes about the missing user file


def test_a_workbook_with_its_header_on_row_3_maps_rows_back(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    sheet.write_string(0, 0, "Müşteriler")
    for r, row in enumerate([USER, user("C1", phone="0532 123 45 67"), user("C2", date_of_birth="01/02/2023")]):
        for c, value in enumerate(row):
            sheet.write_string(r + 2, c, value)
    book.close()
    result = omnimig.fix(path, tmp_path / "out")
    lines = changes(tmp_path / "out")
    assert [(c["row"], c["field"], c["after"]) for c in lines if c["row"]] == [("4", "phone", "5321234567")]
    assert [c["rule"] for c in lines if c["code"] == "rewrite"] == ["header-row"]
    assert result.before == 3 and result.fixed == 2  # header-row and the phone
    (group,) = result.remaining
    assert group.examples[0][0].row == 3  # in the corrected file, whose header is row 1
    assert (tmp_path / "out" / "users.xlsx").is_file()


def test_a_windows_1254_file_with_semicolons_is_written_as_utf8_with_commas(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", [USER, user("C1", first_name="Işıl Ğ")], "cp1254", ";")
    result = omnimig.fix(path, tmp_path / "out")
    text = (tmp_path / "out" / "users.csv").read_text(encoding="utf-8")
    assert "Işıl Ğ" in text and text.startswith("customer_code,first_name")
    (line,) = changes(tmp_path / "out")
    assert line["code"] == "rewrite" and line["rule"] == "encoding"
    assert result.fixed == result.before == 1


# ------------------------------------------------------------------------------------- the engine


@pytest.mark.parametrize(
    ("type_name", "field", "value", "expected"),
    [
        ("order", "amount", "649,90 TL", ("649.90", "currency-sign")),
        ("order", "amount", "1.234", None),  # thousands or decimals: not a guess to make
        ("order", "amount", "$12", None),  # USD, CAD, AUD...
        ("order", "amount", "89.999", None),  # rounding is not a fix
        ("order", "amount", "129.90", None),  # already passes
        ("order_item", "quantity", "3.5", None),
        ("user", "sms_allowed", "EVET", ("true", "boolean")),
        ("user", "sms_allowed", "maybe", None),
        ("user", "phone", "0090 532 123 45 67", ("5321234567", "phone")),
        ("user", "phone", "+44 20 7946 0958", None),
        ("user", "date_of_birth", "31/12/1990", ("1990-12-31", "date")),
        ("user", "date_of_birth", "1990-12-31 10:00", None),  # a date field: dropping the time is a choice
        ("user", "date_of_birth", "1990-12-31 00:00:00", ("1990-12-31", "date")),  # Excel's midnight
        ("user", "date_of_birth", "1990-12-31T00:00:00+03:00", None),  # the offset may move the day
        ("order_item", "quantity", "3 TL", None),
        ("order", "created_date", "2023-12-31T14:05:00Z", None),  # passes as it is
        ("order", "created_date", "2023-12-31 14:05:00 +0300", ("2023-12-31T14:05:00+03:00", "date")),
        ("order", "currency", "₺", ("TRY", "currency-code")),
        ("order", "currency", "$", None),
        ("user", "email", "\u200b ayse@example.com\u00a0", ("ayse@example.com", "trim")),
        ("user", "email", "\u200bayse@example.com", None),  # invisible, but the pattern takes it: not a problem
        ("user", "gender", "Kadın", ("female", "synonym")),  # "synonyms" in user.table.json
    ],
)
def test_suggest(type_name: str, field: str, value: str, expected: tuple[str, str] | None) -> None:
    assert suggest(type_name, field, value) == expected


def test_each_field_gets_its_fixer_from_its_rule() -> None:
    assert field_fixer("user", "phone").steps == ("phone",)
    assert field_fixer("order", "currency").steps == ("currency-code", "trim")
    assert field_fixer("user", "date_joined").steps == ("date", "excel-date")
    assert field_fixer("user", "email").steps == ("trim",)
    assert "integral-float" in field_fixer("order_item", "quantity").steps
    for t in omnimig.schemas.type_names():
        for f in omnimig.schemas.load(t).names:
            assert set(field_fixer(t, f).steps) <= set(CODES)


# ------------------------------------------------------------------------------------- the command


def test_the_command_prints_the_summary_and_exits_1_while_errors_remain(dirty: Path, tmp_path: Path) -> None:
    result = run(dirty, "--out", tmp_path / "out")
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == "29 problems: 21 fixed, 8 need a person"
    clean = run(tmp_path / "out" / "order_items.csv", "--out", tmp_path / "again", "--only", "number")
    assert clean.exit_code == 0, clean.output


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["{tmp}/nope.csv"], "no such file or directory"),
        (["{dirty}", "--only", "nope"], "unknown fix code 'nope'"),
        (["{dirty}", "--type", "invoice"], "unknown type 'invoice'"),
        (["{dirty}/users.csv", "--out", "{dirty}"], "would overwrite the input"),
        (["{tmp}/users.xlsx"], "users.xlsx"),
        (["{tmp}/ragged/users.csv"], "correct the row first"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(dirty: Path, tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "users.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (tmp_path / "ragged").mkdir()
    (tmp_path / "ragged" / "users.csv").write_text(",".join(USER) + "\n" + ",".join(user()) + ",extra\n")
    filled = [a.replace("{tmp}", str(tmp_path)).replace("{dirty}", str(dirty)) for a in args]
    if "--out" not in filled:
        filled += ["--out", str(tmp_path / "out")]
    assert says in refused(run(*filled))
    assert not (tmp_path / "out" / "changes.csv").exists()


def test_changes_csv_neutralises_formulas_for_the_people_who_open_it(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "users.csv", [USER, user("C1", email="=1+2@example.com ")])
    omnimig.fix(path, tmp_path / "out")
    (line,) = changes(tmp_path / "out")
    assert line["before"] == "'=1+2@example.com " and line["after"] == "'=1+2@example.com"
    assert "=1+2@example.com," in (tmp_path / "out" / "users.csv").read_text(encoding="utf-8")  # data unchanged


def test_a_reference_broken_only_by_spaces_is_trimmed_when_the_key_exists(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    write_csv(folder / "users.csv", [USER, user("C1"), user("C2")])
    base = {n: "x" for n in ORDER} | {
        "user_email": "c1@example.com", "status": "550", "created_date": "2023-11-14", "amount": "1.00",
        "discount_amount": "", "currency": "TRY", "installment_count": "", "shipping_company": "aras",
        "extra_field": "{}",
    }  # fmt: skip
    rows = [base | {"number": "O1", "user": "C1 "}, base | {"number": "O2", "user": "C9 "}]
    write_csv(folder / "orders.csv", [ORDER, *[[r[n] for n in ORDER] for r in rows]])
    result = omnimig.fix(folder, tmp_path / "out")
    assert [(c["row"], c["before"], c["after"], c["rule"]) for c in changes(tmp_path / "out")] == [
        ("2", "C1 ", "C1", "foreign-key")
    ]
    (group,) = result.remaining
    assert (group.rule, group.examples[0][0].value) == ("foreign-key", "C9 ")
    assert "dangling reference" in group.examples[0][1]


def test_json_lines_are_written_as_one_array_and_the_change_is_listed(tmp_path: Path) -> None:
    record = dict(zip(USER, user("C1", sms_allowed="evet"), strict=True)) | {"email_allowed": False}
    (tmp_path / "users.jsonl").write_text(json.dumps(record) + "\n\n" + json.dumps(record | {"customer_code": "C2"}))
    result = omnimig.fix(tmp_path / "users.jsonl", tmp_path / "out")
    written = json.loads((tmp_path / "out" / "users.json").read_text(encoding="utf-8"))
    assert [r["sms_allowed"] for r in written] == [True, True]
    lines = changes(tmp_path / "out")
    assert [(c["row"], c["code"]) for c in lines] == [("", "rewrite"), ("1", "boolean"), ("3", "boolean")]
    assert (result.fixed, result.need_person) == (2, 1)  # the email C2 shares with C1 is a duplicate


def test_the_run_in_docs_fix_md_is_what_the_command_prints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (Path(__file__).resolve().parents[1] / "docs" / "fix.md").read_text(encoding="utf-8")
    console = page.split("```console\n", 1)[1].split("```", 1)[0].splitlines()
    log = page.split("`fixed/changes.csv`", 1)[1].split("```\n", 1)[1].split("```", 1)[0]
    assert console[0] == "$ omnimig fix tests/data/fix --out fixed"
    shutil.copytree(DIRTY, tmp_path / "tests" / "data" / "fix")
    monkeypatch.chdir(tmp_path)
    result = run("tests/data/fix", "--out", "fixed")
    assert result.output.splitlines() == console[1:]
    assert (tmp_path / "fixed" / "changes.csv").read_text(encoding="utf-8").replace("\r\n", "\n") == log


def test_suggestions_answer_many_values_of_a_field_at_once() -> None:
    from omnimig.fixing.engine import suggestions

    assert suggestions("order", "amount", ["129,90", "1.234", "649,90 TL", "12.5"]) == [
        ("129.90", "number"),
        None,
        ("649.90", "currency-sign"),
        None,  # passes: a value that passes is never "fixed"
    ]
    assert suggestions("order", "amount", ["12.50"], "json", ["string"]) == [("12.50", "json-type")]


def test_an_excel_error_cell_stays_a_problem_though_the_copy_holds_its_text(tmp_path: Path) -> None:
    path = tmp_path / "users.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet()
    for r, row in enumerate([USER, user("C1", phone="0532 123 45 67"), user("C2")]):
        for c, value in enumerate(row):
            sheet.write_string(r, c, value)
    sheet.write_formula(2, USER.index("last_name"), "=NA()", None, "#N/A")
    book.close()
    result = omnimig.fix(path, tmp_path / "out")
    assert omnimig.validate(tmp_path / "out" / "users.xlsx").valid  # "#N/A" is text now: only fix knows
    (group,) = result.remaining
    assert (group.rule, group.field, group.examples[0][0].row) == ("excel-error", "last_name", 3)
    assert "correct the cell in the workbook" in group.examples[0][1]
    assert (result.before, result.fixed, result.need_person, result.exit_code) == (2, 1, 1, 1)
