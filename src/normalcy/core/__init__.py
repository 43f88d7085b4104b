"""The spine of normalcy: base class, scores, thresholds, registries, persistence, errors.

``core`` knows no data type by name; each modality package provides its own base class
(``normalcy.tabular.base.TabularDetector``, ...). ``from normalcy.core import
TabularDetector`` still works: such names are looked up in the modality registry and
imported on first use.
"""

from typing import Any

from .base import Detector
from .errors import (
    InputError,
    ModelFileError,
    NonFiniteScoreError,
    NormalcyError,
    NotFittedError,
    UnknownDetectorError,
)
from .modality import Modality, get_modality, modalities, register_modality
from .persistence import load_model
from .registry import DetectorInfo, create, detectors, get_class, register
from .scores import Scores
from .threshold import Threshold

__all__ = [
    "Detector",
    "DetectorInfo",
    "InputError",
    "Modality",
    "ModelFileError",
    "NonFiniteScoreError",
    "NormalcyError",
    "NotFittedError",
    "Scores",
    "Threshold",
    "UnknownDetectorError",
    "create",
    "detectors",
    "get_class",
    "get_modality",
    "load_model",
    "modalities",
    "register",
    "register_modality",
]


def __getattr__(name: str) -> Any:
    """Modality base classes (``TabularDetector``, ...), imported on first use."""
    from .modality import base_class_names, resolve_ref

    ref = base_class_names().get(name)
    if ref is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return resolve_ref(ref)
