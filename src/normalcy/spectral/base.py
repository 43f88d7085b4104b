"""``SpectralDetector``: the base of detectors for spectral cubes (one score per pixel).

Input: see ``normalcy.spectral.input`` (one ``H x W x B`` cube, an ``N x H x W x B`` array
or a list of cubes; NaN/inf and band-count mismatches are ``InputError``).

Output of ``score`` (a ``Scores``):

* ``scores``: one float64 per pixel, cube after cube, row-major (pixel ``(r, c)`` of a
  ``H x W`` cube is entry ``r * W + c``); each pixel is one sample, so ``calibrate`` sets a
  pixel-level threshold and ``labels`` flags pixels;
* ``maps``: ``(n_pixels, B)`` float32 per-band contributions to each pixel's score (which
  bands deviate; e.g. ``z_b (S^-1 z)_b`` for RX, summing to the score), the spectral
  counterpart of a multivariate series' per-channel map;
* ``extras["score_maps"]``: the scores as ``(n_cubes, H, W)`` float32 spatial maps when the
  cubes share one size (``score_maps`` rebuilds them for cubes of different sizes).

Protocol note: hyperspectral anomaly benchmarks (ABU and others) have no clean training
cube, so the usual protocol fits on the cube and scores the same cube (anomalies are rare
enough not to shape the background model); normalcy supports that and the cleaner
fit-on-normal, score-new protocol alike.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector, spec_int
from ..core.errors import ModelFileError
from ..core.scores import Scores
from .input import MAX_BANDS, as_cubes


def score_maps(scores: np.ndarray, shapes: list[tuple[int, int]]) -> list[np.ndarray]:
    """Per-pixel ``scores`` cut back into one ``H x W`` map per cube."""
    top = float(np.finfo(np.float32).max)
    values = np.clip(np.asarray(scores, dtype=np.float64), -top, top).astype(np.float32)
    out, start = [], 0
    for h, w in shapes:
        out.append(values[start : start + h * w].reshape(h, w))
        start += h * w
    return out


class SpectralDetector(Detector):
    """Base for spectral-cube detectors; ``_fit``/``_score`` receive a list of cubes.

    Subclasses implement ``_fit(cubes)`` and ``_score_cubes(cubes) -> (scores, contributions)``
    with ``scores`` of shape (n_pixels,) and ``contributions`` (n_pixels, B).
    """

    modality: ClassVar[str] = "spectral"
    n_bands_in_: int

    def _check_fit_input(self, X: Any) -> list[np.ndarray]:
        cubes = as_cubes(X, "X")
        self.n_bands_in_ = int(cubes[0].shape[2])
        return cubes

    def _check_score_input(self, X: Any) -> list[np.ndarray]:
        return as_cubes(X, "X", n_bands=self.n_bands_in_)

    def _score(self, cubes: list[np.ndarray]) -> Scores:
        scores, contrib = self._score_cubes(cubes)
        shapes = [c.shape[:2] for c in cubes]
        extras = {}
        if len(set(shapes)) == 1:
            extras["score_maps"] = np.stack(score_maps(scores, shapes))
        top = float(np.finfo(np.float32).max)
        maps = np.clip(contrib, -top, top).astype(np.float32)
        return Scores(scores=scores, maps=maps, extras=extras)

    def _score_cubes(self, cubes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _input_spec(self) -> dict[str, Any]:
        return {"n_bands": self.n_bands_in_}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        if set(spec) != {"n_bands"}:
            raise ModelFileError("a spectral detector's input_spec holds n_bands only")
        self.n_bands_in_ = spec_int(spec, "n_bands", 2, MAX_BANDS)
