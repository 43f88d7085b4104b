"""One rich progress bar for long loops (training epochs and steps, loading, scoring).

Silent (a no-op updater) unless ``verbose`` is true and standard error is a terminal, so
tests, pipes and CI logs stay clean.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


def _shown(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@contextmanager
def progress_bar(description: str, total: int, verbose: bool) -> Iterator[Callable[..., None]]:
    """A transient bar over ``total`` units; yields ``update(advance=1, **fields)``, where
    ``fields`` (e.g. ``loss=0.12``) are shown after the bar."""
    from rich.console import Console

    console = Console(stderr=True)
    if not verbose or not console.is_terminal:
        yield lambda advance=1, **fields: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total, info="")

        def update(advance: int = 1, **fields: Any) -> None:
            info = "  ".join(f"{k} {_shown(v)}" for k, v in fields.items())
            progress.update(task, advance=advance, info=info)

        yield update
