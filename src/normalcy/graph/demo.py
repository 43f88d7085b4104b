"""The demo's graphs: molecule-like rings with planted cliques, rewiring and random graphs."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class GraphDemo(ModalityDemo):
    modality = "graph"
    title = "graphs"

    def __init__(self, quick: bool):
        from ..datasets.synthetic_graphs import make_graphs

        n_fit, n_hold, n_test = (150, 60, 100) if quick else (400, 150, 200)
        data = make_graphs(n_train=n_fit + n_hold, n_test=n_test, contamination=0.15, seed=SEED)
        self.fit_data, self.holdout = data.train[:n_fit], data.train[n_fit:]
        self.test, self.labels, self.kinds = data.test, data.labels, data.kinds

    def describe(self) -> str:
        return (
            f"{len(self.fit_data)} normal molecule-like graphs (rings with side chains) for "
            f"fitting, {len(self.holdout)} for calibration; {len(self.test)} test graphs of "
            f"which {int(self.labels.sum())} carry a planted clique, rewiring or random wiring."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
