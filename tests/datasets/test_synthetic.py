"""The synthetic generators: shapes, dtypes, determinism, and labels that match the truth."""

from __future__ import annotations

import numpy as np
import pytest

from normalcy import InputError
from normalcy.datasets.synthetic import make_images, make_series, make_tabular

ALL_KINDS = ("point", "contextual", "collective", "level_shift", "frequency")


def test_images_shapes_dtypes_and_masks():
    data = make_images(n_train=5, n_test=8, size=48, anomaly_ratio=0.5, seed=1)
    assert data.train.shape == (5, 48, 48, 3) and data.train.dtype == np.uint8
    assert data.test.shape == (8, 48, 48, 3) and data.test.dtype == np.uint8
    assert data.labels.dtype == np.int64 and data.labels.sum() == 4
    assert data.masks.shape == (8, 48, 48) and data.masks.dtype == bool
    has_mask = data.masks.any(axis=(1, 2))
    np.testing.assert_array_equal(has_mask, data.labels.astype(bool))
    assert sorted(k for k in data.kinds if k) == ["missing", "scratch", "spot", "stain"]


def test_images_defects_are_visible_and_deterministic():
    a = make_images(n_train=3, n_test=8, size=64, seed=3)
    b = make_images(n_train=3, n_test=8, size=64, seed=3)
    c = make_images(n_train=3, n_test=8, size=64, seed=4)
    for field in ("train", "test", "labels", "masks"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.test, c.test)
    # Defect pixels differ from the normal texture's colour statistics.
    normal_mean = a.train.reshape(-1, 3).mean(axis=0)
    for i in np.flatnonzero(a.labels):
        inside = a.test[i][a.masks[i]].astype(float).mean(axis=0)
        assert np.abs(inside - normal_mean).max() > 15, a.kinds[i]


def test_images_ratio_extremes_and_bad_arguments():
    assert make_images(n_train=1, n_test=4, size=32, anomaly_ratio=0.0).labels.sum() == 0
    assert make_images(n_train=1, n_test=4, size=32, anomaly_ratio=1.0).labels.sum() == 4
    with pytest.raises(InputError, match="anomaly_ratio"):
        make_images(anomaly_ratio=1.5)
    with pytest.raises(InputError, match="size"):
        make_images(size=16)


def test_series_windows_labels_and_determinism():
    data = make_series(train_length=600, test_length=1200, n_channels=2, kinds=ALL_KINDS, seed=2)
    assert data.train.shape == (600, 2) and data.train.dtype == np.float64
    assert data.test.shape == (1200, 2) and data.test.dtype == np.float64
    assert data.labels.shape == (1200,) and data.labels.dtype == np.int64
    assert data.kinds == list(ALL_KINDS) and len(data.windows) == len(ALL_KINDS)
    expected = np.zeros(1200, dtype=np.int64)
    previous_end = -1
    for start, end in data.windows:
        assert 0 <= start <= end < 1200
        assert start > previous_end  # ordered and non-overlapping
        previous_end = end
        expected[start : end + 1] = 1
    np.testing.assert_array_equal(data.labels, expected)
    point = data.windows[0]
    assert point[0] == point[1]
    again = make_series(train_length=600, test_length=1200, n_channels=2, kinds=ALL_KINDS, seed=2)
    np.testing.assert_array_equal(data.test, again.test)
    assert data.windows == again.windows


def test_series_anomalies_change_the_signal():
    normal = make_series(train_length=400, test_length=800, kinds=(), seed=5)
    data = make_series(train_length=400, test_length=800, kinds=("point", "level_shift"), seed=5)
    assert normal.labels.sum() == 0 and normal.windows == []
    (p, _), (s, e) = data.windows
    lo, hi = data.train.min(axis=0), data.train.max(axis=0)
    assert np.any((data.test[p] > hi) | (data.test[p] < lo))  # the spike leaves the range
    shift = data.test[s : e + 1].mean(axis=0) - normal.test[s : e + 1].mean(axis=0)
    assert np.all(np.abs(shift) > 0.5)
    np.testing.assert_array_equal(data.train, normal.train)


def test_series_bad_arguments():
    with pytest.raises(InputError, match="unknown anomaly kind"):
        make_series(kinds=("spike",))
    with pytest.raises(InputError, match="too short"):
        make_series(test_length=300, kinds=ALL_KINDS)


def test_tabular_shapes_contamination_and_separability():
    data = make_tabular(n_train=300, n_test=200, n_features=6, contamination=0.1, seed=0)
    assert data.train.shape == (300, 6) and data.train.dtype == np.float64
    assert data.test.shape == (200, 6) and data.test.dtype == np.float64
    assert data.labels.dtype == np.int64 and data.labels.sum() == 20
    again = make_tabular(n_train=300, n_test=200, n_features=6, contamination=0.1, seed=0)
    np.testing.assert_array_equal(data.test, again.test)
    # Outliers lie farther from their nearest training row than normal test rows do.
    dist = np.linalg.norm(data.test[:, None, :] - data.train[None, :, :], axis=2).min(axis=1)
    from sklearn.metrics import roc_auc_score

    assert roc_auc_score(data.labels, dist) > 0.9
    with pytest.raises(InputError, match="contamination"):
        make_tabular(contamination=1.0)
