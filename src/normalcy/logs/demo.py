"""The demo's logs: synthetic HDFS-like block sessions with four planted anomaly kinds."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class LogsDemo(ModalityDemo):
    modality = "logs"
    title = "log sessions"

    def __init__(self, quick: bool):
        from ..datasets.synthetic_logs import make_logs

        n_fit, n_hold, n_test = (200, 100, 200) if quick else (600, 300, 400)
        data = make_logs(n_train=n_fit + n_hold, n_test=n_test, contamination=0.1, seed=SEED)
        self.fit_data = data.train.subset(range(n_fit))
        self.holdout = data.train.subset(range(n_fit, n_fit + n_hold))
        self.test, self.labels = data.test, data.labels
        self.kinds = data.kinds

    def describe(self) -> str:
        kinds = sorted({k for k in self.kinds if k})
        return (
            f"{len(self.fit_data)} normal HDFS-like block sessions (raw log lines, parsed with "
            f"Drain3) for fitting, {len(self.holdout)} more for calibration; {len(self.test)} "
            f"test sessions of which {int(self.labels.sum())} carry one planted anomaly "
            f"({', '.join(kinds)})."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
