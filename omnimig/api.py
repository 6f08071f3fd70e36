"""The public functions: what a script calls, and what every CLI command is a thin skin over.

Each takes plain values (``str`` or ``PathLike`` paths, dicts for the flags a command repeats),
returns one result object, and raises only ``omnimig.Error`` subclasses for anything a person can
fix (one printable line each). The heavy modules are imported inside the functions, so that
``import omnimig`` and ``omnimig --help`` stay fast.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from omnimig.exceptions import TransformError, UsageError
from omnimig.io.private import writing
from omnimig.uploader.credentials import TOKEN_ENV
from omnimig.uploader.defaults import DEFAULT_BUDGET, MIGRATION_TIMEOUT, POLL_INTERVAL

if TYPE_CHECKING:
    from omnimig.fixing.run import FixResult
    from omnimig.sampling.generate import Written
    from omnimig.sampling.testset import TestSet
    from omnimig.transforms.run import Result as TransformResult
    from omnimig.transforms.settings import Settings
    from omnimig.uploader.api import UploadResult
    from omnimig.uploader.credentials import Token
    from omnimig.uploader.run import UploadEvent
    from omnimig.validation.result import Report

PathArg = str | os.PathLike[str]
Paths = PathArg | Iterable[PathArg]


def as_paths(paths: Paths, what: str = "the files or the bundle folder to validate") -> list[Path]:
    """One path or many, as ``Path`` objects (a plain string is one path, not its characters)."""
    one = (str, bytes, os.PathLike)
    given = [paths] if isinstance(paths, one) or not isinstance(paths, Iterable) else list(paths)
    wrong = [p for p in given if not isinstance(p, one)]
    if wrong:
        raise UsageError(f"{wrong[0]!r} is not a path; give a file or folder name, or a list of them")
    listed = [Path(os.fsdecode(p)) for p in given]
    if not listed:
        raise UsageError(f"no file or folder given; name {what}")
    return listed


def validate(
    paths: Paths,
    *,
    type: str | None = None,
    choices: PathArg | None = None,
    strict: bool = False,
    require_all: bool = False,
    sheet: str | int | None = None,
    header_row: int | None = None,
    examples: int = 5,
    chunk_rows: int = 200_000,
    progress: Callable[[Path, int, int], None] | None = None,
    steps: Callable[[str, int, int], None] | None = None,
    threads: int | None = None,
) -> Report:
    """Validate files and folders as one bundle: every field rule, then every cross-file rule.

    ``paths`` is a file, a folder (every migration file in it) or a list of either. ``type`` names
    the migration type when file names do not (``user``, ``address``, ``order``, ``order_item``, or
    a file stem such as ``orders``);
    ``choices`` is a JSON file replacing the shipped value lists; ``strict`` makes every warning an
    error; ``require_all`` makes a missing type an error; ``sheet`` and ``header_row`` choose where a
    workbook's table is (default: found); ``examples`` bounds the examples kept per rule for the text
    report (counts are always exact). ``progress(path, done, total)`` and ``steps(rule, done, total)``
    are called as files are read and bundle rules run. ``threads`` lets reading overlap checking
    (default: ``OMNIMIG_THREADS``, else the CPUs idle at the start); the report is the same for any
    number, and 1 runs everything on one thread.

    A file that cannot be read does not raise: it is an ``unreadable`` error in the report (and
    ``Report.exit_code`` is 2). ``UsageError`` or ``SchemaError`` when nothing can run at all.
    """
    from omnimig.io.ahead import threads as resolve_threads
    from omnimig.io.table import ReadOptions
    from omnimig.schemas import type_named
    from omnimig.validation import spawn

    if type is not None and not isinstance(type, str):
        raise UsageError(f"type {type!r}: give a type name such as order")
    limits = (
        ("chunk_rows", chunk_rows, 1),
        ("examples", examples, 0),
        ("header_row", header_row, 1),
        ("threads", threads, 1),
    )
    for name, value, least in limits:
        if value is not None and (not isinstance(value, int) or value < least):
            raise UsageError(f"{name} {value!r}: a whole number of at least {least}")
    given = as_paths(paths)
    options = ReadOptions(sheet=None if sheet is None else str(sheet), header_row=header_row)
    threads = resolve_threads(threads)  # once: the idle CPUs are counted now, not again later
    spawn.prestart(given, threads)  # before pandas is imported here: the workers import it meanwhile
    try:
        from omnimig.validation.result import Report
        from omnimig.validation.run import validate_paths

        run = validate_paths(
            given,
            None if type is None else type_named(type),
            None if choices is None else Path(choices),
            strict=strict,
            require_all=require_all,
            chunk_rows=chunk_rows,
            progress=progress,
            steps=steps,
            options=options,
            examples=examples,
            threads=threads,
        )
    finally:
        spawn.discard()  # a worker started early and not used
    from omnimig.fixing.marks import fixable

    return Report(run, show_order=len(run.reported) > 1 or any(p.is_dir() for p in given), fixes=fixable)


def transform(
    source: str,
    inputs: Paths,
    out: PathArg,
    *,
    format: str = "csv",
    mapping: PathArg | None = None,
    defaults: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, str]] | None = None,
    options: Mapping[str, str] | None = None,
    password_policy: str = "empty",
    truncate: bool = False,
    force: bool = False,
    explain: bool = False,
    settings: Settings | None = None,
) -> TransformResult:
    """Convert a legacy export into a clean bundle in ``out``; every input row is written, merged or rejected.

    ``source`` is ``omnitron-orders``, ``shopify`` or ``mapping`` (with ``mapping=`` a TOML file
    describing the export). ``defaults`` fill empty fields (``{"order.bank": "-"}``), ``values`` add
    value-table entries (``{"shipping_company": {"1": "yurtici"}}``) and ``options`` reading options
    (``{"customer_code_from": "email"}``), each over the mapping file's. ``password_policy`` is
    ``empty`` or ``unusable``; ``truncate`` cuts over-long values (a warning each) instead of
    rejecting the record; ``force`` writes into a non-empty folder omnimig did not create;
    ``explain`` also lists in ``changes.csv`` the changes made the same way to every record (trimming,
    value-table entries, ``date_joined`` from the first order), which are otherwise only counted.
    ``settings`` is a mapping file already loaded (``transforms.settings.load``, as the CLI does to
    apply its flags); ``mapping`` is then not read again.
    The result's ``lines()`` is the summary the CLI prints; ``rejects`` is empty when nothing was lost.
    """
    from omnimig.io.write import SUFFIX
    from omnimig.transforms.finish import Options
    from omnimig.transforms.run import transform as run_transform
    from omnimig.transforms.settings import apply_arguments, load

    if format not in SUFFIX:
        raise UsageError(f"format {format!r}: use one of {', '.join(SUFFIX)}")
    if password_policy not in ("empty", "unusable"):
        raise UsageError(f"password_policy {password_policy!r}: use empty or unusable")
    if settings is None:
        settings = load(None if mapping is None else Path(mapping), allow_targets=source == "mapping")
    apply_arguments(settings, defaults, values, options)
    settings.explain = explain
    result = run_transform(
        source,
        as_paths(inputs, "the export files to transform"),
        Path(out),
        format,
        settings,
        Options(truncate=truncate, password_policy=password_policy),
        force=force,
    )
    if not result.adds_up:
        raise TransformError(
            "internal error: the row or record accounting does not add up; please report this with the input"
        )
    return result


def samples(
    out: PathArg,
    *,
    orders: int = 20,
    format: str = "csv",
    seed: int = 1,
    locale: str = "tr_TR",
    invalid_rate: float = 0.0,
    progress: Callable[[int], None] | None = None,
) -> Written:
    """Write a consistent sample bundle (users, addresses, orders, items) into ``out``.

    The same arguments give byte-identical files. With ``invalid_rate`` above 0, defects of every
    kind are planted (about ``invalid_rate`` x rows) and ``out/expected_problems.json`` is the
    answer key of what ``validate`` must report. ``progress(n)`` is called as orders are written.
    """
    from omnimig.sampling.generate import generate

    with writing(out):
        return generate(
            Path(out), orders=orders, fmt=format, seed=seed, locale=locale, progress=progress, invalid_rate=invalid_rate
        )


def test_set(bundle: Paths, out: PathArg, *, customer: str | None = None) -> TestSet:
    """Pick one user with an address and an order with its items from ``bundle`` and write them to ``out``.

    The first user (in file order) that makes a complete, error-free test set is taken, or
    ``customer``. Upload it first and check it in the storefront before the real migration.
    """
    from omnimig.sampling.testset import pick_test_set

    with writing(out):
        return pick_test_set(as_paths(bundle, "the bundle to pick from"), Path(out), customer=customer)


test_set.__test__ = False  # type: ignore[attr-defined]  # a function, not a pytest test


def upload(
    bundle: PathArg,
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
    state_dir: PathArg | None = None,
    choices: PathArg | None = None,
    strict: bool = False,
    insecure_http: bool = False,
    on_plan: Callable[[UploadResult], None] | None = None,
    on_event: Callable[[UploadEvent], None] | None = None,
) -> UploadResult:
    """Validate ``bundle`` and upload it to Omnitron in dependency order, resumably: ``omnimig upload``.

    ``url`` is Omnitron's base URL (HTTPS; plain HTTP only to this machine or with
    ``insecure_http``) and ``channel`` the sales channel id. ``token`` is an ``omnimig.Token``
    (``omnimig.Token.from_env("OMNIMIG_TOKEN")``) or its text; without it the token is read from
    the environment variable ``token_env``, else asked with ``ask(prompt)`` when given (a dry run
    needs none). ``only`` limits the types sent (a list, or ``"user,address"``; every file is
    still validated); ``dry_run`` validates and plans but sends nothing; ``chunk_rows`` sends
    each file in parts of at most that many rows; ``test_set`` sends a one-of-each test bundle
    picked from ``bundle`` (``customer``: whose) with its own journal; ``force`` sends despite
    validation errors; ``restart`` names types sent again although the journal says they
    finished (a list or one string, as ``only``). ``timeout`` bounds the wait for one
    migration, ``http_timeout`` one request with its retries, ``poll_interval`` the seconds between
    progress requests (all in seconds). The journal, audit log and copies sent live in
    ``state_dir`` (default ``bundle/.omnimig``); ``choices`` and ``strict`` are ``validate``'s.
    ``on_plan(result)`` is called once the bundle is validated and planned, before anything is
    sent; ``on_event`` is handed each ``UploadEvent`` (progress).

    The token is checked before the bundle is validated; one run at a time holds the bundle's
    lock; a journal makes the same call resume instead of sending twice. Raises
    ``UploadRefused`` when nothing was sent (token, URL, option, lock), another ``UploadError``
    for validation errors without ``force`` or a run that stopped on the way (the same call
    resumes it). The parameters are ``omnimig.uploader.upload_bundle``'s, spelled out so that
    ``help()`` and an IDE show them (a test keeps the two the same); the http client is imported
    here, not with the package, so validation alone never loads it.
    """
    from omnimig.uploader.api import upload_bundle

    return upload_bundle(
        bundle, url=url, channel=channel, token=token, token_env=token_env, ask=ask, only=only, dry_run=dry_run,
        chunk_rows=chunk_rows, test_set=test_set, customer=customer, force=force, restart=restart, timeout=timeout,
        http_timeout=http_timeout, poll_interval=poll_interval, state_dir=state_dir, choices=choices, strict=strict,
        insecure_http=insecure_http, on_plan=on_plan, on_event=on_event,
    )  # fmt: skip


def fix(
    paths: Paths,
    out: PathArg,
    *,
    type: str | None = None,
    dry_run: bool = False,
    only: str | Iterable[str] | None = None,
    choices: PathArg | None = None,
    force: bool = False,
    chunk_rows: int = 200_000,
    locale: str | None = None,
) -> FixResult:
    """Correct what is mechanical in Akinon-shaped files, list every change, leave the rest to a person.

    ``paths`` (files or a bundle folder, any format ``validate`` reads) are validated; each failing
    cell with one safe reading (a decimal comma, a phone's prefix, ``TL`` for ``TRY``, ``evet``,
    ``14.11.1998``, a trailing space, ...) is corrected by the transform normalisers its field's rule
    calls for, and only when the validator then passes it. The corrected copies go to ``out`` in
    the inputs' formats (CSV as UTF-8 with ``,``), every row kept, with ``out/changes.csv`` (file,
    row, field, before, after, rule, code); then the copies are validated. ``dry_run`` writes only
    ``changes.csv``; ``only`` limits the fix codes (``"number,phone"`` or a list); ``force`` writes
    into a non-empty folder omnimig did not create (never over an input or a file it did not write).
    ``locale="tr"`` declares Turkish conventions, so ``1.234`` is 1234, ``1.234,5`` is 1234.5 and
    ``01/02/2023`` is 1 February (without it these stay problems: they have two readings).
    The result's ``lines()`` is what the command prints, ``exit_code`` 1 while errors remain.
    """
    from omnimig.fixing.run import fix_paths
    from omnimig.schemas import type_named

    if type is not None and not isinstance(type, str):
        raise UsageError(f"type {type!r}: give a type name such as order")
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise UsageError(f"chunk_rows {chunk_rows!r}: a whole number of at least 1")
    codes = only.split(",") if isinstance(only, str) else only
    with writing(out):
        return fix_paths(
            as_paths(paths, "the files or the bundle folder to fix"),
            Path(out),
            type_name=None if type is None else type_named(type),
            dry_run=dry_run,
            only=codes,
            choices=None if choices is None else Path(choices),
            force=force,
            chunk_rows=chunk_rows,
            locale=locale,
        )
