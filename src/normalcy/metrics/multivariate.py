"""Metrics of the multivariate series protocol: best point-adjusted F1, point F1 at a given
threshold, affiliation precision/recall/F1, and the interpretation hit rate of per-channel
localisation.

Best point-wise F1 (no adjustment) is :func:`normalcy.metrics.f1_max`; point-adjusted F1 at
one threshold is :func:`normalcy.metrics.point_adjusted_f1`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..core.errors import InputError
from ._validation import as_scores, binary_predictions, pair_1d, runs, undefined
from .ranking import F1Max


def _f1(p: float, r: float) -> float:
    if math.isnan(p) or math.isnan(r):
        return float("nan")
    return 0.0 if p + r == 0 else 2.0 * p * r / (p + r)


# ----------------------------------------------------------------------------------------------
# point F1 at a threshold, and the best point-adjusted F1 over all thresholds


def point_f1(y_true: Any, y_score: Any, threshold: float | None = None) -> float:
    """Point-wise F1 of the decisions ``y_score >= threshold`` (or 0/1 ``y_score``), no
    adjustment. NaN without anomalies; 0 when nothing is flagged."""
    yt, ys = pair_1d(y_true, y_score)
    pred = binary_predictions(ys, threshold, "point_f1")
    n_pos = int(np.count_nonzero(yt))
    if n_pos == 0:
        return undefined("point F1", "y_true holds no anomaly")
    tp = int(np.count_nonzero(pred & yt))
    flagged = int(np.count_nonzero(pred))
    return _f1(tp / flagged if flagged else 0.0, tp / n_pos)


def point_adjusted_f1_max(y_true: Any, y_score: Any) -> F1Max:
    """Best point-adjusted F1 over all thresholds (exact), with that threshold.

    Under point adjustment an event counts whole as soon as one of its points reaches the
    threshold, i.e. when ``threshold <= max(score over the event)``; false positives are the
    normal points at or above the threshold. Between two event maxima the true positives are
    constant and the false positives only fall as the threshold rises, so the best F1 is
    reached at one of the event maxima; all of them are tried (the highest best threshold is
    returned). This is the "best F1 with point adjustment" of OmniAnomaly / InterFusion, an
    optimistic figure (Kim et al., AAAI 2022): report it beside the unadjusted one.

    References
    ----------
    Xu et al., Donut, WWW 2018; Su et al., OmniAnomaly, KDD 2019; Kim, Choi, Choi, Lee,
    Yoon, "Towards a Rigorous Evaluation of Time-series Anomaly Detection", AAAI 2022.
    """
    yt, ys = pair_1d(y_true, y_score)
    ta, tb = runs(yt)
    if ta.size == 0:
        return F1Max(undefined("point-adjusted F1-max", "y_true holds no anomaly"), float("nan"))
    n_pos = int(np.count_nonzero(yt))
    event_max = np.array([ys[a : b + 1].max() for a, b in zip(ta, tb, strict=True)])
    lengths = (tb - ta + 1).astype(np.int64)
    normal = np.sort(ys[~yt])
    order = np.argsort(-event_max, kind="stable")
    thr = event_max[order]
    tp = np.cumsum(lengths[order])
    fp = normal.size - np.searchsorted(normal, thr, side="left")
    f1 = 2.0 * tp / (n_pos + tp + fp)
    best = float(f1.max())
    k = int(np.flatnonzero(f1 == best)[0])  # thresholds descend: the first is the highest
    return F1Max(best, float(thr[k]))


# ----------------------------------------------------------------------------------------------
# affiliation metrics (Huet, Navarro & Rossi, KDD 2022)


class Affiliation(NamedTuple):
    precision: float
    recall: float
    f1: float


def _zones(ta: np.ndarray, tb: np.ndarray, n: int) -> list[tuple[int, int]]:
    """Affiliation zones: step t belongs to the event nearest to it (a tie goes to the
    earlier event); zone j is ``[lo_j, hi_j]`` and the zones partition ``[0, n)``."""
    zones = []
    for j in range(ta.size):
        lo = 0 if j == 0 else (tb[j - 1] + ta[j]) // 2 + 1
        hi = n - 1 if j == ta.size - 1 else (tb[j] + ta[j + 1]) // 2
        zones.append((int(lo), int(hi)))
    return zones


def _dist_to_interval(t: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.maximum(np.maximum(a - t, t - b), 0)


def affiliation(y_true: Any, y_pred: Any, threshold: float | None = None) -> Affiliation:
    """Affiliation precision, recall and F1 of binary decisions against labelled events.

    Huet et al.'s definition, on discrete time steps (the paper integrates over continuous
    time; here every integral is a sum over steps, so a step is a point and distances are
    counted in steps). The timeline is cut into *affiliation zones*, one per labelled event
    ``E_j``: the steps nearer to ``E_j`` than to any other event. Within zone ``Z_j`` let
    ``P_j`` be the flagged steps.

    * Precision of zone j: the mean over ``x`` in ``P_j`` of ``F_j(d(x, E_j))`` where
      ``F_j(d) = |{z in Z_j : d(z, E_j) >= d}| / |Z_j|``: how unlikely a step drawn uniformly
      from the zone would be to lie as close to the event (1 on the event itself).
    * Recall of zone j: the mean over ``y`` in ``E_j`` of ``G_y(d(y, P_j))`` where
      ``G_y(d) = |{z in Z_j : |z - y| >= d}| / |Z_j|``; 0 when ``P_j`` is empty.

    Precision is the mean over zones with a flagged step (NaN when nothing is flagged),
    recall the mean over all zones; F1 their harmonic mean. A perfect prediction scores 1,
    and predictions drawn at random score about 0.5 on both, so unlike point adjustment the
    measure is not inflated by long events.

    References
    ----------
    Huet, A., Navarro, J. M. & Rossi, D. Local Evaluation of Time Series Anomaly Detection
    Algorithms. KDD 2022.
    """
    yt, ys = pair_1d(y_true, y_pred)
    pred = binary_predictions(ys, threshold, "affiliation")
    ta, tb = runs(yt)
    if ta.size == 0:
        nan = undefined("affiliation F1", "y_true holds no anomaly")
        return Affiliation(nan, nan, nan)
    precisions: list[float] = []
    recalls: list[float] = []
    for (lo, hi), a, b in zip(_zones(ta, tb, yt.size), ta, tb, strict=True):
        steps = np.arange(lo, hi + 1)
        size = steps.size
        flagged = steps[pred[lo : hi + 1]]
        if flagged.size == 0:
            recalls.append(0.0)
            continue
        d_zone = np.sort(_dist_to_interval(steps, int(a), int(b)))
        d_pred = _dist_to_interval(flagged, int(a), int(b))
        survive = (size - np.searchsorted(d_zone, d_pred, side="left")) / size
        precisions.append(float(survive.mean()))
        event = np.arange(int(a), int(b) + 1)
        pos = np.searchsorted(flagged, event)
        left = flagged[np.clip(pos - 1, 0, flagged.size - 1)]
        right = flagged[np.clip(pos, 0, flagged.size - 1)]
        d = np.minimum(np.abs(event - left), np.abs(event - right))
        # |{z in [lo, hi] : |z - y| < d}|: the overlap of (y - d, y + d) with the zone
        near = np.minimum(event + d - 1, hi) - np.maximum(event - d + 1, lo) + 1
        near = np.where(d > 0, np.maximum(near, 0), 0)
        recalls.append(float(((size - near) / size).mean()))
    precision = float(np.mean(precisions)) if precisions else float("nan")
    recall = float(np.mean(recalls))
    if math.isnan(precision):
        return Affiliation(precision, recall, 0.0)
    return Affiliation(precision, recall, _f1(precision, recall))


def affiliation_f1(y_true: Any, y_pred: Any, threshold: float | None = None) -> float:
    """F1 of :func:`affiliation` precision and recall (0 when nothing is flagged)."""
    return affiliation(y_true, y_pred, threshold).f1


# ----------------------------------------------------------------------------------------------
# interpretation: are the top-ranked channels the labelled ones?


def _segments_checked(
    segments: Sequence[tuple[int, int, Sequence[int]]], n_steps: int, n_channels: int
) -> list[tuple[int, int, np.ndarray]]:
    out = []
    for seg in segments:
        start, end, channels = int(seg[0]), int(seg[1]), np.unique(np.asarray(seg[2], int))
        if not 0 <= start <= end < n_steps:
            raise InputError(f"segment [{start}, {end}] lies outside the {n_steps} scored steps")
        if channels.size == 0 or channels.min() < 0 or channels.max() >= n_channels:
            raise InputError(
                f"segment [{start}, {end}] names channels {channels.tolist()}; expected "
                f"0-based channel numbers below {n_channels}"
            )
        out.append((start, end, channels))
    return out


def hit_rate(
    maps: Any,
    segments: Sequence[tuple[int, int, Sequence[int]]],
    *,
    k: int | None = None,
    p: float | None = None,
) -> float:
    """Interpretation hit rate of per-step, per-channel scores ``maps`` (T, C).

    ``segments`` holds ``(start, end, channels)``: labelled anomalies (steps ``start..end``
    inclusive) and the channels labelled as their cause (0-based). At every labelled step
    ``t`` with label set ``G`` the channels are ranked by ``maps[t]`` (ties by channel
    number) and

    * with ``p`` (OmniAnomaly's HitRate@P%, ``p=1.0`` for 100 %, ``1.5`` for 150 %): the
      top ``floor(p * |G|)`` channels are taken and the step's hit rate is
      ``|top ∩ G| / |G|``;
    * with ``k`` (HitRate@k): the top ``k`` channels are taken and the step's hit rate is
      ``|top ∩ G| / min(k, |G|)``, so 1 means the ``k`` best-ranked channels are all
      labelled ones (or all labelled ones are among them).

    The result is the mean over all labelled steps of all segments. Difference from
    OmniAnomaly / InterFusion: they average over the anomalous steps their detector
    *detected*; here every labelled step counts, so the figure does not depend on a
    threshold and rates localisation alone.

    References
    ----------
    Su et al., OmniAnomaly, KDD 2019 (HitRate@P%); Li et al., InterFusion, KDD 2021.
    """
    if (k is None) == (p is None):
        raise InputError("hit_rate needs exactly one of k (top-k) or p (HitRate@P%)")
    m = as_scores(maps, "maps")
    if m.ndim != 2:
        raise InputError(f"maps has shape {m.shape}; expected (T, channels)")
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise InputError(f"k must be a positive int, got {k!r}")
    if p is not None and not (isinstance(p, (int, float)) and p > 0):
        raise InputError(f"p must be a positive fraction (1.0 for 100 %), got {p!r}")
    segs = _segments_checked(segments, m.shape[0], m.shape[1])
    if not segs:
        return undefined("hit rate", "no labelled segment")
    hits: list[np.ndarray] = []
    for start, end, labelled in segs:
        g = labelled.size
        top_n = int(math.floor(p * g + 1e-9)) if p is not None else int(k)
        top_n = max(0, min(top_n, m.shape[1]))
        block = m[start : end + 1]
        ranked = np.argsort(-block, axis=1, kind="stable")[:, :top_n]
        found = np.isin(ranked, labelled).sum(axis=1)
        denom = g if p is not None else min(int(k), g)
        hits.append(found / denom)
    return float(np.concatenate(hits).mean())
