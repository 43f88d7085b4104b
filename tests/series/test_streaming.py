"""Streaming: the ring buffer, the mixin's contract and Sub-PCA's online mode."""

from __future__ import annotations

import numpy as np
import pytest
from series_cases import check_streaming_contract, seasonal_series

import normalcy as nc
from normalcy.series.streaming import WindowBuffer


@pytest.fixture(scope="module")
def seasonal():
    return seasonal_series()


def test_window_buffer_orders_oldest_first_and_round_trips():
    buf = WindowBuffer(3, 2)
    for t in range(5):
        buf.push(np.array([t, 10 * t], dtype=float))
    assert buf.full and buf.count == 5
    np.testing.assert_array_equal(buf.window()[:, 0], [2, 3, 4])
    np.testing.assert_array_equal(buf.window_with(np.array([5.0, 50.0]))[:, 1], [30, 40, 50])
    np.testing.assert_array_equal(buf.window()[:, 0], [2, 3, 4])  # window_with did not push
    back = WindowBuffer.from_state(buf.get_state())
    np.testing.assert_array_equal(back.window(), buf.window())
    back.push(np.array([5.0, 50.0]))
    np.testing.assert_array_equal(back.window()[:, 0], [3, 4, 5])


def test_point_validation_and_nan_policy(seasonal):
    det = nc.create("sub_pca", window=20).fit(seasonal[:1000])
    with pytest.raises(nc.InputError, match="expects 1"):
        det.score_one([1.0, 2.0])
    with pytest.raises(nc.InputError, match="NaN"):
        det.learn_one(float("nan"))
    with pytest.raises(nc.InputError, match="number"):
        det.score_one("abc")
    filled = nc.create("sub_pca", window=20, nan_policy="interpolate").fit(seasonal[:1000])
    filled.learn_one(0.5)
    held = filled.score_one(np.nan)  # carries the previous value forward
    assert held == filled.score_one(0.5)


def test_sub_pca_streaming_contract(seasonal):
    check_streaming_contract(
        nc.create("sub_pca", window=25, refresh=64), seasonal[:1200], seasonal[1200:1700]
    )


def test_frozen_stream_equals_batch_with_causal_spread(seasonal):
    """With a frozen model the streamed score of step t is the batch score of step t under
    spread="last" (for every t whose window lies inside the scored series)."""
    m = 25
    test = seasonal[1200:1800].copy()
    test[300:310] += 1.5
    streamed = nc.create("sub_pca", window=m).fit(seasonal[:1200]).score_stream(test, learn=False)
    batch = nc.create("sub_pca", window=m, spread="last").fit(seasonal[:1200]).score(test)
    np.testing.assert_allclose(
        streamed.scores[m - 1 :], batch.scores[m - 1 :], rtol=1e-10, atol=1e-12
    )
    assert 300 <= int(np.argmax(streamed.scores)) < 310 + m


def test_learning_from_scratch_and_adapting():
    rng = np.random.default_rng(0)
    t = np.arange(6000)
    a = np.sin(2 * np.pi * t[:2000] / 40)
    b = 1.5 * np.sin(2 * np.pi * t[2000:] / 23)  # a new regime: faster, larger
    x = np.r_[a, b] + 0.05 * rng.standard_normal(t.size)
    det = nc.create("sub_pca", window=40, warmup=400, refresh=256)
    for v in x[:399]:
        assert det.score_one(v) == 0.0
        det.learn_one(v)
    assert not det.is_fitted
    det.learn_one(x[399])
    assert det.is_fitted and det.window_ == 40
    snapshot = nc.create("sub_pca", window=40).fit(x[:400])
    learned = det.score_stream(x[400:], learn=True).scores[-500:]
    fixed = snapshot.score_stream(x[400:], learn=False).scores[-500:]
    # having learned the new regime, the online model finds it far less anomalous
    assert learned.mean() < 0.1 * fixed.mean()


def test_partial_fit_equals_learn_one_loop(seasonal):
    a = nc.create("sub_pca", window=25, refresh=100).fit(seasonal[:1000])
    b = nc.create("sub_pca", window=25, refresh=100).fit(seasonal[:1000])
    a.partial_fit(seasonal[1000:1500])
    for v in seasonal[1000:1500]:
        b.learn_one(v)
    np.testing.assert_array_equal(a.score(seasonal[1500:]).scores, b.score(seasonal[1500:]).scores)
    np.testing.assert_array_equal(a.components_, b.components_)
    assert a.n_seen_ == b.n_seen_ > 976


def test_save_load_mid_stream_continues_identically(seasonal, tmp_path):
    det = nc.create("sub_pca", window=25, refresh=64).fit(seasonal[:1000])
    det.score_stream(seasonal[1000:1100], learn=True)  # leaves a partly filled block
    det.save(tmp_path / "s.normalcy")
    back = nc.load(tmp_path / "s.normalcy")
    rest = seasonal[1100:1600]
    np.testing.assert_array_equal(
        det.score_stream(rest, learn=True).scores, back.score_stream(rest, learn=True).scores
    )


def test_batch_update_matches_refit_statistics(seasonal):
    """Merging learned windows gives the mean and scatter of fitting on all those windows."""
    m = 20
    det = nc.create("sub_pca", window=m, refresh=50).fit(seasonal[:800])
    det.partial_fit(seasonal[800:1300])
    det._merge_block()
    full = nc.create("sub_pca", window=m, refresh=50)
    full.normalise = "none"
    W = np.lib.stride_tricks.sliding_window_view(det.normaliser_.transform(seasonal[:1300]), m)
    np.testing.assert_allclose(det.mean_, W.mean(axis=0), atol=1e-10)
    centred = W - W.mean(axis=0)
    np.testing.assert_allclose(det.scatter_, centred.T @ centred, rtol=1e-8, atol=1e-8)


def test_plain_number_fast_path_matches_the_general_path(seasonal):
    det = nc.create("sub_pca", window=20).fit(seasonal[:1000])
    a = det.score_one(0.25)
    assert a == det.score_one(np.float64(0.25)) == det.score_one([0.25]) == det.score_one(0.25)
    two = nc.create("sub_pca", window=20).fit(np.c_[seasonal[:1000], seasonal[:1000]])
    with pytest.raises(nc.InputError, match="expects 2"):
        two.score_one(0.25)
    fresh = nc.create("rola")
    fresh.learn_one(0.5)
    assert fresh.n_channels_ == 1
