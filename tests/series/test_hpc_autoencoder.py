"""Autoencoder for system metrics: reconstruction error as score, per-variable localisation,
the paper's per-sample setting (window=1), determinism, state round trips, input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from series_cases import KINDS, injected

import normalcy as nc
from normalcy.series.hpc_autoencoder import HPCAutoencoder

SMALL = {"window": 40, "epochs": 20, "max_hidden": 64, "max_windows": 512}
# Windows straddling the end of a plateau or shift are abnormal too (as in test_detectors):
# the top point may lie this close after the span.
EDGE = {"level_shift": 3, "collective": 3}


def normal(length: int, seed: int) -> np.ndarray:
    t = np.arange(length)
    return np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(seed).normal(size=length)


@pytest.fixture(scope="module")
def fitted():
    train, _, _ = injected("point", seed=0)  # the normal part is the same for every kind
    return HPCAutoencoder(**SMALL).fit(train)


@pytest.mark.parametrize("kind", KINDS)
def test_maximum_inside_injected_span(fitted, kind):
    _, test, (first, last) = injected(kind, seed=0)
    res = fitted.score(test)
    assert first <= int(np.argmax(res.scores)) <= last + EDGE.get(kind, 0)
    assert res.maps is None  # one variable: its error is the score


@pytest.mark.parametrize("kind", KINDS)
def test_multivariate_maximum_and_localisation(kind):
    train, test, (first, last) = injected(kind, seed=1, channels=3)
    res = HPCAutoencoder(**SMALL).fit(train).score(test)
    assert first <= int(np.argmax(res.scores)) <= last + EDGE.get(kind, 0)
    assert res.maps.shape == (test.shape[0], 3)
    np.testing.assert_allclose(res.maps.sum(axis=1), res.scores, rtol=1e-5)
    if kind == "point":  # the spike sits in one channel: that channel carries the error
        spiked = int(np.argmax(np.abs(test[first] - test[first - 1])))
        assert int(np.argmax(res.maps[first])) == spiked


def _metrics(length: int, seed: int) -> np.ndarray:
    """Four node metrics driven by two hidden loads: the third follows the first, the fourth
    is the sum of the first two."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(0, 1, size=(length, 2))
    x = np.column_stack([load[:, 0], load[:, 1], 0.5 * load[:, 0] + 0.2, load.sum(axis=1)])
    return x + 0.01 * rng.normal(size=x.shape)


def test_per_sample_setting_learns_correlations_and_localises():
    train = _metrics(3000, seed=0)
    test = _metrics(600, seed=1)
    test[300:320, 1] += 1.5  # metric 1 leaves its normal range
    # every value stays in its normal range, but metric 2 no longer follows metric 0
    test[450:470, 2] = 0.9 - test[450:470, 2]
    det = HPCAutoencoder(window=1, epochs=30, hidden_factor=4.0, l1=0.0, seed=1)
    res = det.fit(train).score(test)
    assert det.window_ == 1
    assert 300 <= int(np.argmax(res.scores)) < 320
    assert np.all(np.argmax(res.maps[300:320], axis=1) == 1)
    normal_part = np.r_[0:300, 320:450, 470:600]
    assert res.scores[450:470].mean() > np.quantile(res.scores[normal_part], 0.99)


def test_seed_makes_training_deterministic(fitted):
    train, test, _ = injected("frequency", seed=0)
    again = HPCAutoencoder(**SMALL).fit(train).score(test).scores
    np.testing.assert_array_equal(again, fitted.score(test).scores)
    other = HPCAutoencoder(**SMALL, seed=1).fit(train).score(test).scores
    assert not np.array_equal(other, again)


def test_save_load_bit_identical(tmp_path):
    train, test, (first, last) = injected("level_shift", seed=2, channels=2)
    det = HPCAutoencoder(**SMALL).fit(train)
    det.calibrate(train, fpr=0.01)
    before = det.score(test)
    loaded = nc.load(det.save(tmp_path / "ae.normalcy"))
    after = loaded.score(test)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.maps, before.maps)
    np.testing.assert_array_equal(after.labels, before.labels)
    assert after.labels[first : last + 1].mean() > 2 * after.labels[:first].mean()


def test_input_errors_and_nan_policy(fitted):
    with pytest.raises(nc.InputError, match="at least 40"):
        fitted.score(np.zeros(30))
    with pytest.raises(nc.InputError, match="time steps"):
        HPCAutoencoder(window=64).fit(np.zeros(50))
    bad = normal(400, seed=2)
    bad[10:14] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        fitted.score(bad)
    filled = HPCAutoencoder(**SMALL, nan_policy="interpolate").fit(normal(600, seed=3))
    assert np.isfinite(filled.score(bad).scores).all()
    stamps = pd.date_range("2024-01-01", periods=400, freq="h")
    with pytest.raises(nc.InputError, match="strictly increasing"):
        fitted.score(pd.Series(normal(400, seed=3), index=stamps[[*range(1, 400), 0]]))
    with pytest.raises(nc.InputError, match="hidden_factor"):
        HPCAutoencoder(hidden_factor=0).fit(normal(400, seed=4))
    with pytest.raises(nc.InputError, match="epochs"):
        HPCAutoencoder(epochs=0).fit(normal(400, seed=4))
