"""Greedy coreset and the bounded patch reservoir."""

from __future__ import annotations

import numpy as np
import torch

from normalcy.image.sampling import PatchReservoir, greedy_coreset


def test_greedy_coreset_covers_every_cluster():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 50, size=(6, 16))
    sizes = [500, 300, 100, 20, 5, 1]  # a rare cluster of one point
    x = np.concatenate(
        [c + rng.normal(0, 0.1, size=(n, 16)) for c, n in zip(centres, sizes, strict=True)]
    )
    labels = np.repeat(np.arange(6), sizes)
    chosen = greedy_coreset(torch.from_numpy(x).float(), 6, projection_dim=None, seed=1)
    assert sorted(labels[chosen]) == list(range(6))
    # with a random projection the farthest-point order still finds all clusters
    chosen = greedy_coreset(torch.from_numpy(x).float(), 6, projection_dim=8, seed=1)
    assert sorted(labels[chosen]) == list(range(6))


def test_greedy_coreset_is_seeded_and_unique():
    x = torch.randn(300, 12, generator=torch.Generator().manual_seed(0))
    a = greedy_coreset(x, 50, projection_dim=4, seed=3)
    b = greedy_coreset(x, 50, projection_dim=4, seed=3)
    assert np.array_equal(a, b) and len(set(a.tolist())) == 50
    # each new point is the farthest from the ones already chosen (in the full space)
    chosen = greedy_coreset(x, 10, projection_dim=None, seed=0)
    d = torch.cdist(x, x[chosen[:5]]).min(1).values
    assert int(torch.argmax(d)) == chosen[5]


def test_reservoir_stays_bounded_and_uniform():
    res = PatchReservoir(capacity=1000, rate=0.5, seed=0)  # rate too high on purpose
    for start in range(0, 20_000, 500):
        res.add(np.arange(start, start + 500, dtype=np.float32)[:, None])
        assert len(res) <= 1000
    kept = res.rows()[:, 0]
    assert res.seen == 20_000 and 250 <= len(kept) <= 1000
    # uniform over the stream: about as many from the first half as from the second
    first = np.mean(kept < 10_000)
    assert 0.4 < first < 0.6
