"""Column scaling shared by normalcy's own tabular detectors.

Columns that are constant in the training data are dropped before a model sees them (they
carry no information and make variance-based models divide by zero); a later deviation in
such a column is reported separately by :meth:`ColumnScaler.drift`, so that a detector can
rank it above everything it has seen.
"""

from __future__ import annotations

import numpy as np


class ColumnScaler:
    """Standardise the non-constant columns of a training matrix (z-scores).

    Attributes (after ``fit``): ``keep_`` (bool mask of non-constant columns), ``mean_`` and
    ``scale_`` (over kept columns), ``constant_values_`` (training value of every column).
    """

    def fit(self, X: np.ndarray) -> ColumnScaler:
        X = np.asarray(X, dtype=np.float64)
        self.keep_ = np.ptp(X, axis=0) > 0
        self.constant_values_ = X[0].copy()
        kept = X[:, self.keep_]
        self.mean_ = kept.mean(axis=0) if kept.size else np.zeros(0)
        scale = kept.std(axis=0) if kept.size else np.zeros(0)
        self.scale_ = np.where(scale > 0, scale, 1.0)
        return self

    @property
    def n_kept(self) -> int:
        return int(self.keep_.sum())

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The kept columns, standardised with the training mean and standard deviation."""
        return (np.asarray(X, dtype=np.float64)[:, self.keep_] - self.mean_) / self.scale_

    def drift(self, X: np.ndarray) -> np.ndarray:
        """Per row, the summed absolute deviation from the training value in constant columns."""
        off = ~self.keep_
        if not off.any():
            return np.zeros(len(X))
        return np.abs(np.asarray(X, dtype=np.float64)[:, off] - self.constant_values_[off]).sum(1)

    def get_state(self, prefix: str = "scaler.") -> dict[str, np.ndarray]:
        return {
            prefix + "keep": self.keep_.astype(np.uint8),
            prefix + "mean": self.mean_,
            prefix + "scale": self.scale_,
            prefix + "constant_values": self.constant_values_,
        }

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], prefix: str = "scaler.") -> ColumnScaler:
        scaler = cls()
        scaler.keep_ = arrays[prefix + "keep"].astype(bool)
        scaler.mean_ = arrays[prefix + "mean"]
        scaler.scale_ = arrays[prefix + "scale"]
        scaler.constant_values_ = arrays[prefix + "constant_values"]
        return scaler


def add_drift(scores: np.ndarray, drift: np.ndarray, reference_span: float) -> np.ndarray:
    """Lift rows that deviate in a training-constant column above every ordinary score.

    ``reference_span`` is the spread of the detector's scores on its training data; a
    drifting row gets ``span + drift`` added, so it outranks all rows that do not drift and
    larger drifts rank higher.
    """
    if not np.any(drift > 0):
        return scores
    span = float(reference_span) if np.isfinite(reference_span) and reference_span > 0 else 1.0
    return scores + (drift > 0) * (span + np.ptp(scores)) + drift
