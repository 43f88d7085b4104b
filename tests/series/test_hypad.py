"""HypAD: TadGAN-style reconstruction with hyperbolic certainty; injected anomalies, the score
combinations, the Poincaré-ball maths, determinism, state round trips, input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from series_cases import KINDS, injected

import normalcy as nc
from normalcy.series.hypad import BALL_EPS, HypAD, poincare_distance
from normalcy.series.windows import sliding_windows

torch = pytest.importorskip("torch")

SMALL = {"window": 40, "hidden": 8, "max_windows": 512, "epochs": 20}
TINY = {"window": 16, "hidden": 4, "latent": 4, "max_windows": 64, "epochs": 2}
# Windows straddling the end of a plateau or shift are abnormal too (as in test_detectors).
EDGE = {"level_shift": 3, "collective": 3}


@pytest.fixture(scope="module")
def fitted():
    train, _, _ = injected("point", seed=0)  # the normal part is the same for every kind
    return HypAD(**SMALL).fit(train)


@pytest.mark.parametrize("kind", KINDS)
def test_maximum_inside_injected_span(fitted, kind):
    _, test, (first, last) = injected(kind, seed=0)
    scores = fitted.score(test).scores
    # HypAD scores whole windows (as in the paper): a one-step spike raises every window
    # holding it, so the top point may sit a little off the spike
    margin = fitted.window_ // 4 if kind == "point" else 0
    top = int(np.argmax(scores))
    assert first - margin <= top <= last + max(margin, EDGE.get(kind, 0))


def test_score_is_certain_times_wrong(fitted):
    """uncertainty = rec x critic x certainty; the ablations drop factors of it."""
    _, test, _ = injected("frequency", seed=0)
    W = sliding_windows(fitted.normaliser_.transform(test), fitted.window_, 7)
    rec, critic, certainty = fitted._window_parts(W)
    assert np.all(certainty > 0) and np.all(certainty <= 1 - BALL_EPS + 1e-6)
    assert np.all(rec >= 0)
    parts = {}
    try:
        for combination in ("uncertainty", "mult", "rec_uncertainty", "rec"):
            fitted.combination = combination
            parts[combination] = fitted._score_windows(W)
    finally:
        fitted.combination = "uncertainty"
    np.testing.assert_allclose(parts["uncertainty"], parts["mult"] * certainty, rtol=1e-12)
    np.testing.assert_allclose(parts["rec_uncertainty"], parts["rec"] * certainty, rtol=1e-12)
    assert np.all(parts["rec"] >= 1.0)  # z-score clipped at 0, plus 1
    assert np.all(parts["mult"] >= parts["rec"])  # the critic factor is at least 1


def test_poincare_ball_maths():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(50, 6))
    u *= (rng.uniform(0.05, 0.95, size=50) / np.linalg.norm(u, axis=1))[:, None]
    v = rng.normal(size=(50, 6))
    v *= (rng.uniform(0.05, 0.95, size=50) / np.linalg.norm(v, axis=1))[:, None]
    got = poincare_distance(torch.from_numpy(u), torch.from_numpy(v)).numpy()
    du = 1 - (u * u).sum(axis=1)
    dv = 1 - (v * v).sum(axis=1)
    expected = np.arccosh(1 + 2 * ((u - v) ** 2).sum(axis=1) / (du * dv))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-3)
    back = poincare_distance(torch.from_numpy(v), torch.from_numpy(u)).numpy()
    np.testing.assert_allclose(got, back)
    # distance from the origin is 2 artanh(|v|): it blows up at the boundary
    origin = torch.zeros(1, 6, dtype=torch.float64)
    to_origin = poincare_distance(origin, torch.from_numpy(v)).numpy()
    np.testing.assert_allclose(to_origin, 2 * np.arctanh(np.linalg.norm(v, axis=1)), atol=1e-3)


def test_embeddings_stay_inside_the_ball(fitted):
    hyper = fitted.nets_["hyper"]
    with torch.no_grad():
        huge = hyper(torch.full((4, fitted.window_), 50.0))
    assert float(huge.norm(dim=-1).max()) <= 1 - BALL_EPS + 1e-6


def test_save_load_bit_identical(fitted, tmp_path):
    train, test, _ = injected("collective", seed=0)
    fitted.calibrate(train, fpr=0.02)
    before = fitted.score(test)
    loaded = nc.load(fitted.save(tmp_path / "hypad.normalcy"))
    after = loaded.score(test)
    np.testing.assert_array_equal(after.scores, before.scores)
    np.testing.assert_array_equal(after.labels, before.labels)
    assert loaded.get_params() == fitted.get_params()


def test_seed_makes_training_deterministic():
    train, test, _ = injected("level_shift", seed=1, channels=2)
    a = HypAD(**TINY).fit(train).score(test).scores
    b = HypAD(**TINY).fit(train).score(test).scores
    np.testing.assert_array_equal(a, b)
    c = HypAD(**TINY, seed=1).fit(train).score(test).scores
    assert not np.array_equal(a, c)
    assert a.shape == (test.shape[0],) and np.isfinite(a).all()


def test_input_errors_and_nan_policy():
    x = np.sin(np.arange(400) / 4.0)
    det = HypAD(**TINY).fit(x[:300])
    with pytest.raises(nc.InputError, match="at least 16"):
        det.score(x[:10])
    gappy = x[300:].copy()
    gappy[20:23] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        det.score(gappy)
    filled = HypAD(**TINY, nan_policy="interpolate").fit(x[:300]).score(gappy)
    assert np.isfinite(filled.scores).all()
    stamps = pd.date_range("2024-01-01", periods=100, freq="s")
    with pytest.raises(nc.InputError, match="strictly increasing"):
        det.score(pd.Series(x[300:], index=stamps[::-1]))
    with pytest.raises(nc.InputError, match="combination"):
        HypAD(combination="sum").fit(x)
    with pytest.raises(nc.InputError, match="n_critic"):
        HypAD(n_critic=0).fit(x)
