"""Categorical-events benchmark: every event detector and the tabular baselines, same run.

``normalcy bench events [--dataset nsl_kdd|synthetic] [--detectors a,b] [--limit N]
[--quick] [--root FOLDER]``; from Python ``run(...)``.

Protocol
    Normal training events only are used to learn and to calibrate: they are shuffled
    (``numpy.random.default_rng(seed)``) and ``CALIBRATION_SHARE`` (20 %) of them are held
    out. Every detector is fitted on the rest with its default parameters (nothing is
    tuned per data set) and calibrated on the hold-out at a false-positive rate of
    ``FPR = 0.05``; F1 is measured at that threshold. ROC-AUC, average precision and the
    best F1 over all thresholds (picked with the labels, for comparison with papers only)
    are reported next to it, with fit seconds and scoring throughput (test events/s).

Detectors
    The event detectors (every registered detector of the ``events`` modality) run on the
    events as they are. The tabular baselines (PyOD's classic detectors registered in
    normalcy's tabular modality, and ``auto``) run on ``OneHot`` features: one indicator
    per category (unseen and missing included) and each numeric column standardised with
    the fit mean and standard deviation (``normalcy.events.encoding.OneHot``), fitted on the
    same training part. One CPU thread for everything; each detector runs in a forked
    child stopped after ``timeout`` seconds (a failure, listed in the report).

Data sets
    ``nsl_kdd``: NSL-KDD (``normalcy.datasets.nsl_kdd``), fit on the ``label == 0`` rows of
    KDDTrain+_20Percent, test on KDDTest+ (18 of its 37 attack types never occur in
    training); ``synthetic``: ``normalcy.events.synthetic.make_events`` (5,000 normal
    events, 2,000 test events of which 100 planted), a second set with known structure.
    On request (``--dataset celeba`` / ``campaign``): two ADBench sets whose columns are
    mostly binary indicators, read as categorical events (``adbench_events``: 10,000 normal
    training events, 5,000 normal and at most 1,000 anomalous test events).
    ``limit``/``quick`` cap the test rows of nsl_kdd and synthetic (seeded subsample);
    ``quick`` also uses each
    detector's ``quick_params`` (a smoke test, not a measurement).

Outputs in ``out_dir``: ``events[_<dataset>].csv`` (one row per data set and detector),
``.md`` (the table) and ``.html`` (the table and, per data set, the top-ranked test events of
the best event detector with the field pair or field it localises them to).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NormalcyError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .isolation import run_isolated

FPR = 0.05
CALIBRATION_SHARE = 0.2
DATASETS = ("nsl_kdd", "synthetic")
# ADBench sets whose columns are (mostly) binary indicators, read as categorical events;
# run on request (--dataset celeba / campaign)
ADBENCH_EVENTS = {"celeba": "8_celeba", "campaign": "5_campaign"}
ADBENCH_TRAIN, ADBENCH_NORMAL_TEST, ADBENCH_ANOMALIES = 10_000, 5_000, 1_000
# tabular baselines run by default: PyOD's classic detectors and normalcy's auto
BASELINE_MODULE = "normalcy.tabular.pyod_detectors"
QUICK_MAX_TEST = 2_000
TOP_EVENTS = 20


def detector_names(detectors: list[str] | None = None) -> list[str]:
    """Event detectors first, then the tabular baselines (``auto`` and PyOD's classics)."""
    if detectors:
        for name in detectors:
            modality = get_class(name).info.modality
            if modality not in ("events", "tabular"):
                raise InputError(f"detector {name!r} is a {modality} detector, not events/tabular")
        return list(dict.fromkeys(detectors))
    events = [i.name for i in registered("events")]
    tabular = [i for i in registered("tabular")]
    base = ["auto"] if any(i.name == "auto" for i in tabular) else []
    base += [i.name for i in tabular if i.module == BASELINE_MODULE]
    return events + base


def load(name: str, root: Path | None, max_test: int | None, seed: int) -> dict[str, Any]:
    """Training events, test events, labels and per-row attack/kind names of one set."""
    if name == "nsl_kdd":
        from ..datasets import nsl_kdd

        data = nsl_kdd.load(root, max_test=max_test, seed=seed)
        return {"train": data.train, "test": data.test, "y": data.labels, "kind": data.attacks}
    if name == "synthetic":
        from ..events.synthetic import make_events

        n_test = min(2_000, max_test or 2_000)
        data = make_events(n_train=5_000, n_test=n_test, n_anomalies=n_test // 20, seed=seed)
        return {"train": data.train, "test": data.test, "y": data.labels, "kind": data.kinds}
    if name in ADBENCH_EVENTS:
        return adbench_events(ADBENCH_EVENTS[name], root, seed)
    known = ", ".join((*DATASETS, *ADBENCH_EVENTS))
    raise InputError(f"unknown events data set {name!r}; available: {known}")


def adbench_events(stem: str, root: Path | None, seed: int) -> dict[str, Any]:
    """An ADBench set as categorical events: a column with two distinct values becomes a
    category ("0"/"1"), the others stay numeric. ``ADBENCH_TRAIN`` normal rows (seeded
    draw) are the training events; the test events are ``ADBENCH_NORMAL_TEST`` other normal
    rows and at most ``ADBENCH_ANOMALIES`` anomalies."""
    from ..datasets import adbench

    folder = adbench._root(root)  # --root: the ADBench folder for these sets
    with np.load(folder / f"{stem}.npz", allow_pickle=False) as data:
        X, y = data["X"], data["y"].astype(np.int64)
    rng = np.random.default_rng(seed)
    normal = rng.permutation(np.flatnonzero(y == 0))
    anomalies = rng.permutation(np.flatnonzero(y == 1))[:ADBENCH_ANOMALIES]
    columns = {}
    for j in range(X.shape[1]):
        values = np.unique(X[:, j])
        binary = len(values) <= 2
        columns[f"f{j}"] = (X[:, j] > values[0]).astype(int).astype(str) if binary else X[:, j]
    frame = pd.DataFrame(columns)
    train = normal[:ADBENCH_TRAIN]
    test = np.concatenate([normal[ADBENCH_TRAIN : ADBENCH_TRAIN + ADBENCH_NORMAL_TEST], anomalies])
    kinds = np.where(y[test] == 1, "anomaly", "normal")
    return {
        "train": frame.iloc[train].reset_index(drop=True),
        "test": frame.iloc[test].reset_index(drop=True),
        "y": y[test],
        "kind": kinds,
    }


def split(train: Any, seed: int) -> tuple[Any, Any]:
    """Fit part and calibration hold-out (``CALIBRATION_SHARE``) of the normal events."""
    order = np.random.default_rng(seed).permutation(len(train))
    n_cal = int(round(CALIBRATION_SHARE * len(train)))
    cal, fit = np.sort(order[:n_cal]), np.sort(order[n_cal:])
    return train.iloc[fit].reset_index(drop=True), train.iloc[cal].reset_index(drop=True)


def _evaluate(
    name: str, data: dict[str, Any], quick: bool, seed: int, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    from ..metrics import auroc, average_precision, f1_max

    cls = get_class(name)
    params: dict[str, Any] = dict(cls.quick_params or {}) if quick else {}
    params.update({k: v for k, v in (extra or {}).items() if k in cls.info.params})
    if "seed" in cls.info.params:
        params.setdefault("seed", seed)
    key = "events" if cls.info.modality == "events" else "onehot"
    fit, cal, test = data[key]
    y = data["y"]
    row: dict[str, Any] = {"input": "events" if key == "events" else "one-hot"}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = create(name, **params).fit(fit)
            t1 = time.perf_counter()
            det.calibrate(cal, fpr=FPR)
            t2 = time.perf_counter()
            res = det.score(test)
            t3 = time.perf_counter()
    except (NormalcyError, ValueError, RuntimeError, MemoryError, np.linalg.LinAlgError) as exc:
        row.update(error=f"{type(exc).__name__}: {exc}"[:300])
        return row
    flagged = res.labels.astype(bool)
    tp = int((flagged & (y == 1)).sum())
    precision = tp / max(int(flagged.sum()), 1)
    recall = tp / max(int((y == 1).sum()), 1)
    row.update(
        roc_auc=float(auroc(y, res.scores)),
        ap=float(average_precision(y, res.scores)),
        f1_at_fpr=0.0 if tp == 0 else 2 * precision * recall / (precision + recall),
        precision=precision,
        recall=recall,
        test_fpr=float(flagged[y == 0].mean()),
        best_f1=float(f1_max(y, res.scores).f1),
        fit_s=t1 - t0,
        rows_per_s=len(y) / max(t3 - t2, 1e-9),
        error="",
    )
    if key == "events":
        row["_scores"] = res.scores
        row["_pair"] = res.extras.get("pair")
        row["_field"] = res.extras.get("field")
        row["_maps"] = res.maps
    return row


def evaluate(
    name: str,
    data: dict[str, Any],
    quick: bool,
    seed: int,
    timeout: float | None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One detector on one data set, in a forked child with a time limit."""
    return run_isolated(_evaluate, (name, data, quick, seed, extra), timeout)


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    seed: int = 0,
    timeout: float | None = 600.0,
    params: dict[str, Any] | None = None,
) -> Path:
    """Run the benchmark (see the module docstring); returns the CSV path.

    ``params``: parameter values given to every detector that has them (e.g. an APE
    setting for a pilot run; write pilots to their own ``out_dir``)."""
    from threadpoolctl import threadpool_limits

    from ..events.encoding import OneHot
    from .progress import progress_bar

    names = detector_names(detectors)
    sets = [dataset] if dataset else list(DATASETS)
    max_test = limit
    if quick:
        max_test = min(limit or QUICK_MAX_TEST, QUICK_MAX_TEST)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"events_{dataset}" if dataset else "events"
    csv = out_dir / f"{stem}.csv"
    rows: list[dict[str, Any]] = []
    tops: dict[str, tuple[str, pd.DataFrame]] = {}
    progress, task = progress_bar(len(sets) * len(names), "events")
    with threadpool_limits(1), progress:
        for set_name in sets:
            raw = load(set_name, root, max_test, seed)
            fit, cal = split(raw["train"], seed)
            onehot = OneHot().fit(fit)
            data = {
                "events": (fit, cal, raw["test"]),
                "onehot": (
                    onehot.transform(fit),
                    onehot.transform(cal),
                    onehot.transform(raw["test"]),
                ),
                "y": raw["y"],
            }
            base = {
                "dataset": set_name,
                "n_fit": len(fit),
                "n_calibration": len(cal),
                "n_test": len(raw["test"]),
                "anomalies": int(raw["y"].sum()),
            }
            best: tuple[float, str, dict[str, Any]] | None = None
            for name in names:
                progress.update(task, description=f"{set_name} {name}")
                result = evaluate(name, data, quick, seed, timeout, params)
                extras = {k: result.pop(k) for k in list(result) if k.startswith("_")}
                rows.append({**base, "detector": name, **result})
                if extras.get("_scores") is not None and (
                    best is None or result["roc_auc"] > best[0]
                ):
                    best = (result["roc_auc"], name, extras)
                progress.advance(task)
                _frame(rows).to_csv(csv, index=False)
            if best is not None:
                tops[set_name] = (best[1], top_events(raw, best[2]))
    frame = _frame(rows)
    frame.to_csv(csv, index=False)
    (out_dir / f"{stem}.md").write_text(markdown(frame, quick) + "\n")
    _html(frame, tops, quick).write(out_dir / f"{stem}.html")
    return csv


def top_events(raw: dict[str, Any], extras: dict[str, Any], n: int = TOP_EVENTS) -> pd.DataFrame:
    """The ``n`` highest-scored test events with their label, kind and localised fields."""
    scores = extras["_scores"]
    test = raw["test"]
    cols = list(test.columns)
    order = np.argsort(-scores, kind="stable")[:n]
    out = []
    for rank, i in enumerate(order, 1):
        if extras.get("_pair") is not None:
            a, b = extras["_pair"][i]
            where = f"{cols[a]}={test.iat[i, a]!s} & {cols[b]}={test.iat[i, b]!s}"
        elif extras.get("_field") is not None:
            j = extras["_field"][i]
            where = f"{cols[j]}={test.iat[i, j]!s}"
        else:
            where = ""
        out.append(
            {
                "rank": rank,
                "row": int(i),
                "score": float(scores[i]),
                "anomaly": int(raw["y"][i]),
                "kind": str(raw["kind"][i]),
                "localised to": where,
            }
        )
    return pd.DataFrame(out)


COLUMNS = (
    "dataset",
    "detector",
    "input",
    "roc_auc",
    "ap",
    "f1_at_fpr",
    "precision",
    "recall",
    "test_fpr",
    "best_f1",
    "fit_s",
    "rows_per_s",
)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in (*COLUMNS, "error"):
        if col not in frame:
            frame[col] = "" if col == "error" else np.nan
    return frame


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return (
            "–"
            if not np.isfinite(value)
            else f"{value:.4g}"
            if abs(value) >= 100
            else f"{value:.4f}"
        )
    return str(value)


def _protocol(quick: bool) -> str:
    return (
        f"Fit on 80 % of the normal training events, threshold calibrated on the other 20 % "
        f"at FPR {FPR} (no labels), F1 at that threshold; best F1 picks the threshold with "
        "the labels (papers' convention, for comparison only). Event detectors on the events, "
        "tabular baselines on one-hot categories + standardised numerics; defaults, one CPU "
        "thread" + (" (quick: quick_params, test rows capped)." if quick else ".")
    )


def markdown(frame: pd.DataFrame, quick: bool = False) -> str:
    parts = ["# Categorical-events benchmark", _protocol(quick)]
    for set_name, group in frame.groupby("dataset", sort=False):
        group = group.sort_values("roc_auc", ascending=False)
        lines = ["| " + " | ".join(COLUMNS[1:]) + " |", "|" + "---|" * (len(COLUMNS) - 1)]
        for _, r in group.iterrows():
            lines.append("| " + " | ".join(_fmt(r[c]) for c in COLUMNS[1:]) + " |")
        first = group.iloc[0]
        parts += [
            f"## {set_name} ({first['n_fit']} fit, {first['n_calibration']} calibration, "
            f"{first['n_test']} test events, {first['anomalies']} anomalous)",
            "\n".join(lines),
        ]
        failed = group[group["error"].fillna("").astype(str) != ""]
        if len(failed):
            parts.append(
                "Failures: " + "; ".join(f"{r.detector}: {r.error}" for r in failed.itertuples())
            )
    return "\n\n".join(parts)


def _html(frame: pd.DataFrame, tops: dict[str, tuple[str, pd.DataFrame]], quick: bool):
    from ..viz import HtmlReport

    report = HtmlReport("Categorical-events benchmark")
    report.text(_protocol(quick), note=True)
    for set_name, group in frame.groupby("dataset", sort=False):
        report.heading(set_name)
        cols = [c for c in (*COLUMNS[1:], "error") if c in group]
        report.table(group.sort_values("roc_auc", ascending=False)[cols])
        if set_name in tops:
            name, table = tops[set_name]
            report.heading(
                f"Top {len(table)} test events by {name}, and where it localises them", 3
            )
            report.table(table, float_format="{:.3f}")
    return report
