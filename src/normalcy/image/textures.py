"""Offline image sources for the trained detectors: procedural textures, DRAEM's colour and
geometry augmentations, and DRAEM's anomaly simulation.

DRAEM fills its Perlin masks with textures from the Describable Textures Dataset; EfficientAD
penalises its student on ImageNet images and distils its teacher on ImageNet. None of these
ship offline, so this module makes stand-ins:

* ``procedural_texture``: one random texture from a small family of generators (fractal
  noise, oriented waves, checkers and grids, cellular/Voronoi cells, scattered blobs,
  scratches), in random colours;
* ``augment_image``: DRAEM's augmentation (three random operations among gamma contrast,
  brightness, sharpness, hue/saturation shift, solarise, posterise, invert, auto-contrast,
  equalise and rotation), applied to textures and to training images alike;
* ``anomaly_source``: a texture or an augmented, re-oriented training image;
* ``simulate_anomaly``: DRAEM's blend ``(1 - M) I + (1 - b) M A + b M I``.

Every function takes a ``numpy.random.Generator`` and works on float32 (H, W, 3) images in
[0, 1].

References
----------
Zavrtanik, Kristan, Skočaj. DRAEM — A discriminatively trained reconstruction embedding
for surface anomaly detection. ICCV 2021.
Cimpoi et al. Describing textures in the wild. CVPR 2014 (the DTD that is replaced here).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageEnhance, ImageOps
from scipy import ndimage

from .perlin import fractal_noise, perlin_mask, perlin_noise

Rng = np.random.Generator


def _palette(rng: Rng, k: int) -> np.ndarray:
    """``k`` random colours (k, 3) in [0, 1], sometimes grey."""
    cols = rng.random((k, 3))
    if rng.random() < 0.3:
        cols = np.repeat(cols[:, :1], 3, axis=1)
    return cols.astype(np.float32)


def _colourise(field: np.ndarray, rng: Rng) -> np.ndarray:
    """Map a scalar field to colours by interpolating a random 2-4 colour ramp."""
    f = field - field.min()
    f = f / (f.max() + 1e-8)
    k = int(rng.integers(2, 5))
    cols = _palette(rng, k)
    pos = f * (k - 1)
    i = np.clip(pos.astype(int), 0, k - 2)
    t = (pos - i)[..., None]
    return (cols[i] * (1 - t) + cols[i + 1] * t).astype(np.float32)


def _tex_noise(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    base = int(2 ** rng.integers(1, 4))
    f = fractal_noise(shape, (base, base), rng, octaves=int(rng.integers(2, 5)))
    if rng.random() < 0.4:  # marble-like veins
        yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
        f = np.sin(xx * rng.uniform(0.02, 0.15) + 6.0 * f)
    return _colourise(f, rng)


def _tex_waves(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    theta = rng.uniform(0, np.pi)
    period = rng.uniform(4.0, max(6.0, min(shape) / 3))
    warp = rng.uniform(0, 6) * perlin_noise(shape, (2, 2), rng)
    f = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period + warp)
    if rng.random() < 0.5:  # crossing waves (woven look)
        theta2 = theta + rng.uniform(np.pi / 4, 3 * np.pi / 4)
        f = f + np.sin(2 * np.pi * (xx * np.cos(theta2) + yy * np.sin(theta2)) / period)
    if rng.random() < 0.5:
        f = np.sign(f) * np.abs(f) ** 0.3
    return _colourise(f, rng)


def _tex_checker(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    angle = rng.uniform(0, np.pi / 2)
    u = xx * np.cos(angle) + yy * np.sin(angle)
    v = -xx * np.sin(angle) + yy * np.cos(angle)
    cell = rng.uniform(3.0, max(4.0, min(shape) / 4))
    if rng.random() < 0.5:
        f = (np.floor(u / cell) + np.floor(v / cell)) % 2
    else:  # grid lines
        width = rng.uniform(0.08, 0.3)
        f = ((u / cell) % 1 < width) | ((v / cell) % 1 < width)
    f = f.astype(np.float32) + 0.15 * perlin_noise(shape, (4, 4), rng)
    return _colourise(f, rng)


def _tex_cells(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    n = int(rng.integers(6, 40))
    pts = rng.random((n, 2)) * np.array(shape, dtype=np.float64)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    d = (yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2
    if rng.random() < 0.5:  # flat cells
        cols = _palette(rng, n)
        return cols[np.argmin(d, axis=-1)]
    d.sort(axis=-1)
    f = np.sqrt(d[..., 1]) - np.sqrt(d[..., 0])  # cell borders
    return _colourise(-f, rng)


def _tex_blobs(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    out = np.empty((*shape, 3), dtype=np.float32)
    out[:] = _palette(rng, 1)[0]
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    cols = _palette(rng, 4)
    for _ in range(int(rng.integers(5, 40))):
        cy, cx = rng.random(2) * np.array(shape)
        r = rng.uniform(2.0, max(3.0, min(shape) / 6))
        m = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        out[m] = cols[int(rng.integers(len(cols)))]
    return out


def _tex_scratches(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    base = (
        _tex_noise(shape, rng)
        if rng.random() < 0.5
        else np.broadcast_to(_palette(rng, 1)[0], (*shape, 3)).copy()
    )
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    for _ in range(int(rng.integers(3, 25))):
        ang = rng.uniform(0, np.pi)
        c = rng.random(2) * np.array(shape)
        dist = np.abs((yy - c[0]) * np.cos(ang) - (xx - c[1]) * np.sin(ang))
        base[dist < rng.uniform(0.5, 2.5)] = _palette(rng, 1)[0]
    return base


TEXTURES: dict[str, Callable[[tuple[int, int], Rng], np.ndarray]] = {
    "noise": _tex_noise,
    "waves": _tex_waves,
    "checker": _tex_checker,
    "cells": _tex_cells,
    "blobs": _tex_blobs,
    "scratches": _tex_scratches,
}


def procedural_texture(shape: tuple[int, int], rng: Rng) -> np.ndarray:
    """One random texture (H, W, 3) float32 in [0, 1] from the generators in ``TEXTURES``."""
    kind = list(TEXTURES)[int(rng.integers(len(TEXTURES)))]
    tex = TEXTURES[kind]((int(shape[0]), int(shape[1])), rng)
    return np.clip(tex, 0.0, 1.0).astype(np.float32)


# -- DRAEM's augmentations ----------------------------------------------------------------------


def _to_pil(img: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8))


def _from_pil(im: Image.Image) -> np.ndarray:
    return np.asarray(im, dtype=np.float32) / 255.0


def _gamma(img: np.ndarray, rng: Rng) -> np.ndarray:
    return np.clip(img, 0, 1) ** rng.uniform(0.5, 2.0, size=3).astype(np.float32)


def _brightness(img: np.ndarray, rng: Rng) -> np.ndarray:
    return img * rng.uniform(0.8, 1.2) + rng.uniform(-30, 30) / 255.0


def _sharpness(img: np.ndarray, rng: Rng) -> np.ndarray:
    return _from_pil(ImageEnhance.Sharpness(_to_pil(img)).enhance(rng.uniform(0.0, 2.0)))


def _hue_saturation(img: np.ndarray, rng: Rng) -> np.ndarray:
    hsv = np.asarray(_to_pil(img).convert("HSV"), dtype=np.int16).copy()
    hsv[..., 0] = (hsv[..., 0] + int(rng.integers(-50, 51))) % 256
    hsv[..., 1] = np.clip(hsv[..., 1] + int(rng.integers(-50, 51)), 0, 255)
    return _from_pil(Image.fromarray(hsv.astype(np.uint8), mode="HSV").convert("RGB"))


def _solarize(img: np.ndarray, rng: Rng) -> np.ndarray:
    thr = rng.uniform(32, 128) / 255.0
    return np.where(img >= thr, 1.0 - img, img)


def _posterize(img: np.ndarray, rng: Rng) -> np.ndarray:
    return _from_pil(ImageOps.posterize(_to_pil(img), int(rng.integers(1, 8))))


def _invert(img: np.ndarray, rng: Rng) -> np.ndarray:
    return 1.0 - img


def _autocontrast(img: np.ndarray, rng: Rng) -> np.ndarray:
    return _from_pil(ImageOps.autocontrast(_to_pil(img)))


def _equalize(img: np.ndarray, rng: Rng) -> np.ndarray:
    return _from_pil(ImageOps.equalize(_to_pil(img)))


def _rotate(img: np.ndarray, rng: Rng) -> np.ndarray:
    return ndimage.rotate(
        img, rng.uniform(-45, 45), axes=(0, 1), reshape=False, order=1, mode="reflect"
    )


AUGMENTATIONS: tuple[Callable[[np.ndarray, Rng], np.ndarray], ...] = (
    _gamma,
    _brightness,
    _sharpness,
    _hue_saturation,
    _solarize,
    _posterize,
    _invert,
    _autocontrast,
    _equalize,
    _rotate,
)


def augment_image(img: np.ndarray, rng: Rng, n_ops: int = 3) -> np.ndarray:
    """``n_ops`` distinct random DRAEM augmentations applied in random order."""
    ops = rng.choice(len(AUGMENTATIONS), size=int(n_ops), replace=False)
    out = np.asarray(img, dtype=np.float32)
    for k in ops:
        out = np.clip(AUGMENTATIONS[int(k)](out, rng), 0.0, 1.0).astype(np.float32)
    return out


def random_view(img: np.ndarray, rng: Rng) -> np.ndarray:
    """The image flipped, transposed (if square) and circularly shifted at random."""
    out = img
    if rng.random() < 0.5:
        out = out[::-1]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    if out.shape[0] == out.shape[1] and rng.random() < 0.5:
        out = out.transpose(1, 0, 2)
    dy, dx = rng.integers(0, out.shape[0]), rng.integers(0, out.shape[1])
    return np.ascontiguousarray(np.roll(out, (int(dy), int(dx)), axis=(0, 1)))


def anomaly_source(
    shape: tuple[int, int], rng: Rng, images: np.ndarray | None = None, p_texture: float = 0.5
) -> np.ndarray:
    """DRAEM's anomaly source without DTD: with probability ``p_texture`` (or always when no
    ``images``) a procedural texture, else a re-oriented training image; then three random
    augmentations. ``images``: (N, H, W, 3) uint8 or float in [0, 1] at ``shape``."""
    if images is None or len(images) == 0 or rng.random() < p_texture:
        src = procedural_texture(shape, rng)
    else:
        src = random_view(as_float(images[int(rng.integers(len(images)))]), rng)
    return augment_image(src, rng)


def as_float(img: np.ndarray) -> np.ndarray:
    """uint8 → float32 in [0, 1]; floats pass through as float32."""
    if img.dtype == np.uint8:
        return img.astype(np.float32) / 255.0
    return np.asarray(img, dtype=np.float32)


def simulate_anomaly(
    img: np.ndarray,
    rng: Rng,
    images: np.ndarray | None = None,
    p_anomaly: float = 0.5,
    max_beta: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """DRAEM's simulated anomaly on ``img`` (H, W, 3) float: (image, mask (H, W) float32).

    With probability ``1 - p_anomaly`` the image is returned unchanged with an empty mask.
    Otherwise a Perlin mask ``M`` is filled with an anomaly source ``A`` blended with opacity
    ``1 - b``, ``b ~ U(0, max_beta)``: ``(1 - M) I + (1 - b) M A + b M I``.
    """
    img = as_float(img)
    h, w = img.shape[:2]
    if rng.random() >= p_anomaly:
        return img, np.zeros((h, w), dtype=np.float32)
    mask = perlin_mask((h, w), rng).astype(np.float32)
    if not mask.any():
        return img, mask
    src = anomaly_source((h, w), rng, images)
    beta = float(rng.uniform(0.0, max_beta))
    m = mask[..., None]
    out = (1 - m) * img + (1 - beta) * m * src + beta * m * img
    return np.clip(out, 0.0, 1.0).astype(np.float32), mask
