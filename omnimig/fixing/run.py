"""``omnimig fix``: validate, correct the failing cells that have one safe reading, write, validate again.

The run, per bundle:

1. validate the inputs (the same engine as ``omnimig validate``): the failing cells are the ones
   to look at, so a value that already passes is never touched;
2. read each file again, try each failing cell's fixer (``engine``), keep a correction only when
   the validator's own column check passes it, and write the file to ``--out`` in its format
   (CSV as UTF-8 with ``,``; XLS as XLSX; JSON as one array), every row, every column;
3. write ``changes.csv``: one line per changed cell, one per renamed column, one per file whose
   encoding, delimiter or shape was normalised;
4. validate the corrected files and match their problems to the inputs' (rows are mapped back),
   so the counts say how many were fixed and what is left, each with the reason it was not fixed.

The output folder follows ``transforms.outdir``: never an input, never a file omnimig did not
write, each file moved into place whole, 0600 files in a 0700 folder.
"""

from __future__ import annotations

import csv
import dataclasses
import heapq
import io
import json
import mmap
import shutil
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from omnimig.exceptions import ReadError, TransformError, UsageError
from omnimig.fixing.engine import CODES, LOCALES, Fix, NotFixed, clean_text, currency_field, failures, field_fixer
from omnimig.i18n import N_, _, ngettext, number
from omnimig.io import open_source
from omnimig.io.paths import same_file
from omnimig.io.private import open_private
from omnimig.io.read_csv import sniff_delimiter
from omnimig.io.safe_text import neutralise_formula, visible
from omnimig.io.table import Chunk, ReadOptions, Source
from omnimig.io.write import SUFFIX, WRITE_FORMAT, TableWriter, column_keys, json_value
from omnimig.schemas.rules import ChoiceList, load_choices, migration_type, migration_types, rules_for
from omnimig.transforms.normalize import CURRENCY_SIGNS
from omnimig.transforms.outdir import MANIFEST, WRITTEN_BY, OutFolder, prepare, write_bundle
from omnimig.validation.bundle import check_bundle
from omnimig.validation.fields import Emitter, key_column, map_columns
from omnimig.validation.problem import FileResult, Problem, ProblemStore
from omnimig.validation.report import SEVERITY_NAMES
from omnimig.validation.result import Report
from omnimig.validation.run import Target, Validation, validate_file, validate_paths

CHANGES = "changes.csv"
CHANGES_HEADER = ("file", "row", "field", "before", "after", "rule", "code")

#: The field rules a cell's fixer may answer; bundle rules (unique, foreign-key, ...) are left alone.
FIELD_RULES = frozenset(
    {"type", "pattern", "max-length", "enum", "min-value", "decimal-places", "max-digits", "json-object", "choices"}
)
#: Bundle rules a cell's whitespace can break: a reference is fixed when its trimmed value is a key.
REFERENCE_RULES = frozenset({"foreign-key"})
#: Reader notices about the whole file that writing it plainly resolves.
REWRITTEN = frozenset({"encoding", "sep-line", "json-wrapper", "file-format", "header-row", "sheet", "hidden-sheets"})
#: Row problems whose row cannot be written back whole: such a file is refused (nothing is lost).
LOSSY = frozenset({"row-width", "unterminated-quote", "duplicate-key"})
#: Cell problems only the input workbook shows (the copy holds the cell's text, which may pass):
#: they are carried over as left for a person, never counted as fixed.
CARRIED = frozenset({"excel-error", "formula-not-calculated", "excel-date", "excel-precision", "merged-cell"})

#: Why a problem of a rule no fixer answers is left for a person (translated where it is used).
REASONS = {
    "required": N_("a required value is empty; omnimig never invents one"),
    "unique": N_("a duplicate key: which row is right is for a person to decide"),
    "foreign-key": N_("a dangling reference: the row it points to is not in the bundle"),
    "max-length": N_("over its maximum length: cutting it would lose text"),
    "choices": N_("not in the known list; omnimig does not guess which listed value was meant"),
    "enum": N_("not one of the allowed values, even ignoring case"),
    "decimal-places": N_("rounding would change the amount"),
    "max-digits": N_("too many digits; omnimig does not drop any"),
    "min-value": N_("below the minimum; the right value is for a person to decide"),
    "missing-column": N_("a column is missing; omnimig never invents its values"),
    "blank-row": N_("an empty row; deleting it is for a person to decide"),
    **dict.fromkeys(
        CARRIED, N_("the copy holds the cell's text as the workbook showed it; correct the cell in the workbook")
    ),
}
DEFAULT_REASON = N_("no safe, unambiguous correction: what it should be is for a person to decide")
#: Why a cross-file consistency problem (``consistency`` in ``datapackage.json``) is left.
CONSISTENCY_REASON = N_("the rows disagree with each other; which one is right is for a person to decide")


def reason_for(rule: str) -> str:
    """The reason a problem of ``rule`` no fixer answered is left for a person, in the current language."""
    if rule in REASONS:
        return _(REASONS[rule])
    consistency = {check.get("rule") for t in migration_types() for check in t.consistency}
    return _(CONSISTENCY_REASON if rule in consistency else DEFAULT_REASON)


@dataclass(frozen=True)
class Change:
    """One line of ``changes.csv``."""

    file: str
    row: int | None
    field: str
    before: str
    after: str
    rule: str
    code: str


@dataclass
class FileFix:
    """One input file: where its corrected copy went, and how many rows and cells."""

    path: str
    type: str
    out: str
    rows: int = 0
    rows_out: int = 0
    changed: int = 0
    header_row: int | None = 1
    out_header_row: int | None = 1
    row_map: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    #: Written by splicing (``_FileFixer._write_spliced``): the rows written again, ascending; else None.
    spliced: np.ndarray | None = None
    #: The header and those rows' new lines, to check them alone (``_recheck``); in the run's
    #: private scratch folder, removed when the run ends.
    spliced_lines: Path | None = None


@dataclass
class Remaining:
    """The problems left of one (severity, rule, field), with a few examples and their reasons."""

    severity: str
    rule: str
    field: str | None
    count: int = 0
    examples: list[tuple[Problem, str]] = dataclasses.field(default_factory=list)


@dataclass
class FixResult:
    """What ``omnimig fix`` did: files, changes, and the problems before and after."""

    files: list[FileFix]
    changes: int
    changes_path: Path
    before: int  # problems (errors and warnings) of the inputs
    fixed: int  # of those, gone from the corrected files
    new: int  # problems of the corrected files the inputs did not have (values now checkable)
    remaining: list[Remaining]
    errors_after: int
    dry_run: bool = False
    skipped: list[str] = dataclasses.field(default_factory=list)

    @property
    def need_person(self) -> int:
        return self.before - self.fixed

    @property
    def exit_code(self) -> int:
        """0 the corrected files have no errors, 1 errors remain (warnings allowed)."""
        return 1 if self.errors_after else 0

    def lines(self, examples: int = 3) -> list[str]:
        """The summary the command prints, in the current language (``omnimig.i18n``)."""
        out = []
        for f in self.files:
            where = _("(dry run: not written)") if self.dry_run else f"-> {f.out}"
            out.append(
                ngettext(
                    "{path} {where}: {rows} rows in = {rows_out} rows out, {n} cell changed",
                    "{path} {where}: {rows} rows in = {rows_out} rows out, {n} cells changed",
                    f.changed,
                ).format(
                    path=f.path, where=where, rows=number(f.rows), rows_out=number(f.rows_out), n=number(f.changed)
                )
            )
        out.append(
            ngettext("changes: {path} ({n} line)", "changes: {path} ({n} lines)", self.changes).format(
                path=self.changes_path, n=number(self.changes)
            )
        )
        if self.remaining:
            out.append(_("left for a person, by rule:"))
        for group in self.remaining:
            mark = "✗" if group.severity == "error" else "!"
            name = group.rule if group.field is None else f"{group.rule} · {group.field}"
            severity = _(SEVERITY_NAMES.get(group.severity, group.severity))
            problems = ngettext("{n} problem", "{n} problems", group.count).format(n=number(group.count))
            out.append(f"  {mark} {severity} {name} — {problems}")
            for problem, reason in group.examples[:examples]:
                at = _("file") if problem.row is None else _("row {row}").format(row=problem.row)
                out.append(f"      {problem.file} {at}: {problem.message}")
                out.append("        " + _("not fixed: {reason}").format(reason=reason))
        out.append(
            ngettext(
                "{n} problem: {fixed} fixed, {person} need a person",
                "{n} problems: {fixed} fixed, {person} need a person",
                self.before,
            ).format(n=number(self.before), fixed=number(self.fixed), person=number(self.need_person))
        )
        if self.new:
            out.append(
                ngettext(
                    "{n} more problem found in the corrected files (values that could not be checked before they "
                    "were fixed): they need a person too",
                    "{n} more problems found in the corrected files (values that could not be checked before they "
                    "were fixed): they need a person too",
                    self.new,
                ).format(n=number(self.new))
            )
        return out


# ------------------------------------------------------------------------------------------- plan


def check_codes(only: Iterable[str] | None) -> frozenset[str]:
    """The fix codes to apply (all by default); ``UsageError`` naming the known ones for any other."""
    if only is None:
        return frozenset(CODES)
    chosen = {c.strip() for c in only if c.strip()}
    unknown = sorted(chosen - set(CODES))
    if unknown:
        raise UsageError(
            _("unknown fix code {code}; use one of: {codes}").format(code=repr(unknown[0]), codes=", ".join(CODES))
        )
    if not chosen:
        raise UsageError(_("no fix code given; use one or more of: {codes}").format(codes=", ".join(CODES)))
    return frozenset(chosen | {"rewrite"})  # a file is always written plainly


def check_locale(locale: str | None) -> str | None:
    """``locale`` when omnimig knows its conventions (``engine.LOCALES``); ``UsageError`` naming them otherwise."""
    if locale is None or locale in LOCALES:
        return locale
    raise UsageError(
        _("unknown locale {locale}; use one of: {locales}").format(locale=repr(locale), locales=", ".join(LOCALES))
    )


def _out_name(result: FileResult) -> str:
    fmt = WRITE_FORMAT.get(result.format or "csv", "csv")
    return Path(result.path).stem + SUFFIX[fmt]


def _manifest_names(out: Path) -> set[str]:
    """Every name the manifest of an earlier run lists (``read_manifest`` keeps only transform names)."""
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return set()
    if not isinstance(data, dict) or data.get("written_by") != WRITTEN_BY or not isinstance(data.get("files"), list):
        return set()
    return {n for n in data["files"] if isinstance(n, str)}


def _out_folder(out: Path, inputs: list[Path], names: list[str], force: bool) -> OutFolder:
    """``prepare`` plus the same rules for the names a fix writes (the inputs' own names, changes.csv)."""
    for name in names:
        for source in inputs:
            if same_file(source, out / name):
                raise TransformError(
                    _(
                        "{target} would overwrite the input {source}; choose another --out folder (omnimig never "
                        "writes over an input, even with --force)"
                    ).format(target=visible(str(out / name)), source=visible(str(source)))
                )
    folder = prepare(out, inputs, force)
    listed = _manifest_names(out) if out.exists() else set()
    for name in names:
        target = out / name
        if name not in folder.owned and name not in listed and (target.exists() or target.is_symlink()):
            raise TransformError(
                _(
                    "{target}: exists and omnimig did not write it; move it away or choose another --out folder "
                    "(omnimig never replaces a file it did not write, even with --force)"
                ).format(target=visible(str(target)))
            )
    return OutFolder(folder.path, folder.owned | (listed & set(names)))


# ------------------------------------------------------------------------------------------- one file


@dataclass
class _Cells:
    """The failing cells of one file: field -> {row: rules}."""

    by_field: dict[str, dict[int, list[str]]] = dataclasses.field(default_factory=lambda: defaultdict(dict))


class _FileFixer:
    """Corrects one file's failing cells chunk by chunk and writes every row."""

    def __init__(
        self,
        result: FileResult,
        cells: _Cells,
        codes: frozenset[str],
        lists: dict[str, ChoiceList],
        changes: ChangeLog,
        left: dict[tuple[str, int, str], str],
        chunk_rows: int,
        references: dict[str, frozenset[str]],
        fast: bool = True,
        locale: str | None = None,
        file_rules: frozenset[str] = frozenset(),
        scratch: Path | None = None,
    ) -> None:
        self.fast = fast
        self.file_rules = file_rules  # the rules of the file's problems: a reader's notice rules out splicing
        self.scratch = scratch if scratch is not None else Path(tempfile.gettempdir())
        self.locale = locale
        self.references = references
        self.result = result
        self.cells = cells
        self.codes = codes
        self.lists = lists
        self.changes = changes
        self.left = left
        self.chunk_rows = chunk_rows

    def write(self, out: Path, fix: FileFix) -> None:
        """Write the corrected copy of the file to ``out``: spliced when it can be, else every row."""
        if self.fast and self._write_spliced(out, fix):
            return
        result = self.result
        source = open_source(Path(result.path), self.chunk_rows, result.read_options or ReadOptions())
        fmt = source.format
        is_json = fmt == "json"
        assert result.type is not None  # a file that was read has a type
        rules = rules_for(result.type, fmt)
        layout = map_columns(rules, source.columns, is_json, Emitter("", "", []), source.header_row)
        fix.header_row = None if is_json else source.header_row
        fix.out_header_row = None if is_json else 1
        keys = column_keys(source)
        rename: dict[str, str] = {}
        if "column-alias" in self.codes:
            for name, column in layout.columns.items():
                if column != name and name not in keys and column in keys:
                    rename[column] = name
                    self.changes.append(
                        Change(result.path, fix.header_row, name, column, name, "column-alias", "column-alias")
                    )
        self._rewrite_line(source, fix)
        currency = currency_field(result.type, fmt)
        currency_column = None if currency is None else layout.columns.get(currency)
        mapped: list[np.ndarray] = []
        out_fmt = WRITE_FORMAT.get(fmt, "csv")
        with TableWriter(out, out_fmt, [rename.get(k, k) for k in keys], shown_as=Path(fix.out)) as writer:
            for chunk in source.chunks:
                fix.changed += sum(map(len, self._fix_chunk(chunk, layout.columns, fmt, currency_column).values()))
                if rename:
                    chunk.data = chunk.data.rename(columns=rename)
                    if chunk.kinds is not None:
                        chunk.kinds = chunk.kinds.rename(columns=rename)
                writer.write(chunk, pd.Series(np.ones(len(chunk.data), dtype=bool)))
                mapped.append(chunk.rows.to_numpy(dtype=np.int64))
                fix.rows += len(chunk.data)
            fix.rows_out = writer.rows
        fix.row_map = np.concatenate(mapped) if mapped else np.zeros(0, dtype=np.int64)

    def _write_spliced(self, out: Path, fix: FileFix) -> bool:
        """Write a UTF-8, ``,`` CSV file whose rows are its lines without reading it whole again:
        unchanged lines are copied as their bytes, only the changed rows are serialised again (a
        file with no change is a plain copy). False, having written nothing, for any other file.

        This is issue 17's "unchanged values are byte-identical" taken literally, and it spares
        parsing and serialising a million rows that did not change: the lines of the failing cells
        are read (by the same reader, as a small file of the header and those lines) and
        corrected as ``write`` does. ``fix.spliced`` keeps the new lines, so the copy's problems
        can be found by checking only them (``_recheck``).
        """
        result = self.result
        path = Path(result.path)
        if result.format != "csv" or result.header_row != 1 or not self.file_rules.isdisjoint(REWRITTEN):
            return False
        with path.open("rb") as handle:
            head = handle.readline(1 << 20)
        try:
            if head.startswith(b"\xef\xbb\xbf") or sniff_delimiter(head.decode("utf-8").rstrip("\r\n")) != ",":
                return False
        except UnicodeDecodeError:
            return False
        ends = _line_ends(path)
        if ends is None or len(ends) != result.rows + 1:
            return False  # a cell spans lines (or there is no header line): rows are not lines
        wanted = sorted(set().union(*(set(rows) for rows in self.cells.by_field.values())))
        rows: list[int] = []
        if not wanted:
            with path.open("rb") as src, open_private(out, "wb") as dst:
                shutil.copyfileobj(src, dst, BLOCK)
        else:
            small = self.scratch / f"lines-{id(self)}.csv"
            try:
                _copy_lines(path, small, ends, [1, *wanted])
                try:
                    source = open_source(small, self.chunk_rows, result.read_options or ReadOptions())
                except ReadError:
                    return False  # the few lines alone read otherwise than in their file: rewrite it whole
                assert result.type is not None  # a file that was read has a type
                layout = map_columns(rules_for(result.type, "csv"), source.columns, False, Emitter("", "", []), 1)
                keys = column_keys(source)
                if source.header_row != 1 or any(
                    column != name and name not in keys and column in keys for name, column in layout.columns.items()
                ):
                    return False  # a column alias: the header is rewritten, so the whole file is
                currency = currency_field(result.type, "csv")
                currency_column = None if currency is None else layout.columns.get(currency)
                at = np.asarray([0, 1, *wanted], dtype=np.int64)  # the small file's row k is the file's at[k]
                fix.spliced_lines = self.scratch / f"spliced-{id(self)}.csv"
                with _Splicer(path, out, ends, fix.spliced_lines) as splicer:
                    for chunk in source.chunks:  # rows ascend: the copy is written as the chunks come
                        chunk.rows = pd.Series(at[chunk.rows.to_numpy(dtype=np.int64)], index=chunk.rows.index)
                        edits = self._fix_chunk(chunk, layout.columns, "csv", currency_column, apply=False)
                        splicer.put(_serialised(chunk, keys, edits))
                        fix.changed += sum(map(len, edits.values()))
                rows = splicer.rows
            finally:
                small.unlink(missing_ok=True)
        fix.rows = fix.rows_out = result.rows
        fix.row_map = np.arange(2, result.rows + 2, dtype=np.int64)
        fix.spliced = np.asarray(rows, dtype=np.int64)
        return True

    def _rewrite_line(self, source: Source, fix: FileFix) -> bool:
        """One ``rewrite`` line when the copy differs from the input in encoding, delimiter or shape."""
        said = [n for n in source.notices if n.rule in REWRITTEN]
        before = [n.message for n in said]
        if source.format == "csv":
            shape = _csv_shape(Path(self.result.path))
            if shape is not None and shape != ("utf-8", ","):
                codec, delimiter = shape
                before.insert(0, f"{codec} text with {delimiter!r} between cells")
        if source.format == "json" and not said and _json_lines(Path(self.result.path)):
            before.append("JSON Lines: one object a line")
        if not before:
            return False
        out_fmt = WRITE_FORMAT.get(source.format, "csv")
        after = {
            "csv": "UTF-8 text with ',' between cells, header on row 1",
            "xlsx": "one sheet, header on row 1",
            "json": "one JSON array of objects",
        }[out_fmt]
        rule = ";".join(dict.fromkeys(n.rule for n in said)) or "encoding"
        self.changes.append(Change(self.result.path, None, "", "; ".join(before), after, rule, "rewrite"))
        return True

    def _fix_chunk(
        self, chunk: Chunk, columns: dict[str, str], fmt: str, currency_column: str | None, apply: bool = True
    ) -> dict[int, dict[str, str]]:
        """Correct the chunk's failing cells: ``{position: {column: new text}}`` of the cells changed.

        Only the failing cells' values are taken out of the chunk (Arrow ``take``), not whole
        columns. With ``apply`` the corrections are written into the chunk (and its JSON kinds) for
        ``TableWriter``; without, the caller writes only the changed rows (``_write_spliced``).
        """
        rows = chunk.rows.to_numpy(dtype=np.int64)
        edits: dict[int, dict[str, str]] = {}
        made: list[tuple[int, int, Change]] = []  # (row, column order, change)
        is_json = fmt == "json"
        for order, (name, column) in enumerate(columns.items()):
            wanted = self.cells.by_field.get(name)
            if not wanted:
                continue
            hit = np.flatnonzero(np.isin(rows, np.fromiter(wanted, dtype=np.int64, count=len(wanted))))
            if not hit.size:
                continue
            fixer = field_fixer(self.result.type, name, fmt, self.locale)
            values = chunk.data[column].take(hit).to_numpy(dtype=object, na_value=None)
            kinds = None if chunk.kinds is None else chunk.kinds[column].take(hit).astype(str).to_numpy(dtype=object)
            currencies = (
                None
                if currency_column is None
                else chunk.data[currency_column].take(hit).to_numpy(dtype=object, na_value=None)
            )
            tried: list[tuple[int, Fix, str]] = []  # (index into hit, fix, value before)
            for j, value in enumerate(values.tolist()):
                if value is None:
                    continue
                row = int(rows[hit[j]])
                kind = "string" if kinds is None else str(kinds[j])
                try:
                    attempt = fixer.attempt(value, kind)
                    self._resolves(name, row, attempt)
                    if attempt.code not in self.codes:
                        raise NotFixed(_("the fix {code} was not chosen (--only)").format(code=repr(attempt.code)))
                    if attempt.currency is not None and currencies is not None:
                        _same_currency(currencies[j], attempt)
                except NotFixed as exc:
                    if str(exc):
                        self.left[(self.result.path, row, name)] = str(exc)
                    continue
                tried.append((j, attempt, value))
            if not tried:
                continue
            still = failures(
                fixer.rule,
                [t[1].value for t in tried],
                None if kinds is None else [t[1].kind for t in tried],
                self.lists,
            )
            positions, new_values, new_kinds = [], [], []
            for (j, attempt, value), broken in zip(tried, still, strict=True):
                i = int(hit[j])
                row = int(rows[i])
                if broken:
                    self.left[(self.result.path, row, name)] = _(
                        "the corrected value {value} would still break {rules}"
                    ).format(
                        value=json.dumps(attempt.value, ensure_ascii=False), rules=", ".join(dict.fromkeys(broken))
                    )
                    continue
                positions.append(i)
                new_values.append(attempt.value)
                new_kinds.append(attempt.kind)
                edits.setdefault(i, {})[column] = attempt.value
                old_kind = "string" if kinds is None else str(kinds[j])
                shown_before = json_value(value, old_kind) if is_json else value
                shown_after = json_value(attempt.value, attempt.kind) if is_json else attempt.value
                rules = ";".join(dict.fromkeys(self.cells.by_field[name][row]))
                made.append(
                    (row, order, Change(self.result.path, row, name, shown_before, shown_after, rules, attempt.code))
                )
            if not positions or not apply:
                continue
            whole = chunk.data[column].to_numpy(dtype=object, na_value=None)
            whole[positions] = new_values
            chunk.data[column] = pd.array(whole, dtype=chunk.data[column].dtype)
            if chunk.kinds is not None:
                kind_column = chunk.kinds[column].astype(object).to_numpy(copy=True)
                kind_column[positions] = new_kinds
                chunk.kinds[column] = kind_column
        # changes.csv in row order, then column order, whatever the chunk size
        for _row, _order, change in sorted(made, key=lambda m: (m[0], m[1])):
            self.changes.append(change)
        return edits

    def _resolves(self, name: str, row: int, attempt: Fix) -> None:
        """A corrected reference must name a key the bundle holds; else the reference stays a problem."""
        if REFERENCE_RULES.isdisjoint(self.cells.by_field[name][row]):
            return
        keys = self.references.get(name)
        if keys is None or attempt.value not in keys:
            raise NotFixed("")  # the rule's own reason: a dangling reference


def _same_currency(raw: object, attempt: Fix) -> None:
    """An amount's sign must name the row's currency; a sign that disagrees is for a person."""
    text = clean_text(raw) if isinstance(raw, str) else None
    if text is None:
        return
    code = CURRENCY_SIGNS.get(text.upper(), text.upper())
    if code != attempt.currency:
        raise NotFixed(
            _("the amount is written in {currency} but the row's currency is {row_currency}").format(
                currency=attempt.currency, row_currency=text
            )
        )


#: Bytes read at a time when a CSV file's line ends are found.
BLOCK = 1 << 24


def _line_ends(path: Path) -> np.ndarray | None:
    """The offset of each line's end (its ``\\n``, or the file's end for a last line without one), or
    ``None`` when a lone ``\\r`` (a line end to the CSV reader, not here) makes lines and records differ,
    or when the file holds a NUL byte: the reader judges binary by its first 64 KB, so a line with a
    NUL copied into the small file of changed lines could be refused there though its file was read.

    With no lone ``\\r`` a record spans at least one line, so as many lines as the reader's records
    (plus the header) means no record spans two: line k holds row k.
    """
    ends: list[np.ndarray] = []
    base = 0
    last = b""
    with path.open("rb") as handle:
        while block := handle.read(BLOCK):
            if block.endswith(b"\r"):
                block += handle.read(1)  # a \r\n across two blocks is one line end
            if b"\x00" in block:
                return None
            data = np.frombuffer(block, dtype=np.uint8)
            if b"\r" in block:
                cr = np.flatnonzero(data == 13)
                if cr[-1] + 1 == len(data) or not (data[cr + 1] == 10).all():
                    return None
            ends.append(np.flatnonzero(data == 10) + base)
            base += len(block)
            last = block[-1:]
    if base and last != b"\n":
        ends.append(np.array([base], dtype=np.int64))
    return np.concatenate(ends) if ends else np.zeros(0, dtype=np.int64)


def _serialised(chunk: Chunk, keys: list[str], edits: dict[int, dict[str, str]]) -> dict[int, str]:
    """The changed rows of a chunk as CSV lines (no line end), by row: the row's cells with its edits."""
    if not edits:
        return {}
    positions = sorted(edits)
    frame = chunk.data.iloc[positions]
    table = [frame[k].to_numpy(dtype=object, na_value=None) for k in keys]
    index = {k: j for j, k in enumerate(keys)}
    for n, i in enumerate(positions):
        for k, value in edits[i].items():
            table[index[k]][n] = value
    buffer = io.StringIO()
    # One C call for all the rows; no cell holds a line end (each row was one line), so they split back.
    csv.writer(buffer, lineterminator="\n").writerows(zip(*table, strict=True))
    rows = chunk.rows.to_numpy(dtype=np.int64)[positions].tolist()
    return dict(zip(rows, buffer.getvalue().split("\n")[:-1], strict=True))


def _line_span(ends: np.ndarray, k: int, data: mmap.mmap) -> tuple[int, int]:
    """Where line k (1 = the first) starts and ends, its line end (``\\n`` or ``\\r\\n``) left out."""
    start = 0 if k == 1 else int(ends[k - 2]) + 1
    end = int(ends[k - 1])
    if end > start and end < len(data) and data[end - 1 : end] == b"\r":
        end -= 1
    return start, end


def _copy_lines(source: Path, target: Path, ends: np.ndarray, lines: list[int]) -> None:
    """Write lines of ``source`` (ascending numbers) to ``target`` (0600), each ended with ``\\n``."""
    with (
        source.open("rb") as src,
        open_private(target, "wb") as dst,
        mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ) as data,
    ):
        for k in lines:
            start, end = _line_span(ends, k, data)
            dst.write(data[start:end] + b"\n")


class _Splicer:
    """The copy of a file with some of its lines replaced, written as the replacements come (rows
    ascending), so memory holds one chunk's lines, not all of them. Each new line also goes to
    ``lines_file``, after the file's header line: the rows ``_recheck`` checks alone. The copy
    and ``lines_file`` are 0600; leaving through an exception removes the half-written copy."""

    def __init__(self, source: Path, out: Path, ends: np.ndarray, lines_file: Path) -> None:
        self.out = out
        self.ends = ends
        self.at = 0  # where the source is copied from next
        self.rows: list[int] = []
        with source.open("rb") as src:
            self._data = mmap.mmap(src.fileno(), 0, access=mmap.ACCESS_READ)
        self._dst = open_private(out, "wb")
        self._lines = open_private(lines_file, "wb")
        start, end = _line_span(ends, 1, self._data)
        self._lines.write(self._data[start:end] + b"\n")

    def __enter__(self) -> _Splicer:
        return self

    def put(self, lines: dict[int, str]) -> None:
        """Replace line k by ``lines[k]`` (its line end kept), for rows after those put before."""
        for k in sorted(lines):
            start, end = _line_span(self.ends, k, self._data)
            text = lines[k].encode("utf-8")  # read from UTF-8 text: it encodes
            self._dst.write(self._data[self.at : start])
            self._dst.write(text)
            self._lines.write(text + b"\n")
            self.at = end  # the line end is copied with what follows
            self.rows.append(k)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if kind is None:
                self._dst.write(self._data[self.at :])
        finally:
            self._dst.close()
            self._lines.close()
            self._data.close()
            if kind is not None:
                self.out.unlink(missing_ok=True)


def _json_lines(path: Path) -> bool:
    """Whether a JSON file is JSON Lines (its first value is not an array), which is written as one array."""
    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return bool(head) and not head.startswith(b"[")


def _csv_shape(path: Path) -> tuple[str, str] | None:
    """(codec, delimiter) of a CSV file, as the reader found them; ``None`` when it cannot tell."""
    from omnimig.io.read_csv import sniff_delimiter, sniff_encoding

    try:
        encoding = sniff_encoding(path)
        with path.open(encoding=encoding.codec, newline="") as handle:
            line = handle.readline(1 << 20).rstrip("\r\n")
    except (OSError, UnicodeDecodeError, ReadError):
        return None
    codec = encoding.codec
    if codec == "utf-8-sig":  # the reader's name for UTF-8 whether or not a BOM starts it
        with path.open("rb") as raw:
            codec = "UTF-8 with a byte-order mark" if raw.read(3) == b"\xef\xbb\xbf" else "utf-8"
    if line.lower().startswith("sep=") and len(line) == 5:
        return codec, line[4]
    return codec, sniff_delimiter(line)


class ChangeLog:
    """``changes.csv`` as it is made: each line goes to a private file at once, so a million changes
    cost no memory. People open it, so cells that look like formulas are neutralised."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines = 0
        self._handle = open_private(path, "w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._handle, lineterminator="\r\n")
        self._csv.writerow(CHANGES_HEADER)

    def append(self, c: Change) -> None:
        cells = [c.file, "" if c.row is None else str(c.row), c.field, c.before, c.after, c.rule, c.code]
        self._csv.writerow([neutralise_formula(v) for v in cells])
        self.lines += 1

    def copy_to(self, path: Path) -> None:
        self._handle.close()
        shutil.copyfile(self.path, path)

    def close(self) -> None:
        self._handle.close()


# ------------------------------------------------------------------------------------------- the run


def references(results: list[FileResult], type_name: str | None) -> dict[str, frozenset[str]]:
    """For each single-field foreign key of ``type_name`` (``datapackage.json``), the keys the bundle holds."""
    found: dict[str, frozenset[str]] = {}
    if type_name is None:
        return found
    for fk in migration_type(type_name).foreign_keys:
        fields, target = fk["fields"], fk["reference"]
        if isinstance(fields, str):
            fields = [fields]
        ref_fields = target["fields"] if isinstance(target["fields"], list) else [target["fields"]]
        if len(fields) != 1 or len(ref_fields) != 1:
            continue
        keys: set[str] = set()
        for r in results:
            if r.type == target["resource"] and r.keys is not None and ref_fields[0] in r.keys:
                keys.update(v for v in r.keys[ref_fields[0]].dropna().tolist() if v)
        found[fields[0]] = frozenset(keys)
    return found


def _key(p: Problem, file: str, row: int | None) -> tuple[str, int | None, str | None, str]:
    return (file, row, p.field, p.rule)


def fix_paths(
    paths: list[Path],
    out: Path,
    *,
    type_name: str | None = None,
    dry_run: bool = False,
    only: Iterable[str] | None = None,
    choices: Path | None = None,
    force: bool = False,
    chunk_rows: int = 200_000,
    fast: bool = True,
    locale: str | None = None,
) -> FixResult:
    """Fix the files and folders in ``paths`` into ``out``; see the module docstring.

    ``fast=False`` rewrites every row and validates the copies whole: the reference the spliced
    copies and their recheck (``_write_spliced``, ``_recheck``) are tested against.
    """
    codes = check_codes(only)
    locale = check_locale(locale)
    lists = load_choices(choices)
    before = validate_paths(paths, type_name, choices, chunk_rows=chunk_rows, examples=0)
    if before.unreadable:
        raise ReadError(_("{line}; omnimig fixes only files it can read").format(line=before.unreadable[0]))
    results = before.results
    cells: dict[str, _Cells] = defaultdict(_Cells)
    counted: Counter[tuple[str, int | None, str | None, str]] = Counter()
    carried: list[Problem] = []
    rules_of: dict[str, set[str]] = defaultdict(set)
    for p in Report(before).problems():
        rules_of[p.file].add(p.rule)
        if p.severity not in ("error", "warning"):
            continue
        if p.rule in LOSSY:
            raise UsageError(
                _(
                    "{file}: row {row}: {message}; omnimig fix would lose what the row holds beyond its columns, "
                    "so it does not rewrite this file: correct the row first"
                ).format(file=p.file, row=p.row, message=p.message)
            )
        counted[_key(p, p.file, p.row)] += 1
        if p.rule in CARRIED:
            carried.append(p)
        if p.rule in FIELD_RULES | REFERENCE_RULES and p.row is not None and p.field is not None:
            cells[p.file].by_field[p.field].setdefault(p.row, []).append(p.rule)
    names = [_out_name(r) for r in results]
    repeated = [n for n, k in Counter(names).items() if k > 1]
    if repeated:
        raise UsageError(
            _("two inputs would both be written as {name}; fix them in separate runs").format(name=repeated[0])
        )
    if CHANGES in names:
        raise UsageError(
            _("an input named {name} would be written over by the change log; rename it").format(name=CHANGES)
        )
    inputs = [Path(r.path) for r in results]
    folder = _out_folder(out, inputs, [CHANGES] if dry_run else [*names, CHANGES], force)
    left: dict[tuple[str, int, str], str] = {}
    fixes = [FileFix(r.path, r.type or "", str(out / n)) for r, n in zip(results, names, strict=True)]
    scratch = Path(tempfile.mkdtemp(prefix="omnimig-fix-"))  # 0700: the change log, a dry run's copies
    changes = ChangeLog(scratch / CHANGES)
    writers: dict[str, Callable[[Path], None]] = {}
    for r, n, f in zip(results, names, fixes, strict=True):
        job = _FileFixer(r, cells[r.path], codes, lists, changes, left, chunk_rows, references(results, r.type))
        job.fast, job.locale, job.file_rules, job.scratch = fast, locale, frozenset(rules_of[r.path]), scratch
        writers[n] = lambda path, job=job, f=f: job.write(path, f)  # type: ignore[misc]
    try:
        if dry_run:
            for n, write in writers.items():
                write(scratch / n)
            placed = {n: scratch / n for n in writers}
            write_bundle(folder, {CHANGES: changes.copy_to})
        else:
            all_writers = {**writers, CHANGES: changes.copy_to}
            placed = write_bundle(folder, all_writers)
        outputs = [placed[n] for n in names]
        if fast and all(f.spliced is not None for f in fixes):
            after = _recheck(fixes, outputs, before, lists, chunk_rows, scratch)
        else:
            after = validate_paths(outputs, type_name, choices, chunk_rows=chunk_rows, examples=0)
        outcome = _compare(fixes, outputs, after, counted, carried, left, changes, out / CHANGES, dry_run)
        outcome.skipped = before.skipped
        return outcome
    finally:
        changes.close()
        shutil.rmtree(scratch, ignore_errors=True)


def bundle_rules() -> frozenset[str]:
    """The rules ``check_bundle`` reports (unique keys, references, each type's consistency checks)."""
    return frozenset({"unique", "foreign-key"}) | {
        str(check["rule"]) for t in migration_types() for check in t.consistency
    }


def _recheck(
    fixes: list[FileFix],
    outputs: list[Path],
    before: Validation,
    lists: dict[str, ChoiceList],
    chunk_rows: int,
    scratch: Path,
) -> Validation:
    """The problems of spliced copies without reading them again: what validating them gives.

    A spliced copy differs from its input only in the rows ``fix.spliced`` holds, and every field
    rule is a check of one row, so the copy's field problems are the input's on the other rows
    plus those of the new rows, checked alone (a small file of the header and those lines, the
    same reader and checks). The bundle rules then run again on the input's key columns with the
    new rows' keys put in: a corrected email that now duplicates another is reported as
    validating the copy would. ``tests/test_fix_recheck.py`` holds this equal to validating the copies.
    """
    bundle = bundle_rules()
    results: list[FileResult] = []
    for f, out, r in zip(fixes, outputs, before.results, strict=True):
        assert f.spliced is not None and r.type is not None
        store = ProblemStore(str(out), r.type)
        store._rank = dict(r.problems._rank)
        changed = set(f.spliced.tolist())
        kept = (e for e in r.problems.entries() if e[2] not in bundle and (e[0] is None or e[0] not in changed))
        keys = r.keys
        fresh: list[tuple[int | None, str | None, str, str, str | None, str]] = []
        if changed:
            assert f.spliced_lines is not None
            checked = validate_file(
                Target(f.spliced_lines, r.type), lists, chunk_rows=chunk_rows, options=r.read_options
            )
            at = np.concatenate([[0, 1], f.spliced])  # the small file's row k is the copy's at[k]
            for e in checked.problems.entries():
                if e[0] is not None and e[0] >= 2 and e[2] not in bundle:
                    fresh.append((int(at[e[0]]), *e[1:]))
            keys = _patched(r.keys, checked.keys, at)
        for e in heapq.merge(kept, fresh, key=store._key):
            store.add(*e)
        store.flush()
        copy = FileResult(str(out), r.type, r.format, r.rows, store, r.columns, keys)
        copy.header_row = r.header_row
        results.append(copy)
    outcome = check_bundle(results)
    return Validation(results, outcome, [], [], results)


def _patched(keys: pd.DataFrame | None, new: pd.DataFrame | None, at: np.ndarray) -> pd.DataFrame | None:
    """The input's key columns with the rows the small file holds replaced by its values."""
    if keys is None or new is None or not len(new):
        return keys
    where = np.searchsorted(keys["row"].to_numpy(), at[new["row"].to_numpy()])
    columns: dict[str, object] = {"row": keys["row"]}
    for name in keys.columns:
        if name == "row":
            continue
        old = pa.chunked_array(keys[name].array._pa_array).combine_chunks()
        put = pa.chunked_array(new[name].array._pa_array).combine_chunks().cast(old.type)
        if _same(old.take(pa.array(where)), put):
            columns[name] = keys[name]  # no fix touched this key column: it is kept as it is
            continue
        index = np.arange(len(old), dtype=np.int64)
        index[where] = len(old) + np.arange(len(put), dtype=np.int64)
        joined = pa.chunked_array([pa.concat_arrays([old, put]).take(pa.array(index))])
        columns[name] = key_column(joined)
    return pd.DataFrame(columns)


def _same(a: pa.Array, b: pa.Array) -> bool:
    """Whether two Arrow string arrays hold the same values, empty (null) cells in the same places."""
    nulls = pc.equal(pc.is_null(a), pc.is_null(b))
    return bool(pc.all(nulls).as_py() is not False and pc.all(pc.equal(a, b).fill_null(True)).as_py() is not False)


def _compare(
    fixes: list[FileFix],
    outputs: list[Path],
    after: Validation,
    counted: Counter[tuple[str, int | None, str | None, str]],
    carried: list[Problem],
    left: dict[tuple[str, int, str], str],
    changes: ChangeLog,
    changes_path: Path,
    dry_run: bool,
) -> FixResult:
    """Match the corrected files' problems to the inputs' and group what is left."""
    assert isinstance(after, Validation)
    by_out = {str(o): f for o, f in zip(outputs, fixes, strict=True)}
    remaining_before = Counter(counted)
    groups: dict[tuple[str, str, str | None], Remaining] = {}
    new = 0
    errors = 0

    def keep(p: Problem, file: str, row: int | None) -> None:
        nonlocal errors
        errors += p.severity == "error"
        group = groups.setdefault((p.severity, p.rule, p.field), Remaining(p.severity, p.rule, p.field))
        group.count += 1
        if len(group.examples) < 5:
            reason = left.get((file, row, p.field or ""), "") if row is not None else ""
            group.examples.append((p, reason or reason_for(p.rule)))

    for p in carried:  # the input's own problem: the copy cannot show it
        remaining_before[_key(p, p.file, p.row)] -= 1
        keep(p, p.file, p.row)
    for p in Report(after).problems():
        if p.severity not in ("error", "warning"):
            continue
        f = by_out.get(p.file)
        file, row = (p.file, p.row) if f is None else (f.path, _input_row(f, p.row))
        key = _key(p, file, row)
        if remaining_before[key] > 0:
            remaining_before[key] -= 1
        else:
            new += 1
        keep(p, file, row)
    fixed = sum(remaining_before.values())
    ordered = sorted(groups.values(), key=lambda g: (g.severity != "error", g.rule, g.field or ""))
    return FixResult(
        files=fixes,
        changes=changes.lines,
        changes_path=changes_path,
        before=sum(counted.values()),
        fixed=fixed,
        new=new,
        remaining=ordered,
        errors_after=errors,
        dry_run=dry_run,
    )


def _input_row(f: FileFix, row: int | None) -> int | None:
    """The input row a row of the corrected file came from (rows are written in input order)."""
    if row is None:
        return None
    if f.out_header_row is not None:
        if row == f.out_header_row:
            return f.header_row
        index = row - f.out_header_row - 1
    else:
        index = row - 1
    if 0 <= index < len(f.row_map):
        return int(f.row_map[index])
    return row
