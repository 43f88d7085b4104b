"""SimpleNet: trains on synthetic textures, localises planted defects, resumes, round-trips."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image import simplenet
from normalcy.image.module_state import module_arrays
from normalcy.metrics.pixel import pixel_auroc
from normalcy.metrics.ranking import auroc

PARAMS = dict(
    image_size=128, max_steps=300, eval_every=100, hidden=64, num_threads=1, verbose=False
)


@pytest.fixture(scope="module")
def data():
    return make_images(n_train=12, n_test=10, size=128, anomaly_ratio=0.5, seed=0)


@pytest.fixture(scope="module")
def fitted(data):
    return nc.create("simplenet", **PARAMS).fit(data.train)


def test_loss_decreases_and_defects_outscore_normal_images(fitted, data):
    history = fitted.training_["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    res = fitted.score(data.test)
    assert res.maps.shape == (10, 128, 128) and res.maps.dtype == np.float32
    assert auroc(data.labels, res.scores) >= 0.9
    assert pixel_auroc(data.masks, res.maps) >= 0.8


def test_save_load_round_trip(fitted, data, tmp_path):
    before = fitted.score(data.test)
    loaded = nc.load(fitted.save(tmp_path / "sn.normalcy"))
    after = loaded.score(data.test)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_array_equal(before.maps, after.maps)


def test_interrupted_fit_resumes_to_identical_weights(data, tmp_path, monkeypatch):
    params = dict(PARAMS, max_steps=12, eval_every=4)
    full = nc.create("simplenet", checkpoint_dir=str(tmp_path / "a"), **params).fit(data.train)

    calls = {"n": 0}
    original = simplenet.truncated_l1

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 9:  # mid-training, after the step-4 checkpoint
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(simplenet, "truncated_l1", crash_once)
    with pytest.raises(KeyboardInterrupt):
        nc.create("simplenet", checkpoint_dir=str(tmp_path / "b"), **params).fit(data.train)
    monkeypatch.setattr(simplenet, "truncated_l1", original)
    resumed = nc.create("simplenet", checkpoint_dir=str(tmp_path / "b"), **params).fit(data.train)
    for part in ("adaptor_", "discriminator_"):
        a = module_arrays(getattr(full, part), "x")
        b = module_arrays(getattr(resumed, part), "x")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_bad_parameters_are_rejected(data):
    with pytest.raises(nc.InputError, match="noise_std"):
        nc.create("simplenet", noise_std=0.0, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="validation_fraction"):
        nc.create("simplenet", validation_fraction=1.5, verbose=False).fit(data.train)


def test_scores_do_not_depend_on_what_ran_before():
    """The feature cache must not hand SimpleNet features another detector computed in
    another batch or with other threads (their last bits differ, and training amplifies it)."""
    from normalcy.image.backbones import FEATURE_CACHE

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(6, 48, 48, 3), dtype=np.uint8)
    test = rng.integers(0, 256, size=(3, 48, 48, 3), dtype=np.uint8)
    quick = dict(image_size=64, max_steps=3, eval_every=1, hidden=8, num_threads=1)
    quick |= dict(verbose=False, max_minutes=None)

    FEATURE_CACHE.clear()
    alone = nc.create("simplenet", **quick).fit(train).score(test).scores
    FEATURE_CACHE.clear()
    nc.create(
        "patchcore", image_size=64, batch_size=5, num_threads=2, max_bank=50, verbose=False
    ).fit(train)  # same backbone and layers, other batches and threads
    after = nc.create("simplenet", **quick).fit(train).score(test).scores
    again = nc.create("simplenet", **quick).fit(train).score(test).scores  # from the cache
    np.testing.assert_array_equal(alone, after)
    np.testing.assert_array_equal(alone, again)
