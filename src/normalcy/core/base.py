"""Detector base classes: the one contract every method follows.

``fit`` learns normality from (almost) all-normal data and returns ``self``; ``score``
returns ``Scores`` (higher = more anomalous, finite); ``calibrate`` sets a threshold from
held-out normal data; ``save``/``nc.load`` write and read safe model files.

A subclass implements ``_fit``, ``_score``, ``_get_state`` and ``_set_state``. Input
validation happens here, once, at the boundary.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import network
from .constraints import validate_params
from .errors import InputError, NotFittedError
from .image_input import ImageSource, as_images
from .registry import DetectorInfo
from .scores import Scores
from .series_input import SeriesData, as_series
from .state_spec import StateSpec
from .tabular_input import as_tabular, column_names
from .threshold import Threshold

State = tuple[dict[str, np.ndarray], dict[str, Any]]


class Detector:
    """Base of every detector. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    info: ClassVar[DetectorInfo]
    modality: ClassVar[str] = ""
    # Small, fast settings for smoke tests and the demo (e.g. fewer epochs); not defaults.
    quick_params: ClassVar[dict[str, Any]] = {}
    # Acceptable values of each constructor parameter (see ``core.constraints``); checked by
    # ``create``, ``fit`` and ``load``, printed by ``normalcy docs``.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    threshold: Threshold | None = None

    # -- parameters -------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters and their current values (scikit-learn style)."""
        return {k: getattr(self, k) for k in self.info.params}

    def _validate_params(self) -> None:
        """Raise ``InputError`` naming every parameter outside its declared constraint."""
        validate_params(f"detector {self.name!r}", self._parameter_constraints, self.get_params())

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    # -- public API ---------------------------------------------------------------------
    def fit(self, X: Any) -> Detector:
        """Learn normality from ``X`` (normal data only); returns ``self``."""
        self._validate_params()
        self.threshold = None  # a threshold calibrated for the old fit no longer applies
        data = self._check_fit_input(X)
        with network.policy_of(self):  # a detector from a model file never downloads
            self._fit(data)
        self.is_fitted_ = True
        return self

    def score(self, X: Any) -> Scores:
        """Score ``X``: one finite float64 score per sample, higher = more anomalous."""
        self._require_fitted()
        data = self._check_score_input(X)
        with network.policy_of(self):
            result = self._score(data)
        if not isinstance(result, Scores):
            result = Scores(scores=result)
        if result.index is None:
            result.index = self._index_of(data)
        if self.threshold is not None:
            result.labels = self.threshold.apply(result.scores)
        return result

    def calibrate(
        self, X: Any, fpr: float | None = None, contamination: float | None = None
    ) -> Threshold:
        """Set ``self.threshold`` from scores of ``X``.

        With ``fpr`` (default 0.01), ``X`` is held-out *normal* data and the threshold flags
        that fraction of it. With ``contamination``, ``X`` is unlabelled data believed to
        contain that fraction of anomalies.
        """
        if fpr is not None and contamination is not None:
            raise InputError("give either fpr (normal hold-out) or contamination, not both")
        scores = self.score(X).scores
        if contamination is not None:
            self.threshold = Threshold.at_contamination(scores, contamination)
        else:
            self.threshold = Threshold.at_fpr(scores, 0.01 if fpr is None else fpr)
        return self.threshold

    def save(self, path: str | Path, *, key: str | bytes | None = None) -> Path:
        """Write a model file (zip: manifest.json + arrays.safetensors; no pickle); signed
        with HMAC-SHA256 when ``key`` (or ``$NORMALCY_MODEL_KEY``) is given."""
        from .persistence import save_model

        return save_model(self, path, key=key)

    # -- hooks for subclasses -------------------------------------------------------------
    def _fit(self, data: Any) -> None:
        raise NotImplementedError

    def _score(self, data: Any) -> Scores | np.ndarray:
        raise NotImplementedError

    def _get_state(self) -> State:
        """Fitted state as (named numpy arrays, JSON-serialisable metadata)."""
        raise NotImplementedError

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        raise NotImplementedError

    def _state_spec(self) -> StateSpec:
        """What ``_get_state`` returns, in terms of the parameters and the input spec.

        ``load`` verifies a model file's arrays and metadata against it before calling
        ``_set_state``; a detector that declares none cannot be loaded.
        """
        raise NotImplementedError

    def _check_fit_input(self, X: Any) -> Any:
        return X

    def _check_score_input(self, X: Any) -> Any:
        return X

    def _index_of(self, data: Any) -> Any:
        return None

    def _input_spec(self) -> dict[str, Any]:
        """What input validation remembers from ``fit`` (saved in the model file)."""
        return {}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        return None

    # -- helpers --------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    def _require_fitted(self) -> None:
        if self.info.needs_fit and not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} ({self.name!r}) is not fitted; call fit(normal_data) first"
            )


class TabularDetector(Detector):
    """Base for detectors on 2-D numeric data (n_samples, n_features)."""

    modality = "tabular"
    min_fit_samples: ClassVar[int] = 2

    def _check_fit_input(self, X: Any) -> np.ndarray:
        arr = as_tabular(X, name="X", min_samples=self.min_fit_samples)
        self.n_features_in_ = arr.shape[1]
        self.feature_names_in_ = column_names(X)
        return arr

    def _check_score_input(self, X: Any) -> np.ndarray:
        return as_tabular(X, n_features=self.n_features_in_, name="X")

    def _input_spec(self) -> dict[str, Any]:
        return {"n_features": self.n_features_in_, "feature_names": self.feature_names_in_}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        self.n_features_in_ = int(spec["n_features"])
        self.feature_names_in_ = spec.get("feature_names")


class ImageDetector(Detector):
    """Base for detectors on images; ``_score`` receives an ``ImageSource`` and the size
    (H, W) that maps must have (see ``core.image_input`` for the mixed-size policy)."""

    modality = "image"
    on_mixed_sizes: str = "resize"

    def _check_fit_input(self, X: Any) -> ImageSource:
        return as_images(X, name="training images")

    def _check_score_input(self, X: Any) -> ImageSource:
        source = as_images(X, name="images")
        source.output_size(self.on_mixed_sizes)  # validates the policy early
        return source

    def _index_of(self, data: ImageSource) -> Any:
        return list(data.names)


class SeriesDetector(Detector):
    """Base for detectors on series (T,) or (T, C); one score per time step."""

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
        if spec.get("n_channels") is not None:
            self.n_channels_ = int(spec["n_channels"])
