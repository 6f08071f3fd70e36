"""From a source's draft to the records that are written: defaults, rules, keys, dependants.

The rules are the validator's own (the schema files through ``validate.fields``), applied to
the records in memory, so a transform never writes a value the validator would refuse and
never restates a rule. What a record cannot keep it loses whole, with the validator's message
as the reason: a value too long is rejected, not cut, unless the caller asked to truncate.
Fields a source has no data for (a password hash, a bank) are left empty and reported by the
validation of the written files; rejecting every order for them would lose everything.
"""

from __future__ import annotations

import hashlib
import operator
import re
from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.i18n import N_, _, number
from omnimig.io.table import Chunk
from omnimig.schemas.rules import ChoiceList, default_choices, migration_types, table_rules
from omnimig.transforms import normalize as nz
from omnimig.transforms.records import TARGETS, Draft, Lines, Record, Reject, TypeTally, columns
from omnimig.validation.fields import Emitter, Layout, check_chunk
from omnimig.validation.problem import Problem

PASSWORD_POLICIES = ("empty", "unusable")
DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass
class Options:
    """What the person decided on the command line or in a mapping file."""

    defaults: dict[tuple[str, str], str] = field(default_factory=dict)  # used where a value is empty
    truncate: bool = False
    password_policy: str = "empty"
    # The longest value the output format holds (XLSX: 32,767 characters a cell); a record with a
    # longer value is rejected, never cut, because xlsxwriter would cut it silently.
    max_cell: int | None = None


@dataclass
class Finished:
    records: dict[str, list[Record]]
    rejects: list[Reject]
    defaulted: dict[tuple[str, str], int]
    types: list[TypeTally] = field(default_factory=list)
    # Who was lost and why (a streamed run rejects the orders of a user lost here, after the fact).
    losses: Losses | None = None
    # id(record) -> the fields given their default (a streamed run counts them as records are written).
    filled: dict[int, list[tuple[str, str]]] = field(default_factory=dict)
    # type -> the records the rules last checked and their values as the Arrow table they were
    # checked in (values do not change after that check): the writers and the spill take the
    # written records' columns from it instead of reading every record's dict again.
    checked: dict[str, tuple[list[Record], pa.Table]] = field(default_factory=dict)

    def table(self, type_name: str, records: list[Record]) -> pa.Table:
        """``records``' values (every field of the type, schema order) as an Arrow table of strings."""
        names = list(table_rules(type_name).names)
        known = self.checked.get(type_name)
        if known is not None:
            checked, table = known
            if checked is records or (len(checked) == len(records) and all(map(operator.is_, checked, records))):
                return table
            position = {id(r): i for i, r in enumerate(checked)}
            rows = [position.get(id(r), -1) for r in records]
            if -1 not in rows:
                return table.take(pa.array(rows, pa.int64()))
        return pa.table([pa.array(values, pa.string()) for values in columns(records, names)], names=names)


class Losses:
    """The records that will not be written, each with exactly one reason, and the merges.

    One place decides a record's fate, so ``rejects.csv`` has one line per record and a
    dependant can name the record it depended on and why that one went.
    """

    def __init__(self, rejects: list[Reject]) -> None:
        self.rejects = rejects
        self.lost: dict[str, list[Record]] = {t: [] for t in TARGETS}
        self.why: dict[int, str] = {}  # id(record) -> reason
        self.merged: dict[str, int] = defaultdict(int)

    def lose(self, record: Record, field_name: str, reason: str) -> None:
        self.lost[record.type].append(record)
        self.why[id(record)] = reason
        rows = (record.origin, *record.merged)
        self.rejects.append(Reject(record.origin, record.type, field_name, reason, record.label(), rows))

    def because_of(self, parent: Record) -> str:
        """``its user 50052 was rejected: <that user's reason>``."""
        why = self.why[id(parent)] if id(parent) in self.why else _("see its own line")
        return depends_on(parent.label(), why)

    def is_lost(self, record: Record) -> bool:
        return id(record) in self.why


def depends_on(label: str, reason: str) -> str:
    """The reason of a record lost with the record it depends on (``label``): one text for every run,
    whole or streamed, so a dependant reads the same in any language."""
    return _("its {record} was rejected: {reason}").format(record=label, reason=reason)


def unusable_password(code: str) -> str:
    """A password value no login can match: Django-style ``!`` prefix, which marks a password unusable.

    It is derived from the customer code, not random, so the same input gives the same file.
    Users set a new password on first login, which is what Akinon's docs prescribe when no
    usable hash can be migrated.
    """
    return "!" + hashlib.sha256(f"omnimig-unusable:{code}".encode()).hexdigest()[:40]


def finish(draft: Draft, options: Options, choices: dict[str, ChoiceList] | None = None) -> Finished:
    """Apply defaults and the password policy, then the field rules, unique keys and dependants."""
    choices = choices if choices is not None else default_choices()
    rejects = list(draft.rejects)
    filled: dict[int, list[tuple[str, str]]] = defaultdict(list)  # id(record) -> fields given their default
    # Per type, the defaults that apply, in schema order: the loop below touches only those fields.
    given: dict[str, list[tuple[str, str]]] = {}
    for type_name in {r.type for r in draft.records}:
        names = table_rules(type_name).names
        given[type_name] = [(n, options.defaults[(type_name, n)]) for n in names if (type_name, n) in options.defaults]
    unusable = options.password_policy == "unusable"
    by_type: dict[str, list[Record]] = {t: [] for t in TARGETS}
    for record in draft.records:
        values = record.values
        for name, value in given[record.type]:
            if not values.get(name):
                values[name] = value
                filled[id(record)].append((record.type, name))
        if unusable and record.type == "user" and not values.get("password"):
            values["password"] = unusable_password(record.get("customer_code"))
        by_type[record.type].append(record)
    losses = Losses(rejects)
    checked: dict[str, tuple[list[Record], pa.Table]] = {}
    kept: dict[str, list[Record]] = {}
    for type_name in TARGETS:
        live = []
        for record in by_type[type_name]:
            if record.refused is not None:
                losses.lose(record, *record.refused)
            elif record.parent is not None and losses.is_lost(record.parent):
                losses.lose(record, "", losses.because_of(record.parent))  # the lines of a refused order
            else:
                live.append(record)
        blank = _blank_reported(type_name, live)
        kept[type_name] = _apply_rules(type_name, live, draft, options, choices, losses, checked)
        _report_blank(type_name, blank, kept[type_name], draft)
    _unique(kept, losses)
    _dependants(kept, losses)
    defaulted: dict[tuple[str, str], int] = defaultdict(int)
    for records in kept.values():
        for record in records:
            for key in filled.get(id(record), ()):
                defaulted[key] += 1
    types = [
        TypeTally(
            t,
            seen=len(by_type[t]) + draft.folded[t],
            written=len(kept[t]),
            merged=losses.merged[t] + draft.folded[t],
            rejected=len(losses.lost[t]),
        )
        for t in TARGETS
    ]
    return Finished(kept, rejects, dict(defaulted), types, losses, dict(filled), checked)


def _check(type_name: str, records: list[Record], choices: dict[str, ChoiceList]) -> tuple[list[Problem], pa.Table]:
    """The validator's problems with ``records``, and the Arrow table of their values they were found in."""
    names = list(table_rules(type_name).names)
    table = pa.table([pa.array(values, pa.string()) for values in columns(records, names)], names=names)
    return _check_table(type_name, table, choices), table


def _check_table(type_name: str, table: pa.Table, choices: dict[str, ChoiceList]) -> list[Problem]:
    """The validator's problems with the records whose values are ``table`` (row i: ``Problem.row`` i)."""
    rules = table_rules(type_name)
    frame = table.to_pandas(types_mapper=_STRING.get)
    chunk = Chunk(frame, pd.Series(range(len(frame)), index=frame.index))
    problems: list[Problem] = []
    check_chunk(chunk, rules, Layout({n: n for n in rules.names}), choices, Emitter("", type_name, problems))
    return problems


def _left_empty(type_name: str, problem: Problem, value: str, draft: Draft) -> bool:
    """An error about a field the source cannot fill, left empty on purpose: reported by the validation
    of the written files, not a reason to lose the record."""
    return problem.field is not None and (type_name, problem.field) in draft.cannot_fill and value == ""


@dataclass
class Prepared:
    """A batch's lines of one type with the defaults applied (``prepare_lines``), as ``finish`` would."""

    lines: Lines
    table: pa.Table
    filled: pa.Array  # per line, the fields given their default, joined by \x1f ("" when none)
    defaulted: dict[tuple[str, str], np.ndarray]  # (type, field) -> which lines were given its default


def prepare_lines(lines: Lines, options: Options) -> Prepared:
    """``lines`` as an Arrow table with ``finish``'s defaults applied: an empty field gets the default given for it."""
    table = lines.table()
    type_name = lines.type
    marks = []
    defaulted: dict[tuple[str, str], np.ndarray] = {}
    for name in lines.names:
        default = options.defaults.get((type_name, name))
        if default is None:
            continue
        column = table.column(name)
        empty = pc.equal(column, "")
        mask = np.asarray(empty.to_numpy(zero_copy_only=False), dtype=bool)
        if not mask.any():
            continue
        defaulted[(type_name, name)] = mask
        table = table.set_column(table.schema.get_field_index(name), name, pc.if_else(empty, default, column))
        marks.append(pc.if_else(empty, name, pa.scalar(None, pa.string())))
    if marks:
        filled = pc.binary_join_element_wise(*marks, "\x1f", null_handling="skip").combine_chunks()
    else:
        filled = pa.array([""] * len(lines), pa.string())
    return Prepared(lines, table, filled, defaulted)


def lines_need_records(
    prepared: Prepared, draft: Draft, options: Options, choices: dict[str, ChoiceList], batched: Collection[str]
) -> bool:
    """Whether ``finish`` must see a batch's lines as ``Record`` objects, or ``finish_lines`` may take them.

    ``finish_lines`` only does what ``finish`` does to records the rules have nothing more to say
    about once the defaults are in: no date-time field given a day only, no cell over ``max_cell``,
    no error the rules act on, no repeated key, and a parent each where the type points at a type
    of the batch (``batched``: an item at its order; an order's user is finished at the end).
    Anything else goes through ``finish`` itself.
    """
    lines, table = prepared.lines, prepared.table
    type_name = lines.type
    mtype = next(m for m in migration_types() if m.name == type_name)
    if any(isinstance(p, Record) for p in lines.parents):
        return True  # a record's fate is decided record by record, and its parts' with it
    if any(fk["reference"]["resource"] in batched for fk in mtype.foreign_keys) and None in lines.parents:
        return True
    day_only = f"^{DATE_ONLY.pattern}$"
    for rule in table_rules(type_name).fields:
        if rule.temporal == "datetime" and pc.any(pc.match_substring_regex(table.column(rule.name), day_only)).as_py():
            return True
    limit = options.max_cell
    if limit is not None and any((pc.max(pc.utf8_length(c)).as_py() or 0) > limit for c in table.columns):
        return True
    if any(u.get("caseInsensitive") for u in mtype.unique_keys):
        return True  # keys compared case-folded, as ``_unique`` folds them: not done in columns
    keys = [list(mtype.primary_key)] if mtype.primary_key else []
    keys += [list(u["fields"]) for u in mtype.unique_keys]
    for fields in keys:
        key = table.select(fields)
        filled = (
            pc.invert(pc.and_kleene(*[pc.equal(key.column(f), "") for f in fields]))
            if len(fields) > 1
            else pc.not_equal(key.column(fields[0]), "")
        )
        key = key.filter(filled)
        if key.num_rows != key.group_by(fields).aggregate([]).num_rows:
            return True  # a repeated key: merged or refused, record by record
    for p in _check_table(type_name, table, choices):
        if p.severity != "error" or p.row is None:
            continue
        if not _left_empty(type_name, p, table.column(p.field)[p.row].as_py() if p.field else "", draft):
            return True
    return False


def finish_lines(prepared: Prepared, draft: Draft) -> TypeTally:
    """``finish`` for lines the rules have nothing more to say about (``lines_need_records``): all are written.

    A line's parent is a line of the same batch that is written too (or none), so no line is lost
    here; ``finish`` logs one change for such records (``BLANK_REPORTED``: an empty SKU), logged
    into ``draft`` and named. Returns their count as ``finish`` counts a type.
    """
    lines, table = prepared.lines, prepared.table
    type_name = lines.type
    for (t, name), (code, message) in BLANK_REPORTED.items():
        if t != type_name:
            continue
        empty = np.asarray(pc.equal(table.column(name), "").to_numpy(zero_copy_only=False), dtype=bool)
        text = _(message)
        for i in np.flatnonzero(empty).tolist():
            draft.warn(lines.origins[i], type_name, name, code, text, record=lines.label(i))
    return TypeTally(type_name, seen=len(lines), written=len(lines))


#: Arrow text as the validator's frames hold it (``string[pyarrow]``).
_STRING = {pa.string(): pd.StringDtype("pyarrow")}


@cache
def key_fields(type_name: str) -> frozenset[str]:
    """Fields that identify or point at records (from ``datapackage.json``): never cut, never dropped."""
    names: set[str] = set()
    for mtype in migration_types():
        if mtype.name == type_name:
            names.update(mtype.primary_key)
            for u in mtype.unique_keys:
                names.update(u["fields"])
            for fk in mtype.foreign_keys:
                names.update(fk["fields"])
        for fk in mtype.foreign_keys:
            if fk["reference"]["resource"] == type_name:
                names.update(fk["reference"]["fields"])
    return frozenset(names)


def _date_only_to_datetime(type_name: str, records: list[Record], draft: Draft) -> None:
    """A date-time field given only a day (an order date without a time feeding date_joined) gets midnight.

    Which fields need a time is read from the rules (``temporal: datetime``); the change is a warning.
    With the export's zone known (``draft.timezone``), midnight there gets its offset, as the date
    normaliser writes any local time (``2024-01-02T00:00:00+03:00``); a midnight the clocks skipped
    in that zone stays without one rather than being moved.
    """
    no_time = _("{field} {value} had no time: 00:00")  # once, not per record
    for rule in table_rules(type_name).fields:
        if rule.temporal != "datetime":
            continue
        for record in records:
            value = record.get(rule.name)
            if DATE_ONLY.fullmatch(value):
                record.values[rule.name] = _midnight(value, draft.timezone)
                message = no_time.format(field=rule.name, value=value)
                draft.warn(record.origin, type_name, rule.name, "time-added", message, value, record.values[rule.name])


#: Optional fields that an export left empty where a person may want to know, whatever the source:
#: (type, field) -> the change code and its message. An item without SKU is usually a custom item.
BLANK_REPORTED = {("order_item", "sku"): ("sku-empty", N_("the line item has no SKU (a custom item?)"))}


def _blank_reported(type_name: str, records: list[Record]) -> dict[str, list[int]]:
    """Per reported field, which records came from the source with it empty (before any rule drops a value)."""
    return {name: [id(r) for r in records if not r.values.get(name)] for (t, name) in BLANK_REPORTED if t == type_name}


def _report_blank(type_name: str, blank: dict[str, list[int]], kept: list[Record], draft: Draft) -> None:
    """One change line per written record whose reported field the source gave empty (``sku-empty``)."""
    for name, ids in blank.items():
        if not ids:
            continue
        code, message = BLANK_REPORTED[(type_name, name)]
        text = _(message)
        wanted = set(ids)
        for record in kept:
            if id(record) in wanted:
                draft.warn(record.origin, type_name, name, code, text)


def _midnight(day: str, zone: str | None) -> str:
    """``2024-01-02`` -> its first moment, with ``zone``'s offset when the zone is known."""
    midnight = f"{day}T00:00:00"
    if zone is None:
        return midnight
    try:
        return nz.date(midnight, tz=zone) or midnight
    except nz.NormaliseError:
        return midnight


def _apply_rules(
    type_name: str,
    records: list[Record],
    draft: Draft,
    options: Options,
    choices: dict[str, ChoiceList],
    losses: Losses,
    checked: dict[str, tuple[list[Record], pa.Table]],
) -> list[Record]:
    """Check records with the validator's rules; repair what policy allows, reject the rest.

    Repairs, each a warning: ``--truncate`` cuts an over-long value (never a key); an optional
    value that breaks a format rule (a relative image path, an impossible birth date) is
    dropped rather than losing the whole record and its dependants. An over-long value is
    never dropped: it is rejected unless ``--truncate``, as the owner asked.
    """
    if not records:
        return []
    rules = table_rules(type_name)
    keys = key_fields(type_name)
    _date_only_to_datetime(type_name, records, draft)
    problems, table = _check(type_name, records, choices)
    repaired = False
    for p in problems:
        if p.severity != "error" or p.row is None or not p.field or p.field in keys:
            continue
        record = records[p.row]
        before = record.get(p.field)
        rule = rules.field(p.field)
        if p.rule == "max-length" and options.truncate:
            record.values[p.field] = before[: rule.max_length]
            message = _("{field} cut from {length} to {limit} characters (--truncate)").format(
                field=p.field, length=len(before), limit=rule.max_length
            )
            draft.warn(record.origin, type_name, p.field, "truncated", message, before, record.values[p.field])
            repaired = True
        elif p.rule != "max-length" and not rule.required and before != "":
            record.values[p.field] = ""
            message = _("{field} left empty: {reason}").format(field=p.field, reason=p.message)
            draft.warn(record.origin, type_name, p.field, "value-dropped", message, before)
            repaired = True
    if repaired:
        problems, table = _check(type_name, records, choices)
    checked[type_name] = (records, table)
    refused: dict[int, Problem] = {}
    if options.max_cell is not None:
        for i, record in enumerate(records):
            name = next((n for n, v in record.values.items() if v and len(v) > options.max_cell), None)
            if name is not None:
                message = _(
                    "{field} has {length} characters; an XLSX cell holds at most "
                    "{limit}: write the bundle with --format csv or json to keep it whole"
                ).format(field=name, length=number(len(record.values[name])), limit=number(options.max_cell))
                refused[i] = Problem("", type_name, i, name, "max-length", "error", None, message)
    for p in problems:
        if p.severity != "error" or p.row is None or p.row in refused:
            continue
        record = records[p.row]
        if _left_empty(type_name, p, record.get(p.field or ""), draft):
            continue  # left empty on purpose; the validation of the output reports it
        refused[p.row] = p
    kept: list[Record] = []
    for i, record in enumerate(records):
        refusal = refused.get(i)
        if refusal is None:
            kept.append(record)
            continue
        losses.lose(record, refusal.field or "", refusal.message)
    return kept


def _key(record: Record, fields: tuple[str, ...] | list[str], fold: bool = False) -> tuple[str, ...]:
    values = tuple(record.get(f) for f in fields)
    return tuple(v.casefold() for v in values) if fold else values


def _unique(kept: dict[str, list[Record]], losses: Losses) -> None:
    """A repeated key: an identical record is merged into the first, a different one is rejected.

    The parts of a repeated record (the items of an order exported twice) follow it: merged into
    the first record's identical parts, or rejected.
    """
    merged_into: dict[int, Record] = {}  # id(duplicate) -> the record it was merged into
    for mtype in migration_types():
        _follow_parents(mtype.name, kept, losses, merged_into)
        keys: list[tuple[tuple[str, ...], bool]] = []
        if mtype.primary_key:
            keys.append((mtype.primary_key, False))
        keys += [(tuple(u["fields"]), bool(u.get("caseInsensitive"))) for u in mtype.unique_keys]
        for fields, fold in keys:
            records = kept[mtype.name]
            all_keys = _keys(records, fields, fold)
            empty = ("",) * len(fields)
            distinct = set(all_keys)
            distinct.discard(empty)
            if len(distinct) == len(all_keys) - all_keys.count(empty):
                continue  # no key repeats (the usual case): nothing to merge or reject
            first: dict[tuple[str, ...], Record] = {}
            survivors = []
            for record, key in zip(records, all_keys, strict=True):
                if key == empty:
                    survivors.append(record)
                    continue
                seen = first.get(key)
                if seen is None:
                    first[key] = record
                    survivors.append(record)
                elif seen.values == record.values:
                    seen.merged += [record.origin, *record.merged]
                    merged_into[id(record)] = seen
                    losses.merged[mtype.name] += 1
                else:
                    shown = ", ".join(record.get(f) for f in fields)
                    reason = _(
                        "{fields} {value} repeats the one from {where} with different values; keys must be unique"
                    ).format(fields=_(" and ").join(fields), value=repr(shown), where=seen.origin.where())
                    losses.lose(record, fields[0], reason)
            kept[mtype.name] = survivors


def _follow_parents(
    type_name: str, kept: dict[str, list[Record]], losses: Losses, merged_into: dict[int, Record]
) -> None:
    """Parts of a merged duplicate fold into the kept record's identical parts; parts of a refused one go."""
    if not merged_into and not losses.why:
        return
    parts_of: dict[int, list[Record]] = {}
    for record in kept[type_name]:
        parent = record.parent
        if parent is not None and id(parent) not in merged_into and not losses.is_lost(parent):
            parts_of.setdefault(id(parent), []).append(record)
    survivors = []
    for record in kept[type_name]:
        parent = record.parent
        if parent is None or (id(parent) not in merged_into and not losses.is_lost(parent)):
            survivors.append(record)
            continue
        if losses.is_lost(parent):
            losses.lose(record, "", losses.because_of(parent))
            continue
        host = merged_into[id(parent)]
        twin = next((r for r in parts_of.get(id(host), []) if r.values == record.values), None)
        if twin is not None:
            parts_of[id(host)].remove(twin)  # each of the first record's parts absorbs one repeat
            twin.merged += [record.origin, *record.merged]
            merged_into[id(record)] = twin
            losses.merged[type_name] += 1
            continue
        reason = _("its {record} repeats the one from {where}, which has no such {type}").format(
            record=parent.label(), where=host.origin.where(), type=type_name
        )
        losses.lose(record, "", reason)
    kept[type_name] = survivors


def _dependants(kept: dict[str, list[Record]], losses: Losses) -> None:
    """Reject records whose parent was rejected (a user's addresses and orders, an order's items).

    The parent is the record a source made this one part of (an item's order), or the record its
    reference names. Only a referenced key that was rejected and not also written counts: a
    duplicate that was refused does not take the first record's dependants with it. Parents go
    before their dependants (the upload order), so a chain (user → order → item) goes whole.
    """
    for mtype in migration_types():
        gone_keys = []
        for fk in mtype.foreign_keys:
            ref = fk["reference"]
            refused: dict[tuple[str, ...], Record] = {}
            for r in losses.lost[ref["resource"]]:
                refused.setdefault(_key(r, ref["fields"]), r)
            if refused:
                for key in _keys(kept[ref["resource"]], ref["fields"]):
                    refused.pop(key, None)
            if refused:
                gone_keys.append((fk["fields"], refused))
        records = kept[mtype.name]
        why = losses.why
        parent_lost = bool(why) and any(r.parent is not None and id(r.parent) in why for r in records)
        if not gone_keys and not parent_lost:
            continue  # nothing this type depends on went (the usual case)
        keyed = [(_keys(records, fields), refused) for fields, refused in gone_keys]
        survivors = []
        for i, record in enumerate(records):
            gone = record.parent if record.parent is not None and losses.is_lost(record.parent) else None
            for keys, refused in keyed:
                if gone is None:
                    gone = refused.get(keys[i])
            if gone is None:
                survivors.append(record)
                continue
            losses.lose(record, "", losses.because_of(gone))
        kept[mtype.name] = survivors


def _keys(records: list[Record], fields: tuple[str, ...] | list[str], fold: bool = False) -> list[tuple[str, ...]]:
    """``_key`` of every record, a column at a time (``records.columns``), not a Python expression per cell."""
    values = columns(records, fields)
    if fold:
        values = [[v.casefold() for v in column] for column in values]
    return list(zip(*values, strict=True)) if values else [()] * len(records)
