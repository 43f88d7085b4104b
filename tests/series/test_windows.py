"""Sliding windows, the window-length rule and window-to-point spreading."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.series.windows import (
    dominant_period,
    resolve_window,
    sliding_windows,
    spread_scores,
    window_starts,
)


def test_window_starts_cover_the_tail():
    assert window_starts(10, 4, 1).tolist() == list(range(7))
    assert window_starts(10, 4, 4).tolist() == [0, 4, 6]
    assert window_starts(8, 4, 4).tolist() == [0, 4]
    with pytest.raises(nc.InputError, match="shorter than the window"):
        window_starts(3, 4)


def test_sliding_windows_are_time_major():
    x = np.arange(12, dtype=float).reshape(6, 2)  # t0=(0,1), t1=(2,3), ...
    W = sliding_windows(x, 3, stride=2)
    assert W.shape == (3, 6)
    np.testing.assert_array_equal(W[0], [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(W[1], [4, 5, 6, 7, 8, 9])
    np.testing.assert_array_equal(W[2], [6, 7, 8, 9, 10, 11])  # extra window at the end
    np.testing.assert_array_equal(sliding_windows(np.arange(5.0), 2)[:, 1], [1, 2, 3, 4])


def test_spread_mean_max_last_rules():
    starts = window_starts(6, 3, 1)  # windows [0-2], [1-3], [2-4], [3-5]
    ws = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(spread_scores(ws, starts, 6, 3, "mean"), [1, 1.5, 2, 3, 3.5, 4])
    np.testing.assert_allclose(spread_scores(ws, starts, 6, 3, "max"), [1, 2, 3, 4, 4, 4])
    # causal: the window ending at t; t < 2 gets the lowest window score
    np.testing.assert_allclose(spread_scores(ws, starts, 6, 3, "last"), [1, 1, 1, 2, 3, 4])
    with pytest.raises(nc.InputError, match="spread rule"):
        spread_scores(ws, starts, 6, 3, "median")
    with pytest.raises(nc.InputError, match="must match"):
        spread_scores(ws[:2], starts, 6, 3)


def test_spread_with_stride_matches_brute_force():
    rng = np.random.default_rng(0)
    T, m = 40, 7
    starts = window_starts(T, m, 3)
    ws = rng.random(starts.size)
    covering = [[ws[i] for i, s in enumerate(starts) if s <= t < s + m] for t in range(T)]
    np.testing.assert_allclose(
        spread_scores(ws, starts, T, m, "mean"), [np.mean(c) for c in covering]
    )
    np.testing.assert_allclose(
        spread_scores(ws, starts, T, m, "max"), [np.max(c) for c in covering]
    )


def test_mean_spread_peaks_at_the_centre_of_an_anomalous_window_run():
    T, m = 200, 20
    starts = window_starts(T, m)
    ws = np.zeros(starts.size)
    ws[90:101] = 1.0  # every window covering t=100..109 scores high
    point = spread_scores(ws, starts, T, m, "mean")
    assert 100 <= int(np.argmax(point)) <= 109


def test_dominant_period_finds_the_period_and_rejects_noise():
    rng = np.random.default_rng(1)
    t = np.arange(5000)
    x = np.sin(2 * np.pi * t / 37) + 0.2 * rng.standard_normal(t.size)
    assert dominant_period(x) in (36, 37, 38)
    two = np.stack([x, np.cos(2 * np.pi * t / 37)], axis=1)
    assert dominant_period(two) in (36, 37, 38)
    assert dominant_period(rng.standard_normal(5000)) is None
    assert dominant_period(np.ones(100)) is None


def test_resolve_window_rule():
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 60)
    assert resolve_window("auto", x) == 60
    assert resolve_window(25, x) == 25
    noise = np.random.default_rng(2).standard_normal(4000)
    assert resolve_window("auto", noise) == 100  # default when there is no period
    assert resolve_window("auto", noise[:100]) == 25  # at most a quarter of the data
    # a period below the lower bound gives its first multiple inside the bounds
    assert resolve_window("auto", np.sin(2 * np.pi * t / 3)) == 9
    for bad in (1, "big", 2.5, True):
        with pytest.raises(nc.InputError, match="window"):
            resolve_window(bad, x)
