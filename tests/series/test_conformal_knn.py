"""Conformal k-NN: injected anomalies, the streaming contract, batch = prequential stream,
alarm shaping, the range rule, save/load and input policies."""

from __future__ import annotations

import numpy as np
import pytest
from series_cases import KINDS, check_streaming_contract, injected, seasonal_series

import normalcy as nc


@pytest.fixture(scope="module")
def seasonal():
    return seasonal_series()


# A plateau or a shift shows through its edges: the alarm may come with the return to normal.
EDGE = {"level_shift": 3, "collective": 3}


@pytest.mark.parametrize("kind", KINDS)
def test_top_point_inside_injected_anomaly(kind):
    for seed in (0, 1):
        train, test, (start, end) = injected(kind, seed)
        # window: half the synthetic period (100); the NAB default 16 is tuned to NAB's data.
        # Ranking (not alarming): no refractory rule, which lowers an alarm that follows a
        # louder one within `refractory` steps.
        det = nc.create("conformal_knn", window=50, refractory=0)
        scores = det.fit(train).score(test).scores
        assert scores.shape == (test.shape[0],) and scores.dtype == np.float64
        assert np.all(np.isfinite(scores))
        top = int(np.argmax(scores))
        margin = EDGE.get(kind, 0)
        assert start - margin <= top <= end + margin, (kind, seed, top, (start, end))


def test_streaming_contract(seasonal):
    check_streaming_contract(
        nc.create("conformal_knn", memory=300, calibration=500, horizon=50),
        seasonal[:800],
        seasonal[800:1300],
    )


def test_batch_score_equals_prequential_stream_and_leaves_model_unchanged(seasonal):
    det = nc.create("conformal_knn", memory=500).fit(seasonal[:1000])
    counters = det.counters_.copy()
    batch = det.score(seasonal[1000:1600]).scores
    np.testing.assert_array_equal(det.counters_, counters)  # score works on a copy
    streamed = det.score_stream(seasonal[1000:1600], learn=True).scores
    np.testing.assert_array_equal(batch, streamed)
    assert det.counters_[1] == 1600  # learned every point


def test_one_alarm_per_event_and_a_later_stronger_event_alarms_again():
    rng = np.random.default_rng(3)
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * rng.standard_normal(t.size)
    x[2000:2030] = 0.3  # a flat stretch (inside the learned range)
    x[3000:3060] = -0.5 + 0.8 * np.sin(2 * np.pi * t[3000:3060] / 7)  # later, different
    det = nc.create("conformal_knn", horizon=600).fit(x[:500])
    s = det.score(x[500:]).scores
    alarms = np.flatnonzero(s > 0.5) + 500
    first = alarms[(alarms >= 2000) & (alarms < 2046)]
    assert 1 <= first.size <= 4  # one alarm (or a few) per event, not one per step
    assert np.any((alarms >= 3000) & (alarms < 3076))
    assert 3000 <= int(np.argmax(s)) + 500 < 3016  # the strongest alarm: the second onset
    outside = (alarms < 2000) | ((alarms >= 2046) & (alarms < 3000)) | (alarms >= 3076)
    assert outside.sum() <= 4  # random records on 3 400 normal steps: rare


def test_refractory_rule_lowers_only_alarms_that_follow_an_alarm():
    rng = np.random.default_rng(5)
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 40) + 0.05 * rng.standard_normal(t.size)
    x[2000:2040] += np.linspace(0.0, 0.9, 40)  # an evolving event
    raw = nc.create("conformal_knn", refractory=0).fit(x[:500]).score(x[500:]).scores
    shaped = nc.create("conformal_knn", refractory=300).fit(x[:500]).score(x[500:]).scores
    assert np.all(shaped <= raw + 1e-12)
    # a step with no positive emitted score in the previous 300 steps keeps its raw score
    quiet = np.array([i < 1 or shaped[max(0, i - 300) : i].max() <= 0 for i in range(raw.size)])
    np.testing.assert_array_equal(shaped[quiet], raw[quiet])
    assert (~quiet).any()
    # the event still alarms; bursts of records in the noise alarm fewer times
    event = slice(1500, 1540)  # x[2000:2040]
    assert (shaped[event] > 0.25).any()
    assert 1 <= (shaped > 0.25).sum() < (raw > 0.25).sum()


def test_model_state_without_the_refractory_ring_is_refused():
    det = nc.create("conformal_knn").fit(np.sin(np.arange(600) / 6.0))
    arrays, meta = det._get_state()
    del arrays["recent"]
    from normalcy.core.state_spec import verify_state

    with pytest.raises(nc.ModelFileError, match="recent"):
        verify_state(det._state_spec(), arrays, meta)


def test_range_rule():
    x = np.sin(np.arange(1200) / 6.0)
    det = nc.create("conformal_knn", range_tolerance=0.1, range_score=1e3).fit(x[:600])
    assert det.score_one(1.25) >= 1e3  # beyond max + 10 % of the range [-1, 1]
    assert det.score_one(1.15) < 1e3
    assert det.score_one(-1.25) >= 1e3
    det.learn_one(1.5)  # the range grows with what is learned
    assert det.score_one(1.25) < 1e3


def test_learning_from_scratch(seasonal):
    det = nc.create("conformal_knn", window=10, warmup=100, memory=200)
    for v in seasonal[:99]:
        assert det.score_one(v) == 0.0
        det.learn_one(v)
    assert not det.is_fitted
    det.learn_one(seasonal[99])
    assert det.is_fitted
    ref = nc.create("conformal_knn", window=10, memory=200).fit(seasonal[:100])
    np.testing.assert_array_equal(
        det.score_stream(seasonal[100:400]).scores, ref.score_stream(seasonal[100:400]).scores
    )


def test_save_load_mid_stream_continues_identically(tmp_path):
    train, test, _ = injected("collective", seed=3, channels=2)
    det = nc.create("conformal_knn", memory=400).fit(train)
    det.score_stream(test[:100], learn=True)
    det.save(tmp_path / "c.normalcy")
    back = nc.load(tmp_path / "c.normalcy")
    assert back.get_params() == det.get_params()
    rest = test[100:]
    np.testing.assert_array_equal(det.score(rest).scores, back.score(rest).scores)
    np.testing.assert_array_equal(
        det.score_stream(rest, learn=True).scores, back.score_stream(rest, learn=True).scores
    )


def test_multivariate_spike_in_one_channel():
    train, test, (start, end) = injected("point", seed=2, channels=3)
    scores = nc.create("conformal_knn", window=50).fit(train).score(test).scores
    assert start <= int(np.argmax(scores)) <= end


def test_input_policies():
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(600) / 5.0) + 0.05 * rng.standard_normal(600)
    det = nc.create("conformal_knn", window=30).fit(x[:400])
    assert det.min_length() == 30
    with pytest.raises(nc.InputError, match="at least 30"):
        det.score(x[:20])
    with pytest.raises(nc.InputError, match="at least 30"):
        nc.create("conformal_knn", window=30).fit(x[:20])
    gappy = x[400:].copy()
    gappy[50:55] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        det.score(gappy)
    filled = nc.create("conformal_knn", window=30, nan_policy="interpolate").fit(x[:400])
    assert np.all(np.isfinite(filled.score(gappy).scores))
    for bad in ({"window": 1}, {"memory": 0}, {"range_tolerance": -1.0}, {"normalise": "x"}):
        with pytest.raises(nc.InputError):
            nc.create("conformal_knn", **bad).fit(x[:400])
    with pytest.raises(nc.InputError, match="expects 1"):
        det.score_one([1.0, 2.0])


def test_incremental_search_equals_full_search():
    """The O(memory) profile update gives bit-identical scores to the full search, across a
    memory compaction (memory 200: the buffer compacts every ~230 learned steps)."""
    rng = np.random.default_rng(5)
    x = np.sin(np.arange(1500) / 4.0) + 0.1 * rng.standard_normal(1500)
    x[900:905] += 2.0
    a = nc.create("conformal_knn", memory=200).fit(x[:300])
    b = nc.create("conformal_knn", memory=200).fit(x[:300])
    sa, sb = [], []
    for v in x[300:]:
        sa.append(a.score_one(v))
        a.learn_one(v)
        b.counters_[10] = 10**9  # steps since the last full search: forces a full one
        sb.append(b.score_one(v))
        b.learn_one(v)
    assert a.counters_[10] > 0  # a used the recurrence
    np.testing.assert_array_equal(sa, sb)
