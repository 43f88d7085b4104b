"""RoLA: per-variable RePAD2 detectors, correlations on the fly, majority vote; streaming and
batch agree; state round trips; input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from series_cases import KINDS, check_streaming_contract, injected, seasonal_series

import normalcy as nc
from normalcy.series.rola import RoLA


def normal(length: int, seed: int) -> np.ndarray:
    t = np.arange(length)
    return np.sin(2 * np.pi * t / 40) + 0.05 * np.random.default_rng(seed).normal(size=length)


@pytest.fixture(scope="module")
def fitted():
    train, _, _ = injected("point", seed=0)
    return RoLA().fit(train)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", [0, 1])
def test_maximum_inside_injected_span(kind, seed):
    train, test, (first, last) = injected(kind, seed)
    det = RoLA().fit(train)
    res = det.score(test)
    # AARE averages the latest `lookback` errors: the peak may trail the span by that much
    assert first <= int(np.argmax(res.scores)) <= last + det.lookback
    flags = res.extras["rola_flags"]
    assert flags[first : last + det.lookback + 1].any()
    assert flags[:first].mean() < 0.01  # rare false alarms before the anomaly
    if kind in ("point", "level_shift"):  # immediate response
        assert flags[first : first + det.lookback].any()
    assert res.maps.shape == (test.shape[0], 1)


def test_score_leaves_the_detector_unchanged(fitted):
    _, test, _ = injected("collective", seed=0)
    before = {k: v.copy() for k, v in fitted._state().items()}
    a = fitted.score(test).scores
    b = fitted.score(test).scores
    np.testing.assert_array_equal(a, b)
    for key, arr in fitted._state().items():
        np.testing.assert_array_equal(arr, before[key])


def test_streaming_equals_batch():
    train, test, _ = injected("frequency", seed=0)
    batch = RoLA().fit(train).score(test).scores
    det = RoLA().fit(train)
    streamed = np.array([(det.score_one(v), det.learn_one(v))[0] for v in test])
    np.testing.assert_array_equal(streamed, batch)
    np.testing.assert_array_equal(RoLA().fit(train).score_stream(test).scores, batch)
    # partial_fit learns a batch exactly as learn_one does point by point
    other = RoLA().fit(train).partial_fit(test)
    for key, arr in det._state().items():
        np.testing.assert_array_equal(other._state()[key], arr)


@pytest.fixture(scope="module")
def seasonal():
    return seasonal_series()


def test_streaming_contract(seasonal):
    check_streaming_contract(RoLA(), seasonal[:1200], seasonal[1200:1700])
    check_streaming_contract(
        RoLA(), np.c_[seasonal, -seasonal][:1200], np.c_[seasonal, -seasonal][1200:1700]
    )


def test_score_one_does_not_learn(fitted):
    before = {k: v.copy() for k, v in fitted._state().items()}
    for v in (0.3, 5.0, -2.0):
        fitted.score_one(v)
    for key, arr in fitted._state().items():
        np.testing.assert_array_equal(arr, before[key])


def test_learning_from_scratch_fits_after_warmup():
    x = normal(600, seed=3)
    det = RoLA(warmup=300)
    scores = [det.score_one(v) for v in x[:1]]
    for v in x[:300]:
        assert det.score_one(v) == 0.0  # nothing to score with before the warm-up ends
        det.learn_one(v)
    assert det.is_fitted and scores == [0.0]
    ref = RoLA(warmup=300).fit(x[:300])
    np.testing.assert_array_equal(det.score(x[300:]).scores, ref.score(x[300:]).scores)


def test_online_retraining_adapts_to_a_level_shift():
    x = normal(3000, seed=8)
    x[2000:] += 2.0  # a lasting shift: RoLA reports it, retrains, and goes quiet again
    det = RoLA().fit(x[:1500])
    coef_before = det.coef_.copy()
    flags = det.score_stream(x[1500:]).scores > det.k
    assert flags[500:503].any()
    assert not flags[560:].any()
    assert not np.array_equal(det.coef_, coef_before)
    # a frozen stream keeps models and AARE windows; only the context (latest values) moves
    frozen = RoLA().fit(x[:1500])
    before = {k: v.copy() for k, v in frozen._state().items()}
    frozen.score_stream(x[1500:], learn=False)
    for key in ("coef", "aare", "sums", "flag"):
        np.testing.assert_array_equal(frozen._state()[key], before[key])
    assert frozen.counters_[0] == before["counters"][0] + 1500


def _correlated(length: int, offset: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(offset, offset + length)
    base = np.sin(2 * np.pi * t / 50) + 0.3 * np.sin(2 * np.pi * t / 23)
    other = np.sin(2 * np.pi * t / 71 + 1.0)
    cols = [base, 2.0 * base + 0.5, -1.5 * base, other]
    return np.stack(cols, axis=1) + 0.02 * rng.normal(size=(length, 4))


def _brute_force_joint(z_all, n_train, lad, p, rho_min):
    """RoLA's vote, written directly from the paper: for each reporting variable a, the
    variables with |Pearson| >= rho_min over the latest p points vote; a reports jointly when
    agreeing votes (a itself included) outnumber disagreeing ones."""
    out = np.zeros(lad.shape[0], dtype=bool)
    n_vars = z_all.shape[1]
    for t in range(lad.shape[0]):
        g = n_train + t
        win = z_all[max(0, g + 1 - p) : g + 1]
        rho = np.corrcoef(win.T)
        for a in range(n_vars):
            if not lad[t, a]:
                continue
            agree, disagree = 1, 0
            for b in range(n_vars):
                if b != a and abs(rho[a, b]) >= rho_min:
                    agree += int(lad[t, b])
                    disagree += int(not lad[t, b])
            out[t] |= agree > disagree
    return out


def test_majority_rule_over_correlated_variables():
    train = _correlated(1500, 0, seed=0)
    test = _correlated(1400, 1500, seed=1)
    test[500, 0] += 3.0  # one of three correlated variables: outvoted
    test[900, 0] += 3.0  # two of three: majority
    test[900, 1] += 6.0
    test[1200, 3] += 3.0  # an uncorrelated variable decides alone
    det = RoLA(correlation_window=200, correlation_threshold=0.9).fit(train)
    res = det.score(test)
    lad, joint = res.extras["lad_flags"], res.extras["rola_flags"]
    assert lad[500:503, 0].any() and not joint[500:503].any()
    assert joint[900:903].any()
    assert joint[1200:1203].any()
    # the continuous score crosses k exactly where the paper's vote says so
    z_all = det.normaliser_.transform(np.vstack([train, test]))
    expected = _brute_force_joint(z_all, train.shape[0], lad, 200, 0.9)
    np.testing.assert_array_equal(joint, expected)
    # localisation: the variable that deviates has the largest per-variable score
    assert int(np.argmax(res.maps[1200])) == 3


def test_save_load_mid_stream(tmp_path):
    train, test, _ = injected("collective", seed=1, channels=2)
    det = RoLA().fit(train)
    det.score_stream(test[:500])
    loaded = nc.load(det.save(tmp_path / "rola.normalcy"))
    np.testing.assert_array_equal(loaded.score(test[500:]).maps, det.score(test[500:]).maps)
    np.testing.assert_array_equal(
        loaded.score_stream(test[500:]).scores, det.score_stream(test[500:]).scores
    )


def test_input_errors_and_nan_policy(fitted):
    with pytest.raises(nc.InputError, match="at least"):
        RoLA().fit(np.arange(10.0))
    bad = normal(500, seed=4)
    bad[100:105] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        RoLA().fit(bad)
    with pytest.raises(nc.InputError, match="NaN"):
        fitted.score_one(float("nan"))
    # documented policy: batch gaps are interpolated, stream gaps carry the last value
    det = RoLA(nan_policy="interpolate").fit(bad)
    assert np.isfinite(det.score(bad).scores).all()
    det.learn_one(0.5)
    assert det.score_one(float("nan")) == det.score_one(0.5)
    stamps = pd.date_range("2024-01-01", periods=500, freq="min")
    frame = pd.Series(normal(500, seed=5), index=stamps[::-1])
    with pytest.raises(nc.InputError, match="strictly increasing"):
        RoLA().fit(frame)
    with pytest.raises(nc.InputError, match="channel"):
        fitted.score(np.zeros((50, 2)))
    with pytest.raises(nc.InputError, match="retrain_window"):
        RoLA(retrain_window=4).fit(normal(500, seed=6))
    with pytest.raises(nc.InputError, match="lookback"):
        RoLA(lookback=0).fit(normal(500, seed=6))


def test_timestamps_are_kept(fitted):
    stamps = pd.date_range("2024-01-01", periods=300, freq="min")
    res = fitted.score(pd.Series(normal(300, seed=7), index=stamps))
    assert res.to_frame().index.equals(stamps)
