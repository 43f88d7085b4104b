"""Multivariate server-metric series: SMD (OmniAnomaly) and ASD (InterFusion).

Each entity is a folder holding ``train.npy`` (T x C float, normal history), ``test.npy``
(T' x C), ``test_label.npy`` (0/1 per test step) and ``interpretation_label.txt``: one line
per labelled segment, ``start-end:c1,c2,...`` with the anomalous channels numbered from 1.
The two sets write ``end`` differently (SMD exclusive, ASD inclusive, checked against
``test_label.npy``), so a segment is read as ``[start, end]`` and then cut to the steps that
``test_label`` marks: the labels stay the single truth about *when*, the file only says
*which channels*.

References
----------
Su, Y., Zhao, Y., Niu, C., Liu, R., Sun, W. & Pei, D. Robust Anomaly Detection for
Multivariate Time Series through Stochastic Recurrent Neural Network (OmniAnomaly). KDD 2019.

Li, Z., Zhao, Y., Han, J., Su, Y., Jiao, R., Wen, X. & Pei, D. Multivariate Time Series
Anomaly Detection and Interpretation using Hierarchical Inter-Metric and Temporal Embedding
(InterFusion). KDD 2021.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.errors import InputError

DATASETS = ("smd", "asd")
_FILES = ("train.npy", "test.npy", "test_label.npy")


@dataclass
class Segment:
    """A labelled anomaly: steps ``[start, end]`` (0-based, inclusive) of the test part and
    its anomalous channels (0-based)."""

    start: int
    end: int
    channels: tuple[int, ...]


@dataclass
class MTSEntity:
    """One machine / server: normal ``train`` (T, C), ``test`` (T', C), ``labels`` (T',) bool
    and the interpretation ``segments``."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    segments: list[Segment] = field(default_factory=list)

    @property
    def n_channels(self) -> int:
        return int(self.train.shape[1])


def parse_interpretation(text: str, labels: np.ndarray, n_channels: int) -> list[Segment]:
    """Segments of an ``interpretation_label.txt`` (see the module docstring)."""
    segments: list[Segment] = []
    n = labels.shape[0]
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        try:
            span, chans = line.split(":")
            a, b = (int(v) for v in span.split("-"))
            channels = tuple(sorted({int(c) - 1 for c in chans.split(",") if c.strip()}))
        except ValueError:
            raise InputError(
                f"interpretation label line {lineno} is {line!r}; expected 'start-end:c1,c2,...'"
            ) from None
        if not channels or min(channels) < 0 or max(channels) >= n_channels:
            raise InputError(
                f"interpretation label line {lineno} names channels outside 1..{n_channels}"
            )
        a, b = max(a, 0), min(b, n - 1)
        steps = np.flatnonzero(labels[a : b + 1]) + a
        if steps.size:
            segments.append(Segment(int(steps[0]), int(steps[-1]), channels))
    return segments


def load_entity(path: str | Path) -> MTSEntity:
    """Read one entity folder."""
    path = Path(path)
    missing = [f for f in _FILES if not (path / f).is_file()]
    if missing:
        raise InputError(f"{path} lacks {missing}; expected {list(_FILES)}")
    train = np.load(path / "train.npy", allow_pickle=False).astype(np.float64)
    test = np.load(path / "test.npy", allow_pickle=False).astype(np.float64)
    labels = np.load(path / "test_label.npy", allow_pickle=False).reshape(-1).astype(bool)
    if train.ndim != 2 or test.ndim != 2 or train.shape[1] != test.shape[1]:
        raise InputError(f"{path}: train {train.shape} and test {test.shape} must be (T, C)")
    if labels.shape[0] != test.shape[0]:
        raise InputError(f"{path}: {labels.shape[0]} labels for {test.shape[0]} test steps")
    interp = path / "interpretation_label.txt"
    segments = (
        parse_interpretation(interp.read_text(), labels, train.shape[1]) if interp.is_file() else []
    )
    return MTSEntity(path.name, train, test, labels, segments)


def entity_folders(root: str | Path, limit: int | None = None) -> list[Path]:
    """Entity folders (holding ``train.npy``) under ``root``, sorted by name, at most ``limit``."""
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / "train.npy").is_file())
    if not folders:
        raise InputError(f"no entity folders with train.npy under {root}")
    return folders[:limit]


def entities(root: str | Path, limit: int | None = None) -> Iterator[MTSEntity]:
    """Every entity under ``root`` (sorted by name), at most ``limit``, read one at a time."""
    for folder in entity_folders(root, limit):
        yield load_entity(folder)
