"""Render results: text for people, JSON for CI (the contract in DESIGN.md), CSV for spreadsheets.

JSON and CSV are written as a stream from each file's ``ProblemStore`` (in report order), so a
file with a million problems never becomes a million Python dicts at once; the text report
reads only the exact counts and the first examples the store keeps.

Text printed to a terminal goes through ``visible`` (a cell or file name holding escape
sequences is shown, never obeyed). CSV renderings are opened by people in spreadsheets: every
text cell that a spreadsheet would read as a formula (``=``, ``+``, ``-``, ``@``, tab, CR, but not
a plain number) is written with a leading apostrophe (OWASP), and a last row with the rule
``formula-neutralised`` says how many; the JSON report and the input files are never changed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from typing import IO, Any, cast

import orjson
from rich.console import Console
from rich.markup import escape

from omnimig.i18n import N_, _, current, ngettext
from omnimig.i18n import number as figure
from omnimig.io.safe_text import neutralise_formula, visible
from omnimig.schemas.rules import migration_types
from omnimig.validation.bundle import BundleOutcome
from omnimig.validation.problem import FileResult, Problem
from omnimig.validation.result import Fixes
from omnimig.validation.stats import BundleStats

CSV_COLUMNS = ("file", "type", "row", "field", "rule", "severity", "value", "message", "suggestion")
#: The rule of the last CSV row, when some cells were written with a leading apostrophe.
FORMULA_RULE = "formula-neutralised"
#: A bundle problem's severity as the text report names it (the code stays in JSON and CSV).
SEVERITY_NAMES = {"error": N_("error"), "warning": N_("warning"), "note": N_("note")}


def shown(text: object) -> str:
    """Text for the terminal: control characters escaped, rich markup escaped."""
    return escape(visible(str(text)))


def summary(results: list[FileResult], outcome: BundleOutcome | None = None) -> dict[str, int]:
    """Exact counts: every file's errors and warnings plus the bundle's own errors (notes count as neither)."""
    return {
        "errors": sum(r.errors for r in results) + (len(outcome.errors) if outcome else 0),
        "warnings": sum(r.warnings for r in results),
        "rows": sum(r.rows for r in results),
    }


def bundle_problems(outcome: BundleOutcome | None) -> list[Problem]:
    """The bundle's own problems (file ""), errors first: what every renderer adds after the files'."""
    if outcome is None:
        return []
    return sorted(outcome.problems, key=lambda p: p.severity != "error")


def upload_order(results: list[FileResult]) -> list[dict[str, object]]:
    """The bundle's types in upload order, each with its files, rows and errors (an unreadable file says so)."""
    steps = []
    for mtype in migration_types():
        files = [r for r in results if r.type == mtype.name and (r.format is not None or not r.readable)]
        errors = sum(r.errors for r in files)
        steps.append(
            {
                "type": mtype.name,
                "files": [
                    {"path": r.path, "rows": r.rows, "errors": r.errors, **({} if r.readable else {"unreadable": True})}
                    for r in files
                ],
                "rows": sum(r.rows for r in files),
                "errors": errors,
                "ready": bool(files) and errors == 0,
            }
        )
    return steps


def _dumps(value: object) -> str:
    """Compact JSON for one value; a lone surrogate (orjson refuses it) is written as its escape."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value, ensure_ascii=True)


def write_json(
    results: list[FileResult],
    outcome: BundleOutcome | None,
    out: IO[str],
    progress: Callable[[int, int], None] | None = None,
    fixes: Fixes | None = None,
) -> None:
    """The JSON report, streamed: one problem per line (compact, by orjson), in report order.

    ``progress(problems written, problems)`` is called as batches are written. Every problem says
    whether ``omnimig fix`` corrects it (``fixable``), and a fixable one carries the value it
    writes (``suggestion``) when it is a cell's.
    """
    fixes = fixes or Fixes()
    total = sum(len(r.problems) for r in results)
    written = 0
    # The language of every "message" below; codes, keys and values are the same in every language.
    out.write('{\n  "language": ' + json.dumps(current()) + ',\n  "files": [')
    for i, r in enumerate(results):
        head = {
            "path": r.path,
            "type": r.type,
            "format": r.format,
            "rows": r.rows,
            "errors": r.errors,
            "warnings": r.warnings,
        }
        head_text = json.dumps(head, ensure_ascii=False)[:-1]  # the few heads as json.dumps spaces them
        out.write(("," if i else "") + "\n    " + head_text + ', "problems": [')
        first = True
        file, type_name = r.path, r.type
        parts: list[str] = []
        fmt = r.format
        for row, field, rule, severity, value, message in r.problems.entries():
            item: dict[str, object] = {
                "file": file,
                "type": type_name,
                "row": row,
                "field": field,
                "rule": rule,
                "severity": severity,
                "value": value,
                "message": message,
                "fixable": fixes.fixable(type_name, field, fmt, rule, value),
            }
            suggestion = fixes.get(type_name, field, fmt, value)
            if suggestion is not None:
                item["suggestion"] = suggestion
            parts.append(_dumps(item))
            if len(parts) >= 4_096:
                out.write(("\n      " if first else ",\n      ") + ",\n      ".join(parts))
                written += len(parts)
                first, parts = False, []
                if progress is not None:
                    progress(written, total)
        if parts:
            out.write(("\n      " if first else ",\n      ") + ",\n      ".join(parts))
            first = False
        out.write("]}" if first else "\n    ]}")
    totals: dict[str, object] = dict(summary(results, outcome))
    if outcome is not None and outcome.stats is not None:
        totals.update(outcome.stats.to_dict())  # the bundle summary beside the counts: rows per type, …
    out.write(("\n  ]" if results else "]") + ',\n  "summary": ' + json.dumps(totals, ensure_ascii=False))
    if outcome is not None:
        bundle = {
            "upload_order": upload_order(results),
            "notes": outcome.notes,
            "errors": outcome.errors,
            # the same as notes and errors, as Problems with rule codes (missing-file, not-checked)
            "problems": [p.to_dict() for p in bundle_problems(outcome)],
        }
        out.write(',\n  "bundle": ' + json.dumps(bundle, ensure_ascii=False, indent=2).replace("\n", "\n  "))
    out.write("\n}\n")


def _csv_rows(results: list[FileResult], outcome: BundleOutcome | None, fixes: Fixes) -> Iterator[tuple[object, ...]]:
    for r in results:
        file, type_name, fmt = r.path, r.type, r.format
        for row, field, rule, severity, value, message in r.problems.entries():
            suggestion = fixes.get(type_name, field, fmt, value)
            yield (file, type_name, row, field, rule, severity, value, message, suggestion)
    for p in bundle_problems(outcome):
        # One line per problem to fix: a note (a rule not checked) is no such thing, and a
        # single-file run would otherwise always end with one; text, JSON and workbook show notes.
        if p.severity != "note":
            yield (p.file, p.type, p.row, p.field, p.rule, p.severity, p.value, p.message, None)


def write_csv(
    results: list[FileResult],
    outcome: BundleOutcome | None,
    out: IO[str],
    progress: Callable[[int, int], None] | None = None,
    fixes: Fixes | None = None,
) -> int:
    """One problem per line, formula-like cells neutralised; returns how many cells were.

    Bundle problems (a type missing under --require-all, a rule not checked) have no file. ``progress(problems
    written, problems)`` is called every few thousand lines. ``suggestion`` is the value ``omnimig fix``
    writes for a problem it corrects (empty otherwise).
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    neutralised = 0
    total = sum(len(r.problems) for r in results)
    for n, values in enumerate(_csv_rows(results, outcome, fixes or Fixes()), start=1):
        if progress is not None and not n % 4_096:
            progress(n, total)
        cells = []
        for v in values:
            if not isinstance(v, str):
                cells.append("" if v is None else v)
                continue
            # Read by people, on a screen or in a spreadsheet: escapes shown, formulas made text.
            shown = visible(v)
            safe = neutralise_formula(shown)
            neutralised += safe is not shown
            cells.append(safe)
        writer.writerow(cells)
    if neutralised:
        writer.writerow(("", "", "", "", FORMULA_RULE, "warning", "", formula_note(neutralised), ""))
    return neutralised


def formula_note(n: int) -> str:
    return ngettext(
        "{n} cell of this report began with =, +, -, @, a tab or a carriage return and were written with a "
        "leading apostrophe (') so that a spreadsheet shows them as text, not as a formula; the input files "
        "are unchanged",
        "{n} cells of this report began with =, +, -, @, a tab or a carriage return and were written with a "
        "leading apostrophe (') so that a spreadsheet shows them as text, not as a formula; the input files "
        "are unchanged",
        n,
    ).format(n=figure(n))


def render_text(
    results: list[FileResult],
    console: Console,
    max_examples: int = 5,
    outcome: BundleOutcome | None = None,
    show_order: bool = False,
    show_summary: bool = False,
    fixable: int = 0,
) -> None:
    """Problems grouped by file, then by rule and column, errors first, with bounded examples.

    ``fixable`` problems (of all counted) are ones ``omnimig fix`` corrects; the last line says so.

    ``show_summary`` (the CLI's ``--summary``) adds the bundle summary after the files and the
    upload order; it is off by default so that the usual report stays short.
    """
    for r in results:
        if not r.readable:
            status = "[red]" + _("unreadable") + "[/]"
        else:
            status = "[red]" + _("errors") + "[/]" if r.errors else "[green]" + _("ok") + "[/]"
        console.print(
            f"[bold]{shown(r.path)}[/]  ({shown(r.type)}, {shown(r.format)}, {_rows(r.rows)}): "
            f"{_errors(r.errors)}, {_warnings(r.warnings)}  {status}"
        )
        counts = r.counts()
        order = sorted(counts, key=lambda k: (k[2] != "error", k[0], k[1] or ""))
        for rule, field, severity in order:
            n = counts[(rule, field, severity)]
            mark = "[red]✗ " + _("error") + "[/]" if severity == "error" else "[yellow]! " + _("warning") + "[/]"
            where = f" · {shown(field)}" if field else ""
            problems = ngettext("{n} problem", "{n} problems", n).format(n=figure(n))
            console.print(f"  {mark} [bold]{shown(rule)}[/]{where} — {problems}")
            for p in r.problems.examples((rule, field, severity), max_examples):
                at = _("row {row}").format(row=p.row) if p.row is not None else _("file")
                console.print(f"      {at}: {shown(p.message)}")
            if n > max_examples:
                more = figure(n - max_examples)
                console.print("      " + _("… and {n} more (see --format csv for all)").format(n=more))
    if outcome is not None:
        for p in sorted(outcome.problems, key=lambda p: p.severity == "error"):  # notes, then errors
            severity = _(SEVERITY_NAMES.get(p.severity, p.severity))
            mark = "[red]✗ " + severity + ":[/]" if p.severity == "error" else "[yellow]" + severity + ":[/]"
            console.print(f"{mark} {shown(p.message)}")
        if show_order:
            render_upload_order(results, console)
        if show_summary and outcome.stats is not None:
            render_summary(outcome.stats, console)
    total = summary(results, outcome)
    files = ngettext("{n} file", "{n} files", len(results)).format(n=figure(len(results)))
    verdict = (
        "[red]" + _("fix the errors before uploading") + "[/]"
        if total["errors"]
        else "[green]" + _("no errors") + "[/]"
    )
    console.print(
        f"\n{files}, {_rows(total['rows'])}: {_errors(total['errors'])}, {_warnings(total['warnings'])} — {verdict}"
    )
    if fixable:
        console.print(
            ngettext(
                "{n} of them can be fixed with omnimig fix (each has one reading; --format json shows it)",
                "{n} of them can be fixed with omnimig fix (each has one reading; --format json shows it)",
                fixable,
            ).format(n=figure(fixable))
        )


def counts_line(files: int, rows: int, errors: int, warnings: int) -> str:
    """``2 files, 1,204 rows: 3 errors, 1 warning``: the totals as the text report and the workbook say them."""
    shown_files = ngettext("{n} file", "{n} files", files).format(n=figure(files))
    return f"{shown_files}, {_rows(rows)}: {_errors(errors)}, {_warnings(warnings)}"


def _rows(n: int) -> str:
    return ngettext("{n} row", "{n} rows", n).format(n=figure(n))


def _errors(n: int) -> str:
    return ngettext("{n} error", "{n} errors", n).format(n=figure(n))


def _warnings(n: int) -> str:
    return ngettext("{n} warning", "{n} warnings", n).format(n=figure(n))


def render_summary(stats: BundleStats, console: Console) -> None:
    """The bundle summary as a short section: one line per figure."""
    console.print("\n" + _("Summary:"))
    lines = stats.lines()
    width = max(len(label) for label, _ in lines)
    for label, text in lines:
        console.print(f"  {shown(label):<{width}}  {shown(text)}")


def render_upload_order(results: list[FileResult], console: Console) -> None:
    console.print("\n" + _("Upload order:"))
    for number, step in enumerate(upload_order(results), start=1):
        files = cast(list[dict[str, Any]], step["files"])
        if not files:
            console.print(f"  {number}. {step['type']:<11} [dim]" + _("no file") + "[/]")
            continue
        for i, f in enumerate(files):
            if f.get("unreadable"):
                state = "[red]" + _("unreadable") + "[/]"
            else:
                state = "[green]" + _("ready") + "[/]" if not f["errors"] else f"[red]{_errors(f['errors'])}[/]"
            head = f"{number}. {step['type']:<11}" if i == 0 else " " * (len(str(number)) + 13)
            rows = "" if f.get("unreadable") else f"  {_rows(f['rows'])}"
            console.print(f"  {head} {shown(f['path'])}{rows}  {state}")


__all__ = [
    "CSV_COLUMNS",
    "FORMULA_RULE",
    "Problem",
    "bundle_problems",
    "render_summary",
    "render_text",
    "render_upload_order",
    "summary",
    "upload_order",
    "write_csv",
    "write_json",
]
