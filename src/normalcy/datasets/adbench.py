"""ADBench's classical tabular outlier data sets (``NAME.npz`` with ``X`` and ``y``).

The unsupervised ADBench protocol fits a detector on ``X`` without ``y`` and scores the same
``X``; ``y`` (1 = outlier) is used only to measure the result.

References
----------
Han, Hu, Huang, Jiang & Zhao. ADBench: Anomaly Detection Benchmark. NeurIPS 2022.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError

_REPO = Path(__file__).resolve().parents[3]


def default_root() -> Path:
    """``$NORMALCY_SHARED/datasets/adbench``, else ``../shared/datasets/adbench`` next to the repo."""
    shared = Path(os.environ.get("NORMALCY_SHARED", _REPO.parent / "shared"))
    return shared / "datasets" / "adbench"


@dataclass
class ADBenchSet:
    """One data set: features, labels and how it was loaded.

    Attributes
    ----------
    name: file stem, e.g. ``"6_cardio"``.
    X: (n, d) float64 features.
    y: (n,) int64, 1 = outlier.
    n_original: rows in the file before any subsampling.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    n_original: int

    @property
    def subsampled(self) -> bool:
        return self.X.shape[0] < self.n_original

    @property
    def contamination(self) -> float:
        return float(self.y.mean())


def _number(stem: str) -> tuple[int, str]:
    m = re.match(r"(\d+)_", stem)
    return (int(m.group(1)) if m else 10**6, stem)


def _root(root: str | Path | None) -> Path:
    path = Path(root) if root is not None else default_root()
    if not path.is_dir():
        raise InputError(
            f"ADBench folder {path} does not exist; pass root=... (a folder of NAME.npz files)"
        )
    return path


def names(root: str | Path | None = None) -> list[str]:
    """Stems of the ``.npz`` files in ``root``, in ADBench's numeric order."""
    return sorted((p.stem for p in _root(root).glob("*.npz")), key=_number)


def resolve(name: str, root: str | Path | None = None) -> str:
    """Full stem for ``name``: ``"cardio"``, ``"6_cardio"`` and ``"6"`` all give ``"6_cardio"``."""
    stems = names(root)
    key = name.lower().removesuffix(".npz")
    for stem in stems:
        low = stem.lower()
        if key == low or low.split("_", 1)[-1] == key or low.split("_", 1)[0] == key:
            return stem
    raise InputError(f"no ADBench data set {name!r} in {_root(root)}; available: {stems}")


def load(
    name: str,
    root: str | Path | None = None,
    max_samples: int | None = None,
    seed: int = 0,
) -> ADBenchSet:
    """Load one data set; with ``max_samples``, larger sets are subsampled.

    Subsampling draws ``max_samples`` rows uniformly without replacement with
    ``numpy.random.default_rng(seed)`` and keeps them in file order, so every detector in a
    benchmark sees the same rows.
    """
    stem = resolve(name, root)
    with np.load(_root(root) / f"{stem}.npz", allow_pickle=False) as data:
        X = np.asarray(data["X"], dtype=np.float64)
        y = np.asarray(data["y"]).astype(np.int64).reshape(-1)
    if X.ndim != 2 or X.shape[0] != y.shape[0]:
        raise InputError(f"{stem}: X has shape {X.shape} but y has {y.shape[0]} entries")
    n = X.shape[0]
    if max_samples is not None and n > max_samples:
        rows = np.sort(np.random.default_rng(seed).choice(n, int(max_samples), replace=False))
        X, y = X[rows], y[rows]
    return ADBenchSet(name=stem, X=X, y=y, n_original=n)
