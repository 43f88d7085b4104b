"""How the command line reads segments: a ``.npy`` file holding an N x T (or N x T x C)
array; read without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError


def read(path: Path) -> np.ndarray:
    path = Path(path)
    if path.suffix != ".npy" or not path.is_file():
        raise InputError(f"{path}: expected a .npy file of N x T (or N x T x C) segments")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npy without pickles ({exc})") from None
