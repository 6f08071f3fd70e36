"""``samples --test-set``: one customer with an address and an order with its items, picked from a real bundle.

The picked mini-bundle must validate without a problem and its references must hold; it holds
exactly one user, one address, one order and every item of that order, written as read. Users
that cannot make a test set are skipped, and a customer asked for by code is taken or refused
with a one-line reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_bundle import FORMATS, SAMPLES, SUFFIX, Bundle, samples, write_bundle
from test_split import Num, read_rows

from omnimig.sampling import testset
from omnimig.schemas.rules import default_choices
from omnimig.validation.bundle import check_bundle
from omnimig.validation.run import collect_targets, validate_file

TYPES = ["user", "address", "order", "order_item"]


def pick(tables: Bundle | Path, tmp_path: Path, fmt: str = "csv", customer: str | None = None) -> testset.TestSet:
    """Write ``tables`` as a bundle in ``fmt`` (or use a folder as it is) and pick a test set into ``out``."""
    if isinstance(tables, Path):
        folder = tables
    else:
        folder = tmp_path / "b"
        write_bundle(folder, tables, fmt)
    return testset.pick_test_set([folder], tmp_path / "out", customer)


def refused(tables: Bundle, tmp_path: Path, customer: str | None = None, fmt: str = "csv") -> str:
    with pytest.raises(testset.TestSetError) as info:
        pick(tables, tmp_path, fmt, customer)
    message = str(info.value)
    assert "\n" not in message
    assert not (tmp_path / "out").exists(), "nothing is written when no test set can be picked"
    return message


def assert_clean(folder: Path) -> None:
    """The mini-bundle has all four types and not one problem, field or cross-file."""
    targets, skipped = collect_targets([folder], None)
    assert skipped == []
    results = [validate_file(t, default_choices()) for t in targets]
    outcome = check_bundle(results, require_all=True)
    assert outcome.errors == [] and outcome.notes == []
    assert [p for r in results for p in r.problems] == []
    assert sorted(r.type for r in results) == sorted(TYPES)


def written(ts: testset.TestSet, type_name: str) -> list[dict[str, Any]]:
    (p,) = ts.of(type_name)
    return read_rows(Path(p.written))[1]


def source_rows(p: testset.Picked) -> list[dict[str, Any]]:
    """The rows ``p`` says it took, read from its source file."""
    first = 1 if p.source.endswith(".json") else 2
    rows = read_rows(Path(p.source))[1]
    return [rows[r - first] for r in p.rows]


def assert_consistent(ts: testset.TestSet) -> None:
    """One user, one address, one order and all its items; references hold; rows are written as read."""
    users, addresses, orders, items = (written(ts, t) for t in TYPES)
    assert [u["customer_code"] for u in users] == [ts.customer]
    assert [a["user"] for a in addresses] == [ts.customer]
    assert [(o["number"], o["user"]) for o in orders] == [(ts.order, ts.customer)]
    assert items and all(i["order_number"] == ts.order for i in items)
    (item_pick,) = ts.of("order_item")
    all_items = read_rows(Path(item_pick.source))[1]
    assert len(items) == sum(1 for i in all_items if i["order_number"] == ts.order)
    for p in ts.picks:
        assert read_rows(Path(p.written))[1] == source_rows(p), p.type


# --------------------------------------------------------------------------- picking


def test_committed_samples_give_the_first_customer_with_all_items_written_as_read(tmp_path: Path) -> None:
    ts = pick(SAMPLES, tmp_path)
    assert (ts.customer, ts.order) == ("C0001", "ORD-2023-0001")
    assert [p.type for p in ts.picks] == TYPES
    assert [Path(p.written).name for p in ts.picks] == ["user.csv", "address.csv", "order.csv", "order_item.json"]
    assert [p.rows for p in ts.picks] == [(2,), (2,), (2,), (1, 2)]
    assert_clean(tmp_path / "out")
    assert_consistent(ts)
    # JSON numbers keep their literal text: 149.90 and 200.00, numbers still, not 149.9 or strings.
    prices = [i["price"] for i in written(ts, "order_item")]
    assert prices == ["149.90", "200.00"] and all(isinstance(v, Num) for v in prices)
    assert '"price": 149.90' in Path(ts.of("order_item")[0].written).read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", FORMATS)
def test_mini_bundle_validates_and_its_references_hold_in_every_format(tmp_path: Path, fmt: str) -> None:
    ts = pick(samples(), tmp_path, fmt)
    assert (ts.customer, ts.order) == ("C0001", "ORD-2023-0001")
    assert [Path(p.written).name for p in ts.picks] == [f"{t}{SUFFIX[fmt]}" for t in TYPES]
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


@pytest.mark.parametrize("fmt", FORMATS)
def test_customer_picks_the_given_one(tmp_path: Path, fmt: str) -> None:
    ts = pick(samples(), tmp_path, fmt, customer="C0003")
    assert (ts.customer, ts.order) == ("C0003", "ORD-2024-0004")
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_user_with_errors_is_skipped_for_the_next_good_one(tmp_path: Path, fmt: str) -> None:
    t = samples()
    t["user"].rows[0]["first_name"] = ""  # C0001
    ts = pick(t, tmp_path, fmt)
    assert (ts.customer, ts.order) == ("C0002", "ORD-2023-0003")
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


def test_an_order_with_a_bad_item_is_passed_over_for_one_whose_items_are_all_good(tmp_path: Path) -> None:
    t = samples()
    t["order_item"].rows[0]["quantity"] = "0"  # one of ORD-2023-0001's two items
    ts = pick(t, tmp_path, "json")
    assert (ts.customer, ts.order) == ("C0001", "ORD-2023-0002")
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


def test_an_address_with_errors_is_passed_over_for_the_users_next_address(tmp_path: Path) -> None:
    t = samples()
    t["address"].rows[0]["line"] = ""  # C0001's first address; the second is fine
    ts = pick(t, tmp_path)
    assert ts.customer == "C0001"
    assert ts.of("address")[0].rows == (3,)
    assert_clean(tmp_path / "out")


def test_files_of_one_type_split_over_two_files_keep_their_names(tmp_path: Path) -> None:
    t = samples()
    folder = tmp_path / "b"
    write_bundle(folder, {k: v for k, v in t.items() if k != "order"}, "csv")
    order = t["order"]
    write_bundle(folder, {"order": type(order)(order.columns, order.rows[:2])}, "csv", {"order": "orders-2023a"})
    write_bundle(folder, {"order": type(order)(order.columns, order.rows[2:])}, "csv", {"order": "orders-2023b"})
    ts = pick(folder, tmp_path, customer="C0003")
    assert [Path(p.written).name for p in ts.of("order")] == ["orders-2023b.csv"]
    assert ts.of("order")[0].rows == (3,)
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_customer_with_errors_is_refused_naming_the_error(tmp_path: Path, fmt: str) -> None:
    t = samples()
    t["user"].rows[0]["first_name"] = ""
    message = refused(t, tmp_path, "C0001", fmt)
    assert message.startswith('user customer_code "C0001" has errors (')
    assert f"b/user{SUFFIX[fmt]} row {2 if fmt == 'csv' else 1}: [required] first_name" in message


def test_an_unknown_customer_is_refused(tmp_path: Path) -> None:
    assert refused(samples(), tmp_path, "C9999").startswith('user customer_code "C9999" not found in ')


def test_a_customer_without_an_address_is_refused(tmp_path: Path) -> None:
    t = samples()
    t["address"].rows = [a for a in t["address"].rows if a["user"] != "C0003"]
    assert refused(t, tmp_path, "C0003") == 'user customer_code "C0003" has no address'


def test_a_customer_whose_addresses_all_have_errors_is_refused(tmp_path: Path) -> None:
    t = samples()
    t["address"].row("user", "C0003")["city"] = ""
    message = refused(t, tmp_path, "C0003")
    assert message.startswith('user customer_code "C0003" has no address without errors (')
    assert "[required] city" in message


def test_a_customer_without_order_items_is_refused(tmp_path: Path) -> None:
    t = samples()
    t["order_item"].rows = [i for i in t["order_item"].rows if i["order_number"] != "ORD-2024-0004"]
    assert refused(t, tmp_path, "C0003") == 'user customer_code "C0003" has no order with order_item rows'


def test_a_customer_whose_only_order_has_a_bad_item_is_refused(tmp_path: Path) -> None:
    t = samples()
    t["order_item"].row("order_number", "ORD-2024-0004")["quantity"] = "0"
    message = refused(t, tmp_path, "C0003")
    assert message == 'user customer_code "C0003" has no order whose order_item rows are all without errors'


def test_a_bundle_where_no_user_qualifies_is_refused_saying_what_is_needed(tmp_path: Path) -> None:
    t = samples()
    for item in t["order_item"].rows:
        item["quantity"] = "0"
    message = refused(t, tmp_path)
    assert message.startswith("no user has an address and an order with order_item rows, all without errors (")
    assert "omnimig validate" in message


def test_a_bundle_missing_a_type_is_refused(tmp_path: Path) -> None:
    t = samples()
    del t["order_item"]
    assert refused(t, tmp_path).startswith("the bundle has no order_item file; a test set needs one of each: ")


def test_writing_over_the_input_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "b"
    paths = write_bundle(folder, samples(), "csv")
    before = {p: p.read_bytes() for p in paths.values()}
    with pytest.raises(testset.TestSetError, match="is an input file"):
        testset.pick_test_set([folder], folder)
    assert {p: p.read_bytes() for p in paths.values()} == before


def test_a_leftover_migration_file_in_out_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "order_items.csv").write_text("order_number\n", encoding="utf-8")
    with pytest.raises(testset.TestSetError, match="write the test set to an empty folder"):
        pick(samples(), tmp_path)


def test_picking_again_into_the_same_folder_replaces_the_test_set(tmp_path: Path) -> None:
    pick(samples(), tmp_path, customer="C0001")
    ts = pick(samples(), tmp_path, customer="C0003")
    assert ts.customer == "C0003"
    assert_clean(tmp_path / "out")
    assert_consistent(ts)


def test_out_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("", encoding="utf-8")
    with pytest.raises(testset.TestSetError, match="is a file; --out needs a folder"):
        pick(samples(), tmp_path)


# --------------------------------------------------------------------------- the checklist's login line


@pytest.mark.parametrize(
    ("password", "algorithm", "kind", "says"),
    [
        ("md5$f3a1c9$8d4e3f0b2a1c5d6e7f8091a2b3c4d5e6", "md5", "hash", "only its md5 hash"),
        ("!9f2c0e1d4b7a6358c2e1f0a9b8c7d6e5f4a3b2c1", "", "unusable", "no usable password"),
        ("pbkdf2_sha256$600000$salt$hash", "pbkdf2", "foreign-hash", 'password_algorithm "pbkdf2"'),
        ("5f4dcc3b5aa765d61d8327deb882cf99", "", "foreign-hash", "no password_algorithm"),
        ("Kedi-Mama-42", "", "plain", "the password itself"),
    ],
)
@pytest.mark.parametrize("fmt", FORMATS)
def test_the_login_check_says_what_the_password_cell_holds(
    tmp_path: Path, fmt: str, password: str, algorithm: str, kind: str, says: str
) -> None:
    t = samples()
    t["user"].rows[0].update(password=password, password_algorithm=algorithm)  # C0001, the test user
    ts = pick(t, tmp_path, fmt)
    assert ts.customer == "C0001" and ts.password == kind
    login, *pages = ts.checks()
    assert login.startswith("log in to the shop as the migrated test user (customer C0001)")
    assert says in login and pages == list(testset.SHOP_CHECKS)
    assert password not in login, "the checklist never repeats a password or its hash"
    if kind != "plain":
        assert "plain-text" not in login and "Forgot password" in login


def test_a_known_algorithm_is_matched_in_any_case() -> None:
    known = frozenset({"md5", "sha1", "sha256"})
    assert testset.password_kind("abc$def$0123", "SHA1", known) == "hash"
    assert testset.password_kind("  !x  ", "md5", known) == "unusable"
    assert testset.password_kind("$2b$12$R9h/cIPz0gi.URNNX3kh2O", "", known) == "foreign-hash"
