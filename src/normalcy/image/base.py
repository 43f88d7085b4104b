"""``ImageDetector``: the base of detectors on images.

``_score`` receives an ``ImageSource`` and the size (H, W) that maps must have (see
``image.input`` for the mixed-size policy).
"""

from __future__ import annotations

from typing import Any

from ..core.base import Detector
from .input import ImageSource, as_images


class ImageDetector(Detector):
    """Base for detectors on images; ``_score`` receives an ``ImageSource`` and the size
    (H, W) that maps must have (see ``image.input`` for the mixed-size policy)."""

    modality = "image"
    on_mixed_sizes: str = "resize"

    def _check_fit_input(self, X: Any) -> ImageSource:
        return as_images(X, name="training images")

    def _check_score_input(self, X: Any) -> ImageSource:
        source = as_images(X, name="images")
        source.output_size(self.on_mixed_sizes)  # validates the policy early
        return source

    def _index_of(self, data: ImageSource) -> Any:
        return list(data.names)
