"""``event_counts``: a session's event-count vector through normalcy's tabular ``auto``.

The plainest log detector users know: describe each session by how often each event type
occurs (loglizer's event-count matrix), add the session's length and its number of unseen
events, and hand the table to a general tabular anomaly detector. Here that detector is
``auto`` (``normalcy.tabular.auto``: a label-free, consensus-filtered ensemble of Isolation
Forest, k-NN, Mahalanobis, PCA and HBOS). Counts enter as ``log1p(count)`` so that one
very long session does not dominate the scale. A column constant in ``fit`` (the unseen
count always is) is dropped by ``auto`` and any later deviation in it outranks every
other session, so unseen events are always anomalous.

Localisation: each event gets the absolute robust z-score of its event type's count in the
session, ``|log1p(count) - median| / scale`` against the fit sessions (scale: IQR / 1.349,
1 when the IQR is 0), a description of which counts are off rather than the ensemble's own
attribution; unseen events get the largest value of their session plus 1.

A count model sees no order: a session with its events reordered has the same counts.

The fitted ``auto`` detector is saved through its own state, its arrays prefixed with
``auto.``, and checked against its own state spec on load.

References
----------
He, S., Zhu, J., He, P. & Lyu, M. R. Experience Report: System Log Analysis for Anomaly
Detection (loglizer: event-count vectors). ISSRE 2016.
Li et al. AutoOD: Automated Outlier Detection via Curiosity-guided Search and
Self-imitation Learning. arXiv 2020 (``auto``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Satisfies
from ..core.registry import create, register
from ..core.state_spec import ArraySpec, StateSpec, verify_state
from .base import LogDetector, session_scores
from .input import EncodedSessions

_PREFIX = "auto."
IQR_TO_SD = 1.349


def count_features(data: EncodedSessions) -> np.ndarray:
    """(n, V + 2): log1p counts of the seen events, log1p length, log1p unseen count."""
    counts = data.count_matrix()
    length = counts.sum(axis=1, keepdims=True)
    return np.log1p(np.hstack([counts[:, 1:], length, counts[:, :1]]))


@register(
    "event_counts",
    modality="logs",
    paper=(
        "He et al. Experience Report: System Log Analysis for Anomaly Detection. ISSRE 2016 "
        "(event-count vectors), scored by normalcy's tabular auto detector"
    ),
    year=2016,
    can_localise=True,
)
class EventCounts(LogDetector):
    """Event-count vector (+ length, unseen count) of each session through tabular ``auto``.

    Parameters
    ----------
    auto_params : dict or None
        Parameters of the nested ``auto`` detector (see ``normalcy.tabular.auto``).
    seed : int
        Seed of the nested detector.
    """

    min_fit_sessions: ClassVar[int] = 2  # auto needs two rows
    quick_params: ClassVar[dict[str, Any]] = {"auto_params": {"families": ["knn", "pca", "hbos"]}}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "auto_params": [
            None,
            Satisfies(
                lambda v: (
                    isinstance(v, dict) and all(isinstance(k, str) for k in v) and "seed" not in v
                ),
                "a dict of auto's parameters (seed excluded: use seed)",
            ),
        ],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(self, auto_params: dict[str, Any] | None = None, seed: int = 0) -> None:
        self.auto_params = auto_params
        self.seed = seed

    def _make_auto(self):
        return create("auto", **dict(self.auto_params or {}), seed=self.seed)

    # -- contract -------------------------------------------------------------------------
    def _fit(self, data: EncodedSessions) -> None:
        F = count_features(data)
        self.auto_ = self._make_auto().fit(F)
        med = np.median(F, axis=0)
        q75, q25 = np.percentile(F, [75, 25], axis=0)
        scale = (q75 - q25) / IQR_TO_SD
        self.median_ = med
        self.scale_ = np.where(scale > 0, scale, 1.0)

    def _score(self, data: EncodedSessions):
        F = count_features(data)
        scores = self.auto_.score(F).scores
        z = np.abs(F - self.median_) / self.scale_  # (n, V + 2)
        v = len(self.vocabulary_.keys)
        per_type = np.concatenate([np.zeros((len(F), 1)), z[:, :v]], axis=1)
        per_type[:, 0] = per_type.max(axis=1) + 1.0  # unseen events: above every seen one
        events = [per_type[i, c].astype(np.float32) for i, c in enumerate(data.codes)]
        return session_scores(data, np.asarray(scores, dtype=np.float64), events)

    # -- persistence ----------------------------------------------------------------------
    def _n_features(self) -> int:
        return len(self.vocabulary_.keys) + 2

    def _get_state(self):
        arrays, meta = self.auto_._get_state()
        out = {_PREFIX + k: v for k, v in arrays.items()}
        out["median"] = self.median_
        out["scale"] = self.scale_
        return out, {"auto_state": meta, "auto_input": self.auto_._input_spec()}

    def _auto_for_state(self) -> tuple[Any, StateSpec]:
        auto = self._make_auto()
        auto._set_input_spec({"n_features": self._n_features(), "feature_names": None})
        return auto, auto._state_spec()

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        _, spec = self._auto_for_state()
        return StateSpec(
            arrays={
                **{_PREFIX + k: v for k, v in spec.arrays.items()},
                "median": ArraySpec(("n_count_features",), "float64"),
                "scale": ArraySpec(("n_count_features",), "float64", value_range=(1e-300, None)),
            },
            meta={
                "auto_state": [dict],
                "auto_input": [
                    Satisfies(
                        lambda v: v == {"n_features": d, "feature_names": None},
                        f"{{'n_features': {d}, 'feature_names': None}}",
                    )
                ],
            },
            dims={**spec.dims, "n_count_features": d},
            dim_bounds=spec.dim_bounds,
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        auto, spec = self._auto_for_state()
        inner = {k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)}
        verify_state(spec, inner, meta["auto_state"])  # the nested detector's own spec
        auto._set_state(inner, meta["auto_state"])
        auto.is_fitted_ = True
        self.auto_ = auto
        self.median_ = arrays["median"]
        self.scale_ = arrays["scale"]
