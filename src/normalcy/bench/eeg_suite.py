"""EEG benchmark: segment detectors on the Bonn sets (normal A-D, anomaly E).

``normalcy bench eeg --root ../shared/datasets/eeg/bonn [--detectors line_length,eegformer]
[--quick]``; from Python ``run(root=..., ...)``.

Protocol (the data set README's): 2 folds; in each, a seeded half of each of A-D is the
fit set (unlabelled normal segments: EEGFormer pretrains on them, self-supervised), the
other halves plus all 100 E segments are scored; segment ROC-AUC and AP per fold and their
mean. Every detector runs with its defaults (``sampling_rate`` set to the recording's
173.61 Hz, a property of the data); E is never used to choose anything.

``limit`` runs the first ``limit`` folds; ``quick`` uses each detector's ``quick_params``.
Outputs in ``out_dir``: ``eeg.csv`` (fold x detector), ``eeg.md`` (means, and the mean
score per Bonn set) and ``eeg.html`` (score distributions per set, EEGFormer's codebook
usage per set).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from ..datasets.bonn import SAMPLING_RATE, split
from ..metrics.ranking import auroc, average_precision
from .tables import markdown_table

N_FOLDS = 2
DEFAULT_ROOT = Path("../shared/datasets/eeg/bonn")


def _make(name: str, quick: bool):
    params = dict(get_class(name).quick_params) if quick else {}
    if "sampling_rate" in get_class(name)._get_param_names():
        params["sampling_rate"] = SAMPLING_RATE
    return create(name, **params)


def run(
    dataset: str | None = None,
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    if dataset not in (None, "bonn"):
        raise InputError(f"the eeg suite has one data set, 'bonn' (got {dataset!r})")
    root = Path(root) if root is not None else DEFAULT_ROOT
    names = [i.name for i in registered("segments")]
    if detectors:
        unknown = sorted(set(detectors) - set(names))
        if unknown:
            raise InputError(f"not segment detectors: {unknown}; available: {names}")
        names = [n for n in names if n in detectors]
    folds = range(N_FOLDS if limit is None else max(1, min(N_FOLDS, int(limit))))
    rows, per_set, usage = [], [], {}
    for fold in folds:
        data = split(root, fold, N_FOLDS)
        for name in names:
            det = _make(name, quick)
            t0 = time.perf_counter()
            det.fit(data.train)
            t1 = time.perf_counter()
            res = det.score(data.test)
            t2 = time.perf_counter()
            rows.append(
                {
                    "fold": fold,
                    "detector": name,
                    "roc_auc": auroc(data.labels, res.scores),
                    "ap": average_precision(data.labels, res.scores),
                    "n_fit": len(data.train),
                    "n_test": len(data.test),
                    "fit_s": t1 - t0,
                    "score_s": t2 - t1,
                }
            )
            for s in np.unique(data.sets):
                sel = data.sets == s
                per_set.append(
                    {
                        "fold": fold,
                        "detector": name,
                        "set": s,
                        "median_score": float(np.median(res.scores[sel])),
                    }
                )
            if "code_usage" in res.extras:
                usage[(fold, name)] = (res.extras["code_usage"], data.sets)
            print(
                f"fold {fold} {name} roc_auc={rows[-1]['roc_auc']:.4f} fit={t1 - t0:.1f}s",
                flush=True,
            )
        # reference: the raw one-sided line length (no fit), the "trivial" score
        raw = np.abs(np.diff(data.test, axis=1)).mean(axis=1)
        rows.append(
            {
                "fold": fold,
                "detector": "raw line length (reference, no fit)",
                "roc_auc": auroc(data.labels, raw),
                "ap": average_precision(data.labels, raw),
                "n_fit": 0,
                "n_test": len(data.test),
                "fit_s": 0.0,
                "score_s": 0.0,
            }
        )
    frame = pd.DataFrame(rows)
    sets = pd.DataFrame(per_set)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = "eeg" + ("_quick" if quick else "")
    csv = out / f"{stem}.csv"
    frame.to_csv(csv, index=False)
    (out / f"{stem}.md").write_text(markdown(frame, sets))
    _html(frame, sets, usage, out / f"{stem}.html")
    return csv


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    return (
        frame.groupby("detector", sort=False)
        .agg(
            roc_auc=("roc_auc", "mean"),
            roc_auc_min=("roc_auc", "min"),
            ap=("ap", "mean"),
            fit_s=("fit_s", "mean"),
        )
        .reset_index()
    )


def markdown(frame: pd.DataFrame, sets: pd.DataFrame) -> str:
    med = sets.pivot_table(index="detector", columns="set", values="median_score").reset_index()
    return (
        f"Bonn, {frame['fold'].nunique()} fold(s): fit on half of A-D, score the rest of A-D and E\n\n"
        + markdown_table(summary(frame))
        + "\nMedian score per set (mean over folds)\n\n"
        + markdown_table(med)
    )


def _html(frame, sets, usage, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..viz.html import HtmlReport

    report = HtmlReport("EEG benchmark (Bonn)")
    report.table(summary(frame))
    report.table(
        sets.pivot_table(index="detector", columns="set", values="median_score").reset_index()
    )
    for (fold, name), (counts, labels) in usage.items():
        fig, ax = plt.subplots(figsize=(8, 3))
        for s in np.unique(labels):
            share = counts[labels == s].sum(axis=0)
            ax.plot(share / max(share.sum(), 1), label=f"set {s}")
        ax.set_xlabel("codebook entry")
        ax.set_ylabel("share of tokens")
        ax.legend(fontsize=7)
        ax.set_title(f"{name}, fold {fold}: codebook usage per Bonn set")
        report.image(fig, "which codebook patterns each set uses (E: seizures)")
    report.write(path)
