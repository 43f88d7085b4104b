"""One-class CIFAR-10 as prepared in ``../shared/datasets/oneclass/cifar10``: JPEG images in
``train/CLASS/*.jpg`` (some classes only) and ``test/CLASS/*.jpg`` (all ten classes).

Protocol (Ruff et al., 2018; Golan & El-Yaniv, 2018): one class is normal; fit on its
training images; test on the whole test set, where the other nine classes are anomalies.

References
----------
Krizhevsky. Learning Multiple Layers of Features from Tiny Images. Tech. report (2009).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.errors import InputError

CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer",
    "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_SUFFIXES = {".jpg", ".jpeg", ".png"}


def _read_folder(folder: Path) -> np.ndarray:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no images (expected *.jpg or *.png)")
    images = []
    for path in files:
        with Image.open(path) as image:
            images.append(np.asarray(image.convert("RGB"), dtype=np.uint8))
    shapes = {im.shape for im in images}
    if len(shapes) != 1:
        raise InputError(f"{folder}: images of several sizes {sorted(shapes)}; expected one")
    return np.stack(images)


def train_classes(root: str | Path) -> list[str]:
    """The classes that have training images in this copy (the others are held back)."""
    train = Path(root) / "train"
    if not train.is_dir():
        raise InputError(f"{root}: no train/ folder (expected train/CLASS/*.jpg)")
    return [c for c in CLASSES if (train / c).is_dir()]


def load_split(root: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """All images of ``split`` ("train" or "test") as (N, 32, 32, 3) uint8 and class ids."""
    if split not in ("train", "test"):
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    base = Path(root) / split
    if not base.is_dir():
        raise InputError(f"{base}: not found (expected {split}/CLASS/*.jpg)")
    images, labels = [], []
    for index, name in enumerate(CLASSES):
        if (base / name).is_dir():
            block = _read_folder(base / name)
            images.append(block)
            labels.append(np.full(len(block), index, dtype=np.int64))
    if not images:
        raise InputError(f"{base}: no class folders (expected one of {', '.join(CLASSES)})")
    return np.concatenate(images), np.concatenate(labels)


@dataclass
class OneClassTask:
    """``train``: the normal class's training images; ``test`` with ``labels`` (1 = another
    class) and ``classes`` (the CIFAR-10 class id of each test image)."""

    normal: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    classes: np.ndarray


def one_class_task(root: str | Path, normal: str) -> OneClassTask:
    """The one-class task with ``normal`` as the normal class."""
    if normal not in CLASSES:
        raise InputError(f"unknown CIFAR-10 class {normal!r}; expected one of {CLASSES}")
    folder = Path(root) / "train" / normal
    if not folder.is_dir():
        raise InputError(f"{folder}: no training images for {normal!r} in this copy")
    test, classes = load_split(root, "test")
    labels = (classes != CLASSES.index(normal)).astype(np.int64)
    return OneClassTask(normal, _read_folder(folder), test, labels, classes)
