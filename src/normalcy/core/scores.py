"""``Scores``: what every detector's ``score`` returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import NormalcyError
from .finite import finite_output


@dataclass
class Scores:
    """Anomaly scores of one batch.

    Attributes
    ----------
    scores:
        float64 array of shape (n,): one score per sample (per time step for a series);
        higher means more anomalous; always finite (see ``core.finite``: NaN raises,
        ±inf is clipped to ±float64 max).
    maps:
        Localisation or None: (n, H, W) float32 for images at input resolution, (n, C)
        per-variable contributions for series. Images of different sizes each get a map of
        their own shape: then ``maps`` is a list of n float32 arrays (a list whose arrays
        all share one shape is stacked into one array, so code that needs an array gets
        one whenever the shapes allow). ``map(i)`` and ``map_shapes`` work for both.
    labels:
        bool array (n,) from the detector's calibrated threshold, or None before calibration.
    index:
        Optional index of the samples (timestamps of a series, file names of images).
    extras:
        Method-specific named arrays (e.g. per-variable votes), never required by callers.
    """

    scores: np.ndarray
    maps: np.ndarray | list[np.ndarray] | None = None
    labels: np.ndarray | None = None
    index: Any = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scores = finite_output(np.asarray(self.scores, dtype=np.float64).reshape(-1), "scores")
        if self.maps is not None:
            self.maps = _checked_maps(self.maps)
            if len(self.maps) != self.scores.shape[0]:
                raise NormalcyError(
                    f"maps have {len(self.maps)} entries but there are {self.scores.shape[0]} scores"
                )
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=bool).reshape(-1)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def map(self, i: int) -> np.ndarray:
        """The map of sample ``i`` (whatever the container of ``maps``)."""
        if self.maps is None:
            raise NormalcyError("these scores have no maps")
        return self.maps[i]

    @property
    def map_shapes(self) -> list[tuple[int, ...]]:
        """The shape of each sample's map (empty without maps)."""
        return [] if self.maps is None else [tuple(m.shape) for m in self.maps]

    def to_frame(self):
        """The scores (and labels) as a pandas DataFrame, indexed like the input when known."""
        import pandas as pd

        data: dict[str, Any] = {"score": self.scores}
        if self.labels is not None:
            data["anomaly"] = self.labels
        index = self.index if self.index is not None and len(self.index) == len(self) else None
        return pd.DataFrame(data, index=index)


def _checked_maps(maps: Any) -> np.ndarray | list[np.ndarray]:
    """Maps as one float32 array, or, when their shapes differ, a list of float32 arrays;
    finite either way (see ``core.finite``)."""
    if isinstance(maps, (list, tuple)):
        parts = [np.asarray(m, dtype=np.float32) for m in maps]
        if len({p.shape for p in parts}) > 1:
            return [finite_output(p, "anomaly maps") for p in parts]
        maps = np.stack(parts) if parts else np.zeros((0,), dtype=np.float32)
    return finite_output(np.asarray(maps, dtype=np.float32), "anomaly maps")
