"""SA2D: meta-training over scenarios, few-shot adaptation to a new view, model files with
and without an adapted predictor, and starting from a pretrained CT-D2GAN."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.core.errors import InputError, NotFittedError
from normalcy.video.sa2d_views import VIEWS, apply_view
from normalcy.video.synthetic import make_clips

pytest.importorskip("torch")

ARCH = {"n_past": 2, "height": 32, "width": 32, "channels": [8, 16], "heads": 2, "threads": 1}
SA2D = {**ARCH, "shots": 4, "meta_batch": 2, "views": ["identity", "hflip"]}


def _mse_of_prediction(det, clips):
    """Mean PSNR-derived error of the detector's predictions (lower = better prediction)."""
    return float(np.mean(10 ** (det.score(clips).scores / 10)))


@pytest.fixture(scope="module")
def meta():
    train = make_clips(n_clips=2, n_frames=12, size=(32, 32), seed=1)
    return nc.create("sa2d", meta_iterations=15, meta_lr=1e-3, **SA2D).fit(train.clips)


def test_views_keep_shape_and_map_masks():
    clips = make_clips(n_clips=1, n_frames=3, size=(24, 32), anomaly="too_fast", start=0, seed=1)
    for view in VIEWS:
        out = apply_view(clips.clips[0], view)
        assert out.shape == clips.clips[0].shape and out.dtype == np.uint8
        mask = apply_view(clips.masks[0], view)
        assert mask.dtype == bool and mask.shape == clips.masks[0].shape
    np.testing.assert_array_equal(apply_view(clips.clips[0], "identity"), clips.clips[0])
    np.testing.assert_array_equal(
        apply_view(apply_view(clips.clips[0], "rot180"), "rot180"), clips.clips[0]
    )


def test_adaptation_to_a_new_view_improves_prediction(meta):
    normal = make_clips(n_clips=2, n_frames=12, size=(32, 32), seed=5).clips
    new_view = [apply_view(c, "vflip") for c in normal]  # a view meta-training never saw
    shots, held_out = new_view[:1], new_view[1:]
    before = _mse_of_prediction(meta, held_out)
    meta.set_params(adapt_steps=15)
    meta.adapt(shots)
    after = _mse_of_prediction(meta, held_out)
    assert meta.adapted_ and after < before
    meta.reset_adaptation()
    assert _mse_of_prediction(meta, held_out) == pytest.approx(before)


def test_planted_anomaly_in_the_adapted_view_peaks(meta):
    normal = [apply_view(c, "vflip") for c in make_clips(2, 12, (32, 32), seed=6).clips]
    test = make_clips(n_clips=1, n_frames=12, size=(32, 32), anomaly="too_fast", start=6, seed=7)
    meta.set_params(adapt_steps=15)
    meta.adapt(normal)
    s = meta.score([apply_view(test.clips[0], "vflip")]).scores
    meta.reset_adaptation()
    # (normal squares wrap around the frame edge now and then: compare with the median)
    assert s[6:].mean() > np.median(s[2:6])


def test_save_load_keeps_meta_and_adapted_predictors(meta, tmp_path):
    clips = make_clips(n_clips=1, n_frames=6, size=(32, 32), seed=8).clips
    meta.adapt(clips)
    try:
        again = nc.load(meta.save(tmp_path / "adapted.normalcy"))
        assert again.adapted_
        np.testing.assert_array_equal(meta.score(clips).scores, again.score(clips).scores)
        again.reset_adaptation()
        meta.reset_adaptation()
        np.testing.assert_array_equal(meta.score(clips).scores, again.score(clips).scores)
    finally:
        meta.reset_adaptation()
    plain = nc.load(meta.save(tmp_path / "meta.normalcy"))
    assert not plain.adapted_


def test_meta_training_starts_from_a_pretrained_ctd2gan(tmp_path):
    train = make_clips(n_clips=2, n_frames=8, size=(32, 32), seed=1).clips
    base = nc.create("ctd2gan", iterations=2, batch_size=2, disc_channels=[4, 8], **ARCH)
    path = str(base.fit(train).save(tmp_path / "base.normalcy"))
    det = nc.create("sa2d", pretrained=path, meta_iterations=1, **SA2D).fit(train)
    assert det.is_fitted
    with pytest.raises(InputError, match="architectures must match"):
        nc.create("sa2d", **{**SA2D, "pretrained": path, "n_past": 3}).fit(train)


def test_adapt_before_fit_is_an_error():
    with pytest.raises(NotFittedError):
        nc.create("sa2d", **SA2D).adapt(make_clips(1, 6, (32, 32)).clips)
