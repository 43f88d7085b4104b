"""The finiteness guard on every public output: scores, maps and single-step scores.

Policy (one place, applied by ``Scores`` and by ``Detector.score_one``):

* NaN is never returned: it raises ``NonFiniteScoreError`` naming the first samples that
  produced it (a NaN score means the detector failed on that sample; no ordering is safe).
* +inf / -inf are clipped to the largest / smallest finite value of the output's dtype
  (float64 for scores, float32 for maps). Order is preserved: an infinite score still ranks
  above (below) every finite one, ties among infinities aside.
"""

from __future__ import annotations

import numpy as np

from .errors import NonFiniteScoreError

_SHOW = 10


def finite_output(values: np.ndarray, what: str = "scores") -> np.ndarray:
    """``values`` with ±inf clipped to the dtype's finite range; raises on NaN.

    For arrays of more than one dimension the sample is the first axis.
    """
    arr = np.asarray(values)
    if arr.dtype.kind != "f":
        return arr
    nan = np.isnan(arr)
    if nan.any():
        per_sample = nan.reshape(nan.shape[0], -1).any(axis=1) if nan.ndim > 1 else nan
        bad = np.flatnonzero(per_sample)
        shown = ", ".join(str(int(i)) for i in bad[:_SHOW])
        more = f" and {bad.size - _SHOW} more" if bad.size > _SHOW else ""
        raise NonFiniteScoreError(
            f"the detector produced NaN {what} for {bad.size} sample(s) (index {shown}{more}); "
            "a NaN is never returned. This is usually a bug in the detector, or input it "
            "cannot handle (e.g. a constant feature); please report it"
        )
    if np.isinf(arr).any():
        limit = np.finfo(arr.dtype).max
        arr = np.clip(arr, -limit, limit)
    return arr


def finite_value(value: float, what: str = "score") -> float:
    """One score (``score_one``): NaN raises, ±inf is clipped to ±float64 max."""
    return float(finite_output(np.asarray([value], dtype=np.float64), what)[0])
