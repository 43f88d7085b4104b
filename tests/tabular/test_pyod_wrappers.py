"""The PyOD wrappers: planted outliers rank first, model files round-trip bit-identically,
constant columns and tiny or duplicated training sets give finite scores, and a test set
with the wrong number of columns is refused."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.tabular.pyod_detectors import PYOD_DETECTORS

NAMES = [entry[0] for entry in PYOD_DETECTORS]


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(200, 5))
    test = np.vstack([rng.normal(size=(60, 5)), rng.normal(8.0, 0.5, size=(6, 5))])
    labels = np.r_[np.zeros(60), np.ones(6)].astype(bool)
    return train, test, labels


@pytest.mark.parametrize("name", NAMES)
def test_planted_outliers_outscore_normal_rows(name):
    train, test, labels = _data()
    scores = nc.create(name).fit(train).score(test).scores
    assert scores.dtype == np.float64 and np.isfinite(scores).all()
    assert scores[labels].min() > np.quantile(scores[~labels], 0.9)


@pytest.mark.parametrize("name", NAMES)
def test_save_load_identical_scores(name, tmp_path):
    train, test, _ = _data(1)
    det = nc.create(name).fit(train)
    loaded = nc.load(det.save(tmp_path / f"{name}.normalcy"))
    np.testing.assert_array_equal(det.score(test).scores, loaded.score(test).scores)


@pytest.mark.parametrize("name", NAMES)
def test_constant_columns_and_tiny_training_sets_give_finite_scores(name):
    rng = np.random.default_rng(2)
    tiny = np.c_[rng.normal(size=(6, 3)), np.full(6, 4.0), np.zeros(6)]
    test = np.c_[rng.normal(size=(5, 3)), np.full(5, 4.0), np.zeros(5)]
    test[0, 3] = 9.0  # leaves a column that was constant in training
    scores = nc.create(name).fit(tiny).score(test).scores
    assert np.isfinite(scores).all()
    assert scores[0] == scores.max()
    # duplicated rows, and every column constant
    dup = np.repeat(rng.normal(size=(3, 4)), 5, axis=0)
    assert np.isfinite(nc.create(name).fit(dup).score(dup).scores).all()
    flat = np.ones((10, 3))
    out = nc.create(name).fit(flat).score(np.r_[flat[:2], [[1.0, 2.0, 1.0]]]).scores
    assert np.isfinite(out).all() and out[2] > out[0]


@pytest.mark.parametrize("name", NAMES)
def test_feature_count_mismatch_raises_input_error(name):
    train, test, _ = _data(3)
    det = nc.create(name).fit(train)
    with pytest.raises(nc.InputError, match="features"):
        det.score(test[:, :4])


def test_pca_on_one_hot_columns_keeps_scores_on_a_sane_scale():
    """One-hot groups are linearly dependent: PyOD's PCA divides by the zero variance of
    that direction, which used to push every score to ~1e16 (and NSL-KDD's to the float
    limit, every row tied). The wrapper keeps only the components that carry variance."""
    import normalcy as nc

    rng = np.random.default_rng(0)
    X = np.zeros((400, 16))
    X[np.arange(400), rng.integers(0, 5, 400)] = 1.0
    X[:, 5:] = rng.normal(size=(400, 11))
    test = X[:30].copy()
    test[0, 7] = 9.0  # a far numeric value
    scores = nc.create("pca").fit(X).score(test).scores
    assert np.abs(scores).max() < 1e8
    assert int(np.argmax(scores)) == 0
