"""``Report``: what validating a bundle found, in one object a script or the CLI asks everything of.

The engine (``validation.run.validate_paths``) returns the raw parts: the files it read, the
bundle outcome, what it skipped and what it could not read. A caller should not have to combine
those by hand to know whether the bundle passes, so ``Report`` does it once: exact counts, ``valid``,
the exit code the README promises, every problem streamed (file problems and bundle problems
alike), and the same writers as the CLI (``write``, ``render``, ``split``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

from omnimig.exceptions import UsageError

if TYPE_CHECKING:
    from omnimig.validation.bundle import BundleOutcome
    from omnimig.validation.problem import FileResult, Problem
    from omnimig.validation.run import Validation
    from omnimig.validation.split import SplitCount
    from omnimig.validation.stats import BundleStats

#: The report files ``Report.write`` can make, by suffix.
REPORT_FORMATS = {".xlsx": "xlsx", ".json": "json", ".csv": "csv"}
#: The formats ``Report.render`` prints.
RENDER_FORMATS = ("text", "json", "csv")


def report_format(path: str | Path) -> str:
    """The report format a file name asks for (``xlsx``, ``json``, ``csv``); ``UsageError`` for any other.

    Callers check the name before validating, so a typo costs no validation run.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in REPORT_FORMATS:
        raise UsageError(f"{path}: a report is .xlsx, .json or .csv")
    return REPORT_FORMATS[suffix]


#: A problem value ``omnimig fix`` would correct: (type, field, file format, value as reported).
FixKey = tuple[str, str, str, str]


@dataclass(frozen=True)
class Fixes:
    """What ``omnimig fix`` would correct in a validation: cell values, and whole-file problems.

    ``values`` maps a failing cell's (type, field, format, value) to the value ``fix`` writes;
    ``rules`` are the problems of a whole file that writing it plainly resolves (``encoding``,
    ``column-alias``...), fixable without a value to suggest.
    """

    values: Mapping[FixKey, str] = field(default_factory=dict)
    rules: frozenset[str] = frozenset()

    def get(self, type_name: str | None, field_name: str | None, fmt: str | None, value: str | None) -> str | None:
        if field_name is None or value is None:
            return None
        return self.values.get((type_name or "", field_name, fmt or "", value))

    def fixable(
        self, type_name: str | None, field_name: str | None, fmt: str | None, rule: str, value: str | None
    ) -> bool:
        return rule in self.rules or self.get(type_name, field_name, fmt, value) is not None


#: What finds them for a validation (``omnimig.fixing.marks.fixable``, handed in by the API).
FixFinder = Callable[[list["FileResult"]], Fixes]


class Report:
    """The result of ``omnimig.validate``: counts, problems, and the writers of every report format.

    ``files`` lists every file in upload order, a file that could not be read included (as a
    result whose only problem is its ``unreadable`` error), so no count ever leaves a file out.
    """

    def __init__(self, validation: Validation, show_order: bool = False, fixes: FixFinder | None = None) -> None:
        self._validation = validation
        #: Print the upload order in the text report (a folder or several files were given).
        self.show_order = show_order
        self._find_fixes = fixes
        self._fixes: Fixes | None = None

    # -- what omnimig fix would correct -----------------------------------------------------------
    @property
    def fixes(self) -> Fixes:
        """What ``omnimig fix`` would correct (values to write, whole-file rules); found once, when asked."""
        if self._fixes is None:
            self._fixes = Fixes() if self._find_fixes is None else self._find_fixes(self.files)
        return self._fixes

    def suggestion(self, problem: Problem) -> str | None:
        """The corrected value ``omnimig fix`` would write for this problem's cell, or None."""
        fmt = next((r.format for r in self.files if r.path == problem.file), None)
        return self.fixes.get(problem.type, problem.field, fmt, problem.value)

    @property
    def fixable(self) -> int:
        """How many problems ``omnimig fix`` would correct (each marked in every report format)."""
        fixes = self.fixes
        if not fixes.values and not fixes.rules:
            return 0
        return sum(
            1
            for r in self.files
            for _row, field_name, rule, _severity, value, _message in r.problems.entries()
            if fixes.fixable(r.type, field_name, r.format, rule, value)
        )

    # -- counts ---------------------------------------------------------------------------------
    @property
    def files(self) -> list[FileResult]:
        """Every file validated, in upload order; unreadable ones are results with ``readable`` False."""
        return self._validation.reported

    @property
    def outcome(self) -> BundleOutcome:
        """The bundle rules' outcome: notes on what could not be checked, and bundle-level errors."""
        return self._validation.outcome

    @property
    def errors(self) -> int:
        """Errors in every file, unreadable files and bundle-level errors included."""
        return self._totals()["errors"]

    @property
    def warnings(self) -> int:
        return self._totals()["warnings"]

    @property
    def rows(self) -> int:
        """Data rows read, over every file."""
        return self._totals()["rows"]

    @property
    def valid(self) -> bool:
        """No errors (warnings allowed): what Akinon's importer would take."""
        return self.errors == 0

    @property
    def unreadable(self) -> list[str]:
        """One line per file that could not be read (each is also an ``unreadable`` error)."""
        return list(self._validation.unreadable)

    @property
    def skipped(self) -> list[str]:
        """One line per file in a folder that was not validated (not a migration file), and why."""
        return list(self._validation.skipped)

    @property
    def notes(self) -> list[str]:
        """What the bundle rules could not check, and why."""
        return list(self._validation.outcome.notes)

    @property
    def stats(self) -> BundleStats:
        """The bundle summary people reconcile with: rows per type; orders per status, currency, payment
        type and shipping company; the ``created_date`` range; ``amount`` per currency (exact); users
        without orders and orders per user. Computed in the same pass as validation."""
        return self._validation.stats

    @property
    def exit_code(self) -> int:
        """The CLI's exit code for this report: 2 a file could not be read, 1 errors, 0 none."""
        if self._validation.unreadable:
            return 2
        return 1 if self.errors else 0

    def _totals(self) -> dict[str, int]:
        from omnimig.validation.report import summary

        return summary(self.files, self.outcome)

    # -- problems -------------------------------------------------------------------------------
    def problems(
        self,
        rule: str | None = None,
        file: str | Path | None = None,
        severity: str | None = None,
        type: str | None = None,
    ) -> Iterator[Problem]:
        """Every problem, file by file in report order, then the bundle's own; streamed, not listed.

        The bundle's own have no file: a type missing under ``require_all`` (``missing-file``, an
        error) and a cross-file rule that could not run (``not-checked``, severity ``note``: it
        changes no count).

        Filters combine: ``rule="foreign-key"``, ``severity="error"``, ``type="order"``, ``file=``
        a path as given. A large bundle's problems are read back from spill files as they are
        iterated, so iterating costs no more memory than one batch.
        """
        wanted = None if file is None else str(file)
        for result in self.files:
            if (wanted is not None and result.path != wanted) or (type is not None and result.type != type):
                continue
            for p in result.problems:
                if (rule is None or p.rule == rule) and (severity is None or p.severity == severity):
                    yield p
        if wanted is None:
            for p in self.outcome.problems:
                matches = (rule is None or p.rule == rule) and (severity is None or p.severity == severity)
                if matches and (type is None or p.type == type):
                    yield p

    # -- outputs --------------------------------------------------------------------------------
    def write(self, path: str | Path, rows: int = 100_000, progress: Callable[[int, int], None] | None = None) -> Path:
        """Write the report to ``path``: ``.xlsx`` (annotated workbook), ``.json`` or ``.csv``.

        The file is created private (0600, it holds customer data) beside its name and moved into
        place when complete, so a failure leaves no half file; a report that would replace one of
        the validated files is refused (``UsageError``) before anything is written. ``rows`` bounds
        the data rows per sheet of a workbook.
        """
        from omnimig.io.paths import same_file
        from omnimig.io.private import open_private, replaced_privately, writing
        from omnimig.validation.report import write_csv, write_json

        path = Path(path)
        kind = report_format(path)
        for r in self.files:
            if same_file(path, Path(r.path)):
                raise UsageError(f"{path} is one of the files being validated; write the report to another name")
        outcome = self.outcome
        with writing(path, "write the report"), replaced_privately(path) as temp:
            if kind == "xlsx":
                from omnimig.validation.workbook import write_workbook

                write_workbook(self.files, temp, report_rows=rows, outcome=outcome, progress=progress, fixes=self.fixes)
            elif kind == "json":
                with open_private(temp, "w", encoding="utf-8", errors="backslashreplace") as f:
                    write_json(self.files, outcome, f, progress, fixes=self.fixes)
            else:
                with open_private(temp, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
                    write_csv(self.files, outcome, f, progress, fixes=self.fixes)
        return path

    def render(
        self, format: str = "text", file: IO[str] | None = None, max_examples: int = 5, summary: bool = False
    ) -> None:
        """Print the report as the CLI does: ``text`` (grouped, with examples), ``json`` or ``csv``.

        ``summary`` adds the bundle summary (``stats``) to the text report; JSON always has it.
        """
        from omnimig.validation.report import render_text, write_csv, write_json

        stream = sys.stdout if file is None else file
        if format == "json":
            write_json(self.files, self.outcome, stream, fixes=self.fixes)
        elif format == "csv":
            write_csv(self.files, self.outcome, stream, fixes=self.fixes)
        elif format == "text":
            if self.files:
                from rich.console import Console

                console = Console(file=stream, highlight=False, soft_wrap=True)
                render_text(
                    self.files,
                    console,
                    max_examples=max_examples,
                    outcome=self.outcome,
                    show_order=self.show_order,
                    show_summary=summary,
                    fixable=self.fixable,
                )
        else:
            raise UsageError(f"unknown report format {format!r}; use one of: {', '.join(RENDER_FORMATS)}")

    def split(self, out: str | Path, progress: Callable[[Path, int, int], None] | None = None) -> list[SplitCount]:
        """Write ``out/ready/`` (rows to migrate now) and ``out/held/`` (the rest, each with why).

        One file each per input file that could be read; rows in = ready + held for every file.
        """
        from omnimig.io.private import writing
        from omnimig.validation.split import split_bundle

        with writing(out, "write the split files"):
            return split_bundle(self._validation.results, Path(out), progress=progress)

    def __repr__(self) -> str:
        return f"<Report {len(self.files)} files, {self.rows} rows: {self.errors} errors, {self.warnings} warnings>"
