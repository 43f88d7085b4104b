"""The ADBench loader: names, resolution, labels, and the seeded subsampling rule."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import shared_dataset
from normalcy.core.errors import InputError
from normalcy.datasets import adbench


@pytest.fixture
def fake_root(tmp_path):
    rng = np.random.default_rng(0)
    for stem, n in (("2_small", 30), ("10_big", 500), ("1_tiny", 8)):
        y = np.zeros(n, dtype=np.int64)
        y[: max(1, n // 10)] = 1
        np.savez(tmp_path / f"{stem}.npz", X=rng.normal(size=(n, 3)), y=y)
    return tmp_path


def test_names_are_in_adbench_order_and_resolve(fake_root):
    assert adbench.names(fake_root) == ["1_tiny", "2_small", "10_big"]
    for key in ("big", "10_big", "10", "10_big.npz", "BIG"):
        assert adbench.resolve(key, fake_root) == "10_big"
    with pytest.raises(InputError, match="no ADBench data set"):
        adbench.resolve("cardio", fake_root)
    with pytest.raises(InputError, match="does not exist"):
        adbench.names(fake_root / "missing")


def test_subsampling_is_seeded_uniform_and_keeps_file_order(fake_root):
    full = adbench.load("big", fake_root)
    assert full.X.shape == (500, 3) and not full.subsampled and full.n_original == 500
    a = adbench.load("big", fake_root, max_samples=100, seed=3)
    b = adbench.load("big", fake_root, max_samples=100, seed=3)
    c = adbench.load("big", fake_root, max_samples=100, seed=4)
    assert a.subsampled and a.X.shape == (100, 3) and a.n_original == 500
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    rows = np.sort(np.random.default_rng(3).choice(500, 100, replace=False))
    np.testing.assert_array_equal(a.X, full.X[rows])
    np.testing.assert_array_equal(a.y, full.y[rows])
    small = adbench.load("tiny", fake_root, max_samples=100)
    assert not small.subsampled and small.X.shape == (8, 3)


def test_real_folder():
    root = shared_dataset("adbench")
    stems = adbench.names(root)
    assert "6_cardio" in stems and len(stems) >= 20
    data = adbench.load("cardio", root)
    assert data.X.ndim == 2 and data.X.shape[0] == data.y.shape[0] == data.n_original
    assert set(np.unique(data.y)) == {0, 1} and 0 < data.contamination < 0.5
    assert np.isfinite(data.X).all()
