"""The UCR Time Series Anomaly Archive (Wu & Keogh, 2021): one anomaly per series.

A file ``NNN_UCR_Anomaly_NAME_TRAINEND_BEGIN_END.txt`` holds the values, one per line (a few
archive files put many values on one line separated by whitespace; both are read). Points
``[0, TRAINEND)`` are normal training data; the anomaly spans ``[BEGIN, END]`` counted from 1
and inclusive, as in the archive. ``UCRSeries.anomaly`` exposes it 0-based and inclusive:
``(BEGIN - 1, END - 1)``.

References
----------
Wu, R. & Keogh, E. Current Time Series Anomaly Detection Benchmarks are Flawed and are
Creating the Illusion of Progress. IEEE TKDE 2021.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError

_NAME = re.compile(r"^(\d+)_UCR_Anomaly_(.+)_(\d+)_(\d+)_(\d+)\.txt$")


@dataclass
class UCRSeries:
    """One archive series. ``anomaly`` is the 0-based inclusive span (start, end)."""

    number: int
    name: str
    values: np.ndarray
    train_end: int
    anomaly: tuple[int, int]
    path: Path | None = None

    @property
    def id(self) -> str:
        return f"{self.number:03d}_{self.name}"

    @property
    def train(self) -> np.ndarray:
        """Normal training part ``values[:train_end]``."""
        return self.values[: self.train_end]

    @property
    def test(self) -> np.ndarray:
        """The part to score, ``values[train_end:]`` (it holds the anomaly)."""
        return self.values[self.train_end :]

    @property
    def labels(self) -> np.ndarray:
        """Boolean (T,) with True on the anomaly span."""
        y = np.zeros(self.values.shape[0], dtype=bool)
        y[self.anomaly[0] : self.anomaly[1] + 1] = True
        return y


def parse_name(filename: str) -> tuple[int, str, int, int, int]:
    """(number, name, train_end, begin, end) from an archive file name; begin/end are
    0-based inclusive."""
    match = _NAME.match(Path(filename).name)
    if match is None:
        raise InputError(
            f"{filename!r} is not a UCR archive file name; expected "
            "NNN_UCR_Anomaly_NAME_TRAINEND_BEGIN_END.txt"
        )
    number, name, train_end, begin, end = match.groups()
    begin0, end0 = int(begin) - 1, int(end) - 1
    if end0 < begin0:
        raise InputError(f"{filename!r}: anomaly end {end} comes before its begin {begin}")
    return int(number), name, int(train_end), begin0, end0


def read_values(path: str | Path) -> np.ndarray:
    """All numbers in a file, whether one per line or many per line (whitespace separated)."""
    text = Path(path).read_text()
    try:
        values = np.array(text.split(), dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{path}: could not read the values as numbers ({exc})") from None
    if values.size == 0:
        raise InputError(f"{path} holds no values")
    return values


def load_series(path: str | Path) -> UCRSeries:
    """Read one archive file and check its split and anomaly lie inside the series."""
    path = Path(path)
    number, name, train_end, begin, end = parse_name(path.name)
    values = read_values(path)
    if not 0 < train_end < values.size or end >= values.size:
        raise InputError(
            f"{path.name}: train end {train_end} / anomaly end {end + 1} lie outside the "
            f"series of {values.size} points"
        )
    return UCRSeries(number, name, values, train_end, (begin, end), path)


def list_files(root: str | Path) -> list[Path]:
    """Archive files under ``root`` (searched recursively), sorted by number."""
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"UCR folder {root} does not exist")
    files = [p for p in root.rglob("*_UCR_Anomaly_*.txt") if _NAME.match(p.name)]
    if not files:
        raise InputError(
            f"no UCR archive files (NNN_UCR_Anomaly_NAME_TRAINEND_BEGIN_END.txt) under {root}"
        )
    return sorted(files, key=lambda p: (parse_name(p.name)[0], p.name))


def iter_series(root: str | Path, limit: int | None = None) -> Iterator[UCRSeries]:
    """Yield the archive's series one at a time (they can be long), in file-number order."""
    files = list_files(root)
    for path in files[:limit] if limit else files:
        yield load_series(path)


def load(root: str | Path, limit: int | None = None) -> list[UCRSeries]:
    """All series under ``root`` (or the first ``limit``) as a list."""
    return list(iter_series(root, limit))
