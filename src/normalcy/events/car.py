"""CAR: collaborative ranking of the alerts a detector raises, so true positives come first.

Lin, Chen, Cao, Tang, Zhang, Cheng & Li. Collaborative Alert Ranking for Anomaly
Detection. CIKM 2018, pp. 1987-1995.

A detector calibrated at a useful false-positive rate still raises many false alerts.
CAR ranks those alerts using two kinds of evidence that true positives share and false
positives lack: *temporal* (a true attack is a multi-step pattern: its alerts recur in
the same order, in many sequences) and *content* (its alerts carry consistent attribute
combinations). False positives are isolated and their content is random.

1. **Temporal model** (``car_tree``): a hierarchical Pitman-Yor context tree over alert
   types, i.e. a variable-order Markov model whose node for context ``u`` has the node for
   ``u`` without its oldest alert as prior (short-term correlations near the root,
   long-term dependencies deeper). An alert's temporal evidence is how much its context
   raises its probability, ``log p(a_t | context) - log p(a_t)``, taken at its own position
   or at any of the next ``depth`` positions whose context it belongs to (so the first
   step of a pattern is credited too).
2. **Content model** (``car_content``): entity embeddings per attribute value with
   pairwise interactions, learnt by noise-contrastive estimation; an alert's content
   evidence is its compatibility score, and its embedding defines content similarity.
3. **Joint ranking.** The ranking ``f`` minimises, over the alerts,
   ``sum_ij A_ij (f_i / sqrt(D_i) - f_j / sqrt(D_j))^2 + mu * ||f - y||^2`` (manifold
   ranking, Zhou et al. 2004), where ``A = content_weight * C + temporal_weight * T`` joins
   the content graph ``C`` (each alert's ``n_neighbors`` most similar alerts by embedding)
   and the temporal graph ``T`` (alerts within ``depth`` steps of each other in a sequence,
   weighted by the dependency the tree found between them), and ``y`` is the alert prior:
   the rank-based normal scores of the temporal and content evidence (plus the
   detector's own score when ``score_column`` is given), one bounded scale for all. ``f = (1 - restart) S f + restart y`` is iterated
   to its fixed point. Both models and the ranking are optimised jointly by alternation:
   each of the ``rounds`` refits the tree and the embeddings with every alert weighted by
   its current rank (a belief that it is a true positive), so false positives stop
   shaping the patterns and the embeddings they are judged by.
4. **Patterns.** :meth:`CollaborativeAlertRanker.patterns` lists the alert-type sequences
   of the tree (contexts plus next type) ranked by weighted count times dependency gain:
   the reconstructed multi-step scenarios.

Why a ranker and not a registered detector: CAR is fitted on *alerts* (a mixture of true
and false positives, the output of another detector), not on normal data, and its score
orders those alerts rather than measuring departure from normality; a threshold
calibrated on normal hold-out data, the conformance suite's normal-data fixtures and
``nc.create`` do not apply. It follows the conventions otherwise: constructor stores
parameters (declared constraints), ``fit`` returns ``self``, ``score`` returns finite
float64 scores (higher = more likely a true positive), same ``seed`` gives the same
ranking, and ``save``/``load`` write and verify a normalcy model file
(``core.persistence``: safetensors arrays + JSON, declared ``StateSpec``, no pickle).

Deviations from the paper, whose full text was not available offline (the description
above follows its abstract and public summaries): the Pitman-Yor tree uses the
interpolated Kneser-Ney approximation with Kneser-Ney discount estimates instead of
Gibbs-sampled seating arrangements; the unified optimisation is written as the graph
regularised ranking above with alternating re-weighting of both models, our reading of
"incorporating both temporal and content dependencies into a unified optimization
framework".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, ListOf, Real, validate_params
from ..core.errors import InputError, ModelFileError, NotFittedError
from ..core.state_spec import ArraySpec, StateSpec, verify_state
from .car_content import ContentEmbedding
from .car_encoding import AlertEncoder, as_alert_frame, sequences
from .car_tree import ContextTree

if TYPE_CHECKING:
    import pandas as pd
    from scipy import sparse

MAX_ITER = 200


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Rank-based normal scores, ``Phi^-1((rank - 1/2) / n)`` (ties share their mean rank).

    Every piece of evidence (temporal, content, the detector's score) is put on this one
    bounded scale before they are added: robust z-scores let a heavy-tailed score (a
    detector's, typically) outweigh the others by orders of magnitude.
    """
    from scipy.stats import norm, rankdata

    n = len(x)
    return norm.ppf((rankdata(x) - 0.5) / n) if n else np.zeros(0)


class CollaborativeAlertRanker:
    """CAR: rank alerts (true positives first) from their sequences and their content.

    Parameters
    ----------
    sequence_column : str or None
        Column holding the sequence id (host, user, window ...); ``None``: one sequence.
    order_column : str or None
        Column ordering alerts within a sequence (numbers or time stamps); ``None``: row order.
    type_columns : list of str or None
        Attributes whose combination is the alert type (the sequence model's symbol);
        ``None``: every attribute column.
    ignore_columns : list of str
        Columns that are neither attributes nor ids (labels, free text ...).
    score_column : str or None
        The detector's own score, added to the prior with ``score_weight`` (never an
        attribute); ``None``: CAR ranks from the alerts alone, as in the paper.
    depth : int
        Longest context of the sequence model (alerts of history).
    dim, epochs : int
        Embedding size and training epochs of the content model.
    n_neighbors : int
        Neighbours per alert in the content graph.
    content_weight, temporal_weight, score_weight : float
        Weights of the evidence in the prior and of the graphs in the joint ranking.
    restart : float
        Pull of the ranking towards the prior (manifold ranking's ``1 - alpha``).
    rounds : int
        Alternations of the joint optimisation (refit both models with rank weights).
    max_categories, n_bins : int
        Largest vocabulary per attribute (and of alert types); quantile bins per numeric
        attribute.
    seed : int
        Seed of the embeddings' initialisation and noise samples.
    """

    name: ClassVar[str] = "car"
    modality: ClassVar[str] = "events"
    info: ClassVar[Any] = SimpleNamespace(needs_fit=True)
    threshold = None  # alerts are ranked, not thresholded (saved as null)
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "sequence_column": [None, str],
        "order_column": [None, str],
        "type_columns": [None, ListOf(str, min_len=1, max_len=1024)],
        "ignore_columns": [ListOf(str, max_len=1024)],
        "score_column": [None, str],
        "depth": [Interval(Integral, 1, 8)],
        "dim": [Interval(Integral, 1, 256)],
        "epochs": [Interval(Integral, 0, 1000)],
        "n_neighbors": [Interval(Integral, 0, 100)],
        "content_weight": [Interval(Real, 0, 100)],
        "temporal_weight": [Interval(Real, 0, 100)],
        "score_weight": [Interval(Real, 0, 100)],
        "restart": [Interval(Real, 0, 1, closed="right")],
        "rounds": [Interval(Integral, 1, 20)],
        "max_categories": [Interval(Integral, 1, 100_000)],
        "n_bins": [Interval(Integral, 2, 256)],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }
    quick_params: ClassVar[dict[str, Any]] = {"epochs": 3, "dim": 8}

    def __init__(
        self,
        sequence_column: str | None = None,
        order_column: str | None = None,
        type_columns: Sequence[str] | None = None,
        ignore_columns: Sequence[str] = (),
        score_column: str | None = None,
        depth: int = 3,
        dim: int = 16,
        epochs: int = 10,
        n_neighbors: int = 10,
        content_weight: float = 1.0,
        temporal_weight: float = 1.0,
        score_weight: float = 1.0,
        restart: float = 0.5,
        rounds: int = 2,
        max_categories: int = 1000,
        n_bins: int = 10,
        seed: int = 0,
    ) -> None:
        self.sequence_column = sequence_column
        self.order_column = order_column
        self.type_columns = type_columns
        self.ignore_columns = ignore_columns
        self.score_column = score_column
        self.depth = depth
        self.dim = dim
        self.epochs = epochs
        self.n_neighbors = n_neighbors
        self.content_weight = content_weight
        self.temporal_weight = temporal_weight
        self.score_weight = score_weight
        self.restart = restart
        self.rounds = rounds
        self.max_categories = max_categories
        self.n_bins = n_bins
        self.seed = seed

    # -- parameters ---------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = {k: getattr(self, k) for k in self._parameter_constraints}
        for key in ("type_columns", "ignore_columns"):
            if params[key] is not None:
                params[key] = list(params[key])
        return params

    def _validate_params(self) -> None:
        validate_params("ranker 'car'", self._parameter_constraints, self.get_params())

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "encoder_")

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError("CollaborativeAlertRanker is not fitted; call fit(alerts) first")

    # -- input --------------------------------------------------------------------------
    def _id_columns(self) -> list[str]:
        cols = [self.sequence_column, self.order_column, self.score_column]
        return [c for c in cols if c is not None] + list(self.ignore_columns)

    def _frame(self, alerts: Any) -> pd.DataFrame:
        import pandas as pd

        frame = as_alert_frame(alerts)
        missing = [c for c in self._id_columns() if c not in frame.columns]
        if missing:
            raise InputError(f"alerts lack the columns {missing} named in the parameters")
        if self.score_column is not None:
            s = pd.to_numeric(frame[self.score_column], errors="coerce").to_numpy(float)
            if not np.isfinite(s).all():
                raise InputError(f"score column {self.score_column!r} must hold finite numbers")
        return frame

    def _attribute_columns(self, frame: pd.DataFrame) -> list[str]:
        skip = set(self._id_columns())
        cols = [c for c in frame.columns if c not in skip]
        if not cols:
            raise InputError("alerts have no attribute columns besides ids, order and score")
        return cols

    # -- the models -----------------------------------------------------------------------
    def _temporal(self, types: np.ndarray, seqs: list[np.ndarray]):
        """Per alert: temporal evidence; temporal graph edges (i, j, weight)."""
        from scipy import sparse

        evidence = np.zeros(len(types))
        rows, cols, vals = [], [], []
        for idx in seqs:
            gains = self.tree_.gains(types[idx])
            n = len(idx)
            for t in range(n):
                stop = min(n, t + self.depth + 1)
                evidence[idx[t]] = gains[t:stop].max()
                for k in range(t + 1, stop):  # alert t is in the context of alert k
                    rows.append(idx[t])
                    cols.append(idx[k])
                    vals.append(1.0 / (1.0 + np.exp(-gains[k])))
        T = sparse.coo_matrix((vals, (rows, cols)), shape=(len(types),) * 2).tocsr()
        return evidence, T

    def _content_graph(self, vectors: np.ndarray) -> sparse.csr_matrix:
        from scipy import sparse

        n = len(vectors)
        k = min(int(self.n_neighbors), n - 1)
        if k <= 0:
            return sparse.csr_matrix((n, n))
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=k + 1).fit(vectors)
        dist, ind = nn.kneighbors(vectors)
        sim = np.clip(1.0 - dist[:, 1:] ** 2 / 2.0, 0.0, 1.0)  # cosine of unit vectors
        rows = np.repeat(np.arange(n), k)
        return sparse.csr_matrix((sim.ravel(), (rows, ind[:, 1:].ravel())), shape=(n, n))

    def _rank(self, frame: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        import pandas as pd
        from scipy import sparse

        ids = self.encoder_.codes(frame)
        types = self.encoder_.type_codes(frame)
        seqs = sequences(frame, self.sequence_column, self.order_column)
        temporal, T = self._temporal(types, seqs)
        content = self.content_.score(ids)
        prior = self.temporal_weight * normal_scores(
            temporal
        ) + self.content_weight * normal_scores(content)
        if self.score_column is not None:
            det = pd.to_numeric(frame[self.score_column]).to_numpy(np.float64)
            prior = prior + self.score_weight * normal_scores(det)
        C = self._content_graph(self.content_.vectors(ids))
        A = self.content_weight * C + self.temporal_weight * T
        A = (A + A.T).tocsr()
        deg = np.asarray(A.sum(axis=1)).ravel()
        inv = np.where(deg > 0, 1.0 / np.sqrt(np.where(deg > 0, deg, 1.0)), 0.0)
        S = sparse.diags(inv) @ A @ sparse.diags(inv)
        alpha = 1.0 - float(self.restart)
        f = prior.copy()
        for _ in range(MAX_ITER):
            nxt = alpha * (S @ f) + (1 - alpha) * prior
            if np.max(np.abs(nxt - f)) < 1e-10:
                f = nxt
                break
            f = nxt
        parts = {"temporal": temporal, "content": content, "prior": prior, "types": types}
        return np.asarray(f, dtype=np.float64), parts

    def _fit_models(self, ids: np.ndarray, types: np.ndarray, seqs, weights: np.ndarray) -> None:
        self.tree_ = ContextTree(len(self.encoder_.types), int(self.depth)).fit(
            [types[i] for i in seqs], [weights[i] for i in seqs]
        )
        self.content_ = ContentEmbedding(
            self.encoder_.offsets, int(self.dim), int(self.epochs), seed=int(self.seed)
        ).fit(ids, weights)

    # -- public API ---------------------------------------------------------------------
    def fit(self, alerts: Any, y: Any = None) -> CollaborativeAlertRanker:
        """Learn both models from ``alerts`` (unlabelled: true and false positives mixed)."""
        from scipy.stats import rankdata

        self._validate_params()
        frame = self._frame(alerts)
        if len(frame) < 2:
            raise InputError("CAR needs at least 2 alerts to fit")
        cols = self._attribute_columns(frame)
        type_cols = list(self.type_columns) if self.type_columns is not None else cols
        unknown = [c for c in type_cols if c not in cols]
        if unknown:
            raise InputError(f"type_columns {unknown} are not attribute columns of the alerts")
        self.encoder_ = AlertEncoder.fit(
            frame, cols, type_cols, int(self.max_categories), int(self.n_bins)
        )
        ids = self.encoder_.codes(frame)
        types = self.encoder_.type_codes(frame)
        seqs = sequences(frame, self.sequence_column, self.order_column)
        weights = np.ones(len(frame))
        for r in range(int(self.rounds)):
            self._fit_models(ids, types, seqs, weights)
            if r + 1 < int(self.rounds):
                f, _ = self._rank(frame)
                weights = rankdata(f) / len(f)
        return self

    def score(self, alerts: Any) -> np.ndarray:
        """Ranking score of each alert (float64; higher = more likely a true positive).

        The fitted models are fixed; the joint ranking is solved over the given alerts.
        """
        self._require_fitted()
        frame = self._frame(alerts)
        self.encoder_.check_columns(frame)
        f, _ = self._rank(frame)
        return np.nan_to_num(f, nan=0.0, posinf=np.finfo(float).max, neginf=-np.finfo(float).max)

    def explain(self, alerts: Any) -> pd.DataFrame:
        """Per alert: the ranking score and its parts (temporal and content evidence,
        prior) and the alert type."""
        import pandas as pd

        self._require_fitted()
        frame = self._frame(alerts)
        f, parts = self._rank(frame)
        labels = np.array(self.encoder_.types + ["<unseen>"], dtype=object)
        return pd.DataFrame(
            {
                "score": f,
                "temporal": parts["temporal"],
                "content": parts["content"],
                "prior": parts["prior"],
                "type": labels[parts["types"]],
            },
            index=frame.index,
        )

    def fit_score(self, alerts: Any) -> np.ndarray:
        return self.fit(alerts).score(alerts)

    def patterns(self, top: int = 20, min_length: int = 2) -> pd.DataFrame:
        """The alert patterns (type sequences, oldest first) ranked by weighted count times
        dependency gain; ``weight`` counts occurrences weighted by true-positive belief."""
        import pandas as pd

        self._require_fitted()
        labels = self.encoder_.types
        rows = [
            (tuple(labels[a] for a in pat), len(pat), count, gain, count * max(gain, 0.0))
            for pat, count, gain in self.tree_.patterns(min_length)
        ]
        out = pd.DataFrame(rows, columns=["pattern", "length", "weight", "gain", "score"])
        out = out.sort_values(["score", "length"], ascending=[False, True], kind="stable")
        return out.head(int(top)).reset_index(drop=True)

    # -- persistence --------------------------------------------------------------------
    def _input_spec(self) -> dict[str, Any]:
        return self.encoder_.to_json()

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = self.tree_.get_state("tree.")
        arrays["content.embeddings"] = self.content_.embeddings
        arrays["content.bias"] = np.array([self.content_.bias])
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        n_types = len(self.encoder_.types)
        n_entities = int(self.encoder_.offsets[-1])
        return StateSpec(
            arrays={
                "tree.parent": ArraySpec(("nodes",), "int64", value_range=(-1, None)),
                "tree.symbol": ArraySpec(("nodes",), "int64", value_range=(-1, n_types)),
                "tree.count_node": ArraySpec(("counts",), "int64", index_of="nodes"),
                "tree.count_symbol": ArraySpec(("counts",), "int64", value_range=(0, n_types)),
                "tree.count_value": ArraySpec(("counts",), "float64", value_range=(0.0, None)),
                "tree.count_raw": ArraySpec(("counts",), "int64", value_range=(0, None)),
                "tree.discount": ArraySpec((int(self.depth) + 1,), "float64", value_range=(0, 1)),
                "content.embeddings": ArraySpec((n_entities, int(self.dim)), "float64"),
                "content.bias": ArraySpec((1,), "float64"),
            },
            dim_bounds={"nodes": (1, 50_000_000), "counts": (0, 50_000_000)},
        )

    def save(self, path: str | Path, *, key: str | bytes | None = None) -> Path:
        """Write a normalcy model file (safetensors arrays + JSON manifest; no pickle)."""
        from ..core.persistence import save_model

        self._require_fitted()
        return save_model(self, path, key=key)

    @classmethod
    def load(cls, path: str | Path, *, key: str | bytes | None = None) -> CollaborativeAlertRanker:
        """Read a file written by :meth:`save`, verifying it before building anything."""
        from ..core.persistence import verify_file

        verified = verify_file(path, key=key)
        manifest, where = verified.manifest, str(path)
        if manifest["detector"] != cls.name or manifest["modality"] != cls.modality:
            raise ModelFileError(
                f"{where} holds {manifest['detector'][:80]!r} ({manifest['modality'][:40]!r}), "
                "not a CAR alert ranker"
            )
        if not manifest["fitted"]:
            raise ModelFileError(f"{where}: the CAR ranker in it is not fitted")
        params = manifest["params"]
        if set(params) != set(cls._parameter_constraints):
            raise ModelFileError(f"{where}: its parameters are not CAR's")
        try:
            validate_params(
                "ranker 'car'", cls._parameter_constraints, params, error=ModelFileError
            )
        except ModelFileError as exc:
            raise ModelFileError(f"{where}: {exc}") from None
        ranker = cls(**params)
        try:
            ranker.encoder_ = AlertEncoder.from_json(
                manifest["input_spec"], int(ranker.max_categories), int(ranker.n_bins) + 1
            )
            verify_state(ranker._state_spec(), verified.arrays, manifest["state"])
            arrays = verified.arrays
            ranker.tree_ = ContextTree.from_state(
                arrays, "tree.", len(ranker.encoder_.types), int(ranker.depth)
            )
        except (ModelFileError, ValueError) as exc:
            raise ModelFileError(f"{where}: {exc}") from None
        content = ContentEmbedding(
            ranker.encoder_.offsets, int(ranker.dim), int(ranker.epochs), seed=int(ranker.seed)
        )
        content.embeddings = np.array(arrays["content.embeddings"], dtype=np.float64)
        content.bias = float(arrays["content.bias"][0])
        ranker.content_ = content
        return ranker


def precision_at(scores: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Share of true positives among the ``k`` highest-scored alerts (ties: first rows)."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return float(np.asarray(truth, dtype=bool)[order].mean()) if len(order) else 0.0
