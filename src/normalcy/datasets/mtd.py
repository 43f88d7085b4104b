"""The Magnetic Tile Defects data set (Huang et al., 2018) with the shared split.

Layout: ``MT_Free/`` (defect-free) and one folder per defect type (``MT_Blowhole``,
``MT_Break``, ``MT_Crack``, ...), each with ``Imgs/NAME.jpg`` (grayscale image) and
``Imgs/NAME.png`` (pixel mask, 255 = defect). ``split.json`` lists ``train_good`` (the only
images a detector may fit on), ``test_good`` and ``test_defect`` ({type folder: names}).
Image sizes vary (about 100-400 pixels a side).

References
----------
Huang, Qiu & Yuan. Surface defect saliency of magnetic tile. The Visual Computer 36, 2020
(CASE 2018).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from .mvtec import GOOD, ImageDataset

FREE = "MT_Free"


def _image(root: Path, folder: str, name: str) -> Path:
    path = root / folder / "Imgs" / f"{name}.jpg"
    if not path.is_file():
        raise InputError(f"MTD: image {path} listed in split.json does not exist")
    return path


def load(root: str | Path) -> ImageDataset:
    """Load MTD from ``root`` (the folder holding ``split.json`` and the ``MT_*`` folders).

    Defect types are the folder names without the ``MT_`` prefix in lower case
    (``blowhole``, ``break``, ``crack``, ...); normal test images have type "good".
    """
    root = Path(root)
    split_file = root / "split.json"
    if not split_file.is_file():
        raise InputError(f"MTD folder {root} has no split.json (expected {split_file})")
    try:
        split = json.loads(split_file.read_text())
        train_names = list(split["train_good"])
        test_good = list(split["test_good"])
        test_defect = dict(split["test_defect"])
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(
            f"{split_file} is not a valid split (expected keys train_good, test_good, "
            f"test_defect): {exc}"
        ) from None
    overlap = set(train_names) & set(test_good)
    if overlap:
        raise InputError(f"{split_file}: {len(overlap)} images are both in train and test")
    train = [_image(root, FREE, n) for n in train_names]
    paths = [_image(root, FREE, n) for n in test_good]
    masks: list[Path | None] = [None] * len(test_good)
    types = [GOOD] * len(test_good)
    for folder in sorted(test_defect):
        kind = folder.removeprefix("MT_").lower()
        for name in test_defect[folder]:
            paths.append(_image(root, folder, name))
            mask = root / folder / "Imgs" / f"{name}.png"
            masks.append(mask if mask.is_file() else None)
            types.append(kind)
    labels = np.asarray([0 if t == GOOD else 1 for t in types], dtype=np.int64)
    return ImageDataset(
        name="mtd",
        train_paths=train,
        test_paths=paths,
        test_labels=labels,
        test_mask_paths=masks,
        test_defect_types=types,
        root=root,
    )
