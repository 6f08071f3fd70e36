"""A progress bar on stderr while large files are validated.

Validating a bundle of millions of rows takes seconds to minutes; a person at a terminal should
see that it moves. Small files finish before a bar would be readable, and a bar written into a
pipe, a log file or a CI log is noise, so the bar appears only for files of at least
``THRESHOLD`` bytes and only when stderr is a terminal. It is transient: nothing of it stays on
screen once a file is done, so the report that follows reads the same with or without it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from omnimig.i18n import _

THRESHOLD = 50 * 1024 * 1024  # bytes


class _Amount(ProgressColumn):
    """Bytes for a file being read (``unit="bytes"``), plain counts for the other steps."""

    def __init__(self) -> None:
        super().__init__()
        self.download = DownloadColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return self.download.render(task)
        total = "?" if task.total is None else f"{task.total:,.0f}"
        return Text(f"{task.completed:,.0f}/{total}")


def _bar(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        _Amount(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


class _Bars:
    """A transient rich bar on stderr, started only when stderr is a terminal (or shared with a running one).

    Rich shows one live display at a time, so a step that runs inside another (the bundle rules
    inside file reading) shares its bar instead of starting its own.
    """

    def __init__(self, console: Console | None = None, bar: Progress | None = None) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.bar: Progress | None = bar
        self.shared = bar is not None

    @property
    def enabled(self) -> bool:
        return self.console.is_terminal

    def __enter__(self) -> Self:
        if self.enabled and not self.shared:
            self.bar = _bar(self.console)
            self.bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.bar is not None and not self.shared:
            self.bar.stop()
        self.bar = None


class FileProgress(_Bars):
    """The ``progress`` hook of ``validate_paths``: one bar per large file, by bytes read.

    Use it as a context manager around the run; call it as ``hook(path, done, total)``.
    """

    def __init__(self, console: Console | None = None, threshold: int = THRESHOLD) -> None:
        super().__init__(console)
        self.threshold = threshold
        self.tasks: dict[Path, TaskID] = {}

    def __call__(self, path: Path, done: int, total: int) -> None:
        if self.bar is None or total < self.threshold:
            return
        task = self.tasks.get(path)
        if task is None:
            task = self.tasks[path] = self.bar.add_task(
                _("validating {file}").format(file=path.name), total=total, unit="bytes"
            )
        self.bar.update(task, completed=min(done, total))


class StepProgress(_Bars):
    """Bars for the work after reading: bundle rules, report writing, split writing (issue 13).

    On a 500,000-row bundle ``--report`` ran two minutes with no output at all. Each step gets a
    transient bar on stderr, only when stderr is a terminal, so pipes, logs and CI see nothing and
    the report that follows reads the same. ``hook(description)`` returns the callable a step
    reports to as ``advance(done, total)``; ``None`` as the total gives a pulsing bar for a step
    that cannot count its work.
    """

    def __init__(self, console: Console | None = None, bar: Progress | None = None) -> None:
        """``bar``: share a bar that is already running (rich shows one live display at a time)."""
        super().__init__(console, bar)
        self.tasks: dict[str, TaskID] = {}

    def hook(self, description: str) -> Callable[[int, int | None], None]:
        """The ``advance(done, total)`` callable of one step (does nothing off a terminal)."""

        def advance(done: int, total: int | None) -> None:
            if self.bar is None:
                return
            task = self.tasks.get(description)
            if task is None:
                task = self.tasks[description] = self.bar.add_task(description, total=total)
            self.bar.update(task, completed=done, total=total)

        return advance

    def bundle_hook(self) -> Callable[[str, int, int], None]:
        """The ``steps`` hook of ``validate_paths``: one bar over the bundle rules, named after the rule running."""
        name = _("bundle rules")
        advance = self.hook(name)

        def step(what: str, done: int, total: int) -> None:
            advance(done, total)
            if self.bar is not None:
                self.bar.update(self.tasks[name], description=_("bundle rules ({step})").format(step=what))

        return step
