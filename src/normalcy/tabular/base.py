"""``TabularDetector``: the base of detectors on 2-D numeric data (n_samples, n_features).

Besides normalcy's ``score``, it offers scikit-learn's outlier-detector names, so a
detector can end a ``sklearn.pipeline.Pipeline``:

* ``score_samples(X)`` = ``-score(X).scores`` (scikit-learn: higher = more normal);
* ``decision_function(X)`` = ``threshold - score`` (positive = inlier, negative = outlier;
  the calibrated threshold, so it needs ``calibrate`` first);
* ``predict(X)``: +1 for inliers, -1 for outliers, at the calibrated threshold (needs
  ``calibrate`` first; normalcy never guesses a threshold).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector, spec_int
from ..core.errors import ModelFileError, NotFittedError
from .input import as_tabular, column_names

MAX_FEATURES = 10**6


class TabularDetector(Detector):
    """Base for detectors on 2-D numeric data (n_samples, n_features)."""

    modality = "tabular"
    min_fit_samples: ClassVar[int] = 2
    _sklearn_2d_input = True

    def _check_fit_input(self, X: Any) -> np.ndarray:
        arr = as_tabular(X, name="X", min_samples=self.min_fit_samples)
        self.n_features_in_ = arr.shape[1]
        self.feature_names_in_ = column_names(X)
        return arr

    def _check_score_input(self, X: Any) -> np.ndarray:
        """Scoring input must have the width, and the column names in order, seen in ``fit``
        (scikit-learn's rules, see ``tabular.input``)."""
        return as_tabular(
            X, n_features=self.n_features_in_, feature_names=self.feature_names_in_, name="X"
        )

    def _n_features(self) -> int:
        """The width seen in ``fit`` (or read, verified, from a model file's input spec)."""
        return int(self.n_features_in_)

    def _input_spec(self) -> dict[str, Any]:
        return {"n_features": self.n_features_in_, "feature_names": self.feature_names_in_}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        n = spec_int(spec, "n_features", 1, MAX_FEATURES)
        names = spec.get("feature_names")
        if names is not None and (
            not isinstance(names, list)
            or len(names) != n
            or not all(isinstance(s, str) for s in names)
            or len(set(names)) != n
        ):
            raise ModelFileError(
                f"input_spec['feature_names'] must be null or a list of {n} distinct strings "
                f"(one per feature), got {str(names)[:80]}"
            )
        self.n_features_in_ = n
        self.feature_names_in_ = names

    # -- scikit-learn's outlier-detector names ------------------------------------------
    def score_samples(self, X: Any) -> np.ndarray:
        """scikit-learn convention: higher = more normal, i.e. ``-score(X).scores``."""
        return -self.score(X).scores

    def _calibrated_threshold(self, what: str) -> float:
        if self.threshold is None:
            raise NotFittedError(
                f"{what} needs a calibrated threshold; call calibrate(normal_holdout, fpr=...) "
                "first (normalcy never guesses a threshold)"
            )
        return float(self.threshold.value)

    def decision_function(self, X: Any) -> np.ndarray:
        """``threshold - score``: positive for inliers, negative for outliers."""
        threshold = self._calibrated_threshold("decision_function")
        return threshold - self.score(X).scores

    def predict(self, X: Any) -> np.ndarray:
        """+1 for inliers, -1 for outliers (scikit-learn), at the calibrated threshold."""
        self._calibrated_threshold("predict")
        labels = self.score(X).labels
        return np.where(labels, -1, 1)
