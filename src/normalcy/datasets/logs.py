"""Loaders for the shared log data sets (``datasets/logs/*`` sessions and Loghub 2k samples).

``load_sessions(root, name)`` reads ``logs/NAME/sessions.jsonl`` + ``templates.csv``
(HDFS block sessions, OpenStack instance sessions; template ids as event keys).
``load_loghub(root, system, window, step)`` reads ``loghub/SYS/SYS_2k.log_structured.csv``
and cuts its raw ``Content`` lines, in time order, into count windows (a window is
anomalous when one of its lines carries an alert label); the detectors parse the lines
with their own Drain3 parser, so the Loghub templates are not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..logs.sessions import Sessions, read_jsonl, read_templates, window_starts

SESSION_SETS = ("hdfs", "openstack")
LOGHUB_SETS = ("BGL", "Thunderbird")


@dataclass
class LogSet:
    """Sessions of one data set: ``split`` is "train"/"test" per session."""

    name: str
    sessions: Sessions
    split: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        assert self.sessions.labels is not None
        return np.asarray(self.sessions.labels, dtype=np.int64)

    def part(self, split: str, normal_only: bool = False) -> Sessions:
        mask = self.split == split
        if normal_only:
            mask &= self.labels == 0
        return self.sessions.subset(mask)


def load_sessions(root: str | Path, name: str) -> LogSet:
    folder = Path(root) / "logs" / name
    path = folder / "sessions.jsonl"
    if not path.is_file():
        raise InputError(f"no log sessions at {path} (known sets: {SESSION_SETS})")
    records = read_jsonl(path)  # read once: the sessions and their split
    sessions = Sessions.from_records(records, templates=read_templates(folder / "templates.csv"))
    splits = [r.get("split", "test") if isinstance(r, dict) else "test" for r in records]
    return LogSet(name, sessions, np.asarray(splits))


def load_loghub(
    root: str | Path, system: str, window: int = 20, step: int | None = None, train_share=0.5
) -> LogSet:
    """Loghub 2k sample of ``system`` as count windows of raw lines; the first
    ``train_share`` of the windows (in time order) form the train split."""
    import pandas as pd

    path = Path(root) / "loghub" / system / f"{system}_2k.log_structured.csv"
    if not path.is_file():
        raise InputError(f"no Loghub structured log at {path} (known: {LOGHUB_SETS})")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    lines = frame["Content"].tolist()
    bad = ~frame["Label"].str.strip().isin({"-", ""}).to_numpy()
    starts = window_starts(len(lines), window, step)
    sessions = Sessions(
        ids=[f"{system}:{s}" for s in starts],
        lines=[lines[s : s + window] for s in starts],
        labels=np.asarray([int(bad[s : s + window].any()) for s in starts]),
    )
    n_train = int(round(train_share * len(starts)))
    split = np.where(np.arange(len(starts)) < n_train, "train", "test")
    return LogSet(system, sessions, split)
