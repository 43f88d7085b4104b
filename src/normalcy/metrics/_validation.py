"""Input checks shared by every metric, and the one convention for undefined results."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..core.errors import InputError


class UndefinedMetricWarning(RuntimeWarning):
    """A metric is undefined for the given input (e.g. one class only); it returned NaN."""


def undefined(metric: str, reason: str) -> float:
    """Warn that ``metric`` is undefined for this input and return NaN."""
    warnings.warn(f"{metric} is undefined: {reason}; returning NaN", UndefinedMetricWarning, 3)
    return float("nan")


def as_labels(y_true: Any, name: str = "y_true", ndim: int | None = None) -> np.ndarray:
    """Ground truth as a boolean array; values must be 0/1 (or bool), no NaN, not empty."""
    arr = np.asarray(y_true)
    if arr.size == 0:
        raise InputError(f"{name} is empty; expected at least one label")
    if ndim is not None and arr.ndim != ndim:
        raise InputError(f"{name} has shape {arr.shape}; expected a {ndim}-D array")
    if arr.dtype == bool:
        return arr
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name} has dtype {arr.dtype}; expected 0/1 labels (bool or numbers)")
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise InputError(f"{name} contains NaN; expected 0/1 labels")
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        first = arr.ravel()[np.flatnonzero(bad.ravel())[0]]
        raise InputError(f"{name} contains {first!r}; expected only 0 (normal) and 1 (anomaly)")
    return arr.astype(bool)


def as_scores(y_score: Any, name: str = "y_score", keep_float32: bool = False) -> np.ndarray:
    """Scores as a float array (float64, or float32 kept for large maps); NaN/inf rejected."""
    arr = np.asarray(y_score)
    if arr.size == 0:
        raise InputError(f"{name} is empty; expected at least one score")
    if arr.dtype == bool or arr.dtype.kind in "iu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise InputError(f"{name} has dtype {arr.dtype}; expected real-valued scores")
    elif not (keep_float32 and arr.dtype == np.float32):
        arr = arr.astype(np.float64, copy=False)
    # A float64 sum of finite float32/float64 values is finite unless some value is NaN or inf
    # (cheaper than np.isfinite over millions of pixels); fall back to locating the culprit.
    total = np.sum(arr, dtype=np.float64)
    if not np.isfinite(total):
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            where = np.unravel_index(int(np.flatnonzero(bad.ravel())[0]), arr.shape)
            raise InputError(
                f"{name} contains {n_nan} NaN and {int(bad.sum()) - n_nan} infinite values "
                f"(first at index {tuple(int(i) for i in where)}); expected finite scores"
            )
    return np.ascontiguousarray(arr)


def same_shape(y_true: np.ndarray, y_score: np.ndarray, what: str = "y_true and y_score") -> None:
    if y_true.shape != y_score.shape:
        raise InputError(f"{what} differ in shape: {y_true.shape} vs {y_score.shape}")


def pair_1d(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (labels, scores) for one score per sample or per time step."""
    yt = as_labels(y_true)
    ys = as_scores(y_score)
    if yt.ndim != 1:
        yt = yt.ravel() if yt.ndim == 2 and 1 in yt.shape else yt
    if ys.ndim != 1:
        ys = ys.ravel() if ys.ndim == 2 and 1 in ys.shape else ys
    if yt.ndim != 1 or ys.ndim != 1:
        raise InputError(
            f"expected 1-D y_true and y_score (one value per sample), got shapes {yt.shape} and {ys.shape}"
        )
    same_shape(yt, ys)
    return yt, ys


def pair_maps(masks: Any, maps: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (masks, maps) as (N, H, W) arrays; a single (H, W) image is accepted.

    Masks hold 0/1 (or bool); 8-bit masks saved as 0/255 images are accepted too.
    """
    m = np.asarray(masks)
    if m.dtype == np.uint8 and m.size and m.max() == 255 and np.isin(m, (0, 255)).all():
        m = m > 0
    m = as_labels(m, "masks")
    a = as_scores(maps, "maps", keep_float32=True)
    if m.ndim == 2:
        m = m[None]
    if a.ndim == 2:
        a = a[None]
    if m.ndim != 3 or a.ndim != 3:
        raise InputError(
            f"expected masks and maps of shape (N, H, W) or (H, W), got {m.shape} and {a.shape}"
        )
    same_shape(m, a, "masks and maps")
    return np.ascontiguousarray(m), np.ascontiguousarray(a)


def check_rate(value: float, name: str, low_open: bool = False) -> float:
    v = float(value)
    if not (0.0 <= v <= 1.0) or (low_open and v == 0.0):
        bound = "(0, 1]" if low_open else "[0, 1]"
        raise InputError(f"{name}={value!r} is outside {bound}")
    return v


def binary_predictions(y_score: np.ndarray, threshold: float | None, metric: str) -> np.ndarray:
    """``y_score >= threshold``, or ``y_score`` itself when it already holds 0/1 decisions."""
    if threshold is None:
        if not np.isin(y_score, (0.0, 1.0)).all():
            raise InputError(
                f"{metric} needs binary decisions: pass threshold=... for continuous scores, "
                "or y_score holding only 0 and 1"
            )
        return y_score > 0.5
    return y_score >= float(threshold)


def runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (inclusive) indices of the maximal runs of True in a 1-D bool array."""
    f = np.concatenate(([False], np.asarray(flags, dtype=bool), [False]))
    d = np.diff(f.astype(np.int8))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1) - 1
    return starts, ends
