"""UCSD Ped2 (Mahadevan et al., CVPR 2010) in the shared layout, and ``VideoDataset``.

Layout of the root (``$NORMALCY_SHARED/datasets/video/ped2``)::

    training/NN/FFF.jpg     normal clips (frame folders)
    testing/NN/FFF.jpg      test clips
    labels/NN.npy           int8 per test frame, 1 = anomalous
    masks/NN/FFF.png        0/255 pixel masks, aligned with the test frame of the same number
    split.json              {"training_videos": [...], "test_videos": [...]}

The same layout serves Avenue or ShanghaiTech copies converted to it (``load_folder``).

References
----------
Mahadevan, Li, Bhalodia & Vasconcelos. Anomaly Detection in Crowded Scenes. CVPR 2010.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..image.input import list_image_files


@dataclass
class VideoDataset:
    """A video anomaly data set: normal training clips and labelled test clips.

    Attributes
    ----------
    name: the data set name.
    train_clips: frame folders of the normal training clips.
    test_clips: frame folders of the test clips.
    test_labels: per test clip, an int8 array (T,) with 1 = anomalous frame.
    mask_dirs: per test clip, its folder of pixel masks (None: no masks).
    """

    name: str
    train_clips: list[Path]
    test_clips: list[Path]
    test_labels: list[np.ndarray]
    mask_dirs: list[Path | None]
    root: Path | None = None

    @property
    def test_names(self) -> list[str]:
        return [p.name for p in self.test_clips]

    def labels(self) -> np.ndarray:
        """Frame labels of all test clips concatenated (the order ``score`` returns)."""
        return np.concatenate(self.test_labels).astype(np.int64)

    def masks(self, i: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Pixel masks (T, H, W) bool of test clip ``i`` (all False where no mask file)."""
        from PIL import Image

        n = len(self.test_labels[i])
        folder = self.mask_dirs[i]
        out: np.ndarray | None = None
        for t in range(n):
            path = None if folder is None else _frame_file(folder, t)
            if path is None:
                m = None
            else:
                with Image.open(path) as im:
                    if size is not None and im.size != (size[1], size[0]):
                        im = im.resize((size[1], size[0]), Image.NEAREST)
                    m = np.asarray(im.convert("L")) > 127
            if out is None:
                if m is None:
                    if size is None:
                        raise InputError(f"clip {self.test_names[i]} has no masks; give size")
                    out = np.zeros((n, *size), bool)
                else:
                    out = np.zeros((n, *m.shape), bool)
            if m is not None:
                out[t] = m
        assert out is not None
        return out


def _frame_file(folder: Path, t: int) -> Path | None:
    for pattern in (f"{t:03d}", f"{t:04d}", f"{t:05d}", str(t)):
        for suffix in (".png", ".jpg", ".bmp", ".tif"):
            p = folder / f"{pattern}{suffix}"
            if p.is_file():
                return p
    return None


def default_root() -> Path:
    shared = os.environ.get("NORMALCY_SHARED", "../shared")
    return Path(shared) / "datasets" / "video" / "ped2"


def load_folder(root: str | Path, name: str | None = None) -> VideoDataset:
    """A data set in the layout of the module doc."""
    root = Path(root)
    if not (root / "training").is_dir() or not (root / "testing").is_dir():
        raise InputError(
            f"{root} is not a video data set folder; expected training/ and testing/ "
            "sub-folders of frame folders (see normalcy.datasets.ped2)"
        )
    split_file = root / "split.json"
    if split_file.is_file():
        split = json.loads(split_file.read_text())
        train_names = [str(v) for v in split["training_videos"]]
        test_names = [str(v) for v in split["test_videos"]]
    else:
        train_names = sorted(p.name for p in (root / "training").iterdir() if p.is_dir())
        test_names = sorted(p.name for p in (root / "testing").iterdir() if p.is_dir())
    train = [root / "training" / n for n in train_names]
    test = [root / "testing" / n for n in test_names]
    labels, masks = [], []
    for clip in test:
        n = len(list_image_files(clip))
        label_file = root / "labels" / f"{clip.name}.npy"
        if not label_file.is_file():
            raise InputError(f"no frame labels for test clip {clip.name}: {label_file} is missing")
        lab = np.load(label_file, allow_pickle=False).astype(np.int8).reshape(-1)
        if len(lab) != n:
            raise InputError(f"{label_file} has {len(lab)} labels but clip {clip} has {n} frames")
        labels.append(lab)
        mdir = root / "masks" / clip.name
        masks.append(mdir if mdir.is_dir() else None)
    return VideoDataset(name or root.name, train, test, labels, masks, root=root)


def load(root: str | Path | None = None) -> VideoDataset:
    """UCSD Ped2 from ``root`` (default: ``$NORMALCY_SHARED/datasets/video/ped2``)."""
    root = default_root() if root is None else Path(root)
    if not root.is_dir():
        raise InputError(
            f"Ped2 not found at {root}; set NORMALCY_SHARED or pass the folder holding "
            "training/, testing/, labels/ and masks/"
        )
    return load_folder(root, "ped2")
