"""The demo's categorical events: synthetic security events with planted anomalies."""

from __future__ import annotations

from typing import Any

from ..demo import SEED, ModalityDemo, Run


class EventsDemo(ModalityDemo):
    modality = "events"
    title = "categorical events"

    def __init__(self, quick: bool):
        from .synthetic import make_events

        n_fit, n_hold, n_test = (400, 200, 300) if quick else (2000, 500, 1000)
        data = make_events(n_train=n_fit + n_hold, n_test=n_test, n_anomalies=30, seed=SEED)
        self.fit_data = data.train.iloc[:n_fit].reset_index(drop=True)
        self.holdout = data.train.iloc[n_fit:].reset_index(drop=True)
        self.test, self.labels = data.test, data.labels

    def describe(self) -> str:
        return (
            f"{len(self.fit_data)} normal security events (user, host, action, port, bytes; "
            f"users only touch hosts of their own department) for fitting, "
            f"{len(self.holdout)} more for calibration; {len(self.test)} test events of which "
            f"{int(self.labels.sum())} are planted: cross-department user/host pairs, actions "
            "a department never performs, and transfers a thousand times too large."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
