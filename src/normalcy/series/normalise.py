"""Normalisation of series, fitted on normal history only.

``Normaliser`` learns per-channel centre and scale from the training (normal) history and
applies exactly those to every later series, so a level shift in the scored data stays a
level shift instead of being normalised away. Its arithmetic is scale-safe: statistics are
computed on each channel divided by its largest magnitude (no square overflows near 1e150,
none underflows near 1e-300), and normalised values are clipped to ``±CLIP`` (a value a
million training spreads away is anomalous whatever its exact size; every later product of
normalised values stays finite). ``znorm_rows`` z-normalises each window on its
own (shape-based comparison, as in the matrix profile). ``causal_standardise`` turns a raw
score stream into one comparable across series using only the past of each step.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from ..core.errors import InputError, NotFittedError

NORMALISE_METHODS = ("zscore", "robust", "minmax", "none")
_EPS = 1e-12  # a channel whose spread is below this fraction of its magnitude is constant
CLIP = 1e6  # normalised values are clipped to [-CLIP, CLIP]


class Normaliser:
    """Per-channel affine scaling ``(x - centre) / scale`` fitted on normal data.

    Parameters
    ----------
    method:
        ``"zscore"`` (mean, standard deviation), ``"robust"`` (median, interquartile range
        / 1.349), ``"minmax"`` (minimum, range) or ``"none"``. A channel that is constant in
        the training data gets scale 1 (its deviations keep their raw size). Statistics
        are scale-invariant: a series times 1e-300 or 1e150 normalises to the same values.
    """

    def __init__(self, method: str = "zscore"):
        if method not in NORMALISE_METHODS:
            raise InputError(f"normalise must be one of {NORMALISE_METHODS}, got {method!r}")
        self.method = method

    def fit(self, values: np.ndarray) -> Normaliser:
        x = np.asarray(values, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        # work on each channel divided by its peak magnitude: no overflow, no underflow
        peak = np.abs(x).max(axis=0) if x.shape[0] else np.ones(x.shape[1])
        unit = np.where((peak > 0) & np.isfinite(peak), peak, 1.0)
        y = x / unit
        if self.method == "zscore":
            centre, scale = y.mean(axis=0), y.std(axis=0)
        elif self.method == "robust":
            q1, centre, q3 = np.percentile(y, [25, 50, 75], axis=0)
            scale = (q3 - q1) / 1.349
            scale = np.where(scale > _EPS, scale, y.std(axis=0))
        elif self.method == "minmax":
            centre, scale = y.min(axis=0), y.max(axis=0) - y.min(axis=0)
        else:
            unit = np.ones(x.shape[1])
            centre, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
        self.centre_ = np.asarray(centre * unit, dtype=np.float64)
        scaled = np.asarray(scale * unit, dtype=np.float64)
        self.scale_ = np.where((scale > _EPS) & (scaled > 0), scaled, 1.0).astype(np.float64)
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        if not hasattr(self, "centre_"):
            raise NotFittedError("Normaliser is not fitted; call fit(normal_history) first")
        x = np.asarray(values, dtype=np.float64)
        squeeze = x.ndim == 1
        with np.errstate(over="ignore"):
            out = (x.reshape(x.shape[0], -1) - self.centre_) / self.scale_
        np.clip(out, -CLIP, CLIP, out=out)
        return out[:, 0] if squeeze else out

    def fit_transform(self, values: np.ndarray) -> np.ndarray:
        return self.fit(values).transform(values)

    def get_state(self, prefix: str = "norm_") -> dict[str, np.ndarray]:
        """Fitted arrays for a model file (keys carry ``prefix``)."""
        return {f"{prefix}centre": self.centre_, f"{prefix}scale": self.scale_}

    @classmethod
    def from_state(
        cls, method: str, arrays: dict[str, np.ndarray], prefix: str = "norm_"
    ) -> Normaliser:
        norm = cls(method)
        norm.centre_ = np.asarray(arrays[f"{prefix}centre"], dtype=np.float64)
        norm.scale_ = np.asarray(arrays[f"{prefix}scale"], dtype=np.float64)
        return norm


def znorm_rows(rows: np.ndarray, min_std: float = 1e-8) -> np.ndarray:
    """Each row minus its mean, divided by its standard deviation (flat rows become 0)."""
    rows = np.asarray(rows, dtype=np.float64)
    mu = rows.mean(axis=1, keepdims=True)
    sd = rows.std(axis=1, keepdims=True)
    return (rows - mu) / np.where(sd > min_std, sd, 1.0)


def causal_standardise(scores: np.ndarray, warmup: int, floor: float = 1e-9) -> np.ndarray:
    """Standardise a score stream with the past only: step ``t`` becomes
    ``(s_t - mean(s_0..s_{t-1})) / std(s_0..s_{t-1})``; the first ``warmup`` steps give 0.

    The running statistics use every earlier step, so the output at ``t`` never depends on
    later data. This makes raw scores from different series comparable enough for one
    threshold over a corpus (the NAB protocol's single threshold per detector).
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = s.size
    if n == 0:
        return s.copy()
    warmup = max(int(warmup), 2)
    shifted = s - s[0]  # shift-invariant; keeps the running sums well conditioned
    csum = np.concatenate([[0.0], np.cumsum(shifted)])
    csq = np.concatenate([[0.0], np.cumsum(shifted * shifted)])
    count = np.arange(n, dtype=np.float64)  # number of past steps
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = csum[:-1] / np.maximum(count, 1.0)
        var = csq[:-1] / np.maximum(count, 1.0) - mean**2
    std = np.sqrt(np.maximum(var, 0.0))
    spread = max(floor, 1e-6 * float(np.abs(shifted[:warmup]).max()))
    out = (shifted - mean) / np.maximum(std, spread)
    out[: min(warmup, n)] = 0.0
    return out


def causal_margin(scores: np.ndarray, horizon: int, warmup: int, floor: float = 1e-9) -> np.ndarray:
    """How far each score rises above the recent past, in units of the past scores' spread:
    step ``t`` becomes ``(s_t - max(s_{t-horizon}, ..., s_{t-1})) / std(s_0, ..., s_{t-1})``;
    the first ``warmup`` steps give 0.

    Only a score higher than everything in the last ``horizon`` steps is positive, so a
    detector whose score stays high for a while raises one alarm at its onset instead of one
    per step (what event scores such as NAB's reward), and a later, higher peak still alarms.
    Causal: step ``t`` never depends on later steps.
    """
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = s.size
    if n == 0:
        return s.copy()
    horizon = max(int(horizon), 1)
    warmup = max(int(warmup), 2)
    shifted = s - s[0]
    csum = np.concatenate([[0.0], np.cumsum(shifted)])
    csq = np.concatenate([[0.0], np.cumsum(shifted * shifted)])
    count = np.maximum(np.arange(n, dtype=np.float64), 1.0)
    mean = csum[:-1] / count
    std = np.sqrt(np.maximum(csq[:-1] / count - mean**2, 0.0))
    spread = max(floor, 1e-6 * float(np.abs(shifted[:warmup]).max()))
    # max over [t - horizon, t - 1]: a trailing maximum filter, shifted by one step
    trailing = maximum_filter1d(s, size=horizon, origin=(horizon - 1) // 2, mode="nearest")
    recent = np.empty(n)
    recent[0] = s[0]
    recent[1:] = trailing[:-1]
    out = (s - recent) / np.maximum(std, spread)
    out[: min(warmup, n)] = 0.0
    return out
