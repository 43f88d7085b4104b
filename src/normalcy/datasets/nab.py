"""The Numenta Anomaly Benchmark (NAB): univariate real and artificial streams.

Layout: ``data/GROUP/NAME.csv`` with columns ``timestamp,value``, and
``labels/combined_windows.json`` mapping ``"GROUP/NAME.csv"`` to a list of anomaly windows,
each a ``[start, end]`` pair of timestamps (inclusive). ``NABSeries.windows`` gives the same
windows as inclusive index ranges: ``start`` is the first row at or after the start time and
``end`` the last row at or before the end time. ``labels/combined_labels.json`` (the labelled
anomaly points) is read into ``NABSeries.points`` when present.

NAB has no training split: detectors run online over each file; its scorer ignores the first
15 % of every file, at most 750 rows (the probationary period, ``probationary_length``).

NAB works on rows in file order, and some of its files do not have strictly increasing
timestamps (three AWS files repeat ``03:00`` at a daylight-saving change; the machine
temperature file jumps back 55 minutes once). ``NABSeries.timestamps_increasing`` says which;
``to_series()`` of such a file is rejected by normalcy's detectors (``InputError``: timestamps
must be strictly increasing), so benchmarks feed ``values`` by row, as NAB does.

References
----------
Lavin, A. & Ahmad, S. Evaluating Real-Time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark. IEEE ICMLA 2015.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import InputError

PROBATIONARY_FRACTION = 0.15


def probationary_length(n: int, fraction: float = PROBATIONARY_FRACTION) -> int:
    """NAB's probationary period in rows: ``min(floor(fraction * n), fraction * 5000)``
    (NAB's ``getProbationPeriod``; 750 rows at most with the default 15 %)."""
    return int(min(math.floor(fraction * n), fraction * 5000))


@dataclass
class NABSeries:
    """One NAB file: timestamps, values and anomaly windows as inclusive index ranges."""

    key: str
    timestamps: pd.DatetimeIndex
    values: np.ndarray
    windows: list[tuple[int, int]] = field(default_factory=list)
    points: list[int] = field(default_factory=list)

    @property
    def group(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1].removesuffix(".csv")

    @property
    def labels(self) -> np.ndarray:
        """Boolean (T,) with True inside the anomaly windows."""
        y = np.zeros(self.values.shape[0], dtype=bool)
        for start, end in self.windows:
            y[start : end + 1] = True
        return y

    @property
    def timestamps_increasing(self) -> bool:
        """Whether the timestamps are strictly increasing (not so for a few NAB files)."""
        return bool(np.all(np.diff(self.timestamps.values) > np.timedelta64(0)))

    @property
    def probationary(self) -> int:
        return probationary_length(self.values.shape[0])

    def to_series(self) -> pd.Series:
        """The values as a pandas Series on its DatetimeIndex (what detectors accept)."""
        return pd.Series(self.values, index=self.timestamps, name="value")


def windows_to_ranges(
    timestamps: pd.DatetimeIndex, windows: list[list[str]]
) -> list[tuple[int, int]]:
    """Timestamp windows ``[[start, end], ...]`` to inclusive row ranges: from the first to the
    last row whose timestamp lies in ``[start, end]`` (rows are taken in file order, as NAB
    does; empty windows are dropped)."""
    ranges = []
    stamps = timestamps.values
    for start, end in windows:
        inside = (stamps >= np.datetime64(pd.Timestamp(start))) & (
            stamps <= np.datetime64(pd.Timestamp(end))
        )
        rows = np.flatnonzero(inside)
        if rows.size:
            ranges.append((int(rows[0]), int(rows[-1])))
    return ranges


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"could not read NAB labels {path}: {exc}") from None


def load_series(
    root: str | Path, key: str, windows: dict | None = None, points: dict | None = None
) -> NABSeries:
    """Read ``root/data/KEY`` and its labels (``windows`` / ``points``: the parsed label
    files, read from ``root/labels`` when not given)."""
    root = Path(root)
    if windows is None:
        windows = _read_json(root / "labels" / "combined_windows.json")
    if points is None:
        labels_path = root / "labels" / "combined_labels.json"
        points = _read_json(labels_path) if labels_path.is_file() else {}
    path = root / "data" / key
    try:
        frame = pd.read_csv(path)
    except (OSError, pd.errors.ParserError) as exc:
        raise InputError(f"could not read NAB file {path}: {exc}") from None
    if list(frame.columns[:2]) != ["timestamp", "value"]:
        raise InputError(f"{path} has columns {list(frame.columns)}; expected timestamp,value")
    stamps = pd.DatetimeIndex(pd.to_datetime(frame["timestamp"]))
    values = frame["value"].to_numpy(dtype=np.float64)
    point_idx = [
        int(np.flatnonzero(stamps.values >= np.datetime64(pd.Timestamp(p)))[0])
        for p in points.get(key, [])
        if np.any(stamps.values >= np.datetime64(pd.Timestamp(p)))
    ]
    return NABSeries(
        key=key,
        timestamps=stamps,
        values=values,
        windows=windows_to_ranges(stamps, windows.get(key, [])),
        points=[int(i) for i in point_idx],
    )


def list_keys(root: str | Path) -> list[str]:
    """``GROUP/NAME.csv`` keys of the data files under ``root/data``, sorted."""
    data = Path(root) / "data"
    if not data.is_dir():
        raise InputError(f"NAB folder {root} has no data/ folder (expected data/GROUP/NAME.csv)")
    keys = sorted(p.relative_to(data).as_posix() for p in data.glob("*/*.csv"))
    if not keys:
        raise InputError(f"no NAB data files (data/GROUP/NAME.csv) under {root}")
    return keys


def load(
    root: str | Path, limit: int | None = None, labelled_only: bool = False
) -> list[NABSeries]:
    """All NAB files under ``root`` (or the first ``limit``), with their labels; with
    ``labelled_only``, only files with at least one labelled anomaly window."""
    root = Path(root)
    windows = _read_json(root / "labels" / "combined_windows.json")
    labels_path = root / "labels" / "combined_labels.json"
    points = _read_json(labels_path) if labels_path.is_file() else {}
    keys = list_keys(root)
    if labelled_only:
        keys = [k for k in keys if windows.get(k)]
        if not keys:
            raise InputError(f"no NAB file under {root} has a labelled anomaly window")
    return [load_series(root, k, windows, points) for k in (keys[:limit] if limit else keys)]
