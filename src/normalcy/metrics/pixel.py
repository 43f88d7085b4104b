"""Localisation metrics for anomaly maps: pixel AUROC, AUPRO and AUPIMO.

Inputs are ground-truth ``masks`` (N, H, W) of 0/1 (or bool) and anomaly ``maps`` (N, H, W),
float32 or float64, higher = more anomalous; a single (H, W) image is accepted. A pixel is
flagged when ``map >= threshold``.

AUPRO and AUPIMO never sort the pixels: they sweep thresholds with one pass of compiled
histogram counting over the maps (numba), and label connected defect regions with a
compiled union-find that only looks at defect pixels, so 1,000 maps of 256 x 256 take a
fraction of a second.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from ..core.errors import InputError
from ._validation import check_rate, pair_maps, undefined
from .ranking import _auroc_sorted

# ----------------------------------------------------------------------------------------------
# compiled kernels

_COARSE_BINS = 16384


@numba.njit(cache=True, nogil=True)
def _find(parent: np.ndarray, p: int) -> int:
    while parent[p] != p:
        parent[p] = parent[parent[p]]
        p = parent[p]
    return p


@numba.njit(cache=True, nogil=True)
def _regions(masks: np.ndarray, maps: np.ndarray, images: np.ndarray):
    """8-connected defect regions of the given images: (region id, score) of every defect pixel."""
    _, h, w = masks.shape
    total = 0
    for i in images:
        for y in range(h):
            for x in range(w):
                if masks[i, y, x]:
                    total += 1
    region = np.empty(total, np.int64)
    score = np.empty(total, np.float64)
    parent = np.empty(h * w, np.int64)
    root_id = np.full(h * w, -1, np.int64)
    n_regions = 0
    pos = 0
    for i in images:
        m = masks[i]
        for y in range(h):
            for x in range(w):
                if not m[y, x]:
                    continue
                p = y * w + x
                parent[p] = p
                # neighbours already visited in raster order: W, NW, N, NE
                for dy, dx in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):
                    yy = y + dy
                    xx = x + dx
                    if yy < 0 or xx < 0 or xx >= w or not m[yy, xx]:
                        continue
                    a = _find(parent, p)
                    b = _find(parent, yy * w + xx)
                    if a != b:
                        if a < b:
                            parent[b] = a
                        else:
                            parent[a] = b
        for y in range(h):
            for x in range(w):
                if m[y, x]:
                    r = _find(parent, y * w + x)
                    if root_id[r] < 0:
                        root_id[r] = n_regions
                        n_regions += 1
                    region[pos] = root_id[r]
                    score[pos] = maps[i, y, x]
                    pos += 1
        for y in range(h):  # reset the roots touched by this image
            for x in range(w):
                if m[y, x]:
                    root_id[_find(parent, y * w + x)] = -1
    return region, score, n_regions


@numba.njit(cache=True, nogil=True, inline="always")
def _coarse_bin(s: float, lo: float, scale: float, k: int) -> int:
    """Coarse bin of a defect-free score s in [lo, hi] (k equal-width bins)."""
    c = int((s - lo) * scale)
    return c if c < k else k - 1


@numba.njit(cache=True, nogil=True)
def _coarse_hist(masks: np.ndarray, maps: np.ndarray, lo: float, scale: float, k: int):
    """Counts of defect-free pixels in k equal-width bins over their range [lo, hi]."""
    hist = np.zeros(k, np.int64)
    flat_m = masks.ravel()
    flat_s = maps.ravel()
    for j in range(flat_s.size):
        if not flat_m[j]:
            hist[_coarse_bin(flat_s[j], lo, scale, k)] += 1
    return hist


@numba.njit(cache=True, nogil=True, inline="always")
def _fine_bucket(s, lo, hi, scale, k, c_lo, offset, n_sub) -> int:
    """0 below the swept range, 1 + fine bin inside it, ``offset[-1] + 1`` above hi.

    Monotone in s, so equal scores share a bucket and order is kept.
    """
    if s > hi:
        return offset[k - c_lo] + 1
    if s < lo:
        return 0
    x = (s - lo) * scale
    if x < c_lo:
        return 0
    c = int(x)
    if c >= k:
        c = k - 1
    ns = n_sub[c - c_lo]
    sub = int((x - c) * ns)
    if sub >= ns:
        sub = ns - 1
    return 1 + offset[c - c_lo] + sub


@numba.njit(cache=True, nogil=True)
def _fine_hists(masks, maps, lo, hi, scale, k, c_lo, offset, n_sub, rscore, rweight):
    """Defect-free pixel counts and region weights per bucket (see _fine_bucket).

    Most defect-free pixels lie below the swept range; a branch-free pass over each block
    collects the others (with one coarse bin of margin) and only those are binned, which
    avoids a mispredicted branch per pixel.
    """
    n_buckets = offset[k - c_lo] + 2
    normal = np.zeros(n_buckets, np.int64)
    region = np.zeros(n_buckets, np.float64)
    flat_m = masks.ravel()
    flat_s = maps.ravel()
    keep_from = lo + (c_lo - 1) / scale if scale > 0 else -np.inf
    block = 4096
    idx = np.empty(block, np.int64)
    n_normal = 0
    for start in range(0, flat_s.size, block):
        stop = min(start + block, flat_s.size)
        n_keep = 0
        for j in range(start, stop):
            ok = not flat_m[j]
            n_normal += ok
            idx[n_keep] = j
            n_keep += ok & (flat_s[j] >= keep_from)
        for q in range(n_keep):
            normal[_fine_bucket(flat_s[idx[q]], lo, hi, scale, k, c_lo, offset, n_sub)] += 1
    normal[0] += n_normal - normal.sum()  # the pixels below the range, never binned
    for j in range(rscore.size):
        region[_fine_bucket(rscore[j], lo, hi, scale, k, c_lo, offset, n_sub)] += rweight[j]
    return normal, region


@numba.njit(cache=True, nogil=True)
def _image_summary(masks: np.ndarray, maps: np.ndarray):
    """Per image: has a defect pixel; over defect-free pixels: min and max score."""
    n = masks.shape[0]
    has = np.zeros(n, np.bool_)
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        m = masks[i].ravel()
        s = maps[i].ravel()
        for j in range(s.size):
            if m[j]:
                has[i] = True
            else:
                v = s[j]
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
    return has, lo, hi


@numba.njit(cache=True, nogil=True)
def _minmax(maps: np.ndarray, images: np.ndarray):
    lo = np.inf
    hi = -np.inf
    for i in images:
        s = maps[i].ravel()
        for j in range(s.size):
            v = s[j]
            if v < lo:
                lo = v
            if v > hi:
                hi = v
    return lo, hi


@numba.njit(cache=True, nogil=True)
def _n_thresholds_below(s, thr: np.ndarray, lo: float, inv_step: float) -> int:
    """Number of thresholds <= s, for sorted ``thr`` spaced about 1 / inv_step apart."""
    k = thr.size
    j = int((s - lo) * inv_step) if s > lo else 0
    if j > k - 1:
        j = k - 1
    while j < k and thr[j] <= s:
        j += 1
    while j > 0 and thr[j - 1] > s:
        j -= 1
    return j


@numba.njit(cache=True, nogil=True)
def _count_at_least(maps: np.ndarray, images: np.ndarray, thr: np.ndarray, inv_step: float):
    """ge[k] = number of pixels of the given images with score >= thr[k]."""
    k = thr.size
    hist = np.zeros(k + 1, np.int64)
    lo = np.float64(thr[0])
    for i in images:
        s = maps[i].ravel()
        for j in range(s.size):
            hist[_n_thresholds_below(s[j], thr, lo, inv_step)] += 1
    ge = np.empty(k, np.int64)
    acc = 0
    for t in range(k, 0, -1):
        acc += hist[t]
        ge[t - 1] = acc
    return ge


@numba.njit(cache=True, nogil=True)
def _tpr_window(masks, maps, images, thr, inv_step: float, a: int, b: int):
    """Per image, fraction of defect pixels with score >= thr[k], for k in [a, b]."""
    width = b - a + 1
    out = np.zeros((images.size, width), np.float64)
    lo = np.float64(thr[0])
    hist = np.zeros(width + 1, np.int64)
    for r in range(images.size):
        i = images[r]
        m = masks[i].ravel()
        s = maps[i].ravel()
        hist[:] = 0
        n_def = 0
        for j in range(s.size):
            if m[j]:
                n_def += 1
                c = _n_thresholds_below(s[j], thr, lo, inv_step)  # flagged for thr[k], k < c
                c = min(max(c, a), b + 1) - a
                hist[c] += 1
        acc = 0
        for t in range(width, 0, -1):
            acc += hist[t]
            out[r, t - 1] = acc / n_def
    return out


# ----------------------------------------------------------------------------------------------
# pixel AUROC


def pixel_auroc(masks: Any, maps: Any) -> float:
    """AUROC over all pixels of all images (each pixel is one sample).

    Ties count one half; empty masks everywhere (or no normal pixel) give NaN.

    References
    ----------
    Bergmann et al., "MVTec AD - A Comprehensive Real-World Dataset for Unsupervised Anomaly
    Detection", CVPR 2019.
    """
    m, a = pair_maps(masks, maps)
    n_pos = int(np.count_nonzero(m))
    if n_pos == 0 or n_pos == m.size:
        return undefined("pixel AUROC", "the masks hold one class only")
    return _auroc_sorted(a[m], a[~m])


# ----------------------------------------------------------------------------------------------
# AUPRO


def _trapezoid_to(x: np.ndarray, y: np.ndarray, x_max: float) -> float:
    """Trapezoidal area under (x, y) for x in [x[0], x_max], y interpolated linearly at x_max."""
    ins = int(np.searchsorted(x, x_max, side="right"))
    area = float(np.trapezoid(y[:ins], x[:ins]))
    if ins < x.size and x[ins - 1] < x_max:
        x0, x1, y0, y1 = x[ins - 1], x[ins], y[ins - 1], y[ins]
        y_at = y0 + (y1 - y0) * (x_max - x0) / (x1 - x0)
        area += 0.5 * (y_at + y0) * (x_max - x0)
    return area


def aupro(masks: Any, maps: Any, fpr_limit: float = 0.3, n_thresholds: int = 100_000) -> float:
    """Normalised area under the per-region overlap (PRO) curve up to a false-positive rate.

    Each 8-connected defect region of each mask counts once, whatever its size: at a threshold
    its overlap is the fraction of its pixels flagged, and PRO is the mean overlap over all
    regions of all images. The x-axis is the false-positive rate over all defect-free pixels of
    all images. The curve runs from (0, 0) to (1, 1); the area up to ``fpr_limit`` (the PRO
    value at the limit interpolated linearly, as in the MVTec AD evaluation code) is divided by
    ``fpr_limit``, so a perfect map scores 1 and constant maps score ``fpr_limit / 2``.

    Thresholds: a coarse histogram of the defect-free scores (16,384 bins) locates the score
    above which ``fpr_limit`` of them lie and how their mass spreads; ``n_thresholds`` fine bins
    are shared out in proportion to that mass, so each holds about ``fpr_limit /
    n_thresholds`` of the FPR, and defect pixels above every normal one form a bucket of their
    own. Pixels sharing a fine bin are treated as tied, which changes the area by at most half
    a bin's FPR width (about 1.5e-6 by default); when every distinct score has its own bin
    (small or quantised maps) the result equals the all-thresholds curve exactly.

    Empty masks everywhere, or no defect-free pixel, give NaN.

    Parameters
    ----------
    masks : array-like (N, H, W) or (H, W)
        1 for defect pixels.
    maps : array-like, same shape
        Anomaly maps.
    fpr_limit : float
        Upper end of the integrated FPR range, in (0, 1]; 0.3 is the standard.
    n_thresholds : int
        Number of bins of the threshold sweep inside the integrated range.

    References
    ----------
    Bergmann, Batzner, Fauser, Sattlegger, Steger, "The MVTec Anomaly Detection Dataset: A
    Comprehensive Real-World Dataset for Unsupervised Anomaly Detection", IJCV 129, 2021;
    Bergmann et al., "Uninformed Students: Student-Teacher Anomaly Detection with
    Discriminative Latent Embeddings", CVPR 2020.
    """
    limit = check_rate(fpr_limit, "fpr_limit", low_open=True)
    if int(n_thresholds) < 2:
        raise InputError(f"n_thresholds={n_thresholds} must be at least 2")
    m, a = pair_maps(masks, maps)
    has, nlo, nhi = _image_summary(m, a)
    images = np.flatnonzero(has)
    if images.size == 0:
        return undefined("AUPRO", "no mask has a defect pixel")
    region, rscore, n_regions = _regions(m, a, images)
    n_normal = m.size - region.size
    if n_normal == 0:
        return undefined("AUPRO", "no defect-free pixel")
    sizes = np.bincount(region, minlength=n_regions).astype(np.float64)
    weight = 1.0 / (sizes[region] * n_regions)

    # coarse pass over the defect-free scores: where does the integrated FPR range start, and
    # how is the normal mass spread inside it?
    lo, hi = float(nlo), float(nhi)
    k1 = _COARSE_BINS
    scale = k1 / (hi - lo) if hi > lo else 0.0
    coarse = _coarse_hist(m, a, lo, scale, k1)
    from_top = np.cumsum(coarse[::-1])[::-1]  # defect-free pixels in coarse bins >= c
    c_lo = max(int(np.flatnonzero(from_top >= limit * n_normal)[-1]) - 1, 0)
    # fine pass: n_thresholds bins shared out in proportion to the mass of each coarse bin, so
    # every fine bin holds about the same share of the FPR
    mass = coarse[c_lo:].astype(np.float64)
    n_sub = np.maximum(np.round(mass / mass.sum() * int(n_thresholds)), 1).astype(np.int64)
    offset = np.r_[0, np.cumsum(n_sub)].astype(np.int64)
    normal_hist, region_hist = _fine_hists(
        m, a, lo, hi, scale, k1, c_lo, offset, n_sub, rscore, weight
    )
    # sweep from the top bucket (defect pixels above every normal one) down to the bottom
    fpr = np.cumsum(normal_hist[::-1]) / n_normal
    pro = np.cumsum(region_hist[::-1])
    x = np.concatenate(([0.0], np.minimum(fpr, 1.0), [1.0]))
    y = np.concatenate(([0.0], np.minimum(pro, 1.0), [1.0]))
    return _trapezoid_to(x, y, limit) / limit


# ----------------------------------------------------------------------------------------------
# AUPIMO


@dataclass(frozen=True)
class AupimoResult:
    """AUPIMO of each image and their mean.

    Attributes
    ----------
    mean : float
        Mean AUPIMO over the anomalous images (NaN when undefined).
    scores : np.ndarray of shape (N,)
        AUPIMO of each image in input order; NaN for normal images (empty mask).
    anomalous : np.ndarray of shape (N,), bool
        Which images have a defect pixel.
    n_points : int
        Number of curve points inside the integration range.
    """

    mean: float
    scores: np.ndarray = field(repr=False)
    anomalous: np.ndarray = field(repr=False)
    n_points: int = 0

    def __float__(self) -> float:
        return float(self.mean)


def _nan_result(n: int, anomalous: np.ndarray, metric: str, reason: str) -> AupimoResult:
    return AupimoResult(undefined(metric, reason), np.full(n, np.nan), anomalous, 0)


def aupimo(
    masks: Any,
    maps: Any,
    fpr_bounds: tuple[float, float] = (1e-5, 1e-4),
    n_thresholds: int = 300_000,
) -> AupimoResult:
    """Area under the per-image overlap (PIMO) curve of every anomalous image.

    Thresholds are ``n_thresholds`` values evenly spaced between the minimum and maximum score
    of the *normal* images (images whose mask is empty). At each threshold the x-axis is the
    mean false-positive rate over the normal images only, and each anomalous image gets its own
    y value, the fraction of its defect pixels flagged (its overlap / TPR). Each image's curve
    is integrated over ``log(FPR)`` between the thresholds whose shared FPR is closest to the
    two bounds, divided by ``log(upper / lower)`` and clipped to [0, 1]: 1 means every defect
    pixel is found before a single false positive per 10,000 normal pixels (default bounds).

    Undefined (NaN, with a warning) when there is no normal or no anomalous image, when the
    normal maps are constant, when the normal images have too few pixels to reach the lower
    FPR bound (it needs at least ``1 / fpr_bounds[0]`` normal pixels), or when at most 30
    curve points fall inside the bounds (raise ``n_thresholds``).

    Returns
    -------
    AupimoResult
        ``.scores`` per image (NaN for normal images), ``.mean`` over anomalous images;
        ``float(result)`` is the mean.

    References
    ----------
    Bertoldo, Ameln, Vaidya, Akçay, "AUPIMO: Redefining Visual Anomaly Detection Benchmarks
    with High Speed and Low Tolerance", arXiv:2401.01984, 2024; reference implementation at
    github.com/jpcbertoldo/aupimo.
    """
    lower, upper = (float(v) for v in fpr_bounds)
    if not (0.0 < lower < upper <= 1.0):
        raise InputError(f"fpr_bounds={fpr_bounds!r} must satisfy 0 < lower < upper <= 1")
    k = int(n_thresholds)
    if k < 2:
        raise InputError(f"n_thresholds={n_thresholds} must be at least 2")
    m, a = pair_maps(masks, maps)
    n = m.shape[0]
    anomalous, _, _ = _image_summary(m, a)
    normal = np.flatnonzero(~anomalous)
    anom = np.flatnonzero(anomalous)
    if anom.size == 0:
        return _nan_result(n, anomalous, "AUPIMO", "no image has a defect pixel")
    if normal.size == 0:
        return _nan_result(n, anomalous, "AUPIMO", "no normal image (empty mask) for the FPR axis")
    lo, hi = _minmax(a, normal)
    if not lo < hi:
        return _nan_result(n, anomalous, "AUPIMO", "the normal images' maps are constant")
    thr = np.linspace(float(lo), float(hi), k, dtype=a.dtype)
    inv_step = (k - 1) / (float(hi) - float(lo))
    n_normal_pixels = normal.size * m.shape[1] * m.shape[2]
    shared_fpr = _count_at_least(a, normal, thr, inv_step) / n_normal_pixels
    if lower < shared_fpr.min() or upper > shared_fpr.max():
        return _nan_result(
            n,
            anomalous,
            "AUPIMO",
            f"the normal images reach FPRs {shared_fpr.min():.3g} to {shared_fpr.max():.3g} only, "
            f"outside fpr_bounds {fpr_bounds} (needs at least {math.ceil(1 / lower)} normal pixels)",
        )
    i_low_fpr = int(np.argmin(np.abs(shared_fpr - lower)))  # high threshold
    i_high_fpr = int(np.argmin(np.abs(shared_fpr - upper)))  # low threshold
    for got, want in ((shared_fpr[i_low_fpr], lower), (shared_fpr[i_high_fpr], upper)):
        if not np.isclose(got, want, rtol=1e-2):
            warnings.warn(
                f"AUPIMO: the FPR bound {want} is only reached as {got:.4g}; raise n_thresholds",
                RuntimeWarning,
                2,
            )
    if i_high_fpr >= i_low_fpr:
        return _nan_result(n, anomalous, "AUPIMO", "both FPR bounds fall on the same threshold")
    tprs = _tpr_window(m, a, anom, thr, inv_step, i_high_fpr, i_low_fpr)
    fpr = shared_fpr[i_high_fpr : i_low_fpr + 1][::-1]
    tprs = tprs[:, ::-1]
    with np.errstate(divide="ignore"):
        log_fpr = np.log(fpr)
    keep = np.isfinite(log_fpr)
    log_fpr, tprs = log_fpr[keep], tprs[:, keep]
    n_points = int(log_fpr.size)
    if n_points <= 30:
        return _nan_result(
            n, anomalous, "AUPIMO", f"only {n_points} curve points within the FPR bounds"
        )
    if n_points < 300:
        warnings.warn(
            f"AUPIMO may be inaccurate: only {n_points} curve points within the FPR bounds; "
            "raise n_thresholds",
            RuntimeWarning,
            2,
        )
    aucs = np.trapezoid(tprs, x=log_fpr, axis=1) / math.log(upper / lower)
    scores = np.full(n, np.nan)
    scores[anom] = np.clip(aucs, 0.0, 1.0)
    return AupimoResult(float(np.mean(scores[anom])), scores, anomalous, n_points)


__all__ = ["AupimoResult", "aupimo", "aupro", "pixel_auroc"]
