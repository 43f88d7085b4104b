"""Reverse distillation (RD and the fabric variant): learns, localises, resumes, round-trips."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image import reverse_distillation as rd
from normalcy.image.module_state import module_arrays
from normalcy.metrics.pixel import pixel_auroc
from normalcy.metrics.ranking import auroc

PARAMS = dict(image_size=128, max_steps=80, eval_every=40, embed=64, blocks=1, batch_size=4,
              num_threads=1, verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return make_images(n_train=12, n_test=10, size=96, anomaly_ratio=0.5, seed=1)


@pytest.fixture(scope="module", params=["rd", "fabric"])
def fitted(request, data):
    return nc.create("reverse_distillation", variant=request.param, **PARAMS).fit(data.train)


def test_loss_decreases_and_defects_outscore_normal_images(fitted, data):
    history = fitted.training_["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    res = fitted.score(data.test)
    assert res.maps.shape == (10, 96, 96)
    assert auroc(data.labels, res.scores) >= 0.9
    assert pixel_auroc(data.masks, res.maps) >= 0.85


def test_save_load_round_trip(fitted, data, tmp_path):
    before = fitted.score(data.test)
    loaded = nc.load(fitted.save(tmp_path / "rd.normalcy"))
    assert loaded.variant == fitted.variant
    after = loaded.score(data.test)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_array_equal(before.maps, after.maps)


def test_interrupted_fit_resumes_to_identical_weights(data, tmp_path, monkeypatch):
    params = dict(PARAMS, max_steps=8, eval_every=3)
    full = nc.create("reverse_distillation", checkpoint_dir=str(tmp_path / "a"), **params)
    full.fit(data.train)

    calls = {"n": 0}
    original = rd.distillation_loss

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # step 5, after the step-3 checkpoint and its validation
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(rd, "distillation_loss", crash_once)
    with pytest.raises(KeyboardInterrupt):
        nc.create("reverse_distillation", checkpoint_dir=str(tmp_path / "b"), **params).fit(
            data.train
        )
    monkeypatch.setattr(rd, "distillation_loss", original)
    resumed = nc.create("reverse_distillation", checkpoint_dir=str(tmp_path / "b"), **params)
    resumed.fit(data.train)
    a, b = module_arrays(full.student_, "s"), module_arrays(resumed.student_, "s")
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_bad_parameters_are_rejected(data):
    with pytest.raises(nc.InputError, match="variant"):
        nc.create("reverse_distillation", variant="other", verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="odd grid .3 wide.; expected a multiple of 64"):
        nc.create("reverse_distillation", image_size=96, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="twice the previous one's stride"):
        nc.create("reverse_distillation", layers=["stage5", "stage6", "stage7"]).fit(data.train)
    with pytest.raises(nc.InputError, match="needs 4 teacher layers"):
        nc.create("reverse_distillation", variant="fabric", layers=["stage3", "stage4"]).fit(
            data.train
        )
