"""Perlin noise and the anomaly masks DRAEM draws from it (numpy only).

``perlin_noise`` is classic 2-D gradient noise (Perlin 2002: random unit gradients on a
lattice, quintic fade); ``fractal_noise`` sums octaves of it. ``perlin_mask`` follows DRAEM's
simulator: noise at a random lattice scale ``2**k`` per axis, rotated by a random angle and
thresholded, giving irregular blob-shaped regions of random size and count.

References
----------
Perlin. Improving noise. SIGGRAPH 2002.
Zavrtanik, Kristan, Skočaj. DRAEM — A discriminatively trained reconstruction embedding
for surface anomaly detection. ICCV 2021.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def perlin_noise(
    shape: tuple[int, int], res: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    """Gradient noise of ``shape`` with ``res`` lattice cells per axis; values in about
    [-1, 1], float32."""
    h, w = int(shape[0]), int(shape[1])
    ry, rx = max(1, int(res[0])), max(1, int(res[1]))
    angles = rng.uniform(0.0, 2.0 * np.pi, size=(ry + 1, rx + 1))
    gy, gx = np.sin(angles), np.cos(angles)
    ys = np.arange(h) * (ry / h)
    xs = np.arange(w) * (rx / w)
    y0, x0 = ys.astype(int), xs.astype(int)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    Y0, X0 = y0[:, None], x0[None, :]

    def dot(dy: int, dx: int) -> np.ndarray:
        return gy[Y0 + dy, X0 + dx] * (fy - dy) + gx[Y0 + dy, X0 + dx] * (fx - dx)

    u, v = _fade(fy), _fade(fx)
    top = dot(0, 0) * (1 - v) + dot(0, 1) * v
    bottom = dot(1, 0) * (1 - v) + dot(1, 1) * v
    return (np.sqrt(2.0) * (top * (1 - u) + bottom * u)).astype(np.float32)


def fractal_noise(
    shape: tuple[int, int],
    res: tuple[int, int],
    rng: np.random.Generator,
    octaves: int = 4,
    persistence: float = 0.5,
) -> np.ndarray:
    """Sum of ``octaves`` Perlin noises, each at twice the lattice frequency and
    ``persistence`` times the amplitude of the previous one (float32)."""
    out = np.zeros(shape, dtype=np.float32)
    amp, total = 1.0, 0.0
    for o in range(int(octaves)):
        f = 2**o
        out += amp * perlin_noise(shape, (res[0] * f, res[1] * f), rng)
        total += amp
        amp *= persistence
    return out / total


def perlin_mask(
    shape: tuple[int, int],
    rng: np.random.Generator,
    max_scale_exp: int | None = None,
    threshold: float = 0.5,
) -> np.ndarray:
    """DRAEM's anomaly mask: thresholded, randomly rotated Perlin noise (bool, may be empty).

    The lattice has ``2**kx`` x ``2**ky`` cells with ``kx, ky`` drawn independently from
    ``[0, max_scale_exp)``; DRAEM uses 6 on 256-pixel images, and by default the exponent
    is scaled with the image so the finest blobs stay about 8 pixels across.
    """
    h, w = int(shape[0]), int(shape[1])
    if max_scale_exp is None:
        max_scale_exp = max(1, min(6, int(np.log2(max(1, min(h, w) // 8))) + 1))
    ky, kx = rng.integers(0, int(max_scale_exp), size=2)
    noise = perlin_noise((h, w), (2**ky, 2**kx), rng)
    angle = float(rng.uniform(-90.0, 90.0))
    noise = ndimage.rotate(noise, angle, reshape=False, order=1, mode="reflect")
    return noise > threshold
