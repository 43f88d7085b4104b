"""How the command line reads images (a folder of images or one image file) and writes
anomaly-map overlays (``normalcy score --maps-dir``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from .input import IMAGE_SUFFIXES, as_images, list_image_files, resize_image

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def read(path: Path) -> str:
    """``path`` checked to be a folder holding images, or one image file."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
        raise InputError(
            f"{path} is a table, but image detectors take a folder of images (or one image)"
        )
    if not path.exists():
        raise InputError(f"image folder {path} does not exist")
    if path.is_dir() and not list_image_files(path):
        raise InputError(
            f"folder {path} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}"
        )
    return str(path)


def write_maps(images: Any, res: Any, folder: Path) -> int:
    """One PNG per image: the image with its anomaly map on a common colour scale."""
    import numpy as np
    from PIL import Image

    from ..viz import heatmap_overlay

    source = as_images(images)
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create --maps-dir {folder}: {exc.strerror or exc}") from None
    maps = res.maps
    vmin, vmax = float(maps.min()), float(np.quantile(maps, 0.999))
    for i, name in enumerate(source.names):
        img = resize_image(source[i], maps.shape[1:3])
        picture = heatmap_overlay(img, maps[i], vmin=vmin, vmax=vmax)
        try:
            Image.fromarray(picture).save(folder / f"{Path(name).stem}.png")
        except OSError as exc:
            raise InputError(f"cannot write to --maps-dir {folder}: {exc}") from None
    return len(source)
