"""The demo's node graph: a community graph with injected contextual and structural
outliers. Node detectors are transductive: fit and score the same graph; the hold-out
used for calibration is the same graph too (its scores are mostly of normal nodes), so
the demo's threshold is a contamination-style one and is described as such."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class NodesDemo(ModalityDemo):
    modality = "nodes"
    title = "graph nodes"

    def __init__(self, quick: bool):
        from ..datasets.synthetic_graphs import make_node_graph

        data = make_node_graph(n_nodes=400 if quick else 1000, seed=SEED)
        self.fit_data = self.holdout = self.test = data.graph
        self.labels = data.labels

    def describe(self) -> str:
        g = self.test
        return (
            f"one community graph of {g.n_nodes} nodes and {g.n_edges} edges with "
            f"{int(self.labels.sum())} injected outliers (features copied from far nodes, "
            "small cliques); fitted and scored transductively, as in BOND."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
