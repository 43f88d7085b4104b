"""Maps at each image's own size: mixed sizes, the same-size path, the pixel threshold."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from image_toys import ColourDistance, noise_images, plant

import normalcy as nc
from normalcy.core.threshold import Threshold
from normalcy.image.input import ImageTooLargeError, as_images

BOX_A = (20, 60, 32, 76)  # in the 64 x 96 image
BOX_B = (50, 10, 62, 22)  # in the 80 x 80 image


def _mixed() -> list[np.ndarray]:
    a = noise_images(2, 64, 96, seed=1)
    b = noise_images(2, 80, 80, seed=2)
    return [a[0], b[0], plant(a[1], BOX_A), plant(b[1], BOX_B)]


def _inside(m: np.ndarray, box: tuple[int, int, int, int], margin: int = 3) -> bool:
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    y0, x0, y1, x1 = box
    return y0 - margin <= y < y1 + margin and x0 - margin <= x < x1 + margin


@pytest.fixture(scope="module")
def padim():
    torch.set_num_threads(1)
    det = nc.create("padim", seed=0, image_size=128, num_threads=1, verbose=False)
    return det.fit(noise_images(8, 80, 80))


def test_padim_mixed_sizes_get_maps_of_their_own_shape_with_the_defect_in_place(padim):
    res = padim.score(_mixed())
    assert isinstance(res.maps, list)
    assert res.map_shapes == [(64, 96), (80, 80), (64, 96), (80, 80)]
    assert all(m.dtype == np.float32 for m in res.maps)
    assert _inside(res.map(2), BOX_A) and _inside(res.map(3), BOX_B)
    assert min(res.scores[2:]) > max(res.scores[:2])
    assert res.index == ["image_00000", "image_00001", "image_00002", "image_00003"]


def test_padim_score_of_an_image_does_not_depend_on_its_companions(padim):
    images = _mixed()
    together = padim.score(images)
    for i, img in enumerate(images):
        alone = padim.score(img[None])
        np.testing.assert_allclose(alone.scores[0], together.scores[i], rtol=1e-5)
        np.testing.assert_allclose(alone.maps[0], together.map(i), rtol=1e-4, atol=1e-5)


def test_same_size_input_is_scored_exactly_as_before(padim):
    same = noise_images(3, 80, 80, seed=5)
    new = padim.score(same)
    padim.on_mixed_sizes = "resize"  # the earlier default: one call of _score
    try:
        old = padim.score(same)
    finally:
        del padim.on_mixed_sizes
    assert isinstance(new.maps, np.ndarray) and new.maps.shape == (3, 80, 80)
    np.testing.assert_array_equal(new.scores, old.scores)
    np.testing.assert_array_equal(new.maps, old.maps)


def test_each_size_group_reaches_score_once_in_order():
    det = ColourDistance().fit(noise_images(4, 32, 32))
    res = det.score(_mixed())
    assert det.sizes_seen_ == [(64, 96), (80, 80)]
    assert res.map_shapes == [(64, 96), (80, 80), (64, 96), (80, 80)]
    assert _inside(res.map(2), BOX_A, margin=0) and _inside(res.map(3), BOX_B, margin=0)


def test_resize_policy_keeps_the_first_image_size_and_error_refuses():
    det = ColourDistance().fit(noise_images(4, 32, 32))
    det.on_mixed_sizes = "resize"
    res = det.score(_mixed())
    assert isinstance(res.maps, np.ndarray) and res.maps.shape == (4, 64, 96)
    det.on_mixed_sizes = "error"
    with pytest.raises(nc.InputError, match="different sizes"):
        det.score(_mixed())


def test_a_jointly_scoring_detector_gets_its_maps_resized_back():
    det = ColourDistance(joint=True).fit(noise_images(4, 32, 32))
    res = det.score(_mixed())
    assert det.sizes_seen_ == [(64, 96)]  # one batch at the first image's size
    assert res.map_shapes == [(64, 96), (80, 80), (64, 96), (80, 80)]
    assert _inside(res.map(2), BOX_A, margin=1) and _inside(res.map(3), BOX_B, margin=2)


def test_scores_maps_container():
    same = nc.Scores(scores=np.zeros(2), maps=[np.zeros((4, 5)), np.ones((4, 5))])
    assert isinstance(same.maps, np.ndarray) and same.maps.shape == (2, 4, 5)
    mixed = nc.Scores(scores=np.zeros(2), maps=[np.zeros((4, 5)), np.full((3, 2), np.inf)])
    assert isinstance(mixed.maps, list) and mixed.map_shapes == [(4, 5), (3, 2)]
    assert np.isfinite(mixed.map(1)).all() and mixed.map(1).dtype == np.float32
    with pytest.raises(nc.NormalcyError, match="3 scores"):
        nc.Scores(scores=np.zeros(3), maps=[np.zeros((4, 5)), np.zeros((3, 2))])


def test_calibration_sets_a_pixel_threshold_kept_in_the_saved_threshold(tmp_path):
    det = ColourDistance().fit(noise_images(4, 32, 32))
    holdout = list(noise_images(10, 32, 32, seed=7)) + list(noise_images(10, 24, 40, seed=8))
    threshold = det.calibrate(holdout, fpr=0.05)
    maps = det.score(holdout).maps
    values = np.concatenate([m.ravel() for m in maps])
    assert threshold.pixel_value == pytest.approx(np.quantile(values, 0.95, method="higher"))
    assert np.mean(values > threshold.pixel_value) <= 0.05
    again = Threshold.from_dict(threshold.to_dict())
    assert again == threshold
    det.calibrate(holdout, contamination=0.1)
    assert det.threshold.pixel_value is None


def test_too_large_images_raise_a_subclass_of_input_error():
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (1, 10_000, 10_000), (0, 0, 0))
    with pytest.raises(ImageTooLargeError):
        as_images(big)
    assert issubclass(ImageTooLargeError, nc.InputError)


def test_onnx_runtime_gives_maps_at_each_image_size(tmp_path):
    pytest.importorskip("onnxruntime")
    from normalcy.export import export as export_model
    from normalcy.export.runtime import OnnxDetector

    det = nc.create("padim", image_size=64, n_features=40, verbose=False, num_threads=1)
    det.fit(noise_images(8, 64, 64))
    onx = OnnxDetector(export_model(det, tmp_path / "padim.onnx"), num_threads=1)
    images = _mixed()
    ours, theirs = det.score(images), onx.score(images)
    assert theirs.map_shapes == ours.map_shapes == [(64, 96), (80, 80), (64, 96), (80, 80)]
    for i in range(4):
        scale = max(1.0, float(ours.map(i).max()))
        assert np.abs(ours.map(i) - theirs.map(i)).max() <= 1e-3 * scale
    same = noise_images(2, 80, 80, seed=9)
    assert onx.score(same).maps.shape == (2, 80, 80)


def test_scores_fields_keep_their_positions():
    res = nc.Scores(np.zeros(1), np.ones((1, 2, 2)), np.array([True]))
    assert res.maps.shape == (1, 2, 2) and res.labels.tolist() == [True]
