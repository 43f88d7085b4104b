"""NSL-KDD network-connection events (``train.csv`` = KDDTrain+_20Percent, ``test.csv`` =
KDDTest+), for the one-class protocol: fit on normal training rows, score the test rows.

The 41 KDD'99 features are the event fields (``protocol_type``, ``service`` and ``flag``
categorical, the rest numeric); ``attack``, ``difficulty`` and ``label`` are never
features. The test split holds 18 attack types absent from the training split.

References
----------
Tavallaee, Bagheri, Lu & Ghorbani. A Detailed Analysis of the KDD CUP 99 Data Set.
IEEE CISDA 2009.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError

_REPO = Path(__file__).resolve().parents[3]
NOT_FEATURES = ("attack", "difficulty", "label")
CATEGORICAL = ("protocol_type", "service", "flag")


def default_root() -> Path:
    """``$NORMALCY_SHARED/datasets/events/nsl_kdd``, else ``../shared/...`` next to the repo."""
    shared = Path(os.environ.get("NORMALCY_SHARED", _REPO.parent / "shared"))
    return shared / "datasets" / "events" / "nsl_kdd"


@dataclass
class NslKdd:
    """The one-class split.

    Attributes
    ----------
    train: normal training events (``label == 0`` rows of train.csv), features only.
    test: every test event, features only.
    labels: per test event, 1 = attack.
    attacks: per test event, the attack name (``"normal"`` for normal traffic).
    unseen_attack: per test event, True for attack types absent from train.csv.
    """

    train: Any
    test: Any
    labels: np.ndarray
    attacks: np.ndarray
    unseen_attack: np.ndarray


def _read(path: Path) -> Any:
    import pandas as pd

    if not path.is_file():
        raise InputError(f"NSL-KDD file {path} does not exist; pass root=... (train.csv, test.csv)")
    frame = pd.read_csv(path)
    missing = [c for c in (*NOT_FEATURES, *CATEGORICAL) if c not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks the NSL-KDD columns {missing}")
    return frame


def features(frame: Any) -> Any:
    """The 41 feature columns as read (``attack``, ``difficulty`` and ``label`` dropped)."""
    return frame.drop(columns=[c for c in NOT_FEATURES if c in frame.columns])


def load(root: str | Path | None = None, max_test: int | None = None, seed: int = 0) -> NslKdd:
    """Normal training rows and all test rows (``max_test``: a seeded uniform subsample,
    kept in file order, for quick runs)."""
    folder = Path(root) if root is not None else default_root()
    train = _read(folder / "train.csv")
    test = _read(folder / "test.csv")
    if max_test is not None and len(test) > max_test:
        keep = np.sort(np.random.default_rng(seed).choice(len(test), max_test, replace=False))
        test = test.iloc[keep].reset_index(drop=True)
    train_attacks = set(train["attack"].astype(str))
    attacks = test["attack"].astype(str).to_numpy()
    labels = test["label"].to_numpy().astype(np.int64)
    normal = train[train["label"] == 0].reset_index(drop=True)
    return NslKdd(
        train=features(normal),
        test=features(test),
        labels=labels,
        attacks=attacks,
        unseen_attack=np.array([a != "normal" and a not in train_attacks for a in attacks]),
    )
