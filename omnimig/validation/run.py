"""From paths on the command line to one ``FileResult`` per file."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from omnimig.errors import debug_enabled, internal_error_line
from omnimig.exceptions import ReadError, UsageError
from omnimig.i18n import _
from omnimig.io import FORMATS, file_format, open_source, type_from_name
from omnimig.io.ahead import Ahead, ahead, started
from omnimig.io.ahead import threads as resolve_threads
from omnimig.io.paths import OWN_FILES
from omnimig.io.read_csv import LAZY_UTF8, Reencode
from omnimig.io.table import TEXT, Chunk, ReadOptions, Source
from omnimig.schemas.rules import (
    ChoiceList,
    bundle_fields,
    line_column,
    line_fields,
    load_choices,
    rules_for,
    table_rules,
    type_names,
)
from omnimig.validation import workers
from omnimig.validation.bundle import BundleOutcome, check_bundle, line_amounts
from omnimig.validation.fields import Emitter, check_chunk, map_columns, text_array
from omnimig.validation.problem import FileResult, Problem, ProblemStore
from omnimig.validation.stats import BundleStats, TypeTally, key_fields, summary_spec


@dataclass(frozen=True)
class Target:
    path: Path
    type: str


def collect_targets(paths: Iterable[Path], type_name: str | None) -> tuple[list[Target], list[str]]:
    """Files to validate and their types; folders are expanded to the files they hold.

    Returns the targets and notes about files in folders that were skipped. A file named on
    the command line whose type cannot be told is an error, not a skip.
    """
    if type_name is not None and type_name not in type_names():
        raise UsageError(
            _("unknown type {type}; use one of: {types}").format(type=repr(type_name), types=", ".join(type_names()))
        )
    targets: list[Target] = []
    skipped: list[str] = []
    for path in paths:
        if path.is_dir():
            found = 0
            order = {name: i for i, name in enumerate(type_names())}
            children = sorted(
                path.iterdir(), key=lambda c: (order.get(type_name or type_from_name(c) or "", 99), c.name)
            )
            for child in children:
                if child.name.startswith(".") or child.is_dir():  # a FIFO or broken link is reported, not skipped
                    continue
                if child.name in OWN_FILES:  # rejects.csv, warnings.csv, expected_problems.json: omnimig's own
                    continue
                if child.suffix.lower() not in FORMATS:
                    continue
                t = type_name or type_from_name(child)
                if t is None:
                    skipped.append(_("{path}: skipped, the name does not say its type (use --type)").format(path=child))
                    continue
                targets.append(Target(child, t))
                found += 1
            if not found:
                names = ", ".join(f"{s}.csv" for s in type_names())
                raise UsageError(
                    _(
                        "{path}: no migration files found; expected names such as {names} (.csv, .xlsx, .xls, .json)"
                    ).format(path=path, names=names)
                )
            continue
        if not path.exists():
            raise UsageError(_("{path}: no such file or directory").format(path=path))
        try:
            file_format(path)
        except ReadError as exc:
            raise UsageError(str(exc)) from None
        t = type_name or type_from_name(path)
        if t is None:
            raise UsageError(
                _("{path}: cannot tell the migration type from the file name; pass --type with one of: {types}").format(
                    path=path, types=", ".join(type_names())
                )
            )
        targets.append(Target(path, t))
    return targets, skipped


def validate_file(
    target: Target,
    choices: dict[str, ChoiceList],
    chunk_rows: int = 200_000,
    progress: Callable[[int, int], None] | None = None,
    options: ReadOptions | None = None,
    examples: int | None = None,
    n_threads: int = 1,
    source: Source | None = None,
    pool: Executor | None = None,
) -> FileResult:
    """Every field rule for one file. Raises ``ReadError`` when the file cannot be read.

    ``progress`` is called as ``progress(bytes read, file size)`` after each chunk, and with
    ``bytes read == file size`` once the file is done. With ``n_threads > 1`` the next chunk is
    read on a worker thread while this one is checked (``omnimig.io.ahead``); the checks, and so
    the problems and their order, are the same for any number of threads. ``source`` is the
    file opened already (``validate_paths`` opens the next file while this one is checked);
    ``pool``, when given, checks a chunk's columns side by side (``check_chunk``).

    A CSV file opened with ``LAZY_UTF8`` (``validate_paths`` does) that turns out not to be UTF-8
    is validated again from the start, opened the ordinary way (checked whole, its encoding chosen).
    """
    try:
        return _validate_file(target, choices, chunk_rows, progress, options, examples, n_threads, source, pool)
    except Reencode:
        token = LAZY_UTF8.set(False)
        try:
            return _validate_file(target, choices, chunk_rows, progress, options, examples, n_threads, None, pool)
        finally:
            LAZY_UTF8.reset(token)


def _validate_file(
    target: Target,
    choices: dict[str, ChoiceList],
    chunk_rows: int,
    progress: Callable[[int, int], None] | None,
    options: ReadOptions | None,
    examples: int | None,
    n_threads: int,
    source: Source | None,
    pool: Executor | None,
) -> FileResult:
    options = options or ReadOptions()
    if source is None:
        source = open_source(target.path, reading_rows(chunk_rows, n_threads), options)
    size = target.path.stat().st_size
    rules = rules_for(target.type, source.format)
    # Enough examples kept in memory for the text report: more would mean a pass over every problem.
    keep = None if examples is None else max(ProblemStore.EXAMPLES, examples)
    problems = ProblemStore(str(target.path), target.type, examples=keep)
    # The order the bundle rules sort by too, so their problems merge with these without a re-sort.
    problems.set_order((*table_rules(target.type).names, *rules.names, *source.columns))
    emit = Emitter(str(target.path), target.type, problems)
    is_json = source.format == "json"
    header_row = None if is_json else source.header_row
    for notice in source.notices:
        emit.one(notice.row, notice.column, notice.rule, notice.severity, notice.message, notice.value)  # type: ignore[arg-type]
    for name in source.duplicate_columns:
        emit.one(
            header_row,
            name,
            "duplicate-column",
            "error",
            _('column "{name}" appears more than once in the header; only the first is checked').format(name=name),
        )
    # An empty JSON array has no keys to judge, like a CSV with only a header: no-rows says it.
    expect_columns = source.known_rows != 0
    layout = map_columns(rules, source.columns, is_json, emit, header_row, expect_columns)
    rows = 0
    wanted = dict.fromkeys((*bundle_fields(target.type), *key_fields(target.type)))
    kept_fields = [f for f in wanted if f in layout.columns]
    # The bundle summary is tallied from the same chunks, while they are in memory.
    tally = TypeTally.start(target.type)
    tallied = [f for f in summary_spec(target.type).chunk_fields if f in layout.columns]
    summed = [t.field for t in summary_spec(target.type).total if t.field in layout.columns]
    # The key columns the bundle rules need, kept as the Arrow arrays the chunks already hold:
    # they are stitched into one column without a copy at the end.
    kept: dict[str, list[pa.Array]] = {f: [] for f in kept_fields}
    # A child's line amounts (price x quantity, in cents) are kept as one number per row.
    lines = [(p, q) for p, q in line_fields(target.type) if p in layout.columns and q in layout.columns]
    kept_lines: dict[str, list[pa.Array]] = {line_column(p, q): [] for p, q in lines}
    kept_rows: list[np.ndarray] = []
    field_of = {column: name for name, column in layout.columns.items()}
    chunks = ahead(source.chunks, n_threads)
    try:
        for chunk in chunks:
            rows += len(chunk.data)
            for notice in chunk.notices:
                column = None if notice.column is None else field_of.get(notice.column, notice.column)
                emit.one(notice.row, column, notice.rule, notice.severity, notice.message, notice.value)  # type: ignore[arg-type]
            check_chunk(chunk, rules, layout, choices, emit, pool)
            problems.flush()  # rows ascend from chunk to chunk: the sorted chunk continues the run
            tally.add(
                len(chunk.data),
                {f: text_array(chunk.data[layout.columns[f]]) for f in tallied},
                {f: _kinds(chunk, layout.columns[f]) for f in summed},  # JSON numbers: 1.5E2 sums as 150
            )
            for f in kept_fields:
                column = _kept_text(chunk, layout.columns[f])
                kept[f].extend(column.chunks if isinstance(column, pa.ChunkedArray) else [column])
            for p, q in lines:
                amounts = line_amounts(_kept_text(chunk, layout.columns[p]), _kept_text(chunk, layout.columns[q]))
                kept_lines[line_column(p, q)].append(pa.array(amounts))  # NaN stays a NaN value, not a null
            kept_rows.append(chunk.rows.to_numpy(dtype=np.int32))  # half the memory; rows stay far below 2**31
            if progress is not None:
                progress(min(source.bytes_read() or 0, size), size)
    finally:
        if isinstance(chunks, Ahead):
            chunks.close()
    if progress is not None:
        progress(size, size)
    if rows == 0:
        emit.one(None, None, "no-rows", "warning", _("the file has no data rows"))
    keys = pd.DataFrame(
        {
            "row": np.concatenate(kept_rows) if kept_rows else np.zeros(0, dtype=np.int32),
            **{f: pd.arrays.ArrowStringArray(pa.chunked_array(kept[f], type=TEXT)) for f in kept_fields},
            **{n: pd.arrays.ArrowExtensionArray(pa.chunked_array(a, type=pa.float64())) for n, a in kept_lines.items()},
        }
    )
    problems.flush()
    result = FileResult(str(target.path), target.type, source.format, rows, problems, source.columns, keys)
    result.read_options = options
    result.header_row = header_row
    result.tally = tally
    return result


def _kept_text(chunk: Chunk, column: str) -> pa.Array | pa.ChunkedArray:
    """A chunk's column as the text the bundle rules read (``TEXT``)."""
    text = text_array(chunk.data[column])
    return text if text.type == TEXT else text.cast(TEXT)


def reading_rows(chunk_rows: int, n_threads: int) -> int:
    """The rows per chunk the reader makes: ``chunk_rows``, halved when a worker thread reads ahead.

    ``chunk_rows`` bounds the memory of the chunk in hand; reading ahead holds a second chunk
    while the first is checked, so two half chunks keep that bound. The problems do not depend on
    the chunk size (``tests/test_chunking.py``).
    """
    return chunk_rows if n_threads <= 1 else max(1, chunk_rows // 2)


def _open_ahead(target: Target, chunk_rows: int, options: ReadOptions | None, n_threads: int) -> Future[Source]:
    """``open_source`` for ``target``, started on a worker thread when there are threads to spare.

    Opening a CSV file reads it once to check its encoding; done ahead, that read and the parse
    of the file's first chunk overlap the previous file's checks, so the reader thread does not
    wait for a file to be finished before starting the next. With one thread it runs when asked,
    exactly where it ran before.
    """
    if n_threads <= 1 or target.path.suffix.lower() != ".csv":  # other readers may load much when opened
        return started(lambda: open_source(target.path, reading_rows(chunk_rows, 1), options or ReadOptions()), 1)

    def open_and_read() -> Source:
        source = open_source(target.path, reading_rows(chunk_rows, n_threads), options or ReadOptions())
        source.chunks = Ahead(source.chunks)  # its first chunk is parsed while the last file's last is checked
        return source

    return started(open_and_read, n_threads)


def _kinds(chunk: Chunk, column: str) -> np.ndarray | None:
    """A JSON chunk's value kinds of one column (``number``, ``string``, ``null``…); None for tables."""
    if chunk.kinds is None:
        return None
    return chunk.kinds[column].astype(str).to_numpy(dtype=object)


def unreadable_result(target: Target, line: str) -> FileResult:
    """A file that could not be read, as a result every output lists: one file-level ``unreadable`` error."""
    path = str(target.path)
    try:
        fmt: str | None = file_format(target.path)
    except Exception:  # any failure here only loses the format name
        fmt = target.path.suffix.lower().lstrip(".") or None
    problem = Problem(path, target.type, None, None, "unreadable", "error", None, line)
    return FileResult(path, target.type, fmt, 0, [problem], readable=False)


@dataclass
class Validation:
    """Every file's field rules plus the bundle rules: what validate, upload and --test-set all need."""

    results: list[FileResult]  # the files that were read
    outcome: BundleOutcome
    skipped: list[str]
    unreadable: list[str]  # one line per file that could not be read
    # Every file in target order, an unreadable one as a result with its ``unreadable`` problem:
    # what reports list, so no output says "0 errors" for a bundle that was not fully read.
    reported: list[FileResult] = field(default_factory=list)

    @property
    def stats(self) -> BundleStats:
        """The bundle summary (rows per type, orders per status, totals per currency, …)."""
        assert self.outcome.stats is not None
        return self.outcome.stats


def validate_paths(
    paths: Iterable[Path],
    type_name: str | None = None,
    choices: Path | None = None,
    strict: bool = False,
    require_all: bool = False,
    chunk_rows: int = 200_000,
    progress: Callable[[Path, int, int], None] | None = None,
    steps: Callable[[str, int, int], None] | None = None,
    options: ReadOptions | None = None,
    examples: int | None = None,
    threads: int | None = None,
) -> Validation:
    """Validate files and folders as one bundle.

    Raises ``UsageError`` or ``SchemaError`` when nothing can run; a file that cannot be read, or
    whose reading fails in any unexpected way (a bug, a ``RecursionError``, memory), is listed in
    ``unreadable`` (one line each) and in ``reported`` as an ``unreadable`` problem, so the others
    are still reported. With ``OMNIMIG_DEBUG=1`` an unexpected exception propagates instead. ``progress``, when
    given, is called as ``progress(path, bytes read, file size)`` as each file is checked (see
    ``omnimig.validation.progress.FileProgress``); ``steps`` as ``steps(rule, done, total)`` while
    the bundle rules run. ``threads`` (default: ``OMNIMIG_THREADS``, else the idle CPUs: ``omnimig.io.ahead``)
    lets files be checked side by side: a bundle of ``spawn.MIN_BYTES`` or more is shared between
    ``threads - 1`` worker processes and this one (``omnimig.validation.workers``); a smaller one
    is read ahead on a thread while it is checked. Results are the same for any number of threads;
    a worker process that dies raises ``WorkerCrashed`` (a ``ReadError``) naming its file.
    """
    n_threads = resolve_threads(threads)
    lists = load_choices(choices)
    targets, skipped = collect_targets(paths, type_name)
    # Large UTF-8 files are not read once more to check their encoding: the parse checks it.
    lazy = LAZY_UTF8.set(True)
    try:
        if workers.worth_workers([t.path for t in targets], n_threads):
            reported, results, unreadable = _validate_in_workers(
                targets, choices, lists, chunk_rows, progress, options, examples, n_threads
            )
        else:
            reported, results, unreadable = _validate_in_threads(
                targets, lists, chunk_rows, progress, options, examples, n_threads
            )
    finally:
        LAZY_UTF8.reset(lazy)
    broken = {r.type for r in reported if not r.readable and r.type}
    outcome = check_bundle(results, require_all=require_all, progress=steps, unreadable_types=broken, threads=n_threads)
    if strict:
        for r in results:
            r.problems.escalate()
    return Validation(results, outcome, skipped, unreadable, reported)


def _validate_in_threads(
    targets: list[Target],
    lists: dict[str, ChoiceList],
    chunk_rows: int,
    progress: Callable[[Path, int, int], None] | None,
    options: ReadOptions | None,
    examples: int | None,
    n_threads: int,
) -> tuple[list[FileResult], list[FileResult], list[str]]:
    """Every file in this process, one after another; with threads, reading overlaps checking."""
    pool = ThreadPoolExecutor(max_workers=n_threads, thread_name_prefix="omnimig-check") if n_threads > 1 else None
    try:
        opening = _open_ahead(targets[0], chunk_rows, options, n_threads) if targets else None
        return _validate_targets(targets, lists, chunk_rows, progress, options, examples, n_threads, opening, pool)
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _validate_in_workers(
    targets: list[Target],
    choices: Path | None,
    lists: dict[str, ChoiceList],
    chunk_rows: int,
    progress: Callable[[Path, int, int], None] | None,
    options: ReadOptions | None,
    examples: int | None,
    n_threads: int,
) -> tuple[list[FileResult], list[FileResult], list[str]]:
    """Files side by side: ``n_threads - 1`` worker processes and this one (``omnimig.validation.workers``).

    A file checked here runs single-threaded (a second thread here would only take the GIL in
    turns); each result is the one ``validate_file`` gives in-process, so the reports are the same.
    """
    # Two files are read at once, each in a process with its own allocator: quarter-size chunks keep
    # the process tree's peak near one process' (849 vs 889 MB at half size on the 1M bundle, same
    # CPU time; bench/RESULTS.md). The problems do not depend on the chunk size.
    rows = max(1, chunk_rows // 4)
    jobs = [workers.Job(t.path, t.type, choices, rows, options, examples) for t in targets]

    def here(i: int) -> FileResult | str:
        hook = None if progress is None else partial(progress, targets[i].path)
        return _checked(targets[i], lists, rows, hook, options, examples, 1, None, None)

    def begin(i: int) -> None:  # a worker's file gets its bar when it starts, filled when it is done
        if progress is not None:
            progress(targets[i].path, 0, workers.file_size(targets[i].path))

    def done(i: int) -> None:
        if progress is not None:
            size = workers.file_size(targets[i].path)
            progress(targets[i].path, size, size)

    outcomes = workers.run_jobs(jobs, n_threads, here, done, begin)
    return _sorted_out(targets, outcomes)


def _checked(
    target: Target,
    lists: dict[str, ChoiceList],
    chunk_rows: int,
    hook: Callable[[int, int], None] | None,
    options: ReadOptions | None,
    examples: int | None,
    n_threads: int,
    source: Source | None,
    pool: Executor | None,
    opened: Future[Source] | None = None,
    after_open: Callable[[], None] | None = None,
) -> FileResult | str:
    """``validate_file``, or the one line of a file that could not be read (an unexpected failure too).

    ``opened`` is the file already being opened ahead; ``after_open`` runs once it opened (the next
    file is then opened ahead in its turn). A failure to open is the file's one line like any other.
    """
    try:
        if opened is not None:
            source = opened.result()  # waits: an ahead future only runs inside result()
        if after_open is not None:
            after_open()
        return validate_file(
            target,
            lists,
            chunk_rows=chunk_rows,
            progress=hook,
            options=options,
            examples=examples,
            n_threads=n_threads,
            source=source,
            pool=pool,
        )
    except ReadError as exc:
        return str(exc)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one bad file must not take the others down
        if debug_enabled():
            raise
        return internal_error_line(str(target.path), exc)
    finally:
        pa.default_memory_pool().release_unused()  # the file's chunks are gone; its keys stay


def _validate_targets(
    targets: list[Target],
    lists: dict[str, ChoiceList],
    chunk_rows: int,
    progress: Callable[[Path, int, int], None] | None,
    options: ReadOptions | None,
    examples: int | None,
    n_threads: int,
    opening: Future[Source] | None,
    pool: Executor | None,
) -> tuple[list[FileResult], list[FileResult], list[str]]:
    """Each file's field rules, in target order: (reported, read results, unreadable lines)."""
    outcomes: list[FileResult | str] = []
    for i, target in enumerate(targets):
        hook = None if progress is None else partial(progress, target.path)
        opened, opening = opening, None
        ahead: list[Future[Source]] = []
        open_next = partial(_open_next, targets[i + 1 : i + 2], chunk_rows, options, n_threads, ahead)
        outcomes.append(
            _checked(target, lists, chunk_rows, hook, options, examples, n_threads, None, pool, opened, open_next)
        )
        opening = ahead[0] if ahead else None
    return _sorted_out(targets, outcomes)


def _open_next(
    following: list[Target],
    chunk_rows: int,
    options: ReadOptions | None,
    n_threads: int,
    into: list[Future[Source]],
) -> None:
    """Open the next file ahead (its encoding checked while this file is read and checked)."""
    if following:
        into.append(_open_ahead(following[0], chunk_rows, options, n_threads))


def _sorted_out(
    targets: list[Target], outcomes: list[FileResult | str]
) -> tuple[list[FileResult], list[FileResult], list[str]]:
    """(reported, read results, unreadable lines), in target order."""
    results: list[FileResult] = []
    reported: list[FileResult] = []
    unreadable: list[str] = []
    for target, outcome in zip(targets, outcomes, strict=True):
        if isinstance(outcome, str):
            unreadable.append(outcome)
            reported.append(unreadable_result(target, outcome))
        else:
            results.append(outcome)
            reported.append(outcome)
    return reported, results, unreadable
