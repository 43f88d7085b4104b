"""The series benchmark's NAB protocol (see ``bench.series_suite``): online scoring, causal
alarm scores, one corpus threshold per detector and profile, and NAB's own detectors'
results re-scored as data."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NormalcyError
from ..core.registry import get_class
from .progress import progress_bar
from .series_common import (
    check_labelled,
    make_detector,
    series_metrics,
    stream_latency,
    summarise,
    write_tables,
)
from .series_report import Timeline, thin, write_report

NAB_PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
NAB_REFIT_FRACTION = 0.10
NAB_ALARM_WARMUP = 10
NAB_THRESHOLD_CANDIDATES = 160


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


def nab_scores_table(
    labels: list[np.ndarray], scores: list[np.ndarray]
) -> tuple[dict[str, float], dict[str, float]]:
    out, thresholds = {}, {}
    for profile in NAB_PROFILES:
        thr, val = nab_threshold_search(labels, scores, profile)
        out[f"nab_{profile}"] = val
        thresholds[profile] = thr
    return out, thresholds


def find_nab_results(nab_results: Path | None) -> Path | None:
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

    # a limited run (e.g. --quick) takes files with labelled anomalies: on a file without
    # one, every ranking metric is undefined
    series_list = nab.load(root, limit=limit, labelled_only=bool(limit))
    rows: list[dict[str, Any]] = []
    final: dict[str, list[np.ndarray]] = {name: [] for name in names}
    latencies: dict[str, list[np.ndarray]] = {}
    timelines: list[Timeline] = []
    labels = [s.labels for s in series_list]
    progress, task = progress_bar(len(series_list) * len(names), "NAB")
    with progress:
        for s in series_list:
            tl = Timeline(s.key, s.values, list(s.windows))
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
        nab_cols[name], thresholds[name] = nab_scores_table(labels, final[name])
    stream_rows = {}
    for name, parts in latencies.items():
        lat = np.concatenate(parts)
        stream_rows[name] = {
            "points_per_s": lat.size / (lat.sum() / 1e9),
            "latency_p50_us": float(np.percentile(lat, 50)) / 1e3,
            "latency_p99_us": float(np.percentile(lat, 99)) / 1e3,
        }
    summary = summarise(per_series, names, {}, stream_rows, nab_cols)
    notes = [
        f"{len(series_list)} NAB files from {root}; online protocol, one threshold per detector "
        "and profile optimised over the corpus (see normalcy.bench.series_suite).",
        "Default parameters, no per-series tuning." + (" QUICK settings." if quick else ""),
    ]
    if limit:
        notes.append(f"The first {limit} files with labelled anomaly windows.")
    check_labelled(summary, notes)
    results = find_nab_results(nab_results)
    if results is not None:
        keys = [s.key for s in series_list]
        lengths = {s.key: s.values.size for s in series_list}
        reference = read_nab_results(results, keys, lengths)
        ref_rows = []
        for det, by_key in reference.items():
            sc = [by_key[k] for k in keys]
            scores_tbl, thr = nab_scores_table(labels, sc)
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
    csv_path = write_tables(summary, per_series, out_dir, "series_nab")
    (out_dir / "series_nab_thresholds.json").write_text(json.dumps(thresholds, indent=1) + "\n")
    write_report(
        out_dir / "series_nab.html",
        "normalcy series benchmark: NAB",
        notes,
        [("Summary", summary)],
        [thin(tl) for tl in timelines],
    )
    return csv_path
