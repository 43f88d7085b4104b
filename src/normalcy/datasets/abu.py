"""ABU, the Airport-Beach-Urban hyperspectral anomaly scenes (Kang et al., 2017), as
prepared in ``../shared/datasets/spectral/abu``: one ``NAME.npz`` per scene with ``cube``
(H x W x B float32) and ``mask`` (H x W bool, True = anomalous pixel), and ``scenes.json``
with each scene's shape, anomaly count and the published global-RX pixel ROC-AUC.

References
----------
Kang, Zhang, Li, Benediktsson. Hyperspectral Anomaly Detection With Attribute and Edge-
Preserving Filters. IEEE TGRS 55(10), 2017.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError


@dataclass
class Scene:
    """One ABU scene: ``cube`` (H, W, B), ``mask`` (H, W) and the published RX ROC-AUC."""

    name: str
    cube: np.ndarray
    mask: np.ndarray
    rx_auroc: float | None


def scene_names(root: str | Path) -> list[str]:
    """Names of the scenes in ``root`` (sorted)."""
    root = Path(root)
    names = sorted(p.stem for p in root.glob("*.npz"))
    if not names:
        raise InputError(f"{root}: no ABU scenes (expected NAME.npz files with cube and mask)")
    return names


def load_scene(root: str | Path, name: str) -> Scene:
    """Read one scene (without pickle) and its published RX ROC-AUC from scenes.json."""
    root = Path(root)
    path = root / f"{name}.npz"
    if not path.is_file():
        raise InputError(f"{path}: no such ABU scene; available: {scene_names(root)}")
    with np.load(path, allow_pickle=False) as data:
        if not {"cube", "mask"} <= set(data.files):
            raise InputError(f"{path}: expected arrays cube and mask, found {data.files}")
        cube, mask = data["cube"], data["mask"].astype(bool)
    if cube.ndim != 3 or mask.shape != cube.shape[:2]:
        raise InputError(f"{path}: cube {cube.shape} and mask {mask.shape} do not match")
    meta_path = root / "scenes.json"
    rx = None
    if meta_path.is_file():
        rx = json.loads(meta_path.read_text()).get(name, {}).get("global_rx_auroc")
    return Scene(name=name, cube=cube, mask=mask, rx_auroc=None if rx is None else float(rx))


def load(root: str | Path) -> list[Scene]:
    """Every scene in ``root``."""
    return [load_scene(root, name) for name in scene_names(root)]
