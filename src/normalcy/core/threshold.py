"""Thresholds calibrated from data, never hand-set.

Two ways to calibrate:

* ``Threshold.at_fpr(normal_scores, fpr)``: from scores of held-out *normal* data, so that
  a fraction ``fpr`` of normal data is flagged (the quantile is taken with the "higher"
  rule, so the realised rate on the calibration set never exceeds ``fpr``).
* ``Threshold.at_contamination(scores, contamination)``: from unlabelled data believed to
  hold a fraction ``contamination`` of anomalies.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .errors import InputError

MIN_CALIBRATION_SAMPLES = 10


def _check_rate(name: str, value: float) -> float:
    value = float(value)
    if not 0.0 < value < 1.0:
        raise InputError(f"{name} must be strictly between 0 and 1, got {value}")
    return value


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.size < MIN_CALIBRATION_SAMPLES:
        raise InputError(
            f"calibration needs at least {MIN_CALIBRATION_SAMPLES} scores, got {scores.size}"
        )
    if not np.all(np.isfinite(scores)):
        raise InputError("calibration scores contain NaN or infinite values")
    return scores


@dataclass(frozen=True)
class Threshold:
    """A decision threshold: a score strictly above ``value`` is anomalous."""

    value: float
    method: str  # "fpr" or "contamination"
    rate: float  # the target false-positive rate or contamination
    n_calibration: int

    @classmethod
    def at_fpr(cls, normal_scores: np.ndarray, fpr: float = 0.01) -> Threshold:
        """Threshold flagging at most a fraction ``fpr`` of the given normal scores."""
        fpr = _check_rate("fpr", fpr)
        scores = _check_scores(normal_scores)
        value = float(np.quantile(scores, 1.0 - fpr, method="higher"))
        return cls(value=value, method="fpr", rate=fpr, n_calibration=int(scores.size))

    @classmethod
    def at_contamination(cls, scores: np.ndarray, contamination: float = 0.05) -> Threshold:
        """Threshold flagging the top ``contamination`` fraction of unlabelled scores."""
        contamination = _check_rate("contamination", contamination)
        scores = _check_scores(scores)
        value = float(np.quantile(scores, 1.0 - contamination, method="higher"))
        return cls(
            value=value, method="contamination", rate=contamination, n_calibration=int(scores.size)
        )

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Boolean decisions: ``scores > value``."""
        return np.asarray(scores) > self.value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Threshold:
        return cls(
            value=float(data["value"]),
            method=str(data["method"]),
            rate=float(data["rate"]),
            n_calibration=int(data["n_calibration"]),
        )
