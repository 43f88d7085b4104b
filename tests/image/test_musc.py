"""MuSc: zero-shot scoring of a batch by its own images; the building blocks by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image.musc import interval_bounds, mutual_scores, rscin

FAST = {"image_size": 128, "aggregation_degrees": (1, 3), "verbose": False}


@pytest.fixture(scope="module")
def split():
    return make_images(n_train=6, n_test=16, size=64, anomaly_ratio=0.25, seed=3)


@pytest.fixture(scope="module")
def scored(split):
    return nc.create("musc", **FAST).score(split.test)


def test_registered_as_zero_shot():
    info = next(i for i in nc.detectors("image") if i.name == "musc")
    assert info.needs_fit is False and info.can_localise and info.year == 2024


def test_scores_without_fit_and_ranks_defects_first(split, scored):
    assert scored.scores.dtype == np.float64 and scored.scores.shape == (16,)
    assert scored.maps.shape == (16, 64, 64) and scored.maps.dtype == np.float32
    assert np.all(np.isfinite(scored.scores))
    # RsCIN min-max normalises within the batch
    assert scored.scores.min() >= 0.0 and scored.scores.max() <= 1.0
    assert nc.metrics.auroc(split.labels, scored.scores) >= 0.9
    # the map's maximum is inside the defect for most defective images
    hits = [
        split.masks[i].reshape(-1)[np.argmax(scored.maps[i])] for i in np.flatnonzero(split.labels)
    ]
    assert np.mean(hits) >= 0.5


def test_fit_learns_nothing(split, scored):
    det = nc.create("musc", **FAST)
    assert det.fit(split.train) is det and det.is_fitted
    again = det.score(split.test)
    np.testing.assert_array_equal(again.scores, scored.scores)
    np.testing.assert_array_equal(again.maps, scored.maps)


def test_scores_depend_on_the_batch(split, scored):
    det = nc.create("musc", **FAST)
    part = det.score(split.test[:8])
    # the same images score differently in another batch (mutual scoring, by design) ...
    assert not np.allclose(part.extras["max_map_score"], scored.extras["max_map_score"][:8])
    # ... but not on their order: a permuted batch gives the permuted scores
    perm = np.random.default_rng(0).permutation(16)
    shuffled = det.score(split.test[perm])
    np.testing.assert_allclose(shuffled.scores, scored.scores[perm], rtol=1e-5, atol=1e-6)


def test_subsets_are_scored_separately(split):
    det = nc.create("musc", max_subset=8, rscin_k=(), **FAST)
    whole = det.score(split.test)
    subsets = det._subsets(16)
    assert [len(s) for s in subsets] == [8, 8]
    alone = det.score(split.test[subsets[0]])
    np.testing.assert_allclose(whole.maps[subsets[0]], alone.maps, rtol=1e-5, atol=1e-6)
    # without RsCIN the image score is the maximum of the map
    np.testing.assert_allclose(whole.scores, whole.maps.reshape(16, -1).max(1), rtol=1e-6)


def test_bad_input_and_parameters(split):
    with pytest.raises(nc.InputError, match="at least 2 images"):
        nc.create("musc", **FAST).score(split.test[:1])
    with pytest.raises(nc.InputError, match="interval"):
        nc.create("musc", interval=(0.5, 0.2), **FAST).score(split.test[:4])
    with pytest.raises(nc.InputError, match="aggregation_degrees"):
        nc.create("musc", **{**FAST, "aggregation_degrees": (0,)}).score(split.test[:4])
    with pytest.raises(nc.InputError, match="max_subset"):
        nc.create("musc", max_subset=1, **FAST).score(split.test[:4])


def test_model_file_holds_only_parameters(split, scored, tmp_path):
    import zipfile

    path = nc.create("musc", **FAST).save(tmp_path / "musc.normalcy")
    loaded = nc.load(path)
    assert loaded.get_params()["aggregation_degrees"] == [1, 3]
    np.testing.assert_array_equal(loaded.score(split.test).scores, scored.scores)
    with zipfile.ZipFile(path) as zf:
        assert sum(zf.getinfo(n).file_size for n in zf.namelist()) < 10_000


# -- building blocks --------------------------------------------------------------------------


def test_interval_bounds():
    assert interval_bounds(10, (0.0, 0.3)) == (0, 3)
    assert interval_bounds(2, (0.0, 0.3)) == (0, 1)  # at least one reference
    assert interval_bounds(10, (0.2, 0.5)) == (2, 5)
    assert interval_bounds(4, (0.9, 1.0)) == (3, 4)


def test_mutual_scores_by_hand():
    # 4 images of 2 patches in 2-D (unit vectors at angles); image 3's second patch is odd
    angles = np.radians([[0, 10], [0, 12], [2, 10], [0, 90]])
    Z = torch.tensor(np.stack([np.cos(angles), np.sin(angles)], -1), dtype=torch.float32)
    out = mutual_scores(Z, interval=(0.0, 0.5)).numpy()  # mean of the 1 nearest of 3
    # brute force in float64: distance of a patch to its nearest patch in each other image
    z = Z.double().numpy()
    expect = np.empty((4, 2))
    for a in range(4):
        for p in range(2):
            d = sorted(np.linalg.norm(z[b] - z[a, p], axis=1).min() for b in range(4) if b != a)
            expect[a, p] = d[0]
    np.testing.assert_allclose(out, expect, atol=1e-3)
    assert out[3, 1] == out.max()


def test_mutual_scores_skips_views_of_the_same_image():
    Z = torch.nn.functional.normalize(
        torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0)), dim=-1
    )
    Z[1] = Z[0]  # a copy of view 0
    free = mutual_scores(Z, interval=(0.0, 0.4))
    grouped = mutual_scores(Z, interval=(0.0, 0.4), groups=np.array([0, 0, 1, 2]))
    assert torch.all(free[0] < 1e-3)  # the copy is its nearest reference
    assert torch.all(grouped[0] > 0.1)  # not when both views belong to one image


def test_rscin_by_hand():
    scores = np.array([0.0, 1.0, 0.5, 0.25])
    emb = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    # k = 1: the image itself; k = 2: itself and its most similar image
    np.testing.assert_allclose(rscin(scores, emb, [1]), scores)
    np.testing.assert_allclose(rscin(scores, emb, [2]), [0.5, 0.5, 0.375, 0.375])
    np.testing.assert_allclose(rscin(scores, emb, [1, 2]), [0.25, 0.75, 0.4375, 0.3125])
    np.testing.assert_allclose(rscin(scores * 4 + 1, emb, [1]), scores)  # min-max first
    np.testing.assert_array_equal(rscin(scores, emb, []), scores)
