"""The demo's video: synthetic moving-squares clips with objects going the wrong way or too
fast (``video.synthetic``), scored per frame."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..demo import SEED, ModalityDemo, Run


class VideoDemo(ModalityDemo):
    modality = "video"
    title = "video frames"

    def __init__(self, quick: bool):
        from .synthetic import make_clips

        n_clips, n_frames = (2, 12) if quick else (4, 24)
        size = (48, 64)
        self.fit_data = make_clips(n_clips, n_frames, size, seed=SEED).clips
        self.holdout = make_clips(2, n_frames, size, seed=SEED + 1).clips
        wrong = make_clips(1, n_frames, size, anomaly="wrong_way", seed=SEED + 2)
        fast = make_clips(1, n_frames, size, anomaly="too_fast", seed=SEED + 3)
        self.test = np.concatenate([wrong.clips, fast.clips])
        self.labels = np.concatenate([wrong.labels.ravel(), fast.labels.ravel()]).astype(int)

    def describe(self) -> str:
        n, t, h, w = self.test.shape
        return (
            f"{len(self.fit_data)} normal {h}x{w} clips of squares moving one way at one speed "
            f"for fitting, {len(self.holdout)} more for calibration; {n} test clips of {t} "
            f"frames, {int(self.labels.sum())} of whose frames hold a square going the wrong "
            "way or four times too fast. One score per frame."
        )

    def pictures(self, report: Any, runs: list[Run]) -> None:
        super().pictures(report, runs)
        self.histograms(report, runs)
