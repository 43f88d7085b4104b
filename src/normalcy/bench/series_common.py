"""Shared parts of the series benchmark: detector construction under each protocol's
settings, per-series metrics, streaming latency, summary tables and data-set folders."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .tables import markdown_table

UCR_TOLERANCE = 100
PATE_BUFFER = 100
RANGE_F1_QUANTILES = np.linspace(0.5, 0.999, 25)
STREAM_POINTS = 20_000
CAUSAL_PARAMS = {"spread": "last", "self_join": False}
METRICS = ("vus_pr", "pate", "range_f1")


def detector_names(detectors: list[str] | None) -> list[str]:
    if detectors:
        for name in detectors:
            info = get_class(name).info
            if info.modality != "series":
                raise InputError(f"detector {name!r} is a {info.modality} detector, not series")
        return list(detectors)
    return [info.name for info in registered("series")]


def make_detector(
    name: str, quick: bool = False, causal: bool = False, overrides: dict[str, Any] | None = None
):
    """A detector with its default parameters (``quick_params`` with ``quick``); with
    ``causal``, the settings an online protocol needs (see the module docstring);
    ``overrides`` last (the ``--param`` values of the run)."""
    cls = get_class(name)
    params: dict[str, Any] = dict(getattr(cls, "quick_params", {}) or {}) if quick else {}
    if causal:
        wanted = getattr(cls, "causal_params", None) or CAUSAL_PARAMS
        params.update({k: v for k, v in wanted.items() if k in cls.info.params})
    params.update(overrides or {})
    return create(name, **params)


def best_range_f1(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Range-F1 at the best of 25 thresholds (score quantiles 0.5 ... 0.999)."""
    from ..metrics import range_f1

    best = 0.0
    for thr in np.unique(np.quantile(scores, RANGE_F1_QUANTILES)):
        value = range_f1(y_true, scores, threshold=float(thr))
        if np.isfinite(value):
            best = max(best, value)
    return best


def series_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """VUS-PR, PATE and best range-F1 of one series (NaN without an anomaly)."""
    from ..metrics import pate, vus_pr

    if not np.any(y_true) or np.all(y_true):
        return {"vus_pr": np.nan, "pate": np.nan, "range_f1": np.nan}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            "vus_pr": float(vus_pr(y_true, scores)),
            "pate": float(pate(y_true, scores, early_buffer=PATE_BUFFER, delay_buffer=PATE_BUFFER)),
            "range_f1": float(best_range_f1(y_true, scores)),
        }


def stream_latency(det: Any, values: np.ndarray) -> dict[str, float]:
    """Feed ``values`` (T,) or (T, C) one step at a time: ``score_one`` then ``learn_one``,
    with BLAS/OpenMP limited to one thread (one core). Returns points per second and p50/p99
    latency per point in microseconds (plus the scores and raw latencies)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        return _stream_latency(det, values)


def _stream_latency(det: Any, values: np.ndarray) -> dict[str, Any]:
    clock = time.perf_counter_ns
    values = np.asarray(values, dtype=np.float64)
    lat = np.empty(values.shape[0], dtype=np.int64)
    points = values if values.ndim == 2 else values[:, None]
    scores = np.empty(values.shape[0])
    for t in range(points.shape[0]):
        x = points[t, 0] if points.shape[1] == 1 else points[t]
        t0 = clock()
        scores[t] = det.score_one(x)
        det.learn_one(x)
        lat[t] = clock() - t0
    total_s = float(lat.sum()) / 1e9
    return {
        "points_per_s": values.shape[0] / total_s if total_s > 0 else np.inf,
        "latency_p50_us": float(np.percentile(lat, 50)) / 1e3,
        "latency_p99_us": float(np.percentile(lat, 99)) / 1e3,
        "_scores": scores,
        "_latencies_ns": lat,
    }


def write_tables(frame: pd.DataFrame, per_series: pd.DataFrame, out_dir: Path, stem: str):
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    frame.to_csv(csv_path, index=False, float_format="%.6g")
    per_series.to_csv(out_dir / f"{stem}_per_series.csv", index=False, float_format="%.6g")
    (out_dir / f"{stem}.md").write_text(markdown_table(frame))
    return csv_path


def resolve_root(dataset: str, root: Path | None) -> Path:
    if root is None:
        shared = Path(os.environ.get("NORMALCY_SHARED", Path("..") / "shared"))
        root = shared / "datasets" / dataset
    root = Path(root)
    if (root / dataset).is_dir() and not _looks_like(dataset, root):
        root = root / dataset
    if not root.is_dir():
        raise InputError(
            f"{dataset.upper()} data not found at {root}; pass --root PATH to the {dataset} folder"
        )
    return root


def _looks_like(dataset: str, root: Path) -> bool:
    if dataset == "nab":
        return (root / "data").is_dir()
    return any(root.glob("*_UCR_Anomaly_*.txt"))


def stream_names(names: list[str]) -> list[str]:
    return [n for n in names if get_class(n).info.streaming]


def summarise(
    per_series: pd.DataFrame,
    names: list[str],
    extra: dict[str, str],
    stream_rows: dict[str, dict[str, float]],
    nab: dict[str, dict[str, float]] | None = None,
) -> pd.DataFrame:
    out = []
    for name in names:
        part = per_series[per_series["detector"] == name]
        row: dict[str, Any] = {"detector": name, "source": "normalcy"}
        for col, label in extra.items():
            row[label] = float(part[col].mean()) if col in part and len(part) else np.nan
        if nab and name in nab:
            row.update(nab[name])
        for col in METRICS:
            row[col] = float(part[col].mean()) if col in part else np.nan
        # the metrics average over the series that have a labelled anomaly (others: NaN)
        row["labelled_series"] = int(part["vus_pr"].notna().sum()) if "vus_pr" in part else 0
        row["seconds_per_series"] = float(part["seconds"].mean()) if len(part) else np.nan
        row["errors"] = int(part["error"].notna().sum()) if "error" in part else 0
        stream = stream_rows.get(name, {})
        for col in ("points_per_s", "latency_p50_us", "latency_p99_us"):
            row[col] = stream.get(col, np.nan)
        out.append(row)
    return pd.DataFrame(out)


def check_labelled(summary: pd.DataFrame, notes: list[str]) -> None:
    """Say so (a warning and a report note) when a detector's range metrics are NaN because
    none of its series has a labelled anomaly: a metric is never NaN silently."""
    if "labelled_series" not in summary:
        return
    empty = summary.loc[summary["labelled_series"] == 0, "detector"].tolist()
    if empty:
        message = (
            f"no scored series has a labelled anomaly for {empty}: VUS-PR, PATE and range-F1 "
            "are undefined there (NaN); choose series with anomalies"
        )
        warnings.warn(message, UserWarning, stacklevel=3)
        notes.append(message)
