"""``Graph``: one attributed graph as plain arrays, and conversions from what users hold.

Accepted forms of one graph (``as_graph``):

* a ``networkx`` graph (node attributes ``x``/``feat``/``features`` as vectors, or
  ``label`` as a categorical node label; nodes are numbered in iteration order);
* a tuple ``(edge_index, x)`` with ``edge_index`` an int array (2, E) of 0-based node ids
  and ``x`` a float array (N, F) (``x`` may be ``None`` with ``n_nodes`` given as a third
  item: ``(edge_index, None, n_nodes)``);
* a ``torch_geometric.data.Data`` (``edge_index``, ``x``, optional ``node_label``/``z``);
* a ``Graph``.

Policy (the same for every detector): edges are treated as undirected (each edge kept once
per direction after symmetrising), duplicate edges are merged, self-loops are dropped
(the GNN layers add their own where the method asks for them); isolated nodes are kept
(they have degree 0); a graph with no nodes is refused (``InputError``: there is nothing
to score), one with nodes but no edges is accepted. Node features must be finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError

MAX_NODES = 5_000_000
MAX_EDGES = 50_000_000
MAX_FEATURES = 100_000


@dataclass
class Graph:
    """An undirected graph: ``edge_index`` (2, E) int64 with both directions of every edge,
    no self-loops and no duplicates; ``x`` (N, F) float32 node features or None;
    ``node_labels`` (N,) int64 categorical node labels or None."""

    n_nodes: int
    edge_index: np.ndarray
    x: np.ndarray | None = None
    node_labels: np.ndarray | None = None

    def __len__(self) -> int:
        """Number of nodes (what a node-level detector scores)."""
        return self.n_nodes

    @property
    def n_edges(self) -> int:
        """Undirected edges (each counted once)."""
        return int(self.edge_index.shape[1] // 2)

    def degrees(self) -> np.ndarray:
        return np.bincount(self.edge_index[0], minlength=self.n_nodes).astype(np.float64)

    def adjacency(self):
        """Sparse (CSR) symmetric adjacency matrix, float64 ones."""
        from scipy.sparse import csr_matrix

        n = self.n_nodes
        data = np.ones(self.edge_index.shape[1])
        return csr_matrix((data, (self.edge_index[0], self.edge_index[1])), shape=(n, n))


def clean_edges(edge_index: Any, n_nodes: int, where: str) -> np.ndarray:
    """Edges as a symmetric (2, E) int64 array without self-loops or duplicates."""
    try:
        ei = np.asarray(edge_index)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: edge_index is not an array ({exc})") from None
    if ei.size == 0:
        return np.zeros((2, 0), dtype=np.int64)
    if ei.ndim != 2 or ei.shape[0] != 2:
        raise InputError(f"{where}: edge_index must have shape (2, E), got {ei.shape}")
    if ei.dtype.kind not in "iu":
        if ei.dtype.kind == "f" and np.isfinite(ei).all() and (ei == np.round(ei)).all():
            ei = ei.astype(np.int64)
        else:
            raise InputError(f"{where}: edge_index must hold integer node ids, got {ei.dtype}")
    if ei.shape[1] > MAX_EDGES:
        raise InputError(f"{where}: more than {MAX_EDGES} edges")
    ei = ei.astype(np.int64)
    if ei.min() < 0 or ei.max() >= n_nodes:
        raise InputError(
            f"{where}: edge_index refers to node ids in [{ei.min()}, {ei.max()}] but the "
            f"graph has {n_nodes} nodes (0-based ids expected)"
        )
    ei = ei[:, ei[0] != ei[1]]
    both = np.concatenate([ei, ei[::-1]], axis=1)
    keys = np.unique(both[0] * n_nodes + both[1])
    return np.stack([keys // n_nodes, keys % n_nodes]).astype(np.int64)


def _features(x: Any, n_nodes: int, where: str) -> np.ndarray | None:
    if x is None:
        return None
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{where}: node features are not numeric ({exc})") from None
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2 or arr.shape[0] != n_nodes:
        raise InputError(
            f"{where}: node features must have shape ({n_nodes}, F), got {np.shape(x)}"
        )
    if arr.shape[1] > MAX_FEATURES:
        raise InputError(f"{where}: more than {MAX_FEATURES} node features")
    if not np.isfinite(arr).all():
        raise InputError(f"{where}: node features hold NaN or infinite values")
    if np.abs(arr).max(initial=0) > 1e30:
        raise InputError(f"{where}: node features beyond ±1e30 (rescale them)")
    return arr.astype(np.float32)


def _labels(values: Any, n_nodes: int, where: str) -> np.ndarray | None:
    if values is None:
        return None
    arr = np.asarray(values)
    if arr.shape != (n_nodes,) or arr.dtype.kind not in "iub":
        raise InputError(f"{where}: node labels must be {n_nodes} integers")
    return arr.astype(np.int64)


def _check_n(n: Any, where: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise InputError(f"{where}: a graph needs at least one node (got {n!r} nodes)")
    if n > MAX_NODES:
        raise InputError(f"{where}: more than {MAX_NODES} nodes")
    return int(n)


def as_graph(G: Any, where: str = "graph") -> Graph:
    """One graph in any accepted form (see the module docstring) as a ``Graph``."""
    if isinstance(G, Graph):
        n = _check_n(G.n_nodes, where)
        return Graph(
            n,
            clean_edges(G.edge_index, n, where),
            _features(G.x, n, where),
            _labels(G.node_labels, n, where),
        )
    module = type(G).__module__
    if module.startswith("networkx"):
        return _from_networkx(G, where)
    if module.startswith("torch_geometric"):
        x = getattr(G, "x", None)
        n = _check_n(int(G.num_nodes) if G.num_nodes is not None else 0, where)
        labels = getattr(G, "node_label", None)
        return Graph(
            n,
            clean_edges(G.edge_index.cpu().numpy(), n, where),
            _features(None if x is None else x.cpu().numpy(), n, where),
            _labels(None if labels is None else labels.cpu().numpy(), n, where),
        )
    if isinstance(G, tuple) and len(G) in (2, 3):
        edge_index, x = G[0], G[1]
        if len(G) == 3:
            n = _check_n(G[2], where)
        elif x is not None:
            n = _check_n(len(np.asarray(x)), where)
        else:
            raise InputError(f"{where}: (edge_index, None) needs n_nodes: (edge_index, None, n)")
        return Graph(n, clean_edges(edge_index, n, where), _features(x, n, where))
    raise InputError(
        f"{where} must be a networkx graph, an (edge_index, x) tuple, a torch_geometric Data "
        f"or a normalcy Graph; got {type(G).__name__}"
    )


def _from_networkx(G: Any, where: str) -> Graph:
    nodes = list(G.nodes)
    n = _check_n(len(nodes), where)
    pos = {v: i for i, v in enumerate(nodes)}
    edges = np.asarray([(pos[u], pos[v]) for u, v in G.edges()], dtype=np.int64).reshape(-1, 2)
    attrs = [G.nodes[v] for v in nodes]
    x = labels = None
    for key in ("x", "feat", "features"):
        if all(key in a for a in attrs):
            x = [np.atleast_1d(np.asarray(a[key], dtype=np.float64)) for a in attrs]
            if len({v.shape for v in x}) != 1:
                raise InputError(f"{where}: node attribute {key!r} has different sizes")
            break
    if all("label" in a for a in attrs) and attrs:
        raw = [a["label"] for a in attrs]
        if not all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in raw):
            raise InputError(f"{where}: node attribute 'label' must be an integer class")
        labels = raw
    return Graph(
        n, clean_edges(edges.T, n, where), _features(x, n, where), _labels(labels, n, where)
    )
