"""An upload run: validate, plan, then send each file in dependency order and watch it finish.

``plan_upload`` validates the bundle and says what would be sent (``--dry-run`` stops there).
``run_upload`` sends it: one migration per file (or per chunk with ``chunk_rows``), in the
order ``datapackage.json`` lists the types, polling each until Omnitron has counted every row,
and stopping the run as soon as a migration reports errors, because every later type refers
to the rows of the earlier ones.
"""

from __future__ import annotations

import codecs
import math
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from itertools import groupby, takewhile
from pathlib import Path
from typing import Any, Literal

import httpx
import numpy as np
import pandas as pd
from rich.markup import escape

from omnimig.exceptions import SchemaError, UsageError, WriteError
from omnimig.i18n import N_, _, ngettext, number
from omnimig.io import open_source
from omnimig.io.private import DIR_MODE, make_private, private_dir
from omnimig.io.safe_text import visible
from omnimig.io.sniff import HEAD, WHAT, content_format
from omnimig.io.table import Chunk
from omnimig.io.write import SUFFIX, WRITE_FORMAT, TableWriter, column_keys
from omnimig.sampling.testset import SHOP_CHECKS
from omnimig.schemas.rules import load_choices, type_names
from omnimig.uploader.audit import AuditLog
from omnimig.uploader.client import (
    DEFAULT_TIMEOUT,
    HttpError,
    OmnitronClient,
    Progress,
    RetryPolicy,
    UncertainStart,
    Unreachable,
    UploadError,
    UploadRefused,
    check_url,
    progress_url,
    sha256_hex,
    start_url,
)
from omnimig.uploader.credentials import Token
from omnimig.uploader.defaults import DEFAULT_BUDGET, MIGRATION_TIMEOUT, POLL_INTERVAL
from omnimig.uploader.journal import FileKey, Journal
from omnimig.uploader.lock import StateLock
from omnimig.validation.bundle import BundleOutcome
from omnimig.validation.problem import FileResult, Problem
from omnimig.validation.run import Target, validate_file, validate_paths

#: What writing a part can raise for a value its format cannot hold (the writers' ``WriteError``
#: family, e.g. an XLSX cell over 32,767 characters), besides plain OS errors.
WRITE_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, WriteError)

#: What Akinon's getting-started checklist asks a person to check after a test migration (spec section 9),
#: without reading the data. ``TestSet.checks()`` (``UploadResult.checks``) says how to log in from
#: what the test user's password cell holds; prefer it.
#: The texts are message ids (English): ``_()`` gives them in the language of the run.
TEST_SET_CHECKS = (
    N_(
        'log in to the shop as the migrated test user (with its old-shop password if you know it, else after "Forgot '
        'password" or a password set on the user in Omnitron)'
    ),
    *SHOP_CHECKS,
)


#: File-level notices of a file that Akinon's importer would read differently from omnimig (or
#: not at all), with why, in the words ``--dry-run`` prints. Such a file is never sent as it is:
#: a copy in the format Akinon expects is written and validated like ``--chunk-rows`` parts
#: (issue 12: what is sent is what was validated). ``json-lines`` is no reader notice: the JSON
#: reader reads JSON Lines silently, so ``_conversion`` asks it whether a file is JSON Lines.
#: The texts are message ids, translated when a plan is made.
NOT_PLAIN = {
    "file-format": N_("it is named {suffix} but is really {content}, and Akinon goes by the extension"),
    "encoding": N_("its text is {encoding}, not UTF-8"),
    "sep-line": N_('its first line is Excel\'s "sep=" line, which Akinon would read as the header'),
    "json-wrapper": N_("its records are an array inside a wrapper object; Akinon expects the array itself"),
    "json-lines": N_("it is JSON Lines (one object a line); Akinon expects one JSON array"),
    "header-row": N_("its header is not row 1 of the sheet, and Akinon reads row 1 as the header"),
    "sheet": N_("the records were read from one of several sheets (or tables); the copy holds only that one"),
    "hidden-sheets": N_("it has hidden sheets, which Akinon may read; the copy holds only the sheet that was read"),
}
#: How a converted copy is written, per output format, for ``--dry-run`` (message ids).
SENT_AS = {"csv": N_('CSV UTF-8, ","-separated'), "xlsx": N_("XLSX"), "json": N_("a JSON array")}
#: How each migration of a run went, as the summary line says it (message ids).
HOW = {"uploaded": N_("uploaded"), "resumed": N_("resumed"), "skipped": N_("skipped")}


def _rows(n: int) -> str:
    return ngettext("{n} row", "{n} rows", n).format(n=number(n))


def _errors(n: int) -> str:
    return ngettext("{n} error", "{n} errors", n).format(n=number(n))


class PlanError(UploadRefused):
    """The run cannot be planned as asked (bad option, unreadable file, nothing to send). Exit code 2."""


class ParameterError(PlanError):
    """One parameter's value is refused; the line names the parameter as its caller spelled it.

    ``str()`` is for a Python caller: ``only=: unknown type 'orderz'; use one of: ...``.
    ``naming("--only")`` is the same line for another spelling: ``omnimig upload`` prints its
    option there, since the person typed ``--only``, not ``only=``. ``parameter`` is the keyword of
    ``upload_bundle`` (and ``omnimig.upload``), ``reason`` the line after the name.
    """

    def __init__(self, parameter: str, reason: str) -> None:
        self.parameter = parameter
        self.reason = reason
        super().__init__(self.naming(f"{parameter}="))

    def naming(self, name: str) -> str:
        """The line with the parameter called ``name`` (``--only`` on the command line)."""
        # i18n: {name} is the setting as the caller wrote it: --only (command line) or only= (Python)
        return _("{name}: {reason}").format(name=name, reason=self.reason)

    def __reduce__(self) -> tuple[type[ParameterError], tuple[str, str]]:
        return type(self), (self.parameter, self.reason)  # pickled as built, not from its message


class ValidationRefused(UploadError):
    """The bundle has errors and ``force`` was not given."""


class PollTimeout(UploadError):
    """A migration did not finish within the overall timeout; a re-run resumes polling it."""


@dataclass(frozen=True)
class PlanStep:
    """One file to upload: one migration, or ``parts`` migrations when it is chunked."""

    type: str
    path: Path
    format: str
    rows: int
    sha256: str
    parts: int
    chunk_rows: int | None
    endpoint: str
    #: Why the file is not sent byte for byte (``NOT_PLAIN``): empty for a plain file.
    convert: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.type}/{self.path.name}"

    def file_key(self) -> FileKey:
        return FileKey(self.key, self.type, self.path.name, self.sha256, self.rows, self.chunk_rows, self.parts)

    def part_rows(self, part: int) -> int:
        if self.chunk_rows is None or self.parts == 1:
            return self.rows
        return min(self.chunk_rows, self.rows - (part - 1) * self.chunk_rows)

    @property
    def sent_format(self) -> str:
        """The format the file goes out in when it is rewritten (converted or chunked)."""
        return WRITE_FORMAT.get(self.format, "csv")

    @property
    def sent_name(self) -> str:
        """The name a converted, unchunked copy is sent under: the file's stem, the format's suffix."""
        return f"{self.path.stem}{SUFFIX[self.sent_format]}"


@dataclass
class UploadPlan:
    """What a run would send, and what validation found on the way."""

    directory: Path
    url: str
    channel: str
    state_dir: Path
    insecure: bool
    chunk_rows: int | None
    steps: list[PlanStep]
    results: list[FileResult]
    outcome: BundleOutcome
    skipped: list[str] = field(default_factory=list)
    #: The value lists validation used, so each written part is checked with the same ones.
    choices: Path | None = None

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.results) + len(self.outcome.errors)

    @property
    def warnings(self) -> int:
        return sum(r.warnings for r in self.results)

    @property
    def progress_endpoint(self) -> str:
        return progress_url(self.url, self.channel, "{migration_id}")

    def describe(self) -> list[str]:
        """The plan as lines of text: what ``--dry-run`` prints."""
        head = _("Upload plan: {url} channel {channel} (journal and audit log in {state_dir})")
        lines = [head.format(url=self.url, channel=self.channel, state_dir=self.state_dir)]
        width = max((len(s.type) for s in self.steps), default=4)
        for i, s in enumerate(self.steps, 1):
            rows = _rows(s.rows)
            if s.parts > 1:
                assert s.chunk_rows is not None
                rows = _("{rows} in {parts} parts of at most {size}").format(
                    rows=rows, parts=s.parts, size=number(s.chunk_rows)
                )
            lines.append(f"  {i}. {s.type:<{width}}  {s.path.name}  {rows}  POST {s.endpoint}")
            if s.convert:
                shape = _(SENT_AS[s.sent_format])
                copy = (
                    _("parts in {shape}").format(shape=shape)
                    if s.parts > 1
                    else _("{name} ({shape})").format(name=s.sent_name, shape=shape)
                )
                lines.append(
                    "     " + _("converted, sent as {copy}: {why}").format(copy=copy, why="; ".join(s.convert))
                )
        lines.append("  " + _("then each migration: GET {endpoint}").format(endpoint=self.progress_endpoint))
        migrations = sum(s.parts for s in self.steps)
        files = ngettext("{n} file", "{n} files", len(self.steps)).format(n=number(len(self.steps)))
        sent = ngettext("{n} migration", "{n} migrations", migrations).format(n=number(migrations))
        warnings = ngettext("{n} warning", "{n} warnings", self.warnings).format(n=number(self.warnings))
        total = _("{files}, {rows}, {migrations}; validation: {errors}, {warnings}")
        lines.append(
            total.format(
                files=files,
                rows=_rows(sum(s.rows for s in self.steps)),
                migrations=sent,
                errors=_errors(self.errors),
                warnings=warnings,
            )
        )
        return lines


def check_options(
    url: str,
    channel: str | int,
    *,
    only: Collection[str] | None = None,
    chunk_rows: int | None = None,
    insecure: bool = False,
    restart: Collection[str] = (),
    http_timeout: float = DEFAULT_BUDGET,
) -> tuple[str, str]:
    """The base URL and channel id, once every option that needs no file is known to be usable.

    Cheap and sends nothing: a run checks these before it validates a bundle that may take
    minutes to read. Raises ``PlanError`` or ``InsecureUrl`` (both ``UploadRefused``).
    """
    base = check_url(url, insecure)
    channel = str(channel).strip()
    if not channel or not channel.replace("-", "").replace("_", "").isalnum():
        raise PlanError(_("channel {channel} is not a channel id such as 5").format(channel=repr(channel)))
    if chunk_rows is not None and chunk_rows < 1:
        raise ParameterError("chunk_rows", _("must be at least 1"))
    names = ", ".join(type_names())
    for parameter, given in (("only", only or ()), ("restart", restart)):
        unknown = sorted(set(given) - set(type_names()))
        if unknown:
            line = _("unknown type {types}; use one of: {names}").format(types=", ".join(unknown), names=names)
            raise ParameterError(parameter, line)
    if not http_timeout > 0:
        raise ParameterError("http_timeout", _("must be more than 0 seconds"))
    return base, channel


def plan_upload(
    directory: Path,
    url: str,
    channel: str | int,
    *,
    only: Collection[str] | None = None,
    chunk_rows: int | None = None,
    state_dir: Path | None = None,
    choices: Path | None = None,
    strict: bool = False,
    insecure: bool = False,
) -> UploadPlan:
    """Validate the bundle in ``directory`` and plan its upload; sends nothing, writes nothing.

    Every file is validated (cross-file rules need all of them) even when ``only`` limits what
    is uploaded. Raises ``PlanError`` or ``InsecureUrl``.
    """
    base, channel = check_options(url, channel, only=only, chunk_rows=chunk_rows, insecure=insecure)
    try:
        run = validate_paths([directory], choices=choices, strict=strict)
    except (UsageError, SchemaError) as exc:
        raise PlanError(str(exc)) from None
    if run.unreadable:
        raise PlanError(run.unreadable[0])
    results, outcome, skipped = run.results, run.outcome, run.skipped
    order = {name: i for i, name in enumerate(type_names())}
    steps = []
    for r in sorted(results, key=lambda r: (order[r.type or ""], Path(r.path).name)):
        if r.type is None or (only and r.type not in only):
            continue
        path = Path(r.path)
        parts = max(1, math.ceil(r.rows / chunk_rows)) if chunk_rows else 1
        steps.append(
            PlanStep(
                type=r.type,
                path=path,
                format=r.format or "",
                rows=r.rows,
                sha256=_file_sha256(path),
                parts=parts,
                chunk_rows=chunk_rows if parts > 1 else None,
                endpoint=start_url(base, channel, r.type),
                convert=_conversion(path, r),
            )
        )
    if not steps:
        wanted = ", ".join(only) if only else _("any type")
        raise PlanError(_("{directory}: no file of {wanted} to upload").format(directory=directory, wanted=wanted))
    default_state = directory if directory.is_dir() else directory.parent
    return UploadPlan(
        directory=directory,
        url=base,
        channel=channel,
        state_dir=state_dir or default_state / ".omnimig",
        insecure=insecure,
        chunk_rows=chunk_rows,
        steps=steps,
        results=results,
        outcome=outcome,
        skipped=skipped,
        choices=choices,
    )


def _conversion(path: Path, result: FileResult) -> tuple[str, ...]:
    """Why Akinon would read ``path`` differently from how it was validated (``NOT_PLAIN``); empty when it would not.

    Read from the file-level problems validation already found (they come first in a file's
    problems), plus a look at the file's first bytes where the reason needs a detail.
    """
    rules: list[str] = []
    for p in takewhile(lambda p: p.row is None, result.problems):
        if p.rule in NOT_PLAIN and p.rule not in rules:
            rules.append(p.rule)
    if result.format == "json" and _is_json_lines(path):
        rules.append("json-lines")
    if not rules:
        return ()
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD)
    except OSError:
        head = b""
    content = WHAT.get(content_format(head) or "", _("another kind of file"))
    utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    encoding = "UTF-16" if utf16 else "Windows-1254"
    return tuple(_(NOT_PLAIN[r]).format(suffix=path.suffix, content=content, encoding=encoding) for r in rules)


def _is_json_lines(path: Path) -> bool:
    """Whether the JSON reader reads ``path`` as JSON Lines, asked the way ``read_json`` asks it."""
    from omnimig.io import read_json

    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            if head.lstrip(read_json._BOM + read_json._WS)[:1] == b"{":
                head += handle.read(max(read_json.WINDOW_BYTES - len(head), 0))
    except OSError:
        return False
    return read_json._is_lines(path, head)


def _file_sha256(path: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


EventKind = Literal["skip", "starting", "started", "resume", "progress", "finished"]


@dataclass(frozen=True)
class UploadEvent:
    """Something a progress display shows. Raising from the callback interrupts the run cleanly."""

    kind: EventKind
    step: PlanStep
    part: int
    rows: int
    name: str
    migration_id: str | None = None
    progress: Progress | None = None


@dataclass(frozen=True)
class PartOutcome:
    """One migration of the run: sent now, resumed, or skipped as already finished."""

    type: str
    file: str
    name: str
    part: int
    parts: int
    rows: int
    migration_id: str
    progress: Progress
    how: Literal["uploaded", "resumed", "skipped"]


@dataclass
class UploadSummary:
    """What ``run_upload`` did; ``stopped`` explains why it ended early (a migration reported errors)."""

    parts: list[PartOutcome]
    stopped: str | None
    audit_path: Path
    journal_path: Path
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stopped is None

    def lines(self) -> list[str]:
        out = []
        for p in self.parts:
            if p.parts > 1:
                label = visible(_("{file} part {part}/{parts}").format(file=p.file, part=p.part, parts=p.parts))
            else:  # a converted copy may go out under another name: both are shown
                label = visible(p.name if p.name == p.file else _("{file} as {name}").format(file=p.file, name=p.name))
            c = p.progress
            counts = _("migration {id}: {processed} processed, {errors} of {total}").format(
                id=visible(str(p.migration_id)), processed=number(c.processed), errors=_errors(c.errors),
                total=number(c.total),
            )  # fmt: skip
            out.append(f"{p.type:<10}  {label}  {counts}  ({_(HOW[p.how])})")
        out.extend(self.notes)
        out.append(_("audit log: {audit}; journal: {journal}").format(audit=self.audit_path, journal=self.journal_path))
        if self.stopped:
            out.append(self.stopped)
        return out


def run_upload(
    plan: UploadPlan,
    token: Token | str,
    *,
    force: bool = False,
    restart: Collection[str] = (),
    timeout: float = MIGRATION_TIMEOUT,
    poll_interval: float = POLL_INTERVAL,
    on_event: Callable[[UploadEvent], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    retry: RetryPolicy | None = None,
    http_timeout: float = DEFAULT_BUDGET,
    transport: httpx.BaseTransport | None = None,
) -> UploadSummary:
    """Send ``plan`` and watch each migration finish; resumable through the journal.

    ``timeout`` bounds the wait for one migration to finish (seconds); ``http_timeout`` bounds
    one request, all its retries included. ``restart`` names types whose journal entries are
    dropped so their files are sent again. The whole run holds the state folder's lock, so a
    second run on the same bundle refuses (``RunLocked``) instead of importing it twice. Raises
    ``BadToken``, ``ValidationRefused``, ``PlanError``, ``RunLocked``, ``JournalError``,
    ``HttpError``, ``UncertainStart``, ``Unreachable``, ``BadAnswer`` or ``PollTimeout`` (all
    ``UploadError``, their messages redacted); the journal is saved before any raise.
    """
    # The token is checked first: a token no header can carry must not leave a "starting" record.
    secret = token if isinstance(token, Token) else Token(token)
    if plan.errors and not force:
        line = _(
            "validation found {errors}; nothing was sent. "
            "See them with `omnimig validate {directory}`, fix them, or pass --force to upload anyway"
        )
        raise ValidationRefused(line.format(errors=_errors(plan.errors), directory=plan.directory))
    check_options(plan.url, plan.channel, insecure=plan.insecure, restart=restart, http_timeout=http_timeout)
    try:
        _private_state(plan.state_dir)
        lock = StateLock(plan.state_dir).acquire()
    except OSError as exc:  # nothing was sent: the run is refused
        line = _("{state_dir}: cannot write the upload state ({reason})")
        raise PlanError(line.format(state_dir=plan.state_dir, reason=visible(str(exc)))) from None
    try:
        return _run_locked(
            plan, secret, force, restart, timeout, poll_interval, on_event, sleep, clock, retry,
            http_timeout, transport,
        )  # fmt: skip
    except UploadError as exc:
        _redact_error(exc, secret)
        raise
    except OSError as exc:  # mid-run (a full disk): the journal holds what was sent so far
        line = _(
            "{state_dir}: the upload stopped because a file could not be read or written "
            "({reason}); the journal and audit log say what was sent. Run again to resume"
        )
        raise UploadError(line.format(state_dir=plan.state_dir, reason=secret.redact(visible(str(exc))))) from None
    finally:
        lock.release()


def _redact_error(exc: UploadError, secret: Token) -> None:
    """Make sure an error leaving the run holds no credential, whatever a server echoed into it."""
    exc.args = tuple(secret.redact(a) if isinstance(a, str) else a for a in exc.args)
    if isinstance(exc, HttpError):
        exc.body = secret.redact(exc.body)


def _private_state(state_dir: Path) -> None:
    """Create the state folder 0700 and tighten what an older run left there to 0700/0600.

    Only omnimig's own entries are touched (a --state-dir may be a folder that holds other things).
    """
    private_dir(state_dir)
    for entry in state_dir.iterdir():
        if entry.is_symlink():
            continue
        temporary = entry.name.startswith(".journal.json.") or entry.name.endswith(".tmp")  # a crashed write's
        if entry.is_file() and (entry.name in ("journal.json", "audit.jsonl", "lock") or temporary):
            make_private(entry)
        elif entry.is_dir() and entry.name in ("sent", "parts", "test-set"):
            os.chmod(entry, DIR_MODE)
            for inner in entry.rglob("*"):
                if inner.is_symlink():
                    continue
                if inner.is_dir():
                    os.chmod(inner, DIR_MODE)
                elif inner.is_file():
                    make_private(inner)


def _run_locked(
    plan: UploadPlan,
    secret: Token,
    force: bool,
    restart: Collection[str],
    timeout: float,
    poll_interval: float,
    on_event: Callable[[UploadEvent], None] | None,
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    retry: RetryPolicy | None,
    http_timeout: float,
    transport: httpx.BaseTransport | None,
) -> UploadSummary:
    """``run_upload`` once the lock is held: the journal is only read (and trusted) under it."""
    notify = on_event or (lambda event: None)
    audit = AuditLog(plan.state_dir, secret)
    journal = Journal(plan.state_dir / "journal.json", plan.url, plan.channel, redact=secret.redact)
    for type_name in restart:
        dropped = journal.restart(type_name)
        audit.note({"event": "restart", "type": type_name, "dropped": dropped})
    # Every conflict is found before the first byte is sent, not halfway through the run.
    for step in plan.steps:
        journal.prepare(step.file_key())
        for part in range(1, step.parts + 1):
            journal.action(step.key, part, step.type)
    journal.save()
    # Chunked and converted files are written and validated now, so a part that does not validate
    # like its rows refuses the run before anything is sent, not after the earlier types were imported.
    prepared = {
        step.key: _part_files(step, plan)
        for step in plan.steps
        if (step.parts > 1 or step.convert)
        and any(journal.action(step.key, n, step.type) == "upload" for n in range(1, step.parts + 1))
    }
    audit.note(
        {
            "event": "run",
            "url": plan.url,
            "channel": plan.channel,
            "files": [s.key for s in plan.steps],
            "validation_errors": plan.errors,
            "forced": bool(force and plan.errors),
        }
    )
    summary = UploadSummary([], None, audit.path, journal.path)
    client = OmnitronClient(
        plan.url,
        plan.channel,
        secret,
        audit=audit,
        insecure=plan.insecure,
        timeout=DEFAULT_TIMEOUT,
        budget=http_timeout,
        retry=retry,
        sleep=sleep,
        transport=transport,
    )
    with client:
        for index, step in enumerate(plan.steps):
            later = [s.path.name for s in plan.steps[index + 1 :]]
            parts = prepared.get(step.key)
            stopped = _upload_step(
                step, plan, journal, client, summary, notify, sleep, clock, timeout, poll_interval, parts
            )
            if stopped is not None:
                summary.stopped = _stop_message(stopped, step, plan, later)
                audit.note({"event": "stop", "file": step.key, "migration_id": stopped.migration_id})
                break
    audit.note({"event": "end", "stopped": summary.stopped is not None})
    summary.notes = [secret.redact(n) for n in summary.notes]
    return summary


def _upload_step(
    step: PlanStep,
    plan: UploadPlan,
    journal: Journal,
    client: OmnitronClient,
    summary: UploadSummary,
    notify: Callable[[UploadEvent], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    timeout: float,
    poll_interval: float,
    files: list[tuple[Path, int]] | None = None,
) -> PartOutcome | None:
    """Every part of one file (``files``: its parts, when already written); returns the part that reported errors."""
    for part in range(1, step.parts + 1):
        action = journal.action(step.key, part, step.type)
        record = journal.part(step.key, part)
        if action == "skip":
            assert record is not None
            progress = Progress(*(record["counts"][k] for k in ("total_count", "processed_count", "error_count")))
            outcome = PartOutcome(
                step.type, step.path.name, record["name"], part, step.parts, record["rows"],
                record["migration_id"], progress, "skipped",
            )  # fmt: skip
            notify(UploadEvent("skip", step, part, record["rows"], record["name"], record["migration_id"], progress))
        else:
            if action == "upload":
                if files is None:
                    files = _part_files(step, plan)
                path, rows = files[part - 1]
                migration_id = _start(step, part, path, rows, journal, client, notify)
                how: Literal["uploaded", "resumed"] = "uploaded"
            else:
                assert record is not None
                path, rows, migration_id, how = Path(record["name"]), record["rows"], record["migration_id"], "resumed"
                notify(UploadEvent("resume", step, part, rows, path.name, migration_id))
            progress = _poll(step, part, path.name, rows, migration_id, client, notify, sleep, clock, timeout,
                             poll_interval)  # fmt: skip
            journal.mark(step.key, part, state="finished", counts=progress.as_dict())
            outcome = PartOutcome(step.type, step.path.name, path.name, part, step.parts, rows, migration_id,
                                  progress, how)  # fmt: skip
            notify(UploadEvent("finished", step, part, rows, path.name, migration_id, progress))
            if progress.total != rows:
                note = _("note: {name} sent {rows}, but migration {id} counted {total}")
                summary.notes.append(
                    note.format(name=path.name, rows=_rows(rows), id=migration_id, total=number(progress.total))
                )
        summary.parts.append(outcome)
        if outcome.progress.errors:
            return outcome
    return None


def _start(
    step: PlanStep,
    part: int,
    path: Path,
    rows: int,
    journal: Journal,
    client: OmnitronClient,
    notify: Callable[[UploadEvent], None],
) -> str:
    """POST one part, journaling ``starting`` before and ``started`` (with the id) after."""
    data = path.read_bytes()
    journal.mark(
        step.key, part, name=path.name, rows=rows, sha256=sha256_hex(data), state="starting", migration_id=None,
        note=None,
    )  # fmt: skip
    notify(UploadEvent("starting", step, part, rows, path.name))
    try:
        migration_id = client.start(step.type, path.name, data, rows)
    except Unreachable as exc:
        journal.mark(step.key, part, state="failed", note=str(exc))
        raise
    except HttpError as exc:
        if 400 <= exc.status < 500:  # refused: nothing was imported
            journal.mark(step.key, part, state="failed", note=str(exc))
            raise
        journal.mark(step.key, part, note=str(exc))
        line = _(
            "{error}. A server error on start may still have queued the migration: check the {type} "
            "migrations in Omnitron before re-running (then --restart {type} if it did not arrive)"
        )
        raise UncertainStart(line.format(error=exc, type=step.type)) from None
    except UncertainStart as exc:
        journal.mark(step.key, part, note=str(exc))
        line = _(
            "{error}. Check the {type} migrations in Omnitron before re-running; "
            "if it did not arrive, re-run with --restart {type}"
        )
        raise UncertainStart(line.format(error=exc, type=step.type)) from None
    journal.mark(step.key, part, state="started", migration_id=migration_id)
    notify(UploadEvent("started", step, part, rows, path.name, migration_id))
    return migration_id


def _poll(
    step: PlanStep,
    part: int,
    name: str,
    rows: int,
    migration_id: str,
    client: OmnitronClient,
    notify: Callable[[UploadEvent], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
    timeout: float,
    poll_interval: float,
) -> Progress:
    deadline = clock() + timeout
    while True:
        progress = client.progress(migration_id)
        notify(UploadEvent("progress", step, part, rows, name, migration_id, progress))
        if progress.done(rows):
            return progress
        if clock() >= deadline:
            line = _(
                "migration {id} ({name}) is still running after {timeout} s: "
                "{processed} processed, {errors} of {total}. "
                "Re-run the same command to keep watching it; it will not be sent again"
            )
            raise PollTimeout(
                line.format(
                    id=migration_id,
                    name=name,
                    timeout=f"{timeout:g}",
                    processed=number(progress.processed),
                    errors=_errors(progress.errors),
                    total=number(progress.total),
                )
            )
        sleep(poll_interval)


def _stop_message(failed: PartOutcome, step: PlanStep, plan: UploadPlan, later: list[str]) -> str:
    c = failed.progress
    rest = _("; not sent: {files}").format(files=", ".join(later)) if later else ""
    line = _(
        "stopped: {type} file {name} (migration {id}) reported {errors} of {total} rows{rest}. "
        "Akinon does not say which rows failed; the exact request and bytes sent are in {audit} and {sent}. "
        "Check the file with `omnimig validate {path}`, fix it, then re-run with --restart {type}"
    )
    return line.format(
        type=failed.type, name=failed.name, id=failed.migration_id, errors=_errors(c.errors), total=number(c.total),
        rest=rest, audit=plan.state_dir / "audit.jsonl", sent=plan.state_dir / "sent", path=step.path,
    )  # fmt: skip


def _part_files(step: PlanStep, plan: UploadPlan) -> list[tuple[Path, int]]:
    """The files to send for ``step``: the original file, or copies written under ``state_dir/parts``.

    A plain, unchunked file is sent byte for byte. A chunked one is written in parts; one Akinon
    would read differently (``step.convert``) is written whole, as ``step.sent_name``, in the
    format Akinon expects. Copies are written 0600 in a 0700 folder and validated like the input
    before anything is sent: what is sent must be what was validated, so a copy that does not give
    the same problems (a value its format could not hold, a writer that changed a cell) refuses
    the run.
    """
    chunked = step.parts > 1 and step.chunk_rows is not None
    if not chunked and not step.convert:
        return [(step.path, step.rows)]
    out_dir = private_dir(plan.state_dir / "parts" / f"{step.type}-{step.sha256[:12]}")
    try:
        parts = _split(step.path, step.chunk_rows if chunked else None, out_dir)
    except WRITE_ERRORS as exc:
        reason = visible(str(exc))
        if chunked:
            assert step.chunk_rows is not None
            line = _("{path}: cannot write it in parts of {size} rows: {reason}")
        else:
            line = _("{path}: cannot write it as {name} for Akinon: {reason}")
        size = number(step.chunk_rows or 0)
        raise PlanError(line.format(path=step.path, size=size, name=step.sent_name, reason=reason)) from None
    for part in parts:
        make_private(part.path)
    _check_parts(step, parts, plan)
    return [(part.path, part.rows) for part in parts]


@dataclass(frozen=True)
class _Part:
    path: Path
    rows: int
    #: The input's row number of each of the part's rows, in order.
    source_rows: np.ndarray


def _split(path: Path, chunk_rows: int | None, out_dir: Path) -> list[_Part]:
    source = open_source(path, chunk_rows or 200_000)
    fmt = WRITE_FORMAT[source.format]
    whole = chunk_rows is None
    limit = chunk_rows or _WHOLE
    parts: list[_Part] = []
    writer: TableWriter | None = None
    rows: list[np.ndarray] = []

    def finish(w: TableWriter) -> None:
        w.close()
        parts.append(_Part(w.path, w.rows, np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)))
        rows.clear()

    try:
        for chunk in source.chunks:
            start, n = 0, len(chunk.data)
            while start < n:
                if writer is None or writer.rows >= limit:
                    if writer is not None:
                        finish(writer)
                    writer = TableWriter(out_dir / _part_name(path, fmt, whole, len(parts) + 1), fmt,
                                         list(chunk.data.columns))  # fmt: skip
                end = min(n, start + limit - writer.rows)
                piece = _slice(chunk, start, end)
                writer.write(piece, pd.Series(True, index=piece.data.index))
                rows.append(piece.rows.to_numpy())
                start = end
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    if writer is not None:
        if writer.rows:
            finish(writer)
        else:
            writer.close()
    if not parts:  # a file with a header and no rows is still sent, as a header
        finish(TableWriter(out_dir / _part_name(path, fmt, whole, 1), fmt, column_keys(source)))
    return parts


#: The row limit of a whole copy: more rows than any file holds, so it is never cut into parts.
_WHOLE = 1 << 62


def _part_name(path: Path, fmt: str, whole: bool, number: int) -> str:
    return f"{path.stem}{SUFFIX[fmt]}" if whole else f"{path.stem}.part{number:03d}{SUFFIX[fmt]}"


def _check_parts(step: PlanStep, parts: list[_Part], plan: UploadPlan) -> None:
    """Validate every part and refuse unless, together, they give exactly the input's field problems.

    The input is validated again by the same function (``validate_file``, field rules only), so
    both sides are judged alike: the plan's result also holds the bundle rules (unique keys,
    references, which need every file and were already checked on the input) and, under
    ``strict``, escalated severities, so it cannot stand in for this side. Row problems are
    compared at the input's row (a part's row is mapped back through the rows it was written
    from); header and file problems must be the same in every part, except the notices that made
    the file be rewritten (``NOT_PLAIN``: a ``sep=`` line, a fallback encoding, a wrapper object,
    ...), which the plain copy no longer has.

    Both sides arrive in row order (parts hold ascending slices of the input), so they are
    compared one row at a time: memory holds one row's problems, not every problem of a file
    that ``force`` sends with millions of errors.
    """
    lists = load_choices(plan.choices)

    def validated(path: Path, what: str) -> FileResult:
        try:
            return validate_file(Target(path, step.type), lists)
        except Exception as exc:  # any failure to read a file back refuses the run
            line = _("{name}: {what} cannot be read back ({reason})")
            raise PlanError(line.format(name=path.name, what=what, reason=visible(str(exc)))) from None

    source = validated(step.path, _("the file"))
    want_file = Counter(
        _problem_key(p)
        for p in source.problems
        if _is_file_level(p, source.format) and p.rule != "no-rows" and not (p.row is None and p.rule in NOT_PLAIN)
    )
    want = ((p.row, _problem_key(p)) for p in source.problems if not _is_file_level(p, source.format))

    def got() -> Iterator[tuple[int | None, tuple[str | None, str, str]]]:
        for part in parts:
            result = validated(part.path, _("the part written from {name}").format(name=step.path.name))
            problems = result.problems
            got_file = Counter(
                _problem_key(p) for p in problems if _is_file_level(p, result.format) and p.rule != "no-rows"
            )
            if got_file != want_file:
                diff = (got_file - want_file) or (want_file - got_file)
                raise PlanError(_part_mismatch(step, part.path, None, next(iter(diff))))
            first = 1 if result.format == "json" else 2
            for p in problems:
                if _is_file_level(p, result.format):
                    continue
                assert p.row is not None
                index = p.row - first
                row = int(part.source_rows[index]) if 0 <= index < len(part.source_rows) else None
                yield row, _problem_key(p)

    mismatch = _first_difference(want, got())
    if mismatch is not None:
        row, problem = mismatch
        where = next((part.path for part in parts if row is not None and row in part.source_rows), parts[0].path)
        raise PlanError(_part_mismatch(step, where, row, problem))


def _problem_key(p: Problem) -> tuple[str | None, str, str]:
    return (p.field, p.rule, p.severity)


def _is_file_level(p: Problem, fmt: str | None) -> bool:
    """A problem of the file or its header (row 1 of a sheet), not of a data row."""
    return p.row is None or (fmt != "json" and p.row == 1)


_Keyed = tuple[int | None, tuple[str | None, str, str]]


def _first_difference(want: Iterable[_Keyed], got: Iterable[_Keyed]) -> _Keyed | None:
    """The first row (and problem) where two row-ordered problem streams differ; ``None`` when equal.

    Each stream is grouped by row and the groups are compared as multisets, so problems of one
    row may come in any order. A problem the part has and the input lacks wins over the reverse.
    """

    def rows(stream: Iterable[_Keyed]) -> Iterator[tuple[int | None, Counter[tuple[str | None, str, str]]]]:
        for row, group in groupby(stream, key=lambda item: item[0]):
            yield row, Counter(key for _, key in group)

    end = (1 << 62, Counter[tuple[str | None, str, str]]())
    a, b = rows(want), rows(got)
    wrow, wkeys = next(a, end)
    grow, gkeys = next(b, end)
    while (wrow, grow) != (end[0], end[0]):
        if grow is None:  # a part's row outside the rows it was written from
            return None, next(iter(gkeys))
        if wrow is None or grow < wrow:
            return grow, next(iter(gkeys))
        if wrow < grow:
            return wrow, next(iter(wkeys))
        if wkeys != gkeys:
            diff = (gkeys - wkeys) or (wkeys - gkeys)
            return wrow, next(iter(diff))
        wrow, wkeys = next(a, end)
        grow, gkeys = next(b, end)
    return None


def _part_mismatch(step: PlanStep, where: Path, row: int | None, problem: tuple) -> str:
    field_name, rule, severity = problem
    at = _("row {row}").format(row=row) if row is not None else _("the header")
    values = {
        "path": step.path, "name": step.path.name, "sent": step.sent_name, "why": "; ".join(step.convert),
        "at": at, "column": field_name or "-", "severity": severity, "rule": rule, "part": where.name,
    }  # fmt: skip
    if step.parts == 1:
        line = _(
            "{path}: the copy written for Akinon ({sent}: {why}) does not validate like the file itself "
            "({at}, column {column}: {severity} {rule} differs); nothing of {name} was sent. "
            "Save it as CSV UTF-8 yourself and upload that"
        )
        return line.format(**values)
    line = _(
        "{path}: the parts written for --chunk-rows do not validate like the file itself "
        "({at}, column {column}: {severity} {rule} differs in {part}); nothing of {name} was sent. "
        "Upload it without --chunk-rows, or write it as CSV or JSON"
    )
    return line.format(**values)


def _slice(chunk: Chunk, start: int, end: int) -> Chunk:
    kinds = chunk.kinds.iloc[start:end] if chunk.kinds is not None else None
    return Chunk(chunk.data.iloc[start:end], chunk.rows.iloc[start:end], kinds)


class RichReporter(AbstractContextManager["RichReporter"]):
    """A rich progress bar per migration; pass the instance as ``on_event``."""

    def __init__(self, console: Any = None) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[errors]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[tuple[str, int], Any] = {}

    def __enter__(self) -> RichReporter:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def __call__(self, event: UploadEvent) -> None:
        key = (event.step.key, event.part)
        label = event.name if event.step.parts == 1 else f"{event.step.path.name} {event.part}/{event.step.parts}"
        label = visible(label)
        if event.kind == "skip":
            line = _("{type}: {label} already finished (migration {id})")
            shown = line.format(type=event.step.type, label=label, id=visible(str(event.migration_id)))
            self._bar.console.print(shown, markup=False)
            return
        if key not in self._tasks:
            description = escape(f"{event.step.type}: {label}")
            self._tasks[key] = self._bar.add_task(description, total=event.rows or None, errors=_errors(0))
        task = self._tasks[key]
        if event.progress is not None:
            p = event.progress
            done = p.processed + p.errors
            self._bar.update(task, total=p.total or event.rows or None, completed=done, errors=_errors(p.errors))
