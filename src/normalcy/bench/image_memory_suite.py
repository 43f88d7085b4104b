"""Image memory benchmark: peak RAM of fitting on thousands of images.

``normalcy bench image_memory --root ../shared/datasets/mtd [--limit N] [--detectors a,b]``;
from Python ``run(root=..., limit=5000)``.

Protocol
    ``limit`` (default 5,000) training images are made from the training images of an MTD
    or MVTec-layout folder by the eight flips and quarter turns of the square (the dihedral
    group), cycling over the source images, each resized to 256 x 256 and written as a PNG
    to a temporary folder. Each detector (default ``patchcore``) is then fitted, with its
    default parameters, on that *folder* in a fresh process: images are read lazily in
    batches, as a user fitting on a large folder would. Reported: fit seconds, peak
    resident memory of that process (``ru_maxrss``: Python, torch, the detector and its
    memory bank), the peak minus the process's memory before the fit, and the size of the
    saved model file.

Outputs in ``out_dir``: ``image_memory.csv`` and ``image_memory.md``.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .tables import markdown_table

SIZE = 256
DEFAULT_LIMIT = 5000
DEFAULT_DETECTORS = ("patchcore",)
COLUMNS = [
    "detector",
    "n_train",
    "fit_s",
    "rss_before_fit_mb",
    "peak_rss_mb",
    "fit_rss_increase_mb",
    "model_file_mb",
]


def _source_paths(root: Path | None) -> list[Path]:
    from ..datasets import mtd
    from ..image.input import list_image_files

    if root is None:
        root = Path("../shared/datasets/mtd")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"data folder {root} does not exist")
    if (root / "split.json").exists():
        return list(mtd.load(root).train_paths)
    good = root / "train" / "good"
    if good.is_dir():
        return list_image_files(good)
    raise InputError(f"{root} is neither an MTD folder (split.json) nor an MVTec category")


def _dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the eight flips and quarter turns of a square image."""
    out = np.rot90(img, k % 4)
    return np.ascontiguousarray(out[:, ::-1] if k >= 4 else out)


def _write_images(sources: list[Path], n: int, folder: Path) -> None:
    from PIL import Image

    from ..image.input import as_images, resize_image

    src = as_images([str(p) for p in sources])
    for i in range(n):
        j, k = i % len(src), (i // len(src)) % 8
        img = resize_image(src[j], (SIZE, SIZE))
        img = _dihedral((np.clip(img, 0, 1) * 255).round().astype(np.uint8), k)
        Image.fromarray(img).save(folder / f"{i:06d}.png", compress_level=1)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _fit_one(name: str, folder: str, model_path: str) -> dict[str, Any]:
    params = {"verbose": False} if "verbose" in get_class(name).info.params else {}
    det = create(name, **params)
    before = _rss_mb()
    t0 = time.perf_counter()
    det.fit(folder)
    fit_s = time.perf_counter() - t0
    peak = _rss_mb()
    det.save(model_path)
    return {
        "fit_s": fit_s,
        "rss_before_fit_mb": before,
        "peak_rss_mb": peak,
        "fit_rss_increase_mb": peak - before,
        "model_file_mb": Path(model_path).stat().st_size / 2**20,
    }


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Fit each detector on ``limit`` images read from a folder; write peak memory."""
    if dataset not in (None, "mtd", "mvtec"):
        raise InputError(f"unknown image data set {dataset!r}; expected 'mtd' or 'mvtec'")
    n = int(limit) if limit is not None else (64 if quick else DEFAULT_LIMIT)
    if n < 2:
        raise InputError(f"limit must be at least 2 images, got {n}")
    image = {i.name for i in registered("image")}
    names = list(detectors or DEFAULT_DETECTORS)
    unknown = [d for d in names if d not in image]
    if unknown:
        raise InputError(f"not image detectors: {unknown}; registered: {sorted(image)}")
    sources = _source_paths(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="normalcy_memory_") as tmp:
        folder = Path(tmp) / "train"
        folder.mkdir()
        _write_images(sources, n, folder)
        ctx = mp.get_context("spawn")
        for name in names:
            with ctx.Pool(1) as pool:
                res = pool.apply(_fit_one, (name, str(folder), str(Path(tmp) / f"{name}.nc")))
            rows.append({"detector": name, "n_train": n, **res})
    frame = pd.DataFrame(rows, columns=COLUMNS)
    csv = out_dir / "image_memory.csv"
    frame.to_csv(csv, index=False)
    (out_dir / "image_memory.md").write_text(markdown_table(frame), encoding="utf-8")
    return csv
