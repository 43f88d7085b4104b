"""Series detectors calibrate with ``Threshold.at_fpr(..., method="series")``.

The scores of a series hold-out are strongly autocorrelated, so the plain quantile that
suits tables and images underestimates the false-positive rate on later normal data (see
``core.threshold``). ``SeriesCalibration`` is the one place series detectors get that
default from; it comes before ``SeriesDetector`` in their bases.
"""

from __future__ import annotations

from typing import Any

from ..core.errors import InputError
from ..core.threshold import Threshold, _check_rate


class SeriesCalibration:
    """``calibrate`` with the series method (``calibration_method``) for ``fpr``."""

    calibration_method: str = "series"

    def calibrate(
        self, X: Any, fpr: float | None = None, contamination: float | None = None
    ) -> Threshold:
        """Set ``self.threshold`` from scores of ``X``: with ``fpr`` (default 0.01) ``X`` is a
        held-out stretch of *normal* series, and the threshold is calibrated for
        autocorrelated scores; with ``contamination``, ``X`` is unlabelled data believed to
        hold that fraction of anomalous steps."""
        if fpr is not None and contamination is not None:
            raise InputError("give either fpr (normal hold-out) or contamination, not both")
        if contamination is not None:
            _check_rate("contamination", contamination)
            scores = self.score(X).scores  # type: ignore[attr-defined]
            self.threshold = Threshold.at_contamination(scores, contamination)
        else:
            fpr = 0.01 if fpr is None else _check_rate("fpr", fpr)
            scores = self.score(X).scores  # type: ignore[attr-defined]
            self.threshold = Threshold.at_fpr(scores, fpr, method=self.calibration_method)
        return self.threshold
