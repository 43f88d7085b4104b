"""How the command line reads a graph for node-level detection: a ``.npz`` file with ``x``
(N x F float features) and ``edge_index`` (2 x E, 0-based node ids); read without pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..graph.graphs import Graph, as_graph


def read(path: Path) -> Graph:
    path = Path(path)
    if path.suffix != ".npz" or not path.is_file():
        raise InputError(f"{path}: expected a .npz file with x and edge_index")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "edge_index" not in data.files:
                raise InputError(f"{path}: no edge_index array (found {data.files})")
            x = data["x"] if "x" in data.files else None
            edge_index = data["edge_index"]
    except (ValueError, OSError) as exc:
        raise InputError(f"{path}: not a readable .npz without pickles ({exc})") from None
    if x is None:
        n = int(edge_index.max()) + 1 if edge_index.size else 0
        return as_graph((edge_index, None, n), str(path))
    return as_graph((edge_index, x), str(path))
