"""Finite scores, always: the last guard between a series method's arithmetic and ``Scores``.

Inputs are bounded at the boundary (``series.input.MAX_ABS``) and normalised with
scale-safe arithmetic (``normalise``), so methods rarely produce a non-finite value; when one
does (e.g. a ratio of two underflowed quantities), ``finite_scores`` maps NaN to 0 and clips
to ``±SCORE_CAP``, which float32 maps can also hold.
"""

from __future__ import annotations

import numpy as np

SCORE_CAP = 1e30


def finite_scores(a: np.ndarray) -> np.ndarray:
    """``a`` as float64 with NaN -> 0 and values clipped to [-SCORE_CAP, SCORE_CAP]."""
    out = np.nan_to_num(np.asarray(a, dtype=np.float64), nan=0.0, posinf=SCORE_CAP,
                        neginf=-SCORE_CAP)  # fmt: skip
    return np.clip(out, -SCORE_CAP, SCORE_CAP, out=out)


def finite_score(value: float) -> float:
    """One score made finite like ``finite_scores``."""
    value = float(value)
    if value != value:
        return 0.0
    return min(max(value, -SCORE_CAP), SCORE_CAP)
