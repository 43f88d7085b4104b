"""Matrix-profile discords: the NumPy join against STUMPY, pooling, self-join."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.series.mp_discord import nn_distance_numpy, pool, pool_factor


def _walks():
    rng = np.random.default_rng(0)
    a = np.cumsum(rng.standard_normal(700))
    b = np.cumsum(rng.standard_normal(500))
    a[100:130] = 3.0  # constant stretches exercise the constant-window rule
    b[50:80] = 1.0
    return a, b


def test_numpy_join_brute_force_small():
    a, b = _walks()
    m = 8
    za = np.lib.stride_tricks.sliding_window_view(a[:60], m)
    zb = np.lib.stride_tricks.sliding_window_view(b[:40], m)

    def znorm(w):
        sd = w.std()
        return (w - w.mean()) / sd if np.ptp(w) > 0 else None

    expected = []
    for wa in za:
        best = np.inf
        for wb in zb:
            qa, qb = znorm(wa), znorm(wb)
            if qa is None and qb is None:
                d = 0.0
            elif qa is None or qb is None:
                d = np.sqrt(m)
            else:
                d = np.linalg.norm(qa - qb)
            best = min(best, d)
        expected.append(best)
    np.testing.assert_allclose(nn_distance_numpy(a[:60], m, b[:40]), expected, atol=1e-6)


@pytest.mark.slow
def test_numpy_join_matches_stumpy():
    """STUMPY compiles its kernels on first use (seconds); hence the slow mark."""
    stumpy = pytest.importorskip("stumpy")
    a, b = _walks()
    for m in (10, 33):
        ab = stumpy.stump(a, m, T_B=b, ignore_trivial=False)[:, 0].astype(float)
        np.testing.assert_allclose(nn_distance_numpy(a, m, b), ab, atol=1e-8)
        own = stumpy.stump(a, m)[:, 0].astype(float)
        np.testing.assert_allclose(nn_distance_numpy(a, m), own, atol=1e-8)


def test_self_join_excludes_trivial_matches():
    x = np.sin(np.arange(300) / 3.0)
    d = nn_distance_numpy(x, 20)
    assert np.all(d < 0.2)  # every window recurs about a period later, not at a trivial shift
    noise = np.random.default_rng(1).standard_normal(300)
    assert np.all(nn_distance_numpy(noise, 20) > 1.0)


def test_pool_and_pool_factor():
    np.testing.assert_array_equal(pool(np.arange(7.0), 3), [1.0, 4.0, 6.0])
    assert pool_factor(1000, 1000, False, 10**6) == 1
    assert pool_factor(10_000, 10_000, False, 10**6) == 10
    assert pool_factor(10_000, 10_000, True, 10**6) == 13  # sqrt(1.5e8 / 1e6) rounded up


def test_pooling_keeps_the_discord_on_long_series():
    rng = np.random.default_rng(2)
    t = np.arange(12_000)
    x = np.sin(2 * np.pi * t / 80) + 0.05 * rng.standard_normal(t.size)
    x[9_000:9_040] = np.sin(2 * np.pi * t[9_000:9_040] / 20)  # a faster burst
    det = nc.create("mp_discord", max_pairs=2_000_000).fit(x[:6000])
    res = det.score(x[6000:])
    assert det.window_ == 80 and res.scores.shape == (6000,)
    assert pool_factor(6000, 6000, True, 2_000_000) == 6
    assert 2_900 <= int(np.argmax(res.scores)) <= 3_140  # pooled by 6: coarse, still there
    assert np.all(res.scores >= 0) and res.scores.max() <= 2.0 + 1e-9


def test_self_join_forgives_a_recurring_new_pattern():
    """A pattern absent from training but repeated in the scored data is a discord for the
    AB-join alone, not for the self-join."""
    t = np.arange(2500)
    train = np.sin(2 * np.pi * t[:1000] / 50)
    test = np.sin(2 * np.pi * t[1000:] / 50)
    for start in (200, 600, 1000):
        test[start : start + 50] = np.sign(test[start : start + 50])  # the same square bump
    test[1300:1350] += 0.3 * np.sin(2 * np.pi * t[1300:1350] / 10)  # one mild ripple
    ab = nc.create("mp_discord", window=50, self_join=False).fit(train).score(test).scores
    both = nc.create("mp_discord", window=50).fit(train).score(test).scores
    assert not 1260 <= int(np.argmax(ab)) <= 1360  # AB-join: top is one of the bumps
    assert 1260 <= int(np.argmax(both)) <= 1360  # with the self-join: the unique ripple
