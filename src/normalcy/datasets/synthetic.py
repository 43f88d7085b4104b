"""Synthetic data with known anomalies: the built-in demo's data and the tests' fixtures.

Three generators, numpy only, deterministic for a given ``seed``:

* ``make_images``: textured surfaces (oriented stripes on a fine grain) with planted defects
  (scratches, spots, missing-texture patches, colour stains) and their exact pixel masks.
* ``make_series``: a correlated seasonal multivariate series whose test part holds one
  labelled window per requested anomaly kind.
* ``make_tabular``: a few correlated Gaussian clusters as normal data; a small clustered
  group plus scattered points as outliers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.errors import InputError

DEFECT_KINDS = ("scratch", "spot", "missing", "stain")
SERIES_KINDS = ("point", "contextual", "collective", "level_shift", "frequency")


# ---------------------------------------------------------------------------------------
# images
# ---------------------------------------------------------------------------------------
@dataclass
class ImageSplit:
    """Images of one textured surface.

    Attributes
    ----------
    train: (N, H, W, 3) uint8 defect-free images.
    test: (M, H, W, 3) uint8 images, some with defects.
    labels: (M,) int64, 1 = the image has a defect.
    masks: (M, H, W) bool, the defect's pixels (all False for normal images).
    kinds: the defect kind of each test image ("" for normal ones).
    """

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    kinds: list[str] = field(default_factory=list)


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    """Gaussian-filtered white noise (periodic, via FFT), scaled to unit variance."""
    noise = rng.standard_normal((size, size))
    f = np.fft.fftfreq(size)
    kernel = np.exp(-2.0 * (np.pi * sigma) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    out = np.real(np.fft.ifft2(np.fft.fft2(noise) * kernel))
    return out / (out.std() + 1e-12)


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """One defect-free surface: float (H, W, 3) in [0, 255] with small random variation."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    theta = np.deg2rad(35.0 + rng.uniform(-6.0, 6.0))
    period = size / 12.0 * rng.uniform(0.92, 1.08)
    warp = 2.0 * _smooth_noise(rng, size, sigma=size / 10.0)  # grain: wavy stripes
    phase = rng.uniform(0, 2 * np.pi)
    stripes = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta) + warp) / period + phase)
    grain = _smooth_noise(rng, size, sigma=1.0)
    base = np.array([150.0, 118.0, 84.0]) + rng.uniform(-6.0, 6.0, size=3)
    luminance = 22.0 * stripes + 7.0 * grain + rng.normal(0.0, 2.0, (size, size))
    img = base[None, None, :] * (1.0 + luminance[:, :, None] / 150.0)
    return np.clip(img, 0, 255)


def _ellipse_mask(rng: np.random.Generator, size: int, r_min: float, r_max: float) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    margin = r_max + 2
    cy, cx = rng.uniform(margin, size - margin, size=2)
    a, b = rng.uniform(r_min, r_max, size=2)
    ang = rng.uniform(0, np.pi)
    dy, dx = yy - cy, xx - cx
    u = dx * np.cos(ang) + dy * np.sin(ang)
    v = -dx * np.sin(ang) + dy * np.cos(ang)
    # A wobbly rim makes spots and stains irregular rather than perfect ellipses.
    wobble = 1.0 + 0.15 * np.sin(3 * np.arctan2(v, u) + rng.uniform(0, 2 * np.pi))
    return (u / a) ** 2 + (v / b) ** 2 <= wobble**2


def _plant_defect(
    rng: np.random.Generator, img: np.ndarray, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Return (defective image, exact mask of the changed pixels)."""
    size = img.shape[0]
    out = img.copy()
    if kind == "scratch":
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
        length = rng.uniform(0.3, 0.55) * size
        ang = rng.uniform(0, np.pi)
        cy, cx = rng.uniform(0.3 * size, 0.7 * size, size=2)
        p0 = np.array([cy, cx]) - 0.5 * length * np.array([np.sin(ang), np.cos(ang)])
        d = np.array([np.sin(ang), np.cos(ang)])
        rel_y, rel_x = yy - p0[0], xx - p0[1]
        t = np.clip(rel_y * d[0] + rel_x * d[1], 0.0, length)
        dist = np.hypot(rel_y - t * d[0], rel_x - t * d[1])
        mask = dist <= rng.uniform(0.8, 1.6)
        colour = np.array([235.0, 230.0, 220.0]) if rng.random() < 0.5 else np.array([40.0, 30, 25])
        out[mask] = colour
    elif kind == "spot":
        mask = _ellipse_mask(rng, size, size * 0.03, size * 0.08)
        out[mask] = out[mask] * 0.35
    elif kind == "missing":
        h, w = (rng.uniform(0.12, 0.22, size=2) * size).astype(int)
        y0 = int(rng.integers(2, size - h - 2))
        x0 = int(rng.integers(2, size - w - 2))
        mask = np.zeros((size, size), dtype=bool)
        mask[y0 : y0 + h, x0 : x0 + w] = True
        flat = img.reshape(-1, 3).mean(axis=0) * 0.85  # bare, texture-less substrate
        out[mask] = flat + rng.normal(0.0, 1.5, size=(int(mask.sum()), 3))
    elif kind == "stain":
        mask = _ellipse_mask(rng, size, size * 0.06, size * 0.13)
        tint = (
            np.array([60.0, 150.0, 70.0]) if rng.random() < 0.5 else np.array([70.0, 80.0, 170.0])
        )
        strength = rng.uniform(0.55, 0.75)
        out[mask] = (1 - strength) * out[mask] + strength * tint
    else:  # pragma: no cover - kinds are checked by the caller
        raise InputError(f"unknown defect kind {kind!r}; expected one of {DEFECT_KINDS}")
    return np.clip(out, 0, 255), mask


def make_images(
    n_train: int = 32,
    n_test: int = 16,
    size: int = 128,
    anomaly_ratio: float = 0.5,
    seed: int = 0,
) -> ImageSplit:
    """Textured surface images with planted defects and exact masks.

    Every image is one surface family (oriented wavy stripes on a fine grain, wood-like
    colour) with small random variation in orientation, stripe period, phase and tint. A
    fraction ``anomaly_ratio`` of the test images (rounded, at least one when the ratio is
    positive) carries one defect, cycling through scratches, spots, missing-texture
    patches and colour stains.

    Parameters
    ----------
    n_train, n_test:
        Numbers of training (all normal) and test images.
    size:
        Side of the square images in pixels (at least 32).
    anomaly_ratio:
        Fraction of test images with a defect, in [0, 1].
    seed:
        Seed of the random generator; same seed, same images.
    """
    if n_train < 1 or n_test < 1:
        raise InputError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
    if size < 32:
        raise InputError(f"size must be at least 32 pixels, got {size}")
    if not 0.0 <= anomaly_ratio <= 1.0:
        raise InputError(f"anomaly_ratio must lie in [0, 1], got {anomaly_ratio}")
    rng = np.random.default_rng(seed)
    train = np.stack([_texture(rng, size) for _ in range(n_train)]).round().astype(np.uint8)
    n_bad = int(round(anomaly_ratio * n_test))
    if anomaly_ratio > 0 and n_bad == 0:
        n_bad = 1
    labels = np.zeros(n_test, dtype=np.int64)
    labels[rng.permutation(n_test)[:n_bad]] = 1
    test = np.empty((n_test, size, size, 3), dtype=np.uint8)
    masks = np.zeros((n_test, size, size), dtype=bool)
    kinds: list[str] = []
    k = int(rng.integers(len(DEFECT_KINDS)))
    for i in range(n_test):
        img = _texture(rng, size)
        kind = ""
        if labels[i]:
            kind = DEFECT_KINDS[k % len(DEFECT_KINDS)]
            k += 1
            bad, mask = _plant_defect(rng, img, kind)
            # Exact mask: the defect's pixels whose stored value really changed.
            masks[i] = mask & np.any(bad.round() != img.round(), axis=-1)
            img = bad
        test[i] = img.round().astype(np.uint8)
        kinds.append(kind)
    return ImageSplit(train=train, test=test, labels=labels, masks=masks, kinds=kinds)


# ---------------------------------------------------------------------------------------
# time series
# ---------------------------------------------------------------------------------------
@dataclass
class SeriesSplit:
    """A multivariate series: normal history, then a test part with labelled windows.

    Attributes
    ----------
    train: (T0, C) float64 normal history.
    test: (T1, C) float64, continuing ``train`` in time.
    labels: (T1,) int64, 1 = anomalous time step.
    windows: inclusive (start, end) index ranges of the anomalies, in test coordinates.
    kinds: the anomaly kind of each window.
    period: the main seasonal period in time steps.
    """

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    windows: list[tuple[int, int]]
    kinds: list[str]
    period: int = 100


def _seasonal(t: np.ndarray, period: float, phase: float) -> np.ndarray:
    w = 2 * np.pi * t / period + phase
    return np.sin(w) + 0.4 * np.sin(2 * w + 0.7)


def make_series(
    train_length: int = 2000,
    test_length: int = 2000,
    n_channels: int = 3,
    kinds: tuple[str, ...] = ("point", "contextual", "collective"),
    seed: int = 0,
) -> SeriesSplit:
    """A correlated seasonal multivariate series with one labelled anomaly per kind.

    Each channel is a scaled, phase-lagged copy of one shared seasonal signal (period 100)
    plus correlated noise and a slow drift-free offset. The test part continues the train
    part in time; it is split into ``len(kinds)`` equal segments and each kind's window is
    placed at a random position inside its own segment, so windows never overlap.

    Kinds: ``"point"`` (a one-step spike in one channel, outside its normal range), ``"contextual"`` (values inside
    the normal range but in the wrong phase: the season jumps half a period for a short span),
    ``"collective"`` (a span whose shape changes to a flat, noisy plateau), ``"level_shift"``
    (a span shifted up by several noise levels), ``"frequency"`` (a span at double frequency).
    """
    unknown = [k for k in kinds if k not in SERIES_KINDS]
    if unknown:
        raise InputError(f"unknown anomaly kind(s) {unknown}; expected some of {SERIES_KINDS}")
    if n_channels < 1:
        raise InputError(f"n_channels must be >= 1, got {n_channels}")
    period = 100
    if train_length < period:
        raise InputError(f"train_length must be at least {period} (one period), got {train_length}")
    min_test = max(period, 2 * period * len(kinds))
    if test_length < min_test:
        raise InputError(
            f"test_length {test_length} is too short for {len(kinds)} anomaly window(s); "
            f"give at least {min_test} time steps"
        )
    rng = np.random.default_rng(seed)
    total = train_length + test_length
    t = np.arange(total, dtype=np.float64)
    gains = rng.uniform(0.8, 1.5, n_channels)
    lags = rng.uniform(-0.6, 0.6, n_channels)
    offsets = rng.uniform(-1.0, 1.0, n_channels)
    mixing = np.eye(n_channels) + 0.5 * rng.uniform(-1, 1, (n_channels, n_channels))
    noise_level = 0.12
    noise = rng.standard_normal((total, n_channels)) @ mixing.T
    noise *= noise_level / noise.std(axis=0, keepdims=True)

    def clean(tt: np.ndarray, per: float = period) -> np.ndarray:
        return np.stack(
            [gains[c] * _seasonal(tt, per, lags[c]) + offsets[c] for c in range(n_channels)],
            axis=1,
        )

    values = clean(t) + noise
    test = values[train_length:].copy()
    test_t = t[train_length:]
    segment = test_length // max(len(kinds), 1)
    windows: list[tuple[int, int]] = []
    lengths = {
        "point": 1,
        "contextual": period // 4,
        "collective": period // 2,
        "level_shift": period,
        "frequency": period,
    }
    for i, kind in enumerate(kinds):
        length = min(lengths[kind], segment - 20)
        lo = i * segment + 10
        hi = (i + 1) * segment - 10 - length
        start = int(rng.integers(lo, max(hi, lo) + 1))
        end = start + length - 1
        sl = slice(start, end + 1)
        if kind == "point":
            c = int(rng.integers(n_channels))
            spread = float(np.ptp(values[:train_length, c]))
            centre = float(np.median(values[:train_length, c]))
            # Pushed away from the centre, so the spike always leaves the normal range.
            test[start, c] += (1.0 if test[start, c] >= centre else -1.0) * 0.7 * spread
        elif kind == "contextual":
            # Half a period out of phase: every value is a normal value, at the wrong time.
            test[sl] += clean(test_t[sl] + period / 2) - clean(test_t[sl])
        elif kind == "collective":
            plateau = test[start - 1] if start > 0 else test[start]
            test[sl] = plateau[None, :] + rng.normal(0.0, 0.02, (length, n_channels))
        elif kind == "level_shift":
            test[sl] += 8 * noise_level * np.sign(gains)[None, :]
        elif kind == "frequency":
            test[sl] += clean(test_t[sl], period / 2.5) - clean(test_t[sl])
        windows.append((start, end))
    labels = np.zeros(test_length, dtype=np.int64)
    for start, end in windows:
        labels[start : end + 1] = 1
    return SeriesSplit(
        train=values[:train_length].copy(),
        test=test,
        labels=labels,
        windows=windows,
        kinds=list(kinds),
        period=period,
    )


# ---------------------------------------------------------------------------------------
# tabular
# ---------------------------------------------------------------------------------------
@dataclass
class TabularSplit:
    """Tabular data: normal training rows, and test rows with outlier labels.

    Attributes
    ----------
    train: (n, d) float64, normal rows only.
    test: (m, d) float64.
    labels: (m,) int64, 1 = outlier.
    """

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray


def make_tabular(
    n_train: int = 1000,
    n_test: int = 500,
    n_features: int = 10,
    contamination: float = 0.1,
    seed: int = 0,
) -> TabularSplit:
    """Correlated Gaussian clusters as normal data; clustered plus scattered outliers.

    Normal rows come from three Gaussian clusters with random full covariances. Of the
    ``round(contamination * n_test)`` outliers, half form one small tight group and the rest
    are scattered in a wide box; every scattered point and the group's centre lie far from
    each cluster (Mahalanobis distance) and outside the normal range in at least one
    feature. Test rows are shuffled.
    """
    if n_train < 2 or n_test < 1:
        raise InputError(f"n_train must be >= 2 and n_test >= 1, got {n_train} and {n_test}")
    if n_features < 1:
        raise InputError(f"n_features must be >= 1, got {n_features}")
    if not 0.0 <= contamination < 1.0:
        raise InputError(f"contamination must lie in [0, 1), got {contamination}")
    rng = np.random.default_rng(seed)
    d = n_features
    n_clusters = 3
    means = rng.uniform(-3.0, 3.0, (n_clusters, d))
    factors = []
    for _ in range(n_clusters):
        a = rng.normal(0.0, 1.0, (d, d)) / np.sqrt(d)
        factors.append(0.4 * np.eye(d) + a)  # correlated features, well conditioned
    weights = np.array([0.5, 0.3, 0.2])
    precisions = [np.linalg.inv(f @ f.T) for f in factors]

    def normal_rows(n: int) -> np.ndarray:
        comp = rng.choice(n_clusters, size=n, p=weights)
        z = rng.standard_normal((n, d))
        return np.stack([means[k] + factors[k] @ z[i] for i, k in enumerate(comp)])

    # An outlier is far from every cluster (squared Mahalanobis distance above the chi2(d)
    # mean + 6 sd) and outside the normal range (3.5 sd of some cluster) in >= 1 feature.
    cutoff = d + 6.0 * np.sqrt(2.0 * d)
    sds = np.stack([np.sqrt(np.sum(f**2, axis=1)) for f in factors])
    lo, hi = (means - 3.5 * sds).min(axis=0), (means + 3.5 * sds).max(axis=0)

    def is_outlier(x: np.ndarray) -> np.ndarray:
        d2 = np.stack(
            [
                np.einsum("ij,jk,ik->i", x - means[k], precisions[k], x - means[k])
                for k in range(n_clusters)
            ]
        )
        return (d2.min(axis=0) > cutoff) & np.any((x < lo) | (x > hi), axis=1)

    def sample_outliers(n: int) -> np.ndarray:
        found: list[np.ndarray] = []
        while sum(len(f) for f in found) < n:
            cand = rng.uniform(lo - 3.0, hi + 3.0, (8 * n + 16, d))
            found.append(cand[is_outlier(cand)])
        return np.concatenate(found)[:n]

    n_out = int(round(contamination * n_test))
    n_group = n_out // 2
    outliers = [sample_outliers(n_out - n_group)]
    if n_group:
        centre = sample_outliers(1)[0]
        outliers.append(centre + rng.normal(0.0, 0.3, (n_group, d)))
    test_normal = normal_rows(n_test - n_out)
    test = np.concatenate([test_normal, *outliers]) if outliers else test_normal
    labels = np.r_[np.zeros(n_test - n_out), np.ones(n_out)].astype(np.int64)
    order = rng.permutation(n_test)
    return TabularSplit(
        train=normal_rows(n_train).astype(np.float64),
        test=test[order].astype(np.float64),
        labels=labels[order],
    )
