"""The spine of normalcy: base classes, scores, thresholds, registry, persistence, validation."""

from .base import Detector, ImageDetector, SeriesDetector, TabularDetector
from .errors import InputError, ModelFileError, NormalcyError, NotFittedError, UnknownDetectorError
from .persistence import load_model
from .registry import DetectorInfo, create, detectors, get_class, register
from .scores import Scores
from .threshold import Threshold

__all__ = [
    "Detector",
    "DetectorInfo",
    "ImageDetector",
    "InputError",
    "ModelFileError",
    "NormalcyError",
    "NotFittedError",
    "Scores",
    "SeriesDetector",
    "TabularDetector",
    "Threshold",
    "UnknownDetectorError",
    "create",
    "detectors",
    "get_class",
    "load_model",
    "register",
]
