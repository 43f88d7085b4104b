"""Invariant mining on event-count vectors (Lou et al., USENIX ATC 2010), as in loglizer.

A normal workflow ties the counts of its events together: every "open" has its "close",
every block received by a data node is stored once, so ``count(a) - count(b) = 0`` on
(almost) every normal session. The method mines such sparse linear invariants with small
integer coefficients from the event-count matrix of normal sessions and flags a session
that breaks any of them.

Mining follows the paper as loglizer implements it:

1. **Invariant space.** The dimension ``r`` of the space of invariants is estimated from the
   SVD of ``X^T X``: starting from the smallest singular value, right singular vectors
   ``v`` with ``|X v| < epsilon`` on at least ``percentage`` of the sessions are counted.
2. **Search.** Columns that are zero on every session give one-column invariants
   (``count = 0``; this includes the unseen-event column). Then combinations of 2, 3, ...
   ``max_invariant_size`` event columns are tried in order, skipping supersets of
   invariants already found (they add nothing); the candidate coefficients are the
   eigenvector of the smallest eigenvalue of the combination's Gram matrix, scaled so that
   its smallest entry becomes 1, 2 or 3 and rounded to integers; a candidate is an
   invariant when ``X_c theta = 0`` holds exactly on at least ``percentage`` of the sessions.
   The search stops once ``r`` invariants are found or ``max_combinations`` candidates have
   been tried (a bound loglizer lacks: wide vocabularies make the search combinatorial).

Score: the number of invariants a session violates, plus a tie-break below 1 that grows
with the total violation ``t = sum |X_c theta|`` (``t / (1 + t)``), so sessions are ranked
first by how many invariants they break. Localisation: each event gets the number of
violated invariants its event type takes part in (unseen events: the unseen-count
invariant). Sessions are deduplicated by count vector before mining (weights = how often
each vector occurs), which changes nothing in the result and much in the time.

A count model sees no order: a session with its events reordered has the same counts.

References
----------
Lou, J.-G., Fu, Q., Yang, S., Xu, Y. & Li, J. Mining Invariants from Console Logs for
System Problem Detection. USENIX ATC 2010.
He, S., Zhu, J., He, P. & Lyu, M. R. Experience Report: System Log Analysis for Anomaly
Detection (loglizer). ISSRE 2016.
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import LogDetector, session_scores
from .input import EncodedSessions

SCALES = (1, 2, 3)  # loglizer's scale_list


def _weighted_unique(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(counts) == 0:
        return counts, np.zeros(0)
    rows, weights = np.unique(counts, axis=0, return_counts=True)
    return rows, weights.astype(np.float64)


@register(
    "invariants",
    modality="logs",
    paper=(
        "Lou et al. Mining Invariants from Console Logs for System Problem Detection. "
        "USENIX ATC 2010 (as in loglizer)"
    ),
    year=2010,
    can_localise=True,
)
class InvariantsMiner(LogDetector):
    """Sparse integer invariants among event counts; score = invariants violated.

    Parameters
    ----------
    percentage : float
        Share of fit sessions an invariant must hold on (loglizer's ``percentage``).
    epsilon : float
        Tolerance ``|X v| < epsilon`` when estimating the invariant space's dimension.
    max_invariant_size : int
        Most event types in one invariant (loglizer's ``longest_invarant``).
    max_combinations : int
        Most candidate column combinations tried (bounds the search on wide vocabularies).
    seed : int
        Unused (the search is deterministic); kept for the common interface.
    """

    quick_params: ClassVar[dict[str, Any]] = {"max_combinations": 2000}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "percentage": [Interval(Real, 0, 1, closed="right")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "max_invariant_size": [Interval(Integral, 1, 10)],
        "max_combinations": [Interval(Integral, 0, 10_000_000)],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        percentage: float = 0.98,
        epsilon: float = 0.5,
        max_invariant_size: int = 3,
        max_combinations: int = 50_000,
        seed: int = 0,
    ) -> None:
        self.percentage = percentage
        self.epsilon = epsilon
        self.max_invariant_size = max_invariant_size
        self.max_combinations = max_combinations
        self.seed = seed

    # -- mining ---------------------------------------------------------------------------
    def _space_dimension(self, X: np.ndarray, w: np.ndarray) -> int:
        """loglizer's estimate of the invariant space's dimension (step 1)."""
        if X.shape[1] == 0 or w.sum() == 0:
            return 0
        gram = (X * w[:, None]).T @ X
        u, _, _ = np.linalg.svd(gram)
        need = float(self.percentage) * w.sum()
        r = 0
        for i in range(X.shape[1] - 1, -1, -1):
            held = w[np.abs(X @ u[:, i]) < float(self.epsilon)].sum()
            if held < need:
                break
            r += 1
        return r

    def _candidate(self, Xc: np.ndarray, w: np.ndarray, gram: np.ndarray):
        """Integer coefficients of the combination's invariant, or None (step 2)."""
        _, vecs = np.linalg.eigh(gram)
        theta = vecs[:, 0]
        mags = np.abs(theta)
        if mags.min() < 1e-6:  # a zero coefficient: a smaller combination holds instead
            return None
        j = int(np.argmin(mags))
        need = float(self.percentage) * w.sum()
        for scale in SCALES:
            coef = np.round(theta * (scale / theta[j]))
            coef[j] = scale
            if np.any(coef == 0):
                continue
            held = w[np.abs(Xc @ coef) < 1e-8].sum()
            if held >= need:
                return coef
        return None

    def _fit(self, data: EncodedSessions) -> None:
        X, w = _weighted_unique(data.count_matrix())
        n_cols = X.shape[1]
        r = self._space_dimension(X, w)
        cols: list[tuple[int, ...]] = []
        coefs: list[np.ndarray] = []
        zero = [j for j in range(n_cols) if not np.any(X[:, j])] if len(X) else list(range(n_cols))
        for j in zero:
            cols.append((j,))
            coefs.append(np.ones(1))
        active = [j for j in range(n_cols) if j not in set(zero)]
        gram = (X * w[:, None]).T @ X if len(X) else np.zeros((n_cols, n_cols))
        tried = 0
        budget = int(self.max_combinations)
        for size in range(2, int(self.max_invariant_size) + 1):
            if len(cols) >= r or tried >= budget:
                break
            found = [set(c) for c in cols if len(c) > 1]
            for combo in combinations(active, size):
                if len(cols) >= r or tried >= budget:
                    break
                if any(f <= set(combo) for f in found):
                    continue
                tried += 1
                idx = list(combo)
                coef = self._candidate(X[:, idx], w, gram[np.ix_(idx, idx)])
                if coef is not None:
                    cols.append(combo)
                    coefs.append(coef)
                    found.append(set(combo))
        self.n_candidates_ = tried
        self.space_dimension_ = r
        self._set_invariants(cols, coefs)

    def _set_invariants(self, cols: list[tuple[int, ...]], coefs: list[np.ndarray]) -> None:
        """Invariants as a dense (n_invariants, n_codes) coefficient matrix."""
        n_codes = self._n_codes()
        theta = np.zeros((len(cols), n_codes), dtype=np.float64)
        for i, (c, coef) in enumerate(zip(cols, coefs, strict=True)):
            theta[i, list(c)] = coef
        self.theta_ = theta

    # -- scoring --------------------------------------------------------------------------
    def _score(self, data: EncodedSessions):
        counts = data.count_matrix()
        if self.theta_.shape[0] == 0:
            zeros = np.zeros(len(data))
            return session_scores(data, zeros, [np.zeros(len(c), np.float32) for c in data.codes])
        residual = np.abs(counts @ self.theta_.T)  # (n, n_invariants)
        violated = residual > 1e-8
        total = np.where(violated, residual, 0.0).sum(axis=1)
        scores = violated.sum(axis=1) + total / (1.0 + total)
        involved = (self.theta_ != 0).astype(np.float64)  # (n_invariants, n_codes)
        per_type = violated.astype(np.float64) @ involved  # violated invariants per event type
        events = [per_type[i, c].astype(np.float32) for i, c in enumerate(data.codes)]
        return session_scores(data, scores.astype(np.float64), events)

    @property
    def invariants_(self) -> list[tuple[list[str], list[int]]]:
        """The mined invariants as (event keys, integer coefficients); "<unseen>" is code 0."""
        keys = ["<unseen>", *self.vocabulary_.keys]
        out = []
        for row in self.theta_:
            idx = np.flatnonzero(row)
            out.append(([keys[i] for i in idx], [int(row[i]) for i in idx]))
        return out

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        meta = {"space_dimension": int(self.space_dimension_), "n_candidates": self.n_candidates_}
        return {"theta": self.theta_}, meta

    def _state_spec(self) -> StateSpec:
        n_codes = self._n_codes()
        return StateSpec(
            arrays={"theta": ArraySpec(("m", "C"), "float64", value_range=(-1e6, 1e6))},
            meta={
                "space_dimension": [Interval(Integral, 0, n_codes)],
                "n_candidates": [Interval(Integral, 0, int(self.max_combinations))],
            },
            dims={"C": n_codes},
            dim_bounds={"m": (0, n_codes + int(self.max_combinations))},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        theta = arrays["theta"]
        if theta.size and np.any(np.count_nonzero(theta, axis=1) == 0):
            raise ModelFileError("state array 'theta' holds an invariant without coefficients")
        self.theta_ = theta
        self.space_dimension_ = int(meta["space_dimension"])
        self.n_candidates_ = int(meta["n_candidates"])
