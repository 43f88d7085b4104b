"""Synthetic viewpoints of a clip: the scenarios SA2D meta-trains on when a data set has one
scene, and the new viewpoints its adaptation is evaluated on (docs/video.md, SA2D).

A view maps frames (T, H, W[, C]) to frames of the same size: a mirror, a rotation by 180
degrees, or a zoom on a region (a crop resized back to the full frame, as a camera closer to
one part of the scene would see it). Masks and maps go through the same view.
"""

from __future__ import annotations

import numpy as np

VIEWS = (
    "identity",
    "hflip",
    "vflip",
    "rot180",
    "zoom_center",
    "zoom_left",
    "zoom_right",
    "zoom_top",
    "zoom_bottom",
)
_ZOOM = 0.7  # the crop keeps 70 % of each side


def _zoom_box(kind: str, h: int, w: int) -> tuple[int, int, int, int]:
    ch, cw = max(1, round(h * _ZOOM)), max(1, round(w * _ZOOM))
    top = {"top": 0, "bottom": h - ch}.get(kind, (h - ch) // 2)
    left = {"left": 0, "right": w - cw}.get(kind, (w - cw) // 2)
    return top, left, ch, cw


def apply_view(frames: np.ndarray, view: str) -> np.ndarray:
    """``frames`` (T, H, W[, C]) seen through ``view`` (same shape and dtype)."""
    import cv2

    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}; expected one of {VIEWS}")
    if view == "identity":
        return frames
    if view == "hflip":
        return np.ascontiguousarray(frames[:, :, ::-1])
    if view == "vflip":
        return np.ascontiguousarray(frames[:, ::-1])
    if view == "rot180":
        return np.ascontiguousarray(frames[:, ::-1, ::-1])
    h, w = frames.shape[1:3]
    top, left, ch, cw = _zoom_box(view.split("_", 1)[1], h, w)
    dtype = frames.dtype
    as_float = frames.astype(np.float32) if dtype.kind == "b" else frames
    out = np.stack(
        [
            cv2.resize(
                np.ascontiguousarray(f[top : top + ch, left : left + cw]),
                (w, h),
                interpolation=cv2.INTER_LINEAR,
            )
            for f in as_float
        ]
    )
    if dtype.kind == "b":
        return out > 0.5
    return out.reshape(frames.shape).astype(dtype)
