"""Tabular detectors: PyOD's classics behind normalcy's API, and the methods of recent research."""

from . import (  # noqa: F401  (importing a module registers its detectors)
    apre,
    auto,
    fedpca,
    mss,
    pyod_deep,
    pyod_detectors,
)
