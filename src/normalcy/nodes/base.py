"""``NodeDetector``: the base of node-level detectors (one score per node of a graph).

Input: one graph in any form of ``normalcy.graph.graphs.as_graph`` (networkx,
``(edge_index, x)``, torch_geometric ``Data``, ``Graph``). Detectors are transductive in
the usual protocol (BOND: fit on the graph, score its nodes) but any graph whose nodes
have the fitted feature width can be scored. Node features are used as given (float32);
a graph without features gets the one-hot node degree capped at ``MAX_DEGREE_BUCKET``.
Edges follow the graph policy (undirected, no self-loops, no duplicates).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.base import Detector, spec_int
from ..core.errors import InputError, ModelFileError
from ..graph.graphs import MAX_FEATURES, Graph, as_graph
from ..graph.input import MAX_DEGREE_BUCKET


class NodeDetector(Detector):
    """Base for node-level detectors; ``_fit``/``_score`` receive ``(graph, features)``."""

    modality = "nodes"

    n_features_in_: int
    uses_degree_: bool

    def _features(self, graph: Graph) -> np.ndarray:
        if self.uses_degree_:
            deg = np.minimum(graph.degrees().astype(np.int64), MAX_DEGREE_BUCKET)
            return np.eye(MAX_DEGREE_BUCKET + 1, dtype=np.float32)[deg]
        assert graph.x is not None
        return graph.x

    def _check_fit_input(self, X: Any) -> tuple[Graph, np.ndarray]:
        graph = as_graph(X, "graph")
        if graph.n_nodes < 2:
            raise InputError(f"{self._owner()} needs a graph of at least 2 nodes to fit")
        self.uses_degree_ = graph.x is None
        feats = self._features(graph)
        self.n_features_in_ = int(feats.shape[1])
        return graph, feats

    def _check_score_input(self, X: Any) -> tuple[Graph, np.ndarray]:
        graph = as_graph(X, "graph")
        if self.uses_degree_ != (graph.x is None) or (
            graph.x is not None and graph.x.shape[1] != self.n_features_in_
        ):
            got = "none" if graph.x is None else graph.x.shape[1]
            want = "none (degree features)" if self.uses_degree_ else self.n_features_in_
            raise InputError(f"graph has {got} node features; the detector was fitted on {want}")
        return graph, self._features(graph)

    def _input_spec(self) -> dict[str, Any]:
        return {"n_features": self.n_features_in_, "degree_features": self.uses_degree_}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        if set(spec) != {"n_features", "degree_features"} or not isinstance(
            spec["degree_features"], bool
        ):
            raise ModelFileError("a node detector's input_spec holds n_features, degree_features")
        self.n_features_in_ = spec_int(spec, "n_features", 1, MAX_FEATURES)
        self.uses_degree_ = spec["degree_features"]
