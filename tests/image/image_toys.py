"""Small image helpers shared by the preprocessing tests (a module, not a test file)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

import normalcy as nc
from normalcy.core.registry import DetectorInfo
from normalcy.image.base import ImageDetector


def noise_images(n: int, h: int, w: int, seed: int = 0) -> np.ndarray:
    """``n`` (h, w, 3) float32 images of uniform noise around grey."""
    rng = np.random.default_rng(seed)
    return (rng.random((n, h, w, 3)) * 0.2 + 0.4).astype(np.float32)


def plant(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """A copy of ``img`` with a red square over ``box`` = (y0, x0, y1, x1)."""
    out = img.copy()
    y0, x0, y1, x1 = box
    out[y0:y1, x0:x1] = (0.9, 0.1, 0.1)
    return out


class ColourDistance(ImageDetector):
    """Each pixel's distance to the training images' mean colour (a test helper); with
    ``joint=True`` it declares that it scores a batch jointly (as MuSc does)."""

    info = DetectorInfo(name="colour_distance", modality="image", paper="-", year=2024)
    name = "colour_distance"
    _parameter_constraints: ClassVar[dict] = {"joint": [bool]}

    def __init__(self, joint: bool = False):
        self.joint = joint

    @property
    def scores_jointly(self) -> bool:  # type: ignore[override]
        return self.joint

    def _fit(self, data):
        self.colour_ = data.load_all(data.output_size()).reshape(-1, 3).mean(axis=0)

    def _score(self, data):
        self.sizes_seen_ = getattr(self, "sizes_seen_", []) + [data.output_size()]
        imgs = data.load_all(data.output_size(self.on_mixed_sizes))
        maps = np.abs(imgs - self.colour_).sum(axis=-1)
        return nc.Scores(scores=maps.reshape(len(maps), -1).max(axis=1), maps=maps)
