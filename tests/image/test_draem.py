"""DRAEM: the anomaly simulator, a short fit on synthetic textures, resume and round trip."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image import draem
from normalcy.image.module_state import module_arrays
from normalcy.image.perlin import perlin_mask, perlin_noise
from normalcy.image.textures import TEXTURES, augment_image, procedural_texture, simulate_anomaly
from normalcy.metrics.pixel import pixel_auroc
from normalcy.metrics.ranking import auroc

PARAMS = dict(image_size=64, recon_width=8, disc_width=8, max_steps=80, batch_size=4,
              eval_every=40, lr=2e-3, num_threads=1, verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return make_images(n_train=12, n_test=10, size=64, anomaly_ratio=0.5, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    return nc.create("draem", **PARAMS).fit(data.train)


def test_perlin_noise_and_masks():
    rng = np.random.default_rng(0)
    noise = perlin_noise((64, 48), (4, 3), rng)
    assert noise.shape == (64, 48) and noise.dtype == np.float32
    assert -1.5 < noise.min() < 0 < noise.max() < 1.5
    # Gradient noise is zero on the lattice points.
    assert abs(noise[0, 0]) < 1e-6 and abs(noise[16, 16]) < 1e-6
    fractions = [perlin_mask((64, 64), rng).mean() for _ in range(100)]
    assert 0.02 < np.mean(fractions) < 0.2 and max(fractions) < 0.6


def test_simulated_anomaly_changes_only_the_masked_pixels():
    rng = np.random.default_rng(1)
    img = make_images(n_train=2, n_test=1, size=64, seed=0).train
    hits = 0
    for i in range(20):
        out, mask = simulate_anomaly(img[i % 2], rng, img, p_anomaly=1.0)
        assert out.shape == (64, 64, 3) and mask.shape == (64, 64)
        assert 0.0 <= out.min() and out.max() <= 1.0
        base = img[i % 2].astype(np.float32) / 255
        np.testing.assert_array_equal(out[mask == 0], base[mask == 0])
        hits += bool(mask.any() and np.abs(out - base)[mask > 0].max() > 0.01)
    assert hits >= 15
    never = simulate_anomaly(img[0], rng, img, p_anomaly=1e-9)
    assert never[1].sum() == 0
    again = [
        simulate_anomaly(img[0], np.random.default_rng(5), img, p_anomaly=1.0)[0] for _ in range(2)
    ]
    np.testing.assert_array_equal(again[0], again[1])


def test_procedural_textures_and_augmentations():
    rng = np.random.default_rng(2)
    for kind, make in TEXTURES.items():
        tex = np.clip(make((40, 56), rng), 0, 1)
        assert tex.shape == (40, 56, 3), kind
        assert tex.std() > 0.01, kind  # a texture, not a flat colour
    tex = procedural_texture((32, 32), rng)
    out = augment_image(tex, rng)
    assert out.shape == tex.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_loss_decreases_and_defects_outscore_normal_images(fitted, data):
    history = fitted.training_["history"]
    assert history[-1]["loss"] < history[0]["loss"]
    res = fitted.score(data.test)
    assert res.maps.shape == (10, 64, 64)
    assert 0.0 <= res.maps.min() and res.maps.max() <= 1.0  # anomaly probabilities
    assert auroc(data.labels, res.scores) >= 0.7
    assert pixel_auroc(data.masks, res.maps) >= 0.7


def test_save_load_round_trip(fitted, data, tmp_path):
    before = fitted.score(data.test)
    loaded = nc.load(fitted.save(tmp_path / "draem.normalcy"))
    after = loaded.score(data.test)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_array_equal(before.maps, after.maps)


def test_interrupted_fit_resumes_to_identical_weights(data, tmp_path, monkeypatch):
    params = dict(PARAMS, max_steps=6, eval_every=2, recon_width=4, disc_width=4)
    full = nc.create("draem", checkpoint_dir=str(tmp_path / "a"), **params).fit(data.train)
    calls = {"n": 0}
    original = draem.focal_loss

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # step 4 (steps and validations each call the loss once)
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(draem, "focal_loss", crash_once)
    with pytest.raises(KeyboardInterrupt):
        nc.create("draem", checkpoint_dir=str(tmp_path / "b"), **params).fit(data.train)
    monkeypatch.setattr(draem, "focal_loss", original)
    resumed = nc.create("draem", checkpoint_dir=str(tmp_path / "b"), **params).fit(data.train)
    for part in ("reconstructive_", "discriminative_"):
        a = module_arrays(getattr(full, part), "x")
        b = module_arrays(getattr(resumed, part), "x")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])


def test_bad_parameters_are_rejected(data):
    with pytest.raises(nc.InputError, match="multiple of 32"):
        nc.create("draem", image_size=100, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="p_anomaly"):
        nc.create("draem", p_anomaly=0.0, verbose=False).fit(data.train)
