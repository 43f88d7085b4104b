"""PatchCore, PaDiM and the Gaussian detector on synthetic textures with planted defects."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
from scipy.ndimage import binary_dilation

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image.backbones import FEATURE_CACHE

NAMES = ["patchcore", "padim", "gaussian"]
FAST = {"num_threads": 1, "verbose": False}
# Small network inputs keep the tests fast; PatchCore's stride-16/32 features need 256.
SIZE = {"patchcore": 256, "padim": 128, "gaussian": 128}


@pytest.fixture(scope="module")
def split():
    return make_images(n_train=16, n_test=8, size=64, anomaly_ratio=0.5, seed=4)


@pytest.fixture(scope="module")
def results(split):
    out = {}
    for name in NAMES:
        det = nc.create(name, seed=0, image_size=SIZE[name], **FAST).fit(split.train)
        out[name] = (det, det.score(split.test))
    return out


def test_registered_with_localisation():
    infos = {i.name: i for i in nc.detectors("image")}
    for name in NAMES:
        assert infos[name].can_localise and infos[name].modality == "image"
        assert "seed" in infos[name].params


@pytest.mark.parametrize("name", NAMES)
def test_defective_images_outscore_normal_ones(name, split, results):
    res = results[name][1]
    assert res.scores.dtype == np.float64 and np.all(np.isfinite(res.scores))
    defect, normal = res.scores[split.labels == 1], res.scores[split.labels == 0]
    assert defect.min() > normal.max()


@pytest.mark.parametrize("name", NAMES)
def test_heat_map_maximum_lies_in_the_defect(name, split, results):
    maps = results[name][1].maps
    assert maps.shape == (len(split.test), 64, 64) and maps.dtype == np.float32
    for i in np.flatnonzero(split.labels == 1):
        y, x = np.unravel_index(np.argmax(maps[i]), maps[i].shape)
        # two pixels of slack for the smoothing at the defect's rim
        assert binary_dilation(split.masks[i], iterations=2)[y, x], split.kinds[i]


@pytest.mark.parametrize("name", NAMES)
def test_save_load_round_trip_is_bit_identical(name, split, results, tmp_path):
    det, res = results[name]
    det.calibrate(split.train, fpr=0.1)
    loaded = nc.load(det.save(tmp_path / f"{name}.normalcy"))
    again = loaded.score(split.test)
    np.testing.assert_array_equal(again.scores, res.scores)
    np.testing.assert_array_equal(again.maps, res.maps)
    assert loaded.threshold == det.threshold
    assert loaded.get_params() == json.loads(json.dumps(det.get_params()))  # tuples → lists


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores_without_the_cache(name, split, results):
    again = nc.create(name, seed=0, image_size=SIZE[name], cache_features=False, **FAST)
    again.fit(split.train)
    np.testing.assert_array_equal(again.score(split.test).scores, results[name][1].scores)


def test_refit_reuses_cached_features(split, results):
    hits = FEATURE_CACHE.hits
    det = nc.create("padim", seed=0, image_size=128, **FAST).fit(split.train)
    assert FEATURE_CACHE.hits > hits  # every backbone batch came from the cache
    np.testing.assert_array_equal(det.mean_, results["padim"][0].mean_)


def test_scoring_bypasses_the_feature_cache(split, results):
    det = results["padim"][0]
    size, hits, misses = len(FEATURE_CACHE), FEATURE_CACHE.hits, FEATURE_CACHE.misses
    det.score(split.test[::-1].copy())  # images the cache has not seen in this order
    assert (len(FEATURE_CACHE), FEATURE_CACHE.hits, FEATURE_CACHE.misses) == (size, hits, misses)


def test_bad_images_raise_input_error(tmp_path, results):
    det = results["patchcore"][0]
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(nc.InputError, match="cannot read image file"):
        det.score([tmp_path / "broken.png"])
    with pytest.raises(nc.InputError, match="at least 8x8"):
        det.score(np.zeros((1, 1, 1), np.uint8))
    with pytest.raises(nc.InputError, match="dtype"):
        det.score(np.zeros((1, 32, 32), np.int32))
    with pytest.raises(nc.InputError, match="NaN"):
        det.score(np.full((1, 32, 32), np.nan, np.float32))
    with pytest.raises(nc.NotFittedError):
        nc.create("padim", **FAST).score(np.zeros((1, 32, 32), np.uint8))


def test_grayscale_and_mixed_sizes_give_maps_at_each_image_size(results, split):
    det = results["padim"][0]
    gray = split.test[:, :, :, 0]
    res = det.score([gray[0], gray[1][:48, :40], split.test[2]])
    assert res.map_shapes == [(64, 64), (48, 40), (64, 64)] and np.all(np.isfinite(res.scores))


def test_patchcore_memory_bank_is_bounded(split):
    det = nc.create("patchcore", max_bank=40, max_candidates=300, seed=1, **FAST).fit(split.train)
    assert det.memory_bank_.shape == (40, 112 + 192)
    assert det.n_train_patches_ == len(split.train) * (16 * 16)
    # the coreset spans the bank: no two rows are identical
    assert len(np.unique(det.memory_bank_, axis=0)) == 40


def test_patchcore_graph_search_matches_exact_search(split, results, tmp_path):
    det, res = results["patchcore"]
    assert det.search == "hnsw"
    exact = nc.create("patchcore", search="exact", seed=0, **FAST).fit(split.train)
    np.testing.assert_array_equal(exact.memory_bank_, det.memory_bank_)
    ref = exact.score(split.test)
    # a graph search can only miss the nearest entry, never beat it: maps are >= exact ones
    # (up to float32 rounding: the flat index expands |x - y|^2, the graph does not)
    assert np.all(res.maps >= ref.maps * (1 - 1e-5))
    assert np.median(np.abs(res.maps - ref.maps) / ref.maps) < 0.01
    assert np.array_equal(np.argsort(res.scores), np.argsort(ref.scores))
    # a file written before the graph search existed (no "search" in its state) loads exact
    path = det.save(tmp_path / "old.normalcy")
    loaded = nc.load(path)
    loaded._set_state({"memory_bank": det.memory_bank_}, {"n_train_patches": 1})
    assert loaded.search == "exact"


def test_patchcore_reweighting_stays_within_its_bounds(split, results):
    det, res = results["patchcore"]
    plain = nc.create("patchcore", num_neighbors=1, seed=0, **FAST).fit(split.train)
    assert plain.memory_bank_.shape == det.memory_bank_.shape
    s_star = plain.score(split.test).scores
    b = det.num_neighbors
    assert np.all(res.scores <= s_star + 1e-9) and np.all(res.scores >= (1 - 1 / b) * s_star - 1e-9)


def test_padim_state_shapes(results):
    det = results["padim"][0]
    p = det.grid_[0] * det.grid_[1]
    assert det.grid_ == (16, 16) and det.mean_.shape == (p, 100)
    assert det.inv_cov_.shape == (p, 100, 100)
    assert np.all(np.diff(det.channels_) > 0) and det.channels_.max() < 40 + 112


def test_padim_picks_channels_per_layer_as_if_after_concatenation(results):
    import torch

    from normalcy.image.feature_detector import concat_layers

    det = results["padim"][0]
    rng = torch.Generator().manual_seed(0)
    features = [torch.randn(2, 40, 16, 16, generator=rng), torch.randn(2, 112, 8, 8, generator=rng)]
    whole = concat_layers(features)[:, torch.from_numpy(det.channels_)]
    expected = whole.permute(0, 2, 3, 1).reshape(2, 256, -1)
    torch.testing.assert_close(det._embed(features), expected)
    det_only_deep = copy.copy(det)
    det_only_deep.channels_ = np.array([40, 41, 100])  # no channel of the finest layer
    got = det_only_deep._embed(features)
    assert got.shape == (2, 256, 3)
    torch.testing.assert_close(got, concat_layers(features)[:, [40, 41, 100]].flatten(2).mT)


def test_padim_tiles_cover_the_image(split):
    det = nc.create("padim", tile=48, image_size=64, **FAST).fit(split.train)
    res = det.score(split.test)
    assert res.maps.shape == (8, 64, 64)
    assert res.scores[split.labels == 1].mean() > res.scores[split.labels == 0].mean()


def test_gaussian_working_point_and_npca(split, results, tmp_path):
    from scipy.stats import chi2

    det, res = results["gaussian"]
    assert res.extras["level_distances"].shape == (8, 9)
    np.testing.assert_allclose(res.scores, res.extras["level_distances"].mean(1))
    thr = det.working_point(fpr=0.05)
    dims = det.level_dims()
    assert dims == [32, 16, 24, 40, 80, 112, 192, 320, 1280]
    assert thr.method == "chi2" and thr.rate == 0.05
    assert thr.value == pytest.approx(np.mean([math.sqrt(chi2.ppf(0.95, k)) for k in dims]))
    assert np.array_equal(det.score(split.test).labels, res.scores > thr.value)
    path = tmp_path / "gaussian.normalcy"
    det.save(path)  # the analytic working point survives a model file
    assert nc.load(path).threshold == thr
    npca = nc.create("gaussian", npca_variance=0.9, map_layers=None, image_size=128, **FAST)
    npca.fit(split.train)
    kept = npca.level_dims()
    assert all(k <= min(d, 16) for k, d in zip(kept, dims, strict=True))  # 16 training images
    assert sum(kept) < sum(min(d, 16) for d in dims)
    out = npca.score(split.test)
    assert out.maps is None
    assert out.scores[split.labels == 1].mean() > out.scores[split.labels == 0].mean()


def test_invalid_parameters_are_input_errors(split):
    with pytest.raises(nc.InputError, match="coreset_ratio"):
        nc.create("patchcore", coreset_ratio=0, **FAST).fit(split.train)
    with pytest.raises(nc.InputError, match="search"):
        nc.create("patchcore", search="ivf", **FAST).fit(split.train)
    with pytest.raises(nc.InputError, match="n_features"):
        nc.create("padim", n_features=0, **FAST).fit(split.train)
    with pytest.raises(nc.InputError, match="npca_variance"):
        nc.create("gaussian", npca_variance=1.5, **FAST).fit(split.train)
    with pytest.raises(nc.InputError, match="device"):
        nc.create("padim", device="tpu", **FAST).fit(split.train)
