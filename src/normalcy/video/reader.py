"""How the command line reads video (a video file, a frame folder or a folder of clips) and
writes anomaly-map overlays (``normalcy score --maps-dir``: one PNG per frame)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from .input import as_clips


def read(path: Path) -> str:
    """``path`` checked to exist (a video file or a folder); validated when fitted/scored."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"video path {path} does not exist")
    as_clips(path)  # refuses what is not a clip or a folder of clips, with the reason
    return str(path)


def write_maps(clips: Any, res: Any, folder: Path) -> int:
    """One PNG per frame, ``<clip>/<frame>.png``: the frame with its map on one colour scale."""
    import numpy as np
    from PIL import Image

    from ..viz import heatmap_overlay

    source = as_clips(clips)
    folder = Path(folder)
    maps = res.maps
    vmin, vmax = float(maps.min()), float(np.quantile(maps, 0.999))
    k = 0
    for i, clip in enumerate(source.clips):
        where = folder / clip.name
        try:
            where.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create --maps-dir {where}: {exc.strerror or exc}") from None
        for t in range(clip.n_frames):
            img = source.frame(i, t)
            if img.shape[:2] != maps.shape[1:3]:
                from .input import resize_image

                img = resize_image(img, maps.shape[1:3])
            if img.shape[2] == 1:
                img = np.repeat(img, 3, axis=2)
            picture = heatmap_overlay(img, maps[k], vmin=vmin, vmax=vmax)
            Image.fromarray(picture).save(where / f"{t:05d}.png")
            k += 1
    return k
