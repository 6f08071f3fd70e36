"""The ``omnimig`` command line: parses options, calls the library, renders. No rules here."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from typer import _click as click  # the click typer vendors: its Context is what commands are given
from typer.core import TyperArgument, TyperCommand

from omnimig import api, i18n
from omnimig.errors import DEBUG_ENV, debug_enabled, internal_error_line
from omnimig.exceptions import Error
from omnimig.io.safe_text import visible
from omnimig.schemas.rules import load_choices, type_names


def _internal_error(exc: BaseException, doing: str) -> str:
    return internal_error_line(None, exc, doing)


class _App(typer.Typer):
    """The typer app with a last safety net: an unexpected exception in any command is one line, exit 2.

    Commands catch what they expect themselves; this only turns a bug into a line that says so
    instead of a traceback (``--debug`` / ``OMNIMIG_DEBUG=1`` lets the traceback through), and
    Ctrl-C into "interrupted", exit 130.
    """

    def __call__(self, *args: object, **kwargs: object) -> object:
        try:
            return super().__call__(*args, **kwargs)
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            _stderr().print("omnimig: interrupted", markup=False)
            sys.exit(130)
        except Exception as exc:  # the net under every command
            if debug_enabled():
                raise
            _stderr().print(f"omnimig: error: {_internal_error(exc, 'running the command')}", markup=False)
            sys.exit(2)


class Language(StrEnum):
    tr = "tr"
    en = "en"


class _Command(TyperCommand):
    """Usage lines as Unix tools write them (``PATH...``, ``[TYPE]``), not typer's ``{PATH}...``.

    ``--lang`` is also taken after the command (``omnimig validate --lang tr samples/``), where
    people put it, as well as before it (the global option); before ``--`` only, so a file named
    ``--lang`` can still be given after ``--``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest: list[str] = []
        it = iter(args)
        for arg in it:
            if arg == "--":
                rest += [arg, *it]
                break
            if arg == "--lang" or arg.startswith("--lang="):
                value = arg.partition("=")[2] if "=" in arg else next(it, "")
                if value not in {lang.value for lang in Language}:
                    raise typer.BadParameter(
                        f"{value!r} is not one of {', '.join(lang.value for lang in Language)}", param_hint="'--lang'"
                    )
                i18n.use(value)
                continue
            rest.append(arg)
        return super().parse_args(ctx, rest)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if isinstance(param, TyperArgument):
                name = (param.metavar or (param.name or "").upper()).strip("[]")
                name += "..." if param.nargs != 1 else ""
                pieces.append(name if param.required else f"[{name}]")
        return pieces


app = _App(
    help="Lint, convert, sample and upload Akinon (Omnitron) data-migration files.",
    no_args_is_help=True,
    # `omnimig --install-completion` installs shell completion (bash, zsh, fish, PowerShell).
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    # Plain help, as click writes it: the rich panels import markdown-it and rich.markdown, which
    # doubled the start-up time of `omnimig --help`.
    rich_markup_mode=None,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> typer.Exit:
    """One line on stderr and exit code 2: the command could not run. Control characters are shown escaped."""
    _stderr().print(f"omnimig: error: {visible(message)}", markup=False)
    return typer.Exit(2)


def _version(value: bool) -> None:
    if value:
        from omnimig import __version__

        print(f"omnimig {__version__}")
        raise typer.Exit(0)


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Show the Python traceback of an internal error (to report it); same as OMNIMIG_DEBUG=1.",
        ),
    ] = False,
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help="Language of the messages (codes, keys and exit codes stay the same): tr or en; "
            "default: OMNIMIG_LANG, else the locale (LANG=tr_TR.UTF-8 is Turkish), else English.",
        ),
    ] = None,
) -> None:
    """omnimig: know which row breaks which rule before Akinon's importer counts it."""
    i18n.use(None if lang is None else lang.value)  # every run chooses again (None: from the environment)
    if debug:
        os.environ[DEBUG_ENV] = "1"  # the transform and upload commands read only the variable


@app.command(cls=_Command)
def validate(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help="Files or folders to validate.", show_default=False)
    ],
    type_: Annotated[
        str | None,
        typer.Option("--type", "-t", help=f"Migration type when file names do not say it: {', '.join(type_names())}."),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="Report format.")] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help="Treat every warning as an error.")] = False,
    choices: Annotated[
        Path | None,
        typer.Option("--choices", help="JSON file replacing value lists (currencies, shipping-companies, …)."),
    ] = None,
    max_examples: Annotated[int, typer.Option("--max-examples", min=0, help="Examples per rule in text output.")] = 5,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the problems to FILE: .xlsx (annotated workbook), .json or .csv."),
    ] = None,
    report_rows: Annotated[
        int, typer.Option("--report-rows", min=1, help="At most N data rows per sheet of an .xlsx report.")
    ] = 100_000,
    split: Annotated[
        Path | None,
        typer.Option("--split", help="Write OUT/ready/ (rows to migrate now) and OUT/held/ (the rest, with why)."),
    ] = None,
    require_all: Annotated[
        bool, typer.Option("--require-all", help="A bundle missing any of the four types is an error.")
    ] = False,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, hidden=True)] = 200_000,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help="Workbooks: the sheet to read, by name or 1-based number (default: found)."),
    ] = None,
    header_row: Annotated[
        int | None,
        typer.Option("--header-row", min=1, help="Workbooks: the row holding the column names (default: found)."),
    ] = None,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help="Also print the bundle summary: rows per type, orders per status, currency, payment type and "
            "shipping company, created_date range, amount per currency, orders per user (JSON always has it).",
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help="Threads that read ahead while checking (default: OMNIMIG_THREADS, else the idle CPUs); "
            "the report is the same for any number.",
        ),
    ] = None,
) -> None:
    """Check migration files against every field rule; exit 1 when there are errors, 2 when it cannot run."""
    try:
        _validate(
            paths,
            type_,
            output,
            strict,
            choices,
            max_examples,
            report,
            report_rows,
            split,
            require_all,
            chunk_rows,
            sheet,
            header_row,
            summary,
            threads,
        )
    except KeyboardInterrupt:
        if debug_enabled():
            raise
        _stderr().print("omnimig: interrupted", markup=False)
        raise typer.Exit(130) from None


def _guarded(action: str, where: Path | None = None) -> typer.Exit:
    """The exception being handled as one line (exit 2), or re-raised under --debug.

    ``action`` is what was being done ("write the report"); an ``omnimig.Error`` is its own line,
    an ``OSError`` says what the system refused, anything else is an internal error to report.
    """
    exc = sys.exc_info()[1]
    assert exc is not None
    if isinstance(exc, Error):  # written for a person: names the file, row, column
        return fail(str(exc))
    if debug_enabled():
        raise exc
    prefix = f"{where}: " if where is not None else ""
    if isinstance(exc, OSError):
        return fail(f"{prefix}cannot {action}: {exc.strerror or exc}")
    return fail(prefix + _internal_error(exc, f"trying to {action}"))


def _validate(
    paths: list[Path],
    type_: str | None,
    output: OutputFormat,
    strict: bool,
    choices: Path | None,
    max_examples: int,
    report: Path | None,
    report_rows: int,
    split: Path | None,
    require_all: bool,
    chunk_rows: int,
    sheet: str | None,
    header_row: int | None,
    summary: bool,
    threads: int | None = None,
) -> None:
    from omnimig.validation.progress import FileProgress, StepProgress
    from omnimig.validation.result import report_format

    try:
        if report is not None:
            report_format(report)  # a typo in the name costs no validation run
        # Bars on stderr, only on a terminal: large files as they are read, then the bundle rules.
        with FileProgress() as progress, StepProgress(bar=progress.bar) as steps:
            result = api.validate(
                paths,
                type=type_,
                choices=choices,
                strict=strict,
                require_all=require_all,
                sheet=sheet,  # a name, or a number as text: the reader tells
                header_row=header_row,
                examples=max_examples,
                chunk_rows=chunk_rows,
                progress=progress,
                steps=steps.bundle_hook(),
                threads=threads,
            )
    except Exception:  # one line, never a traceback (files already fail one by one)
        raise _guarded("check the bundle") from None
    if report is not None:
        try:
            with StepProgress() as steps:
                result.write(report, rows=report_rows, progress=steps.hook(f"writing {report.name}"))
        except Exception:
            raise _guarded("write the report", report) from None
    counts = []
    if split is not None:
        try:
            with StepProgress() as steps:
                advance = steps.hook(f"writing {split.name}/ready and held")
                counts = result.split(split, progress=lambda path, done, total: advance(done, total))
        except Exception:
            raise _guarded("write the split files", split) from None
    # A value the reader kept as a lone surrogate cannot be encoded: print its escape, never crash.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    err = _stderr()
    for note in result.skipped:
        err.print(f"omnimig: {visible(note)}", markup=False)
    try:
        result.render(output.value, sys.stdout, max_examples=max_examples, summary=summary)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (``| head``): nothing more to print; the outcome still decides the code
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except Exception:
        raise _guarded("print the report") from None
    for c in counts:
        ready = f"{c.ready} ready ({c.ready_path})" if c.ready else "0 ready"
        held = f"{c.held} held ({c.held_path})" if c.held else "0 held"
        err.print(visible(f"split {c.path}: {c.rows} rows = {ready} + {held}"), markup=False)
    for line in result.unreadable:
        err.print(f"omnimig: error: {visible(line)}", markup=False)
    raise typer.Exit(result.exit_code)


class SampleFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command(cls=_Command)
def samples(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the bundle to.")],
    orders: Annotated[int, typer.Option("--orders", min=1, help="Number of orders (users: about a third).")] = 20,
    output: Annotated[SampleFormat, typer.Option("--format", "-f", help="File format.")] = SampleFormat.csv,
    seed: Annotated[int, typer.Option("--seed", help="Same seed and options, byte-identical files.")] = 1,
    locale: Annotated[str, typer.Option("--locale", help="faker locale for names.")] = "tr_TR",
    invalid_rate: Annotated[
        float,
        typer.Option(
            "--invalid-rate",
            min=0.0,
            max=1.0,
            help="Plant defects of every kind (about R x rows) and write DIR/expected_problems.json.",
        ),
    ] = 0.0,
    test_set: Annotated[
        Path | None,
        typer.Option("--test-set", help="Instead: pick one user with an address and an order with items from BUNDLE."),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="With --test-set: the customer_code to pick.")
    ] = None,
) -> None:
    """Write a consistent, valid sample bundle (or, with --test-set, a one-of-each test bundle from real files)."""
    err = _stderr()
    if test_set is not None:
        try:
            picked = api.test_set(test_set, out, customer=customer)
        except Error as exc:
            raise fail(str(exc)) from None
        for pick in picked.picks:
            rows = ", ".join(str(r) for r in pick.rows)
            err.print(f"{pick.type}: {pick.source} row {rows} -> {pick.written}", markup=False)
        err.print(
            visible(f"test set: customer {picked.customer}, order {picked.order}. Upload it first, then check:"),
            markup=False,
        )
        for check in picked.checks():  # how to log in comes from what the user's password cell holds
            err.print(f"  - {visible(check)}", markup=False)
        return
    if customer is not None:
        raise fail("--customer goes with --test-set")
    from rich.progress import Progress

    show = orders >= 50_000 and sys.stderr.isatty()
    with Progress(console=err, disable=not show, transient=True) as bar:
        task = bar.add_task("orders", total=orders)
        try:
            written = api.samples(
                out,
                orders=orders,
                format=output.value,
                seed=seed,
                locale=locale,
                invalid_rate=invalid_rate,
                progress=lambda n: bar.advance(task, n),
            )
        except Error as exc:
            raise fail(str(exc)) from None
        except OSError as exc:
            raise fail(f"{out}: cannot write: {exc.strerror or exc}") from None
    err.print(written.summary(), markup=False)


class TransformSource(StrEnum):
    omnitron_orders = "omnitron-orders"
    shopify = "shopify"
    mapping = "mapping"


class PasswordPolicy(StrEnum):
    empty = "empty"
    unusable = "unusable"


@app.command(cls=_Command)
def transform(
    source: Annotated[
        TransformSource,
        typer.Argument(metavar="SOURCE", help="What the input is: omnitron-orders, shopify or mapping."),
    ],
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUT", help="Export file(s) to convert.")],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder to write the bundle, rejects.csv and changes.csv to.")
    ],
    output: Annotated[SampleFormat, typer.Option("--format", "-f", help="Format of the written files.")] = (
        SampleFormat.csv
    ),
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help="TOML mapping file: the export's layout (mapping source) and, for any source, "
            "[source] options, [defaults] and [values.*] tables.",
        ),
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option("--default", help="TYPE.FIELD=VALUE used where a value is empty (repeatable)."),
    ] = None,
    value_map: Annotated[
        list[str] | None,
        typer.Option("--map", help="TABLE:FROM=TO value-table entry, e.g. shipping_company:1=yurtici (repeatable)."),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="KEY=VALUE reading option, as in the mapping file's [source] (repeatable)."),
    ] = None,
    password_policy: Annotated[
        PasswordPolicy,
        typer.Option(
            "--password-policy",
            help="empty: leave passwords empty (validate reports them); unusable: a value no login matches, "
            "so users set a new password on first login.",
        ),
    ] = PasswordPolicy.empty,
    truncate: Annotated[
        bool,
        typer.Option("--truncate", help="Cut values over a maximum length (each cut is a warning); default: reject."),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty folder omnimig did not create (its files stay; never an input or a "
            "file with a bundle name omnimig did not write).",
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="Also list in changes.csv the changes made the same way to every record (trimming, value "
            "tables, date_joined from the first order); without it they are only counted.",
        ),
    ] = False,
) -> None:
    """Convert a legacy export into a clean upload bundle; every input row is written, merged or rejected."""
    from omnimig.transforms.errors import unexpected
    from omnimig.transforms.settings import apply_flags, load

    console = Console(highlight=False, soft_wrap=True)
    try:
        # The flags are parsed here into the mapping's settings; the API takes them as dicts.
        settings = load(mapping, allow_targets=source is TransformSource.mapping)
        apply_flags(settings, default or [], value_map or [], option or [])
        result = api.transform(
            source.value,
            inputs,
            out,
            format=output.value,
            settings=settings,
            password_policy=password_policy.value,
            truncate=truncate,
            force=force,
            explain=explain,
        )
    except Error as exc:
        raise fail(visible(" ".join(str(exc).split()))) from None
    except OSError as exc:
        raise fail(visible(f"{exc.filename or out}: {exc.strerror or exc}")) from None
    except Exception as exc:  # the boundary: a surprise is one line naming the input, never a traceback
        if debug_enabled():
            raise
        raise fail(str(unexpected(", ".join(str(p) for p in inputs), exc))) from None
    except KeyboardInterrupt:
        _stderr().print(
            "omnimig: interrupted; each file in the output folder is whole (this run's or the last), none half-written",
            markup=False,
        )
        raise typer.Exit(130) from None
    for line in result.lines():
        console.print(visible(line), markup=False)  # cells and file names may hold terminal escapes
    raise typer.Exit(result.exit_code)


@app.command(cls=_Command)
def fix(
    paths: Annotated[list[Path], typer.Argument(metavar="PATH", help="Files or a bundle folder in Akinon's shape.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the corrected copies and changes.csv.")],
    type_: Annotated[
        str | None, typer.Option("--type", "-t", help="Migration type when file names do not say it.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Write only changes.csv: what would be changed, nothing else.")
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help="Apply only these fix codes, comma-separated (see docs/fix.md).")
    ] = None,
    choices: Annotated[
        Path | None, typer.Option("--choices", help="JSON file replacing the default value lists.")
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Write into a non-empty folder omnimig did not create (never over an input)."),
    ] = False,
    locale: Annotated[
        str | None, typer.Option("--locale", help="The files' conventions: tr (1.234,5; 01/02/2023 is day first).")
    ] = None,
) -> None:
    """Correct what is mechanical (decimal commas, phones, dates, TL, evet, spaces), list every change, validate."""
    console = Console(highlight=False, soft_wrap=True)
    try:
        result = api.fix(
            paths, out, type=type_, dry_run=dry_run, only=only, choices=choices, force=force, locale=locale
        )
    except Exception:  # one line, never a traceback
        raise _guarded("fix the files", out) from None
    for note in result.skipped:
        _stderr().print(f"omnimig: {visible(note)}", markup=False)
    for line in result.lines():
        console.print(visible(line), markup=False)  # cells and file names may hold terminal escapes
    raise typer.Exit(result.exit_code)


@app.command(cls=_Command)
def upload(
    directory: Annotated[Path, typer.Argument(metavar="DIR", help="The bundle folder to upload.", show_default=False)],
    url: Annotated[str, typer.Option("--url", help="Omnitron base URL, e.g. https://omnitron.example.com.")],
    channel: Annotated[str, typer.Option("--channel", help="Sales channel id.")],
    token_env: Annotated[str, typer.Option("--token-env", help="Environment variable holding the API token.")] = (
        "OMNIMIG_TOKEN"
    ),
    only: Annotated[list[str] | None, typer.Option("--only", help="Upload only this type (repeatable).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate and print the plan; send nothing.")] = False,
    chunk_rows: Annotated[
        int | None, typer.Option("--chunk-rows", min=1, help="Split files into parts of N rows, one migration each.")
    ] = None,
    test_set: Annotated[
        bool, typer.Option("--test-set", help="Upload only a one-of-each test bundle picked from DIR.")
    ] = False,
    customer: Annotated[str | None, typer.Option("--customer", help="With --test-set: the customer to pick.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Upload even when validation finds errors.")] = False,
    restart: Annotated[
        list[str] | None, typer.Option("--restart", help="Send this type again despite the journal (repeatable).")
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for one migration.")] = 3600.0,
    http_timeout: Annotated[
        float, typer.Option("--http-timeout", min=1, help="Seconds one request may take, all its retries included.")
    ] = 300.0,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.1, help="Seconds between polls.")] = 5.0,
    state_dir: Annotated[
        Path | None, typer.Option("--state-dir", help="Where the journal and audit log live (default DIR/.omnimig).")
    ] = None,
    choices: Annotated[Path | None, typer.Option("--choices", help="JSON file replacing value lists.")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat every warning as an error.")] = False,
    insecure_http: Annotated[
        bool, typer.Option("--insecure-http", help="Allow plain http to a host other than localhost.")
    ] = False,
) -> None:
    """Validate, then upload the bundle to Omnitron in order (user, address, order, order_item), resumably."""
    import contextlib
    import getpass

    from omnimig.uploader import (
        PromptInterrupted,
        RichReporter,
        UploadError,
        UploadRefused,
        UploadResult,
    )
    from omnimig.validation.report import render_text

    err = _stderr()
    out = Console(highlight=False, soft_wrap=True)
    reporter = RichReporter(err)
    bars = contextlib.ExitStack()

    def show_plan(result: UploadResult) -> None:
        """Before anything is sent: the test set picked, the validation report, the warnings."""
        if result.test_set is not None:
            picked = result.test_set
            err.print(
                visible(f"test set: customer {picked.customer}, order {picked.order} -> {result.plan.directory}"),
                markup=False,
            )
        render_text(result.plan.results, out, outcome=result.plan.outcome, show_order=True)
        for warning in result.warnings:
            err.print(f"omnimig: WARNING: {visible(warning)}", markup=False)
        if not result.dry_run:
            bars.enter_context(reporter)  # the progress bars start once the report is printed

    try:
        with bars:
            result = api.upload(
                directory,
                url=url,
                channel=channel,
                token_env=token_env,
                ask=getpass.getpass if sys.stdin.isatty() else None,
                only=only,
                dry_run=dry_run,
                chunk_rows=chunk_rows,
                test_set=test_set,
                customer=customer,
                force=force,
                restart=restart or (),
                timeout=timeout,
                http_timeout=http_timeout,
                poll_interval=poll_interval,
                state_dir=state_dir,
                choices=choices,
                strict=strict,
                insecure_http=insecure_http,
                on_plan=show_plan,
                on_event=reporter,
            )
    except UploadRefused as exc:  # refused before anything was sent: token, URL, option, lock, test set
        raise fail(str(exc)) from None
    except UploadError as exc:
        err.print(f"omnimig: error: {visible(str(exc))}", markup=False)  # a server's text may hold escapes
        raise typer.Exit(1) from None
    except PromptInterrupted as exc:
        if sys.stderr.isatty():  # getpass leaves the cursor after the prompt
            sys.stderr.write("\n")
        err.print(f"omnimig: {exc}", markup=False)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        err.print("omnimig: interrupted; run the same command again to resume", markup=False)
        raise typer.Exit(130) from None
    for line in result.lines():
        out.print(visible(line), markup=False)  # plan and notes name files, which may hold escapes
    if result.checks:
        out.print("Before the real migration, check:", markup=False)
        for check in result.checks:
            out.print(f"  - {visible(check)}", markup=False)
    raise typer.Exit(result.exit_code)


@app.command(cls=_Command)
def serve(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="PORT", help="Port on 127.0.0.1 (0: any free one).")
    ] = 8765,
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")] = False,
    max_upload: Annotated[
        str, typer.Option("--max-upload", metavar="SIZE", help="Largest bundle the page takes: 500MB, 2GB, ...")
    ] = "2GB",
) -> None:
    """A local page: drop a bundle, see every problem and download the reports (127.0.0.1 only; Ctrl-C stops it)."""
    from omnimig.serve import serve as serve_page

    try:
        serve_page(port, open_browser=not no_browser, max_upload=max_upload)
    except Error as exc:
        raise fail(str(exc)) from None


@app.command(cls=_Command)
def schemas(
    type_: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="user, address, order or order_item.")] = None,
    choices: Annotated[Path | None, typer.Option("--choices", help="JSON file replacing value lists.")] = None,
) -> None:
    """Show the rules of one migration type (or all four) as a readable table."""
    from omnimig.schemas import load, type_named
    from omnimig.validation.describe import render_type

    try:
        names = [type_named(type_)] if type_ else type_names()
        lists = load_choices(choices)
    except Error as exc:
        raise fail(str(exc)) from None
    console = Console(highlight=False)
    for name in names:
        render_type(load(name), lists, console)
