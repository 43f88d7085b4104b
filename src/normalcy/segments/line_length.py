"""Line length and spectral band powers: the classic EEG baseline.

Each segment becomes a small feature vector per channel: the log line length (mean
absolute first difference) and, with ``features="both"`` or ``"bands"``, the log relative
powers of the delta-gamma bands and the log total power (``segments.features``). The fit
segments give the mean and (shrunk) covariance of these vectors; a segment's score is its
Mahalanobis distance from them. Seizures (high-amplitude, rhythmic discharges) raise the
line length and move power between bands; a flat, disconnected channel lowers both, so
the distance is two-sided.

References
----------
Esteller, Echauz, Tcheng, Litt & Pless. Line length: an efficient feature for seizure onset
detection. IEEE EMBS 2001.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import SegmentDetector
from .features import BANDS, band_powers, line_length

SHRINK = 0.1  # weight of the identity in the shrunk correlation matrix


@register(
    "line_length",
    modality="segments",
    paper="Esteller et al. Line length: an efficient feature for seizure onset detection. "
    "IEEE EMBS 2001",
    year=2001,
)
class LineLength(SegmentDetector):
    """Mahalanobis distance of line-length (and band-power) features from the fit segments.

    Parameters
    ----------
    features : {"line_length", "bands", "both"}
        Which features describe a segment.
    sampling_rate : float
        Samples per second (band edges are in Hz).
    seed : int
        Unused (deterministic); kept for the common detector interface.

    References
    ----------
    Esteller et al. Line length: an efficient feature for seizure onset detection. 2001.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "features": [Options(str, {"line_length", "bands", "both"})],
        "sampling_rate": [Interval(Real, 0, 1e9, closed="neither")],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self, features: str = "both", sampling_rate: float = 173.61, seed: int = 0
    ) -> None:
        self.features = features
        self.sampling_rate = sampling_rate
        self.seed = seed

    def _features(self, X: np.ndarray) -> np.ndarray:
        parts = []
        if self.features in ("line_length", "both"):
            parts.append(np.log(line_length(X) + 1e-300)[..., None])
        if self.features in ("bands", "both"):
            parts.append(band_powers(X, float(self.sampling_rate)))
        return np.concatenate(parts, axis=-1).reshape(len(X), -1)

    def n_features(self) -> int:
        per = {"line_length": 1, "bands": len(BANDS) + 1, "both": len(BANDS) + 2}
        return per[self.features] * self.n_channels_in_

    def _fit(self, X: np.ndarray) -> None:
        F = self._features(X)
        self.mean_ = F.mean(axis=0)
        std = F.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        Z = (F - self.mean_) / self.scale_
        corr = Z.T @ Z / len(Z)
        corr = (1 - SHRINK) * corr + SHRINK * np.eye(len(corr))
        self.precision_ = np.linalg.inv(corr)
        self.precision_ = (self.precision_ + self.precision_.T) / 2

    def _score(self, X: np.ndarray) -> np.ndarray:
        Z = np.clip((self._features(X) - self.mean_) / self.scale_, -1e100, 1e100)
        return np.maximum(np.einsum("ij,jk,ik->i", Z, self.precision_, Z), 0.0)

    def _get_state(self):
        return {"mean": self.mean_, "scale": self.scale_, "precision": self.precision_}, {}

    def _state_spec(self) -> StateSpec:
        f = self.n_features()
        return StateSpec(
            arrays={
                "mean": ArraySpec((f,), "float64"),
                "scale": ArraySpec((f,), "float64", value_range=(1e-300, None)),
                "precision": ArraySpec((f, f), "float64"),
            }
        )

    def _set_state(self, arrays, meta):
        if not np.allclose(arrays["precision"], arrays["precision"].T):
            raise ModelFileError("state array 'precision' is not symmetric")
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.precision_ = arrays["precision"]
