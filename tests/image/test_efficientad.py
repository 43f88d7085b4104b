"""EfficientAD: PDN shapes, a short fit on synthetic textures, resume and round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import normalcy as nc
from normalcy.datasets.synthetic import make_images
from normalcy.image import efficientad
from normalcy.image.efficientad_crops import crop_batch, crop_cells
from normalcy.image.efficientad_nets import PDN, AutoEncoder
from normalcy.image.module_state import module_arrays
from normalcy.metrics.pixel import pixel_auroc
from normalcy.metrics.ranking import auroc

PARAMS = dict(image_size=96, width=0.125, out_channels=32, teacher_steps=60, teacher_images=48,
              max_steps=60, eval_every=30, num_threads=1, verbose=False)  # fmt: skip


@pytest.fixture(scope="module")
def data():
    return make_images(n_train=12, n_test=10, size=96, anomaly_ratio=0.5, seed=1)


@pytest.fixture(scope="module")
def fitted(data):
    return nc.create("efficientad", **PARAMS).fit(data.train)


@pytest.mark.parametrize("variant", ["S", "M"])
def test_pdn_and_autoencoder_shapes(variant):
    paper = PDN(variant, 384, 1.0)
    widths = [c.out_channels for c in paper.convs]
    assert widths[:2] == ([128, 256] if variant == "S" else [256, 512]) and widths[-1] == 384
    x = torch.zeros(1, 3, 256, 256)
    pdn = PDN(variant, 24, 0.0625)  # same layout, narrow (fast)
    assert pdn(x).shape == (1, 24, 56, 56)  # the paper's 56x56 grid of 33-pixel patches
    pdn.padding = True
    assert pdn(x).shape == (1, 24, 64, 64)  # padded, for distillation (stride 4)
    ae = AutoEncoder(24, 0.25, 256, 56)
    assert ae(x).shape == (1, 24, 56, 56)


@pytest.mark.parametrize("variant", ["S", "M"])
def test_crop_targets_are_the_whole_image_cells(variant):
    # Targets stand-in: a padded PDN on whole images (the grid the teacher is distilled to).
    # The same PDN, unpadded, on a crop must give exactly the cells crop_batch picks.
    torch.manual_seed(0)
    pdn = PDN(variant, 8, 0.0625).eval()
    images = np.random.default_rng(0).random((2, 128, 128, 3)).astype(np.float32)
    with torch.no_grad():
        pdn.padding = True
        grid = pdn(torch.from_numpy(images).permute(0, 3, 1, 2))
        pdn.padding = False
        for crop in (36, 64, 128):
            n = (128 - crop) // 4 + 1  # every allowed offset, borders included
            offsets = np.array([(r, c) for r in range(n) for c in range(n)])
            picks = np.arange(len(offsets)) % 2
            x, targets = crop_batch(images, grid, picks, offsets, crop)
            assert targets.shape == (len(offsets), 8, crop_cells(crop), crop_cells(crop))
            out = pdn(torch.from_numpy(x).permute(0, 3, 1, 2))
            torch.testing.assert_close(out, targets, rtol=0, atol=1e-6)
    # a shifted crop does not match: the alignment is what the test checks
    x, targets = crop_batch(images, grid, np.array([0]), np.array([[2, 3]]), 64)
    shifted = torch.from_numpy(images[:1, 9:73, 12:76]).permute(0, 3, 1, 2)
    with torch.no_grad():
        assert (pdn(shifted) - targets).abs().max() > 1e-4  # 100 x the tolerance above


def test_loss_decreases_and_defects_outscore_normal_images(fitted, data):
    teacher = fitted.teacher_training_["history"]
    assert teacher[-1]["loss"] < teacher[0]["loss"]
    assert fitted.training_["steps"] == 60
    res = fitted.score(data.test)
    assert res.maps.shape == (10, 96, 96)
    assert auroc(data.labels, res.scores) >= 0.8
    assert pixel_auroc(data.masks, res.maps) >= 0.8
    q = fitted.quantiles_.cpu().numpy()
    assert q[0] < q[1] and q[2] < q[3]  # 0.9 and 0.995 quantiles of the two maps


def test_border_band_takes_the_edge_cells_scores(fitted, data, monkeypatch):
    # Cells are centred 16 pixels in from the border; the band outside them must carry the
    # edge cells' scores (a defect touching the border), not a constant below every cell.
    g = fitted.grid_

    def raw_maps(x):
        m = torch.zeros(len(x), g, g)
        m[:, 0, 0] = 1.0  # only the top-left cell is anomalous
        return m, m.clone()

    monkeypatch.setattr(fitted, "_raw_maps", raw_maps)
    maps, scores = fitted._infer(fitted._tensor(data.test[:1]))
    assert float(maps[0, 0, 0]) == pytest.approx(float(scores[0]))  # the corner pixel
    assert float(maps[0, :16, :16].min()) == pytest.approx(float(scores[0]))
    assert float(maps[0, -16:, -16:].max()) < float(scores[0])  # far corner: normal


def test_save_load_round_trip(fitted, data, tmp_path):
    before = fitted.score(data.test)
    loaded = nc.load(fitted.save(tmp_path / "ead.normalcy"))
    after = loaded.score(data.test)
    np.testing.assert_array_equal(before.scores, after.scores)
    np.testing.assert_array_equal(before.maps, after.maps)


def test_interrupted_fit_resumes_to_identical_weights(data, tmp_path, monkeypatch):
    params = dict(PARAMS, image_size=64, teacher_steps=4, max_steps=6, eval_every=2,
                  out_channels=16, width=0.0625)  # fmt: skip
    full = nc.create("efficientad", checkpoint_dir=str(tmp_path / "a"), **params).fit(data.train)
    calls = {"n": 0}
    original = efficientad.colour_jitter

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:  # student step 3, after the step-2 checkpoint
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(efficientad, "colour_jitter", crash_once)
    with pytest.raises(KeyboardInterrupt):
        nc.create("efficientad", checkpoint_dir=str(tmp_path / "b"), **params).fit(data.train)
    monkeypatch.setattr(efficientad, "colour_jitter", original)
    resumed = nc.create("efficientad", checkpoint_dir=str(tmp_path / "b"), **params)
    resumed.fit(data.train)
    for part in ("teacher_", "student_", "autoencoder_"):
        a = module_arrays(getattr(full, part), "x")
        b = module_arrays(getattr(resumed, part), "x")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k])
    np.testing.assert_array_equal(full.quantiles_.numpy(), resumed.quantiles_.numpy())


def test_time_budget_bounds_the_whole_fit(data):
    params = dict(PARAMS, image_size=64, width=0.0625, out_channels=16, teacher_images=8)
    det = nc.create("efficientad", max_minutes=1e-6, **params).fit(data.train)
    # the budget is spent before either phase starts: each stops after its first step
    for result in (det.teacher_training_, det.training_):
        assert (result["steps"], result["stopped"]) == (1, "time_budget")
    assert np.isfinite(det.score(data.test[:2]).scores).all()


def test_bad_parameters_are_rejected(data):
    with pytest.raises(nc.InputError, match="variant"):
        nc.create("efficientad", variant="L", verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="hard_quantile"):
        nc.create("efficientad", hard_quantile=1.0, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="teacher_crop"):
        nc.create("efficientad", teacher_crop=50, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="teacher_crop"):
        nc.create("efficientad", teacher_crop=32, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="student_crop"):
        nc.create("efficientad", student_crop=38, verbose=False).fit(data.train)
    with pytest.raises(nc.InputError, match="teacher_corpus"):
        nc.create("efficientad", teacher_corpus="imagenet", verbose=False).fit(data.train)
