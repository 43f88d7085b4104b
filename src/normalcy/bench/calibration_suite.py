"""Calibration benchmark: the false-positive rate a series threshold realises on *later* normal
data, with the plain quantile and with the autocorrelation-aware method (``Threshold.at_fpr``).

Protocol: each case is a stretch of normal data cut in three consecutive parts (fit,
hold-out, later). A detector is fitted on the first, calibrated on the second at each target
rate with both methods, and the fraction of the third part it flags is the realised rate.

* synthetic: the normal part of ``make_series`` (3 channels, seeds 0-2), fit / hold-out of
  700 / 300 and 1500 / 500 steps, then 3000 later steps;
* ucr: the normal training part of the archive series named in ``UCR_SERIES`` (every
  variant present in the data folder), split 50 / 25 / 25 %;
* nab: the stretch before the first labelled window of the files in ``NAB_FILES``, split
  45 / 20 / 35 %.

``normalcy bench calibration`` writes ``series_calibration.csv`` (one row per detector,
case, rate and method) and ``series_calibration_summary.csv`` / ``.md`` (median realised
rate, largest in brackets, per detector, data set and rate).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.threshold import Threshold
from ..datasets import nab, ucr
from ..datasets.synthetic import make_series
from .progress import progress_bar
from .series_common import detector_names, make_detector, resolve_root
from .tables import markdown_table

RATES = (0.05, 0.01)
METHODS = ("quantile", "autocorrelated")
DATASETS = ("synthetic", "ucr", "nab")
UCR_SERIES = ("InternalBleeding8", "CIMIS44AirTemperature4", "PowerDemand4", "qtdbSel100MLII")
NAB_FILES = (
    "realKnownCause/machine_temperature_system_failure.csv",
    "realKnownCause/ambient_temperature_system_failure.csv",
    "realKnownCause/nyc_taxi.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv",
)
DEFAULT_DETECTORS = ("sub_knn", "sub_iforest", "sub_pca", "mp_discord", "conformal_knn", "rola")


def _split(values: np.ndarray, fractions: tuple[float, float]) -> tuple[np.ndarray, ...]:
    n = values.shape[0]
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    return values[:a], values[a:b], values[b:]


def synthetic_cases(quick: bool = False) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    sizes = ((700, 300),) if quick else ((700, 300), (1500, 500))
    cases = []
    for seed in range(1 if quick else 3):
        for fit, hold in sizes:
            later = 1000 if quick else 3000
            values = make_series(train_length=fit + hold + later, seed=seed).train
            values = np.asarray(values, dtype=np.float64)
            parts = (values[:fit], values[fit : fit + hold], values[fit + hold :])
            cases.append((f"seed{seed}_fit{fit}", parts))
    return cases


def ucr_cases(root: Path, quick: bool = False) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    files = [p for p in ucr.list_files(root) if any(s in p.name for s in UCR_SERIES)]
    cases = []
    for path in files[:2] if quick else files:
        series = ucr.load_series(path)
        cases.append((series.id, _split(np.asarray(series.train, float), (0.5, 0.25))))
    return cases


def nab_cases(root: Path, quick: bool = False) -> list[tuple[str, tuple[np.ndarray, ...]]]:
    cases = []
    for key in NAB_FILES[:2] if quick else NAB_FILES:
        series = nab.load_series(root, key)
        end = series.windows[0][0] if series.windows else series.values.shape[0]
        cases.append((series.name, _split(np.asarray(series.values[:end], float), (0.45, 0.2))))
    return cases


def realised_rates(name: str, parts: tuple[np.ndarray, ...], quick: bool) -> list[dict[str, Any]]:
    """Fit on part 1, calibrate on part 2 with every method and rate, count part 3 flags."""
    fit, hold, later = parts
    det = make_detector(name, quick=quick).fit(fit)
    hold_scores = det.score(hold).scores
    later_scores = det.score(later).scores
    rows = []
    for fpr in RATES:
        for method in METHODS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # short hold-outs warn; the rate says it all
                threshold = Threshold.at_fpr(hold_scores, fpr, method=method)
            rows.append(
                {
                    "fpr": fpr,
                    "method": method,
                    "realised": float(np.mean(threshold.apply(later_scores))),
                }
            )
    return rows


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Median realised rate (largest in brackets) per detector, data set, rate and method."""
    groups = frame.groupby(["detector", "dataset", "fpr", "method"])["realised"]
    stats = groups.agg(["median", "max", "size"]).reset_index()
    stats["cell"] = [
        f"{m:.3f} ({x:.2f})" for m, x in zip(stats["median"], stats["max"], strict=True)
    ]
    table = stats.pivot_table(
        index="detector", columns=["dataset", "fpr", "method"], values="cell", aggfunc="first"
    )
    table.columns = [f"{d} {f:g} {m}" for d, f, m in table.columns]
    return table.reset_index()


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    **_: Any,
) -> Path:
    """Run the calibration benchmark; returns the summary CSV."""
    datasets = DATASETS if dataset is None else (dataset,)
    if any(d not in DATASETS for d in datasets):
        raise InputError(f"dataset must be one of {DATASETS} for this suite, got {dataset!r}")
    names = detector_names(detectors) if detectors else list(DEFAULT_DETECTORS)
    cases: list[tuple[str, str, tuple[np.ndarray, ...]]] = []
    for ds in datasets:
        if ds == "synthetic":
            found = synthetic_cases(quick)
        elif ds == "ucr":
            found = ucr_cases(resolve_root("ucr", root if dataset else None), quick)
        else:
            found = nab_cases(resolve_root("nab", root if dataset else None), quick)
        cases.extend((ds, case, parts) for case, parts in found[:limit])
    rows = []
    progress, task = progress_bar(len(cases) * len(names), "calibration")
    with progress:
        for ds, case, parts in cases:
            for name in names:
                for row in realised_rates(name, parts, quick):
                    rows.append({"detector": name, "dataset": ds, "case": case, **row})
                progress.advance(task)
    frame = pd.DataFrame(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out_dir / "series_calibration.csv", index=False)
    table = summarise(frame)
    path = out_dir / "series_calibration_summary.csv"
    table.to_csv(path, index=False)
    (out_dir / "series_calibration_summary.md").write_text(markdown_table(table))
    return path
