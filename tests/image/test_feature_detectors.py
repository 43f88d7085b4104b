"""PatchCore, PaDiM and the Gaussian detector on synthetic textures with planted defects."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic import make_images

NAMES = ["patchcore", "padim", "gaussian"]


@pytest.fixture(scope="module")
def split():
    return make_images(n_train=12, n_test=8, size=96, anomaly_ratio=0.5, seed=3)


@pytest.fixture(scope="module")
def results(split):
    out = {}
    for name in NAMES:
        det = nc.create(name, image_size=128, seed=0).fit(split.train)
        out[name] = (det, det.score(split.test))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_defective_images_outscore_normal_ones(name, split, results):
    scores = results[name][1].scores
    defect, normal = scores[split.labels == 1], scores[split.labels == 0]
    assert defect.min() > normal.max() or np.mean(defect[:, None] > normal[None, :]) >= 0.9


@pytest.mark.parametrize("name", NAMES)
def test_heat_map_maximum_lies_in_the_defect(name, split, results):
    maps = results[name][1].maps
    assert maps.shape == (len(split.test), 96, 96) and maps.dtype == np.float32
    hits = 0
    defects = np.flatnonzero(split.labels == 1)
    for i in defects:
        y, x = np.unravel_index(np.argmax(maps[i]), maps[i].shape)
        # allow the smoothing a few pixels of slack around the mask
        ys, xs = np.nonzero(split.masks[i])
        hits += int(
            abs(ys - y).min() <= 4
            and abs(xs - x).min() <= 4
            and split.masks[i][max(0, y - 4) : y + 5, max(0, x - 4) : x + 5].any()
        )
    assert hits >= len(defects) - 1


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_scores(name, split, results):
    again = nc.create(name, image_size=128, seed=0).fit(split.train).score(split.test)
    np.testing.assert_array_equal(again.scores, results[name][1].scores)


def test_bad_images_raise_input_error(tmp_path, results):
    det = results["padim"][0]
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(nc.InputError, match="cannot read image file"):
        det.score([tmp_path / "broken.png"])
    with pytest.raises(nc.InputError, match="at least 8x8"):
        det.score(np.zeros((1, 1, 1), np.uint8))
    with pytest.raises(nc.InputError, match="dtype"):
        det.score(np.zeros((1, 32, 32), np.int32))
