"""The rich progress bar every benchmark suite shows (silent when not on a terminal)."""

from __future__ import annotations

from typing import Any


def progress_bar(total: int, description: str) -> tuple[Any, Any]:
    """A rich ``Progress`` on stderr with one task of ``total`` steps: (progress, task id).

    Use the progress as a context manager and ``progress.advance(task)`` per step."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    console = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )
    return progress, progress.add_task(description, total=total)
