"""One Rich console and one progress-bar style for every command and long-running function.

Progress bars write to stderr so that a command's table output on stdout stays clean, and they are
switched off when stderr is not a terminal unless asked for (``CLUSTERATLAS_PROGRESS=1``), which
keeps CI logs and test output quiet.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console()
err_console = Console(stderr=True)

T = TypeVar("T")


def progress_enabled(show: bool | None = None) -> bool:
    """Whether to draw progress bars: explicit ``show`` wins, then the environment, then a TTY."""
    if show is not None:
        return show
    env = os.environ.get("CLUSTERATLAS_PROGRESS")
    if env is not None:
        return env not in ("0", "", "false", "no")
    return err_console.is_terminal


def make_progress(show: bool | None = None) -> Progress:
    """A Rich progress display in the house style (description, bar, n/N, elapsed, remaining)."""
    return Progress(
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=not progress_enabled(show),
        transient=False,
    )


def track(items: Iterable[T], description: str, total: int | None = None,
          show: bool | None = None) -> Iterator[T]:
    """Iterate over ``items`` with a progress bar (a no-op wrapper when progress is off)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with make_progress(show) as progress:
        task = progress.add_task(description, total=total)
        for item in items:
            yield item
            progress.advance(task)
