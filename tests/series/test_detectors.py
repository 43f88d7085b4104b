"""The series baselines: injected anomalies, input policies, save/load, multivariate input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from series_cases import KINDS, injected

import normalcy as nc

DETECTORS = ("mp_discord", "sub_pca", "sub_iforest", "sub_knn")
# A level shift or a plateau shows in windows through its edges: windows straddling the
# return to normal are as abnormal as those inside. The top point may lie this close outside.
EDGE = {"level_shift": 3, "collective": 3}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", DETECTORS)
def test_top_point_inside_injected_anomaly(name, kind):
    if name == "sub_iforest" and kind == "point":
        pytest.xfail(
            "an isolation forest on raw windows splits one coordinate at a time and misses a "
            "one-step spike (documented in docs/detectors/sub_iforest.md)"
        )
    for seed in (0, 1):
        train, test, (start, end) = injected(kind, seed)
        scores = nc.create(name).fit(train).score(test).scores
        assert scores.shape == (test.shape[0],) and scores.dtype == np.float64
        top = int(np.argmax(scores))
        margin = EDGE.get(kind, 0)
        assert start - margin <= top <= end + margin, (name, kind, seed, top, (start, end))


@pytest.mark.parametrize("name", DETECTORS)
def test_save_load_gives_identical_scores(name, tmp_path):
    train, test, _ = injected("collective", seed=3, channels=2)
    det = nc.create(name, window=40).fit(train)
    det.calibrate(train[-500:], fpr=0.05)
    res = det.score(test)
    det.save(tmp_path / "m.normalcy")
    back = nc.load(tmp_path / "m.normalcy")
    res2 = back.score(test)
    np.testing.assert_array_equal(res.scores, res2.scores)
    np.testing.assert_array_equal(res.labels, res2.labels)
    assert back.get_params() == det.get_params()


@pytest.mark.parametrize("name", DETECTORS)
def test_input_policies(name):
    rng = np.random.default_rng(0)
    x = np.sin(np.arange(600) / 5.0) + 0.05 * rng.standard_normal(600)
    det = nc.create(name, window=30).fit(x[:400])
    assert det.min_length() == 30
    with pytest.raises(nc.InputError, match="at least 30"):
        det.score(x[:20])  # shorter than a window
    with pytest.raises(nc.InputError, match="at least 30"):
        nc.create(name, window=30).fit(x[:20])
    gappy = x[400:].copy()
    gappy[50:55] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        det.score(gappy)
    filled = nc.create(name, window=30, nan_policy="interpolate").fit(x[:400]).score(gappy)
    assert np.all(np.isfinite(filled.scores)) and filled.scores.shape == (200,)
    stamps = pd.date_range("2024-01-01", periods=200, freq="min")
    shuffled = pd.Series(x[400:], index=stamps[::-1])
    with pytest.raises(nc.InputError, match="strictly increasing"):
        det.score(shuffled)
    with pytest.raises(nc.InputError, match="channel"):
        det.score(np.stack([x[400:], x[400:]], axis=1))


@pytest.mark.parametrize("name", DETECTORS)
def test_timestamps_kept_and_multivariate(name):
    train, test, (start, end) = injected("collective", seed=2, channels=3)
    stamps = pd.date_range("2024-01-01", periods=train.shape[0] + test.shape[0], freq="5min")
    frame_train = pd.DataFrame(train, index=stamps[: train.shape[0]], columns=list("abc"))
    frame_test = pd.DataFrame(test, index=stamps[train.shape[0] :], columns=list("abc"))
    det = nc.create(name).fit(frame_train)
    res = det.score(frame_test)
    assert res.index.equals(frame_test.index)
    out = res.to_frame()
    assert out.index.equals(frame_test.index) and len(out) == test.shape[0]
    assert start <= int(np.argmax(res.scores)) <= end
    if det.info.can_localise or getattr(det, "pointwise", False):
        assert res.maps is not None and res.maps.shape == (test.shape[0], 3)


def test_registry_entries():
    infos = {i.name: i for i in nc.detectors("series")}
    assert set(DETECTORS) <= set(infos)
    assert infos["sub_pca"].streaming and not infos["mp_discord"].streaming
    assert infos["mp_discord"].params["window"] == "auto"
    for name in DETECTORS:
        assert "seed" in infos[name].params and "nan_policy" in infos[name].params


def test_deterministic_with_seed():
    train, test, _ = injected("frequency", seed=4)
    a = nc.create("sub_iforest", seed=3).fit(train).score(test).scores
    b = nc.create("sub_iforest", seed=3).fit(train).score(test).scores
    np.testing.assert_array_equal(a, b)
