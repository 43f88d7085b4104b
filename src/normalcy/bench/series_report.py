"""The series benchmark's HTML report: summary tables and a score timeline per series."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TIMELINE_POINTS = 1500


def _decimate(n: int, max_points: int = TIMELINE_POINTS) -> np.ndarray:
    return np.unique(np.linspace(0, n - 1, min(n, max_points)).astype(np.int64))


def _minmax(a: np.ndarray) -> np.ndarray:
    lo, hi = float(np.min(a)), float(np.max(a))
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def timeline_figure(
    values: np.ndarray,
    scores: dict[str, np.ndarray],
    windows: Iterable[tuple[int, int]],
    title: str,
    x: np.ndarray | None = None,
):
    """The series and every detector's score (scaled to [0, 1]) with the labelled windows
    shaded, built on ``normalcy.viz.series_timeline``; long series are thinned for drawing
    (windows keep their extent)."""
    from ..viz import series_timeline

    n = len(values)
    keep = _decimate(n)
    windows = [(int(np.searchsorted(keep, a)), int(np.searchsorted(keep, b))) for a, b in windows]
    names = list(scores)
    first = _minmax(np.asarray(scores[names[0]])[keep]) if names else np.zeros(keep.size)
    fig = series_timeline(
        np.asarray(values)[keep],
        first,
        windows=[(a, min(b, keep.size - 1)) for a, b in windows],
        title=title,
        x=None if x is None else np.asarray(x)[keep],
    )
    ax = fig.axes[1]
    if names:
        ax.lines[0].set_label(names[0])
    t = np.arange(keep.size) if x is None else np.asarray(x)[keep]
    for name in names[1:]:
        ax.plot(t, _minmax(np.asarray(scores[name])[keep]), linewidth=0.7, label=name)
    if names:
        ax.legend(fontsize=6, loc="upper left", ncol=min(len(names), 4))
    ax.set_ylabel("score (scaled)")
    return fig


@dataclass
class Timeline:
    title: str
    values: np.ndarray
    windows: list[tuple[int, int]]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    x: np.ndarray | None = None


def thin(tl: Timeline) -> Timeline:
    """Keep only what the figure needs of a long series."""
    keep = _decimate(len(tl.values))
    windows = [
        (int(np.searchsorted(keep, a)), int(np.searchsorted(keep, b))) for a, b in tl.windows
    ]
    return Timeline(
        tl.title,
        tl.values[keep],
        [(a, min(b, keep.size - 1)) for a, b in windows],
        {k: v[keep] for k, v in tl.scores.items()},
        None if tl.x is None else tl.x[keep],
    )


def write_report(
    path: Path,
    title: str,
    notes: list[str],
    tables: list[tuple[str, pd.DataFrame]],
    timelines: list[Timeline],
) -> Path:
    from ..viz import HtmlReport

    report = HtmlReport(title)
    for note in notes:
        report.text(note, note=True)
    for heading, frame in tables:
        report.heading(heading)
        report.table(frame)
    if timelines:
        report.heading("Score timelines")
        report.text(
            "Top: the series; bottom: each detector's score scaled to [0, 1]; labelled anomaly "
            "windows shaded red.",
            note=True,
        )
        for tl in timelines:
            fig = timeline_figure(tl.values, tl.scores, tl.windows, tl.title, x=tl.x)
            report.image(fig, caption=tl.title)
    return report.write(path)
