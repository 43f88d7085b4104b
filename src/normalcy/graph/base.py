"""``GraphDetector``: the base of graph-level detectors (one score per graph).

``fit`` learns the node encoder (``graph.input.NodeEncoder``) from normal graphs; it is the
detector's input spec, saved in its model file and checked on load. ``_fit``/``_score``
receive ``EncodedGraphs``. Localisation: ``Scores.maps`` is (n_graphs, largest graph)
float32, a score per node in node order, padded with 0; ``Scores.extras["sizes"]`` holds
the node counts. ``graph_scores`` builds it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector
from ..core.errors import InputError, ModelFileError
from ..core.scores import Scores
from .input import EncodedGraphs, NodeEncoder, as_graphs


class GraphDetector(Detector):
    """Base for graph-level detectors."""

    modality = "graph"
    min_fit_graphs: ClassVar[int] = 2

    encoder_: NodeEncoder

    def _check_fit_input(self, X: Any) -> EncodedGraphs:
        graphs = as_graphs(X)
        if len(graphs) < self.min_fit_graphs:
            raise InputError(
                f"{self._owner()} needs at least {self.min_fit_graphs} graphs to fit, "
                f"got {len(graphs)}"
            )
        self.encoder_ = NodeEncoder.learn(graphs)
        return self.encoder_.encode(graphs)

    def _check_score_input(self, X: Any) -> EncodedGraphs:
        return self.encoder_.encode(as_graphs(X))

    def _input_spec(self) -> dict[str, Any]:
        return {"encoder": self.encoder_.state()}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        if set(spec) != {"encoder"}:
            raise ModelFileError("a graph detector's input_spec must hold exactly 'encoder'")
        self.encoder_ = NodeEncoder.from_state(spec["encoder"])

    def _n_features(self) -> int:
        """Encoded node-feature width, for state specs."""
        return self.encoder_.n_features


def graph_scores(
    data: EncodedGraphs, scores: np.ndarray, node_scores: list[np.ndarray] | None = None
) -> Scores:
    """``Scores`` of graphs, with per-node scores as padded maps when given."""
    sizes = data.sizes()
    if node_scores is None:
        return Scores(scores=scores, extras={"sizes": sizes})
    maps = np.zeros((len(data), max(int(sizes.max()), 1)), dtype=np.float32)
    for i, s in enumerate(node_scores):
        maps[i, : len(s)] = s
    return Scores(scores=scores, maps=maps, extras={"sizes": sizes})
