"""Normalisation fitted on normal history only, and causal score standardisation."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.series.normalise import Normaliser, causal_margin, causal_standardise, znorm_rows


def test_normaliser_keeps_training_statistics():
    train = np.column_stack([np.arange(10.0), np.full(10, 5.0)])
    norm = Normaliser("zscore").fit(train)
    np.testing.assert_allclose(norm.centre_, [4.5, 5.0])
    np.testing.assert_allclose(norm.scale_, [np.std(np.arange(10.0)), 1.0])  # constant -> 1
    shifted = norm.transform(train + [0.0, 3.0])
    np.testing.assert_allclose(shifted[:, 1], 3.0)  # a level shift stays a level shift
    uni = Normaliser().fit(np.arange(10.0))
    assert uni.transform(np.arange(3.0)).shape == (3,)
    assert uni.transform(np.arange(3.0)[:, None]).shape == (3, 1)


@pytest.mark.parametrize("method", ["robust", "minmax", "none"])
def test_other_methods_and_state_round_trip(method):
    rng = np.random.default_rng(0)
    x = rng.normal(3, 2, size=(500, 2))
    norm = Normaliser(method).fit(x)
    again = Normaliser.from_state(method, norm.get_state())
    np.testing.assert_array_equal(norm.transform(x), again.transform(x))
    if method == "robust":
        np.testing.assert_allclose(norm.centre_, np.median(x, axis=0))
    if method == "minmax":
        z = norm.transform(x)
        assert z.min() == 0.0 and z.max() == 1.0


def test_normaliser_errors():
    with pytest.raises(nc.InputError, match="normalise must be one of"):
        Normaliser("l2")
    with pytest.raises(nc.NotFittedError):
        Normaliser().transform(np.ones(3))


def test_znorm_rows():
    rows = np.array([[1.0, 2.0, 3.0], [4.0, 4.0, 4.0]])
    z = znorm_rows(rows)
    np.testing.assert_allclose(z[0], [-1.224744871, 0.0, 1.224744871])
    np.testing.assert_array_equal(z[1], 0.0)


def test_causal_standardise_uses_only_the_past():
    rng = np.random.default_rng(3)
    s = rng.normal(10, 1, 300)
    out = causal_standardise(s, warmup=20)
    assert np.all(out[:20] == 0)
    t = 150
    expected = (s[t] - s[:t].mean()) / s[:t].std()
    assert out[t] == pytest.approx(expected, rel=1e-9)
    changed = s.copy()
    changed[200:] += 100  # the future does not change the past
    np.testing.assert_allclose(causal_standardise(changed, warmup=20)[:200], out[:200])
    assert np.all(np.isfinite(causal_standardise(np.ones(50), warmup=5)))


def test_causal_margin_alarms_once_per_excursion():
    s = np.array([1.0, 2, 1, 3, 2, 2, 5, 1, 1, 1])
    out = causal_margin(s, horizon=3, warmup=2)
    expected = [0.0, 0.0]
    for t in range(2, s.size):
        expected.append((s[t] - s[max(0, t - 3) : t].max()) / s[:t].std())
    np.testing.assert_allclose(out, expected)
    plateau = np.r_[np.zeros(50), np.full(20, 10.0), np.zeros(30)] + np.linspace(0, 1e-3, 100)
    alarms = np.flatnonzero(causal_margin(plateau, horizon=10, warmup=5) > 1.0)
    assert alarms.tolist() == [50]  # a sustained high score alarms at its onset only
    changed = s.copy()
    changed[7:] = 100.0
    np.testing.assert_allclose(causal_margin(changed, 3, 2)[:7], out[:7])  # causal
