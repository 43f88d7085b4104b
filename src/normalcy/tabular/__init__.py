"""Tabular detectors: PyOD's classics behind normalcy's API, and the methods of recent research."""

from . import pyod_detectors  # noqa: F401  (registers the detectors)
