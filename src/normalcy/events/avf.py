"""AVF: attribute value frequency, as an independence model of the event fields.

Each field value is scored by how rare it was in ``fit``: with ``c_j(v)`` the count of value
``v`` in field ``j`` among ``n`` training events and ``K_j`` the field's codes (unseen and
missing included), the additively smoothed frequency is
``p_j(v) = (c_j(v) + alpha) / (n + alpha K_j)`` and an event scores

    score(e) = sum_j -log p_j(e_j)

the negative log-likelihood of the event if its fields were independent (Koufakou et al.
sum the raw frequencies; the logarithm makes the sum a likelihood and keeps one very rare
value from being averaged away). ``maps`` hold the per-field terms ``-log p_j(e_j)``, so
the event is localised to its rarest field (``extras["field"]``). It sees rare values,
never rare *combinations* of common values: that is what APE adds.

References
----------
Koufakou, Ortiz, Georgiopoulos, Anagnostopoulos & Reynolds. A Scalable and Efficient
Outlier Detection Strategy for Categorical Data. IEEE ICTAI 2007.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from .base import MAX_CATS, N_BINS, EventDetector


@register(
    "avf",
    modality="events",
    paper="Koufakou et al. A Scalable and Efficient Outlier Detection Strategy for Categorical "
    "Data. ICTAI 2007",
    year=2007,
    can_localise=True,
)
class AVF(EventDetector):
    """Attribute value frequency: sum of -log smoothed frequencies of each field's value.

    Parameters
    ----------
    alpha : float
        Additive smoothing of the counts (unseen values get ``alpha / (n + alpha K_j)``).
    n_bins : int
        Quantile bins per numeric field (see ``normalcy.events.encoding``).
    max_categories : int
        Most frequent values kept per field; rarer ones share the "unseen" code.

    References
    ----------
    Koufakou et al. A Scalable and Efficient Outlier Detection Strategy for Categorical
    Data. IEEE ICTAI 2007.
    """

    quick_params: ClassVar[dict[str, Any]] = {}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "alpha": [Interval(Real, 0, 1e6, closed="right")],
        "n_bins": N_BINS,
        "max_categories": MAX_CATS,
    }

    def __init__(self, alpha: float = 1.0, n_bins: int = 10, max_categories: int = 10_000):
        self.alpha = alpha
        self.n_bins = n_bins
        self.max_categories = max_categories

    def _fit(self, codes: np.ndarray) -> None:
        enc = self.encoder_
        counts = np.bincount((codes + enc.offsets).ravel(), minlength=enc.n_entities).astype(
            np.float64
        )
        self.counts_ = counts
        self.n_events_ = int(codes.shape[0])

    def _field_terms(self, codes: np.ndarray) -> np.ndarray:
        enc = self.encoder_
        card = enc.cardinalities.astype(np.float64)
        alpha = float(self.alpha)
        c = self.counts_[codes + enc.offsets]
        return -np.log((c + alpha) / (self.n_events_ + alpha * card))

    def _score(self, codes: np.ndarray) -> Scores:
        terms = self._field_terms(codes)
        field = np.argmax(terms, axis=1).astype(np.int64)
        return Scores(scores=terms.sum(axis=1), maps=terms, extras={"field": field})

    def _get_state(self):
        return {"counts": self.counts_}, {"n_events": self.n_events_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.counts_ = np.asarray(arrays["counts"], dtype=np.float64)
        self.n_events_ = int(meta["n_events"])
        self.is_fitted_ = True

    def _state_spec(self) -> StateSpec:
        enc = self.encoder_
        return StateSpec(
            arrays={"counts": ArraySpec(("entities",), dtype="float64", value_range=(0, 2**53))},
            meta={"n_events": [Interval(Integral, 2, 2**53)]},
            dims={"entities": enc.n_entities},
        )
