"""normalcy: learn what normal looks like, then score, flag and localise what deviates.

import normalcy as nc
det = nc.create("iforest").fit(X_normal)
det.calibrate(X_holdout, fpr=0.01)
res = det.score(X_new)        # res.scores, res.labels, res.maps
det.save("model.normalcy"); det = nc.load("model.normalcy")
"""

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from .core import (  # noqa: E402
    Detector,
    DetectorInfo,
    InputError,
    Modality,
    ModelFileError,
    NonFiniteScoreError,
    NormalcyError,
    NotFittedError,
    Scores,
    Threshold,
    UnknownDetectorError,
    create,
    detectors,
    modalities,
    register,
    register_modality,
)
from .core import load_model as load  # noqa: E402

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
    "__version__",
    "create",
    "datasets",
    "detectors",
    "distributed",
    "load",
    "metrics",
    "modalities",
    "register",
    "register_modality",
]


def __getattr__(name: str) -> Any:
    """``nc.datasets``, ``nc.metrics``, ``nc.export`` and ``nc.distributed`` are imported on
    first use."""
    if name in ("datasets", "metrics", "export", "distributed"):
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'normalcy' has no attribute {name!r}")
