"""A cheap classical baseline: each node's features, how far they are from its neighbours'
and a few structure statistics, scored by a Gaussian (Mahalanobis) model.

The residual idea is Radar's (Li et al., IJCAI 2017): a node is anomalous when its
attributes are not explained by those of the nodes around it. Radar solves for residuals
with a Laplacian-regularised regression whose closed form inverts an N x N matrix; here the
residual is simply the node's features minus the mean of its neighbours' features, which
costs one sparse product. Steps:

1. Features are centred and projected on their ``n_components`` principal directions
   (randomised SVD, seeded), each whitened to unit variance: ``P`` (N x k).
2. Per node: the residual ``P_i - mean_{j in N(i)} P_j`` (0 for an isolated node), the
   log of one plus the squared residual in the full feature space (what the projection
   misses), ``log(1 + degree)`` and ``log(1 + dispersion)`` with dispersion the mean
   squared distance of the neighbours' ``P_j`` to their mean (0 for an isolated node);
   with ``include_features`` also ``P_i`` itself (off by default: on the three shared
   node sets it lowered the mean ROC-AUC, 0.62 against 0.66, measured before the
   full-space residual was added).
3. A Gaussian is fitted to these descriptors (Ledoit-Wolf shrunk covariance, robust to the
   few anomalies in the unlabelled graph); a node's score is its Mahalanobis distance.

No training loop, no dense adjacency: O(E k + N k^2) after the SVD. Inductive: any graph
with the fitted feature width can be scored. It is registered so that the deep models
(``dominant``, ``anomalydae``) are compared with what a cheap neighbourhood model gets.

References
----------
Li, J., Dani, H., Hu, X. & Liu, H. Radar: Residual Analysis for Anomaly Detection in
Attributed Networks. IJCAI 2017, 2152-2158.

Ledoit, O. & Wolf, M. A well-conditioned estimator for large-dimensional covariance
matrices. Journal of Multivariate Analysis 88(2), 365-411, 2004.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..graph.graphs import Graph
from .base import NodeDetector

MAX_COMPONENTS = 1024


def _neighbour_stats(graph: Graph, P: np.ndarray, A: Any = None) -> tuple[np.ndarray, ...]:
    """Neighbour mean of ``P`` (own row for isolated nodes), log-degree, log-dispersion."""
    A = graph.adjacency() if A is None else A
    deg = np.asarray(A.sum(axis=1)).ravel()
    safe = np.maximum(deg, 1.0)[:, None]
    mean = np.asarray(A @ P) / safe
    mean_sq = np.asarray(A @ (P**2).sum(axis=1, keepdims=True)) / safe
    disp = np.maximum(mean_sq[:, 0] - (mean**2).sum(axis=1), 0.0)
    isolated = deg == 0
    mean[isolated] = P[isolated]
    disp[isolated] = 0.0
    return mean, np.log1p(deg), np.log1p(disp)


@register(
    "neighbour_residual",
    modality="nodes",
    paper="Radar-style residuals: Li et al. Radar: Residual Analysis for Anomaly Detection in Attributed Networks. IJCAI 2017",
    year=2017,
)
class NeighbourResidual(NodeDetector):
    """Gaussian model of node features, neighbour residuals, degree and dispersion.

    Parameters
    ----------
    n_components:
        Principal directions kept from the node features (fewer when the graph has fewer
        features or nodes).
    include_features:
        Keep the node's own projected features in the descriptor (besides its residual).
    seed:
        Seeds the randomised SVD.
    """

    quick_params: ClassVar[dict[str, Any]] = {"n_components": 8}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [Interval(Integral, 1, MAX_COMPONENTS)],
        "include_features": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self, *, n_components: int = 32, include_features: bool = False, seed: int = 0
    ) -> None:
        self.n_components = n_components
        self.include_features = include_features
        self.seed = seed

    def _project(self, feats: np.ndarray) -> np.ndarray:
        return (feats.astype(np.float64) - self.mean_) @ self.components_.T / self.scale_

    def _descriptors(self, graph: Graph, feats: np.ndarray) -> np.ndarray:
        P = self._project(feats)
        A = graph.adjacency()
        mean, log_deg, log_disp = _neighbour_stats(graph, P, A)
        X = feats.astype(np.float64)
        full_mean, _, _ = _neighbour_stats(graph, X, A)
        full = np.log1p(((X - full_mean) ** 2).sum(axis=1))
        parts = [P - mean, full[:, None], log_deg[:, None], log_disp[:, None]]
        if self.include_features:
            parts.insert(0, P)
        return np.concatenate(parts, axis=1)

    def _fit(self, data: tuple[Graph, np.ndarray]) -> None:
        from sklearn.covariance import LedoitWolf
        from sklearn.utils.extmath import randomized_svd

        graph, feats = data
        X = feats.astype(np.float64)
        self.mean_ = X.mean(axis=0)
        k = int(min(self.n_components, X.shape[1], X.shape[0] - 1))
        _, s, vt = randomized_svd(X - self.mean_, k, random_state=int(self.seed))
        spread = s / np.sqrt(X.shape[0])
        keep = spread > 1e-9 * max(float(spread.max(initial=0.0)), 1e-300)
        if not keep.any():  # constant features: keep one direction, scale 1
            keep[0], spread[0] = True, 1.0
        self.components_, self.scale_ = vt[keep], spread[keep]
        D = self._descriptors(graph, feats)
        lw = LedoitWolf().fit(D)
        self.loc_, self.precision_ = lw.location_, lw.precision_

    def _score(self, data: tuple[Graph, np.ndarray]) -> np.ndarray:
        d = self._descriptors(*data) - self.loc_
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", d, self.precision_, d), 0.0))

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "mean": self.mean_,
            "components": self.components_,
            "scale": self.scale_,
            "loc": self.loc_,
            "precision": self.precision_,
        }
        return {k: np.asarray(v, dtype=np.float64).copy() for k, v in arrays.items()}, {}

    def _state_spec(self) -> StateSpec:
        return StateSpec(
            arrays={
                "mean": ArraySpec(("d",), "float64"),
                "components": ArraySpec(("k", "d"), "float64", value_range=(-1.0, 1.0)),
                "scale": ArraySpec(("k",), "float64", value_range=(1e-300, None)),
                "loc": ArraySpec(("m",), "float64"),
                "precision": ArraySpec(("m", "m"), "float64"),
            },
            dims={"d": int(self.n_features_in_)},
            dim_bounds={"k": (1, int(self.n_components)), "m": (4, 2 * MAX_COMPONENTS + 3)},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        k, m = arrays["components"].shape[0], arrays["loc"].shape[0]
        want = (2 if self.include_features else 1) * k + 3
        if m != want:
            raise ModelFileError(
                f"neighbour_residual state: {m} descriptor columns, expected {want} for "
                f"{k} components (include_features={self.include_features})"
            )
        self.mean_ = arrays["mean"]
        self.components_ = arrays["components"]
        self.scale_ = arrays["scale"]
        self.loc_ = arrays["loc"]
        self.precision_ = arrays["precision"]
