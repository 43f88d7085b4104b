"""RQGNN on the shared TU sets, both modes, under the GLocalKD protocol (a measurement
script, until ``normalcy bench graph`` runs every graph detector).

Run ``python -m normalcy.graph.rqgnn_protocol [--sets AIDS BZR ...] [--seeds 5]
[--detectors rqgnn rqgnn_oneclass] [--out benchmarks/results/graph_rqgnn.csv]``.

Protocol (stated, the same for every detector):

* anomaly class: GLocalKD's convention, the class of the first line of
  ``NAME_graph_labels.txt`` (AIDS 0, BZR -1, COX2 -1, ENZYMES 6, NCI1 0); every other class
  is normal (``datasets/graphs/README.md``);
* per seed: a stratified 80/20 train/test split (``StratifiedShuffleSplit``, random state
  = seed), then the train part split again, stratified, 80/20 into fit and calibration;
* one-class detectors fit on the normal graphs of the fit part; labelled ones
  (``uses_labels``) fit on the whole fit part with its anomaly labels;
* each detector calibrates on the normal graphs of the calibration part at ``fpr=0.05``;
* on the test part: ROC-AUC of the scores and macro-F1 of the calibrated decisions;
  fit and score seconds. Mean ± std over the seeds.
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from pathlib import Path

import numpy as np

DEFAULT_SETS = ("AIDS", "BZR", "COX2", "ENZYMES", "NCI1")
FPR = 0.05


def split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices of the fit, calibration and test parts (stratified by ``labels``)."""
    from sklearn.model_selection import StratifiedShuffleSplit

    outer = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    train, test = next(outer.split(np.zeros(len(labels)), labels))
    inner = StratifiedShuffleSplit(n_splits=1, test_size=0.2, random_state=seed)
    fit, cal = next(inner.split(np.zeros(len(train)), labels[train]))
    return train[fit], train[cal], test


def run_one(name: str, graphs, anomalous: np.ndarray, seed: int, params: dict) -> dict:
    import warnings

    from sklearn.metrics import f1_score, roc_auc_score

    import normalcy as nc

    fit_idx, cal_idx, test_idx = split(anomalous.astype(int), seed)
    det = nc.create(name, seed=seed, **params)
    t0 = time.perf_counter()
    if det.info.uses_labels:
        det.fit([graphs[i] for i in fit_idx], anomalous[fit_idx].astype(int))
    else:
        det.fit([graphs[i] for i in fit_idx if not anomalous[i]])
    fit_s = time.perf_counter() - t0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        det.calibrate([graphs[i] for i in cal_idx if not anomalous[i]], fpr=FPR)
    t0 = time.perf_counter()
    res = det.score([graphs[i] for i in test_idx])
    score_s = time.perf_counter() - t0
    y = anomalous[test_idx].astype(int)
    return {
        "detector": name,
        "seed": seed,
        "auroc": float(roc_auc_score(y, res.scores)),
        "macro_f1": float(f1_score(y, res.labels.astype(int), average="macro")),
        "fit_s": fit_s,
        "score_s": score_s,
    }


def main(argv: list[str] | None = None) -> None:
    from ..datasets.tu import read_tu

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=list(DEFAULT_SETS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--detectors", nargs="+", default=["rqgnn", "rqgnn_oneclass"])
    ap.add_argument("--out", default="benchmarks/results/graph_rqgnn.csv")
    ap.add_argument("--root", default=None, help="folder of the TU sets")
    args = ap.parse_args(argv)
    shared = Path(os.environ.get("NORMALCY_SHARED", "../shared"))
    root = Path(args.root) if args.root else shared / "datasets" / "graphs"
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for set_name in args.sets:
        data = read_tu(root / set_name)
        anomalous = data.labels == data.labels[0]
        for name in args.detectors:
            for seed in range(args.seeds):
                row = {"dataset": set_name, **run_one(name, data.graphs, anomalous, seed, {})}
                rows.append(row)
                print(
                    f"{set_name:8s} {name:15s} seed {seed} auroc {row['auroc']:.4f} "
                    f"macro-F1 {row['macro_f1']:.4f} fit {row['fit_s']:.1f}s "
                    f"score {row['score_s']:.1f}s",
                    flush=True,
                )
                with out.open("w", newline="") as fh:
                    writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
    print(table(rows))


def table(rows: list[dict]) -> str:
    """Markdown: mean ± std of ROC-AUC and macro-F1 per data set and detector."""
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    names = list(dict.fromkeys(r["detector"] for r in rows))
    lines = [
        "| data set | " + " | ".join(f"{n} ROC-AUC | {n} macro-F1" for n in names) + " |",
        "|---|" + "---|---|" * len(names),
    ]
    for s in [*sets, "mean"]:
        cells = []
        for n in names:
            sel = [r for r in rows if r["detector"] == n and (s == "mean" or r["dataset"] == s)]
            for key in ("auroc", "macro_f1"):
                if s == "mean":  # mean over data sets of the per-set means
                    v = [np.mean([r[key] for r in sel if r["dataset"] == d]) for d in sets]
                    cells.append(f"{np.mean(v):.3f}")
                else:
                    v = [r[key] for r in sel]
                    cells.append(f"{np.mean(v):.3f} ± {np.std(v):.3f}")
        lines.append(f"| {s} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
