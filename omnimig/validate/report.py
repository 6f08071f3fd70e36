"""Render results: text for people, JSON for CI (the contract in DESIGN.md), CSV for spreadsheets."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict

from rich.console import Console
from rich.markup import escape

from omnimig.validate.problem import FileResult, Problem

CSV_COLUMNS = ("file", "type", "row", "field", "rule", "severity", "value", "message")


def summary(results: list[FileResult]) -> dict[str, int]:
    return {
        "errors": sum(r.errors for r in results),
        "warnings": sum(r.warnings for r in results),
        "rows": sum(r.rows for r in results),
    }


def to_json(results: list[FileResult]) -> str:
    doc = {
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
        "summary": summary(results),
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)


def to_csv(results: list[FileResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        for p in r.problems:
            writer.writerow(["" if v is None else v for v in (getattr(p, c) for c in CSV_COLUMNS)])
    return out.getvalue()


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(results: list[FileResult], console: Console, max_examples: int = 5) -> None:
    """Problems grouped by file, then by rule and column, errors first, with bounded examples."""
    for r in results:
        status = "[green]ok[/]" if not r.errors else "[red]errors[/]"
        console.print(
            f"[bold]{escape(r.path)}[/]  ({r.type}, {r.format}, {_plural(r.rows, 'row')}): "
            f"{_plural(r.errors, 'error')}, {_plural(r.warnings, 'warning')}  {status}"
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
            console.print(f"  {mark} [bold]{rule}[/]{where} — {_plural(len(items), 'problem')}")
            for p in items[:max_examples]:
                at = f"row {p.row}" if p.row is not None else "file"
                console.print(f"      {at}: {escape(p.message)}")
            if len(items) > max_examples:
                console.print(f"      … and {len(items) - max_examples} more (see --format csv for all)")
    total = summary(results)
    files = _plural(len(results), "file")
    verdict = "[red]fix the errors before uploading[/]" if total["errors"] else "[green]no errors[/]"
    console.print(
        f"\n{files}, {_plural(total['rows'], 'row')}: {_plural(total['errors'], 'error')}, "
        f"{_plural(total['warnings'], 'warning')} — {verdict}"
    )
