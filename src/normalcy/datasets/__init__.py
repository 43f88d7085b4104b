"""Data sets: synthetic generators for the built-in demo and loaders for benchmark sets.

Submodules are imported on first use: ``nc.datasets.synthetic``, ``nc.datasets.mtd``,
``nc.datasets.mvtec``, ``nc.datasets.adbench``, ``nc.datasets.nab``, ``nc.datasets.ucr``.
"""

from importlib import import_module
from typing import Any

_SUBMODULES = (
    "synthetic", "mvtec", "mtd", "adbench", "nab", "ucr", "cifar10", "fashion_mnist",
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'normalcy.datasets' has no attribute {name!r}")


__all__ = list(_SUBMODULES)
