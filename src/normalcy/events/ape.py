"""APE: entity embeddings and pairwise interactions for heterogeneous categorical events.

Each field of an event is an entity *type* and each value an *entity* (numeric fields are
binned first, see ``normalcy.events.encoding``). Every entity ``a`` has an embedding
``v_a`` in ``R^dim``; every pair of types ``(i, j)`` a weight ``w_ij >= 0``. An event
``e = (e_1, ..., e_m)`` gets the compatibility

    S(e) = sum_{i<j} w_ij <v_{e_i}, v_{e_j}>,      P(e) proportional to exp(S(e)),

and its anomaly score is ``-S(e)`` (``-log P(e)`` up to the normaliser).

Training: noise-contrastive estimation with the paper's *context-dependent* noise: a noise
event is a real event with one field ``t`` (drawn uniformly) replaced by an entity drawn
from that field's empirical distribution (counts + 1, so unseen and missing codes are drawn
too and learn to be incompatible). Because the noise depends on the real event, the NCE
logit is taken in its conditional form (Ceylan & Gutmann 2018):
``G = S(e) - S(e') + log q_t(e'_t) - log q_t(e_t)`` with loss ``log(1 + exp(-G))``, so the
normaliser of ``P`` cancels; only the terms of field ``t`` differ between ``e`` and
``e'``, so a step costs ``O(batch x n_noise x m x dim)``.

Localisation: with ``C_ij = w_ij <v_{e_i}, v_{e_j}>`` and ``mu_ij`` its mean over the
training events, ``extras["pair"]`` names the pair of fields with the lowest
``C_ij - mu_ij`` (the least compatible pair, relative to normal events), and ``maps[:, j] =
-1/2 sum_i (C_ij - mu_ij)`` is field ``j``'s share of the score (the maps of an event sum
to its score minus a constant).

References
----------
Chen, Tang, Sun, Chen & Zhou. Entity Embedding-based Anomaly Detection for Heterogeneous
Categorical Events. IJCAI 2016.
Ceylan & Gutmann. Conditional Noise-Contrastive Estimation of Unnormalised Models. ICML 2018.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from ..progress import progress_bar
from ..torch_helpers import torch_session
from .base import MAX_CATS, N_BINS, EventDetector

SCORE_CHUNK = 2048


@register(
    "ape",
    modality="events",
    paper="Chen et al. Entity Embedding-based Anomaly Detection for Heterogeneous Categorical "
    "Events. IJCAI 2016",
    year=2016,
    can_localise=True,
)
class APE(EventDetector):
    """APE: entity embeddings, weighted pairwise compatibility, NCE with context-dependent noise.

    Parameters
    ----------
    dim : int
        Embedding size of every entity.
    n_noise : int
        Noise events per real event (each corrupts one field).
    noise_uniform : float
        Share of the noise drawn uniformly over a field's entities rather than from its
        empirical distribution (rare, unseen and missing entities are then drawn often
        enough to learn that they are unlikely).
    epochs : int
        Passes over the training events.
    batch_size : int
        Real events per step.
    learning_rate : float
        Adam step size.
    n_bins : int
        Quantile bins per numeric field (see ``normalcy.events.encoding``).
    max_categories : int
        Most frequent values kept per field; rarer ones share the "unseen" entity.
    n_threads : int
        CPU threads for torch.
    seed : int
        Seed of the initialisation, the batches and the noise.
    verbose : bool
        Progress bar while training (silent when not a TTY).

    References
    ----------
    Chen et al. Entity Embedding-based Anomaly Detection for Heterogeneous Categorical
    Events. IJCAI 2016.
    """

    quick_params: ClassVar[dict[str, Any]] = {"dim": 8, "epochs": 4}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "dim": [Interval(Integral, 1, 1024)],
        "n_noise": [Interval(Integral, 1, 1000)],
        "noise_uniform": [Interval(Real, 0, 1, closed="left")],
        "epochs": [Interval(Integral, 0, 100_000)],
        "batch_size": [Interval(Integral, 1, 1_000_000)],
        "learning_rate": [Interval(Real, 0, 10, closed="neither")],
        "n_bins": N_BINS,
        "max_categories": MAX_CATS,
        "n_threads": [Interval(Integral, 1, 1024)],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
        "verbose": [bool],
    }

    def __init__(
        self,
        dim: int = 16,
        n_noise: int = 5,
        noise_uniform: float = 0.0,
        epochs: int = 30,
        batch_size: int = 256,
        learning_rate: float = 0.01,
        n_bins: int = 10,
        max_categories: int = 10_000,
        n_threads: int = 1,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.dim = dim
        self.n_noise = n_noise
        self.noise_uniform = noise_uniform
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_bins = n_bins
        self.max_categories = max_categories
        self.n_threads = n_threads
        self.seed = seed
        self.verbose = verbose

    # -- training -------------------------------------------------------------------------
    def _noise_tables(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per entity: log q_t (smoothed empirical distribution within its field), and the
        cumulative table ``t + CDF_t`` that draws from all fields at once."""
        enc = self.encoder_
        offsets, card = enc.offsets, enc.cardinalities
        counts = np.bincount((codes + offsets).ravel(), minlength=enc.n_entities) + 1.0
        field_of = np.repeat(np.arange(enc.n_columns), card)
        totals = np.bincount(field_of, weights=counts)
        lam = float(self.noise_uniform)
        prob = (1.0 - lam) * counts / totals[field_of] + lam / card[field_of]
        cum = np.empty_like(prob)
        for j in range(enc.n_columns):
            s = slice(offsets[j], offsets[j] + card[j])
            cum[s] = j + np.cumsum(prob[s])
            cum[offsets[j] + card[j] - 1] = j + 1.0
        return np.log(prob), cum

    def _fit(self, codes: np.ndarray) -> None:
        enc = self.encoder_
        n, m = codes.shape
        glob = codes + enc.offsets
        log_q, cum = self._noise_tables(codes)
        rng = np.random.default_rng(self.seed)
        dim, k = int(self.dim), int(self.n_noise)
        with torch_session(self.seed, int(self.n_threads)) as torch:
            emb = torch.nn.Parameter(torch.randn(enc.n_entities, dim) * (0.5 / math.sqrt(dim)))
            raw = torch.nn.Parameter(torch.full((m, m), math.log(math.e - 1.0)))
            opt = torch.optim.Adam([emb, raw], lr=float(self.learning_rate))
            log_q_t = torch.from_numpy(log_q)
            eye = torch.eye(m, dtype=torch.bool)
            batch = int(min(self.batch_size, n))
            steps = int(self.epochs) * math.ceil(n / batch)
            with progress_bar("ape", steps, bool(self.verbose)) as update:
                for _ in range(int(self.epochs)):
                    order = rng.permutation(n)
                    for start in range(0, n, batch):
                        rows = glob[order[start : start + batch]]
                        b = rows.shape[0]
                        t = rng.integers(0, m, size=(b, k))
                        new = np.searchsorted(cum, t + rng.random((b, k)), side="right")
                        new = np.minimum(new, enc.offsets[t] + enc.cardinalities[t] - 1)
                        loss = self._nce_loss(torch, emb, raw, eye, log_q_t, rows, t, new)
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                        update(loss=float(loss.detach()))
            self.embeddings_ = emb.detach().numpy().astype(np.float32)
            self.pair_weights_ = self._weights(torch, raw, eye).detach().numpy().astype(np.float32)
        self.pair_means_ = np.zeros((m, m), dtype=np.float32)
        total = np.zeros((m, m), dtype=np.float64)
        for start in range(0, n, SCORE_CHUNK):
            total += self._interactions(codes[start : start + SCORE_CHUNK]).sum(axis=0)
        self.pair_means_ = (total / n).astype(np.float32)

    @staticmethod
    def _weights(torch: Any, raw: Any, eye: Any) -> Any:
        w = torch.nn.functional.softplus(raw)
        return ((w + w.T) / 2).masked_fill(eye, 0.0)

    def _nce_loss(self, torch, emb, raw, eye, log_q, rows, t, new) -> Any:
        """Conditional NCE loss of real events ``rows`` (global entity ids, (b, m)) against
        noise events that replace field ``t`` (b, k) by entity ``new`` (b, k)."""
        rows_t = torch.from_numpy(rows)
        t_t = torch.from_numpy(t)
        new_t = torch.from_numpy(new)
        V = emb[rows_t]  # (b, m, d)
        W = self._weights(torch, raw, eye)  # (m, m)
        ctx = torch.einsum("bkm,bmd->bkd", W[t_t], V)  # sum_i w_it v_i (w_tt = 0)
        old = torch.gather(rows_t, 1, t_t)  # (b, k) the replaced entities
        delta = (ctx * (emb[old] - emb[new_t])).sum(-1)  # S(e) - S(e')
        logit = delta + log_q[new_t] - log_q[old]
        return torch.nn.functional.softplus(-logit).mean()

    # -- scoring --------------------------------------------------------------------------
    def _interactions(self, codes: np.ndarray) -> np.ndarray:
        """``C_ij = w_ij <v_{e_i}, v_{e_j}>`` per event, (n, m, m) float64."""
        V = self.embeddings_[codes + self.encoder_.offsets].astype(np.float64)
        return np.matmul(V, V.transpose(0, 2, 1)) * self.pair_weights_.astype(np.float64)

    def _score(self, codes: np.ndarray) -> Scores:
        n, m = codes.shape
        scores = np.empty(n)
        maps = np.empty((n, m), dtype=np.float32)
        pairs = np.empty((n, 2), dtype=np.int64)
        iu = np.triu_indices(m, k=1)
        mu = self.pair_means_.astype(np.float64)
        for start in range(0, n, SCORE_CHUNK):
            C = self._interactions(codes[start : start + SCORE_CHUNK])
            s = slice(start, start + C.shape[0])
            scores[s] = -0.5 * C.sum(axis=(1, 2))
            rel = C - mu
            maps[s] = -0.5 * rel.sum(axis=2)
            if m > 1:
                worst = np.argmin(rel[:, iu[0], iu[1]], axis=1)
                pairs[s] = np.stack([iu[0][worst], iu[1][worst]], axis=1)
            else:
                pairs[s] = 0
        return Scores(scores=scores, maps=maps, extras={"pair": pairs})

    # -- state ----------------------------------------------------------------------------
    def _get_state(self):
        return {
            "embeddings": self.embeddings_,
            "pair_weights": self.pair_weights_,
            "pair_means": self.pair_means_,
        }, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.embeddings_ = np.asarray(arrays["embeddings"], dtype=np.float32)
        self.pair_weights_ = np.asarray(arrays["pair_weights"], dtype=np.float32)
        self.pair_means_ = np.asarray(arrays["pair_means"], dtype=np.float32)

    def _state_spec(self) -> StateSpec:
        enc = self.encoder_
        return StateSpec(
            arrays={
                "embeddings": ArraySpec(("entities", "dim"), dtype="float32"),
                "pair_weights": ArraySpec(
                    ("fields", "fields"), dtype="float32", value_range=(0, None)
                ),
                "pair_means": ArraySpec(("fields", "fields"), dtype="float32"),
            },
            dims={"entities": enc.n_entities, "dim": int(self.dim), "fields": enc.n_columns},
        )
