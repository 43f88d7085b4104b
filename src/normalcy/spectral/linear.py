"""Band scaling shared by the linear spectral detectors (RX, PCA).

Bands constant over the fit pixels are dropped (``tabular.preprocessing.ColumnScaler``);
a pixel that later deviates in one is lifted above every ordinary score (``add_drift``)
and the deviation is reported as that band's contribution.
"""

from __future__ import annotations

import numpy as np

from ..tabular.preprocessing import ColumnScaler, add_drift

__all__ = ["ColumnScaler", "with_drift"]


def with_drift(
    scaler: ColumnScaler, X: np.ndarray, scores: np.ndarray, kept: np.ndarray, span: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scores lifted by ``add_drift`` and (n, B) contributions: ``kept`` (n, k) in the kept
    bands; in bands constant at fit, the lift shared in proportion to each band's absolute
    deviation from its fit value (so contributions still sum to the score)."""
    drift = scaler.drift(X)
    lifted = add_drift(scores, drift, span)
    out = np.zeros(X.shape, dtype=np.float64)
    out[:, scaler.keep_] = kept
    off = ~scaler.keep_
    if off.any():
        dev = np.abs(X[:, off] - scaler.constant_values_[off])
        share = np.divide(dev, drift[:, None], out=np.zeros_like(dev), where=drift[:, None] > 0)
        out[:, off] = share * (lifted - scores)[:, None]
    return lifted, out
