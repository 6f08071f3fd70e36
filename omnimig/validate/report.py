"""Render results: text for people, JSON for CI (the contract in DESIGN.md), CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

from rich.console import Console
from rich.markup import escape

from omnimig.validate.bundle import BundleOutcome
from omnimig.validate.problem import FileResult, Problem, plural
from omnimig.validate.rules import migration_types

CSV_COLUMNS = ("file", "type", "row", "field", "rule", "severity", "value", "message")


def summary(results: list[FileResult], outcome: BundleOutcome | None = None) -> dict[str, int]:
    return {
        "errors": sum(r.errors for r in results) + (len(outcome.errors) if outcome else 0),
        "warnings": sum(r.warnings for r in results),
        "rows": sum(r.rows for r in results),
    }


def upload_order(results: list[FileResult]) -> list[dict[str, object]]:
    """The bundle's types in upload order, each with its files, rows and errors."""
    steps = []
    for mtype in migration_types():
        files = [r for r in results if r.type == mtype.name and r.format is not None]
        errors = sum(r.errors for r in files)
        steps.append(
            {
                "type": mtype.name,
                "files": [{"path": r.path, "rows": r.rows, "errors": r.errors} for r in files],
                "rows": sum(r.rows for r in files),
                "errors": errors,
                "ready": bool(files) and errors == 0,
            }
        )
    return steps


def to_json(results: list[FileResult], outcome: BundleOutcome | None = None) -> str:
    doc: dict[str, object] = {
        "files": [
            {
                "path": r.path,
                "type": r.type,
                "format": r.format,
                "rows": r.rows,
                "errors": r.errors,
                "warnings": r.warnings,
                "problems": [p.to_dict() for p in r.problems],
            }
            for r in results
        ],
        "summary": summary(results, outcome),
    }
    if outcome is not None:
        doc["bundle"] = {"upload_order": upload_order(results), "notes": outcome.notes, "errors": outcome.errors}
    return json.dumps(doc, ensure_ascii=False, indent=2)


def to_csv(results: list[FileResult], outcome: BundleOutcome | None = None) -> str:
    """One problem per line; bundle errors (a type missing under --require-all) have no file."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    problems = [p for r in results for p in r.problems]
    if outcome is not None:
        problems += outcome.missing_problems()
    for p in problems:
        writer.writerow(["" if v is None else v for v in (getattr(p, c) for c in CSV_COLUMNS)])
    return out.getvalue()


def render_text(
    results: list[FileResult],
    console: Console,
    max_examples: int = 5,
    outcome: BundleOutcome | None = None,
    show_order: bool = False,
) -> None:
    """Problems grouped by file, then by rule and column, errors first, with bounded examples."""
    for r in results:
        status = "[green]ok[/]" if not r.errors else "[red]errors[/]"
        console.print(
            f"[bold]{escape(r.path)}[/]  ({r.type}, {r.format}, {plural(r.rows, 'row')}): "
            f"{plural(r.errors, 'error')}, {plural(r.warnings, 'warning')}  {status}"
        )
        groups: dict[tuple[str, str, str | None], list[Problem]] = defaultdict(list)
        for p in r.problems:
            groups[(p.severity, p.rule, p.field)].append(p)
        order = sorted(groups, key=lambda k: (k[0] != "error", k[1], k[2] or ""))
        for key in order:
            severity, rule, field = key
            items = groups[key]
            mark = "[red]✗ error[/]" if severity == "error" else "[yellow]! warning[/]"
            where = f" · {escape(field)}" if field else ""
            console.print(f"  {mark} [bold]{rule}[/]{where} — {plural(len(items), 'problem')}")
            for p in items[:max_examples]:
                at = f"row {p.row}" if p.row is not None else "file"
                console.print(f"      {at}: {escape(p.message)}")
            if len(items) > max_examples:
                console.print(f"      … and {len(items) - max_examples} more (see --format csv for all)")
    if outcome is not None:
        for note in outcome.notes:
            console.print(f"[yellow]note:[/] {escape(note)}")
        for error in outcome.errors:
            console.print(f"[red]✗ error:[/] {escape(error)}")
        if show_order:
            render_upload_order(results, console)
    total = summary(results, outcome)
    files = plural(len(results), "file")
    verdict = "[red]fix the errors before uploading[/]" if total["errors"] else "[green]no errors[/]"
    console.print(
        f"\n{files}, {plural(total['rows'], 'row')}: {plural(total['errors'], 'error')}, "
        f"{plural(total['warnings'], 'warning')} — {verdict}"
    )


def render_upload_order(results: list[FileResult], console: Console) -> None:
    console.print("\nUpload order:")
    for number, step in enumerate(upload_order(results), start=1):
        files = step["files"]
        if not files:
            console.print(f"  {number}. {step['type']:<11} [dim]no file[/]")
            continue
        for i, f in enumerate(files):  # type: ignore[union-attr]
            state = "[green]ready[/]" if not f["errors"] else f"[red]{plural(f['errors'], 'error')}[/]"
            head = f"{number}. {step['type']:<11}" if i == 0 else " " * (len(str(number)) + 13)
            console.print(f"  {head} {escape(f['path'])}  {plural(f['rows'], 'row')}  {state}")
