"""Synthetic spectral cubes and the 3D-CVAE paper's peak-shift anomalies.

``make_cube`` mixes a few smooth endmember spectra (each with absorption features) with
spatially smooth abundances and adds noise. ``inject_shift`` moves an absorption feature by
a few bands in chosen pixels, as the paper shifts the Fe L-edge to simulate defects;
``strongest_feature`` finds a feature to shift in a real cube.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class SyntheticCube:
    cube: np.ndarray  # (H, W, B) float64
    mask: np.ndarray  # (H, W) bool, True where a pixel was made anomalous


def _smooth_field(rng: np.random.Generator, h: int, w: int, k: int) -> np.ndarray:
    field = rng.random((h + 2 * k, w + 2 * k))
    kernel = np.ones(2 * k + 1) / (2 * k + 1)
    for axis in (0, 1):
        field = np.apply_along_axis(np.convolve, axis, field, kernel, mode="same")
    field = field[k : k + h, k : k + w]
    return (field - field.min()) / max(float(np.ptp(field)), 1e-12) + 0.05


def make_cube(
    height: int = 24,
    width: int = 24,
    bands: int = 40,
    n_endmembers: int = 3,
    noise: float = 0.01,
    seed: int = 0,
) -> np.ndarray:
    """A smooth background cube (H, W, B) of mixed endmember spectra plus Gaussian noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, bands)
    ends = []
    for _ in range(n_endmembers):
        base = 0.5 + 0.3 * rng.random() * x
        for _ in range(2):
            centre, depth = rng.uniform(0.15, 0.85), rng.uniform(0.1, 0.3)
            base = base - depth * np.exp(-0.5 * ((x - centre) / 0.03) ** 2)
        ends.append(base)
    abund = np.stack([_smooth_field(rng, height, width, 3) for _ in ends], axis=-1)
    abund /= abund.sum(axis=-1, keepdims=True)
    cube = abund @ np.stack(ends)
    return cube + noise * rng.standard_normal(cube.shape)


def strongest_feature(cube: np.ndarray, half_width: int = 10) -> tuple[int, int]:
    """Band window ``[lo, hi)`` around the deepest absorption feature of the mean spectrum
    (largest drop below its 15-band moving average, away from the ends)."""
    spectrum = cube.reshape(-1, cube.shape[2]).mean(axis=0)
    b = len(spectrum)
    k = min(7, max(1, b // 8))
    smooth = np.convolve(
        np.pad(spectrum, k, mode="edge"), np.ones(2 * k + 1) / (2 * k + 1), "valid"
    )
    depth = (smooth - spectrum) / max(float(np.abs(spectrum).mean()), 1e-12)
    margin = min(half_width, b // 4)
    centre = margin + int(np.argmax(depth[margin : b - margin]))
    return max(0, centre - half_width), min(b, centre + half_width + 1)


def inject_shift(
    cube: np.ndarray, pixels: np.ndarray, shift: float, window: tuple[int, int] | None = None
) -> SyntheticCube:
    """Shift the spectrum inside ``window`` (bands ``[lo, hi)``; default: the strongest
    absorption feature) by ``shift`` bands (fractional shifts interpolate) in the pixels
    where ``pixels`` (an H x W bool mask) is true."""
    out = np.array(cube, dtype=np.float64, copy=True)
    lo, hi = window if window is not None else strongest_feature(out)
    bands = np.arange(out.shape[2], dtype=np.float64)
    inside = np.arange(lo, hi)
    for r, c in zip(*np.nonzero(pixels), strict=True):
        spec = out[r, c].copy()
        out[r, c, inside] = np.interp(inside - shift, bands, spec)
    return SyntheticCube(cube=out, mask=np.asarray(pixels, dtype=bool))


def planted(
    height: int = 24,
    width: int = 24,
    bands: int = 40,
    shift: float = 3.0,
    n_anomalies: int = 6,
    seed: int = 0,
) -> SyntheticCube:
    """A synthetic cube with ``n_anomalies`` pixels whose strongest feature is shifted."""
    cube = make_cube(height, width, bands, seed=seed)
    rng = np.random.default_rng(seed + 1)
    mask = np.zeros((height, width), dtype=bool)
    mask.flat[rng.choice(height * width, n_anomalies, replace=False)] = True
    return inject_shift(cube, mask, shift)
