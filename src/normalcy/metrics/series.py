"""Time-series metrics: PATE, VUS-ROC/PR, range-based and event-wise F1, point-adjusted F1,
the NAB score and the UCR-archive score.

``y_true`` is one 0/1 label per time step; an anomaly *event* (range) is a maximal run of 1s.
``y_score`` is one score per time step, higher = more anomalous. Metrics that judge decisions
rather than a ranking (range/event/point-adjusted F1, NAB) flag ``y_score >= threshold``; with
``threshold=None`` they expect ``y_score`` to hold 0/1 decisions already.

Undefined results (e.g. no anomaly in ``y_true``) are NaN with an ``UndefinedMetricWarning``;
NaN or infinite scores raise :class:`normalcy.core.errors.InputError`. See docs/metrics.md.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from ..core.errors import InputError
from ._validation import binary_predictions, pair_1d, runs, undefined
from .ranking import binary_clf_curve

# ----------------------------------------------------------------------------------------------
# PATE


@numba.njit(cache=True, nogil=True)
def _pate_counts(first, ls, le, e_buf, d_buf, n_thr):
    """Weighted TP, FP, FN of PATE at each threshold index.

    ``first[i]`` is the index of the first (highest) threshold that flags point i (``n_thr`` if
    none); point i is flagged at threshold j iff ``first[i] <= j``.
    """
    t_len = first.size
    k_n = ls.size
    tp_ev = np.zeros(n_thr + 1)
    fp_ev = np.zeros(n_thr + 1)
    det = np.empty(k_n, np.int64)  # first threshold at which each anomaly event is touched
    for k in range(k_n):
        d = n_thr
        for i in range(ls[k], le[k] + 1):
            if first[i] < d:
                d = first[i]
        det[k] = d
    prev_post = -1
    cursor = 0
    for k in range(k_n):
        nxt = ls[k + 1] if k + 1 < k_n else t_len
        post_end = min(le[k] + d_buf, nxt - 1)
        pre_start = max(0, ls[k] - e_buf, prev_post + 1)
        centre = 0.5 * (ls[k] + le[k])
        for i in range(cursor, pre_start):  # outside every zone: false positive
            fp_ev[first[i]] += 1.0
        for i in range(pre_start, ls[k]):  # early-detection buffer
            w = 1.0 - (centre - i) / (centre - pre_start)
            fp_ev[first[i]] += 1.0
            j = max(first[i], det[k])  # weighted as TP only once the event itself is touched
            tp_ev[j] += w
            fp_ev[j] -= w
        for i in range(ls[k], le[k] + 1):
            tp_ev[first[i]] += 1.0
        for i in range(le[k] + 1, post_end + 1):  # delayed-detection buffer
            w = 1.0 - (i - centre) / (post_end - centre)
            tp_ev[first[i]] += w
            fp_ev[first[i]] += 1.0 - w
        cursor = post_end + 1
        prev_post = post_end
    for i in range(cursor, t_len):
        fp_ev[first[i]] += 1.0
    tp = np.cumsum(tp_ev)[:n_thr]
    fp = np.cumsum(fp_ev)[:n_thr]
    fn = np.zeros(n_thr)
    for k in range(k_n):
        a = ls[k]
        b = le[k]
        length = b - a + 1
        max_dist = length * (length - 1) / 2.0
        for j in range(n_thr):
            if j < det[k]:
                fn[j] += length  # event missed entirely
                continue
            p = a
            while first[p] > j:
                p += 1
            q = p
            while q <= b and first[q] <= j:
                q += 1
            run = q - p  # length of the first detected stretch sets the onset tolerance
            edge = a + run
            s = 0.0
            for i in range(a, b + 1):
                if first[i] > j:
                    if i <= edge or max_dist == 0.0:
                        s += 1.0
                    else:
                        s += 1.0 - (run + 1) * (i - a - run / 2.0) / max_dist
            fn[j] += s
    return tp, fp, fn


def _buffer_sizes(max_size: int, splits: int, include_zero: bool) -> np.ndarray:
    if include_zero:
        return np.linspace(0, max_size, splits + 1, dtype=int)
    return np.linspace(max_size / splits, max_size, splits, dtype=int)


def _precision_recall(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray):
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
    return precision, recall


def pate(
    y_true: Any,
    y_score: Any,
    *,
    early_buffer: int = 100,
    delay_buffer: int = 100,
    n_thresholds: int | None = 250,
    n_buffer_splits: int = 1,
    include_zero: bool = True,
    binary: bool = False,
) -> float:
    """PATE: proximity-aware, buffer-weighted area under the precision-recall curve.

    Around each anomaly event a pre-buffer of up to ``early_buffer`` points and a
    post-buffer of up to ``delay_buffer`` points are laid (clipped so that zones of
    neighbouring events never overlap). Flagged points inside an event are true positives;
    flagged points in a buffer are part true, part false positive, with a weight falling
    linearly with the distance to the event (pre-buffer points count as true positives only
    when the event itself is detected); flagged points elsewhere are false positives. Missed
    points of a partly detected event are false negatives weighted by how late the first
    detected stretch ends; a missed event counts all its points. The weighted precision-recall
    curve over the thresholds, starting at (recall 0, precision 1) and keeping only points
    where recall does not fall, is integrated with the trapezoidal rule. PATE is the mean
    area over buffer sizes ``(e, d)`` taken from ``{0, ..., early_buffer}`` x
    ``{0, ..., delay_buffer}`` split in ``n_buffer_splits`` steps (the corners by default).

    Thresholds follow the reference implementation: the distinct scores (dropping those where
    the point-wise true-positive count is flat on both sides), reduced to ``n_thresholds``
    percentiles of them (``None`` keeps them all; the cost grows with their number). With
    ``binary=True`` ``y_score`` holds 0/1 decisions and the result is PATE-F1, the mean
    weighted F1 over the buffer sizes.

    No anomaly in ``y_true`` gives NaN (the ``pate`` package returns 0 there).

    References
    ----------
    Ghorbani, Reinders, Tax, "PATE: Proximity-Aware Time series anomaly Evaluation", KDD 2024
    (arXiv:2405.12096); reference implementation: the ``PATE`` package on PyPI.
    """
    yt, ys = pair_1d(y_true, y_score)
    if int(early_buffer) < 0 or int(delay_buffer) < 0 or int(n_buffer_splits) < 1:
        raise InputError("early_buffer and delay_buffer must be >= 0 and n_buffer_splits >= 1")
    ls, le = runs(yt)
    if ls.size == 0:
        return undefined("PATE", "y_true holds no anomaly")
    if binary:
        if not np.isin(ys, (0.0, 1.0)).all():
            raise InputError("pate(binary=True) expects y_score of 0/1 decisions")
        first = np.where(ys > 0, 0, 1).astype(np.int64)
        n_thr = 1
    else:
        _, tps, thr = binary_clf_curve(yt, ys)
        if tps.size > 2:
            keep = np.r_[True, (np.diff(tps[:-1]) != 0) | (np.diff(tps[1:]) != 0), True]
            thr = thr[keep]
        if n_thresholds is not None:
            thr = np.percentile(thr, np.linspace(100, 0, int(n_thresholds)))
        n_thr = thr.size
        first = (n_thr - np.searchsorted(thr[::-1], ys, side="right")).astype(np.int64)
    values = []
    for e in _buffer_sizes(int(early_buffer), int(n_buffer_splits), include_zero):
        for d in _buffer_sizes(int(delay_buffer), int(n_buffer_splits), include_zero):
            tp, fp, fn = _pate_counts(first, ls, le, int(e), int(d), n_thr)
            precision, recall = _precision_recall(tp, fp, fn)
            if binary:
                p, r = precision[0], recall[0]
                values.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
                continue
            precision = np.r_[1.0, precision]
            recall = np.r_[0.0, recall]
            best_before = np.maximum.accumulate(np.r_[-1.0, recall[:-1]])
            keep = recall >= best_before
            values.append(float(np.trapezoid(precision[keep], recall[keep])))
    return float(np.mean(values))


# ----------------------------------------------------------------------------------------------
# VUS


_VUS_VARIANTS = ("paper", "vus_package")


def _merged_segments(starts, ends, half, t_len):
    """Anomaly ranges widened by ``half``, merged when the widened ranges overlap (vus code)."""
    split = ends[:-1] + half < starts[1:] - half
    first = np.r_[0, np.flatnonzero(split) + 1]
    last = np.r_[np.flatnonzero(split), starts.size - 1]
    return np.maximum(starts[first] - half, 0), np.minimum(ends[last] + half, t_len - 1)


def _first_ranks(rank: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray) -> np.ndarray:
    """Sorted smallest rank (position in the score order) of each segment."""
    bounds = np.r_[seg_a, seg_b + 1]
    bounds.sort()
    first_rank = np.minimum.reduceat(rank, bounds[bounds < rank.size])
    return np.sort(first_rank[::2])


def _vus(
    yt: np.ndarray, ys: np.ndarray, window: int, n_thresholds: int | None, variant: str = "paper"
):
    """Range-AUC-ROC and Range-AUC-PR (AP form) for each buffer length 0..window."""
    t_len = yt.size
    starts, ends = runs(yt)
    n_anom = float(np.count_nonzero(yt))
    order = np.argsort(-ys, kind="stable")
    s_sorted = ys[order]
    rank = np.empty(t_len, np.int64)
    rank[order] = np.arange(t_len)
    group_end = np.r_[np.flatnonzero(np.diff(s_sorted)), t_len - 1]
    if n_thresholds is None:
        pos = group_end
    else:  # the authors' code: thresholds at evenly spaced ranks of the sorted scores
        picks = np.linspace(0, t_len - 1, int(n_thresholds)).astype(int)
        pos = group_end[np.searchsorted(group_end, picks)]
    n_pred = (pos + 1).astype(np.float64)
    base = yt.astype(np.float64)
    rocs = np.empty(window + 1)
    prs = np.empty(window + 1)
    for ell in range(window + 1):
        half = ell // 2
        if half > 0:
            dist = np.arange(1, half + 1)
            w = np.sqrt(1.0 - dist / ell)
            after = (ends[:, None] + dist[None, :]).ravel()
            before = (starts[:, None] - dist[None, :]).ravel()
            ww = np.tile(w, starts.size)
            idx = np.r_[after, before]
            wts = np.r_[ww, ww]
            ok = (idx >= 0) & (idx < t_len)
            label = np.minimum(base + np.bincount(idx[ok], wts[ok], minlength=t_len), 1.0)
        else:
            label = base
        tp = np.cumsum(label[order])[pos]
        if variant == "paper":
            p_ell = (n_anom + label.sum()) / 2.0
            seg_a, seg_b = runs(label > 0)
        else:  # buffer labels count in P_l only where flagged; ranges merged as in vus
            flagged_buffer = tp - np.cumsum(base[order])[pos]
            p_ell = n_anom + flagged_buffer / 2.0
            seg_a, seg_b = _merged_segments(starts, ends, half, t_len)
        n_ell = t_len - p_ell
        first_rank = _first_ranks(rank, seg_a, seg_b)
        existence = np.searchsorted(first_rank, pos, side="right") / seg_a.size
        tpr = np.minimum(tp / p_ell, 1.0) * existence
        fpr = (n_pred - tp) / n_ell
        precision = tp / n_pred
        rocs[ell] = np.trapezoid(np.r_[0.0, tpr, 1.0], np.r_[0.0, fpr, 1.0])
        prs[ell] = np.sum(np.diff(np.r_[0.0, tpr]) * precision)
    return rocs, prs


def _vus_checked(y_true, y_score, window, n_thresholds, variant, name):
    yt, ys = pair_1d(y_true, y_score)
    if int(window) < 0:
        raise InputError(f"window={window} must be >= 0")
    if variant not in _VUS_VARIANTS:
        raise InputError(f"variant={variant!r}; expected one of {_VUS_VARIANTS}")
    if variant == "vus_package" and n_thresholds is None:
        n_thresholds = 250
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0 or n_pos == yt.size:
        return None, undefined(name, "y_true holds one class only")
    return _vus(yt, ys, int(window), n_thresholds, variant), None


def vus_roc(
    y_true: Any,
    y_score: Any,
    window: int = 100,
    n_thresholds: int | None = None,
    variant: str = "paper",
) -> float:
    """Volume under the range-ROC surface: Range-AUC-ROC averaged over buffer lengths 0..window.

    For a buffer length l, each anomaly event is widened by ``l // 2`` points on each side
    with soft labels ``sqrt(1 - d / l)`` at distance d (overlaps summed, capped at 1). At a
    threshold, with ``TP = sum(label * flagged)``, ``P_l = (#anomalous points + sum(label)) / 2``
    and ``N_l = T - P_l``: ``TPR = min(TP / P_l, 1) * (fraction of widened events touched)``,
    ``FPR = (#flagged - TP) / N_l``. The ROC curve from (0, 0) through every threshold to
    (1, 1) is integrated with the trapezoidal rule; VUS-ROC is the mean over l = 0..window.

    Every distinct score is a threshold (``n_thresholds=None``); an integer picks thresholds
    at that many evenly spaced ranks of the sorted scores, as the authors' code does (250).
    One class only in ``y_true`` gives NaN.

    ``variant="vus_package"`` reproduces the authors' optimised code (``RangeAUC_volume_opt``
    of the ``vus`` package, used by TSB-UAD): buffer labels count in ``P_l`` only where
    flagged (``P_l = #anomalous points + flagged buffer weight / 2``), widened events merge
    only when their widenings overlap, and 250 thresholds are used unless ``n_thresholds``
    says otherwise. It scores higher than the paper's definition when detections stay inside
    the events.

    References
    ----------
    Paparrizos, Boniol, Palpanas, Tsay, Elmore, Franklin, "Volume Under the Surface: A New
    Accuracy Evaluation Measure for Time-Series Anomaly Detection", PVLDB 15(11), 2022.
    """
    res, nan = _vus_checked(y_true, y_score, window, n_thresholds, variant, "VUS-ROC")
    return nan if res is None else float(np.mean(res[0]))


def vus_pr(
    y_true: Any,
    y_score: Any,
    window: int = 100,
    n_thresholds: int | None = None,
    variant: str = "paper",
) -> float:
    """Volume under the range-PR surface: Range-AUC-PR averaged over buffer lengths 0..window.

    Same widened labels as :func:`vus_roc`; precision is ``TP / #flagged`` and the area is the
    average-precision sum ``sum_k (TPR_k - TPR_{k-1}) * precision_k`` over thresholds from the
    highest (``TPR_0 = 0``), as in the authors' VUS code. One class only gives NaN.
    ``n_thresholds`` and ``variant`` as in :func:`vus_roc`.

    References
    ----------
    Paparrizos et al., "Volume Under the Surface: A New Accuracy Evaluation Measure for
    Time-Series Anomaly Detection", PVLDB 15(11), 2022.
    """
    res, nan = _vus_checked(y_true, y_score, window, n_thresholds, variant, "VUS-PR")
    return nan if res is None else float(np.mean(res[1]))


# ----------------------------------------------------------------------------------------------
# range-based precision / recall (Tatbul et al.)


def _expand(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ranges [a_k, b_k]: (range index, 0-based offset, position) of every point in them."""
    lengths = b - a + 1
    seg = np.repeat(np.arange(a.size), lengths)
    offset = np.arange(seg.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return seg, offset, np.repeat(a, lengths) + offset


_BIASES = ("flat", "front", "back", "middle")
_CARDINALITIES = ("one", "reciprocal")


def _range_scores(
    ranges: tuple[np.ndarray, np.ndarray],
    covered: np.ndarray,
    bias: str,
    cardinality: str,
    alpha: float,
) -> np.ndarray:
    """Per range: alpha * existence + (1 - alpha) * cardinality * positional overlap."""
    a, b = ranges
    lengths = b - a + 1
    seg, offset, pos = _expand(a, b)
    i = offset + 1.0
    n = lengths[seg].astype(np.float64)
    if bias == "flat":
        delta = np.ones_like(i)
    elif bias == "front":
        delta = n - i + 1.0
    elif bias == "back":
        delta = i
    else:
        delta = np.where(i <= n / 2.0, i, n - i + 1.0)
    hit = covered[pos]
    omega = np.bincount(seg, delta * hit, a.size) / np.bincount(seg, delta, a.size)
    # distinct covering runs touching each range: hits that start a run or open the range
    run_start = hit & ((offset == 0) | ~covered[np.maximum(pos - 1, 0)])
    n_overlaps = np.bincount(seg, run_start.astype(np.float64), a.size)
    gamma = np.ones(a.size)
    if cardinality == "reciprocal":
        gamma = np.where(n_overlaps > 1, 1.0 / np.maximum(n_overlaps, 1), 1.0)
    existence = (n_overlaps > 0).astype(np.float64)
    return alpha * existence + (1.0 - alpha) * gamma * omega


def range_precision_recall(
    y_true: Any,
    y_score: Any,
    threshold: float | None = None,
    *,
    alpha: float = 0.0,
    cardinality: str = "one",
    bias: str = "flat",
) -> tuple[float, float]:
    """Range-based precision and recall of Tatbul et al. (NeurIPS 2018).

    Recall averages, over true anomaly ranges R, ``alpha * Existence(R) + (1 - alpha) *
    gamma(R) * omega(R)``: existence is 1 when any point of R is flagged, omega the share of
    R's positional weight that is flagged, gamma 1 (``cardinality="one"``) or 1/x when x > 1
    flagged ranges cover R (``"reciprocal"``). Precision averages, over flagged ranges, the
    same expression with ``alpha = 0`` and the roles swapped. Positional bias ``"flat"``,
    ``"front"``, ``"back"`` or ``"middle"`` weights the points of a range. Precision is 0 when
    nothing is flagged; recall is NaN when ``y_true`` has no anomaly.

    References
    ----------
    Tatbul, Lee, Zdonik, Alam, Gottschlich, "Precision and Recall for Time Series",
    NeurIPS 2018.
    """
    if bias not in _BIASES:
        raise InputError(f"bias={bias!r}; expected one of {_BIASES}")
    if cardinality not in _CARDINALITIES:
        raise InputError(f"cardinality={cardinality!r}; expected one of {_CARDINALITIES}")
    if not 0.0 <= float(alpha) <= 1.0:
        raise InputError(f"alpha={alpha!r} is outside [0, 1]")
    yt, ys = pair_1d(y_true, y_score)
    pred = binary_predictions(ys, threshold, "range_f1")
    real_ranges = runs(yt)
    pred_ranges = runs(pred)
    if real_ranges[0].size == 0:
        recall = undefined("range-based recall", "y_true holds no anomaly")
    else:
        recall = float(np.mean(_range_scores(real_ranges, pred, bias, cardinality, float(alpha))))
    if pred_ranges[0].size == 0:
        precision = 0.0
    else:
        precision = float(np.mean(_range_scores(pred_ranges, yt, bias, cardinality, 0.0)))
    return precision, recall


def _f1(p: float, r: float) -> float:
    if math.isnan(r) or math.isnan(p):
        return float("nan")
    return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


def range_f1(
    y_true: Any,
    y_score: Any,
    threshold: float | None = None,
    *,
    alpha: float = 0.0,
    cardinality: str = "one",
    bias: str = "flat",
) -> float:
    """F1 of the range-based precision and recall (:func:`range_precision_recall`).

    References
    ----------
    Tatbul et al., "Precision and Recall for Time Series", NeurIPS 2018.
    """
    p, r = range_precision_recall(
        y_true, y_score, threshold, alpha=alpha, cardinality=cardinality, bias=bias
    )
    return _f1(p, r)


# ----------------------------------------------------------------------------------------------
# event-wise and point-adjusted F1


def event_f1(y_true: Any, y_score: Any, threshold: float | None = None) -> float:
    """Event-wise F1: events found versus flagged stretches that hit nothing.

    A true event counts as detected (TP) when at least one of its points is flagged, else it
    is a false negative; a maximal run of flagged points that touches no true event is one
    false positive. F1 of ``TP / (TP + FP)`` and ``TP / #events``; NaN without events, 0 when
    nothing is flagged.

    References
    ----------
    Hundman, Constantinou, Laporte, Colwell, Soderstrom, "Detecting Spacecraft Anomalies Using
    LSTMs and Nonparametric Dynamic Thresholding", KDD 2018.
    """
    yt, ys = pair_1d(y_true, y_score)
    pred = binary_predictions(ys, threshold, "event_f1")
    ta, tb = runs(yt)
    if ta.size == 0:
        return undefined("event-wise F1", "y_true holds no anomaly")
    csum = np.r_[0, np.cumsum(pred)]
    tp = int(np.count_nonzero(csum[tb + 1] - csum[ta] > 0))
    pa, pb = runs(pred)
    tsum = np.r_[0, np.cumsum(yt)]
    fp = int(np.count_nonzero(tsum[pb + 1] - tsum[pa] == 0))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    return _f1(precision, tp / ta.size)


def point_adjusted_f1(y_true: Any, y_score: Any, threshold: float | None = None) -> float:
    """Point-wise F1 after point adjustment: one flagged point credits its whole event.

    If any point of a true event is flagged, every point of the event counts as flagged; then
    ordinary point-wise F1 is taken. Known inflation: a single lucky point in a long event
    earns the whole event, so random scores on data with long events reach high values
    (Kim et al., AAAI 2022, show random scores beating published detectors). Report it only
    beside range-aware metrics such as PATE or VUS. NaN without anomalies.

    References
    ----------
    Xu et al., "Unsupervised Anomaly Detection via Variational Auto-Encoder for Seasonal KPIs
    in Web Applications" (Donut), WWW 2018; Kim, Choi, Choi, Lee, Yoon, "Towards a Rigorous
    Evaluation of Time-series Anomaly Detection", AAAI 2022.
    """
    yt, ys = pair_1d(y_true, y_score)
    pred = binary_predictions(ys, threshold, "point_adjusted_f1")
    ta, tb = runs(yt)
    if ta.size == 0:
        return undefined("point-adjusted F1", "y_true holds no anomaly")
    csum = np.r_[0, np.cumsum(pred)]
    hit = csum[tb + 1] - csum[ta] > 0
    tp = int(np.sum((tb - ta + 1)[hit]))
    fp = int(np.count_nonzero(pred & ~yt))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    return _f1(precision, tp / int(np.count_nonzero(yt)))


# ----------------------------------------------------------------------------------------------
# NAB


NAB_PROFILES: dict[str, dict[str, float]] = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}
_NAB_ALIASES = {"low_fp": "reward_low_FP_rate", "low_fn": "reward_low_FN_rate"}


def _nab_profile(profile: str) -> dict[str, float]:
    name = _NAB_ALIASES.get(profile, profile)
    if name not in NAB_PROFILES:
        raise InputError(f"profile={profile!r}; expected one of {sorted(NAB_PROFILES)}")
    return NAB_PROFILES[name]


def _scaled_sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        val = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, val)


def nab_raw_score(
    y_true: Any,
    y_score: Any,
    threshold: float | None = None,
    profile: str = "standard",
    probationary_percent: float = 0.15,
) -> tuple[float, int]:
    """NAB's unnormalised score of one series and the number of windows it counts.

    See :func:`nab_score`; sum these over a corpus and pass the totals to
    :func:`nab_normalize` to get NAB's published corpus score.
    """
    cost = _nab_profile(profile)
    if not 0.0 <= float(probationary_percent) <= 1.0:
        raise InputError(f"probationary_percent={probationary_percent!r} is outside [0, 1]")
    yt, ys = pair_1d(y_true, y_score)
    detected = binary_predictions(ys, threshold, "nab_score")
    n = yt.size
    prob_len = min(math.floor(probationary_percent * n), probationary_percent * 5000)
    wa, wb = runs(yt)
    idx = np.arange(n)
    sweep = np.empty(n)
    # inside a window: true-positive credit, highest at the left edge
    win, _, inside = _expand(wa, wb)
    width = (wb - wa + 1).astype(np.float64)
    rel = -(wb[win] - inside + 1) / width[win]
    max_tp = _scaled_sigmoid(np.array([-1.0]))[0]
    sweep[inside] = _scaled_sigmoid(rel) * cost["tp"] / max_tp
    # outside: false-positive penalty, smaller just after a window
    out = np.ones(n, bool)
    out[inside] = False
    o = idx[out]
    prev = np.searchsorted(wb, o, side="left") - 1  # last window ending before o
    has_prev = prev >= 0
    rel_out = np.full(o.size, np.inf)
    pw = width[prev[has_prev]] - 1.0
    dist = (o[has_prev] - wb[prev[has_prev]]).astype(np.float64)
    with np.errstate(divide="ignore"):
        rel_out[has_prev] = np.where(pw > 0, dist / np.where(pw > 0, pw, 1.0), np.inf)
    sweep[o] = _scaled_sigmoid(rel_out) * cost["fp"]
    scorable = idx >= prob_len
    hits = detected & scorable
    raw = float(np.sum(sweep[hits & out]))
    counted = wb >= prob_len
    best = np.full(wa.size, -cost["fn"])
    if inside.size:
        sel = hits[inside]
        np.maximum.at(best, win[sel], sweep[inside][sel])
    raw += float(np.sum(best[counted]))
    return raw, int(np.count_nonzero(counted))


def nab_normalize(raw_total: float, n_windows: int, profile: str = "standard") -> float:
    """NAB's normalised score: 100 for a perfect detector, 0 for one that flags nothing.

    ``100 * (raw - null) / (perfect - null)`` with ``null = -fn_weight * n_windows`` and
    ``perfect = tp_weight * n_windows``.
    """
    cost = _nab_profile(profile)
    if n_windows <= 0:
        return undefined("NAB score", "no anomaly window to normalise by")
    null = -cost["fn"] * n_windows
    perfect = cost["tp"] * n_windows
    return 100.0 * (raw_total - null) / (perfect - null)


def nab_score(
    y_true: Any,
    y_score: Any,
    threshold: float | None = None,
    profile: str = "standard",
    probationary_percent: float = 0.15,
    normalized: bool = True,
) -> float:
    """Numenta Anomaly Benchmark score of one series.

    ``y_true`` marks NAB's anomaly *windows* (each maximal run of 1s is one window; keep
    windows apart by at least one 0). Detections are ``y_score >= threshold`` (NAB's own
    scorer uses the detector's profile-optimised threshold from its config/thresholds.json),
    or ``y_score`` itself when it holds 0/1 decisions.

    Each window scores the credit of its earliest detection, ``A_TP * S(y)`` with the scaled
    sigmoid ``S(y) = 2 / (1 + exp(5 y)) - 1`` of the relative position y in [-1, 0) (1 at the
    left edge, 0 at the right edge), or ``-A_FN`` when missed. Every detection outside a window
    costs ``A_FP * S(y)``, with y the distance past the previous window's right edge in units
    of that window's width (-1 beyond 3 widths or before any window; NAB divides by zero for
    one-point windows, here they count as far away). The first
    ``min(floor(probationary_percent * n), probationary_percent * 5000)`` points are ignored.
    Profiles (A_TP, A_FP, A_FN): ``"standard"`` (1, 0.11, 1), ``"reward_low_FP_rate"`` /
    ``"low_fp"`` (1, 0.22, 1), ``"reward_low_FN_rate"`` / ``"low_fn"`` (1, 0.11, 2).

    ``normalized=True`` returns :func:`nab_normalize` of this series alone (NaN when it has no
    window); ``normalized=False`` the raw sum. NAB's published figure normalises the sum of raw
    scores over its whole corpus (see :func:`nab_raw_score`).

    References
    ----------
    Lavin & Ahmad, "Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly
    Benchmark", IEEE ICMLA 2015; scorer in github.com/numenta/NAB (nab/sweeper.py).
    """
    raw, n_windows = nab_raw_score(y_true, y_score, threshold, profile, probationary_percent)
    return nab_normalize(raw, n_windows, profile) if normalized else raw


# ----------------------------------------------------------------------------------------------
# UCR archive


def ucr_score(y_true: Any, y_score: Any, tolerance: int = 100) -> float:
    """UCR-archive accuracy of one series: 1.0 if the top-scoring point lies in an anomaly.

    The point with the highest score (the earliest one on ties) must fall inside an anomaly
    range widened by ``tolerance`` points on both sides (100 in the archive's protocol);
    returns 1.0 or 0.0, averaged over series to give the archive's accuracy. NaN when
    ``y_true`` has no anomaly.

    References
    ----------
    Wu & Keogh, "Current Time Series Anomaly Detection Benchmarks are Flawed and are Creating
    the Illusion of Progress", IEEE TKDE 35(3), 2023.
    """
    yt, ys = pair_1d(y_true, y_score)
    if int(tolerance) < 0:
        raise InputError(f"tolerance={tolerance} must be >= 0")
    a, b = runs(yt)
    if a.size == 0:
        return undefined("UCR score", "y_true holds no anomaly")
    top = int(np.argmax(ys))
    return float(np.any((a - int(tolerance) <= top) & (top <= b + int(tolerance))))


__all__ = [
    "NAB_PROFILES",
    "event_f1",
    "nab_normalize",
    "nab_raw_score",
    "nab_score",
    "pate",
    "point_adjusted_f1",
    "range_f1",
    "range_precision_recall",
    "ucr_score",
    "vus_pr",
    "vus_roc",
]
