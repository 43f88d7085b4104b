"""EfficientAD's training inputs: the autoencoder's colour augmentation and the crops (with
their exact target cells) an unpadded PDN is distilled on.

References
----------
Batzner, Heckler & König. EfficientAD: Accurate Visual Anomaly Detection at
Millisecond-Level Latencies. WACV 2024.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def colour_jitter(x: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """One of brightness, contrast or saturation jitter by a factor in [0.8, 1.2] per image
    (the autoencoder's augmentation); ``x`` is (B, 3, H, W) in [0, 1]."""
    out = []
    for img in x:
        f = float(rng.uniform(0.8, 1.2))
        kind = int(rng.integers(3))
        grey = (0.299 * img[0] + 0.587 * img[1] + 0.114 * img[2])[None]
        if kind == 0:
            img = img * f
        elif kind == 1:
            img = (img - grey.mean()) * f + grey.mean()
        else:
            img = (img - grey) * f + grey
        out.append(img.clamp(0, 1))
    return torch.stack(out)


def crop_cells(crop: int) -> int:
    """Cells of an unpadded PDN's output on a ``crop``-pixel square (a multiple of 4, at
    least 36): ``(crop - 32) / 4``; output cell ``i`` sees crop pixels ``[4i, 4i + 33)``."""
    return (int(crop) - 32) // 4


def windows(
    x: torch.Tensor, picks: Sequence[int], offsets: np.ndarray, size: int, scale: int, shift: int
) -> torch.Tensor:
    """Square windows of the (N, C, H, W) ``x``, stacked: window ``j`` of image ``picks[j]``
    starts at row and column ``scale * offsets[j] + shift`` and is ``size`` a side."""
    out = []
    for i, (r, c) in zip(picks, np.asarray(offsets).tolist(), strict=True):
        r0, c0 = scale * int(r) + shift, scale * int(c) + shift
        out.append(x[int(i), :, r0 : r0 + size, c0 : c0 + size])
    return torch.stack(out)


def crop_batch(
    images: np.ndarray, targets: torch.Tensor, picks: np.ndarray, offsets: np.ndarray, crop: int
) -> tuple[np.ndarray, torch.Tensor]:
    """Crops for distilling an unpadded PDN, and their exact targets.

    ``images`` (N, S, S, 3), ``targets`` (N, C, S/4, S/4): the target grid of the *padded*
    PDN on whole images, whose cell ``q`` is centred on pixel ``4q`` (the paper's set-up).
    Crop ``j`` is image ``picks[j]`` from pixel ``4 * offsets[j]`` (row, column), ``crop``
    pixels a side. The unpadded PDN's cell ``i`` on it is centred on image pixel
    ``4 (offset + i + 4)``, so its target is the grid cell ``offset + 4 + i``: the same
    cells, with the same receptive fields, as when distilling on the whole padded image
    (minus the four border cells a side that see padding).
    """
    xs = [
        images[int(i), 4 * int(r) : 4 * int(r) + crop, 4 * int(c) : 4 * int(c) + crop]
        for i, (r, c) in zip(picks, offsets, strict=True)
    ]  # (N, S, S, 3) arrays: rows and columns are axes 1 and 2, not 2 and 3 as in windows()
    return np.stack(xs), windows(targets, picks, offsets, crop_cells(crop), scale=1, shift=4)
