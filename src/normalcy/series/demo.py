"""The demo's time series: built-in synthetic data, its description, metrics and pictures."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..demo import SEED, ModalityDemo, Run


class SeriesDemo(ModalityDemo):
    modality = "series"
    title = "time series"

    def __init__(self, quick: bool):
        from ..datasets.synthetic import SERIES_KINDS, make_series

        n_fit, n_hold, n_test = (700, 300, 2500) if quick else (1500, 500, 2500)
        data = make_series(
            train_length=n_fit + n_hold,
            test_length=n_test,
            n_channels=3,
            kinds=SERIES_KINDS,
            seed=SEED,
        )
        self.fit_data, self.holdout = data.train[:n_fit], data.train[n_fit:]
        self.test, self.labels = data.test, data.labels
        self.windows, self.kinds, self.period = data.windows, data.kinds, data.period

    def describe(self) -> str:
        return (
            f"A 3-channel seasonal series (period {self.period}) with correlated noise: "
            f"{len(self.fit_data)} normal steps for fitting, {len(self.holdout)} for calibration, "
            f"then {len(self.test)} test steps holding one anomaly of each kind "
            f"({', '.join(self.kinds)}). Scores are per time step. Window-based detectors "
            "spread a window's score over all its steps, so normal steps next to an anomaly "
            "score high too: the per-step FPR overstates false alarms, the event F1 (events "
            "found versus flagged stretches that hit nothing) does not."
        )

    def metrics(self, scores: Any) -> dict[str, float]:
        from ..metrics import event_f1, vus_pr

        out = super().metrics(scores)
        out["vus_pr"] = vus_pr(self.labels, scores.scores, window=self.period)
        if scores.labels is not None:  # events found vs false alarms, at the threshold
            out["event_f1"] = event_f1(self.labels, scores.labels.astype(np.float64))
        return out

    def pictures(self, report: Any, runs: list[Run]) -> None:
        from ..viz import series_timeline

        super().pictures(report, runs)
        spans = ", ".join(
            f"{k} {s}-{e}" for k, (s, e) in zip(self.kinds, self.windows, strict=True)
        )
        report.text(f"Anomaly windows (shaded): {spans}.", note=True)
        for r in runs:
            fig = series_timeline(
                self.test,
                r.scores.scores,
                self.windows,
                threshold=r.threshold,
                title=f"{r.info.name}: AUROC {r.metrics['auroc']:.3f}",
            )
            report.image(fig)
