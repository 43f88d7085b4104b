"""``ImageDetector``: the base of detectors on images.

``_score`` receives an ``ImageSource`` and works at ``data.output_size(self.on_mixed_sizes)``
(see ``image.input`` for the mixed-size policy). With the default policy ``"own"``,
``score`` hands ``_score`` one group of equally sized images at a time, so every image is
scored, and gets its map, at its own height x width; a detector whose scores depend on the
whole batch (``scores_jointly = True``, e.g. MuSc) gets the whole batch at the first image's
size and each map is resized back to its image's size.

``calibrate`` also sets ``threshold.pixel_value``: the ``1 - fpr`` quantile of every map
value of the normal hold-out (the image threshold applied to map values would be wrong: an
image score is a maximum or a mean of a map, or not derived from it at all). A pixel whose
map value exceeds it is anomalous (``normalcy score --masks``). Calibrating with
``contamination`` sets no pixel threshold (the fraction of anomalous images says nothing
about the fraction of anomalous pixels).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from ..core.base import Detector
from ..core.scores import Scores
from ..core.threshold import Threshold
from .input import ImageSource, as_images


class ImageDetector(Detector):
    """Base for detectors on images; ``_score`` receives an ``ImageSource`` and works at
    ``data.output_size(self.on_mixed_sizes)`` (see the module doc for mixed sizes)."""

    modality = "image"
    on_mixed_sizes: str = "own"
    scores_jointly: bool = False  # True: a score depends on the other images of the batch
    _keep_result: bool = False

    def _check_fit_input(self, X: Any) -> ImageSource:
        return as_images(X, name="training images")

    def _check_score_input(self, X: Any) -> ImageSource:
        source = as_images(X, name="images")
        source.output_size(self.on_mixed_sizes)  # validates the policy early
        return source

    def _index_of(self, data: ImageSource) -> Any:
        return list(data.names)

    def score(self, X: Any) -> Scores:
        """Score images; maps at each image's own size (see the module doc)."""
        self._require_fitted()
        source = self._check_score_input(X)
        mixed = len(set(source.sizes)) > 1
        if self.on_mixed_sizes != "own" or not mixed:
            result = super().score(source)
        elif self.scores_jointly:
            result = _maps_to_own_sizes(super().score(source), source)
        else:
            groups = source.size_groups()
            result = _merge(source, [(g, Detector.score(self, source.subset(g))) for g in groups])
        if self._keep_result:
            self._last_result = result
        return result

    def calibrate(
        self, X: Any, fpr: float | None = None, contamination: float | None = None
    ) -> Threshold:
        """``Detector.calibrate``, plus the pixel threshold of the maps (module doc)."""
        self._keep_result = True
        try:
            threshold = super().calibrate(X, fpr=fpr, contamination=contamination)
        finally:
            self._keep_result = False
            result = self.__dict__.pop("_last_result", None)
        if contamination is None and result is not None and result.maps is not None:
            self.threshold = replace(threshold, pixel_value=pixel_threshold(result, threshold.rate))
        return self.threshold


def pixel_threshold(result: Scores, fpr: float) -> float:
    """The ``1 - fpr`` quantile ("higher" rule) of every map value of normal images."""
    values = np.concatenate([np.asarray(m, dtype=np.float32).ravel() for m in result.maps])
    return float(np.quantile(values, 1.0 - fpr, method="higher"))


def resize_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bilinear resize of one (h, w) float32 map to ``size`` = (H, W)."""
    if tuple(m.shape) == tuple(size):
        return np.asarray(m, dtype=np.float32)
    from PIL import Image

    h, w = size
    out = Image.fromarray(np.ascontiguousarray(m, dtype=np.float32), mode="F")
    return np.asarray(out.resize((int(w), int(h)), Image.BILINEAR), dtype=np.float32)


def _maps_to_own_sizes(result: Scores, source: ImageSource) -> Scores:
    if result.maps is not None:
        result.maps = [resize_map(result.maps[i], source.sizes[i]) for i in range(len(source))]
        result.__post_init__()
    return result


def _merge(source: ImageSource, parts: list[tuple[np.ndarray, Scores]]) -> Scores:
    """One ``Scores`` in ``source``'s order from the scores of its size groups."""
    n = len(source)
    scores = np.empty(n, dtype=np.float64)
    for idx, res in parts:
        scores[idx] = res.scores
    maps: list[Any] | None = None
    if all(res.maps is not None for _, res in parts):
        maps = [None] * n
        for idx, res in parts:
            for k, i in enumerate(idx):
                maps[int(i)] = res.maps[k]
    labels = None
    if all(res.labels is not None for _, res in parts):
        labels = np.empty(n, dtype=bool)
        for idx, res in parts:
            labels[idx] = res.labels
    extras: dict[str, np.ndarray] = {}
    first = parts[0][1].extras
    for key, value in first.items():
        pieces = [(idx, np.asarray(res.extras.get(key))) for idx, res in parts]
        if all(p.ndim >= 1 and len(p) == len(idx) and p.shape[1:] == np.asarray(value).shape[1:]
               for idx, p in pieces):  # fmt: skip
            out = np.empty((n, *np.asarray(value).shape[1:]), dtype=np.asarray(value).dtype)
            for idx, p in pieces:
                out[idx] = p
            extras[key] = out
    return Scores(scores=scores, maps=maps, labels=labels, index=list(source.names), extras=extras)
