"""Loader of the shared node-level sets (``datasets/nodes/NAME.npz``: x, edge_index, y)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..graph.graphs import Graph, as_graph

NODE_SETS = ("inj_cora", "books", "disney")


@dataclass
class NodeSet:
    name: str
    graph: Graph
    labels: np.ndarray
    kinds: np.ndarray | None


def load_node_set(root: str | Path, name: str) -> NodeSet:
    path = Path(root) / "nodes" / f"{name}.npz"
    if not path.is_file():
        raise InputError(f"no node set at {path} (known: {NODE_SETS})")
    with np.load(path, allow_pickle=False) as d:
        graph = as_graph((d["edge_index"], d["x"]), name)
        kinds = d["y_type"] if "y_type" in d.files else None
        return NodeSet(name, graph, d["y"].astype(np.int64), kinds)
