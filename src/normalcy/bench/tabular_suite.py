"""Tabular benchmark: every tabular detector on the ADBench folder, side by side.

``normalcy bench tabular --root ../shared/datasets/adbench [--dataset NAME] [--detectors a,b]
[--limit N] [--quick]``; from Python ``run(root=..., ...)``.

Protocol (ADBench's unsupervised one)
    Each data set is standardised (z-scores; constant columns become 0), every detector is
    fitted on ``X`` without ``y`` and scores the same ``X``; ROC-AUC and average precision
    (AP) are computed against ``y``. Every detector runs with its default parameters; nothing
    is tuned per data set.

Size rule (applied to every detector alike)
    A data set with more than ``max_samples`` rows (default 10,000, as ADBench caps its
    sets for the slow methods) is subsampled once: ``max_samples`` rows drawn uniformly
    without replacement with ``numpy.random.default_rng(seed)``, kept in file order. The CSV
    records ``n_original`` and ``subsampled`` for every row.

Timing
    Wall-clock seconds of ``fit`` and of ``score``, one CPU thread for everything (BLAS via
    threadpoolctl, torch via each detector's ``n_threads``). Each detector is warmed up on
    a tiny synthetic set first, so one-off costs (imports, numba compilation) are not
    charged to the first data set.

Time limit
    Each fit + score runs in a forked child process and is stopped after ``timeout``
    seconds (default 300); a stopped run counts as a failure (no ROC-AUC, ranked last) and
    is listed in the report. Where ``fork`` is unavailable everything runs in-process.

``limit`` runs the ``limit`` smallest data sets; ``quick`` runs the 5 smallest with at most
2,000 rows and each detector's ``quick_params`` (a smoke test, not a measurement).

Outputs in ``out_dir``: ``tabular[_<dataset>].csv`` (one row per data set and detector),
``.md`` (table of means and per-data-set ROC-AUC) and ``.html`` (the same tables and a
critical-difference rank diagram: average ROC-AUC ranks with the Nemenyi critical
difference at alpha = 0.05, Demšar 2006).
"""

from __future__ import annotations

import math
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
from .progress import progress_bar

MAX_SAMPLES = 10_000
QUICK_DATASETS = 5
QUICK_MAX_SAMPLES = 2_000
BASELINE = "iforest"
# normalcy's own methods first in tables, then PyOD's
OWN = ("auto", "apre", "mss", "fedpca", "autoencoder", "deepsvdd", "dif")


def detector_names(detectors: list[str] | None = None) -> list[str]:
    """The requested tabular detectors (all registered ones by default), normalcy's first."""
    if detectors:
        for name in detectors:
            info = get_class(name).info
            if info.modality != "tabular":
                raise InputError(f"detector {name!r} is a {info.modality} detector, not tabular")
        return list(dict.fromkeys(detectors))
    names = [info.name for info in registered("tabular")]
    return [n for n in OWN if n in names] + [n for n in names if n not in OWN]


def make_detector(name: str, quick: bool = False, seed: int = 0):
    """``name`` with default parameters (``quick_params`` with ``quick``) and ``seed``."""
    cls = get_class(name)
    params: dict[str, Any] = dict(cls.quick_params or {}) if quick else {}
    if "seed" in cls.info.params:
        params.setdefault("seed", seed)
    return create(name, **params)


def standardise(X: np.ndarray) -> np.ndarray:
    """Column z-scores; constant columns become 0 (ADBench's preprocessing)."""
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    return (X - mean) / np.where(std > 0, std, 1.0)


def _warm_up(names: list[str], quick: bool, seed: int) -> None:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 4))
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make_detector(name, quick, seed).fit(X).score(X[:8])
        except Exception:  # the real run reports the error
            pass


def _evaluate(name: str, X: np.ndarray, y: np.ndarray, quick: bool, seed: int) -> dict:
    from ..metrics import auroc, average_precision

    row: dict[str, Any] = {}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = make_detector(name, quick, seed).fit(X)
            t1 = time.perf_counter()
            scores = det.score(X).scores
        t2 = time.perf_counter()
    except (NormalcyError, ValueError, RuntimeError, MemoryError, np.linalg.LinAlgError) as exc:
        row.update(error=f"{type(exc).__name__}: {exc}"[:300], total_s=time.perf_counter() - t0)
        return row
    row.update(fit_s=t1 - t0, score_s=t2 - t1, total_s=t2 - t0)
    row["roc_auc"] = float(auroc(y, scores))
    row["ap"] = float(average_precision(y, scores))
    row["error"] = ""
    return row


def evaluate(
    name: str, X: np.ndarray, y: np.ndarray, quick: bool, seed: int, timeout: float | None
) -> dict:
    """Fit and score one detector on one data set, in a forked child with a time limit."""
    return run_isolated(_evaluate, (name, X, y, quick, seed), timeout)


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    max_samples: int | None = MAX_SAMPLES,
    seed: int = 0,
    timeout: float | None = 300.0,
) -> Path:
    """Run the benchmark (see the module docstring); returns the CSV path."""
    from threadpoolctl import threadpool_limits

    from ..datasets import adbench

    names = detector_names(detectors)
    sets = [adbench.resolve(dataset, root)] if dataset else adbench.names(root)
    if quick:
        limit = min(limit or QUICK_DATASETS, QUICK_DATASETS)
        max_samples = min(max_samples or QUICK_MAX_SAMPLES, QUICK_MAX_SAMPLES)
    if limit:
        sizes = {}
        for stem in sets:
            with np.load(adbench._root(root) / f"{stem}.npz", allow_pickle=False) as data:
                sizes[stem] = int(np.prod(data["X"].shape))
        sets = sorted(sets, key=lambda s: sizes[s])[: int(limit)]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"tabular_{sets[0]}" if dataset else "tabular"
    csv = out_dir / f"{stem}.csv"
    rows: list[dict[str, Any]] = []
    progress, task = progress_bar(len(sets) * len(names), "tabular")
    with threadpool_limits(1), progress:
        _warm_up(names, quick, seed)
        for name_ in sets:
            data = adbench.load(name_, root, max_samples=max_samples, seed=seed)
            X = standardise(data.X)
            base = {
                "dataset": name_,
                "n": X.shape[0],
                "d": X.shape[1],
                "n_original": data.n_original,
                "subsampled": data.subsampled,
                "contamination": round(data.contamination, 4),
            }
            for name in names:
                progress.update(task, description=f"{name_[:20]} {name}")
                result = evaluate(name, X, data.y, quick, seed, timeout)
                rows.append({**base, "detector": name, **result})
                progress.advance(task)
            _frame(rows).to_csv(csv, index=False)  # partial results survive an interruption
    frame = _frame(rows)
    frame.to_csv(csv, index=False)
    means = summary(frame)
    (out_dir / f"{stem}.md").write_text(_markdown(frame, means, max_samples, seed) + "\n")
    _html(frame, means, max_samples, seed).write(out_dir / f"{stem}.html")
    return csv


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for col in ("roc_auc", "ap", "fit_s", "score_s", "error"):
        if col not in frame:
            frame[col] = np.nan if col != "error" else ""
    return frame


# ----------------------------------------------------------------------------------------------
# summaries


def average_ranks(frame: pd.DataFrame, metric: str = "roc_auc") -> pd.Series:
    """Mean rank per detector over data sets (1 = best; ties share ranks; failures rank last)."""
    pivot = frame.pivot(index="dataset", columns="detector", values=metric)
    return pivot.fillna(-np.inf).rank(axis=1, ascending=False, method="average").mean(axis=0)


def summary(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per detector: mean ROC-AUC and AP, mean rank, total seconds, time vs IForest."""
    g = frame.groupby("detector", sort=False)
    out = pd.DataFrame(
        {
            "roc_auc": g["roc_auc"].mean(),
            "ap": g["ap"].mean(),
            "rank": average_ranks(frame),
            "fit_s": g["fit_s"].sum(),
            "score_s": g["score_s"].sum(),
            "failures": g["roc_auc"].apply(lambda s: int(s.isna().sum())),
            "datasets": g["dataset"].count(),
        }
    )
    out["total_s"] = out["fit_s"] + out["score_s"]
    if BASELINE in out.index and out.loc[BASELINE, "total_s"] > 0:
        out["time_vs_iforest"] = out["total_s"] / out.loc[BASELINE, "total_s"]
    out = out.sort_values("roc_auc", ascending=False)
    return out.reset_index().rename(columns={"index": "detector"})


def nemenyi_cd(k: int, n: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks for ``k`` methods on ``n`` data sets."""
    from scipy.stats import studentized_range

    if k < 2 or n < 1:
        return float("nan")
    q = studentized_range.ppf(1 - alpha, k, 1e5) / math.sqrt(2)
    return float(q * math.sqrt(k * (k + 1) / (6.0 * n)))


def cd_diagram(ranks: pd.Series, n_datasets: int, alpha: float = 0.05, title: str = ""):
    """Demšar's critical-difference diagram: methods on an axis of average rank, the CD bar,
    and thick lines joining groups whose ranks differ by less than the CD."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    ranks = ranks.sort_values()
    k = len(ranks)
    cd = nemenyi_cd(k, n_datasets, alpha)
    lo, hi = 1, max(k, 2)
    half = math.ceil(k / 2)
    fig, ax = plt.subplots(figsize=(9, 1.6 + 0.28 * half))
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(-(half + 2.5), 2.2)
    ax.axis("off")
    ax.hlines(0, lo, hi, color="k", linewidth=1)
    for r in range(lo, hi + 1):
        ax.vlines(r, 0, 0.15, color="k", linewidth=1)
        ax.text(r, 0.3, str(r), ha="center", va="bottom", fontsize=8)
    if np.isfinite(cd):
        ax.hlines(1.5, lo, lo + cd, color="k", linewidth=2)
        ax.text(lo + cd / 2, 1.6, f"CD = {cd:.2f}", ha="center", va="bottom", fontsize=8)
    for i, (name, r) in enumerate(ranks.items()):
        left = i < half
        level = -(i + 1) if left else -(k - i)
        x_text = lo - 0.4 if left else hi + 0.4
        ax.vlines(r, level, 0, color="0.3", linewidth=0.8)
        ax.hlines(level, min(r, x_text), max(r, x_text), color="0.3", linewidth=0.8)
        ax.text(
            x_text,
            level,
            f"{name} ({r:.2f})",
            ha="right" if left else "left",
            va="center",
            fontsize=8,
        )
    # cliques: maximal runs of methods whose rank spread is below the CD
    values = ranks.to_numpy()
    cliques = []
    for i in range(k):
        j = i
        while j + 1 < k and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in cliques):
            cliques.append((i, j))
    for c, (i, j) in enumerate(cliques):
        y = -0.35 - 0.22 * c
        ax.hlines(y, values[i] - 0.05, values[j] + 0.05, color="tab:red", linewidth=3)
    ax.set_title(title or f"Average ROC-AUC rank over {n_datasets} data sets", fontsize=9)
    fig.tight_layout()
    return fig


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "–" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _table(frame: pd.DataFrame, digits: dict[str, int] | None = None) -> str:
    digits = digits or {}
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in frame.iterrows():
        lines.append("| " + " | ".join(_fmt(r[c], digits.get(c, 4)) for c in cols) + " |")
    return "\n".join(lines)


def _protocol_note(frame: pd.DataFrame, max_samples: int | None, seed: int) -> str:
    sub = frame.drop_duplicates("dataset")
    sub = sub[sub["subsampled"].astype(bool)]
    listed = ", ".join(f"{r.dataset} ({r.n_original} -> {r.n})" for r in sub.itertuples())
    return (
        "ADBench protocol: standardise, fit on X without y, score X; defaults, one CPU "
        f"thread. Data sets above {max_samples} rows subsampled uniformly "
        f"(numpy default_rng({seed})): {listed or 'none'}."
    )


def _markdown(frame: pd.DataFrame, means: pd.DataFrame, max_samples, seed: int) -> str:
    cols = ["detector", "roc_auc", "ap", "rank", "total_s", "fit_s", "score_s", "failures"]
    if "time_vs_iforest" in means:
        cols.append("time_vs_iforest")
    digits = {"rank": 2, "total_s": 1, "fit_s": 1, "score_s": 1, "time_vs_iforest": 2}
    per = frame.pivot(index="dataset", columns="detector", values="roc_auc")
    per = per[[c for c in means["detector"] if c in per.columns]].reset_index()
    return "\n\n".join(
        [
            "# Tabular benchmark (ADBench)",
            _protocol_note(frame, max_samples, seed),
            "## Means over data sets",
            _table(means[cols], digits),
            "## ROC-AUC per data set",
            _table(per, {c: 3 for c in per.columns}),
        ]
    )


def _html(frame: pd.DataFrame, means: pd.DataFrame, max_samples, seed: int):
    from ..viz import HtmlReport

    report = HtmlReport("Tabular benchmark (ADBench)")
    report.text(_protocol_note(frame, max_samples, seed), note=True)
    report.heading("Means over data sets")
    report.table(means)
    ok = frame.dropna(subset=["roc_auc"])
    n_sets = ok["dataset"].nunique()
    if n_sets >= 2 and frame["detector"].nunique() >= 2:
        report.heading("Critical-difference diagram (ROC-AUC ranks, Nemenyi, alpha = 0.05)")
        report.image(cd_diagram(average_ranks(frame), n_sets))
        from scipy.stats import friedmanchisquare

        pivot = frame.pivot(index="dataset", columns="detector", values="roc_auc").dropna()
        if pivot.shape[1] >= 3 and pivot.shape[0] >= 2:
            stat, p = friedmanchisquare(*[pivot[c].to_numpy() for c in pivot.columns])
            report.text(
                f"Friedman test over {pivot.shape[0]} data sets: chi2 = {stat:.1f}, p = {p:.2g}."
            )
    for metric, title in (
        ("roc_auc", "ROC-AUC"),
        ("ap", "Average precision"),
        ("total_s", "Seconds (fit + score)"),
    ):
        report.heading(f"{title} per data set")
        per = frame.pivot(index="dataset", columns="detector", values=metric)
        per = per[[c for c in means["detector"] if c in per.columns]].reset_index()
        report.table(per, float_format="{:.3f}")
    errors = frame[frame["error"].fillna("").astype(str) != ""] if "error" in frame else frame[:0]
    if len(errors):
        report.heading("Failures")
        report.table(errors[["dataset", "detector", "error"]])
    return report
