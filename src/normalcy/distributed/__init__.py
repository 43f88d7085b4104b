"""Scale-out on Ray: score big data sets with Ray Data and fit many models on Ray tasks.

    import normalcy as nc
    res = nc.distributed.score("model.normalcy", "images/")          # local Ray cluster
    res = nc.distributed.score(det, "rows/", address="head:6379")      # a running cluster
    models = nc.distributed.fit_many("iforest", {"a": Xa, "b": Xb})

Ray is imported only when one of these runs (``pip install 'normalcy[distributed]'``);
importing this package costs nothing. See docs/distributed.md.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClusterError", "fit_many", "map_tasks", "score"]


def __getattr__(name: str) -> Any:
    if name == "score":
        from .scoring import score

        return score
    if name in ("fit_many", "map_tasks"):
        from . import tasks

        return getattr(tasks, name)
    if name == "ClusterError":
        from .cluster import ClusterError

        return ClusterError
    raise AttributeError(f"module 'normalcy.distributed' has no attribute {name!r}")
