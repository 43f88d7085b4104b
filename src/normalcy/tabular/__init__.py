"""Tabular detectors: PyOD's classics behind normalcy's API, and the methods of recent research."""

from . import (
    auto,  # noqa: F401
    pyod_detectors,  # noqa: F401  (registers the detectors)
)
