"""The detector base class: the one contract every method follows.

``fit`` learns normality from (almost) all-normal data and returns ``self``; ``score``
returns ``Scores`` (higher = more anomalous, finite); ``calibrate`` sets a threshold from
held-out normal data; ``save``/``nc.load`` write and read safe model files.

A subclass implements ``_fit``, ``_score``, ``_get_state``, ``_set_state`` and
``_state_spec``. Each data type's package adds a base class with its input validation
(``normalcy.<modality>.base``); ``core`` knows no data type by name (see
``core.modality``).

scikit-learn compatibility: ``get_params(deep=True)``, ``set_params(**params)`` (checked
against the declared constraints) and ``fit(X, y=None)`` follow the estimator contract, so
``sklearn.base.clone`` and ``sklearn.pipeline.Pipeline`` accept detectors. Labels are
ignored unless the detector declares ``uses_labels=True`` at registration.

Every public output passes the finiteness guard of ``core.finite``: NaN raises
``NonFiniteScoreError``, ±inf is clipped to the dtype's finite range.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import network
from .constraints import validate_params
from .errors import InputError, ModelFileError, NotFittedError
from .finite import finite_value
from .registry import DetectorInfo
from .scores import Scores
from .state_spec import StateSpec
from .threshold import Threshold, check_rate

State = tuple[dict[str, np.ndarray], dict[str, Any]]


def _guard_score_one(method: Any) -> Any:
    """Wrap a ``score_one`` so that its float passes the finiteness guard."""

    @functools.wraps(method)
    def score_one(self: Any, x: Any) -> float:
        return finite_value(method(self, x), "score")

    score_one._finite_guarded = True  # type: ignore[attr-defined]
    return score_one


class Detector:
    """Base of every detector. See the module docstring for the contract."""

    name: ClassVar[str] = ""
    info: ClassVar[DetectorInfo]
    modality: ClassVar[str] = ""
    # Small, fast settings for smoke tests and the demo (e.g. fewer epochs); not defaults.
    quick_params: ClassVar[dict[str, Any]] = {}
    # Acceptable values of each constructor parameter (see ``core.constraints``); checked by
    # ``create``, ``fit``, ``set_params`` and ``load``, printed by ``normalcy docs``.
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}
    # How ``calibrate(fpr=...)`` sets the threshold (see ``Threshold.at_fpr``); a modality
    # whose hold-out scores are autocorrelated (series) picks a method that holds for them.
    calibration_method: ClassVar[str] = "quantile"
    # Whether input is a 2-D array scikit-learn's transformers can produce (its input tag).
    _sklearn_2d_input: ClassVar[bool] = False

    threshold: Threshold | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        method = getattr(cls, "score_one", None)
        if callable(method) and not getattr(method, "_finite_guarded", False):
            cls.score_one = _guard_score_one(method)  # type: ignore[attr-defined]

    # -- parameters (scikit-learn's estimator contract) ------------------------------------
    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Constructor parameter names, in signature order."""
        return [
            name
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor parameters and their current values (scikit-learn style).

        With ``deep``, parameters of nested estimators are added as ``<param>__<name>``.
        """
        params = {k: getattr(self, k) for k in self._get_param_names()}
        if deep:
            for key, value in list(params.items()):
                if hasattr(value, "get_params") and not isinstance(value, type):
                    params.update((f"{key}__{k}", v) for k, v in value.get_params().items())
        return params

    def set_params(self, **params: Any) -> Detector:
        """Set constructor parameters (checked against the declared constraints); ``self``.

        Like scikit-learn, this does not refit: call ``fit`` again to use the new values.
        """
        if not params:
            return self
        valid = self._get_param_names()
        unknown = sorted(k for k in params if k.partition("__")[0] not in valid)
        if unknown:
            raise InputError(
                f"{self._owner()} has no parameter(s) {unknown}; its parameters are {sorted(valid)}"
            )
        own = {k: v for k, v in params.items() if "__" not in k}
        validate_params(self._owner(), self._parameter_constraints, own)
        for key, value in own.items():
            setattr(self, key, value)
        nested: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            if "__" in key:
                outer, _, inner = key.partition("__")
                nested.setdefault(outer, {})[inner] = value
        for outer, values in nested.items():
            getattr(self, outer).set_params(**values)
        return self

    def _owner(self) -> str:
        return f"detector {self.name or type(self).__name__!r}"

    def _validate_params(self) -> None:
        """Raise ``InputError`` naming every parameter outside its declared constraint."""
        validate_params(self._owner(), self._parameter_constraints, self.get_params(deep=False))

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's estimator tags (an unsupervised outlier detector), for
        ``Pipeline``, ``clone`` and ``check_is_fitted``; imports scikit-learn only when asked."""
        from sklearn.utils import InputTags, Tags, TargetTags

        info = getattr(type(self), "info", None)
        return Tags(
            estimator_type="outlier_detector",
            target_tags=TargetTags(required=bool(info is not None and info.uses_labels)),
            requires_fit=info is None or info.needs_fit,
            non_deterministic="seed" not in self._get_param_names(),
            input_tags=InputTags(two_d_array=self._sklearn_2d_input),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return self.is_fitted

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params(deep=False).items())
        return f"{type(self).__name__}({params})"

    # -- public API ---------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> Detector:
        """Learn normality from ``X`` (normal data only); returns ``self``.

        ``y`` is accepted for scikit-learn compatibility and ignored, unless the detector
        was registered with ``uses_labels=True`` (then ``_fit`` receives it as ``y``).
        """
        self._validate_params()
        self.threshold = None  # a threshold calibrated for the old fit no longer applies
        data = self._check_fit_input(X)
        info = getattr(type(self), "info", None)
        with network.policy_of(self):  # a detector from a model file never downloads
            if info is not None and info.uses_labels:
                self._fit(data, y=y)
            else:
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
        else:  # a Scores whose arrays were changed after construction: guard them again
            result.__post_init__()
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
        if contamination is not None:
            contamination = check_rate("contamination", contamination)
            scores = self.score(X).scores
            self.threshold = Threshold.at_contamination(scores, contamination)
        else:
            fpr = 0.01 if fpr is None else check_rate("fpr", fpr)
            scores = self.score(X).scores
            self.threshold = Threshold.at_fpr(scores, fpr, method=self.calibration_method)
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
        """Restore ``_input_spec`` from a model file; subclasses validate every value."""
        if not isinstance(spec, dict):
            raise ModelFileError(f"input_spec must be a JSON object, got {type(spec).__name__}")

    # -- helpers --------------------------------------------------------------------------
    @property
    def is_fitted(self) -> bool:
        return bool(getattr(self, "is_fitted_", False))

    def _require_fitted(self) -> None:
        info = getattr(type(self), "info", None)
        if (info is None or info.needs_fit) and not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} ({self.name!r}) is not fitted; call fit(normal_data) first"
            )


def spec_int(spec: dict[str, Any], key: str, low: int, high: int, *, optional: bool = False):
    """``spec[key]`` from a model file's input spec, checked to be an int in [low, high]."""
    value = spec.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelFileError(
            f"input_spec[{key!r}] must be an integer in [{low}, {high}], got {value!r}"
        )
    return value


def __getattr__(name: str) -> Any:
    """``from normalcy.core.base import TabularDetector`` (the old home of the modality base
    classes) keeps working: the name is looked up in the modality registry on first use."""
    from .modality import base_class_names, resolve_ref

    ref = base_class_names().get(name)
    if ref is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return resolve_ref(ref)
