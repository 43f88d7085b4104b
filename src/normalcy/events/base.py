"""``EventDetector``: the base of detectors on categorical events (one row per event).

``fit`` learns an ``EventEncoder`` (columns, kinds, vocabularies, numeric bin edges) from
the events and hands ``_fit`` integer entity codes ``(n_events, n_columns)``; ``score``
encodes with the same encoder (unseen categories get code 0, missing values code 1). The
encoder is the input spec saved in model files and is verified on load.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector
from ..core.constraints import Integral, Interval
from .encoding import MAX_BINS, MAX_CATEGORIES, EventEncoder

# Constraints of the encoder parameters every event detector takes.
N_BINS = [Interval(Integral, 1, MAX_BINS)]
MAX_CATS = [Interval(Integral, 1, MAX_CATEGORIES)]


class EventDetector(Detector):
    """Base for detectors on categorical events; subclasses take ``n_bins`` (quantile bins
    per numeric column) and ``max_categories`` (most frequent values kept per column)."""

    modality = "events"
    min_fit_samples: ClassVar[int] = 2
    n_bins: int = 10
    max_categories: int = 10_000

    def _check_fit_input(self, X: Any) -> np.ndarray:
        self.encoder_ = EventEncoder.fit(
            X,
            n_bins=int(self.n_bins),
            max_categories=int(self.max_categories),
            min_rows=self.min_fit_samples,
        )
        return self.encoder_.transform(X)

    def _check_score_input(self, X: Any) -> np.ndarray:
        return self.encoder_.transform(X)

    def _input_spec(self) -> dict[str, Any]:
        return self.encoder_.to_json()

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        self.encoder_ = EventEncoder.from_json(spec)

    @property
    def columns_(self) -> list[str]:
        """The event fields seen in ``fit``, in order."""
        return list(self.encoder_.columns)
