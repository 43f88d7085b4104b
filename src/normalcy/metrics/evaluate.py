"""One call that returns every metric that applies to a kind of output, as one table row."""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np

from ..core.errors import InputError
from ._validation import UndefinedMetricWarning, check_rate, pair_1d, pair_maps
from .pixel import aupimo, aupro, pixel_auroc
from .ranking import _ap_from, _auroc_from, _f1_max_from, _tpr_at_fpr_from
from .series import (
    event_f1,
    nab_score,
    pate,
    point_adjusted_f1,
    range_f1,
    ucr_score,
    vus_pr,
    vus_roc,
)

Kind = Literal["ranking", "pixel", "series"] | str

# The metric families this module computes; any other ``kind`` is a modality name, judged
# by its ``Modality.evaluation_kind`` (e.g. "image" and "tabular" → "ranking").
METRIC_KINDS = ("ranking", "pixel", "series")


def metric_kind(kind: str) -> str:
    """The metric family of ``kind``: itself, or the evaluation kind of the modality so named."""
    if kind in METRIC_KINDS:
        return kind
    from ..core.errors import UnknownDetectorError
    from ..core.modality import get_modality, modality_names

    try:
        return get_modality(kind).evaluation_kind
    except (UnknownDetectorError, TypeError):
        raise InputError(
            f"kind={kind!r}; expected one of {list(METRIC_KINDS)} or a modality name "
            f"{modality_names()}"
        ) from None


def _ranking_row(yt: np.ndarray, ys: np.ndarray, fpr: float) -> dict[str, float]:
    best = _f1_max_from(yt, ys)
    return {
        "auroc": _auroc_from(yt, ys),
        "average_precision": _ap_from(yt, ys),
        "f1_max": best.f1,
        "f1_max_threshold": best.threshold,
        f"tpr_at_fpr_{fpr:g}": _tpr_at_fpr_from(yt, ys, fpr),
    }


def evaluate(
    y_true: Any,
    y_score: Any,
    kind: Kind = "image",
    *,
    threshold: float | None = None,
    fpr: float = 0.01,
    window: int = 100,
    early_buffer: int = 100,
    delay_buffer: int = 100,
) -> dict[str, Any]:
    """Every metric that applies to ``kind``, as one row (a flat dict of numbers).

    ``kind`` is a metric family ("ranking", "pixel", "series") or a modality name, which
    stands for its ``Modality.evaluation_kind`` ("image" and "tabular" → "ranking").

    ``kind="ranking"``, ``"image"`` or ``"tabular"`` (one score per sample): ``n``, ``n_anomalies``,
    ``auroc``, ``average_precision``, ``f1_max``, ``f1_max_threshold``, ``tpr_at_fpr_<fpr>``.

    ``kind="pixel"`` (``y_true`` masks and ``y_score`` maps, (N, H, W)): ``n_images``,
    ``n_anomalous_images``, ``pixel_auroc``, ``aupro`` (FPR limit 0.3), ``aupimo`` (mean over
    anomalous images; per-image values come from :func:`normalcy.metrics.aupimo`).
    Image-level metrics need the detector's image scores: call again with ``kind="image"``.

    ``kind="series"`` (one score per time step): ``n``, ``n_anomalies``, ``n_events``, the
    ranking metrics above, ``vus_roc`` and ``vus_pr`` (buffer ``window``), ``pate``
    (``early_buffer``, ``delay_buffer``), ``ucr_score``, and at the decision ``threshold``:
    ``range_f1``, ``event_f1``, ``point_adjusted_f1``, ``nab_standard``,
    ``nab_reward_low_FP_rate``, ``nab_reward_low_FN_rate`` (per-series normalised NAB score).
    ``threshold=None`` uses ``y_score`` as decisions when it holds only 0/1, otherwise the
    F1-max threshold (an oracle choice: optimistic, reported as ``threshold``).

    Metrics that are undefined for the input (e.g. no anomaly) are NaN; one
    ``UndefinedMetricWarning`` names them.
    """
    fpr = check_rate(fpr, "fpr")
    family = metric_kind(kind)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndefinedMetricWarning)
        if family == "ranking":
            yt, ys = pair_1d(y_true, y_score)
            row: dict[str, Any] = {"kind": kind, "n": int(yt.size)}
            row["n_anomalies"] = int(np.count_nonzero(yt))
            row.update(_ranking_row(yt, ys, fpr))
        elif family == "pixel":
            m, a = pair_maps(y_true, y_score)
            row = {"kind": kind, "n_images": int(m.shape[0])}
            row["n_anomalous_images"] = int(np.count_nonzero(m.reshape(m.shape[0], -1).any(1)))
            row["pixel_auroc"] = pixel_auroc(m, a)
            row["aupro"] = aupro(m, a)
            row["aupimo"] = aupimo(m, a).mean
        elif family == "series":
            yt, ys = pair_1d(y_true, y_score)
            row = {"kind": kind, "n": int(yt.size), "n_anomalies": int(np.count_nonzero(yt))}
            row["n_events"] = int(np.count_nonzero(np.diff(np.r_[0, yt.astype(np.int8)]) == 1))
            row.update(_ranking_row(yt, ys, fpr))
            row["vus_roc"] = vus_roc(yt, ys, window=window)
            row["vus_pr"] = vus_pr(yt, ys, window=window)
            row["pate"] = pate(yt, ys, early_buffer=early_buffer, delay_buffer=delay_buffer)
            row["ucr_score"] = ucr_score(yt, ys)
            binary = bool(np.isin(ys, (0.0, 1.0)).all())
            thr = threshold
            if thr is None and not binary:
                thr = row["f1_max_threshold"]
            row["threshold"] = float("nan") if thr is None else float(thr)
            if thr is None or np.isfinite(thr):
                row["range_f1"] = range_f1(yt, ys, thr)
                row["event_f1"] = event_f1(yt, ys, thr)
                row["point_adjusted_f1"] = point_adjusted_f1(yt, ys, thr)
                for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
                    row[f"nab_{profile}"] = nab_score(yt, ys, thr, profile=profile)
            else:  # no anomaly, so no F1-max threshold either
                for key in ("range_f1", "event_f1", "point_adjusted_f1"):
                    row[key] = float("nan")
                for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate"):
                    row[f"nab_{profile}"] = float("nan")
        else:  # a modality declared an evaluation kind this module does not compute
            raise InputError(f"kind={kind!r} maps to unknown metric family {family!r}")
    others = [w for w in caught if not issubclass(w.category, UndefinedMetricWarning)]
    for w in others:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    nan_keys = [
        k for k, v in row.items() if isinstance(v, float) and np.isnan(v) and k != "threshold"
    ]
    if nan_keys:
        warnings.warn(
            f"undefined for this input (NaN): {', '.join(nan_keys)}", UndefinedMetricWarning, 2
        )
    return row


__all__ = ["METRIC_KINDS", "evaluate", "metric_kind"]
