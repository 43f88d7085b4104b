"""Measure GLAD (and a count-vector reference) on the shared log sets.

    PYTHONPATH=src NORMALCY_SHARED=/work/shared python scripts/glad_logs.py [sets...] [--quick]

Protocol (that of ``normalcy bench logs``): fit on the normal sessions of the train split;
calibrate at FPR 0.01 on a seeded 20 % of the normal train sessions when there are at least
100 of them, else on a seeded 20 % (at least 10) of the test split's normal sessions, which
then leave the evaluation; report ROC-AUC, AP, best F1 and F1 at the calibrated threshold,
plus throughput (log lines scored per second, one thread).
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np


def _f1(labels: np.ndarray, flags: np.ndarray) -> float:
    tp = int((flags & (labels == 1)).sum())
    fp = int((flags & (labels == 0)).sum())
    fn = int((~flags & (labels == 1)).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

    import normalcy as nc
    from normalcy.datasets.logs import load_loghub, load_sessions

    root = os.environ.get("NORMALCY_SHARED", "../shared") + "/datasets"
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    quick = "--quick" in sys.argv
    names = [a for a in args] or ["hdfs", "openstack", "BGL", "Thunderbird"]
    extra = {}
    for a in sys.argv[1:]:
        if a.startswith("--set="):
            k, v = a[6:].split("=")
            extra[k] = type(getattr(nc.create("glad"), k))(v)
    detectors = {"glad": {"epochs": 2, **extra} if quick else extra}
    if "--counts" in sys.argv:
        detectors["counts_iforest"] = None
    for name in names:
        data = (
            load_sessions(root, name) if name in ("hdfs", "openstack") else load_loghub(root, name)
        )
        train, calib, test = _protocol(data)
        labels = np.asarray(test.labels, dtype=np.int64)
        n_lines = sum(len(s) for s in (test.events or test.lines or []))
        for det_name, params in detectors.items():
            t0 = time.perf_counter()
            if params is None:
                det = _CountForest().fit(train)
            else:
                det = nc.create(det_name, **params).fit(train)
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            scores = det.score(test).scores
            score_s = time.perf_counter() - t0
            det.calibrate(calib, fpr=0.01)
            flags = scores > det.threshold.value
            if labels.min() == labels.max():  # no labelled anomaly (Thunderbird's 2k sample)
                print(
                    f"{name:12s} {det_name:15s} no anomalous test session: flagged share "
                    f"{np.mean(flags):.4f} fit={fit_s:.1f}s lines/s={n_lines / score_s:.0f}",
                    flush=True,
                )
                continue
            p, r, _ = precision_recall_curve(labels, scores)
            best = float(np.max(2 * p * r / np.maximum(p + r, 1e-12)))
            print(
                f"{name:12s} {det_name:15s} auc={roc_auc_score(labels, scores):.4f} "
                f"ap={average_precision_score(labels, scores):.4f} best_f1={best:.4f} "
                f"f1@cal={_f1(labels, np.asarray(flags, bool)):.4f} fit={fit_s:.1f}s "
                f"lines/s={n_lines / score_s:.0f} (train {len(train)}, test {len(test)}, "
                f"anomalous {int(labels.sum())})",
                flush=True,
            )


def _protocol(data):
    rng = np.random.default_rng(0)
    labels = data.labels
    normal_train = np.flatnonzero((data.split == "train") & (labels == 0))
    test = np.flatnonzero(data.split == "test")
    if len(normal_train) >= 100:
        pick = rng.permutation(normal_train)
        n_cal = max(10, len(pick) // 5)
        fit, cal = np.sort(pick[n_cal:]), np.sort(pick[:n_cal])
    else:
        normal_test = np.flatnonzero((data.split == "test") & (labels == 0))
        pick = rng.permutation(normal_test)
        cal = np.sort(pick[: max(10, len(pick) // 5)])
        fit, test = normal_train, np.setdiff1d(test, cal)
    return data.sessions.subset(fit), data.sessions.subset(cal), data.sessions.subset(test)


class _CountForest:
    """Reference only: IsolationForest on event-count vectors (via normalcy's vocabulary)."""

    def fit(self, sessions):
        import normalcy as nc

        self.glad = nc.create("glad")  # borrow LogDetector's vocabulary handling
        enc = self.glad._check_fit_input(sessions)
        self.det = nc.create("iforest").fit(enc.count_matrix())
        self.threshold = None
        return self

    def score(self, sessions):
        return self.det.score(self.glad._check_score_input(sessions).count_matrix())

    def calibrate(self, sessions, fpr):
        self.threshold = self.det.calibrate(
            self.glad._check_score_input(sessions).count_matrix(), fpr=fpr
        )


if __name__ == "__main__":
    main()
