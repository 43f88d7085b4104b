"""Series benchmark: the UCR anomaly archive and NAB, each under its own protocol.

``normalcy bench series --dataset ucr|nab [--root PATH]``; from Python
``run(dataset="ucr", root=..., nab_results=...)``.

UCR protocol
    Each detector is fitted on the normal part ``[0, TRAINEND)`` of every series and scores
    the rest. UCR score: the fraction of series whose top-scoring point of the scored part
    lies within the anomaly span widened by 100 points on each side
    (``normalcy.metrics.ucr_score``).

NAB protocol (online, no separate training set)
    A detector first sees the first half of the file's probationary period (NAB's first
    15 %, at most 750 rows). A streaming detector (registered ``streaming=True``) is fitted
    on it and then scores and learns every later row one at a time (``score_one`` then
    ``learn_one``); per-row latency is measured there. A batch detector is refitted on all
    rows seen so far every 10 % of the file and scores the next stretch; its windows end at
    the scored row (causal settings: ``spread="last"``, and ``self_join=False`` for the
    matrix profile; a class may declare its own ``causal_params``). Raw scores then become
    alarm scores with the past only (``normalcy.series.normalise.causal_margin``): how far a
    score rises above the highest score of the previous probationary-length stretch, in units
    of the spread of all earlier scores. This makes one threshold fit the whole corpus and
    raises one alarm per excursion instead of one per step (NAB charges every step flagged
    outside a window). A detector class with ``alarm_scores = True`` (e.g. ``conformal_knn``)
    already streams online alarm scores, used as they are. As in NAB, that threshold is chosen per detector and per profile to
    maximise the corpus score (``normalcy.metrics.nab_raw_score`` summed over
    files, ``nab_normalize``), searched over quantiles of the detector's pooled scores.
    With ``nab_results`` (a checkout or export of github.com/numenta/NAB, or its
    ``results`` folder) the per-file results of NAB's own detectors are read as data and
    re-scored the same way on the same files.

Both protocols also report VUS-PR, PATE (early and delay buffers of 100 points) and range-F1
(the best over 25 thresholds at score quantiles 0.5 to 0.999, alpha 0, flat bias) of every
series with an anomaly, and seconds per series (fit and score). Every registered series
detector with ``streaming=True`` gets a streaming measurement: points per second and
p50/p99 latency per point of ``score_one`` + ``learn_one`` on one core.

Outputs in ``out_dir``: ``series_<dataset>.csv`` (one row per detector), ``.md`` (the same
table), ``series_<dataset>_per_series.csv`` and ``series_<dataset>.html`` (tables and a score
timeline of every series with its labelled anomaly windows).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NormalcyError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .overrides import checked_overrides
from .progress import progress_bar
from .tables import markdown_table

DATASETS = ("ucr", "nab")
UCR_TOLERANCE = 100
PATE_BUFFER = 100
NAB_PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
NAB_REFIT_FRACTION = 0.10
NAB_ALARM_WARMUP = 10
NAB_THRESHOLD_CANDIDATES = 160
RANGE_F1_QUANTILES = np.linspace(0.5, 0.999, 25)
STREAM_POINTS = 20_000
CAUSAL_PARAMS = {"spread": "last", "self_join": False}
QUICK_LIMIT = 3
TIMELINE_POINTS = 1500


# ----------------------------------------------------------------------------------------------
# helpers


def _detector_names(detectors: list[str] | None) -> list[str]:
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


def _write_tables(frame: pd.DataFrame, per_series: pd.DataFrame, out_dir: Path, stem: str):
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / f"{stem}.csv"
    frame.to_csv(csv_path, index=False, float_format="%.6g")
    per_series.to_csv(out_dir / f"{stem}_per_series.csv", index=False, float_format="%.6g")
    (out_dir / f"{stem}.md").write_text(markdown_table(frame))
    return csv_path


def _resolve_root(dataset: str, root: Path | None) -> Path:
    if root is None:
        root = Path("..") / "shared" / "datasets" / dataset
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


def _stream_names(names: list[str]) -> list[str]:
    return [n for n in names if get_class(n).info.streaming]


@dataclass
class _Timeline:
    title: str
    values: np.ndarray
    windows: list[tuple[int, int]]
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    x: np.ndarray | None = None


def _thin(tl: _Timeline) -> _Timeline:
    """Keep only what the figure needs of a long series."""
    keep = _decimate(len(tl.values))
    windows = [
        (int(np.searchsorted(keep, a)), int(np.searchsorted(keep, b))) for a, b in tl.windows
    ]
    return _Timeline(
        tl.title,
        tl.values[keep],
        [(a, min(b, keep.size - 1)) for a, b in windows],
        {k: v[keep] for k, v in tl.scores.items()},
        None if tl.x is None else tl.x[keep],
    )


def _report(
    path: Path,
    title: str,
    notes: list[str],
    tables: list[tuple[str, pd.DataFrame]],
    timelines: list[_Timeline],
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


# ----------------------------------------------------------------------------------------------
# UCR


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
    timelines: list[_Timeline] = []
    stream_rows: dict[str, dict[str, float]] = {}
    progress, task = progress_bar(len(files) * len(names), "UCR")
    with progress:
        for i, path in enumerate(files):
            series = ucr.load_series(path)
            y = series.labels[series.train_end :]
            tl = _Timeline(series.id, series.test, [_shift(series.anomaly, series.train_end)])
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
            timelines.append(_thin(tl))
    per_series = pd.DataFrame(rows)
    summary = _summarise(per_series, names, {"ucr": "ucr_score"}, stream_rows)
    csv_path = _write_tables(summary, per_series, out_dir, "series_ucr")
    _report(
        out_dir / "series_ucr.html",
        "normalcy series benchmark: UCR anomaly archive",
        [
            f"{len(files)} series from {root}. Fit on [0, TRAINEND), score the rest; UCR score = "
            f"fraction of series whose top point lies within the anomaly ± {UCR_TOLERANCE}.",
            "Default parameters, no per-series tuning." + (" QUICK settings." if quick else ""),
        ],
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


def _summarise(
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
        for col in ("vus_pr", "pate", "range_f1"):
            row[col] = float(part[col].mean()) if col in part else np.nan
        row["seconds_per_series"] = float(part["seconds"].mean()) if len(part) else np.nan
        row["errors"] = int(part["error"].notna().sum()) if "error" in part else 0
        stream = stream_rows.get(name, {})
        for col in ("points_per_s", "latency_p50_us", "latency_p99_us"):
            row[col] = stream.get(col, np.nan)
        out.append(row)
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------------------------
# NAB


def nab_online_scores(
    name: str,
    values: np.ndarray,
    probationary: int,
    quick: bool = False,
    overrides: dict[str, Any] | None = None,
) -> tuple[np.ndarray, float, np.ndarray | None]:
    """Raw online scores of one NAB file (values in row order, as NAB reads them) under the
    NAB protocol (0 before scoring starts), the seconds it took, and per-row latencies (ns)
    for streaming detectors."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    start = max(probationary // 2, 2)
    raw = np.zeros(n)
    t0 = time.perf_counter()
    det = make_detector(name, quick, causal=True, overrides=overrides)
    if get_class(name).info.streaming:
        det.fit(values[:start])
        res = stream_latency(det, values[start:])
        raw[start:] = res["_scores"]
        return raw, time.perf_counter() - t0, res["_latencies_ns"]
    step = max(1, int(np.ceil(NAB_REFIT_FRACTION * n)))
    a = start
    while a < n:
        e = min(n, a + step)
        det = make_detector(name, quick, causal=True, overrides=overrides)
        det.fit(values[:a])
        context = max(0, a - det.min_length() + 1)
        scores = det.score(values[context:e]).scores
        raw[a:e] = scores[-(e - a) :]
        a = e
    return raw, time.perf_counter() - t0, None


def nab_threshold_search(
    labels: list[np.ndarray], scores: list[np.ndarray], profile: str
) -> tuple[float, float]:
    """(threshold, normalised corpus NAB score) maximising the corpus score for one profile,
    over quantiles of the pooled scores (denser towards the top) and the pooled maximum."""
    from ..metrics import nab_normalize, nab_raw_score

    pooled = np.concatenate(scores)
    levels = 1.0 - np.geomspace(1e-5, 0.5, NAB_THRESHOLD_CANDIDATES)
    candidates = np.unique(np.r_[np.quantile(pooled, levels), np.nextafter(pooled.max(), np.inf)])

    def corpus(thr: float) -> float:
        raw_total, n_windows = 0.0, 0
        for y, s in zip(labels, scores, strict=True):
            raw, count = nab_raw_score(y, s, threshold=thr, profile=profile)
            raw_total += raw
            n_windows += count
        return float(nab_normalize(raw_total, n_windows, profile))

    values = np.array([corpus(float(t)) for t in candidates])
    best = int(np.argmax(values))
    # refine between the best candidate's neighbours
    lo = candidates[max(best - 1, 0)]
    hi = candidates[min(best + 1, candidates.size - 1)]
    fine = np.unique(pooled[(pooled >= lo) & (pooled <= hi)])
    if fine.size > 40:
        fine = np.quantile(fine, np.linspace(0, 1, 40))
    best_thr, best_val = float(candidates[best]), float(values[best])
    for thr in fine:
        val = corpus(float(thr))
        if val > best_val:
            best_thr, best_val = float(thr), val
    return best_thr, best_val


def _nab_scores_table(
    labels: list[np.ndarray], scores: list[np.ndarray]
) -> tuple[dict[str, float], dict[str, float]]:
    out, thresholds = {}, {}
    for profile in NAB_PROFILES:
        thr, val = nab_threshold_search(labels, scores, profile)
        out[f"nab_{profile}"] = val
        thresholds[profile] = thr
    return out, thresholds


def _find_nab_results(nab_results: Path | None) -> Path | None:
    if nab_results is None:
        env = os.environ.get("NORMALCY_NAB_RESULTS")
        nab_results = Path(env) if env else None
    if nab_results is None:
        return None
    path = Path(nab_results)
    if (path / "results").is_dir():
        path = path / "results"
    if not path.is_dir():
        raise InputError(f"NAB results folder {nab_results} does not exist")
    return path


def read_nab_results(results: Path, keys: list[str], lengths: dict[str, int]):
    """Per detector of NAB's results folder: {key: anomaly_score array} for the given files
    (detectors missing a file or with a length mismatch are skipped)."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for det_dir in sorted(p for p in results.iterdir() if p.is_dir()):
        det = det_dir.name
        got: dict[str, np.ndarray] = {}
        for key in keys:
            group, fname = key.split("/")
            path = det_dir / group / f"{det}_{fname}"
            if not path.is_file():
                break
            col = pd.read_csv(path, usecols=["anomaly_score"])["anomaly_score"].to_numpy(float)
            if col.size != lengths[key]:
                break
            got[key] = np.nan_to_num(col, nan=0.0)
        else:
            out[det] = got
    return out


def run_nab(
    root: Path,
    out_dir: Path,
    names: list[str],
    limit: int | None,
    quick: bool,
    nab_results: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> Path:
    """The NAB protocol (see the module docstring)."""
    from ..datasets import nab
    from ..series.normalise import causal_margin

    series_list = nab.load(root, limit=limit)
    rows: list[dict[str, Any]] = []
    final: dict[str, list[np.ndarray]] = {name: [] for name in names}
    latencies: dict[str, list[np.ndarray]] = {}
    timelines: list[_Timeline] = []
    labels = [s.labels for s in series_list]
    progress, task = progress_bar(len(series_list) * len(names), "NAB")
    with progress:
        for s in series_list:
            tl = _Timeline(s.key, s.values, list(s.windows))
            p = s.probationary
            for name in names:
                progress.update(task, description=f"NAB {s.name[:28]} {name}")
                row = {"series": s.key, "detector": name, "length": s.values.size}
                try:
                    raw, secs, lat = nab_online_scores(name, s.values, p, quick, overrides)
                except NormalcyError as exc:
                    raw, secs, lat = np.zeros(s.values.size), np.nan, None
                    row["error"] = str(exc)[:200]
                start = max(p // 2, 2)
                if getattr(get_class(name), "alarm_scores", False):
                    z = raw  # the detector's own online alarm scores
                else:
                    z = np.zeros_like(raw)
                    z[start:] = causal_margin(raw[start:], horizon=p, warmup=NAB_ALARM_WARMUP)
                final[name].append(z)
                if lat is not None:
                    latencies.setdefault(name, []).append(lat)
                row["seconds"] = secs
                row.update(series_metrics(s.labels[p:], z[p:]))
                rows.append(row)
                tl.scores[name] = z
                progress.advance(task)
            timelines.append(tl)
    per_series = pd.DataFrame(rows)
    nab_cols: dict[str, dict[str, float]] = {}
    thresholds: dict[str, dict[str, float]] = {}
    for name in names:
        nab_cols[name], thresholds[name] = _nab_scores_table(labels, final[name])
    stream_rows = {}
    for name, parts in latencies.items():
        lat = np.concatenate(parts)
        stream_rows[name] = {
            "points_per_s": lat.size / (lat.sum() / 1e9),
            "latency_p50_us": float(np.percentile(lat, 50)) / 1e3,
            "latency_p99_us": float(np.percentile(lat, 99)) / 1e3,
        }
    summary = _summarise(per_series, names, {}, stream_rows, nab_cols)
    notes = [
        f"{len(series_list)} NAB files from {root}; online protocol, one threshold per detector "
        "and profile optimised over the corpus (see normalcy.bench.series_suite).",
        "Default parameters, no per-series tuning." + (" QUICK settings." if quick else ""),
    ]
    results = _find_nab_results(nab_results)
    if results is not None:
        keys = [s.key for s in series_list]
        lengths = {s.key: s.values.size for s in series_list}
        reference = read_nab_results(results, keys, lengths)
        ref_rows = []
        for det, by_key in reference.items():
            sc = [by_key[k] for k in keys]
            scores_tbl, thr = _nab_scores_table(labels, sc)
            thresholds[f"NAB:{det}"] = thr
            metrics = [
                series_metrics(s.labels[s.probationary :], v[s.probationary :])
                for s, v in zip(series_list, sc, strict=True)
            ]
            row = {"detector": det, "source": "numenta/NAB results", **scores_tbl}
            for col in ("vus_pr", "pate", "range_f1"):
                row[col] = float(np.nanmean([m[col] for m in metrics]))
            ref_rows.append(row)
        notes.append(
            f"NAB's own detectors: per-file results read from {results} (github.com/numenta/NAB, "
            "used as data only) and re-scored with normalcy's NAB scorer on the same files."
        )
        if ref_rows:
            summary = pd.concat([summary, pd.DataFrame(ref_rows)], ignore_index=True)
    summary = summary.sort_values("nab_standard", ascending=False, kind="stable")
    csv_path = _write_tables(summary, per_series, out_dir, "series_nab")
    (out_dir / "series_nab_thresholds.json").write_text(json.dumps(thresholds, indent=1) + "\n")
    _report(
        out_dir / "series_nab.html",
        "normalcy series benchmark: NAB",
        notes,
        [("Summary", summary)],
        [_thin(tl) for tl in timelines],
    )
    return csv_path


# ----------------------------------------------------------------------------------------------
# entry point


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    nab_results: Path | None = None,
    params: dict[str, Any] | None = None,
) -> Path:
    """Run the series benchmark on ``dataset`` ("ucr" or "nab"); returns the summary CSV.

    ``root`` is the data set's folder (default ``../shared/datasets/<dataset>``; a folder
    holding ``<dataset>/`` works too). ``quick`` uses the detectors' ``quick_params`` and at
    most 3 series. ``nab_results`` (or the environment variable ``NORMALCY_NAB_RESULTS``)
    points at numenta/NAB's results to re-score its detectors on the same files.
    ``params`` overrides parameters of every detector of the run (each must accept them).
    """
    if dataset not in DATASETS:
        raise InputError(f"dataset must be one of {DATASETS} for the series suite, got {dataset!r}")
    names = _detector_names(detectors)
    if not names:
        raise InputError("no series detector is registered")
    overrides = checked_overrides(names, params)
    if quick and limit is None:
        limit = QUICK_LIMIT
    data_root = _resolve_root(dataset, root)
    out_dir = Path(out_dir)
    if dataset == "ucr":
        return run_ucr(data_root, out_dir, names, limit, quick, overrides)
    return run_nab(data_root, out_dir, names, limit, quick, nab_results, overrides)
