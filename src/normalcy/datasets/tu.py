"""Reader of the TU graph-collection text format (Morris et al., "TUDataset", 2020).

A folder holds ``NAME_A.txt`` (edge list ``u, v`` of 1-based global node ids),
``NAME_graph_indicator.txt`` (1-based graph id per node), and optionally
``NAME_graph_labels.txt`` (class per graph), ``NAME_node_labels.txt`` (class per node) and
``NAME_node_attributes.txt`` (comma-separated floats per node). ``read_tu`` returns a
``GraphSet``; malformed files raise ``InputError`` naming the file and the problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.errors import InputError
from ..graph.graphs import Graph, clean_edges

GRAPH_SETS = ("AIDS", "BZR", "COX2", "ENZYMES", "NCI1")


@dataclass
class GraphSet:
    """Graphs of one collection, with their class labels when the files give them."""

    name: str
    graphs: list[Graph]
    labels: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.graphs)

    def subset(self, index) -> GraphSet:
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return GraphSet(
            self.name,
            [self.graphs[int(i)] for i in idx],
            None if self.labels is None else self.labels[idx],
        )


def _numbers(path: Path, dtype, ncols: int | None = None) -> np.ndarray:
    try:
        arr = np.loadtxt(path, delimiter=",", dtype=dtype, ndmin=2)
    except (ValueError, OSError) as exc:
        raise InputError(f"{path.name}: not a table of numbers ({exc})") from None
    if ncols is not None and arr.shape[1] != ncols:
        raise InputError(f"{path.name}: expected {ncols} columns, got {arr.shape[1]}")
    return arr


def read_tu(folder: str | Path, name: str | None = None) -> GraphSet:
    """The TU collection in ``folder`` (``name`` defaults to the folder's name)."""
    folder = Path(folder)
    name = name or folder.name
    path = lambda suffix: folder / f"{name}_{suffix}.txt"  # noqa: E731
    for required in ("A", "graph_indicator"):
        if not path(required).is_file():
            raise InputError(f"no TU collection in {folder}: {path(required).name} is missing")
    owner = _numbers(path("graph_indicator"), np.int64, 1)[:, 0]
    if owner.min() < 1:
        raise InputError(f"{path('graph_indicator').name}: graph ids must start at 1")
    n_graphs, n_total = int(owner.max()), len(owner)
    if np.any(np.diff(owner) < 0):
        raise InputError(f"{path('graph_indicator').name}: nodes must be grouped by graph")
    edges = _numbers(path("A"), np.int64, 2) - 1
    if edges.size and (edges.min() < 0 or edges.max() >= n_total):
        raise InputError(f"{path('A').name}: node ids outside 1..{n_total}")
    node_labels = attrs = graph_labels = None
    if path("node_labels").is_file():
        node_labels = _numbers(path("node_labels"), np.int64)[:, 0]
        if len(node_labels) != n_total:
            raise InputError(
                f"{path('node_labels').name}: {len(node_labels)} rows, {n_total} nodes"
            )
    if path("node_attributes").is_file():
        attrs = _numbers(path("node_attributes"), np.float64)
        if len(attrs) != n_total:
            raise InputError(f"{path('node_attributes').name}: {len(attrs)} rows, {n_total} nodes")
    if path("graph_labels").is_file():
        graph_labels = _numbers(path("graph_labels"), np.int64)[:, 0]
        if len(graph_labels) != n_graphs:
            raise InputError(
                f"{path('graph_labels').name}: {len(graph_labels)} rows, {n_graphs} graphs"
            )
    starts = np.searchsorted(owner, np.arange(1, n_graphs + 2))
    edge_owner = owner[edges[:, 0]] if edges.size else np.zeros(0, np.int64)
    order = np.argsort(edge_owner, kind="stable")
    edge_bounds = np.searchsorted(edge_owner[order], np.arange(1, n_graphs + 2))
    graphs = []
    for g in range(n_graphs):
        lo, hi = starts[g], starts[g + 1]
        if hi == lo:
            raise InputError(f"{path('graph_indicator').name}: graph {g + 1} has no nodes")
        e = edges[order[edge_bounds[g] : edge_bounds[g + 1]]] - lo
        if e.size and (e.min() < 0 or e.max() >= hi - lo):
            raise InputError(f"{path('A').name}: an edge joins graph {g + 1} to another graph")
        graphs.append(
            Graph(
                int(hi - lo),
                clean_edges(e.T, int(hi - lo), f"graph {g + 1}"),
                None if attrs is None else attrs[lo:hi].astype(np.float32),
                None if node_labels is None else node_labels[lo:hi],
            )
        )
    return GraphSet(name, graphs, graph_labels)
