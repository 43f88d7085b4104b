"""PCA across channels: the classic multivariate baseline. Each time step's vector of C
metrics is projected on the leading principal components of the normal history; its squared
residual outside them (the Q statistic, "squared prediction error") is the score, and the
residual of each channel is the localisation.

This is the PCA of TSB-AD-M's leaderboard in its point-wise form (one sample per time step,
as for tabular data): it catches a broken *correlation* between channels even when every
value stays in its normal range, and costs one ``C x k`` projection per step. ``Sub-PCA``
(``sub_pca``) is the windowed variant; on dozens of channels its ``window * C`` covariance
grows quadratically, which is why the multivariate protocol uses this one as its baseline.

``Scores.maps`` (T, C) holds each channel's squared residual; the step's score is their sum
(univariate input gives ``maps=None``). A channel that is constant in the training data has
no variance to explain: its normalised residual is its distance from the training value, so a
constant metric that starts to move is flagged on that channel.

References
----------
Shyu, M.-L., Chen, S.-C., Sarinnapakorn, K. & Chang, L. A Novel Anomaly Detection Scheme
Based on Principal Component Classifier. ICDM Foundations and New Directions of Data Mining
Workshop, 2003.

Jackson, J. E. & Mudholkar, G. S. Control Procedures for Residuals Associated With Principal
Component Analysis. Technometrics 21(3), 341-349, 1979.

Liu, Q. & Paparrizos, J. The Elephant in the Room: Towards A Reliable Time-Series Anomaly
Detection Benchmark (TSB-AD). NeurIPS Datasets and Benchmarks 2024.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from . import params
from .base import SeriesDetector
from .input import SeriesData
from .normalise import Normaliser
from .numerics import finite_scores
from .state import channels_spec, normaliser_spec, set_channels
from .sub_pca import _n_kept


@register(
    "channel_pca",
    modality="series",
    paper="Shyu et al. A Novel Anomaly Detection Scheme Based on Principal Component Classifier. ICDM Workshops 2003; PCA of TSB-AD-M (Liu & Paparrizos, NeurIPS 2024)",
    year=2003,
    can_localise=True,
)
class ChannelPCA(SeriesDetector):
    """Point-wise PCA over channels; squared residual per channel.

    Parameters
    ----------
    n_components:
        Components kept: a fraction of the normal data's variance in (0, 1), or a count.
    normalise:
        Per-channel scaling fitted on the training history (``series.normalise``).
    nan_policy:
        ``"raise"`` or ``"interpolate"`` (see ``series.input``).
    seed:
        Unused (the method is deterministic); kept for the common interface.
    """

    quick_params: dict[str, Any] = {}
    _parameter_constraints = {
        "n_components": [Interval(Real, 0, 1, closed="neither"), Interval(Integral, 1, None)],
        "normalise": params.NORMALISE,
        "nan_policy": params.NAN_POLICY,
        "seed": params.SEED,
    }

    def __init__(
        self,
        *,
        n_components: float | int = 0.9,
        normalise: str = "zscore",
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.normalise = normalise
        self.nan_policy = nan_policy
        self.seed = seed

    def _fit(self, data: SeriesData) -> None:
        self.normaliser_ = Normaliser(self.normalise).fit(data.values)
        z = self.normaliser_.transform(data.values)
        self.mean_ = z.mean(axis=0)
        centred = z - self.mean_
        cov = centred.T @ centred / max(z.shape[0] - 1, 1)
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        eigvals = np.maximum(eigvals[order], 0.0)
        k = _n_kept(eigvals, self.n_components)
        self.components_ = np.ascontiguousarray(eigvecs[:, order[:k]].T)

    def residuals(self, values: np.ndarray) -> np.ndarray:
        """Squared residual of every channel at every step (T, C) of a validated array."""
        centred = self.normaliser_.transform(values) - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return finite_scores(residual * residual)

    def _score(self, data: SeriesData) -> Scores:
        per_channel = self.residuals(data.values)
        maps = per_channel if data.n_channels > 1 else None
        return Scores(scores=per_channel.sum(axis=1), maps=maps)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"mean": self.mean_, "components": self.components_}
        return {**arrays, **self.normaliser_.get_state()}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.normaliser_ = Normaliser.from_state(self.normalise, arrays)
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        self.components_ = np.asarray(arrays["components"], dtype=np.float64)

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        set_channels(self, spec)

    def _state_spec(self) -> StateSpec:
        c = int(self.n_channels_)
        k: int | str = "k" if isinstance(self.n_components, float) else min(self.n_components, c)
        return (
            StateSpec(
                arrays={
                    "mean": ArraySpec(("C",), "float64"),
                    "components": ArraySpec((k, "C"), "float64"),
                },
                dim_bounds={"k": (1, c)},
            )
            .merged(normaliser_spec())
            .merged(channels_spec(self))
        )
