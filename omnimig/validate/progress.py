"""A progress bar on stderr while large files are validated.

Validating a bundle of millions of rows takes seconds to minutes; a person at a terminal should
see that it moves. Small files finish before a bar would be readable, and a bar written into a
pipe, a log file or a CI log is noise, so the bar appears only for files of at least
``THRESHOLD`` bytes and only when stderr is a terminal. It is transient: nothing of it stays on
screen once a file is done, so the report that follows reads the same with or without it.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

THRESHOLD = 50 * 1024 * 1024  # bytes


class FileProgress:
    """The ``progress`` hook of ``validate_paths``: one bar per large file, by bytes read.

    Use it as a context manager around the run; call it as ``hook(path, done, total)``.
    """

    def __init__(self, console: Console | None = None, threshold: int = THRESHOLD) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.threshold = threshold
        self.bar: Progress | None = None
        self.tasks: dict[Path, TaskID] = {}

    @property
    def enabled(self) -> bool:
        return self.console.is_terminal

    def __enter__(self) -> FileProgress:
        if self.enabled:
            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self.bar.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __call__(self, path: Path, done: int, total: int) -> None:
        if self.bar is None or total < self.threshold:
            return
        task = self.tasks.get(path)
        if task is None:
            task = self.tasks[path] = self.bar.add_task(f"validating {path.name}", total=total)
        self.bar.update(task, completed=min(done, total))
