"""How the command line reads a spectral cube: a ``.npy`` file holding an ``H x W x B``
array, or a ``.npz`` file with a ``cube`` array; read without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError


def read(path: Path) -> np.ndarray:
    path = Path(path)
    if path.suffix not in (".npy", ".npz") or not path.is_file():
        raise InputError(f"{path}: expected a .npy cube or a .npz file with a 'cube' array")
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        with np.load(path, allow_pickle=False) as data:
            if "cube" not in data.files:
                raise InputError(f"{path}: no 'cube' array (found {data.files})")
            return data["cube"]
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable numpy file without pickles ({exc})") from None
