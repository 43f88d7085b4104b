"""The demo's signal segments: synthetic EEG-like epochs (an alpha rhythm in coloured noise)
with seizure-like ones (large rhythmic spike-and-wave bursts), one score per segment."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..demo import SEED, ModalityDemo, Run

RATE = 128.0


def _epochs(n: int, length: int, rng: np.random.Generator, seizure: bool = False) -> np.ndarray:
    t = np.arange(length) / RATE
    freq = rng.uniform(8, 12, (n, 1))
    out = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    out += np.cumsum(rng.normal(0, 0.3, (n, length)), axis=1) * 0.1  # slow drift
    out += rng.normal(0, 0.5, (n, length))
    if seizure:  # 3 Hz spike-and-wave: sharp peaks, four times the amplitude
        phase = 2 * np.pi * 3.0 * t + rng.uniform(0, 2 * np.pi, (n, 1))
        out += 4.0 * (np.sin(phase) ** 15 - 0.3 * np.sin(phase / 2) ** 2)
    return out


class SegmentsDemo(ModalityDemo):
    modality = "segments"
    title = "signal segments"

    def __init__(self, quick: bool):
        rng = np.random.default_rng(SEED)
        n_fit, n_test, length = (60, 40, 256) if quick else (200, 100, 512)
        self.fit_data = _epochs(n_fit, length, rng)
        self.holdout = _epochs(n_fit // 2, length, rng)
        n_bad = n_test // 10
        self.test = np.concatenate(
            [_epochs(n_test - n_bad, length, rng), _epochs(n_bad, length, rng, seizure=True)]
        )
        self.labels = np.r_[np.zeros(n_test - n_bad), np.ones(n_bad)].astype(int)

    def describe(self) -> str:
        n, t = self.test.shape
        return (
            f"{len(self.fit_data)} normal EEG-like epochs of {t} samples (an 8-12 Hz rhythm in "
            f"noise) for fitting, {len(self.holdout)} more for calibration; {n} test epochs of "
            f"which {int(self.labels.sum())} carry seizure-like 3 Hz spike-and-wave bursts. "
            "One score per segment."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
