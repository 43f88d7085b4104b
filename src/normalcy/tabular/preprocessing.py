"""Column scaling shared by normalcy's own tabular detectors.

Columns that are constant in the training data are dropped before a model sees them (they
carry no information and make variance-based models divide by zero); a later deviation in
such a column is reported separately by :meth:`ColumnScaler.drift`, so that a detector can
rank it above everything it has seen.

Numerics: means and deviations are computed on each column divided by a power of two near
its largest magnitude (exact), so values up to ``tabular.input.MAX_ABS`` and columns of
tiny magnitude (1e-300, subnormal) give finite, scale-free z-scores. A z-score beyond
``Z_CLIP`` at scoring time (a value far outside a column's training spread) is clipped
there, so that downstream squares stay finite even in float32 networks.
"""

from __future__ import annotations

import numpy as np

from ..core.state_spec import ArraySpec, StateSpec

Z_CLIP = 1e15  # largest |z-score| passed to a model; (1e15)**2 * width fits float32


def robust_mean_std(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations without overflow or underflow.

    Each column is divided by ``2**e`` (``e`` the exponent of its largest magnitude) before
    the moments are taken, then multiplied back: exact, and safe from 1e-320 to 1e308.
    """
    if X.size == 0:
        return np.zeros(X.shape[1]), np.zeros(X.shape[1])
    _, exp = np.frexp(np.abs(X).max(axis=0))
    Y = np.ldexp(X, -exp)
    return np.ldexp(Y.mean(axis=0), exp), np.ldexp(Y.std(axis=0), exp)


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
        self.mean_, scale = robust_mean_std(kept)
        # a kept column has a positive spread; its deviation underflows only when subnormal
        spread = np.ptp(kept, axis=0) if kept.size else np.zeros(0)
        self.scale_ = np.where(scale > 0, scale, np.maximum(spread, np.finfo(float).tiny))
        return self

    @property
    def n_kept(self) -> int:
        return int(self.keep_.sum())

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The kept columns, standardised with the training mean and standard deviation
        (clipped to +-``Z_CLIP``)."""
        with np.errstate(over="ignore"):
            Z = (np.asarray(X, dtype=np.float64)[:, self.keep_] - self.mean_) / self.scale_
        return np.clip(Z, -Z_CLIP, Z_CLIP)

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

    @staticmethod
    def state_spec(n_features: int, prefix: str = "scaler.", kept: str = "k") -> StateSpec:
        """What ``get_state`` writes: ``kept`` names the number of kept columns."""
        return StateSpec(
            arrays={
                prefix + "keep": ArraySpec((n_features,), "uint8", value_range=(0, 1)),
                prefix + "mean": ArraySpec((kept,), "float64"),
                prefix + "scale": ArraySpec(
                    (kept,), "float64", value_range=(np.finfo(float).smallest_subnormal, None)
                ),
                prefix + "constant_values": ArraySpec((n_features,), "float64"),
            },
            dim_bounds={kept: (0, n_features)},
        )

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], prefix: str = "scaler.") -> ColumnScaler:
        from ..core.errors import ModelFileError

        n_kept = int(np.count_nonzero(arrays[prefix + "keep"]))
        if n_kept != arrays[prefix + "mean"].shape[0]:
            raise ModelFileError(
                f"state array {prefix}keep marks {n_kept} kept columns but {prefix}mean has "
                f"{arrays[prefix + 'mean'].shape[0]}"
            )
        scaler = cls()
        scaler.keep_ = arrays[prefix + "keep"].astype(bool)
        scaler.mean_ = arrays[prefix + "mean"]
        scaler.scale_ = arrays[prefix + "scale"]
        scaler.constant_values_ = arrays[prefix + "constant_values"]
        return scaler


def finite_span(scores: np.ndarray) -> float:
    """Spread of a detector's training scores (1.0 when it is not a positive finite number)."""
    span = float(np.ptp(scores)) if len(scores) else 0.0
    return span if np.isfinite(span) and span > 0 else 1.0


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
