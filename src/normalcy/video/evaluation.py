"""Frame- and pixel-level scores of video anomaly detection, as the literature reports them.

* frame-level ROC-AUC **micro**: all test frames of all clips concatenated, one AUC
  (the common Ped2/Avenue figure, e.g. Liu et al. 2018);
* frame-level ROC-AUC **macro**: the mean of per-clip AUCs over the clips that hold both
  normal and anomalous frames (clips of one class are left out and counted);
* pixel-level AUROC: every pixel of every test frame against the masks (maps and masks
  brought to one reduced size first, nearest for masks, area-average for maps).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metrics.ranking import auroc


def frame_auroc_micro(labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]) -> float:
    return auroc(np.concatenate(labels).astype(int), np.concatenate(scores))


def frame_auroc_macro(
    labels: Sequence[np.ndarray], scores: Sequence[np.ndarray]
) -> tuple[float, int]:
    """(mean per-clip AUC, number of clips it averages over)."""
    aucs = [
        auroc(np.asarray(y).astype(int), np.asarray(s))
        for y, s in zip(labels, scores, strict=True)
        if 0 < np.mean(y) < 1
    ]
    return (float(np.mean(aucs)) if aucs else float("nan")), len(aucs)


def split_by_clip(values: np.ndarray, lengths: Sequence[int]) -> list[np.ndarray]:
    return np.split(np.asarray(values), np.cumsum(lengths)[:-1])


def downsample_maps(maps: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, H, W) maps area-averaged to ``size``."""
    import torch
    import torch.nn.functional as F

    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return F.adaptive_avg_pool2d(t, size)[:, 0].numpy()


def pixel_auroc(masks: np.ndarray, maps: np.ndarray) -> float:
    """Pixel AUROC of (n, h, w) bool masks and (n, h, w) maps of the same size."""
    return auroc(np.asarray(masks).reshape(-1).astype(int), np.asarray(maps).reshape(-1))


def frame_intervals(
    flags: np.ndarray, lengths: Sequence[int], names: Sequence[str] | None = None
) -> list[tuple[str, int, int]]:
    """Anomalous events as frame intervals: ``(clip, first, last)`` (inclusive) for every
    run of flagged frames (e.g. ``Scores.labels``), never crossing a clip boundary."""
    names = [f"{i:04d}" for i in range(len(lengths))] if names is None else list(names)
    out: list[tuple[str, int, int]] = []
    for name, clip in zip(names, split_by_clip(np.asarray(flags, bool), lengths), strict=True):
        padded = np.concatenate([[False], clip, [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        out.extend((name, int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True))
    return out
