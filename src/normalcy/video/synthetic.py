"""Synthetic clips for tests and examples: squares moving steadily over a textured floor.

Normal clips: ``n_objects`` bright squares moving right at ``speed`` pixels per frame
(wrapping around). An anomalous clip plants, in frames ``[start, stop)``, one extra square
that moves the wrong way (left) or too fast (``fast_factor`` x speed); its frames are
labelled 1 and its pixels masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SyntheticVideo:
    """Clips (N, T, H, W) uint8, frame labels (N, T) int8 and pixel masks (N, T, H, W) bool."""

    clips: np.ndarray
    labels: np.ndarray
    masks: np.ndarray


def _floor(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    base = 70 + 20 * np.sin(xx / 3.0) * np.cos(yy / 4.0)
    return base + rng.normal(0, 3, size=(h, w))


def make_clips(
    n_clips: int = 4,
    n_frames: int = 16,
    size: tuple[int, int] = (48, 64),
    *,
    n_objects: int = 2,
    side: int = 8,
    speed: int = 2,
    anomaly: str | None = None,
    start: int | None = None,
    stop: int | None = None,
    fast_factor: int = 4,
    seed: int = 0,
) -> SyntheticVideo:
    """Moving-squares clips; ``anomaly`` in {None, "wrong_way", "too_fast", "appearance"}.

    "appearance" plants a dark square that moves normally (a different object, not a
    different motion).
    """
    rng = np.random.default_rng(seed)
    h, w = size
    start = n_frames // 2 if start is None else start
    stop = n_frames if stop is None else stop
    clips = np.zeros((n_clips, n_frames, h, w), np.uint8)
    labels = np.zeros((n_clips, n_frames), np.int8)
    masks = np.zeros((n_clips, n_frames, h, w), bool)
    lanes = np.linspace(side, h - 2 * side, max(n_objects, 1)).astype(int)
    for c in range(n_clips):
        floor = _floor(h, w, rng)
        x0 = rng.integers(0, w, size=n_objects)
        for t in range(n_frames):
            frame = floor + rng.normal(0, 2, size=(h, w))
            for k in range(n_objects):
                x = int(x0[k] + speed * t) % (w - side)
                y = int(lanes[k])
                frame[y : y + side, x : x + side] = 200
            if anomaly is not None and start <= t < stop:
                y = h - side - 2
                step = t - start
                if anomaly == "wrong_way":
                    x = (w - side - 1) - (speed * step) % (w - side)
                elif anomaly == "too_fast":
                    x = (fast_factor * speed * step) % (w - side)
                else:
                    x = (speed * step) % (w - side)
                value = 20 if anomaly == "appearance" else 200
                frame[y : y + side, x : x + side] = value
                masks[c, t, y : y + side, x : x + side] = True
                labels[c, t] = 1
            clips[c, t] = np.clip(frame, 0, 255).astype(np.uint8)
    return SyntheticVideo(clips, labels, masks)
