"""The series benchmark's UCR protocol (see ``bench.series_suite``): fit on the normal part
of every archive series, score the rest, report the UCR score and the range metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pandas as pd

from ..core.errors import NormalcyError
from ..core.registry import get_class
from .progress import progress_bar
from .series_common import (
    STREAM_POINTS,
    UCR_TOLERANCE,
    check_labelled,
    make_detector,
    series_metrics,
    stream_latency,
    summarise,
    write_tables,
)
from .series_report import Timeline, thin, write_report


def run_ucr(
    root: Path,
    out_dir: Path,
    names: list[str],
    limit: int | None,
    quick: bool,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """The UCR protocol (see the module docstring)."""
    from ..datasets import ucr
    from ..metrics import ucr_score

    files = ucr.list_files(root)
    if limit:
        files = files[:limit]
    rows: list[dict[str, Any]] = []
    timelines: list[Timeline] = []
    stream_rows: dict[str, dict[str, float]] = {}
    progress, task = progress_bar(len(files) * len(names), "UCR")
    with progress:
        for i, path in enumerate(files):
            series = ucr.load_series(path)
            y = series.labels[series.train_end :]
            tl = Timeline(series.id, series.test, [_shift(series.anomaly, series.train_end)])
            for name in names:
                progress.update(task, description=f"UCR {series.id[:28]} {name}")
                row = {"series": series.id, "detector": name, "length": series.values.size}
                t0 = time.perf_counter()
                try:
                    det = make_detector(name, quick, overrides=overrides)
                    det.fit(series.train)
                    scores = det.score(series.test).scores
                except NormalcyError as exc:
                    row.update(error=str(exc)[:200], ucr=0.0, seconds=time.perf_counter() - t0)
                    rows.append(row)
                    progress.advance(task)
                    continue
                row["seconds"] = time.perf_counter() - t0
                row["ucr"] = float(ucr_score(y, scores, tolerance=UCR_TOLERANCE))
                row.update(series_metrics(y, scores))
                rows.append(row)
                tl.scores[name] = scores
                if i == 0 and get_class(name).info.streaming:
                    stream_rows[name] = _ucr_stream(name, series, quick, overrides)
                progress.advance(task)
            timelines.append(thin(tl))
    per_series = pd.DataFrame(rows)
    summary = summarise(per_series, names, {"ucr": "ucr_score"}, stream_rows)
    csv_path = write_tables(summary, per_series, out_dir, "series_ucr")
    notes = [
        f"{len(files)} series from {root}. Fit on [0, TRAINEND), score the rest; UCR score = "
        f"fraction of series whose top point lies within the anomaly ± {UCR_TOLERANCE}.",
        "Default parameters, no per-series tuning." + (" QUICK settings." if quick else ""),
    ]
    check_labelled(summary, notes)
    write_report(
        out_dir / "series_ucr.html",
        "normalcy series benchmark: UCR anomaly archive",
        notes,
        [("Summary", summary)],
        timelines,
    )
    return csv_path


def _shift(span: tuple[int, int], offset: int) -> tuple[int, int]:
    return (span[0] - offset, span[1] - offset)


def _ucr_stream(
    name: str, series: Any, quick: bool, overrides: dict[str, Any] | None = None
) -> dict[str, float]:
    det = make_detector(name, quick, overrides=overrides)
    det.fit(series.train)
    stream = series.test[: (2000 if quick else STREAM_POINTS)]
    res = stream_latency(det, stream)
    return {k: v for k, v in res.items() if not k.startswith("_")}
