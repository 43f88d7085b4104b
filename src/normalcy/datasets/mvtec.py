"""Image anomaly data sets in the MVTec-AD folder layout, and the common ``ImageDataset``.

MVTec-AD layout of one category folder::

    CATEGORY/train/good/*.png
    CATEGORY/test/good/*.png
    CATEGORY/test/<defect type>/*.png
    CATEGORY/ground_truth/<defect type>/<image stem>_mask.png   (255 = defect)

The same layout is used by MVTec LOCO, VisA (converted), BTAD and many in-house sets. A
root holding several category folders is accepted with ``category=``.

References
----------
Bergmann, Fauser, Sattlegger & Steger. MVTec AD: A Comprehensive Real-World Dataset for
Unsupervised Anomaly Detection. CVPR 2019.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..image.input import list_image_files

GOOD = "good"


@dataclass
class ImageDataset:
    """An image anomaly data set: normal training images, labelled test images and masks.

    Attributes
    ----------
    name: the data set (and category) name.
    train_paths: normal images to fit on.
    test_paths: test images.
    test_labels: (n_test,) int64, 1 = defective.
    test_mask_paths: the defect mask of each test image (None: no defect pixels).
    test_defect_types: the defect type of each test image ("good" for normal ones).
    """

    name: str
    train_paths: list[Path]
    test_paths: list[Path]
    test_labels: np.ndarray
    test_mask_paths: list[Path | None]
    test_defect_types: list[str]
    root: Path | None = None
    mask_threshold: int = 127
    _sizes: dict[int, tuple[int, int]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self.test_labels = np.asarray(self.test_labels, dtype=np.int64)
        n = len(self.test_paths)
        if not (
            len(self.test_labels) == len(self.test_mask_paths) == len(self.test_defect_types) == n
        ):
            raise InputError(
                f"{self.name}: test paths, labels, mask paths and defect types must have the "
                f"same length, got {n}, {len(self.test_labels)}, {len(self.test_mask_paths)}, "
                f"{len(self.test_defect_types)}"
            )

    @property
    def defect_types(self) -> list[str]:
        """The defect types present in the test set (without "good"), sorted."""
        return sorted({t for t in self.test_defect_types if t != GOOD})

    def image_size(self, i: int) -> tuple[int, int]:
        """(H, W) of test image ``i``."""
        if i not in self._sizes:
            from PIL import Image

            with Image.open(self.test_paths[i]) as im:
                w, h = im.size
            self._sizes[i] = (h, w)
        return self._sizes[i]

    def load_mask(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Boolean mask of test image ``i`` at ``size`` (H, W), default the image's own size.

        Masks are read as grayscale and thresholded at ``mask_threshold`` (JPEG-style noise
        in the mask files is ignored); resizing uses nearest-neighbour interpolation.
        """
        from PIL import Image

        path = self.test_mask_paths[i]
        target = tuple(size) if size is not None else self.image_size(i)
        if path is None:
            return np.zeros(target, dtype=bool)
        try:
            with Image.open(path) as im:
                mask = im.convert("L")
                if mask.size != (target[1], target[0]):
                    mask = mask.resize((target[1], target[0]), Image.NEAREST)
                arr = np.asarray(mask)
        except OSError as exc:
            raise InputError(f"cannot read mask file {path}: {exc}") from None
        return arr > self.mask_threshold

    def load_masks(self, size: tuple[int, int], indices: list[int] | None = None) -> np.ndarray:
        """Masks of the test images (all, or ``indices``) resized to ``size``: (n, H, W) bool."""
        idx = range(len(self.test_paths)) if indices is None else indices
        return np.stack([self.load_mask(int(i), size) for i in idx]).astype(bool)

    def summary(self) -> str:
        n_bad = int(self.test_labels.sum())
        return (
            f"{self.name}: {len(self.train_paths)} train, {len(self.test_paths)} test "
            f"({n_bad} defective: {', '.join(self.defect_types) or 'none'})"
        )


def categories(root: str | Path) -> list[str]:
    """Category folders (those with ``train/good``) directly under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"MVTec folder {root} does not exist")
    return sorted(p.name for p in root.iterdir() if (p / "train" / GOOD).is_dir())


def load(root: str | Path, category: str | None = None) -> ImageDataset:
    """Load one category in the MVTec-AD layout (``root`` is the category folder, or the
    collection folder together with ``category``)."""
    root = Path(root)
    folder = root / category if category is not None else root
    if not (folder / "train" / GOOD).is_dir():
        found = categories(root) if root.is_dir() else []
        hint = f"; categories under {root}: {found}" if found else ""
        raise InputError(
            f"{folder} is not an MVTec-style category folder (expected {folder}/train/good, "
            f"{folder}/test/<type>, {folder}/ground_truth/<type>){hint}"
        )
    train = list_image_files(folder / "train" / GOOD)
    if not train:
        raise InputError(f"{folder}/train/good holds no images")
    test_root = folder / "test"
    if not test_root.is_dir():
        raise InputError(f"{folder} has no test folder")
    paths: list[Path] = []
    labels: list[int] = []
    masks: list[Path | None] = []
    types: list[str] = []
    for type_dir in sorted(p for p in test_root.iterdir() if p.is_dir()):
        kind = type_dir.name
        for img in list_image_files(type_dir):
            paths.append(img)
            types.append(kind)
            if kind == GOOD:
                labels.append(0)
                masks.append(None)
                continue
            labels.append(1)
            masks.append(_find_mask(folder / "ground_truth" / kind, img.stem))
    if not paths:
        raise InputError(f"{test_root} holds no test images")
    return ImageDataset(
        name=folder.name,
        train_paths=train,
        test_paths=paths,
        test_labels=np.asarray(labels, dtype=np.int64),
        test_mask_paths=masks,
        test_defect_types=types,
        root=folder,
    )


def _find_mask(folder: Path, stem: str) -> Path | None:
    """``<stem>_mask.png`` (MVTec AD), or ``<stem>.png`` (other sets in this layout)."""
    for name in (f"{stem}_mask.png", f"{stem}.png", f"{stem}_mask.bmp", f"{stem}.bmp"):
        p = folder / name
        if p.is_file():
            return p
    return None
