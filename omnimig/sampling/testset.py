"""``samples --test-set``: the "one test record of each" Akinon's getting-started asks for.

Before the real migration Akinon wants one user migrated end to end (user -> address -> order
-> order item) and checked in the shop: the address under "My Addresses", the order and its
items under the old orders. This module picks such a customer from a real bundle and writes a
consistent mini-bundle: that user, one address, one order and *all* its items (an order with
only some of its items would fail the amount checks and would not look like the real order).

The shape comes from the foreign keys in ``datapackage.json``, not from field names: the type
that refers to nothing is the root (one row, the customer); each type that refers to the root
gives one row (an address, an order); each type below those gives every row of its parent (the
items). Only rows without errors are picked, and the picked rows are written exactly as read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from omnimig.exceptions import SampleError, SchemaError, UsageError, WriteError
from omnimig.i18n import N_, _, number
from omnimig.io import open_source, type_from_name
from omnimig.io.write import SUFFIX, WRITE_FORMAT, TableWriter, column_keys
from omnimig.schemas.rules import MigrationType, load_choices, migration_types
from omnimig.validation.bundle import key_series
from omnimig.validation.problem import FileResult
from omnimig.validation.run import validate_paths
from omnimig.validation.split import held_reasons


class TestSetError(SampleError):
    """No test set can be picked as asked. The message is one line; the CLI exits with code 2."""

    __test__ = False  # not a pytest test class, despite the name


@dataclass(frozen=True)
class Picked:
    """The rows taken from one input file and where they were written."""

    type: str
    source: str
    rows: tuple[int, ...]  # as reports number them: spreadsheet rows (header = 1), JSON record numbers
    written: str


#: What Akinon's getting-started checklist asks a person to check in the shop after a test
#: migration (spec section 9), after logging in as the test user (``TestSet.login``). The texts
#: are message ids: ``TestSet.checks()`` gives them in the language of the run.
SHOP_CHECKS = (
    N_("the address appears at /account/address/ (My Addresses)"),
    N_("the order appears at /users/old-orders/"),
    N_("the items appear at /users/old-orders/{pk}"),
)

#: What the test user's ``password`` cell holds, read from the data (``password_kind``):
#: ``hash`` of a known ``password_algorithm``, a hash the shop cannot check (``foreign-hash``: an
#: algorithm outside the list, or none given for a value shaped like a hash), ``unusable`` (the
#: ``!`` value ``transform --password-policy unusable`` writes), or ``plain`` (no algorithm and
#: nothing hash-like: the cell looks like the password itself).
PasswordKind = Literal["hash", "foreign-hash", "unusable", "plain"]

#: The shapes of a stored password hash: hex digests of MD5, SHA-1 and SHA-256, and Django-style
#: ``algorithm$salt$hash`` or crypt-style ``$2b$...`` values (any ``$``-separated value).
_HASH_SHAPE = re.compile(r"[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[^$\s]*\$[^$\s]+\$\S*|\$\S+")


def password_kind(password: str, algorithm: str, known: frozenset[str]) -> PasswordKind:
    """Which kind of ``password`` cell a user row holds (see ``PasswordKind``); ``known`` is lower-cased."""
    password, algorithm = password.strip(), algorithm.strip()
    if password.startswith("!"):
        return "unusable"
    if algorithm:
        return "hash" if algorithm.lower() in known else "foreign-hash"
    return "foreign-hash" if _HASH_SHAPE.fullmatch(password) else "plain"


def login_check(customer: str, kind: PasswordKind, algorithm: str = "") -> str:
    """The checklist's first line: how to log in as the test user, for what the data holds.

    Akinon's checklist says to log in "with the test user's plain-text password"; that is only
    possible as written when the person knows it. A hash in the file does not give it.
    """
    reset = _('use "Forgot password" on the shop first, or set a known password on the user in Omnitron')
    if kind == "plain":
        line = _(
            "log in to the shop as the migrated test user (customer {customer}) with the password in the user file "
            "(it holds the password itself, not a hash)"
        )
    elif kind == "unusable":
        line = _(
            "log in to the shop as the migrated test user (customer {customer}): the user file holds no usable "
            "password (one no login matches), so {reset}"
        )
    elif kind == "foreign-hash" and algorithm:
        line = _(
            "log in to the shop as the migrated test user (customer {customer}): the user file holds a password "
            'hash of password_algorithm "{algorithm}", which the shop may not be able to check; {reset}'
        )
    elif kind == "foreign-hash":
        line = _(
            "log in to the shop as the migrated test user (customer {customer}): the user file holds what looks "
            "like a password hash, with no password_algorithm, which the shop may not be able to check; {reset}"
        )
    else:
        line = _(
            "log in to the shop as the migrated test user (customer {customer}) with the password they had on the "
            "old shop: the user file holds only its {algorithm} hash, so you need to know it (e.g. the test user is "
            "an account of yours); if you do not, {reset}"
        )
    return line.format(customer=customer, algorithm=algorithm, reset=reset)


@dataclass(frozen=True)
class TestSet:
    """The picked customer, its order, and per input file the rows written to the mini-bundle."""

    __test__ = False

    customer: str
    order: str
    picks: tuple[Picked, ...]  # in upload order
    #: What the test user's password cell holds, read from the written user row (``password_kind``).
    password: PasswordKind = "hash"
    password_algorithm: str = ""

    def of(self, type_name: str) -> list[Picked]:
        return [p for p in self.picks if p.type == type_name]

    @property
    def login(self) -> str:
        """How to log in as the test user, for what the data holds (never "plain-text" for a hash)."""
        return login_check(self.customer, self.password, self.password_algorithm)

    def checks(self) -> list[str]:
        """What to check in the shop once the test set is uploaded: how to log in, then each page."""
        return [self.login, *(_(check) for check in SHOP_CHECKS)]


@dataclass
class _Node:
    """One migration type as a node of the reference tree, with its rows' keys stacked over its files."""

    mtype: MigrationType
    frame: pd.DataFrame  # key columns, ``row``, ``_file``, ``_good`` (no errors), ``_ok`` (a usable test record)
    fk: dict[str, Any] | None  # the foreign key to the parent type
    depth: int = 0
    children: list[_Node] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.mtype.name

    def key(self, fields: list[str]) -> pd.Series:
        """The key on ``fields`` per row; NA everywhere when a file lacks the column (its rows have errors)."""
        if any(f not in self.frame for f in fields):
            return pd.Series(pd.NA, index=self.frame.index, dtype="string")
        return key_series(self.frame, fields)

    def value_for(self, child: _Node, at: object) -> object:
        """The key of row ``at`` that rows of ``child`` refer to (NA when empty)."""
        assert child.fk is not None
        return self.key(child.fk["reference"]["fields"])[at]

    def under(self, parent: _Node, at: object) -> pd.Index:
        """The rows of this type that refer to row ``at`` of ``parent``."""
        assert self.fk is not None
        value = parent.value_for(self, at)
        if pd.isna(value):
            return self.frame.index[:0]
        mine = self.key(self.fk["fields"])
        return self.frame.index[(mine == value).fillna(False).to_numpy(dtype=bool)]


def pick_test_set(paths: list[Path], out: Path, customer: str | None = None) -> TestSet:
    """Validate the bundle at ``paths``, pick a test customer and write its records into ``out``.

    Without ``customer`` the first user (in file order) that makes a complete, error-free test set
    is taken. Raises ``TestSetError`` when there is none, or when ``customer`` is unknown or unfit.
    """
    results = _validate(paths)
    held = held_reasons(results)
    root = _tree(results, held)
    pk = list(root.mtype.primary_key)
    codes = root.key(pk)
    if customer is None:
        usable = root.frame.index[root.frame["_ok"].to_numpy(dtype=bool)]
        if not len(usable):
            raise TestSetError(_nobody(root, results))
        at = usable[0]
    else:
        matches = root.frame.index[(codes == customer).fillna(False).to_numpy(dtype=bool)]
        label = f'{root.name} {"+".join(pk)} "{customer}"'
        if not len(matches):
            files = _(" or ").join(dict.fromkeys(root.frame["_file"].astype(str)))
            raise TestSetError(_("{label} not found in {files}").format(label=label, files=files))
        usable = [i for i in matches if root.frame.at[i, "_ok"]]
        if not usable:
            raise TestSetError(_("{label} {reason}").format(label=label, reason=_unfit(root, matches[0], held)))
        at = usable[0]
    taken: dict[str, list[object]] = {}
    _take(root, at, taken)
    wanted: dict[str, set[int]] = {}
    for node in _walk(root):
        for i in taken.get(node.name, []):
            wanted.setdefault(str(node.frame.at[i, "_file"]), set()).add(int(node.frame.at[i, "row"]))
    # The order: the one record below the customer that has rows of its own (its items).
    order = next((str(c.value_for(c.children[0], taken[c.name][0])) for c in root.children if c.children), "")
    picks = _write(results, wanted, out)
    password, algorithm = _password(next((p for p in picks if p.type == root.name), None))
    return TestSet(str(codes[at]), order, picks, password, algorithm)


def _password(pick: Picked | None) -> tuple[PasswordKind, str]:
    """What the picked user's ``password`` cell holds, read back from the written row, and its algorithm."""
    if pick is None:
        return "hash", ""
    source = open_source(Path(pick.written))
    for chunk in source.chunks:
        if len(chunk.data):
            row = chunk.data.iloc[0]
            password, algorithm = (_text(row.get(name)) for name in ("password", "password_algorithm"))
            known = load_choices(None)["password-algorithms"].lowered()
            return password_kind(password, algorithm, known), algorithm.strip()
    return "hash", ""


def _text(value: object) -> str:
    """A cell as text: the readers give text, or NA for an empty JSON value."""
    return value if isinstance(value, str) else ""


def _validate(paths: list[Path]) -> list[FileResult]:
    """Field and bundle rules for every file, in upload order; a missing type or unreadable file is fatal."""
    try:
        run = validate_paths(paths)
    except (UsageError, SchemaError) as exc:
        raise TestSetError(str(exc)) from None
    if run.unreadable:
        raise TestSetError(run.unreadable[0])
    results = run.results
    missing = [t.name for t in migration_types() if t.name not in {r.type for r in results}]
    if missing:
        needed = ", ".join(t.name for t in migration_types())
        line = _("the bundle has no {missing} file; a test set needs one of each: {needed}")
        raise TestSetError(line.format(missing=_(" or ").join(missing), needed=needed))
    rank = {t.name: i for i, t in enumerate(migration_types())}
    return sorted(results, key=lambda r: rank[r.type or ""])


def _tree(results: list[FileResult], held: dict[str, dict[int, list[str]]]) -> _Node:
    """The reference tree of ``datapackage.json``, each row marked good (no errors) and ok (usable)."""
    nodes: dict[str, _Node] = {}
    root: _Node | None = None
    for mtype in migration_types():  # upload order: a parent comes before the types that refer to it
        frames = []
        for r in results:
            if r.type == mtype.name and r.keys is not None:
                bad = [row for row, why in held.get(r.path, {}).items() if why]
                frames.append(r.keys.assign(_file=r.path, _good=~r.keys["row"].isin(bad)))
        frame = pd.concat(frames, ignore_index=True)
        fk = mtype.foreign_keys[0] if mtype.foreign_keys else None
        node = _Node(mtype, frame, fk)
        if fk is None:
            root = root or node
        else:
            parent = nodes[fk["reference"]["resource"]]
            node.depth = parent.depth + 1
            parent.children.append(node)
        nodes[mtype.name] = node
    assert root is not None, "datapackage.json has no type that refers to nothing"
    for node in reversed(list(nodes.values())):  # children are settled before their parents
        ok = node.frame["_good"].to_numpy(dtype=bool).copy()
        for child in node.children:
            assert child.fk is not None
            theirs = child.key(child.fk["fields"])
            mine = node.key(child.fk["reference"]["fields"])
            if node.depth == 0:  # one record of each: some usable child is enough
                ok &= mine.isin(set(theirs[child.frame["_ok"]].dropna())).fillna(False).to_numpy(dtype=bool)
            else:  # part of the record (an order's items): all children, every one usable
                present = set(theirs.dropna())
                unusable = set(theirs[~child.frame["_ok"]].dropna())
                ok &= (mine.isin(present) & ~mine.isin(unusable)).fillna(False).to_numpy(dtype=bool)
        node.frame["_ok"] = ok
    return root


def _walk(node: _Node) -> list[_Node]:
    return [node, *(n for child in node.children for n in _walk(child))]


def _take(node: _Node, at: object, taken: dict[str, list[object]]) -> None:
    """Row ``at`` of ``node`` and what the test set needs below it (one of each, or all of a record)."""
    taken.setdefault(node.name, []).append(at)
    for child in node.children:
        rows = child.under(node, at)
        if node.depth == 0:
            _take(child, next(i for i in rows if child.frame.at[i, "_ok"]), taken)
        else:
            for i in rows:
                _take(child, i, taken)


def _a(word: str) -> str:
    return _("an {word}").format(word=word) if word[:1].lower() in "aeiou" else _("a {word}").format(word=word)


def _nobody(root: _Node, results: list[FileResult]) -> str:
    """Why no customer qualifies, as one line: what a test customer needs, and where to look."""
    needs = []
    for child in root.children:
        need = _a(child.name)
        for g in child.children:
            need = _("{need} with {child} rows").format(need=need, child=g.name)
        needs.append(need)
    errors = sum(r.errors for r in results)
    values = {"root": root.name, "needs": _(" and ").join(needs), "errors": number(errors)}
    if errors:
        line = _(
            "no {root} has {needs}, all without errors ({errors} errors in the bundle; omnimig validate lists them)"
        )
        return line.format(**values)
    return _("no {root} has {needs}, all without errors").format(**values)


def _first_reason(node: _Node, at: object, held: dict[str, dict[int, list[str]]]) -> str:
    path, row = str(node.frame.at[at, "_file"]), int(node.frame.at[at, "row"])
    why = held.get(path, {}).get(row) or ["error"]
    return _("{path} row {row}: {why}").format(path=path, row=row, why=why[0])


def _unfit(root: _Node, at: object, held: dict[str, dict[int, list[str]]]) -> str:
    """Why the given customer's row ``at`` cannot be a test set (the first thing missing)."""
    if not root.frame.at[at, "_good"]:
        return _("has errors ({reason})").format(reason=_first_reason(root, at, held))
    for child in root.children:
        rows = child.under(root, at)
        if not len(rows):
            return _("has no {child}").format(child=child.name)
        good = [i for i in rows if child.frame.at[i, "_good"]]
        if not good:
            line = _("has no {child} without errors ({reason})")
            return line.format(child=child.name, reason=_first_reason(child, rows[0], held))
        if any(child.frame.at[i, "_ok"] for i in good):
            continue
        for grand in child.children:
            if not any(len(grand.under(child, i)) for i in good):
                return _("has no {child} with {grand} rows").format(child=child.name, grand=grand.name)
            return _("has no {child} whose {grand} rows are all without errors").format(
                child=child.name, grand=grand.name
            )
    return _("cannot be a test set")  # not reached: every way to fail is named above


def _write(results: list[FileResult], wanted: dict[str, set[int]], out: Path) -> tuple[Picked, ...]:
    """Write the picked rows of each input file to ``out`` under its own name, in its own format."""
    plan: list[tuple[FileResult, str, Path]] = []
    used: set[str] = set()
    for r in results:
        if r.path not in wanted:
            continue
        fmt = WRITE_FORMAT[r.format or "csv"]
        name, n = Path(r.path).stem + SUFFIX[fmt], 1
        while name.lower() in used:  # two inputs of one name (from two folders) must not overwrite each other
            n += 1
            name = f"{Path(r.path).stem}-{n}{SUFFIX[fmt]}"
        used.add(name.lower())
        plan.append((r, fmt, out / name))
    inputs = {Path(r.path).resolve() for r in results}
    for _r, _fmt, target in plan:
        if target.resolve() in inputs:
            raise TestSetError(_("{path} is an input file; write the test set to another folder").format(path=target))
    if out.exists() and not out.is_dir():
        raise TestSetError(_("{path} is a file; --out needs a folder").format(path=out))
    if out.is_dir():
        # A leftover migration file would join the mini-bundle when it is validated or uploaded.
        for child in sorted(out.iterdir()):
            if child.is_file() and child.name.lower() not in used and type_from_name(child) is not None:
                line = _("{path} is already in {folder}; write the test set to an empty folder")
                raise TestSetError(line.format(path=child, folder=out))
    picks = []
    for r, fmt, target in plan:
        rows = sorted(wanted[r.path])
        source = open_source(Path(r.path), options=r.read_options)
        try:
            with TableWriter(target, fmt, column_keys(source)) as writer:
                for chunk in source.chunks:
                    writer.write(chunk, chunk.rows.isin(rows))
        except WriteError as exc:  # a value the format cannot hold: refused in one line, never cut
            raise TestSetError(str(exc)) from None
        picks.append(Picked(r.type or "", r.path, tuple(rows), str(target)))
    return tuple(picks)
