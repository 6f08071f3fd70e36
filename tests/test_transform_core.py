"""The transform core: row accounting, rules on drafts, keys, dependants and mapping-file settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnimig.transforms.finish import Options, finish, unusable_password
from omnimig.transforms.records import Draft, Origin, Record, Reject, tally
from omnimig.transforms.settings import SettingsError, apply_flags, load


def user(code: str, row: int, email: str | None = None, **more: str) -> Record:
    values = {
        "customer_code": code,
        "first_name": "Ayşe",
        "last_name": "Kaya",
        "email": email or f"{code}@example.com",
        "sms_allowed": "true",
        "email_allowed": "false",
        "date_joined": "2023-01-01 10:00:00",
        "password": "x",
        **more,
    }
    return Record("user", values, Origin("in.csv", row))


def order(number: str, code: str, row: int, **more: str) -> Record:
    values = {
        "number": number,
        "user": code,
        "user_email": f"{code}@example.com",
        "status": "500",
        "created_date": "2023-01-02",
        "amount": "10.00",
        "currency": "TRY",
        "payment_type": "credit_card",
        "bank": "Akbank",
        "tracking_number": "T",
        "shipping_company": "yurtici",
        "shipping_address": "x",
        "billing_address": "x",
        **more,
    }
    return Record("order", values, Origin("in.csv", row))


def item(number: str, row: int, **more: str) -> Record:
    values = {"order_number": number, "quantity": "1", "price": "10.00", **more}
    return Record("order_item", values, Origin("in.csv", row))


def draft_of(*records: Record) -> Draft:
    d = Draft()
    for r in records:
        d.add(r)
        d.read.append(r.origin)
        d.read += r.merged
    return d


def test_a_bad_value_rejects_the_record_with_the_validators_message_and_its_dependants() -> None:
    d = draft_of(user("u1", 2), order("N1", "u1", 3, amount="12.345"), item("N1", 4), item("N1", 5))
    done = finish(d, Options())
    assert [r.values["customer_code"] for r in done.records["user"]] == ["u1"]
    assert done.records["order"] == [] and done.records["order_item"] == []
    reasons = {(r.origin.row, r.type, r.field): r.reason for r in done.rejects}
    assert "3 decimal places" in reasons[(3, "order", "amount")]
    assert reasons[(4, "order_item", "")] == f"its order N1 was rejected: {reasons[(3, 'order', 'amount')]}"
    assert [r.record for r in done.rejects] == ["order N1", "item of order N1", "item of order N1"]
    assert [(t.type, t.seen, t.written, t.merged, t.rejected) for t in done.types] == [
        ("user", 1, 1, 0, 0),
        ("address", 0, 0, 0, 0),
        ("order", 1, 0, 0, 1),
        ("order_item", 2, 0, 0, 2),
    ]
    tallies, extra = tally(d.read, [r for rs in done.records.values() for r in rs], done.rejects)
    assert (tallies[0].read, tallies[0].written, tallies[0].rejected) == (4, 1, 3)
    assert extra == []


def test_a_rejected_user_takes_its_orders_and_their_items() -> None:
    d = draft_of(user("u1", 2, email="not-an-email"), order("N1", "u1", 3), item("N1", 4))
    done = finish(d, Options())
    assert [r.type for r in done.rejects] == ["user", "order", "order_item"]
    assert done.rejects[1].reason == f"its user u1 was rejected: {done.rejects[0].reason}"
    # A chain names each link: the item's order, and why that order went.
    assert done.rejects[2].reason == f"its order N1 was rejected: {done.rejects[1].reason}"


def test_identical_duplicates_merge_and_different_ones_are_rejected() -> None:
    d = draft_of(user("u1", 2), user("u1", 3), user("u1", 4, first_name="Başka"), order("N1", "u1", 5))
    done = finish(d, Options())
    [kept] = done.records["user"]
    assert kept.origin.row == 2 and kept.merged == [Origin("in.csv", 3)]
    [refused] = done.rejects
    assert refused.origin.row == 4 and "repeats the one from in.csv row 2" in refused.reason
    # The refused duplicate does not take the written user's orders with it.
    assert len(done.records["order"]) == 1
    tallies, _ = tally(d.read, [r for rs in done.records.values() for r in rs], done.rejects)
    assert (tallies[0].written, tallies[0].merged, tallies[0].rejected) == (2, 1, 1)


def test_emails_are_unique_ignoring_case() -> None:
    d = draft_of(user("u1", 2, email="a@example.com"), user("u2", 3, email="A@Example.com"))
    done = finish(d, Options())
    assert len(done.records["user"]) == 1 and done.rejects[0].field == "email"


def test_cannot_fill_fields_are_left_for_validation_and_defaults_fill_them() -> None:
    d = draft_of(order("N1", "u1", 2, bank=""), order("N2", "u1", 3, bank=""))
    d.cannot_fill[("order", "bank")] = "no bank in this export"
    done = finish(d, Options())
    assert len(done.records["order"]) == 2 and done.rejects == []
    d = draft_of(order("N1", "u1", 2, bank=""))
    done = finish(d, Options(defaults={("order", "bank"): "Garanti"}))
    assert done.records["order"][0].values["bank"] == "Garanti" and done.defaulted == {("order", "bank"): 1}


def test_a_required_value_the_source_should_have_rejects() -> None:
    done = finish(draft_of(order("N1", "u1", 2, amount="")), Options())
    assert done.rejects[0].field == "amount" and "required" in done.rejects[0].reason


def test_truncate_cuts_and_warns() -> None:
    d = draft_of(item("N1", 2, product="x" * 300))
    done = finish(d, Options(truncate=True))
    assert len(done.records["order_item"][0].values["product"]) == 256
    assert d.warnings[0].code == "truncated" and "300 to 256" in d.warnings[0].message


def test_unusable_password_is_stable_and_never_a_known_hash_shape() -> None:
    assert unusable_password("u1") == unusable_password("u1") != unusable_password("u2")
    d = draft_of(user("u1", 2, password=""))
    done = finish(d, Options(password_policy="unusable"))
    assert done.records["user"][0].values["password"].startswith("!")


@given(st.lists(st.sampled_from(["written", "merged", "rejected", "both"]), min_size=1, max_size=30))
def test_tally_gives_every_row_one_fate(fates: list[str]) -> None:
    read = [Origin("f", n + 2) for n in range(len(fates))]
    host = Record("user", {}, Origin("f", 1))
    written = [host]
    rejects = []
    for origin, fate in zip(read, fates, strict=True):
        if fate in ("written", "both"):
            written.append(Record("user", {}, origin))
        if fate in ("merged", "both"):
            host.merged.append(origin)
        if fate == "rejected":
            rejects.append(Reject(origin, "user", "", "why"))
    [t], extra = tally([host.origin, *read], written, rejects)
    assert t.adds_up and t.read == len(fates) + 1
    assert t.merged == fates.count("merged") and t.rejected == fates.count("rejected")
    assert extra == []


def test_a_row_without_fate_gets_an_explicit_reason() -> None:
    [t], extra = tally([Origin("f", 2)], [], [])
    assert t.rejected == 1 and extra[0].reason == "no record was made from this row"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_settings_read_defaults_values_and_source(tmp_path: Path) -> None:
    s = load(
        write(
            tmp_path,
            '[source]\ncustomer_code_from = "email"\n[defaults]\n"order.bank" = "Akbank"\n'
            "[defaults.user]\nsms_allowed = false\n"
            '[values.shipping_company]\n1 = "yurtici"\n"Aras Kargo" = "aras"\n',
        ),
        allow_targets=False,
    )
    assert s.defaults == {("order", "bank"): "Akbank", ("user", "sms_allowed"): "false"}
    assert s.value("shipping_company", "1") == "yurtici"
    assert s.value("shipping_company", " aras kargo ") == "aras"
    assert s.value("shipping_company", "9") is None
    assert s.source == {"customer_code_from": "email"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[defaults\n", "not valid TOML"),
        ('[defaults]\n"order.nope" = "x"\n', "line 2: order has no field 'nope'"),
        ('\n[defaults]\n"shoe.bank" = "x"\n', "is not TYPE.FIELD"),
        ("[order]\nnumber = 'No'\n", "line 1: [order] describes an export's columns"),
        ("[extras]\na = 1\n", "unknown table [extras]"),
        ("[values.status]\nx = [1]\n", "expected text or a number"),
    ],
)
def test_mapping_file_errors_name_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(SettingsError, match=None) as caught:
        load(write(tmp_path, text), allow_targets=False)
    assert expected in str(caught.value) and "m.toml" in str(caught.value)


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="mapping file not found"):
        load(tmp_path / "none.toml", allow_targets=True)


def test_flags(tmp_path: Path) -> None:
    s = load(None, allow_targets=False)
    apply_flags(s, ["order.bank=Garanti BBVA"], ["shipping_company:1=yurtici"])
    assert s.defaults[("order", "bank")] == "Garanti BBVA" and s.values["shipping_company"]["1"] == "yurtici"
    with pytest.raises(SettingsError, match="TABLE:FROM=TO"):
        apply_flags(s, [], ["shipping_company=1"])
    with pytest.raises(SettingsError, match=r"TYPE\.FIELD=VALUE"):
        apply_flags(s, ["order.bank"], [])


def test_a_row_whose_order_is_rejected_is_rejected_even_if_its_buyer_is_written() -> None:
    buyer = user("u1", 2)
    buyer.primary = False  # made on the side of the order row
    d = draft_of(buyer, order("N1", "u1", 2, amount="-"), order("N2", "u1", 3), user("u2", 4))
    d.read = sorted(set(d.read))
    done = finish(d, Options())
    assert [r.values["customer_code"] for r in done.records["user"]] == ["u1", "u2"]
    [t], _ = tally(d.read, [r for rs in done.records.values() for r in rs], done.rejects)
    assert (t.read, t.written, t.rejected) == (3, 2, 1)


def test_a_default_given_twice_is_refused() -> None:
    s = load(None, allow_targets=False)
    with pytest.raises(SettingsError, match="given twice"):
        apply_flags(s, ["order.bank=A", "order.bank=B"], [])


def test_a_repeated_order_takes_its_own_items_with_it() -> None:
    first = order("N1", "u1", 2)
    again = order("N1", "u1", 5)
    other = order("N1", "u1", 8, amount="99.00")
    items = [item("N1", 3), item("N1", 4), item("N1", 6), item("N1", 7, price="1.00"), item("N1", 9)]
    for record, parent in zip(items, [first, first, again, again, other], strict=True):
        record.parent = parent
    d = draft_of(user("u1", 1), first, *items[:2], again, *items[2:4], other, items[4])
    done = finish(d, Options())
    assert [r.origin.row for r in done.records["order"]] == [2]
    assert done.records["order"][0].merged == [Origin("in.csv", 5)]
    # Row 6 repeats row 3's item and folds into it; row 7 is not among the first order's items.
    assert [(r.origin.row, r.merged) for r in done.records["order_item"]] == [(3, [Origin("in.csv", 6)]), (4, [])]
    reasons = {r.origin.row: r.reason for r in done.rejects}
    assert "which has no such order_item" in reasons[7]
    assert "repeats the one from in.csv row 2 with different values" in reasons[8]
    assert reasons[9] == f"its order N1 was rejected: {reasons[8]}"
    assert [(t.seen, t.written, t.merged, t.rejected) for t in done.types if t.type == "order_item"] == [(5, 2, 1, 2)]
    tallies, extra = tally(sorted(set(d.read)), [r for rs in done.records.values() for r in rs], done.rejects)
    assert (tallies[0].written, tallies[0].merged, tallies[0].rejected) == (4, 2, 3) and extra == []


def test_truncate_never_cuts_a_key() -> None:
    d = draft_of(user("u1", 1), order("N" * 130, "u1", 2), item("N" * 130, 3))
    d.records[2].parent = d.records[1]
    done = finish(d, Options(truncate=True))
    assert done.records["order"] == [] and done.records["order_item"] == []
    assert {r.type for r in done.rejects} == {"order", "order_item"} and not d.warnings


def test_a_bad_optional_value_is_dropped_with_a_warning_and_a_date_gets_a_time() -> None:
    d = draft_of(user("u1", 1, gender="maybe", date_joined="2024-01-02"), item("N1", 2, image_url="/img/p.jpg"))
    done = finish(d, Options())
    assert done.rejects == []
    assert done.records["user"][0].values["gender"] == "" and done.records["order_item"][0].values["image_url"] == ""
    assert done.records["user"][0].values["date_joined"] == "2024-01-02T00:00:00"
    # The dropped values are listed with what they were; midnight added is counted (listed with --explain).
    # The item has no SKU: reported for every source (sku-empty), not dropped.
    assert sorted((w.code, w.before) for w in d.warnings) == [
        ("sku-empty", ""),
        ("value-dropped", "/img/p.jpg"),
        ("value-dropped", "maybe"),
    ]
    assert d.mechanical["time-added"] == 1


@pytest.mark.parametrize(
    ("zone", "day", "expected"),
    [
        (None, "2024-01-02", "2024-01-02T00:00:00"),
        ("Europe/Istanbul", "2024-01-02", "2024-01-02T00:00:00+03:00"),
        ("Europe/Berlin", "2024-07-02", "2024-07-02T00:00:00+02:00"),
        ("Europe/Berlin", "2024-01-02", "2024-01-02T00:00:00+01:00"),
        # Midnight does not exist in Santiago on the day its clocks go forward: left without an offset.
        ("America/Santiago", "2024-09-08", "2024-09-08T00:00:00"),
    ],
)
def test_the_midnight_given_to_a_date_only_value_is_local_to_the_exports_zone(
    zone: str | None, day: str, expected: str
) -> None:
    d = draft_of(user("u1", 1, date_joined=day))
    d.timezone = zone
    done = finish(d, Options())
    assert done.records["user"][0].values["date_joined"] == expected
    assert d.mechanical["time-added"] == 1
