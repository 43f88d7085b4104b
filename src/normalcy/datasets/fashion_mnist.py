"""Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017) from its gzipped IDX files, as the Debian
package ``dataset-fashion-mnist`` installs them in ``/usr/share/datasets/fashion-mnist``.

The IDX reader checks the magic number, the dimension count and that the declared sizes
match the file's length before it allocates anything, so a crafted file cannot make it
allocate more than the file holds.

References
----------
Xiao, Rasul & Vollgraf. Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine
Learning Algorithms. arXiv:1708.07747 (2017).
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from ..core.errors import InputError

DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)  # fmt: skip
_MAX_BYTES = 64 * 2**20
_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def available(root: str | Path = DEBIAN_ROOT) -> bool:
    """True when all four IDX files are present under ``root``."""
    return all((Path(root) / f).is_file() for pair in _FILES.values() for f in pair)


def read_idx(path: str | Path, expected_dims: int) -> np.ndarray:
    """One gzipped IDX file of unsigned bytes (type 0x08) with ``expected_dims`` dimensions."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: not found (install the Debian package dataset-fashion-mnist)")
    with gzip.open(path, "rb") as stream:
        try:
            raw = stream.read(_MAX_BYTES + 1)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: not a readable gzip file ({exc})") from None
    if len(raw) > _MAX_BYTES:
        raise InputError(f"{path}: decompresses to more than {_MAX_BYTES} bytes")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise InputError(f"{path}: not an IDX file of unsigned bytes (magic 00 00 08 xx)")
    dims = raw[3]
    if dims != expected_dims:
        raise InputError(f"{path}: {dims} dimensions, expected {expected_dims}")
    header = 4 + 4 * dims
    if len(raw) < header:
        raise InputError(f"{path}: truncated header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    if math.prod(shape) != len(raw) - header:
        raise InputError(
            f"{path}: header declares shape {shape} but holds {len(raw) - header} bytes of data"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def load(split: str, root: str | Path = DEBIAN_ROOT) -> tuple[np.ndarray, np.ndarray]:
    """``split`` ("train": 60,000, "test": 10,000) as (N, 28, 28) uint8 images and labels."""
    if split not in _FILES:
        raise InputError(f"split must be 'train' or 'test', got {split!r}")
    image_file, label_file = _FILES[split]
    images = read_idx(Path(root) / image_file, 3)
    labels = read_idx(Path(root) / label_file, 1).astype(np.int64)
    if len(images) != len(labels):
        raise InputError(f"{root}: {len(images)} images but {len(labels)} labels in {split}")
    return images, labels
