"""The demo's tabular data: built-in synthetic data, its description, metrics and pictures."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class TabularDemo(ModalityDemo):
    modality = "tabular"
    title = "tabular data"

    def __init__(self, quick: bool):
        from ..datasets.synthetic import make_tabular

        n_fit, n_hold, n_test, d = (300, 100, 200, 10) if quick else (1000, 300, 500, 10)
        data = make_tabular(
            n_train=n_fit + n_hold, n_test=n_test, n_features=d, contamination=0.1, seed=SEED
        )
        self.fit_data, self.holdout = data.train[:n_fit], data.train[n_fit:]
        self.test, self.labels = data.test, data.labels

    def describe(self) -> str:
        n, d = self.test.shape
        return (
            f"{len(self.fit_data)} normal rows with {d} features from three correlated Gaussian "
            f"clusters for fitting, {len(self.holdout)} more for calibration; {n} test rows of "
            f"which {int(self.labels.sum())} are outliers (a small tight group plus scattered "
            "points)."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
