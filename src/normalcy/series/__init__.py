"""Time-series detectors and their shared machinery.

Machinery: ``windows`` (sliding windows, the window-length rule, window-to-point score
spreading), ``normalise`` (normalisation fitted on normal history only), ``windowed`` (the
base of window-scoring detectors) and ``streaming`` (``learn_one`` / ``score_one`` /
``partial_fit`` and a ring buffer). Importing this package imports no detector:
``nc.create(name)`` imports the one module it needs, ``nc.detectors()`` all of them; the
names below are imported on first use.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "ConformalKNN": "conformal_knn",
    "MatrixProfileDiscord": "mp_discord",
    "StreamingMixin": "streaming",
    "SubIForest": "windowed_tabular",
    "SubKNN": "windowed_tabular",
    "SubPCA": "sub_pca",
    "WindowBuffer": "streaming",
    "WindowedDetector": "windowed",
    "WindowedTabularDetector": "windowed_tabular",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
