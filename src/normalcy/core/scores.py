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
        per-variable contributions for series.
    labels:
        bool array (n,) from the detector's calibrated threshold, or None before calibration.
    index:
        Optional index of the samples (timestamps of a series, file names of images).
    extras:
        Method-specific named arrays (e.g. per-variable votes), never required by callers.
    """

    scores: np.ndarray
    maps: np.ndarray | None = None
    labels: np.ndarray | None = None
    index: Any = None
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.scores = finite_output(np.asarray(self.scores, dtype=np.float64).reshape(-1), "scores")
        if self.maps is not None:
            self.maps = np.asarray(self.maps, dtype=np.float32)
            if self.maps.shape[0] != self.scores.shape[0]:
                raise NormalcyError(
                    f"maps have {self.maps.shape[0]} entries but there are {self.scores.shape[0]} scores"
                )
            self.maps = finite_output(self.maps, "anomaly maps")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=bool).reshape(-1)

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    def to_frame(self):
        """The scores (and labels) as a pandas DataFrame, indexed like the input when known."""
        import pandas as pd

        data: dict[str, Any] = {"score": self.scores}
        if self.labels is not None:
            data["anomaly"] = self.labels
        index = self.index if self.index is not None and len(self.index) == len(self) else None
        return pd.DataFrame(data, index=index)
