"""Bilinear resizing as a matrix, in numpy only (no torch), so that code without torch —
the ONNX runtime — resizes maps exactly as the image detectors do."""

from __future__ import annotations

import numpy as np


def interp_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) float64 matrix of 1-D linear interpolation with half-pixel centres, as
    ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)`` does along one
    axis (the identity when ``n_in == n_out``)."""
    m = np.zeros((n_out, n_in))
    src = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), 1.0 - lam)
    np.add.at(m, (rows, i1), lam)
    return m
