"""Graph-level input: a collection of graphs, validated, with node features encoded.

A graph detector accepts a list (or any iterable) of graphs in the forms of
``normalcy.graph.graphs.as_graph``, or a ``GraphSet`` (``normalcy.datasets.tu``). At
least one graph is needed; every graph needs at least one node.

Node features (``NodeEncoder``, learnt in ``fit`` and saved as the detector's input spec):

* categorical node labels, when the graphs carry them, one-hot over the labels seen in
  ``fit`` plus one column for labels never seen there;
* continuous node attributes, when they do, standardised with the mean and spread of
  ``fit`` (every graph must then have the same number of attributes);
* with neither, the one-hot node degree capped at ``MAX_DEGREE_BUCKET`` (the usual choice
  for featureless graphs in the GIN literature).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError, ModelFileError
from .graphs import MAX_FEATURES, Graph, as_graph

MAX_DEGREE_BUCKET = 10
MAX_LABELS = 10_000


@dataclass
class EncodedGraphs:
    """Graphs and their encoded node features (float32 (N_i, D) each)."""

    graphs: list[Graph]
    features: list[np.ndarray]
    n_features: int

    def __len__(self) -> int:
        return len(self.graphs)

    def sizes(self) -> np.ndarray:
        return np.asarray([g.n_nodes for g in self.graphs], dtype=np.int64)

    def batch(
        self, index: Iterable[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Disjoint union of the graphs at ``index``: node features (sum N, D), edge_index
        (2, sum E) with offsets, and the graph of every node (sum N,)."""
        idx = list(range(len(self))) if index is None else list(index)
        xs, edges, owner, offset = [], [], [], 0
        for k, i in enumerate(idx):
            g = self.graphs[i]
            xs.append(self.features[i])
            edges.append(g.edge_index + offset)
            owner.append(np.full(g.n_nodes, k, dtype=np.int64))
            offset += g.n_nodes
        x = np.concatenate(xs) if xs else np.zeros((0, self.n_features), np.float32)
        ei = np.concatenate(edges, axis=1) if edges else np.zeros((2, 0), np.int64)
        return x, ei, np.concatenate(owner) if owner else np.zeros(0, np.int64)


def as_graphs(X: Any, name: str = "X") -> list[Graph]:
    """Any accepted collection of graphs as a list of ``Graph``."""
    graphs = getattr(X, "graphs", X)  # a GraphSet
    if isinstance(graphs, Graph) or type(graphs).__module__.startswith(
        ("networkx", "torch_geometric.data.data")
    ):
        raise InputError(f"{name} must be a list of graphs; wrap a single graph in a list")
    if isinstance(graphs, str | bytes | dict | tuple) or not isinstance(graphs, Iterable):
        raise InputError(
            f"{name} must be a list of graphs (networkx graphs, (edge_index, x) tuples, "
            f"torch_geometric Data), got {type(X).__name__}"
        )
    out = [as_graph(g, f"{name}[{i}]") for i, g in enumerate(graphs)]
    if not out:
        raise InputError(f"{name} holds no graphs (expected at least one)")
    return out


class NodeEncoder:
    """Node features from labels, attributes or degrees (see the module docstring)."""

    def __init__(
        self,
        labels: list[int],
        n_attributes: int,
        mean: list[float],
        scale: list[float],
    ) -> None:
        self.labels = labels
        self.n_attributes = n_attributes
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self._code = {v: i for i, v in enumerate(labels)}

    @property
    def use_degree(self) -> bool:
        return not self.labels and self.n_attributes == 0

    @property
    def n_features(self) -> int:
        if self.use_degree:
            return MAX_DEGREE_BUCKET + 1
        return (len(self.labels) + 1 if self.labels else 0) + self.n_attributes

    @classmethod
    def learn(cls, graphs: list[Graph]) -> NodeEncoder:
        with_labels = all(g.node_labels is not None for g in graphs)
        labels = (
            sorted({int(v) for g in graphs for v in np.unique(g.node_labels)})
            if with_labels
            else []
        )
        if len(labels) > MAX_LABELS:
            raise InputError(f"more than {MAX_LABELS} distinct node labels")
        widths = {g.x.shape[1] for g in graphs if g.x is not None}
        if len(widths) > 1:
            raise InputError(f"graphs have node features of different sizes: {sorted(widths)}")
        if widths and any(g.x is None for g in graphs):
            raise InputError("some graphs have node features and some do not")
        n_attr = widths.pop() if widths else 0
        mean = scale = np.zeros(0)
        if n_attr:
            stacked = np.concatenate([g.x for g in graphs]).astype(np.float64)
            mean = stacked.mean(axis=0)
            spread = stacked.std(axis=0)
            scale = np.where(spread > 1e-12 * (1 + np.abs(mean)), spread, 1.0)
        return cls(labels, n_attr, mean.tolist(), scale.tolist())

    def encode(self, graphs: list[Graph], name: str = "X") -> EncodedGraphs:
        feats = []
        for i, g in enumerate(graphs):
            parts = []
            if self.use_degree:
                deg = np.minimum(g.degrees().astype(np.int64), MAX_DEGREE_BUCKET)
                parts.append(np.eye(MAX_DEGREE_BUCKET + 1, dtype=np.float32)[deg])
            if self.labels:
                if g.node_labels is None:
                    raise InputError(f"{name}[{i}] has no node labels; the fitted graphs had")
                onehot = np.zeros((g.n_nodes, len(self.labels) + 1), dtype=np.float32)
                cols = [self._code.get(int(v), len(self.labels)) for v in g.node_labels]
                onehot[np.arange(g.n_nodes), cols] = 1.0
                parts.append(onehot)
            if self.n_attributes:
                if g.x is None or g.x.shape[1] != self.n_attributes:
                    got = None if g.x is None else g.x.shape[1]
                    raise InputError(
                        f"{name}[{i}] has {got} node features; the fitted graphs had "
                        f"{self.n_attributes}"
                    )
                z = (g.x.astype(np.float64) - self.mean) / self.scale
                parts.append(np.clip(z, -1e6, 1e6).astype(np.float32))
            feats.append(np.concatenate(parts, axis=1))
        return EncodedGraphs(graphs, feats, self.n_features)

    def state(self) -> dict[str, Any]:
        return {
            "labels": list(self.labels),
            "n_attributes": self.n_attributes,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_state(cls, state: Any) -> NodeEncoder:
        if not isinstance(state, dict) or set(state) != {"labels", "n_attributes", "mean", "scale"}:
            raise ModelFileError("node encoder state must have labels, n_attributes, mean, scale")
        labels, n_attr = state["labels"], state["n_attributes"]
        if (
            not isinstance(labels, list)
            or len(labels) > MAX_LABELS
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in labels)
            or len(set(labels)) != len(labels)
        ):
            raise ModelFileError("node encoder labels must be distinct integers")
        if (
            isinstance(n_attr, bool)
            or not isinstance(n_attr, int)
            or not 0 <= n_attr <= MAX_FEATURES
        ):
            raise ModelFileError(f"node encoder n_attributes out of range: {n_attr!r}")
        for key, positive in (("mean", False), ("scale", True)):
            v = state[key]
            if (
                not isinstance(v, list)
                or len(v) != n_attr
                or not all(isinstance(a, int | float) and not isinstance(a, bool) for a in v)
                or not np.isfinite(np.asarray(v, dtype=np.float64)).all()
                or (positive and any(a <= 0 for a in v))
            ):
                raise ModelFileError(f"node encoder {key} must be {n_attr} finite numbers")
        return cls(labels, n_attr, state["mean"], state["scale"])
