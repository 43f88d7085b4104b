"""Frame-level metrics and events of video scores."""

from __future__ import annotations

import numpy as np

from normalcy.video.evaluation import frame_auroc_macro, frame_auroc_micro, frame_intervals


def test_micro_and_macro_frame_auroc():
    labels = [np.array([0, 0, 1, 1]), np.array([1, 1, 1]), np.array([0, 1])]
    scores = [np.array([0.1, 0.2, 0.9, 0.8]), np.array([0.5, 0.6, 0.7]), np.array([0.95, 0.0])]
    assert frame_auroc_micro(labels, scores) < 1.0  # the third clip is ranked the wrong way
    macro, n = frame_auroc_macro(labels, scores)
    assert n == 2 and macro == 0.5  # clip 2 (one class) is left out


def test_intervals_do_not_cross_clips():
    flags = np.array([0, 1, 1, 1, 1, 0, 0, 1], bool)
    assert frame_intervals(flags, [3, 5], ["a", "b"]) == [("a", 1, 2), ("b", 0, 1), ("b", 4, 4)]
