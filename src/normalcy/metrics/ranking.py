"""Threshold-free ranking metrics for one score per sample: AUROC, AP, F1-max, TPR at a fixed FPR.

All of them sweep the threshold over every distinct score (a sample is flagged when
``score >= threshold``), so tied scores move together and are never split. They apply to
images, tabular rows, time steps and pixels alike.

Conventions (see docs/metrics.md): a metric that needs both classes returns NaN with an
:class:`UndefinedMetricWarning` when ``y_true`` holds only one; NaN or infinite scores raise
:class:`normalcy.core.errors.InputError`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._validation import check_rate, pair_1d, undefined


class F1Max(NamedTuple):
    """Best F1 over all thresholds and the threshold that reaches it (``score >= threshold``)."""

    f1: float
    threshold: float

    def __float__(self) -> float:
        return float(self.f1)


def binary_clf_curve(
    y_true: np.ndarray, y_score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive counts at each distinct score, highest threshold first.

    Returns ``(fps, tps, thresholds)``: at ``thresholds[k]`` the samples with
    ``score >= thresholds[k]`` are flagged, ``fps[k]`` of them normal and ``tps[k]`` anomalous.
    """
    order = np.argsort(-y_score, kind="stable")
    s = y_score[order]
    t = y_true[order]
    ends = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(t, dtype=np.int64)[ends]
    fps = ends + 1 - tps
    return fps, tps, s[ends]


def _auroc_sorted(pos: np.ndarray, neg: np.ndarray) -> float:
    """Mann-Whitney AUROC (ties count one half) without sorting the two classes together."""
    neg = np.sort(neg)
    pos = np.sort(pos)
    below = np.searchsorted(neg, pos, side="left").astype(np.float64)
    at_or_below = np.searchsorted(neg, pos, side="right").astype(np.float64)
    # sum of (#neg < s) + 0.5 * (#neg == s) over positives, in float64 to avoid overflow
    u = float(np.sum(below + at_or_below)) / 2.0
    return u / (float(pos.size) * float(neg.size))


def auroc(y_true: Any, y_score: Any) -> float:
    """Area under the ROC curve: the probability that an anomaly outscores a normal sample.

    Ties between an anomaly and a normal sample count one half (Mann-Whitney U), which is the
    trapezoidal area of the ROC curve swept over distinct scores. Constant scores give 0.5;
    one class only gives NaN.

    Parameters
    ----------
    y_true : array-like of shape (n,)
        1 for anomalies, 0 for normal samples.
    y_score : array-like of shape (n,)
        Anomaly scores, higher = more anomalous.

    Returns
    -------
    float in [0, 1], or NaN when ``y_true`` holds one class only.

    References
    ----------
    Hanley & McNeil, "The meaning and use of the area under a receiver operating characteristic
    (ROC) curve", Radiology 143(1), 1982.
    """
    yt, ys = pair_1d(y_true, y_score)
    return _auroc_from(yt, ys)


def _auroc_from(yt: np.ndarray, ys: np.ndarray) -> float:
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0 or n_pos == yt.size:
        return undefined("AUROC", "y_true holds one class only")
    return _auroc_sorted(ys[yt], ys[~yt])


def average_precision(y_true: Any, y_score: Any) -> float:
    """Average precision (AUPR): the precision at each threshold weighted by the recall it adds.

    ``AP = sum_k (R_k - R_{k-1}) * P_k`` over distinct thresholds (no interpolation), the
    definition of scikit-learn's ``average_precision_score``. Constant scores give the
    anomaly rate; all-anomalous ground truth gives 1; all-normal gives NaN.

    References
    ----------
    Davis & Goadrich, "The relationship between Precision-Recall and ROC curves", ICML 2006.
    """
    yt, ys = pair_1d(y_true, y_score)
    return _ap_from(yt, ys)


def _ap_from(yt: np.ndarray, ys: np.ndarray) -> float:
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0:
        return undefined("average precision", "y_true holds no anomaly")
    fps, tps, _ = binary_clf_curve(yt, ys)
    precision = tps / (tps + fps)
    recall_gain = np.diff(np.r_[0, tps]) / n_pos
    return float(np.sum(recall_gain * precision))


def f1_max(y_true: Any, y_score: Any) -> F1Max:
    """Best F1 over all thresholds, with that threshold.

    Every distinct score is tried as a threshold (flag ``score >= threshold``); the highest
    threshold reaching the best F1 is returned. Constant scores flag everything
    (F1 = 2p / (1 + p) for anomaly rate p); all-normal ground truth gives NaN.

    Returns
    -------
    F1Max
        ``(f1, threshold)``; ``float(result)`` is the F1.

    References
    ----------
    Van Rijsbergen, "Information Retrieval", 2nd ed., Butterworths, 1979 (the F-measure).
    """
    yt, ys = pair_1d(y_true, y_score)
    return _f1_max_from(yt, ys)


def _f1_max_from(yt: np.ndarray, ys: np.ndarray) -> F1Max:
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0:
        return F1Max(undefined("F1-max", "y_true holds no anomaly"), float("nan"))
    fps, tps, thr = binary_clf_curve(yt, ys)
    f1 = 2.0 * tps / (n_pos + tps + fps)
    k = int(np.argmax(f1))
    return F1Max(float(f1[k]), float(thr[k]))


def tpr_at_fpr(y_true: Any, y_score: Any, fpr: float = 0.01) -> float:
    """Largest true-positive rate among thresholds whose false-positive rate is at most ``fpr``.

    No interpolation between operating points: a threshold must really reach the FPR. When
    no threshold does (e.g. constant scores and ``fpr < 1``) the answer is 0, the rate of the
    threshold that flags nothing. One class only gives NaN.

    References
    ----------
    Fawcett, "An introduction to ROC analysis", Pattern Recognition Letters 27(8), 2006.
    """
    target = check_rate(fpr, "fpr")
    yt, ys = pair_1d(y_true, y_score)
    return _tpr_at_fpr_from(yt, ys, target)


def _tpr_at_fpr_from(yt: np.ndarray, ys: np.ndarray, target: float) -> float:
    n_pos = int(np.count_nonzero(yt))
    n_neg = yt.size - n_pos
    if n_pos == 0 or n_neg == 0:
        return undefined("TPR at FPR", "y_true holds one class only")
    fps, tps, _ = binary_clf_curve(yt, ys)
    ok = fps <= target * n_neg + 1e-9  # counts are integers: tolerate float rounding only
    return float(tps[ok].max()) / n_pos if ok.any() else 0.0


__all__ = [
    "F1Max",
    "auroc",
    "average_precision",
    "binary_clf_curve",
    "f1_max",
    "tpr_at_fpr",
]
