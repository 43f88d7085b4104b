"""``SeriesDetector``: the base of detectors on series (T,) or (T, C); one score per step."""

from __future__ import annotations

from typing import Any, ClassVar

from ..core.base import Detector, spec_int
from .input import SeriesData, as_series

MAX_CHANNELS = 10**5


class SeriesDetector(Detector):
    """Base for detectors on series (T,) or (T, C); one score per time step."""

    # window scores of a hold-out are autocorrelated: see ``Threshold.at_fpr(method="autocorrelated")``
    calibration_method: ClassVar[str] = "autocorrelated"

    modality = "series"
    nan_policy: str = "raise"

    def min_length(self) -> int:
        """Shortest series the detector accepts (its window length, usually)."""
        return 2

    def _check_fit_input(self, X: Any) -> SeriesData:
        data = as_series(
            X, min_length=self.min_length(), nan_policy=self.nan_policy, name="training series"
        )
        self.n_channels_ = data.n_channels
        return data

    def _check_score_input(self, X: Any) -> SeriesData:
        return as_series(
            X,
            min_length=self.min_length(),
            n_channels=getattr(self, "n_channels_", None),
            nan_policy=self.nan_policy,
        )

    def _index_of(self, data: SeriesData) -> Any:
        return data.index

    def _input_spec(self) -> dict[str, Any]:
        return {"n_channels": getattr(self, "n_channels_", None)}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        n = spec_int(spec, "n_channels", 1, MAX_CHANNELS, optional=True)
        if n is not None:
            self.n_channels_ = n
