"""``omnimig transform``: a source's draft → the rules → files on disk → the validator's verdict.

Every stage keeps the accounting: each input row read ends written, merged or rejected, and
the run refuses to report success if the counts do not add up. The output folder is checked
before anything is read (``outdir``: never an input written over, never a stranger's file
replaced or removed) and written atomically. Whatever a hostile input provokes ends as one
``TransformError`` line naming it (``errors``), unless ``OMNIMIG_DEBUG=1``.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from types import ModuleType

from omnimig.exceptions import ReadError, TransformError
from omnimig.i18n import N_, _, count, number
from omnimig.io.lock import folder_lock
from omnimig.io.private import private_dir
from omnimig.io.safe_text import visible
from omnimig.io.write import SUFFIX
from omnimig.transforms import core
from omnimig.transforms.errors import debug_enabled, unexpected
from omnimig.transforms.finish import Finished, Options, finish
from omnimig.transforms.outdir import PARTIAL, OutFolder, prepare, write_bundle
from omnimig.transforms.output import record_writers, write_changes, write_rejects
from omnimig.transforms.records import (
    TARGETS,
    Change,
    ChangeLog,
    Draft,
    Origin,
    Record,
    Reject,
    Tally,
    TypeTally,
    tally,
)
from omnimig.transforms.settings import Settings, SettingsError
from omnimig.transforms.stream import FOLDED, REASON, STREAMED, Stream
from omnimig.validation.run import validate_paths

#: source name -> module; each module has ``TITLE`` and ``read(inputs, settings) -> Draft``.
SOURCES = {
    "omnitron-orders": "omnimig.transforms.omnitron",
    "shopify": "omnimig.transforms.shopify",
    "mapping": "omnimig.transforms.mapping",
}


#: Excel's limit on the characters of one cell; xlsxwriter cuts longer strings without an error.
XLSX_MAX_CELL = 32_767
#: The severity words of the validation lines (the validator's report uses the same ones).
SEVERITY = {"error": N_("error"), "warning": N_("warning")}

__all__ = ["SOURCES", "Result", "TransformError", "source_module", "transform"]


def source_module(name: str) -> ModuleType:
    if name not in SOURCES:
        raise TransformError(
            _("unknown source {name}; sources are {sources}").format(name=repr(name), sources=", ".join(SOURCES))
        )
    return importlib.import_module(SOURCES[name])


@dataclass
class Result:
    source: str
    out: Path
    tallies: list[Tally]
    written: dict[str, int]
    paths: dict[str, Path]
    rejects: list[Reject]
    # Every change listed in changes.csv, in the order logged: a ``ChangeLog`` (Arrow columns, a
    # ``Sequence`` of ``Change``) when made by ``transform``, so a big run does not hold an object each.
    warnings: Sequence[Change]
    cannot_fill: dict[tuple[str, str], str]
    defaulted: dict[tuple[str, str], int]
    notes: list[str]
    # Written records where each cannot-fill field is still empty (after defaults).
    empty: dict[tuple[str, str], int] = field(default_factory=dict)
    validation: Counter[tuple[str, str, str, str]] = field(default_factory=Counter)  # severity, type, field, rule
    validation_examples: dict[tuple[str, str, str, str], str] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)
    types: list[TypeTally] = field(default_factory=list)  # per target type: seen = written + merged + rejected
    mechanical: Counter[str] = field(default_factory=Counter)  # trimmed, unicode-normalised...: counted only

    @property
    def changes(self) -> Sequence[Change]:
        """Every change listed in ``changes.csv`` (``warnings`` is its older name)."""
        return self.warnings

    @property
    def adds_up(self) -> bool:
        """Both accounts hold: every row read has one fate, every record seen has one fate."""
        types_add_up = all(t.adds_up for t in self.types)
        rejected = sum(t.rejected for t in self.types)
        return (
            all(t.adds_up for t in self.tallies) and types_add_up and rejected == sum(1 for r in self.rejects if r.type)
        )

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 1 when a record was rejected (so scripts notice), else 0."""
        return 1 if self.rejects else 0

    @property
    def validation_errors(self) -> int:
        return sum(n for k, n in self.validation.items() if k[0] == "error")

    @property
    def validation_warnings(self) -> int:
        return sum(n for k, n in self.validation.items() if k[0] == "warning")

    def lines(self) -> list[str]:
        """The summary a person reads: accounting first, then what was lost, changed and left empty."""
        out = [*(t.line() for t in self.tallies)]
        out += [t.line() for t in self.types if t.seen]
        wrote = ", ".join(f"{number(n)} {t}" for t, n in self.written.items() if n)
        out.append(
            _("wrote {detail} to {out}").format(detail=wrote, out=self.out)
            if wrote
            else _("wrote nothing to {out}").format(out=self.out)
        )
        if self.rejects:
            kinds = Counter(r.type or _("row") for r in self.rejects)
            detail = ", ".join(f"{number(n)} {t}" for t, n in kinds.items())
            out.append(
                _("rejected {detail}: one line each, with its reason, in {path}").format(
                    detail=detail, path=self.out / "rejects.csv"
                )
            )
        log = self.warnings
        codes = log.codes() if isinstance(log, ChangeLog) else Counter(w.code for w in log)
        listed = Counter({c: n for c, n in codes.items() if c not in self.mechanical})
        if listed:
            detail = ", ".join(f"{number(n)} {c}" for c, n in listed.most_common())
            out.append(
                _("changed on the way: {detail}; before and after in {path}").format(
                    detail=detail, path=self.out / "changes.csv"
                )
            )
        if self.mechanical:
            detail = ", ".join(f"{number(n)} {c}" for c, n in self.mechanical.most_common())
            explained = any(c in self.mechanical for c in codes)
            where = _("listed in changes.csv (--explain)") if explained else _("--explain lists them in changes.csv")
            out.append(
                _("changes made the same way to every record, counted: {detail}; {where}").format(
                    detail=detail, where=where
                )
            )
        for (type_name, name), n in sorted(self.defaulted.items()):
            rows = count("{n} row", "{n} rows", n)
            out.append(_("default used for {field} in {rows}").format(field=f"{type_name}.{name}", rows=rows))
        out += self.notes
        left = [(k, why, self.empty.get(k, 0)) for k, why in self.cannot_fill.items() if self.empty.get(k)]
        if left:
            out.append(
                _("left empty where the export has no value (set with --default TYPE.FIELD=VALUE or [defaults]):")
            )
            empty_in = _("  {field}: {why} (empty in {n} of {total})")
            out += [
                empty_in.format(field=f"{t}.{f}", why=why, n=number(n), total=number(self.written[t]))
                for (t, f), why, n in left
            ]
        if self.validation:
            out.append(
                _("validate on the written files: {errors}, {warnings}").format(
                    errors=count("{n} error", "{n} errors", self.validation_errors),
                    warnings=count("{n} warning", "{n} warnings", self.validation_warnings),
                )
            )
            for key, n in sorted(self.validation.items(), key=lambda kv: (kv[0][0] != "error", -kv[1])):
                severity, type_name, name, rule = key
                word = _(SEVERITY[severity]) if severity in SEVERITY else severity
                out.append(f"  {word} {type_name}.{name} {rule} ×{number(n)}: {self.validation_examples[key]}")
        else:
            out.append(_("validate on the written files: no errors, no warnings"))
        out += [_("could not validate: {file}").format(file=u) for u in self.unreadable]
        return out


def _name_changed_records(draft: Draft) -> None:
    """Give each change the label of the record it changed (``order 100236``), found by type and row.

    Sources log a change where they read the value, often before the record exists; one pass here
    names them all the same way, whichever source logged them.
    """
    name_changes(draft.warnings, draft.records)


def name_changes(
    changes: list[Change], records: Iterable[Record], start: int = 0, types: Collection[str] | None = None
) -> None:
    """Label the changes from ``start`` on (of ``types``, or all) that name no record, from ``records``.

    A streamed run names each batch's changes with that batch's records (``transforms.stream``).
    """
    # Only the (type, row) pairs some change names: a million-row run has far fewer changes than records.
    wanted: set[tuple[str, Origin]] = set()
    for i in range(start, len(changes)):
        change = changes[i]
        if not change.record and (types is None or change.type in types):
            wanted.add((change.type, change.origin))
            wanted.add((change.type, replace(change.origin, part=0)))
    if not wanted:
        return
    owner: dict[tuple[str, Origin], Record] = {}
    # An ``Origin`` hashes in Python; its row (an int) in C: most records are passed over on it alone.
    rows = {origin.row for _type, origin in wanted}
    for record in records:
        origin = record.origin
        if origin.row in rows:
            key = (record.type, origin)
            if key in wanted and key not in owner:
                owner[key] = record
        for origin in record.merged:
            if origin.row not in rows:
                continue
            key = (record.type, origin)
            if key in wanted and key not in owner:
                owner[key] = record
    for i in range(start, len(changes)):
        change = changes[i]
        if change.record or (types is not None and change.type not in types):
            continue
        found = owner.get((change.type, change.origin)) or owner.get((change.type, replace(change.origin, part=0)))
        if found is not None:
            changes[i] = replace(change, record=found.label())


@contextlib.contextmanager
def few_collections() -> Iterator[None]:
    """Collect cyclic garbage rarely while a transform builds its millions of records.

    A transform makes few cycles but very many objects, and every automatic collection of the
    oldest generation walks all of them: at 100,000 orders that was a third of the CPU time.
    Young objects are still collected (cycles from the readers' frames go), just in larger
    batches; the thresholds are put back afterwards, as a library called in a long-lived process must.
    """
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 1_000)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _empty(records: dict[str, list[Record]], fields: dict[tuple[str, str], str]) -> dict[tuple[str, str], int]:
    """Per cannot-fill field, how many written records still have it empty: one pass over each type."""
    empty: dict[tuple[str, str], int] = {}
    for type_name in dict.fromkeys(t for t, _name in fields):
        names = [f for t, f in fields if t == type_name]
        counts = dict.fromkeys(names, 0)
        for record in records.get(type_name, []):
            get = record.values.get
            for name in names:
                if not get(name):
                    counts[name] += 1
        empty.update({(type_name, name): n for name, n in counts.items()})
    return {key: empty[key] for key in fields}


def transform(
    source: str,
    inputs: list[Path],
    out: Path,
    fmt: str,
    settings: Settings,
    options: Options,
    force: bool = False,
) -> Result:
    """Read ``inputs`` as ``source``, apply the rules, write the bundle into ``out``, validate it.

    ``force`` allows a non-empty folder omnimig did not create; it never allows writing over an
    input or a file omnimig did not write. Raises ``TransformError``, ``ReadError`` or
    ``SettingsError`` (one line each) when the run cannot happen.
    """
    module = source_module(source)
    for path in inputs:
        if not path.exists():
            raise TransformError(_("{file}: no such file").format(file=visible(str(path))))
        if not path.is_file():  # a folder, a FIFO (which would block forever), a device
            raise TransformError(
                _("{file}: not a regular file; give the export file itself").format(file=visible(str(path)))
            )
    protected = [*inputs, *([settings.path] if settings.path is not None else [])]
    prepare(out, protected, force=force)  # refuse an unsafe folder before creating anything
    created = not out.exists()
    private_dir(out)

    def busy() -> TransformError:
        return TransformError(
            _(
                "{folder}: another omnimig transform is writing into this folder; wait for it to end "
                "(or stop it), then run again"
            ).format(folder=visible(str(out)))
        )

    try:
        with folder_lock(out, busy):
            folder = prepare(out, protected, force=force)  # again, under the lock: the manifest is settled
            with few_collections():
                return _run(module, source, inputs, folder, fmt, settings, options)
    except (TransformError, ReadError, SettingsError, OSError):
        raise
    except Exception as exc:  # finishing, writing or validating: still one line naming the input
        if debug_enabled():
            raise
        raise unexpected(", ".join(str(p) for p in inputs), exc) from exc
    finally:
        core.forget()  # whichever source ran, and however it ended: no customer data left in a cache
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()  # only when still empty: a run that wrote nothing leaves no folder


def _run(
    module: ModuleType,
    source: str,
    inputs: list[Path],
    folder: OutFolder,
    fmt: str,
    settings: Settings,
    options: Options,
) -> Result:
    out = folder.path
    for (type_name, name), value in settings.defaults.items():
        options.defaults.setdefault((type_name, name), value)
    if fmt == "xlsx":
        options.max_cell = XLSX_MAX_CELL
    if getattr(module, "STREAMS", False):
        stream = Stream(options, out)
        try:
            result = _streamed(module, source, inputs, folder, fmt, settings, options, stream)
        finally:
            stream.close()
        del stream
        _give_back()
        return _validated(result)
    draft = module.read(inputs, settings)
    _password_why(draft, options)
    done = finish(draft, options)
    _name_changed_records(draft)
    position = {str(p): i for i, p in enumerate(inputs)}
    draft.read.sort(key=lambda o: position.get(o.file, len(position)))  # the summary lists inputs as given
    tallies, extra = tally(draft.read, [r for rs in done.records.values() for r in rs], done.rejects)
    rejects = done.rejects + extra
    writers = record_writers(fmt, done.records, done.table)
    written = {t: len(done.records[t]) for t in TARGETS}
    empty = _empty(done.records, draft.cannot_fill)
    return _validated(
        _write(source, inputs, folder, fmt, draft, done, tallies, rejects, writers, written, empty, done.types)
    )


def _give_back() -> None:
    """Return the memory the records held to the system before the validator's Arrow buffers need it.

    The users and the source's key sets are gone by now, but the C allocator keeps freed pages
    unless asked (glibc ``malloc_trim``); without it a million-order run peaked 450 MB higher
    while validating. Elsewhere (no glibc) this does nothing.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _password_why(draft: Draft, options: Options) -> None:
    if options.password_policy == "empty" and ("user", "password") in draft.cannot_fill:
        draft.cannot_fill[("user", "password")] += _(
            "; --password-policy unusable writes a value no login matches, so users set a new password"
        )


def _streamed(
    module: ModuleType,
    source: str,
    inputs: list[Path],
    folder: OutFolder,
    fmt: str,
    settings: Settings,
    options: Options,
    stream: Stream,
) -> Result:
    """A source that hands its orders on in batches: the same result, in bounded memory (``transforms.stream``)."""
    draft = module.read(inputs, settings, stream=stream)
    _password_why(draft, options)
    stream.take(draft)  # whatever the source left
    done = finish(draft, options)  # users and addresses, whose fates the orders' wait for
    _name_changed_records(draft)
    changes = stream.changes(draft)
    draft.warnings = []
    temps: dict[str, Path] = {}
    try:
        for type_name in sorted(STREAMED):
            fd, name = tempfile.mkstemp(dir=folder.path, prefix=PARTIAL, suffix=f"-{type_name}{SUFFIX[fmt]}")
            os.close(fd)
            temps[type_name] = Path(name)
        late = stream.finish(done, fmt, temps, draft.cannot_fill)
        # A whole run rejects by rule type by type, then by reference: the same order here (the
        # summary counts types in the order met, rejects.csv keeps it for lines of one row).
        rank = {t: i for i, t in enumerate(TARGETS)}
        by_type = partial(_rank, rank)
        rejects = done.rejects + sorted(stream.rejects, key=by_type) + sorted(late.rejects, key=by_type)
        fates = stream.fates
        fates.read(draft.read)
        for records in done.records.values():
            for record in records:
                if record.primary:
                    fates.own(record.origin)
                for origin in record.merged:
                    fates.flag(origin, FOLDED)
        for reject in rejects:
            for origin in reject.all_rows():
                fates.flag(origin, REASON)
        tallies, extra = fates.tally()
        rejects += extra
        writers = {}
        held = record_writers(fmt, done.records, done.table)
        for type_name in TARGETS:
            name = f"{type_name}{SUFFIX[fmt]}"
            if name in held:
                writers[name] = held[name]
            elif late.counts.get(type_name):
                writers[name] = partial(_move, temps[type_name])
        written = {t: late.counts.get(t, 0) if t in STREAMED else len(done.records[t]) for t in TARGETS}
        empty = _empty(done.records, draft.cannot_fill)
        empty.update(late.empty)
        defaulted = dict(done.defaulted)
        for key, n in late.defaulted.items():
            defaulted[key] = defaulted.get(key, 0) + n
        done.defaulted = defaulted
        for type_name in STREAMED:  # repeats the source folded (an address on every order) are counted once
            stream.types[type_name].seen += draft.folded[type_name]
            stream.types[type_name].merged += draft.folded[type_name]
        types = [stream.types[t.type] if t.type in STREAMED else t for t in done.types]
        return _write(
            source, inputs, folder, fmt, draft, done, tallies, rejects, writers, written, empty, types, changes
        )
    finally:
        for temp in temps.values():
            temp.unlink(missing_ok=True)


def _rank(rank: dict[str, int], reject: Reject) -> int:
    return rank.get(reject.type, -1)


def _move(temp: Path, path: Path) -> None:
    """The writer of a file a streamed run has already written: moved into the bundle's place."""
    os.replace(temp, path)


def _write(
    source: str,
    inputs: list[Path],
    folder: OutFolder,
    fmt: str,
    draft: Draft,
    done: Finished,
    tallies: list[Tally],
    rejects: list[Reject],
    writers: dict[str, Callable[[Path], None]],
    written: dict[str, int],
    empty: dict[tuple[str, str], int],
    types: list[TypeTally],
    changes: ChangeLog | None = None,
) -> Result:
    """Write the bundle (the record files, ``rejects.csv``, ``changes.csv``) and say what happened.

    ``changes`` is the run's change log when it is not ``draft.warnings`` (a streamed run's, kept compact).
    """
    log = changes if changes is not None else ChangeLog(draft.warnings)
    out = folder.path
    position = {str(p): i for i, p in enumerate(inputs)}
    counted = {t.file for t in tallies}
    tallies += [Tally(str(p), "row") for p in inputs if str(p) not in counted]  # an input with no rows says so
    tallies.sort(key=lambda t: position.get(t.file, len(position)))
    order = {str(p): i for i, p in enumerate(inputs)}
    writers["rejects.csv"] = partial(write_rejects, rejects=rejects, order=order)
    writers["changes.csv"] = partial(write_changes, changes=log, order=order)
    placed = write_bundle(folder, writers)
    paths = {t: placed[f"{t}{SUFFIX[fmt]}"] for t in TARGETS if f"{t}{SUFFIX[fmt]}" in placed}
    return Result(
        source=source,
        out=out,
        tallies=tallies,
        written=written,
        paths=paths,
        rejects=rejects,
        warnings=log,
        cannot_fill=draft.cannot_fill,
        defaulted=done.defaulted,
        notes=draft.notes,
        empty=empty,
        types=types,
        mechanical=draft.mechanical,
    )


def _validated(result: Result) -> Result:
    """Validate the written files with the validator's rules: the summary's last word."""
    paths = result.paths
    if paths:
        validation = validate_paths(list(paths.values()))
        for p in (p for r in validation.results for p in r.problems):
            key = (p.severity, p.type or "", p.field or "", p.rule)
            result.validation[key] += 1
            result.validation_examples.setdefault(key, p.message)
        result.unreadable = validation.unreadable
    return result
