"""Subsampling of patch features: PatchCore's greedy coreset and a bounded reservoir.

``greedy_coreset`` picks points one at a time, each the farthest from those already picked
(the greedy 2-approximation of the k-centre problem), computing distances in a random
projection to keep it cheap, as in Roth et al. (2022, Sec. 3.2 and Alg. 1).

``PatchReservoir`` keeps a uniformly random, bounded subset of a stream of patch features,
so that fitting on thousands of images never holds all their patches in memory.

References
----------
Roth et al. Towards Total Recall in Industrial Anomaly Detection. CVPR 2022.
Sener & Savarese. Active Learning for Convolutional Neural Networks: A Core-Set Approach.
ICLR 2018.
"""

from __future__ import annotations

import numpy as np
import torch


def greedy_coreset(
    features: torch.Tensor, n: int, projection_dim: int | None = 128, seed: int = 0
) -> np.ndarray:
    """Indices of ``n`` rows of ``features`` (P, D) chosen by greedy farthest-point selection.

    Distances are computed after a Gaussian random projection to ``projection_dim``
    dimensions (none when ``None`` or not smaller than D). The first point is drawn at
    random with ``seed``. Returns the indices in selection order.
    """
    p, d = features.shape
    n = int(min(max(n, 1), p))
    gen = torch.Generator().manual_seed(int(seed))
    z = features.float()
    if projection_dim is not None and 0 < projection_dim < d:
        proj = torch.randn(d, projection_dim, generator=gen) / np.sqrt(projection_dim)
        z = z @ proj
    z = z.contiguous()
    sq = (z * z).sum(1)
    first = int(torch.randint(p, (1,), generator=gen))
    chosen = np.empty(n, dtype=np.int64)
    chosen[0] = first
    min_dist = torch.clamp(sq - 2.0 * (z @ z[first]) + sq[first], min=0.0)
    buf = torch.empty_like(min_dist)
    for k in range(1, n):
        i = int(torch.argmax(min_dist))
        chosen[k] = i
        torch.mv(z, z[i], out=buf)
        buf.mul_(-2.0).add_(sq).add_(sq[i])
        torch.minimum(min_dist, buf, out=min_dist)
    return chosen


class PatchReservoir:
    """A uniformly random subset of at most ``capacity`` rows of a stream of row batches.

    Each incoming row is kept with probability ``rate`` (set from the expected stream
    length, so the reservoir rarely fills); if it still overflows, a random half of it is
    dropped and the rate halved, which keeps the sample uniform over the stream.
    """

    def __init__(self, capacity: int, rate: float, seed: int = 0):
        self.capacity = int(capacity)
        self.rate = float(min(1.0, max(rate, 1e-9)))
        self.rng = np.random.default_rng(seed)
        self._chunks: list[np.ndarray] = []
        self._size = 0
        self.seen = 0

    def add(self, rows: np.ndarray) -> None:
        self.seen += len(rows)
        if self.rate < 1.0:
            rows = rows[self.rng.random(len(rows)) < self.rate]
        if len(rows):
            self._chunks.append(np.ascontiguousarray(rows, dtype=np.float32))
            self._size += len(rows)
        while self._size > self.capacity:
            data = self.rows()
            keep = self.rng.random(len(data)) < 0.5
            self._chunks = [data[keep]]
            self._size = int(keep.sum())
            self.rate /= 2.0

    def rows(self) -> np.ndarray:
        if len(self._chunks) != 1:
            self._chunks = [np.concatenate(self._chunks)] if self._chunks else []
        return self._chunks[0] if self._chunks else np.empty((0, 0), dtype=np.float32)

    def __len__(self) -> int:
        return self._size
