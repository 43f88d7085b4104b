"""Spectral cubes: RX reproduces the published ABU numbers, planted peak shifts are found
and localised (pixels and bands), and the input policies hold."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import normalcy as nc
from conftest import shared_dataset
from normalcy.metrics.ranking import auroc as roc_auc
from normalcy.spectral.synthetic import make_cube, planted, strongest_feature

QUICK_CVAE = {"epochs": 8, "channels": 4, "latent_dim": 4, "batch_size": 64}


@pytest.fixture(scope="module")
def shifted():
    return planted(height=20, width=20, bands=32, shift=3.0, n_anomalies=5, seed=3)


@pytest.mark.parametrize(
    "name, params",
    [("rx", {}), ("spectral_pca", {"n_components": 2}), ("cvae3d", QUICK_CVAE)],
)
def test_planted_peak_shift_is_detected_and_localised(name, params, shifted):
    res = nc.create(name, **params).fit(shifted.cube).score(shifted.cube)
    assert roc_auc(shifted.mask.ravel(), res.scores) > 0.95
    # the spatial map puts the planted pixels at its top
    top = np.argsort(res.extras["score_maps"][0].ravel())[::-1][: shifted.mask.sum()]
    assert shifted.mask.ravel()[top].mean() >= 0.6
    # the bands that explain a planted pixel lie in the shifted feature's window
    lo, hi = strongest_feature(make_cube(20, 20, 32, seed=3))
    r, c = np.argwhere(shifted.mask)[0]
    best = np.argsort(res.maps[r * 20 + c])[::-1][:3]
    assert all(lo - 2 <= b < hi + 2 for b in best), (best, (lo, hi))


def test_rx_fits_on_normal_cube_and_scores_another():
    train = make_cube(16, 16, 20, seed=1)
    test = make_cube(10, 10, 20, seed=2)
    test[3, 4] += np.linspace(0, 0.4, 20)
    res = nc.create("rx").fit(train).score(test)
    assert np.argmax(res.scores) == 3 * 10 + 4


def test_list_of_cubes_scores_every_pixel_in_order():
    a, b = make_cube(6, 7, 10, seed=1), make_cube(4, 5, 10, seed=2)
    det = nc.create("rx").fit([a, b])
    res = det.score([a, b])
    assert res.scores.shape == (6 * 7 + 4 * 5,)
    assert "score_maps" not in res.extras  # sizes differ: rebuild with score_maps()
    from normalcy.spectral.base import score_maps

    maps = score_maps(res.scores, [(6, 7), (4, 5)])
    np.testing.assert_allclose(maps[1].ravel(), det.score(b).scores, rtol=1e-6)
    stack = det.score(np.stack([a, a])).extras["score_maps"]
    assert stack.shape == (2, 6, 7)


def test_band_mismatch_nan_and_constant_band_policies():
    cube = make_cube(8, 8, 12, seed=4)
    det = nc.create("rx").fit(cube)
    with pytest.raises(nc.InputError, match="12"):
        det.score(cube[:, :, :11])
    bad = cube.copy()
    bad[2, 5, 7] = np.nan
    with pytest.raises(nc.InputError, match=r"pixel \(2, 5\) band 7"):
        det.score(bad)
    with pytest.raises(nc.InputError, match="band counts"):
        nc.create("rx").fit([cube, cube[:, :, 1:]])
    # a band constant at fit is dropped; a later deviation in it ranks that pixel first
    flat = cube.copy()
    flat[:, :, 4] = 1.0
    for name in ("rx", "spectral_pca"):
        det = nc.create(name).fit(flat)
        test = flat.copy()
        test[6, 1, 4] = 1.5
        res = det.score(test)
        assert np.argmax(res.scores) == 6 * 8 + 1
        assert np.argmax(res.maps[6 * 8 + 1]) == 4


def test_cvae3d_save_load_identity(tmp_path, shifted):
    det = nc.create("cvae3d", epochs=1, channels=2, latent_dim=2).fit(shifted.cube)
    before = det.score(shifted.cube)
    after = nc.load(det.save(tmp_path / "c.normalcy")).score(shifted.cube)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_array_equal(before.maps, after.maps)


@pytest.mark.parametrize("name", ["rx", "spectral_pca"])
def test_hostile_cubes_are_refused_or_scored_finite(name, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))
    from hostile_cases import Context, attempt, data_cases

    ctx = Context(name=name, tmp=tmp_path)
    outcomes = [attempt(case, ctx) for case in data_cases(ctx)]
    bad = [f"{o.case}: {o.cause}: {o.message}" for o in outcomes if o.status == "violation"]
    assert not bad, "\n".join(bad)


@pytest.mark.slow
def test_global_rx_matches_the_published_abu_numbers():
    from normalcy.datasets.abu import load

    for scene in load(shared_dataset("spectral/abu")):
        res = nc.create("rx").fit(scene.cube).score(scene.cube)
        assert abs(roc_auc(scene.mask.ravel(), res.scores) - scene.rx_auroc) < 5e-4, scene.name
