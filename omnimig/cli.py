"""The ``omnimig`` command line: parses options, calls the library, renders. No rules here."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from omnimig.io import ReadError
from omnimig.validate.bundle import BundleOutcome
from omnimig.validate.problem import FileResult, escalate
from omnimig.validate.rules import SchemaError, load_choices, table_rules, type_names

app = typer.Typer(
    help="Lint, convert, sample and upload Akinon (Omnitron) data-migration files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"
    csv = "csv"


def fail(message: str) -> typer.Exit:
    """One line on stderr and exit code 2: the command could not run."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(f"omnimig: error: {message}", markup=False)
    return typer.Exit(2)


@app.callback()
def main() -> None:
    """omnimig: know which row breaks which rule before Akinon's importer counts it."""


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to validate.", show_default=False)],
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
) -> None:
    """Check migration files against every field rule; exit 1 when there are errors, 2 when it cannot run."""
    from omnimig.validate.bundle import check_bundle
    from omnimig.validate.report import render_text, to_csv, to_json
    from omnimig.validate.run import UsageError, collect_targets, validate_file

    if report is not None and report.suffix.lower() not in (".xlsx", ".json", ".csv"):
        raise fail(f"{report}: a report is .xlsx, .json or .csv")
    try:
        lists = load_choices(choices)
        targets, skipped = collect_targets(paths, type_)
    except (UsageError, SchemaError) as exc:
        raise fail(str(exc)) from None
    results: list[FileResult] = []
    unreadable: list[str] = []
    for target in targets:
        try:
            results.append(validate_file(target, lists, chunk_rows=chunk_rows))
        except ReadError as exc:
            unreadable.append(str(exc))
    try:
        outcome = check_bundle(results, require_all=require_all)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    if strict:
        for r in results:
            r.problems = escalate(r.problems)
    show_order = len(targets) > 1 or any(p.is_dir() for p in paths)
    if report is not None:
        try:
            write_report(report, results, outcome, report_rows)
        except OSError as exc:
            raise fail(f"{report}: cannot write the report: {exc.strerror or exc}") from None
    counts = []
    if split is not None:
        from omnimig.validate.split import split_bundle

        try:
            counts = split_bundle(results, split)
        except OSError as exc:
            raise fail(f"{split}: cannot write the split files: {exc.strerror or exc}") from None
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for note in skipped:
        err.print(f"omnimig: {note}", markup=False)
    if output is OutputFormat.json:
        sys.stdout.write(to_json(results, outcome) + "\n")
    elif output is OutputFormat.csv:
        sys.stdout.write(to_csv(results, outcome))
    elif results:
        console = Console(highlight=False, soft_wrap=True)
        render_text(results, console, max_examples=max_examples, outcome=outcome, show_order=show_order)
    for c in counts:
        ready = f"{c.ready} ready ({c.ready_path})" if c.ready else "0 ready"
        held = f"{c.held} held ({c.held_path})" if c.held else "0 held"
        err.print(f"split {c.path}: {c.rows} rows = {ready} + {held}", markup=False)
    if unreadable:
        for line in unreadable:
            err.print(f"omnimig: error: {line}", markup=False)
        raise typer.Exit(2)
    raise typer.Exit(1 if any(r.errors for r in results) or outcome.errors else 0)


def write_report(path: Path, results: list[FileResult], outcome: BundleOutcome, report_rows: int) -> None:
    from omnimig.validate.report import to_csv, to_json

    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        from omnimig.validate.workbook import write_workbook

        write_workbook(results, path, report_rows=report_rows, bundle_lines=[*outcome.errors, *outcome.notes])
    elif suffix == ".json":
        path.write_text(to_json(results, outcome) + "\n", encoding="utf-8")
    else:
        path.write_text(to_csv(results, outcome), encoding="utf-8")


class SampleFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"
    json = "json"


@app.command()
def samples(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the bundle to.")],
    orders: Annotated[int, typer.Option("--orders", min=1, help="Number of orders (users: about a third).")] = 20,
    output: Annotated[SampleFormat, typer.Option("--format", "-f", help="File format.")] = SampleFormat.csv,
    seed: Annotated[int, typer.Option("--seed", help="Same seed and options, byte-identical files.")] = 1,
    locale: Annotated[str, typer.Option("--locale", help="faker locale for names.")] = "tr_TR",
    test_set: Annotated[
        Path | None,
        typer.Option("--test-set", help="Instead: pick one user with an address and an order with items from BUNDLE."),
    ] = None,
    customer: Annotated[
        str | None, typer.Option("--customer", help="With --test-set: the customer_code to pick.")
    ] = None,
) -> None:
    """Write a consistent, valid sample bundle (or, with --test-set, a one-of-each test bundle from real files)."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    if test_set is not None:
        from omnimig.samples.testset import TestSetError, pick_test_set

        try:
            picked = pick_test_set([test_set], out, customer=customer)
        except TestSetError as exc:
            raise fail(str(exc)) from None
        for pick in picked.picks:
            rows = ", ".join(str(r) for r in pick.rows)
            err.print(f"{pick.type}: {pick.source} row {rows} -> {pick.written}", markup=False)
        err.print(
            f"test set: customer {picked.customer}, order {picked.order}. Upload it first and check, logged in as "
            "that customer: the address under /account/address/, the order under /users/old-orders/, its items.",
            markup=False,
        )
        return
    if customer is not None:
        raise fail("--customer goes with --test-set")
    from faker.config import AVAILABLE_LOCALES
    from rich.progress import Progress

    from omnimig.samples.generate import generate

    if locale not in AVAILABLE_LOCALES:
        raise fail(f"unknown --locale {locale!r}; use a faker locale such as tr_TR or en_US")

    show = orders >= 50_000 and sys.stderr.isatty()
    with Progress(console=err, disable=not show, transient=True) as bar:
        task = bar.add_task("orders", total=orders)
        try:
            written = generate(
                out, orders=orders, fmt=output.value, seed=seed, locale=locale, progress=lambda n: bar.advance(task, n)
            )
        except OSError as exc:
            raise fail(f"{out}: cannot write: {exc.strerror or exc}") from None
    err.print(written.summary(), markup=False)


@app.command()
def schemas(
    type_: Annotated[str | None, typer.Argument(metavar="[TYPE]", help="user, address, order or order_item.")] = None,
    choices: Annotated[Path | None, typer.Option("--choices", help="JSON file replacing value lists.")] = None,
) -> None:
    """Show the rules of one migration type (or all four) as a readable table."""
    from omnimig.validate.describe import render_type

    if type_ is not None and type_ not in type_names():
        raise fail(f"unknown type {type_!r}; use one of: {', '.join(type_names())}")
    try:
        lists = load_choices(choices)
    except SchemaError as exc:
        raise fail(str(exc)) from None
    console = Console(highlight=False)
    for name in [type_] if type_ else type_names():
        render_type(table_rules(name), lists, console)
