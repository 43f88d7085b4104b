"""Validation of signal segments handed to a detector.

Accepted: an ``N x T`` array (N single-channel segments of T samples), an ``N x T x C``
array, or a list of equal-shape ``T`` / ``T x C`` arrays. Values become float64.

Why a data type of its own and not the series modality: a series detector scores every
time step of one long recording and calibrates on autocorrelated scores; here each segment
is an independent item (an EEG epoch, a recording) judged as a whole, so there is one score
per segment, ranking metrics and a plain quantile threshold.

Policies (each a ``nc.InputError``): NaN/inf (naming segment, sample and channel), a
different length or channel count from the fit segments, fewer than ``MIN_SAMPLES``
samples, no segments, non-numeric values, magnitudes beyond ``MAX_ABS``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError

MIN_SAMPLES = 8
MAX_SAMPLES = 10_000_000
MAX_CHANNELS = 4096
MAX_ABS = 1e150


def as_segments(
    X: Any, name: str = "X", length: int | None = None, channels: int | None = None
) -> np.ndarray:
    """``X`` as an (N, T, C) float64 array (see the module docstring)."""
    if X is None or isinstance(X, (str, bytes)) or np.isscalar(X):
        raise InputError(f"{name}: expected an N x T (or N x T x C) array of segments")
    if isinstance(X, (list, tuple)) and len(X) == 0:
        raise InputError(f"{name}: an empty list; expected one or more segments")
    try:
        arr = np.asarray(X)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{name}: segments of different shapes ({exc})") from None
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (ValueError, TypeError):
            raise InputError(
                f"{name}: holds values that are not numbers (or ragged segments)"
            ) from None
    if arr.dtype.kind not in "biuf":
        raise InputError(f"{name}: dtype {arr.dtype} is not a real number type")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise InputError(f"{name}: expected N x T or N x T x C segments, got shape {arr.shape}")
    n, t, c = arr.shape
    if n == 0:
        raise InputError(f"{name}: no segments")
    if not MIN_SAMPLES <= t <= MAX_SAMPLES:
        raise InputError(
            f"{name}: segments of {t} samples; expected {MIN_SAMPLES} to {MAX_SAMPLES}"
        )
    if not 1 <= c <= MAX_CHANNELS:
        raise InputError(f"{name}: {c} channels; expected 1 to {MAX_CHANNELS}")
    if length is not None and t != length:
        raise InputError(
            f"{name}: segments of {t} samples, but the detector was fitted on {length}"
        )
    if channels is not None and c != channels:
        raise InputError(f"{name}: {c} channels, but the detector was fitted on {channels}")
    out = arr.astype(np.float64, copy=False)
    finite = np.isfinite(out)
    if not finite.all():
        i, s, k = (int(v[0]) for v in np.nonzero(~finite))
        raise InputError(f"{name}: NaN/inf in segment {i} at sample {s}, channel {k}")
    if np.abs(out).max() > MAX_ABS:
        raise InputError(f"{name}: values beyond +-{MAX_ABS:g}; rescale the segments")
    return out
