"""Image memory suite on a tiny MVTec-layout folder of synthetic images."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from normalcy.bench import image_memory_suite
from normalcy.core.errors import InputError
from normalcy.datasets.synthetic import make_images


@pytest.fixture(scope="module")
def category(tmp_path_factory):
    root = tmp_path_factory.mktemp("mvtec") / "tiles"
    (root / "train/good").mkdir(parents=True)
    for i, img in enumerate(make_images(n_train=3, n_test=2, size=64, seed=1).train):
        Image.fromarray(img).save(root / "train/good" / f"{i:03d}.png")
    return root


def test_the_eight_flips_and_turns_are_distinct():
    img = np.arange(16, dtype=np.uint8).reshape(4, 4)
    views = {image_memory_suite._dihedral(img, k).tobytes() for k in range(8)}
    assert len(views) == 8


def test_training_folder_cycles_sources_through_the_dihedral_group(category, tmp_path):
    sources = sorted((category / "train/good").glob("*.png"))
    image_memory_suite._write_images(sources, 7, tmp_path)
    files = sorted(tmp_path.glob("*.png"))
    assert len(files) == 7
    first, fourth = (np.asarray(Image.open(files[i])) for i in (0, 3))
    assert first.shape == (256, 256, 3)
    assert np.array_equal(np.rot90(first), fourth)  # source 0, second transform


def test_writes_peak_memory_per_detector(category, tmp_path):
    csv = image_memory_suite.run(
        root=category, out_dir=tmp_path, detectors=["padim"], limit=6, quick=True
    )
    frame = pd.read_csv(csv)
    assert list(frame.columns) == image_memory_suite.COLUMNS
    row = frame.iloc[0]
    assert row["detector"] == "padim" and row["n_train"] == 6
    assert row["peak_rss_mb"] >= row["rss_before_fit_mb"] > 0
    assert row["model_file_mb"] > 0 and row["fit_s"] > 0
    assert (tmp_path / "image_memory.md").read_text().startswith("| detector |")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"detectors": ["iforest"]}, "not image detectors"),
        ({"limit": 1}, "at least 2"),
        ({"dataset": "coco"}, "unknown image data set"),
    ],
)
def test_bad_arguments(category, tmp_path, kwargs, message):
    with pytest.raises(InputError, match=message):
        image_memory_suite.run(root=category, out_dir=tmp_path, **kwargs)


def test_folder_that_is_not_a_data_set(tmp_path):
    with pytest.raises(InputError, match="neither an MTD folder"):
        image_memory_suite.run(root=tmp_path, out_dir=tmp_path)
