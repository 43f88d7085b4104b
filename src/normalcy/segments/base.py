"""``SegmentDetector``: the base of detectors for fixed-length signal segments (one score
per segment). ``_fit``/``_score`` receive an (N, T, C) float64 array (``segments.input``)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector, spec_int
from ..core.errors import ModelFileError
from .input import MAX_CHANNELS, MAX_SAMPLES, MIN_SAMPLES, as_segments


class SegmentDetector(Detector):
    """Base for segment detectors; remembers the fitted segment length and channels."""

    modality: ClassVar[str] = "segments"
    length_in_: int
    n_channels_in_: int

    def _check_fit_input(self, X: Any) -> np.ndarray:
        data = as_segments(X, "X")
        _, self.length_in_, self.n_channels_in_ = data.shape
        return data

    def _check_score_input(self, X: Any) -> np.ndarray:
        return as_segments(X, "X", self.length_in_, self.n_channels_in_)

    def _input_spec(self) -> dict[str, Any]:
        return {"length": self.length_in_, "n_channels": self.n_channels_in_}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        if set(spec) != {"length", "n_channels"}:
            raise ModelFileError("a segment detector's input_spec holds length and n_channels")
        self.length_in_ = spec_int(spec, "length", MIN_SAMPLES, MAX_SAMPLES)
        self.n_channels_in_ = spec_int(spec, "n_channels", 1, MAX_CHANNELS)
