"""The Bonn EEG sets (Andrzejak et al., 2001) as prepared in ``../shared/datasets/eeg/bonn``:
``A.npy`` .. ``E.npy``, each 100 single-channel segments of 4097 samples at 173.61 Hz.

Anomaly protocol (the folder's README): normal = A-D, anomaly = E (ictal). ``split`` gives
a fold: a seeded half of each of A-D to fit on; the other halves and all of E to test.

References
----------
Andrzejak, Lehnertz, Mormann, Rieke, David & Elger. Indications of nonlinear deterministic
and finite-dimensional structure in time series of brain electrical activity. Phys. Rev. E
64, 061907 (2001).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError

SAMPLING_RATE = 173.61
NORMAL_SETS = ("A", "B", "C", "D")
ANOMALY_SET = "E"


def load_set(root: str | Path, name: str) -> np.ndarray:
    """One set as a (100, 4097) float32 array (read without pickle)."""
    path = Path(root) / f"{name}.npy"
    if not path.is_file():
        raise InputError(f"{path}: no Bonn set {name!r} (expected A.npy .. E.npy)")
    data = np.load(path, allow_pickle=False)
    if data.ndim != 2:
        raise InputError(f"{path}: expected a segments x samples array, got {data.shape}")
    return data


@dataclass
class Fold:
    """``train``: normal segments to fit on; ``test`` with ``labels`` (1 = E) and ``sets``."""

    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    sets: np.ndarray


def split(root: str | Path, fold: int = 0, n_folds: int = 2, seed: int = 0) -> Fold:
    """Fold ``fold`` of ``n_folds``: each of A-D is permuted (seeded) and cut in ``n_folds``
    parts; part ``fold`` of each is tested, the rest fitted; all of E is tested."""
    rng = np.random.default_rng(seed)
    train, test, sets = [], [], []
    for name in NORMAL_SETS:
        data = load_set(root, name)
        parts = np.array_split(rng.permutation(len(data)), n_folds)
        held = np.sort(parts[fold])
        rest = np.sort(np.concatenate([p for i, p in enumerate(parts) if i != fold]))
        train.append(data[rest])
        test.append(data[held])
        sets += [name] * len(held)
    anomalies = load_set(root, ANOMALY_SET)
    test.append(anomalies)
    sets += [ANOMALY_SET] * len(anomalies)
    labels = np.array([s == ANOMALY_SET for s in sets], dtype=int)
    return Fold(np.concatenate(train), np.concatenate(test), labels, np.array(sets))
