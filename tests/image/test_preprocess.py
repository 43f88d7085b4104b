"""Preprocessing policies, tiling and map assembly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import normalcy as nc
from normalcy.image.preprocess import (
    Preprocess,
    assemble_maps,
    gaussian_blur,
    tile_boxes,
    to_rgb,
    upsample,
)


def test_stretch_covers_the_whole_image():
    img = np.random.default_rng(0).random((50, 80, 3), dtype=np.float32)
    views, boxes = Preprocess(image_size=64).views(img)
    assert len(views) == 1 and views[0].shape == (64, 64, 3) and views[0].dtype == np.float32
    assert boxes == [(0, 0, 50, 80)]


def test_keep_aspect_and_centre_crop_boxes():
    img = np.zeros((100, 200, 3), np.float32)
    img[:, 50:150] = 1.0  # the centre square is white
    (view,), (box,) = Preprocess(image_size=64, resize="keep_aspect").views(img)
    assert view.shape == (64, 64, 3) and view[:, 2:-2].min() > 0.99  # (resampling blurs the rim)
    assert box == (0, 50, 100, 150)
    (view,), (box,) = Preprocess(image_size=64, center_crop=32).views(np.ones((64, 64, 3)))
    assert view.shape == (32, 32, 3) and box == (16, 16, 48, 48)


def test_grayscale_becomes_three_channels():
    assert to_rgb(np.zeros((5, 6), np.float32)).shape == (5, 6, 3)
    assert to_rgb(np.zeros((5, 6, 4), np.float32)).shape == (5, 6, 3)
    with pytest.raises(nc.InputError):
        to_rgb(np.zeros((5, 6, 2), np.float32))


def test_tiles_cover_the_image_with_overlap():
    boxes = tile_boxes(100, 130, tile=64, overlap=0.25)
    covered = np.zeros((100, 130), int)
    for y0, x0, y1, x1 in boxes:
        assert (y1 - y0, x1 - x0) == (64, 64)
        covered[y0:y1, x0:x1] += 1
    assert covered.min() >= 1 and covered.max() >= 2
    views, vboxes = Preprocess(image_size=32, tile=64).views(np.zeros((100, 130, 3), np.float32))
    assert vboxes == boxes and all(v.shape == (32, 32, 3) for v in views)
    assert tile_boxes(40, 40, tile=64, overlap=0.25) == [(0, 0, 40, 40)]


def test_invalid_preprocessing_is_an_input_error():
    with pytest.raises(nc.InputError, match="resize"):
        Preprocess(resize="squash")
    with pytest.raises(nc.InputError, match="center_crop"):
        Preprocess(image_size=64, center_crop=100)
    with pytest.raises(nc.InputError, match="tile_overlap"):
        Preprocess(tile=64, tile_overlap=1.0)


def test_normalise_gives_channels_last_nchw():
    x = Preprocess(image_size=32, mean=(0.5,) * 3, std=(0.5,) * 3).normalise(
        np.ones((2, 32, 32, 3), np.float32)
    )
    assert x.shape == (2, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(x, torch.ones_like(x))


@pytest.mark.parametrize(
    ("grid", "size", "out", "sigma"), [(8, 64, (64, 64), 4.0), (4, 32, (50, 30), 2.0)]
)
def test_assembled_maps_equal_upsample_blur_resize(grid, size, out, sigma):
    g = torch.rand(3, grid, grid, generator=torch.Generator().manual_seed(0))
    reference = upsample(gaussian_blur(upsample(g, (size, size)), sigma), out).numpy()
    got = assemble_maps(g, np.arange(3), [(0, 0, *out)] * 3, out, 3, size, sigma)
    assert got.shape == (3, *out) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference, atol=1e-5)


def test_blur_keeps_constants_and_tiles_are_stitched():
    const = torch.full((1, 20, 20), 3.0)
    assert torch.allclose(gaussian_blur(const, 4.0), const)
    boxes = [(0, 0, 40, 40), (0, 30, 40, 70), (10, 10, 30, 30)]
    grids = torch.stack([torch.full((4, 4), v) for v in (1.0, 3.0, 5.0)])
    maps = assemble_maps(grids, np.array([0, 0, 1]), boxes, (40, 70), 2, 32, 4.0)
    np.testing.assert_allclose(maps[0, :, :30], 1.0, atol=1e-5)
    np.testing.assert_allclose(maps[0, :, 30:40], 2.0, atol=1e-5)  # overlap: the mean
    np.testing.assert_allclose(maps[0, :, 40:], 3.0, atol=1e-5)
    np.testing.assert_allclose(
        maps[1], 5.0, atol=1e-5
    )  # uncovered pixels: the lowest covered value
