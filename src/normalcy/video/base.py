"""``VideoDetector``: the base of detectors on video.

The contract (docs/video.md):

* ``fit(clips)`` and ``score(clips)`` take anything ``video.input.as_clips`` accepts; the
  base validates it with the class's policies and hands ``_fit`` / ``_score_clip`` a
  ``VideoSource`` whose frames all have one size and the fitted channel count.
* ``score`` returns one score per frame, the clips concatenated in order, indexed by a
  pandas ``MultiIndex`` (clip, frame); detectors that localise return per-frame maps
  (n_frames, H, W) float32 at the output size. ``extras["clip"]`` holds each frame's clip
  position.
* A subclass implements ``_fit(source)`` and ``_score_clip(source, i) -> (scores, maps)``
  for one clip (maps None when it does not localise), plus the state methods. A detector
  whose score of frame t needs frames t-k+1..t sets ``temporal_window = k`` (an instance
  attribute may depend on parameters); ``history(frames, k)`` builds the padded windows.
* Streaming: ``stream()`` returns a ``FrameStream`` scoring frames one at a time for
  detectors that implement ``_score_window(window) -> (score, map)`` on the last
  ``temporal_window`` frames (``can_stream``).
"""

from __future__ import annotations

from collections import deque
from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector, spec_int
from ..core.errors import InputError, ModelFileError, NotFittedError
from ..core.scores import Scores
from .input import (
    SHORT_POLICIES,
    VideoSource,
    _check_pixels,
    _check_size,
    _frame_channels,
    as_clips,
    convert_channels,
    resize_image,
    to_float,
)


class VideoDetector(Detector):
    """Base for detectors on video clips (see the module docstring for the contract)."""

    modality = "video"
    # Input policies (see ``video.input``); subclasses or users may override them.
    on_mixed_sizes: str = "resize"
    on_channel_mismatch: str = "convert"
    on_corrupt_frame: str = "error"
    on_short_clip: str = "pad"
    # Frames a score needs (the current one and its history).
    temporal_window: int = 1
    can_stream: ClassVar[bool] = False

    # -- input --------------------------------------------------------------------------------
    def _source(self, X: Any, name: str) -> VideoSource:
        return as_clips(
            X,
            name=name,
            on_mixed_sizes=self.on_mixed_sizes,
            on_channel_mismatch=self.on_channel_mismatch,
            on_corrupt_frame=self.on_corrupt_frame,
        )

    def _check_short(self, source: VideoSource) -> None:
        if self.on_short_clip not in SHORT_POLICIES:
            raise InputError(f"on_short_clip must be one of {SHORT_POLICIES}")
        k = int(self.temporal_window)
        if self.on_short_clip == "error":
            for clip in source.clips:
                if clip.n_frames < k:
                    raise InputError(
                        f"clip {clip.name!r} has {clip.n_frames} frame(s) but {self.name} needs "
                        f"at least {k}; pass longer clips or on_short_clip='pad'"
                    )

    def _check_fit_input(self, X: Any) -> VideoSource:
        source = self._source(X, "training clips")
        self._check_short(source)
        self.fit_size_ = source.size
        self.fit_channels_ = source.channels
        return source

    def _check_score_input(self, X: Any) -> VideoSource:
        source = self._source(X, "clips")
        self._check_short(source)
        return source.with_channels(int(getattr(self, "fit_channels_", source.channels)))

    def _index_of(self, data: VideoSource) -> Any:
        import pandas as pd

        clips = [name for name, n in zip(data.names, data.lengths, strict=True) for _ in range(n)]
        frames = [t for n in data.lengths for t in range(n)]
        return pd.MultiIndex.from_arrays([clips, frames], names=["clip", "frame"])

    def _input_spec(self) -> dict[str, Any]:
        size = getattr(self, "fit_size_", None)
        return {
            "channels": int(getattr(self, "fit_channels_", 3)),
            "size": None if size is None else [int(size[0]), int(size[1])],
        }

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        channels = spec_int(spec, "channels", 1, 3)
        if channels not in (1, 3):
            raise ModelFileError(f"input_spec['channels'] must be 1 or 3, got {channels}")
        self.fit_channels_ = channels
        size = spec.get("size")
        if size is not None:
            if not (
                isinstance(size, list)
                and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in size)
                and all(1 <= v <= 65_536 for v in size)
            ):
                raise ModelFileError(f"input_spec['size'] must be [H, W] integers, got {size!r}")
            self.fit_size_ = (size[0], size[1])

    # -- scoring ------------------------------------------------------------------------------
    def _score(self, data: VideoSource) -> Scores:
        scores: list[np.ndarray] = []
        maps: list[np.ndarray] = []
        any_maps = False
        for i in range(len(data)):
            s, m = self._score_clip(data, i)
            s = np.asarray(s, dtype=np.float64).reshape(-1)
            if len(s) != data.clips[i].n_frames:
                raise AssertionError(
                    f"{self.name} gave {len(s)} scores for a clip of "
                    f"{data.clips[i].n_frames} frames"
                )
            scores.append(s)
            if m is not None:
                any_maps = True
                maps.append(np.asarray(m, dtype=np.float32))
        clip_of = np.repeat(np.arange(len(data)), data.lengths)
        return Scores(
            scores=np.concatenate(scores),
            maps=np.concatenate(maps) if any_maps else None,
            extras={"clip": clip_of},
        )

    def _score_clip(self, data: VideoSource, i: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Scores (T,) and maps (T, H, W) or None of clip ``i``."""
        raise NotImplementedError

    # -- streaming ----------------------------------------------------------------------------
    def stream(self) -> FrameStream:
        """A ``FrameStream`` that scores frames one at a time (see ``FrameStream``)."""
        self._require_fitted()
        if not self.can_stream:
            raise InputError(f"{self.name} cannot score frames one at a time")
        return FrameStream(self)

    def _score_window(self, window: np.ndarray) -> tuple[float, np.ndarray | None]:
        """Score and map of the last frame of ``window`` (k, H, W, C) float32."""
        raise NotImplementedError


def history(n_frames: int, k: int) -> np.ndarray:
    """(n_frames, k) frame indices t-k+1 .. t, padded at the start by repeating frame 0."""
    t = np.arange(n_frames)[:, None] + np.arange(-k + 1, 1)[None, :]
    return np.maximum(t, 0)


class FrameStream:
    """Frames of one stream in, one score (and map) per frame out.

    ``push(frame)`` takes an (H, W[, C]) array (uint8/uint16 or float in [0, 1]), brings it
    to the detector's fitted size and channels, keeps the last ``temporal_window`` frames
    (padding the start of the stream by repeating the first frame) and returns
    ``(score, map)``. Scores of a stream are raw (no per-clip normalisation).
    """

    def __init__(self, detector: VideoDetector):
        if not detector.is_fitted:
            raise NotFittedError(f"{detector.name} is not fitted")
        self.detector = detector
        self.k = int(detector.temporal_window)
        self.size = tuple(getattr(detector, "fit_size_", None) or ())
        self.channels = int(getattr(detector, "fit_channels_", 3))
        self._frames: deque[np.ndarray] = deque(maxlen=self.k)

    def push(self, frame: Any) -> tuple[float, np.ndarray | None]:
        arr = np.asarray(frame)
        _frame_channels(arr.shape, "frame")
        _check_size(arr.shape[0], arr.shape[1], "frame")
        _check_pixels(arr, "frame")
        img = to_float(arr)
        if self.size and img.shape[:2] != self.size:
            img = resize_image(img, self.size)
        img = convert_channels(img, self.channels)
        if not self._frames:
            self._frames.extend([img] * self.k)
        else:
            self._frames.append(img)
        score, amap = self.detector._score_window(np.stack(self._frames))
        return float(score), amap
