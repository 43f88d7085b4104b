"""Region- and track-based detection criteria (RBDC, TBDC) of video anomaly localisation.

Ramachandra & Jones, "Street Scene: A new dataset and evaluation protocol for video anomaly
detection", WACV 2020. Frame-level AUC says nothing about *where*; these two criteria
count anomalous regions found against false regions raised:

* ground-truth **regions** are the connected components of each frame's mask; a ground-truth
  **track** is a chain of regions that overlap in consecutive frames of a clip (one object's
  anomaly over time);
* at a threshold, detected regions are the connected components of ``map >= threshold``;
  a detection is a true positive when its IoU with some ground-truth region is at least
  ``beta`` (0.1 in the paper), otherwise a false positive;
* a region is detected when some detection overlaps it with IoU >= ``beta``; a track is
  detected when at least ``alpha`` (0.1) of its regions are;
* RBDC (TBDC) is the area under region (track) detection rate against false positives per
  frame over false-positive rates 0 to 1 (a perfect detector scores 1). Thresholds sweep
  quantiles of the map values, dense near the top.

Maps and masks must be one size (use ``evaluation.downsample_maps`` and the data set's
``masks(i, size)``); the original protocol works at full resolution, so figures at a reduced
size are close to, not identical with, published ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.errors import InputError


@dataclass
class RegionCurves:
    """False positives per frame and detection rates at each threshold, and the two AUCs."""

    thresholds: np.ndarray
    fp_per_frame: np.ndarray
    region_rate: np.ndarray
    track_rate: np.ndarray
    rbdc: float
    tbdc: float
    n_regions: int
    n_tracks: int


def _components(binary: np.ndarray) -> list[np.ndarray]:
    labelled, n = ndimage.label(binary)
    return [labelled == k for k in range(1, n + 1)]


def _tracks(masks: np.ndarray) -> tuple[list[tuple[int, np.ndarray]], np.ndarray]:
    """Ground-truth regions of one clip as (frame, mask) and the track id of each region."""
    regions: list[tuple[int, np.ndarray]] = []
    track_of: list[int] = []
    previous: list[int] = []
    next_track = 0
    for t, frame in enumerate(masks):
        current = []
        for comp in _components(frame):
            linked = [track_of[i] for i in previous if np.any(regions[i][1] & comp)]
            if linked:
                track = min(linked)
            else:
                track, next_track = next_track, next_track + 1
            regions.append((t, comp))
            track_of.append(track)
            current.append(len(regions) - 1)
        previous = current
    return regions, np.asarray(track_of, dtype=int)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.count_nonzero(a | b)
    return np.count_nonzero(a & b) / union if union else 0.0


def _area_to_one(fp: np.ndarray, rate: np.ndarray) -> float:
    """Area under rate(fp) on [0, 1], the curve held flat past its last point."""
    order = np.argsort(fp, kind="stable")
    x = np.concatenate([[0.0], fp[order]])
    y = np.concatenate([[0.0], np.maximum.accumulate(rate[order])])
    at_one = float(np.interp(1.0, x, y))  # held flat past the last point
    keep = x < 1.0
    return float(np.trapezoid(np.append(y[keep], at_one), np.append(x[keep], 1.0)))


def region_track_curves(
    masks: Sequence[np.ndarray],
    maps: Sequence[np.ndarray],
    n_thresholds: int = 60,
    alpha: float = 0.1,
    beta: float = 0.1,
) -> RegionCurves:
    """RBDC and TBDC of per-clip ``maps`` against per-clip bool ``masks``, both (T, h, w)."""
    if len(masks) != len(maps) or not masks:
        raise InputError(f"expected one map array per mask clip, got {len(maps)} and {len(masks)}")
    clips = []
    for i, (mask, amap) in enumerate(zip(masks, maps, strict=True)):
        mask, amap = np.asarray(mask, bool), np.asarray(amap, float)
        if mask.shape != amap.shape or mask.ndim != 3:
            raise InputError(
                f"clip {i}: masks {mask.shape} and maps {amap.shape} differ; "
                "expected (frames, height, width) of one size"
            )
        if not np.all(np.isfinite(amap)):
            raise InputError(f"clip {i}: maps hold NaN or infinite values")
        clips.append((mask, amap, *_tracks(mask)))
    values = np.concatenate([amap.ravel() for _, amap, _, _ in clips])
    # Quantiles dense near the top, where the few anomalous pixels are.
    levels = 1.0 - np.geomspace(1e-5, 0.5, n_thresholds)
    thresholds = np.unique(np.quantile(values, levels))
    n_frames = sum(len(mask) for mask, _, _, _ in clips)
    n_regions = sum(len(regions) for _, _, regions, _ in clips)
    n_tracks = sum(len(set(tracks.tolist())) for _, _, _, tracks in clips)
    fp = np.zeros(len(thresholds))
    region_rate = np.zeros(len(thresholds))
    track_rate = np.zeros(len(thresholds))
    for k, threshold in enumerate(thresholds):
        false_pos = found_regions = found_tracks = 0
        for _, amap, regions, tracks in clips:
            by_frame: dict[int, list[int]] = {}
            for j, (t, _) in enumerate(regions):
                by_frame.setdefault(t, []).append(j)
            hit = np.zeros(len(regions), bool)
            for t, frame_map in enumerate(amap):
                for det in _components(frame_map >= threshold):
                    ious = [(_iou(det, regions[j][1]), j) for j in by_frame.get(t, [])]
                    matched = [j for iou, j in ious if iou >= beta]
                    hit[matched] = True
                    false_pos += not matched
            found_regions += int(hit.sum())
            for track in set(tracks.tolist()):
                found_tracks += bool(hit[tracks == track].mean() >= alpha)
        fp[k] = false_pos / n_frames
        region_rate[k] = found_regions / n_regions if n_regions else 0.0
        track_rate[k] = found_tracks / n_tracks if n_tracks else 0.0
    return RegionCurves(
        thresholds,
        fp,
        region_rate,
        track_rate,
        _area_to_one(fp, region_rate),
        _area_to_one(fp, track_rate),
        n_regions,
        n_tracks,
    )
