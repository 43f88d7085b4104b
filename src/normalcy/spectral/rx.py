"""Global RX (Reed-Xiaoli): the Mahalanobis distance of each pixel's spectrum from the
background, the baseline every hyperspectral anomaly-detection paper reports.

Background model: mean ``mu`` and covariance ``S`` of the fit pixels (bands standardised
first, which leaves the distance unchanged and keeps the arithmetic well scaled). Score:
``(x - mu)^T (S + eps I)^-1 (x - mu)``; band ``b`` contributes ``z_b [(S + eps I)^-1 z]_b``
(the contributions sum to the score). ``eps = ridge * trace(S) / B`` keeps ``S``
invertible when bands are collinear or pixels are fewer than bands.

References
----------
Reed & Yu. Adaptive multiple-band CFAR detection of an optical pattern with unknown spectral
distribution. IEEE Trans. Acoustics, Speech and Signal Processing 38(10), 1990.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..tabular.preprocessing import finite_span
from .base import SpectralDetector
from .input import pixels
from .linear import ColumnScaler, with_drift


@register(
    "rx",
    modality="spectral",
    paper="Reed & Yu. Adaptive multiple-band CFAR detection of an optical pattern with "
    "unknown spectral distribution. IEEE TASSP 1990",
    year=1990,
    can_localise=True,
)
class RX(SpectralDetector):
    """Global RX: Mahalanobis distance of each pixel from the fit pixels' mean spectrum.

    Parameters
    ----------
    ridge : float
        Diagonal loading of the covariance, relative to its mean eigenvalue.
    seed : int
        Unused (RX is deterministic); kept for the common detector interface.

    References
    ----------
    Reed & Yu. IEEE Trans. Acoustics, Speech and Signal Processing 38(10), 1990.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "ridge": [Interval(Real, 0, 1e6)],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(self, ridge: float = 1e-9, seed: int = 0) -> None:
        self.ridge = ridge
        self.seed = seed

    def _fit(self, cubes: list[np.ndarray]) -> None:
        X = pixels(cubes)
        self.scaler_ = ColumnScaler().fit(X)
        Z = self.scaler_.transform(X)
        k = Z.shape[1]
        if k == 0:
            self.precision_ = np.zeros((0, 0))
            self.center_ = np.zeros(0)
            self.span_ = 1.0
            return
        self.center_ = Z.mean(axis=0)
        Z = Z - self.center_
        cov = Z.T @ Z / max(len(Z), 1)
        eps = float(self.ridge) * max(float(np.trace(cov)) / k, np.finfo(float).tiny)
        w, V = np.linalg.eigh(cov + eps * np.eye(k))
        w = np.maximum(w, max(eps, np.finfo(float).tiny))
        self.precision_ = (V / w) @ V.T
        self.precision_ = (self.precision_ + self.precision_.T) / 2
        self.span_ = finite_span(self._distance(Z + self.center_)[0])

    def _distance(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Zc = Z - self.center_
        contrib = Zc * (Zc @ self.precision_)
        return np.maximum(contrib.sum(axis=1), 0.0), contrib

    def _score_cubes(self, cubes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        X = pixels(cubes)
        if self.scaler_.n_kept == 0:
            scores, contrib = np.zeros(len(X)), np.zeros((len(X), 0))
        else:
            with np.errstate(over="ignore", invalid="ignore"):
                scores, contrib = self._distance(self.scaler_.transform(X))
        return with_drift(self.scaler_, X, scores, contrib, self.span_)

    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["precision"] = self.precision_
        arrays["center"] = self.center_
        arrays["span"] = np.array([self.span_])
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        return ColumnScaler.state_spec(self.n_bands_in_).merged(
            StateSpec(
                arrays={
                    "precision": ArraySpec(("k", "k"), "float64"),
                    "center": ArraySpec(("k",), "float64"),
                    "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
                }
            )
        )

    def _set_state(self, arrays, meta):
        P = arrays["precision"]
        if not np.allclose(P, P.T):
            raise ModelFileError("state array 'precision' is not symmetric")
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.precision_ = P
        self.center_ = arrays["center"]
        self.span_ = float(arrays["span"][0])
