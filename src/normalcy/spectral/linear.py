"""Band scaling shared by the linear spectral detectors (RX, PCA).

Bands constant over the fit pixels are dropped (``tabular.preprocessing.ColumnScaler``);
a pixel that later deviates in one is lifted above every ordinary score (``add_drift``)
and the deviation is reported as that band's contribution.
"""

from __future__ import annotations

import numpy as np

from ..tabular.preprocessing import ColumnScaler, add_drift

__all__ = ["ColumnScaler", "add_drift", "full_contributions"]


def full_contributions(scaler: ColumnScaler, X: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """(n, B) contributions: ``kept`` (n, k) in the kept bands, the absolute deviation from
    the fit value in constant bands."""
    out = np.zeros(X.shape, dtype=np.float64)
    out[:, scaler.keep_] = kept
    off = ~scaler.keep_
    if off.any():
        out[:, off] = np.abs(X[:, off] - scaler.constant_values_[off])
    return out
