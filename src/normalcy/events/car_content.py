"""CAR's content model: entity embeddings of heterogeneous categorical alert attributes.

Each attribute value of each attribute type (column) is an entity with an embedding
vector. An alert's content score is the sum of the pairwise inner products of its
entities' embeddings, ``s(x) = sum_{i<j} <e_i, e_j> + b``, the entity-embedding model CAR
(Lin et al., CIKM 2018) takes from APE (Chen et al., IJCAI 2016). It is learnt by
noise-contrastive estimation: each alert is contrasted with a noise alert in which one
attribute is replaced by a value drawn from that attribute's empirical distribution, with
a logistic loss weighted by the alert's current true-positive belief (CAR's joint
optimisation). Alerts whose attributes co-occur consistently get high scores and similar
embeddings; alerts with random content get low scores.

``s`` has the closed-form gradient ``ds/de_i = (sum_j e_j) - e_i``, so training is a few
numpy lines (AdaGrad, seeded; same seed, same embeddings). Entity 0 of each column is the
"unseen value" entity and stays at zero.
"""

from __future__ import annotations

import numpy as np


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class ContentEmbedding:
    """Pairwise-interaction entity embeddings; ``ids`` are global entity indices
    (rows x columns), column ``j`` owning ``offsets[j] .. offsets[j + 1] - 1``."""

    def __init__(
        self,
        offsets: np.ndarray,
        dim: int,
        epochs: int,
        lr: float = 0.05,
        l2: float = 1e-4,
        batch_size: int = 256,
        seed: int = 0,
    ) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.dim = int(dim)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.l2 = float(l2)
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        n = int(self.offsets[-1])
        rng = np.random.default_rng([self.seed, 7])
        self.embeddings = rng.normal(0.0, 0.1, size=(n, self.dim))
        self.embeddings[self.offsets[:-1]] = 0.0  # unseen entities
        self.bias = 0.0

    def raw_score(self, ids: np.ndarray) -> np.ndarray:
        E = self.embeddings[ids]  # (n, m, dim)
        total = E.sum(axis=1)
        return 0.5 * ((total**2).sum(axis=1) - (E**2).sum(axis=(1, 2)))

    def score(self, ids: np.ndarray) -> np.ndarray:
        """Content compatibility of each alert (higher = more consistent attributes)."""
        return self.raw_score(ids) + self.bias

    def vectors(self, ids: np.ndarray) -> np.ndarray:
        """Unit-length alert embeddings (the sum of its entities'), for content similarity."""
        v = self.embeddings[ids].sum(axis=1)
        norm = np.linalg.norm(v, axis=1, keepdims=True)
        return v / np.where(norm > 0, norm, 1.0)

    def _grad_rows(self, ids: np.ndarray, coef: np.ndarray, grad: np.ndarray) -> None:
        E = self.embeddings[ids]
        g = coef[:, None, None] * (E.sum(axis=1, keepdims=True) - E)
        np.add.at(grad, ids.reshape(-1), g.reshape(-1, self.dim))

    def fit(self, ids: np.ndarray, weights: np.ndarray) -> ContentEmbedding:
        n, m = ids.shape
        rng = np.random.default_rng([self.seed, 11])
        accum = np.full_like(self.embeddings, 1e-8)
        acc_b = 1e-8
        frozen = self.offsets[:-1]
        if m < 2:  # no pairs: the content score is the bias only
            return self
        for _ in range(self.epochs):
            order = rng.permutation(n)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                pos = ids[rows]
                w = weights[rows]
                neg = pos.copy()
                col = rng.integers(0, m, size=len(rows))
                donor = rng.integers(0, n, size=len(rows))
                neg[np.arange(len(rows)), col] = ids[donor, col]
                s_pos = self.score(pos)
                s_neg = self.score(neg)
                c_pos = -w * _sigmoid(-s_pos)  # d loss / d s_pos
                c_neg = w * _sigmoid(s_neg)
                grad = np.zeros_like(self.embeddings)
                self._grad_rows(pos, c_pos, grad)
                self._grad_rows(neg, c_neg, grad)
                grad /= max(w.sum(), 1e-12)
                grad += self.l2 * self.embeddings
                g_b = float((c_pos.sum() + c_neg.sum()) / max(w.sum(), 1e-12))
                accum += grad**2
                self.embeddings -= self.lr * grad / np.sqrt(accum)
                self.embeddings[frozen] = 0.0
                acc_b += g_b**2
                self.bias -= self.lr * g_b / np.sqrt(acc_b)
        return self
