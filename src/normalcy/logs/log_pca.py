"""PCA on event-count vectors (Xu et al., SOSP 2009), as loglizer implements it.

Each session becomes its event-count vector (how often each template occurs). The counts
are optionally TF-IDF weighted (``term_weighting="tfidf"``, loglizer's demo setting:
``idf_j = log(N / df_j)``, ``df_j`` the number of fit sessions holding event ``j``, so an
event present in every session gets weight 0 and its count is ignored) and centred on the
fit sessions' mean. The default is raw counts: TF-IDF makes the model blind to a missing
step of a workflow every session runs, and raw counts ranked better on every shared log set. PCA splits the space into a *normal subspace*, the leading principal
components explaining ``n_components`` of the variance (a share in (0, 1]) or a fixed
number of them, and its complement. A session's score is its squared prediction error
(SPE), the squared length of its projection on the residual subspace: normal sessions
follow the correlations among event counts, anomalous ones break them.

Unseen events (keys not seen in ``fit``) form one more count column that was always 0 in
``fit``; it lies wholly in the residual subspace, weighted so that one unseen event adds
more SPE than the largest SPE of a fit session (``sqrt(max SPE + 1)``): unseen events are
always anomalous.

Localisation: each event of a session gets the squared residual of its event type's
coordinate (its share of the SPE); unseen events get their column's share.

The paper thresholds SPE with the Q-statistic (Jackson & Mudholkar, 1979) at confidence
``1 - alpha``; it is computed at fit time (``q_threshold_``, ``alpha = 0.001`` as in
loglizer) for reference, while normalcy's decisions use the threshold ``calibrate`` sets
from held-out normal sessions.

References
----------
Xu, W., Huang, L., Fox, A., Patterson, D. & Jordan, M. I. Detecting Large-Scale System
Problems by Mining Console Logs. SOSP 2009.
He, S., Zhu, J., He, P. & Lyu, M. R. Experience Report: System Log Analysis for Anomaly
Detection (loglizer). ISSRE 2016.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import LogDetector, session_scores
from .input import EncodedSessions

Q_ALPHA_Z = 3.2905  # standard normal quantile at 1 - 0.001 (loglizer's c_alpha)


def q_statistic(residual_eigenvalues: np.ndarray, z: float = Q_ALPHA_Z) -> float:
    """Jackson-Mudholkar threshold of the SPE from the residual subspace's eigenvalues."""
    lam = np.asarray(residual_eigenvalues, dtype=np.float64)
    t1, t2, t3 = (float(np.sum(lam**i)) for i in (1, 2, 3))
    if t1 <= 0 or t2 <= 0:
        return 0.0
    h0 = 1.0 - 2.0 * t1 * t3 / (3.0 * t2**2)
    if h0 <= 0:
        return t1
    inner = z * np.sqrt(2.0 * t2 * h0**2) / t1 + 1.0 + t2 * h0 * (h0 - 1.0) / t1**2
    return float(t1 * max(inner, 0.0) ** (1.0 / h0))


@register(
    "log_pca",
    modality="logs",
    paper=(
        "Xu et al. Detecting Large-Scale System Problems by Mining Console Logs. SOSP 2009 "
        "(PCA on event-count vectors, as in loglizer)"
    ),
    year=2009,
    can_localise=True,
)
class LogPCA(LogDetector):
    """PCA on event-count vectors (raw or TF-IDF weighted); score = squared prediction error.

    Parameters
    ----------
    n_components : float or int
        Normal subspace: a share of variance in (0, 1] (the fewest leading components
        explaining at least that much) or a number of components (>= 1).
    term_weighting : {"none", "tfidf"}
        Raw counts (the default) or TF-IDF weighted counts (loglizer's
        ``term_weighting='tf-idf'``, blind to events present in every fit session). Raw
        counts gave the higher ROC-AUC on every shared log set, chosen leave-one-dataset-out
        (``bench.logs_lodo``; docs/logs.md).
    seed : int
        Unused (PCA by SVD is deterministic); kept for the common interface.
    """

    quick_params: ClassVar[dict[str, Any]] = {}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [
            Interval(Real, 0, 1, closed="right"),
            Interval(Integral, 1, 100_000),
        ],
        "term_weighting": [Options(str, {"tfidf", "none"})],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self, n_components: float | int = 0.95, term_weighting: str = "none", seed: int = 0
    ) -> None:
        self.n_components = n_components
        self.term_weighting = term_weighting
        self.seed = seed

    # -- features -------------------------------------------------------------------------
    def _weighted(self, data: EncodedSessions) -> tuple[np.ndarray, np.ndarray]:
        """Weighted, centred seen-event counts (n, V) and weighted unseen counts (n,)."""
        counts = data.count_matrix()
        seen = counts[:, 1:] * self.idf_ - self.mean_
        return seen, counts[:, 0] * self.unseen_weight_

    # -- contract -------------------------------------------------------------------------
    def _fit(self, data: EncodedSessions) -> None:
        counts = data.count_matrix()[:, 1:]
        n, v = counts.shape
        if self.term_weighting == "tfidf":
            df = np.count_nonzero(counts, axis=0)
            self.idf_ = np.log(n / np.maximum(df, 1)).astype(np.float64)
        else:
            self.idf_ = np.ones(v)
        self.unseen_weight_ = 1.0
        weighted = counts * self.idf_
        self.mean_ = weighted.mean(axis=0) if n else np.zeros(v)
        centred = weighted - self.mean_
        if v == 0 or n < 2:
            self.components_ = np.zeros((v, 0))
            self.q_threshold_ = 0.0
            self._unseen_weight(data)
            return
        _, sv, vt = np.linalg.svd(centred, full_matrices=False)
        eig = sv**2 / n  # variances along the components
        total = float(eig.sum())
        if isinstance(self.n_components, Integral):  # a number of components
            k = int(self.n_components)
        else:  # a share of the variance
            cum = np.cumsum(eig) / total if total > 0 else np.ones_like(eig)
            k = int(np.searchsorted(cum, float(self.n_components) - 1e-12) + 1)
        k = int(min(max(k, 0), len(eig)))
        k = min(k, int(np.count_nonzero(eig > 1e-12 * max(total, 1e-300))))
        self.components_ = np.ascontiguousarray(vt[:k].T)
        residual = np.concatenate([eig[k:], np.zeros(max(v - len(eig), 0))])
        self.q_threshold_ = q_statistic(residual)
        self._unseen_weight(data)

    def _unseen_weight(self, data: EncodedSessions) -> None:
        """One unseen event adds more SPE than any fit session has: sqrt(max SPE + 1)."""
        self.unseen_weight_ = 1.0
        spe = self._residuals(data)[0].sum(axis=1)
        top = float(spe.max()) if len(spe) else 0.0
        self.unseen_weight_ = float(np.sqrt(max(top, 0.0) + 1.0))

    def _residuals(self, data: EncodedSessions) -> tuple[np.ndarray, np.ndarray]:
        seen, unseen = self._weighted(data)
        if self.components_.shape[1]:
            seen = seen - (seen @ self.components_) @ self.components_.T
        return seen**2, unseen**2

    def _score(self, data: EncodedSessions):
        res, unseen = self._residuals(data)
        scores = res.sum(axis=1) + unseen
        per_type = np.concatenate([unseen[:, None], res], axis=1)  # column = event code
        events = [per_type[i, c].astype(np.float32) for i, c in enumerate(data.codes)]
        return session_scores(data, scores.astype(np.float64), events)

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        arrays = {"idf": self.idf_, "mean": self.mean_, "components": self.components_}
        meta = {"unseen_weight": self.unseen_weight_, "q_threshold": self.q_threshold_}
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        v = self._n_codes() - 1
        return StateSpec(
            arrays={
                "idf": ArraySpec(("V",), "float64", value_range=(0.0, None)),
                "mean": ArraySpec(("V",), "float64"),
                "components": ArraySpec(("V", "k"), "float64", value_range=(-1.000001, 1.000001)),
            },
            meta={
                "unseen_weight": [Interval(Real, 1, 1e150)],
                "q_threshold": [Interval(Real, 0, None)],
            },
            dims={"V": v},
            dim_bounds={"k": (0, v)},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.idf_ = arrays["idf"]
        self.mean_ = arrays["mean"]
        self.components_ = arrays["components"]
        self.unseen_weight_ = float(meta["unseen_weight"])
        self.q_threshold_ = float(meta["q_threshold"])
