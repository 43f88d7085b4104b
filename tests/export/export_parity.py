"""The parity check every export test applies (issue 17's target)."""

from __future__ import annotations

import numpy as np

TOLERANCE = 1e-4  # max |normalcy - onnx| <= TOLERANCE * max(1, |normalcy score|)


def relative_error(ours: np.ndarray, theirs: np.ndarray) -> float:
    ours = np.asarray(ours, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    return float(np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(ours))))


def assert_parity(det, onx, X) -> None:
    """Scores within the tolerance, the same threshold, flags identical except for scores
    tied with the threshold within the tolerance."""
    ours, theirs = det.score(X), onx.score(X)
    assert ours.scores.shape == theirs.scores.shape
    assert relative_error(ours.scores, theirs.scores) <= TOLERANCE
    if det.threshold is None:
        assert onx.threshold is None
        return
    assert onx.threshold == det.threshold
    differ = ours.labels != theirs.labels
    near = np.abs(ours.scores - det.threshold.value) <= TOLERANCE * np.maximum(
        1.0, np.abs(ours.scores)
    )
    assert not np.any(differ & ~near)
