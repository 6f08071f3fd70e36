"""``upload_bundle``: the whole ``omnimig upload`` command as one call, for scripts and for the CLI.

The CLI only parses options and renders what this returns (and what its hooks are handed);
everything it decides lives here, in the order a person needs it:

1. options that need no file (URL, channel, types, chunk size) are checked, then the token, so a
   missing or unusable token is reported before a bundle that may take minutes is validated;
2. with ``test_set`` the bundle's lock is taken and a one-of-each test bundle is picked;
3. the bundle is validated and planned (``plan_upload``); the journal says whether the types a
   planned type depends on were ever uploaded, and a warning says so when they were not;
4. ``on_plan`` is handed the result so far (a renderer prints the validation report and the
   warnings before any progress bar); a dry run stops here;
5. ``run_upload`` sends the plan, resumably.

Refusals before anything was sent raise ``UploadRefused`` (the CLI's exit code 2); other
``UploadError``s may come after something was sent (exit code 1). The result carries its own exit
code for a run that ended without an exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from omnimig.exceptions import UsageError
from omnimig.i18n import _, ngettext, number
from omnimig.io.private import private_dir
from omnimig.sampling.testset import TestSet
from omnimig.schemas.rules import MigrationType, migration_types
from omnimig.uploader.client import Progress
from omnimig.uploader.credentials import TOKEN_ENV, BadToken, Token
from omnimig.uploader.defaults import DEFAULT_BUDGET, MIGRATION_TIMEOUT, POLL_INTERVAL
from omnimig.uploader.journal import finished_types
from omnimig.uploader.lock import StateLock
from omnimig.uploader.run import (
    ParameterError,
    PartOutcome,
    PlanError,
    UploadEvent,
    UploadPlan,
    UploadSummary,
    check_options,
    plan_upload,
    run_upload,
)


class PromptInterrupted(KeyboardInterrupt):
    """Ctrl-C at the token prompt: nothing was validated or sent. ``str()`` says so in one line."""

    def __str__(self) -> str:
        return _("interrupted at the API token prompt; nothing was sent")


def read_token(env_name: str = TOKEN_ENV, ask: Callable[[str], str] | None = None) -> Token:
    """The API token from the environment variable ``env_name``, else from ``ask(prompt)``; never an argument.

    ``ask`` is a hidden prompt (the CLI passes ``getpass.getpass`` on a terminal, ``None``
    otherwise). The token is checked at once (``Token`` refuses a pasted invisible character), so
    a bad one is refused before anything is validated, sent or journaled. Raises ``BadToken`` (an
    ``UploadRefused``) or ``PromptInterrupted``; no message repeats the token.
    """
    if os.environ.get(env_name, "").strip():
        return Token.from_env(env_name)
    if ask is None:
        line = _("no API token: set the environment variable {name} (or run in a terminal to be asked)")
        raise BadToken(line.format(name=env_name))
    try:
        token = ask(_("Omnitron API token ({name} is not set): ").format(name=env_name)).strip()
    except KeyboardInterrupt:
        raise PromptInterrupted from None
    except EOFError:
        line = _("no API token given (the input ended at the prompt); set {name} instead")
        raise BadToken(line.format(name=env_name)) from None
    if not token:
        raise BadToken(_("no API token given"))
    try:
        return Token(token)
    except BadToken as exc:
        raise BadToken(_("the token given: {reason}").format(reason=exc)) from None


@dataclass(frozen=True)
class Skipped:
    """A file (or one part of it) that this run did not send, and why."""

    file: str
    reason: str
    type: str | None = None
    part: int | None = None


@dataclass
class UploadResult:
    """What ``upload_bundle`` did: the plan and its validation, what was sent, skipped and warned about.

    ``summary`` is ``None`` for a dry run (nothing sent). ``exit_code`` is what the CLI exits
    with: for a dry run 1 when validation found errors, else 0 when every migration finished
    without errors and 1 when the run stopped (``stopped`` says why).
    """

    plan: UploadPlan
    dry_run: bool = False
    #: The one-of-each test bundle that was picked and sent (``test_set=True``), else ``None``.
    test_set: TestSet | None = None
    #: One line each, for a person: types uploaded before the types they depend on, ``force``.
    warnings: list[str] = field(default_factory=list)
    #: Per planned type, the earlier types neither in this run nor finished per the journal.
    missing_prerequisites: dict[str, tuple[str, ...]] = field(default_factory=dict)
    summary: UploadSummary | None = None

    @property
    def migrations(self) -> list[PartOutcome]:
        """Every migration of the run: uploaded now, resumed, or skipped as already finished."""
        return list(self.summary.parts) if self.summary else []

    @property
    def sent(self) -> list[PartOutcome]:
        """The migrations this run started or resumed watching (not those the journal had finished)."""
        return [p for p in self.migrations if p.how != "skipped"]

    @property
    def migration_ids(self) -> list[str]:
        return [p.migration_id for p in self.migrations]

    @property
    def counts(self) -> dict[str, Progress]:
        """Omnitron's counts per type, summed over its files and parts."""
        out: dict[str, Progress] = {}
        for p in self.migrations:
            was = out.get(p.type, Progress(0, 0, 0))
            c = p.progress
            out[p.type] = Progress(was.total + c.total, was.processed + c.processed, was.errors + c.errors)
        return out

    @property
    def skipped(self) -> list[Skipped]:
        """Files and parts not sent, with why: already finished, not asked for, not reached, not read."""
        out = [Skipped("", note) for note in self.plan.skipped]
        planned = {str(s.path) for s in self.plan.steps}
        for r in self.plan.results:
            if r.type is not None and r.path not in planned:
                out.append(
                    Skipped(r.path, _("not asked for (only {types})").format(types=", ".join(self._only)), r.type)
                )
        if self.summary is None:
            return out
        for p in self.summary.parts:
            if p.how == "skipped":
                reason = _("already finished (migration {id}, per the journal)").format(id=p.migration_id)
                out.append(Skipped(p.file, reason, p.type, p.part if p.parts > 1 else None))
        if self.summary.stopped is not None:
            reached = {(p.type, p.file, p.part) for p in self.summary.parts}
            for s in self.plan.steps:
                for part in range(1, s.parts + 1):
                    if (s.type, s.path.name, part) not in reached:
                        why = _("not sent: the run stopped after a migration reported errors")
                        out.append(Skipped(s.path.name, why, s.type, part if s.parts > 1 else None))
        return out

    @property
    def _only(self) -> list[str]:
        return sorted({s.type for s in self.plan.steps})

    @property
    def stopped(self) -> str | None:
        return self.summary.stopped if self.summary else None

    @property
    def ok(self) -> bool:
        """Every migration finished without errors (a dry run: validation found no errors)."""
        if self.summary is None:
            return not self.plan.errors
        return self.summary.ok

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def checks(self) -> list[str]:
        """What to check in the shop after a test set went through (empty otherwise)."""
        if self.test_set is None or self.summary is None or not self.summary.ok:
            return []
        return self.test_set.checks()

    def lines(self) -> list[str]:
        """The plan (dry run) or one line per migration, the notes and where the logs are."""
        return self.plan.describe() if self.summary is None else self.summary.lines()


def _types(names: str | Collection[str], parameter: str) -> list[str]:
    """Type names as people write them (``orders``, ``order-items``), as ``schemas.type_named`` reads them.

    A plain string is one name or a comma-separated list (``"user,address"``), as ``omnimig.fix``
    reads its ``only``: a string is also a collection of characters, and ``only="user"`` would
    otherwise be refused as the unknown types ``u``, ``s``, ``e`` and ``r``. An unknown name is a
    ``ParameterError`` naming ``parameter`` (``only``), which the CLI prints as its option (``--only``).
    """
    from omnimig.schemas import type_named

    listed = [n.strip() for n in names.split(",")] if isinstance(names, str) else names
    try:
        return [type_named(name) for name in listed]
    except UsageError as exc:
        raise ParameterError(parameter, str(exc)) from None


def upload_bundle(
    bundle: str | PathLike[str],
    *,
    url: str,
    channel: str | int,
    token: Token | str | None = None,
    token_env: str = TOKEN_ENV,
    ask: Callable[[str], str] | None = None,
    only: str | Collection[str] | None = None,
    dry_run: bool = False,
    chunk_rows: int | None = None,
    test_set: bool = False,
    customer: str | None = None,
    force: bool = False,
    restart: str | Collection[str] = (),
    timeout: float = MIGRATION_TIMEOUT,
    http_timeout: float = DEFAULT_BUDGET,
    poll_interval: float = POLL_INTERVAL,
    state_dir: str | PathLike[str] | None = None,
    choices: str | PathLike[str] | None = None,
    strict: bool = False,
    insecure_http: bool = False,
    on_plan: Callable[[UploadResult], None] | None = None,
    on_event: Callable[[UploadEvent], None] | None = None,
) -> UploadResult:
    """Validate the bundle in ``bundle`` and upload it to Omnitron in dependency order, resumably.

    ``token`` is a ``Token`` or its text; without one it is read from the environment variable
    ``token_env``, or asked with ``ask(prompt)`` when given (never needed for ``dry_run``).
    ``only`` limits the types sent (a list, or ``"user,address"``; every file is still
    validated); ``test_set`` sends a one-of-each test bundle picked from ``bundle`` (``customer``:
    whose) with its own journal. ``force`` sends despite validation errors (a warning says so);
    ``restart`` names types sent again despite the journal (a list or one string, as ``only``).
    ``timeout`` bounds the wait for one migration, ``http_timeout`` one request with its retries.
    The journal, audit log and copies sent live in ``state_dir`` (default ``bundle/.omnimig``).

    ``on_plan(result)`` is called once the bundle is validated and planned, before anything is
    sent: ``result.plan`` holds the validation results, ``result.warnings`` the warnings.
    ``on_event`` is handed each ``UploadEvent`` (``RichReporter`` draws progress bars).

    Example (``result.lines()`` are the lines the CLI prints after the run)::

        result = upload_bundle("bundle/", url="https://omnitron.example.com", channel=5,
                               token=Token.from_env("OMNIMIG_TOKEN"), only=["user", "address"])
        for line in result.warnings:
            print("WARNING:", line)
        print(result.migration_ids, result.counts["user"].processed, result.ok)

    Raises ``UploadRefused`` (``BadToken``, ``InsecureUrl``, ``PlanError``, ``RunLocked``) when
    nothing was sent (a ``ParameterError``, a ``PlanError``, names the parameter as a call spells it:
    ``only=: unknown type ...``), another ``UploadError`` when the run failed on the way (its
    journal lets the same call resume), or ``PromptInterrupted`` / ``KeyboardInterrupt``.
    """
    directory = Path(bundle)
    state = Path(state_dir) if state_dir is not None else None
    choices_path = Path(choices) if choices is not None else None
    if customer is not None and not test_set:
        raise ParameterError("customer", _("goes with a test set"))
    only = None if only is None else _types(only, "only")
    restart = _types(restart, "restart")
    check_options(
        url, channel, only=only, chunk_rows=chunk_rows, insecure=insecure_http, restart=restart,
        http_timeout=http_timeout,
    )  # fmt: skip
    secret: Token | None = None
    if not dry_run:  # before the bundle is read: a wrong token must not cost a long validation first
        secret = _token(token, token_env, ask)
    lock: StateLock | None = None
    try:
        picked = None
        source = directory
        if test_set:
            picked, source, lock = _pick_test_set(directory, state, customer)
            state = None  # the test run keeps its own journal beside its files
        plan = plan_upload(
            source, url, channel, only=only, chunk_rows=chunk_rows, state_dir=state, choices=choices_path,
            strict=strict, insecure=insecure_http,
        )  # fmt: skip
        result = UploadResult(plan, dry_run=dry_run, test_set=picked)
        result.missing_prerequisites = missing_prerequisites(plan)
        result.warnings.extend(prerequisite_warning(plan, t, m) for t, m in result.missing_prerequisites.items())
        if plan.errors and force and not dry_run:
            errors = ngettext("{n} validation error", "{n} validation errors", plan.errors).format(
                n=number(plan.errors)
            )
            result.warnings.append(_("uploading despite {errors} (--force)").format(errors=errors))
        if on_plan is not None:
            on_plan(result)
        if dry_run:
            return result
        assert secret is not None
        result.summary = run_upload(
            plan, secret, force=force, restart=restart, timeout=timeout, http_timeout=http_timeout,
            poll_interval=poll_interval, on_event=on_event,
        )  # fmt: skip
        return result
    finally:
        if lock is not None:
            lock.release()


def _token(token: Token | str | None, env_name: str, ask: Callable[[str], str] | None) -> Token:
    """The token given (checked), or the one ``read_token`` finds."""
    if token is None:
        return read_token(env_name, ask)
    return token if isinstance(token, Token) else Token(token)


def _pick_test_set(directory: Path, state_dir: Path | None, customer: str | None) -> tuple[TestSet, Path, StateLock]:
    """Take the bundle's lock and write the test set under its state folder; the lock stays held for the run."""
    from omnimig.sampling.testset import TestSetError, pick_test_set
    from omnimig.uploader.lock import RunLocked

    base = state_dir or directory / ".omnimig"
    source = base / "test-set"
    try:  # the bundle's lock, held while the test set is written and sent (its run locks its own)
        lock = StateLock(private_dir(base)).acquire()
    except RunLocked:
        raise
    except OSError as exc:
        raise PlanError(_("{path}: cannot hold the upload lock ({reason})").format(path=base, reason=exc)) from None
    try:
        return pick_test_set([directory], source, customer=customer), source, lock
    except TestSetError as exc:
        lock.release()
        raise PlanError(str(exc)) from None
    except BaseException:
        lock.release()
        raise


def missing_prerequisites(plan: UploadPlan) -> dict[str, tuple[str, ...]]:
    """Per planned type, the types before it in the upload order that this run does not send first
    and that the journal never saw finish (for this URL and channel).

    Akinon's importer links an address or order to its user, and an item to its order, by key: a
    type sent before them counts errors for every row (the spec's "dependency errors"). The
    upload order comes from ``datapackage.json``.
    """
    order = [t.name for t in migration_types()]
    done = finished_types(plan.state_dir / "journal.json", plan.url, plan.channel)
    planned = {s.type for s in plan.steps}
    out: dict[str, tuple[str, ...]] = {}
    for type_name in order:
        if type_name not in planned:
            continue
        earlier = order[: order.index(type_name)]
        missing = tuple(t for t in earlier if t not in planned and t not in done)
        if missing:
            out[type_name] = missing
    return out


def prerequisite_warning(plan: UploadPlan, type_name: str, missing: tuple[str, ...]) -> str:
    """One line: which earlier types were never uploaded (per the journal) and why that matters."""
    types = {t.name: t for t in migration_types()}
    refers = _refers_to(type_name, types)
    linked = [t for t in missing if t in refers]
    both, either = _(" and "), _(" or ")
    values = {
        "type": type_name, "missing": either.join(missing), "journal": plan.state_dir / "journal.json",
        "linked": both.join(linked), "order": " → ".join(types), "first": both.join(missing),
    }  # fmt: skip
    if linked:
        line = _(
            "{type}: no {missing} upload from this bundle is recorded as finished (journal {journal}); "
            "its rows refer to {linked} rows, which Omnitron must already have; Akinon migrates {order} in that "
            "order. Upload {first} first, or go on if they reached Omnitron another way"
        )
    else:
        line = _(
            "{type}: no {missing} upload from this bundle is recorded as finished (journal {journal}); "
            "Akinon migrates {order} in that order. Upload {first} first, or go on if they reached Omnitron "
            "another way"
        )
    return line.format(**values)


def _refers_to(type_name: str, types: dict[str, MigrationType]) -> set[str]:
    """Every type ``type_name`` refers to by foreign key, directly or through another type."""
    seen: set[str] = set()
    todo = [type_name]
    while todo:
        for fk in types[todo.pop()].foreign_keys:
            parent = fk["reference"]["resource"]
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen
