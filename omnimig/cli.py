"""The ``omnimig`` command line: parses options, calls the library, renders. No rules here."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any

import typer
from rich.console import Console
from typer import _click as click  # the click typer vendors: its Context is what commands are given
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperArgument, TyperCommand, TyperGroup

from omnimig import api, i18n
from omnimig.errors import DEBUG_ENV, debug_enabled, internal_error_line
from omnimig.exceptions import Error
from omnimig.i18n import N_, _
from omnimig.io.safe_text import visible
from omnimig.schemas.rules import load_choices, type_names
from omnimig.uploader.credentials import TOKEN_ENV
from omnimig.uploader.defaults import DEFAULT_BUDGET, MIGRATION_TIMEOUT, POLL_INTERVAL


def _internal_error(exc: BaseException, doing: str) -> str:
    return internal_error_line(None, exc, doing)


class _App(typer.Typer):
    """The typer app with a last safety net: an unexpected exception in any command is one line, exit 2.

    Commands catch what they expect themselves; this only turns a bug into a line that says so
    instead of a traceback (``--debug`` / ``OMNIMIG_DEBUG=1`` lets the traceback through), and
    Ctrl-C into "interrupted", exit 130. SIGTERM (``kill``, a CI runner's or a container's stop)
    takes the Ctrl-C path too, so what an interrupted run cleans up (partial files, spill files,
    worker processes) is cleaned up however it was stopped.
    """

    def __call__(self, *args: object, **kwargs: object) -> object:
        previous = _on_sigterm(_terminated)
        try:
            return super().__call__(*args, **kwargs)
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            _stderr().print(_("omnimig: interrupted"), markup=False)
            sys.exit(130)
        except Exception as exc:  # the net under every command
            if debug_enabled():
                raise
            line = _internal_error(exc, _("running the command"))
            _stderr().print(_("omnimig: error: {message}").format(message=line), markup=False)
            sys.exit(2)
        finally:
            _on_sigterm(previous)


#: Set by ``validate`` once its report is printed: ``console`` may then end the process at once.
_done_early = False


def console() -> None:
    """The ``omnimig`` console script: ``app()``, and after ``validate`` a quick way out.

    A validation of millions of rows ends holding hundreds of megabytes of Arrow buffers and
    frames; freeing them piece by piece as the interpreter shuts down took 0.3-0.4 s of a 10 s run
    on the 1M bundle (bench/RESULTS.md, issue 16), for nothing. Once ``validate`` has printed and
    written everything (its files are closed by then, its worker processes gone, spill files
    already unlinked), the streams are flushed and the process ends with its exit code, skipping
    that teardown. Every other command, and ``app`` itself (what tests call), end as usual.
    """
    global _done_early
    _done_early = False  # set again by this run's validate only
    try:
        app()
    except SystemExit as exc:
        if not _done_early:
            raise
        code = exc.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _terminated(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _on_sigterm(handler: Any) -> Any:
    """Set the SIGTERM handler (main thread only; elsewhere signals cannot be handled) and return the old one."""
    if handler is None or threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


class Language(StrEnum):
    tr = "tr"
    en = "en"


#: Help texts built with values (``{types}``): the English text shown -> its message id and values,
#: so that the help can be translated when it is shown (``_help``).
_FORMATTED_HELP: dict[str, tuple[str, dict[str, str]]] = {}

#: The framework's own words in a help page that a command class can render itself (the rest of
#: click's words, such as "Error:" and its usage-error sentences, come from click's gettext domain,
#: which omnimig's catalogue cannot reach without changing the process's gettext state).
_FRAMEWORK_WORDS = (
    N_("Usage: "),
    N_("Arguments"),
    N_("Options"),
    N_("Commands"),
    N_("Show this message and exit."),
    N_("Install completion for the current shell."),
    N_("Show completion for the current shell, to copy it or customize the installation."),
    N_("default: {default}"),
    N_("required"),
)


def _help(msgid: str, **values: str) -> str:
    """A help text with values filled in, remembered so that ``_translated`` can translate it later.

    Typer reads ``help=`` once, when a command is defined, before ``--lang`` is known: the English
    text is stored and each help page translates it through the catalogue when it is rendered.
    """
    text = msgid.format(**values)
    _FORMATTED_HELP[text] = (msgid, values)
    return text


def _translated(text: str | None) -> str | None:
    """A help text (marked with ``N_`` or made by ``_help``) in the current language."""
    if not text:
        return text
    msgid, values = _FORMATTED_HELP.get(text, (text, {}))
    return _(msgid).format(**values) if values else _(msgid)


def _framework_extras(text: str) -> str:
    """Click's ``[default: …; required]`` note after a parameter's help, in the current language."""
    if i18n.current() == i18n.DEFAULT or not text.endswith("]"):
        return text
    head, bracket, note = text.rpartition("[")
    if not bracket:
        return text
    words = []
    for word in note[:-1].split("; "):
        if word.startswith("default: "):
            word = _("default: {default}").format(default=word.removeprefix("default: "))
        elif word == "required":
            word = _("required")
        words.append(word)
    return f"{head}[{'; '.join(words)}]"


@contextlib.contextmanager
def _in_language(command: click.Command, ctx: click.Context) -> Iterator[None]:
    """The command's and its parameters' help texts in the current language while a help page is written."""
    params = command.get_params(ctx)
    saved = (command.help, [getattr(p, "help", None) for p in params])
    command.help = _translated(command.help)
    for p in params:
        if getattr(p, "help", None):
            p.help = _translated(p.help)  # type: ignore[attr-defined]
    try:
        yield
    finally:
        command.help = saved[0]
        for p, text in zip(params, saved[1], strict=True):
            if text is not None:
                p.help = text  # type: ignore[attr-defined]


class _Translated(click.Command):
    """Help pages written in the language of the run (``--lang``, ``OMNIMIG_LANG``, the locale).

    The help texts stay English where they are defined (the message ids, marked with ``N_``) and
    are translated while a page is rendered, whether by click's formatter or by rich.
    """

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with _in_language(self, ctx):
            super().format_help(ctx, formatter)

    def get_short_help_str(self, limit: int = 45) -> str:
        saved = self.help
        self.help = _translated(self.help)
        try:
            return super().get_short_help_str(limit)
        finally:
            self.help = saved

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=_("Usage: "))

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {"argument": [], "option": []}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is not None and param.param_type_name in sections:
                sections[param.param_type_name].append((record[0], _framework_extras(record[1])))
        for kind, title in (("argument", _("Arguments")), ("option", _("Options"))):
            if sections[kind]:
                with formatter.section(title):
                    formatter.write_dl(sections[kind])


def _lang_value(value: str) -> str:
    """``value`` as a ``--lang`` value, or a usage error (exit 2) that says which ones there are."""
    if value not in {lang.value for lang in Language}:
        raise typer.BadParameter(
            _("{value} is not one of {choices}").format(
                value=repr(value), choices=", ".join(lang.value for lang in Language)
            ),
            param_hint="'--lang'",
        )
    return value


#: Click's usage-error sentences as the click typer vendors writes them (in English, with no
#: catalogue to hook), each as a pattern of the English line and the message id of its Turkish:
#: ``_click_error`` rewrites a line that matches and leaves any other line as click wrote it.
_CLICK_ERRORS = (
    (r"Missing (?P<kind>option|argument|parameter) (?P<hint>.+?)\.(?P<rest>.*)", N_("Missing {kind} {hint}.")),
    (r"Missing (?P<kind>option|argument|parameter)\.(?P<rest>.*)", N_("Missing {kind}.")),
    (r"Invalid value for (?P<hint>.+?): (?P<message>.*)", N_("Invalid value for {hint}: {message}")),
    (r"Invalid value: (?P<message>.*)", N_("Invalid value: {message}")),
    (r"No such option: (?P<name>\S+) \(Possible options: (?P<options>.*)\)", N_("No such option: {name} ({options})")),
    (r"No such option: (?P<name>.*)", N_("No such option: {name}")),
    (r"No such command (?P<name>.*)\.", N_("No such command {name}.")),
    (r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", N_("Got unexpected extra argument(s) ({args})")),
    (r"Missing command\.", N_("Missing command.")),
    # what a bad value is told (the message of "Invalid value for ...": typer's types and pydantic's)
    (r"(?:Value error, )?(?P<value>.+?) is not one of (?P<choices>.+?)\.?", N_("{value} is not one of {choices}")),
    (r"Input should be a valid integer.*", N_("Input should be a valid integer")),
    (r"Input should be a valid number.*", N_("Input should be a valid number")),
    (r"Input should be greater than or equal to (?P<n>\S+)", N_("Input should be greater than or equal to {n}")),
    (r"Input should be less than or equal to (?P<n>\S+)", N_("Input should be less than or equal to {n}")),
)
#: The kinds of parameter a "Missing ..." line names.
_PARAMETER_KINDS = {"option": N_("option"), "argument": N_("argument"), "parameter": N_("parameter")}


def _click_error(message: str) -> str:
    """One of click's usage-error lines in the current language (as it is when no pattern knows it)."""
    for pattern, msgid in _CLICK_ERRORS:
        found = re.fullmatch(pattern, message, re.DOTALL)
        if found is not None:
            values = found.groupdict()
            if "kind" in values:
                values["kind"] = _(_PARAMETER_KINDS[values["kind"]])
            if "message" in values:
                values["message"] = _click_error(values["message"])
            if "options" in values:
                values["options"] = _("Possible options: {options}").format(options=values["options"])
            return _(msgid).format(**values) + values.get("rest", "")
    return message


class _TranslatedUsageError(UsageError):
    """A usage error of click's, shown in the language of the run: same exit code, same usage line."""

    def __init__(self, original: UsageError) -> None:
        super().__init__(_click_error(original.format_message()), original.ctx)
        self.exit_code = original.exit_code

    def show(self, file: IO[Any] | None = None) -> None:
        out = file if file is not None else sys.stderr
        color = self.ctx.color if self.ctx is not None else None
        if self.ctx is not None:
            hint = ""
            if self.ctx.command.get_help_option(self.ctx) is not None:
                command, option = self.ctx.command_path, self.ctx.help_option_names[0]
                hint = _("Try '{command} {option}' for help.").format(command=command, option=option) + "\n"
            typer.echo(f"{self.ctx.get_usage()}\n{hint}", file=out, color=color)
        typer.echo(_("Error: {message}").format(message=self.format_message()), file=out, color=color)


@contextlib.contextmanager
def _usage_errors_in_language() -> Iterator[None]:
    """Click's usage errors (unknown option, missing argument, bad value) in the language of the run."""
    try:
        yield
    except UsageError as exc:
        if i18n.current() == i18n.DEFAULT or isinstance(exc, NoArgsIsHelpError | _TranslatedUsageError):
            raise
        raise _TranslatedUsageError(exc) from None


class _Group(_Translated, TyperGroup):
    """The ``omnimig`` group: ``--lang`` before the command decides the language of ``omnimig --help`` too.

    ``--help`` is eager: click writes the page while it parses, before the callback that reads
    ``--lang`` runs. So the language is chosen here, from the arguments before the command's name.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        chosen: str | None = None
        it = iter(args)
        for arg in it:
            if arg == "--lang":
                chosen = next(it, None)
            elif arg.startswith("--lang="):
                chosen = arg.partition("=")[2]
            elif not arg.startswith("-") or arg == "--":
                break  # the command's name: its own arguments are its own
        known = {lang.value for lang in Language}
        i18n.use(chosen if chosen in known else None)  # a bad value: click's parsing says so
        with _usage_errors_in_language():
            return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        with _usage_errors_in_language():  # the command's own parsing happens here
            return super().invoke(ctx)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands and their one-line help, as TyperGroup lists them, under a translated title."""
        commands = [(name, cmd) for name in self.list_commands(ctx) if (cmd := self.get_command(ctx, name))]
        commands = [(name, cmd) for name, cmd in commands if not cmd.hidden]
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _cmd in commands)
            with formatter.section(_("Commands")):
                formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in commands])


class _Command(_Translated, TyperCommand):
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
                i18n.use(_lang_value(value))
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
    cls=_Group,
    help=N_("Lint, convert, sample and upload Akinon (Omnitron) data-migration files."),
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
    _stderr().print(_("omnimig: error: {message}").format(message=visible(message)), markup=False)
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
        typer.Option("--version", "-V", callback=_version, is_eager=True, help=N_("Print the version and exit.")),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help=N_("Show the Python traceback of an internal error (to report it); same as OMNIMIG_DEBUG=1."),
        ),
    ] = False,
    lang: Annotated[
        Language | None,
        typer.Option(
            "--lang",
            help=N_(
                "Language of the messages (codes, keys and exit codes stay the same): tr or en; "
                "default: OMNIMIG_LANG, else the locale (LANG=tr_TR.UTF-8 is Turkish), else English."
            ),
        ),
    ] = None,
) -> None:
    """omnimig: know which row breaks which rule before Akinon's importer counts it."""
    i18n.use(None if lang is None else lang.value)  # every run chooses again (None: from the environment)
    if debug:
        os.environ[DEBUG_ENV] = "1"  # the transform and upload commands read only the variable


@app.command(
    cls=_Command,
    help=N_("Check migration files against every field rule; exit 1 when there are errors, 2 when it cannot run."),
)
def validate(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help=N_("Files or folders to validate."), show_default=False)
    ],
    type_: Annotated[
        str | None,
        typer.Option(
            "--type",
            "-t",
            help=_help(N_("Migration type when file names do not say it: {types}."), types=", ".join(type_names())),
        ),
    ] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help=N_("Report format."))] = OutputFormat.text,
    strict: Annotated[bool, typer.Option("--strict", help=N_("Treat every warning as an error."))] = False,
    choices: Annotated[
        Path | None,
        typer.Option("--choices", help=N_("JSON file replacing value lists (currencies, shipping-companies, …).")),
    ] = None,
    max_examples: Annotated[
        int, typer.Option("--max-examples", min=0, help=N_("Examples per rule in text output."))
    ] = 5,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help=N_("Also write the problems to FILE: .xlsx (annotated workbook), .json or .csv.")
        ),
    ] = None,
    report_rows: Annotated[
        int, typer.Option("--report-rows", min=1, help=N_("At most N data rows per sheet of an .xlsx report."))
    ] = 100_000,
    split: Annotated[
        Path | None,
        typer.Option("--split", help=N_("Write OUT/ready/ (rows to migrate now) and OUT/held/ (the rest, with why).")),
    ] = None,
    require_all: Annotated[
        bool, typer.Option("--require-all", help=N_("A bundle missing any of the four types is an error."))
    ] = False,
    chunk_rows: Annotated[int, typer.Option("--chunk-rows", min=1, hidden=True)] = 200_000,
    sheet: Annotated[
        str | None,
        typer.Option("--sheet", help=N_("Workbooks: the sheet to read, by name or 1-based number (default: found).")),
    ] = None,
    header_row: Annotated[
        int | None,
        typer.Option("--header-row", min=1, help=N_("Workbooks: the row holding the column names (default: found).")),
    ] = None,
    summary: Annotated[
        bool,
        typer.Option(
            "--summary",
            help=N_(
                "Also print the bundle summary: rows per type, orders per status, currency, payment type and "
                "shipping company, created_date range, amount per currency, orders per user (JSON always has it)."
            ),
        ),
    ] = False,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads",
            min=1,
            help=N_(
                "Threads that read ahead while checking (default: OMNIMIG_THREADS, else the idle CPUs); "
                "the report is the same for any number."
            ),
        ),
    ] = None,
) -> None:
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
        _stderr().print(_("omnimig: interrupted"), markup=False)
        raise typer.Exit(130) from None


def _guarded(action: str, where: Path | None = None) -> typer.Exit:
    """The exception being handled as one line (exit 2), or re-raised under --debug.

    ``action`` is what was being done (``N_("write the report")``, translated here); an
    ``omnimig.Error`` is its own line, an ``OSError`` says what the system refused, anything else
    is an internal error to report.
    """
    exc = sys.exc_info()[1]
    assert exc is not None
    if isinstance(exc, Error):  # written for a person: names the file, row, column
        return fail(str(exc))
    if debug_enabled():
        raise exc
    prefix = f"{where}: " if where is not None else ""
    if isinstance(exc, OSError):
        return fail(prefix + _("cannot {action}: {reason}").format(action=_(action), reason=exc.strerror or exc))
    return fail(prefix + _internal_error(exc, _("trying to {action}").format(action=_(action))))


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
        raise _guarded(N_("check the bundle")) from None
    if report is not None:
        try:
            with StepProgress() as steps:
                result.write(
                    report, rows=report_rows, progress=steps.hook(_("writing {name}").format(name=report.name))
                )
        except Exception:
            raise _guarded(N_("write the report"), report) from None
    counts = []
    if split is not None:
        try:
            with StepProgress() as steps:
                advance = steps.hook(_("writing {name}/ready and held").format(name=split.name))
                counts = result.split(split, progress=lambda path, done, total: advance(done, total))
        except Exception:
            raise _guarded(N_("write the split files"), split) from None
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
        raise _guarded(N_("print the report")) from None
    for c in counts:
        err.print(visible(c.line()), markup=False)
    for line in result.unreadable:
        err.print(_("omnimig: error: {message}").format(message=visible(line)), markup=False)
    global _done_early
    _done_early = True  # everything is out: ``console`` may skip the interpreter's teardown
    raise typer.Exit(result.exit_code)


class SampleFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command(
    cls=_Command,
    help=N_(
        "Write a consistent, valid sample bundle (or, with --test-set, a one-of-each test bundle from real files)."
    ),
)
def samples(
    out: Annotated[Path, typer.Option("--out", "-o", help=N_("Folder to write the bundle to."))],
    orders: Annotated[int, typer.Option("--orders", min=1, help=N_("Number of orders (users: about a third)."))] = 20,
    output: Annotated[SampleFormat, typer.Option("--format", "-f", help=N_("File format."))] = SampleFormat.csv,
    seed: Annotated[int, typer.Option("--seed", help=N_("Same seed and options, byte-identical files."))] = 1,
    locale: Annotated[str, typer.Option("--locale", help=N_("faker locale for names."))] = "tr_TR",
    invalid_rate: Annotated[
        float,
        typer.Option(
            "--invalid-rate",
            min=0.0,
            max=1.0,
            help=N_("Plant defects of every kind (about R x rows) and write DIR/expected_problems.json."),
        ),
    ] = 0.0,
    test_set: Annotated[
        Path | None,
        typer.Option(
            "--test-set", help=N_("Instead: pick one user with an address and an order with items from BUNDLE.")
        ),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help=N_("With --test-set: the customer_code to pick."))
    ] = None,
) -> None:
    err = _stderr()
    if test_set is not None:
        try:
            picked = api.test_set(test_set, out, customer=customer)
        except Error as exc:
            raise fail(str(exc)) from None
        for pick in picked.picks:
            rows = ", ".join(str(r) for r in pick.rows)
            line = _("{type}: {source} row {rows} -> {written}")
            err.print(line.format(type=pick.type, source=pick.source, rows=rows, written=pick.written), markup=False)
        line = _("test set: customer {customer}, order {order}. Upload it first, then check:")
        err.print(visible(line.format(customer=picked.customer, order=picked.order)), markup=False)
        for check in picked.checks():  # how to log in comes from what the user's password cell holds
            err.print(f"  - {visible(check)}", markup=False)
        return
    if customer is not None:
        raise fail(_("--customer goes with --test-set"))
    from rich.progress import Progress

    show = orders >= 50_000 and sys.stderr.isatty()
    with Progress(console=err, disable=not show, transient=True) as bar:
        task = bar.add_task(_("orders"), total=orders)
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
            raise fail(_("{path}: cannot write: {reason}").format(path=out, reason=exc.strerror or exc)) from None
    err.print(written.summary(), markup=False)


class TransformSource(StrEnum):
    omnitron_orders = "omnitron-orders"
    shopify = "shopify"
    mapping = "mapping"


class PasswordPolicy(StrEnum):
    empty = "empty"
    unusable = "unusable"


@app.command(
    cls=_Command,
    help=N_("Convert a legacy export into a clean upload bundle; every input row is written, merged or rejected."),
)
def transform(
    source: Annotated[
        TransformSource,
        typer.Argument(metavar="SOURCE", help=N_("What the input is: omnitron-orders, shopify or mapping.")),
    ],
    inputs: Annotated[list[Path], typer.Argument(metavar="INPUT", help=N_("Export file(s) to convert."))],
    out: Annotated[
        Path, typer.Option("--out", "-o", help=N_("Folder to write the bundle, rejects.csv and changes.csv to."))
    ],
    output: Annotated[SampleFormat, typer.Option("--format", "-f", help=N_("Format of the written files."))] = (
        SampleFormat.csv
    ),
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            "-m",
            help=N_(
                "TOML mapping file: the export's layout (mapping source) and, for any source, "
                "[source] options, [defaults] and [values.*] tables."
            ),
        ),
    ] = None,
    default: Annotated[
        list[str] | None,
        typer.Option("--default", help=N_("TYPE.FIELD=VALUE used where a value is empty (repeatable).")),
    ] = None,
    value_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map", help=N_("TABLE:FROM=TO value-table entry, e.g. shipping_company:1=yurtici (repeatable).")
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help=N_("KEY=VALUE reading option, as in the mapping file's [source] (repeatable).")),
    ] = None,
    password_policy: Annotated[
        PasswordPolicy,
        typer.Option(
            "--password-policy",
            help=N_(
                "empty: leave passwords empty (validate reports them); unusable: a value no login matches, "
                "so users set a new password on first login."
            ),
        ),
    ] = PasswordPolicy.empty,
    truncate: Annotated[
        bool,
        typer.Option(
            "--truncate", help=N_("Cut values over a maximum length (each cut is a warning); default: reject.")
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help=N_(
                "Write into a non-empty folder omnimig did not create (its files stay; never an input or a "
                "file with a bundle name omnimig did not write)."
            ),
        ),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help=N_(
                "Also list in changes.csv the changes made the same way to every record (trimming, value "
                "tables, date_joined from the first order); without it they are only counted."
            ),
        ),
    ] = False,
) -> None:
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
            _(
                "omnimig: interrupted; each file in the output folder is whole (this run's or the last), "
                "none half-written"
            ),
            markup=False,
        )
        raise typer.Exit(130) from None
    for line in result.lines():
        console.print(visible(line), markup=False)  # cells and file names may hold terminal escapes
    raise typer.Exit(result.exit_code)


@app.command(
    cls=_Command,
    help=N_(
        "Correct what is mechanical (decimal commas, phones, dates, TL, evet, spaces), list every change, validate."
    ),
)
def fix(
    paths: Annotated[
        list[Path], typer.Argument(metavar="PATH", help=N_("Files or a bundle folder in Akinon's shape."))
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help=N_("Folder for the corrected copies and changes.csv."))],
    type_: Annotated[
        str | None, typer.Option("--type", "-t", help=N_("Migration type when file names do not say it."))
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help=N_("Write only changes.csv: what would be changed, nothing else."))
    ] = False,
    only: Annotated[
        str | None, typer.Option("--only", help=N_("Apply only these fix codes, comma-separated (see docs/fix.md)."))
    ] = None,
    choices: Annotated[
        Path | None, typer.Option("--choices", help=N_("JSON file replacing the default value lists."))
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help=N_("Write into a non-empty folder omnimig did not create (never over an input).")),
    ] = False,
    locale: Annotated[
        str | None, typer.Option("--locale", help="The files' conventions: tr (1.234,5; 01/02/2023 is day first).")
    ] = None,
) -> None:
    console = Console(highlight=False, soft_wrap=True)
    try:
        result = api.fix(
            paths, out, type=type_, dry_run=dry_run, only=only, choices=choices, force=force, locale=locale
        )
    except Exception:  # one line, never a traceback
        raise _guarded(N_("fix the files"), out) from None
    for note in result.skipped:
        _stderr().print(f"omnimig: {visible(note)}", markup=False)
    for line in result.lines():
        console.print(visible(line), markup=False)  # cells and file names may hold terminal escapes
    raise typer.Exit(result.exit_code)


@app.command(
    cls=_Command,
    help=N_("Validate, then upload the bundle to Omnitron in order (user, address, order, order_item), resumably."),
)
def upload(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help=N_("The bundle folder to upload."), show_default=False)
    ],
    url: Annotated[str, typer.Option("--url", help=N_("Omnitron base URL, e.g. https://omnitron.example.com."))],
    channel: Annotated[str, typer.Option("--channel", help=N_("Sales channel id."))],
    token_env: Annotated[
        str, typer.Option("--token-env", help=N_("Environment variable holding the API token."))
    ] = TOKEN_ENV,
    only: Annotated[list[str] | None, typer.Option("--only", help=N_("Upload only this type (repeatable)."))] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help=N_("Validate and print the plan; send nothing."))] = False,
    chunk_rows: Annotated[
        int | None,
        typer.Option("--chunk-rows", min=1, help=N_("Split files into parts of N rows, one migration each.")),
    ] = None,
    test_set: Annotated[
        bool, typer.Option("--test-set", help=N_("Upload only a one-of-each test bundle picked from DIR."))
    ] = False,
    customer: Annotated[
        str | None, typer.Option("--customer", help=N_("With --test-set: the customer to pick."))
    ] = None,
    force: Annotated[bool, typer.Option("--force", help=N_("Upload even when validation finds errors."))] = False,
    restart: Annotated[
        list[str] | None, typer.Option("--restart", help=N_("Send this type again despite the journal (repeatable)."))
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help=N_("Seconds to wait for one migration."))] = (
        MIGRATION_TIMEOUT
    ),
    http_timeout: Annotated[
        float, typer.Option("--http-timeout", min=1, help=N_("Seconds one request may take, all its retries included."))
    ] = DEFAULT_BUDGET,
    poll_interval: Annotated[float, typer.Option("--poll-interval", min=0.1, help=N_("Seconds between polls."))] = (
        POLL_INTERVAL
    ),
    state_dir: Annotated[
        Path | None,
        typer.Option("--state-dir", help=N_("Where the journal and audit log live (default DIR/.omnimig).")),
    ] = None,
    choices: Annotated[Path | None, typer.Option("--choices", help=N_("JSON file replacing value lists."))] = None,
    strict: Annotated[bool, typer.Option("--strict", help=N_("Treat every warning as an error."))] = False,
    insecure_http: Annotated[
        bool, typer.Option("--insecure-http", help=N_("Allow plain http to a host other than localhost."))
    ] = False,
) -> None:
    import contextlib
    import getpass

    from omnimig.uploader import (
        PromptInterrupted,
        RichReporter,
        UploadError,
        UploadRefused,
        UploadResult,
    )
    from omnimig.uploader.run import ParameterError
    from omnimig.validation.report import render_text

    err = _stderr()
    out = Console(highlight=False, soft_wrap=True)
    reporter = RichReporter(err)
    bars = contextlib.ExitStack()

    def show_plan(result: UploadResult) -> None:
        """Before anything is sent: the test set picked, the validation report, the warnings."""
        if result.test_set is not None:
            picked = result.test_set
            line = _("test set: customer {customer}, order {order} -> {directory}")
            shown = line.format(customer=picked.customer, order=picked.order, directory=result.plan.directory)
            err.print(visible(shown), markup=False)
        render_text(result.plan.results, out, outcome=result.plan.outcome, show_order=True)
        for warning in result.warnings:
            err.print(_("omnimig: WARNING: {warning}").format(warning=visible(warning)), markup=False)
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
    except ParameterError as exc:  # named as typed here: each keyword's option is --its-name (a test holds it)
        raise fail(exc.naming("--" + exc.parameter.replace("_", "-"))) from None
    except UploadRefused as exc:  # refused before anything was sent: token, URL, option, lock, test set
        raise fail(str(exc)) from None
    except UploadError as exc:
        # a server's text may hold escapes
        err.print(_("omnimig: error: {message}").format(message=visible(str(exc))), markup=False)
        raise typer.Exit(1) from None
    except PromptInterrupted as exc:
        if sys.stderr.isatty():  # getpass leaves the cursor after the prompt
            sys.stderr.write("\n")
        err.print(f"omnimig: {exc}", markup=False)
        raise typer.Exit(130) from None
    except KeyboardInterrupt:
        err.print(_("omnimig: interrupted; run the same command again to resume"), markup=False)
        raise typer.Exit(130) from None
    for line in result.lines():
        out.print(visible(line), markup=False)  # plan and notes name files, which may hold escapes
    if result.checks:
        out.print(_("Before the real migration, check:"), markup=False)
        for check in result.checks:
            out.print(f"  - {visible(check)}", markup=False)
    raise typer.Exit(result.exit_code)


@app.command(
    cls=_Command,
    help=N_(
        "A local page: drop a bundle, see every problem and download the reports (127.0.0.1 only; Ctrl-C stops it)."
    ),
)
def serve(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, metavar="PORT", help=N_("Port on 127.0.0.1 (0: any free one)."))
    ] = 8765,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help=N_("Print the address; do not open a browser."))
    ] = False,
    max_upload: Annotated[
        str, typer.Option("--max-upload", metavar="SIZE", help=N_("Largest bundle the page takes: 500MB, 2GB, ..."))
    ] = "2GB",
) -> None:
    from omnimig.serve import serve as serve_page

    try:
        serve_page(port, open_browser=not no_browser, max_upload=max_upload)
    except Error as exc:
        raise fail(str(exc)) from None


@app.command(cls=_Command, help=N_("Show the rules of one migration type (or all four) as a readable table."))
def schemas(
    type_: Annotated[
        str | None, typer.Argument(metavar="[TYPE]", help=N_("user, address, order or order_item."))
    ] = None,
    choices: Annotated[Path | None, typer.Option("--choices", help=N_("JSON file replacing value lists."))] = None,
) -> None:
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
