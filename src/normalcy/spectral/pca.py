"""PCA reconstruction error per pixel: the baseline of the 3D-CVAE paper.

The fit pixels' spectra are centred (and, with ``standardise``, scaled per band; otherwise
all bands share one scale, so strong bands weigh as they do in the data, as in the EELS
literature). The leading ``n_components`` principal axes span the background; a pixel's
score is its squared residual ``||z - V V^T z||^2`` and band ``b`` contributes the squared
residual in that band.

Default ``n_components=10``, ``standardise=False``: chosen by leave-one-scene-out on the
ABU scenes over {5, 10, 20, 30 components, 99-99.99 % of variance} x {raw, standardised}
(10 raw components won on every fold; see docs/spectral.md).

References
----------
Jolliffe. Principal Component Analysis. Springer, 2002. As the baseline of: Robust Spectral
Anomaly Detection in EELS Spectral Images via Three Dimensional Convolutional Variational
Autoencoders (arXiv 2024).
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


def band_scale(scaler: ColumnScaler, standardise: bool) -> np.ndarray:
    """Per-kept-band divisor: the band's own deviation, or one shared scale (the largest)."""
    if standardise or scaler.n_kept == 0:
        return np.ones(scaler.n_kept)
    return scaler.scale_ / scaler.scale_.max()


@register(
    "spectral_pca",
    modality="spectral",
    paper="Jolliffe. Principal Component Analysis. Springer 2002 (the PCA baseline of the "
    "EELS 3D-CVAE paper, arXiv 2024)",
    year=2002,
    can_localise=True,
)
class SpectralPCA(SpectralDetector):
    """PCA reconstruction error of each pixel's spectrum.

    Parameters
    ----------
    n_components : int or float
        Number of principal axes kept, or (float in (0, 1)) the share of variance they
        must explain.
    standardise : bool
        Scale each band to unit variance before PCA (default: one scale for all bands).
    seed : int
        Unused (PCA here is exact); kept for the common detector interface.

    References
    ----------
    Jolliffe. Principal Component Analysis. Springer, 2002.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [Interval(Integral, 1, 100_000), Interval(Real, 0, 1, closed="neither")],
        "standardise": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self, n_components: int | float = 10, standardise: bool = False, seed: int = 0
    ) -> None:
        self.n_components = n_components
        self.standardise = standardise
        self.seed = seed

    def _z(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            return self.scaler_.transform(X) * self.band_scale_

    def _fit(self, cubes: list[np.ndarray]) -> None:
        X = pixels(cubes)
        self.scaler_ = ColumnScaler().fit(X)
        self.band_scale_ = band_scale(self.scaler_, bool(self.standardise))
        Z = self._z(X)
        k = Z.shape[1]
        if k == 0:
            self.components_ = np.zeros((0, 0))
            self.span_ = 1.0
            return
        cov = Z.T @ Z / len(Z)
        w, V = np.linalg.eigh(cov)
        w, V = w[::-1].clip(0), V[:, ::-1]
        if isinstance(self.n_components, float):
            cum = np.cumsum(w) / max(w.sum(), np.finfo(float).tiny)
            r = int(np.searchsorted(cum, self.n_components)) + 1
        else:
            r = int(self.n_components)
        r = int(min(r, k - 1)) if k > 1 else 0
        self.components_ = np.ascontiguousarray(V[:, :r])
        self.span_ = finite_span(self._residual(Z).sum(axis=1))

    def _residual(self, Z: np.ndarray) -> np.ndarray:
        R = Z - (Z @ self.components_) @ self.components_.T
        return R * R

    def _score_cubes(self, cubes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        X = pixels(cubes)
        if self.scaler_.n_kept == 0:
            contrib = np.zeros((len(X), 0))
        else:
            contrib = self._residual(self._z(X))
        return with_drift(self.scaler_, X, contrib.sum(axis=1), contrib, self.span_)

    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["components"] = self.components_
        arrays["band_scale"] = self.band_scale_
        arrays["span"] = np.array([self.span_])
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        return ColumnScaler.state_spec(self.n_bands_in_).merged(
            StateSpec(
                arrays={
                    "components": ArraySpec(("k", "r"), "float64", value_range=(-1.0, 1.0)),
                    "band_scale": ArraySpec(("k",), "float64", value_range=(0.0, 1.0)),
                    "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
                }
            )
        )

    def _set_state(self, arrays, meta):
        V = arrays["components"]
        if V.shape[1] and not np.allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-6):
            raise ModelFileError("state array 'components' does not hold orthonormal columns")
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.band_scale_ = arrays["band_scale"]
        self.components_ = V
        self.span_ = float(arrays["span"][0])
