"""Dense optical-flow magnitude between consecutive frames (OpenCV's Farnebäck method).

References
----------
Farnebäck. Two-Frame Motion Estimation Based on Polynomial Expansion. SCIA 2003.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import NormalcyError


def _cv2():
    try:
        import cv2
    except ImportError:  # pragma: no cover - the video extra installs it
        raise NormalcyError("optical flow needs OpenCV: pip install 'normalcy[video]'") from None
    return cv2


def to_gray_u8(frames: np.ndarray, height: int) -> np.ndarray:
    """(n, H, W, C) float frames → (n, height, W') uint8 grey, aspect ratio kept."""
    cv2 = _cv2()
    gray = frames.mean(axis=3) if frames.shape[3] > 1 else frames[..., 0]
    n, h, w = gray.shape
    width = max(8, int(round(w * height / h)))
    u8 = np.clip(gray * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in u8])


def flow_magnitude(previous: np.ndarray, current: np.ndarray) -> np.ndarray:
    """|flow| (H, W) float32 from ``previous`` to ``current`` (uint8 grey frames)."""
    cv2 = _cv2()
    flow = cv2.calcOpticalFlowFarneback(previous, current, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    return np.sqrt((flow * flow).sum(axis=2)).astype(np.float32)
