"""How the command line reads images (a folder of images, optionally recursive and filtered
by a glob, or one image file) and writes maps (``normalcy score``): heat-map overlays with a
colour bar (``--maps-dir``), raw float32 maps as ``.npy`` or ``.tiff`` (``--maps-out``,
``--map-format``) and binary masks at the calibrated pixel threshold (``--masks``).

Output files are named after the images: an image named ``sub/a.png`` (recursive input
names images by their path below the folder) gets ``sub/a.png`` (overlay), ``sub/a.npy`` or
``sub/a.tiff`` (raw map) and ``sub/a_mask.png`` (mask, 0 or 255) in the output folder.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from ..core.errors import InputError
from .input import IMAGE_SUFFIXES, ImageSource, as_images, list_image_files, resize_image

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
MAP_FORMATS = ("npy", "tiff")
MAP_KINDS = ("overlay", "raw", "mask")


def read(path: Path, recursive: bool = False, pattern: str | None = None) -> str | ImageSource:
    """``path`` checked to be a folder holding images, or one image file; with
    ``recursive`` or ``pattern``, the selected images of the folder (see
    ``image.input.list_image_files``)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
        raise InputError(
            f"{path} is a table, but image detectors take a folder of images (or one image)"
        )
    if not path.exists():
        raise InputError(f"image folder {path} does not exist")
    if recursive or pattern is not None:
        if not path.is_dir():
            raise InputError(f"--recursive and --glob select files of a folder; {path} is a file")
        return as_images(path, name="images", recursive=recursive, pattern=pattern)
    if path.is_dir() and not list_image_files(path):
        raise InputError(
            f"folder {path} holds no images; expected files ending in {', '.join(IMAGE_SUFFIXES)}"
        )
    return str(path)


def _target(folder: Path, name: str, suffix: str) -> Path:
    """``folder / name`` with ``suffix`` instead of the image's, never outside ``folder``."""
    parts = [p for p in PurePosixPath(str(name).replace("\\", "/")).parts if p not in ("..", ".")]
    rel = Path(*parts) if parts else Path("image")
    out = folder / rel.parent / (rel.stem + suffix)
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def write_maps(
    images: Any,
    res: Any,
    folder: Path,
    *,
    kind: str = "overlay",
    map_format: str = "npy",
    pixel_threshold: float | None = None,
) -> int:
    """Write one file per image into ``folder`` (see the module doc) and return how many.

    ``kind="overlay"``: the image with its map on a colour scale common to all images, a
    colour bar beside it, the pixel threshold marked on it when given. ``kind="raw"``: the
    float32 map as ``.npy`` (no pickle) or float32 ``.tiff``. ``kind="mask"``: ``map >
    pixel_threshold`` as a PNG of 0 and 255.
    """
    if kind not in MAP_KINDS:
        raise InputError(f"kind must be one of {MAP_KINDS}, got {kind!r}")
    if map_format not in MAP_FORMATS:
        raise InputError(f"--map-format must be one of {MAP_FORMATS}, got {map_format!r}")
    if kind == "mask" and pixel_threshold is None:
        raise InputError(
            "masks need a pixel threshold: calibrate the model on held-out normal images "
            "with an fpr (normalcy fit --calibrate or normalcy calibrate)"
        )
    from PIL import Image

    source = as_images(images)
    folder = Path(folder)
    maps = res.maps
    if maps is None or len(maps) != len(source):
        raise InputError(
            f"expected one map per image ({len(source)}), got none or a different count"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if kind == "overlay":
            values = np.concatenate([np.asarray(m).ravel() for m in maps])
            vmin, vmax = float(values.min()), float(np.quantile(values, 0.999))
            if pixel_threshold is not None:
                vmax = max(vmax, float(pixel_threshold))
        for i, name in enumerate(source.names):
            m = np.asarray(maps[i], dtype=np.float32)
            if kind == "raw" and map_format == "npy":
                np.save(_target(folder, name, ".npy"), m, allow_pickle=False)
            elif kind == "raw":
                Image.fromarray(m, mode="F").save(_target(folder, name, ".tiff"))
            elif kind == "mask":
                mask = (m > float(pixel_threshold)).astype(np.uint8) * 255
                Image.fromarray(mask, mode="L").save(_target(folder, name, "_mask.png"))
            else:
                from ..viz import heatmap_overlay

                img = resize_image(source[i], m.shape)
                picture = heatmap_overlay(img, m, vmin=vmin, vmax=vmax, threshold=pixel_threshold)
                Image.fromarray(picture).save(_target(folder, name, ".png"))
    except OSError as exc:
        raise InputError(f"cannot write maps to {folder}: {exc.strerror or exc}") from None
    return len(source)


def read_map(path: Path) -> np.ndarray:
    """A raw map written by ``write_maps(kind="raw")`` (``.npy`` or ``.tiff``) as float32."""
    path = Path(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False).astype(np.float32, copy=False)
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im, dtype=np.float32)
