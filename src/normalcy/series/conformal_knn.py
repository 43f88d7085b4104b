"""Conformal k-NN novelty of the latest window, with NAB-style alarm shaping. Online.

Each new time step closes a window of the last ``window`` values. Its nonconformity is the
Euclidean distance to the nearest window among the last ``memory`` windows already learned
(windows overlapping the current one are excluded: no trivial self-match). As in
conformalised k-NN anomaly detection (KNN-CAD, Burnaev & Ishimtsev 2016), the distance is
turned into a conformal p-value, the fraction of the last ``calibration`` learned distances
that are at least as large, reported as ``a = -log10(p)``: scale-free, so one threshold fits
series of any amplitude. Beyond the largest calibration distance the rank saturates; there
``a`` continues with ``log10(d / max d_i)`` so a larger record still ranks higher.

The detector's score is an *alarm* score built with the past only:

* ``(a_t - max(a over the previous horizon steps)) / std(all earlier a)``: positive only when
  the novelty rises above everything of the recent past, so an anomaly raises one alarm at
  its onset instead of one per step (NAB charges every flagged step outside its windows and
  credits only the earliest inside one), and a later, stronger event still alarms;
* a value outside the range learned so far, widened by ``range_tolerance`` of that range on
  each side, scores at least ``range_score`` (the "spatial anomaly" rule of Numenta's NAB
  detector: a never-seen level is an anomaly whatever its context).

Streaming (``learn_one`` / ``score_one``) is the native mode; batch ``score`` runs the same
score-then-learn procedure over the series on a copy of the fitted state (the fitted model is
unchanged), so it equals ``score_stream(X, learn=True)``. ``fit`` runs that procedure over
the history (filling the window memory and the calibration distances). All per-step work is
numba-compiled. A learning step updates the distances to all memory windows from the
previous step's in O(memory * C) (the matrix-profile recurrence), recomputes the candidates
near the minimum exactly (the result equals the full O(memory * window * C) search, which
also runs every 128 steps), and ranks against the calibration set in O(calibration).

References
----------
Burnaev, E. & Ishimtsev, V. Conformalized density- and distance-based anomaly detection in
time-series data. arXiv:1608.04585, 2016.

Lavin, A. & Ahmad, S. Evaluating Real-Time Anomaly Detection Algorithms - the Numenta
Anomaly Benchmark. IEEE ICMLA 2015.

Ahmad, S., Lavin, A., Purdy, S. & Agha, Z. Unsupervised real-time anomaly detection for
streaming data. Neurocomputing 262, 2017.

Zhu, Y. et al. Matrix Profile II: Exploiting a Novel Algorithm and GPUs to Break the One
Hundred Million Barrier for Time Series Motifs and Joins. IEEE ICDM 2016 (the recurrence).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from . import params
from .base import SeriesDetector
from .input import MAX_ABS, SeriesData
from .normalise import CLIP, NORMALISE_METHODS, Normaliser
from .numerics import finite_score, finite_scores
from .state import channels_spec, normaliser_spec, require, set_channels
from .streaming import StreamingMixin

SCORE, LEARN, OBSERVE = 0, 1, 2
ALARM_WARMUP = 10  # novelty values learned before alarms are reported
_FLOOR = 1e-6  # smallest spread of the novelty values (log10 units)

# counters: 0 hist_len, 1 n_learned, 2 ctx_count, 3 n_dist, 4 dist_pos, 5 n_nov, 6 nov_pos,
# 7 profile valid, 8/9 first/last window end of the profile, 10 steps since a full search,
# 11 position and 12 fill of the ring of recent emitted scores;
# sums: 0/1 sum and sum of squares of the novelty, 2 largest profile value since a full search
_STATE_KEYS = ("hist", "ctx", "dists", "novs", "sums", "lo", "hi", "prof", "recent", "counters")
_N_COUNTERS = 13
_REFRESH = 128  # learned steps between two full nearest-neighbour searches
_BAND_MAX = 16  # near-minimal candidates rechecked one by one (more: a full search)


# -- numba kernels ----------------------------------------------------------------------------
@njit(cache=True)
def _exact(hist, ctx, ctx_count, x, w, e):
    """Squared distance of the current window (ctx's last w-1 points, x) to the window of
    ``hist`` ending at ``e``, summed in the same order as the full search."""
    ring = ctx.shape[1]
    total = 0.0
    for ch in range(x.shape[0]):
        for j in range(w):
            c = x[ch] if j == w - 1 else ctx[ch, (ctx_count - (w - 1) + j) % ring]
            diff = c - hist[ch, e - (w - 1) + j]
            total += diff * diff
    return total


@njit(cache=True)
def _nearest(hist, hlen, ctx, ctx_count, x, w, memory, work, prof, counters, sums, out):
    """Distance of the window (ctx's last w-1 points, x) to its nearest non-overlapping
    window among the last ``memory`` windows of ``hist[:hlen]``; -1 when there is none.
    ``work[:n]`` receives the squared distances to every candidate (the new profile),
    ``out[1]`` their maximum and ``out[2]`` 1.0 after a full search. Changes no state.

    When the stored profile ``prof`` belongs to the previous step's window and the context
    is the learned stream itself, each distance is updated in O(C) from its predecessor
    (the matrix-profile recurrence): add the newest value's term, drop the oldest's. The
    candidates within a rounding bound of the minimum are then recomputed exactly, so the
    result equals the full O(memory * window * C) search, which runs every
    ``_REFRESH`` learned steps (bounding the drift), whenever the recurrence does not apply
    (frozen stream) and when more than ``_BAND_MAX`` candidates are that close to the
    minimum (near-ties, e.g. in flat or quantised series)."""
    if ctx_count < w - 1:
        return -1.0
    last = hlen - w  # the latest window end that does not overlap the current window
    first = max(w - 1, last - memory + 1)
    if last < first:
        return -1.0
    n_cand = last - first + 1
    n_ch = x.shape[0]
    ring = ctx.shape[1]
    pf = counters[8]
    incremental = (
        counters[7] == 1
        and ctx_count == counters[1]
        and counters[9] == hlen - 1 - w
        and counters[10] < _REFRESH
        and pf <= first
    )
    if incremental:
        lead = max(0, pf + 1 - first)  # candidates without a predecessor in the profile
        for i in range(lead):
            work[i] = _exact(hist, ctx, ctx_count, x, w, first + i)
        n_inc = n_cand - lead
        a = first + lead
        for ch in range(n_ch):
            row = hist[ch]
            xc = x[ch]
            old = row[hlen - w]
            r_new = row[a : a + n_inc]
            r_old = row[a - w : a - w + n_inc]
            if ch == 0:
                prev = prof[a - 1 - pf : a - 1 - pf + n_inc]
                for i in range(n_inc):
                    d1 = xc - r_new[i]
                    d0 = old - r_old[i]
                    work[lead + i] = prev[i] + d1 * d1 - d0 * d0
            else:
                for i in range(n_inc):
                    d1 = xc - r_new[i]
                    d0 = old - r_old[i]
                    work[lead + i] += d1 * d1 - d0 * d0
        best = work[0]
        top = work[0]
        for i in range(1, n_cand):
            best = min(best, work[i])
            top = max(top, work[i])
        # rounding bound of the recurrence since the last full search, with a wide margin
        tol = 1e-12 * (1.0 + max(sums[2], top))
        band = 0
        for i in range(n_cand):
            if work[i] <= best + tol:
                band += 1
        if band <= _BAND_MAX:  # else (many near-ties, e.g. a flat series): full search
            out[1] = top
            out[2] = 0.0
            exact_best = np.inf
            for i in range(n_cand):
                if work[i] <= best + tol:
                    work[i] = _exact(hist, ctx, ctx_count, x, w, first + i)
                    exact_best = min(exact_best, work[i])
            return math.sqrt(max(exact_best, 0.0))
    for i in range(n_cand):
        work[i] = 0.0
    for ch in range(n_ch):
        row = hist[ch]
        for j in range(w):
            # j-th value of the current window, oldest first; the newest is x
            if j == w - 1:
                c = x[ch]
            else:
                c = ctx[ch, (ctx_count - (w - 1) + j) % ring]
            seg = row[first - (w - 1) + j : first - (w - 1) + j + n_cand]
            for i in range(n_cand):
                diff = c - seg[i]
                work[i] += diff * diff
    best = work[0]
    top = work[0]
    for i in range(1, n_cand):
        best = min(best, work[i])
        top = max(top, work[i])
    out[1] = top
    out[2] = 1.0
    return math.sqrt(best)


@njit(cache=True)
def _alarm(x, d, dists, novs, sums, lo, hi, counters, tol, range_score):
    """(conformal novelty, alarm score) of a step whose nearest distance is ``d``."""
    # conformal novelty: -log10 of the fraction of learned distances >= d
    nov = 0.0
    n_dist = counters[3]
    if d >= 0.0 and n_dist > 0:
        count = 0
        dmax = 0.0
        for i in range(n_dist):
            if dists[i] >= d:
                count += 1
            dmax = max(dmax, dists[i])
        nov = -math.log10((1.0 + count) / (1.0 + n_dist))
        if count == 0 and dmax > 0.0:
            # beyond every calibration distance the rank saturates: go on with the ratio
            nov += math.log10(d / dmax)
    # alarm: rise above the recent maximum, in units of the spread of all earlier values
    alarm = 0.0
    n_nov = counters[5]
    if d >= 0.0 and n_nov >= ALARM_WARMUP:
        ref = novs[0]
        for i in range(1, min(n_nov, novs.shape[0])):
            if novs[i] > ref:
                ref = novs[i]
        mean = sums[0] / n_nov
        var = sums[1] / n_nov - mean * mean
        sd = math.sqrt(var) if var > 0.0 else 0.0
        alarm = (nov - ref) / max(sd, _FLOOR)
    # range rule: a value beyond the learned range (widened by tol of it) alarms
    if counters[1] > 0:
        for ch in range(x.shape[0]):
            r = hi[ch] - lo[ch]
            if r > 0.0 and (x[ch] > hi[ch] + tol * r or x[ch] < lo[ch] - tol * r):
                alarm = max(alarm, range_score)
    return nov, alarm


@njit(cache=True)
def _step(
    x, hint, hist, ctx, dists, novs, sums, lo, hi, prof, recent, counters, params, mode, work, d_out
):
    """Alarm score of one (normalised) step; ``mode`` LEARN also learns it, OBSERVE only
    advances the window context, SCORE changes nothing. ``hint`` >= 0 is this step's nearest
    distance computed by the previous call on the same state (skips the search)."""
    w = int(params[0])
    memory = int(params[1])
    tol = params[3]
    range_score = params[4]
    n_ch = x.shape[0]
    hlen = counters[0]
    ctx_count = counters[2]
    if hint >= 0.0:
        # the previous call scored this very step on this state: work and d_out hold its
        # search, novelty and alarm
        d = hint
        nov = d_out[3]
        alarm = d_out[4]
    else:
        d = _nearest(hist, hlen, ctx, ctx_count, x, w, memory, work, prof, counters, sums, d_out)
        nov, alarm = _alarm(x, d, dists, novs, sums, lo, hi, counters, tol, range_score)
        d_out[0] = d
        d_out[3] = nov
        d_out[4] = alarm
    # refractory rule: an alarm counts only by how far it exceeds the recent emitted scores
    louder = 0.0
    for i in range(counters[12]):
        louder = max(louder, recent[i])
    emitted = alarm - louder
    if mode == SCORE:
        return emitted
    if recent.shape[0] > 0:
        recent[counters[11]] = emitted
        counters[11] = (counters[11] + 1) % recent.shape[0]
        counters[12] = min(counters[12] + 1, recent.shape[0])
    # advance the window context
    ring = ctx.shape[1]
    for ch in range(n_ch):
        ctx[ch, ctx_count % ring] = x[ch]
    counters[2] = ctx_count + 1
    if mode != LEARN:
        return emitted
    # learn: the point joins the memory, its distance the calibration set, its novelty the
    # alarm statistics, its value the range
    # the search profile of this step is the next step's starting point
    if d >= 0.0:
        last = hlen - w
        first = max(w - 1, last - memory + 1)
        for i in range(last - first + 1):
            prof[i] = work[i]
        counters[7] = 1
        counters[8] = first
        counters[9] = last
        if d_out[2] == 1.0:
            counters[10] = 0
            sums[2] = d_out[1]
        else:
            counters[10] += 1
            sums[2] = max(sums[2], d_out[1])
    else:
        counters[7] = 0
    cap = hist.shape[1] // 2
    if hlen == hist.shape[1]:
        for ch in range(n_ch):
            for i in range(cap):
                hist[ch, i] = hist[ch, hlen - cap + i]
        counters[8] -= hlen - cap
        counters[9] -= hlen - cap
        hlen = cap
    for ch in range(n_ch):
        hist[ch, hlen] = x[ch]
    counters[0] = hlen + 1
    if d >= 0.0:
        size = dists.shape[0]
        dists[counters[4]] = d
        counters[4] = (counters[4] + 1) % size
        counters[3] = min(counters[3] + 1, size)
        hsize = novs.shape[0]
        novs[counters[6]] = nov
        counters[6] = (counters[6] + 1) % hsize
        counters[5] += 1
        sums[0] += nov
        sums[1] += nov * nov
    for ch in range(n_ch):
        if counters[1] == 0 or x[ch] < lo[ch]:
            lo[ch] = x[ch]
        if counters[1] == 0 or x[ch] > hi[ch]:
            hi[ch] = x[ch]
    counters[1] += 1
    return emitted


@njit(cache=True)
def _run(values, centre, scale, hist, ctx, dists, novs, sums, lo, hi, prof, recent, counters,
         params, mode, out):  # fmt: skip
    """``_step`` over the rows of ``values`` (raw, normalised here); scores into ``out``."""
    work = np.empty(int(params[1]))
    d_out = np.zeros(5)
    z = np.empty(values.shape[1])
    for t in range(values.shape[0]):
        for ch in range(values.shape[1]):
            z[ch] = min(max((values[t, ch] - centre[ch]) / scale[ch], -CLIP), CLIP)
        out[t] = _step(z, -1.0, hist, ctx, dists, novs, sums, lo, hi, prof, recent, counters,
                       params, mode, work, d_out)  # fmt: skip


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


@register(
    "conformal_knn",
    modality="series",
    paper="Burnaev & Ishimtsev. Conformalized density- and distance-based anomaly detection in time-series data. arXiv:1608.04585, 2016; alarm shaping after Lavin & Ahmad, NAB, ICMLA 2015",
    year=2016,
    streaming=True,
)
class ConformalKNN(StreamingMixin, SeriesDetector):
    """Conformal nearest-neighbour novelty of the latest window, as an online alarm score.

    Score of a step: how far the conformal novelty ``-log10(p)`` of its window's nearest-
    neighbour distance rises above the previous ``horizon`` steps' maximum, in standard
    deviations of all earlier novelty values; at least ``range_score`` when the value leaves
    the range learned so far by more than ``range_tolerance`` of it; minus the largest score
    emitted over the previous ``refractory`` steps when that is positive. Higher = more
    anomalous; about 0.25 separated NAB's windows best (one threshold for all files).

    Parameters
    ----------
    window:
        Window length (values per window).
    memory:
        Learned windows searched for the nearest neighbour (the latest ones).
    calibration:
        Learned nearest-neighbour distances the conformal p-value ranks against.
    horizon:
        Steps whose novelty maximum a new value must exceed to alarm (repeat suppression).
    range_tolerance:
        Fraction of the learned range a value may exceed it by before the range rule fires.
    range_score:
        Score given to a value beyond the range (at least).
    refractory:
        Steps of emitted scores a new alarm must exceed (0: off). One event then alarms
        once, not at every step where its novelty or its level climbs a little higher.
    normalise:
        Per-channel scaling fitted on the ``fit`` history (``normalise.Normaliser``).
    warmup:
        Streaming from scratch: points kept before the first fit (at least ``2 * window``).
    nan_policy:
        ``"raise"`` or ``"interpolate"`` (see ``series.input`` and ``streaming``).
    seed:
        Unused (the method is deterministic); kept for the common interface.
    """

    #: scores are already online alarm scores (the NAB protocol applies no alarm transform)
    alarm_scores = True
    _parameter_constraints = {
        "window": params.count(2, params.MAX_WINDOW),
        "memory": params.count(1, 10_000_000),
        "calibration": params.count(1, params.MAX_SIZE),
        "horizon": params.count(1, params.MAX_SIZE),
        "range_tolerance": params.NON_NEGATIVE,
        "range_score": params.POSITIVE,
        "refractory": params.count(0, params.MAX_SIZE),
        "normalise": params.NORMALISE,
        "warmup": params.count(2, params.MAX_SIZE),
        "nan_policy": params.NAN_POLICY,
        "seed": params.SEED,
    }

    def __init__(
        self,
        *,
        window: int = 16,
        memory: int = 4000,
        calibration: int = 10_000,
        horizon: int = 600,
        range_tolerance: float = 0.1,
        range_score: float = 10.0,
        refractory: int = 300,
        normalise: str = "zscore",
        warmup: int = 64,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.memory = memory
        self.calibration = calibration
        self.horizon = horizon
        self.range_tolerance = range_tolerance
        self.range_score = range_score
        self.refractory = refractory
        self.normalise = normalise
        self.warmup = warmup
        self.nan_policy = nan_policy
        self.seed = seed

    # -- parameters -----------------------------------------------------------------------
    def min_length(self) -> int:
        return int(self.window) if _is_int(self.window) and self.window >= 2 else 2

    def _check_params(self) -> None:
        if not _is_int(self.window) or self.window < 2:
            raise InputError(f"window must be an int >= 2, got {self.window!r}")
        for name in ("memory", "calibration", "horizon"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if not _is_int(self.refractory) or self.refractory < 0:
            raise InputError(f"refractory must be an int >= 0, got {self.refractory!r}")
        if not (isinstance(self.range_tolerance, (int, float)) and self.range_tolerance >= 0):
            raise InputError(f"range_tolerance must be a number >= 0, got {self.range_tolerance!r}")
        if not (isinstance(self.range_score, (int, float)) and self.range_score > 0):
            raise InputError(f"range_score must be a positive number, got {self.range_score!r}")
        if self.normalise not in NORMALISE_METHODS:
            raise InputError(
                f"normalise must be one of {NORMALISE_METHODS}, got {self.normalise!r}"
            )
        if not _is_int(self.warmup) or self.warmup < 2:
            raise InputError(f"warmup must be an int >= 2, got {self.warmup!r}")

    def _params_array(self) -> np.ndarray:
        return np.array(
            [self.window, self.memory, self.calibration, self.range_tolerance, self.range_score],
            dtype=np.float64,
        )

    def _prepare(self) -> None:
        """Derived, unsaved helpers (compiled-kernel inputs and scratch space)."""
        self._params = self._params_array()
        self._centre = np.ascontiguousarray(self.normaliser_.centre_, dtype=np.float64)
        self._scale = np.ascontiguousarray(self.normaliser_.scale_, dtype=np.float64)
        self._work = np.empty(int(self.memory))
        self._d_out = np.zeros(5)
        self._hint: tuple[int, int, Any, float] | None = None
        self._history = None
        # univariate fast path (a plain number per step): no per-call array allocations
        self._c0 = float(self._centre[0]) if self._centre.size == 1 else None
        self._s0 = float(self._scale[0]) if self._scale.size == 1 else None
        self._z1 = np.empty(1)
        self._last1 = np.empty(1)

    # -- batch ----------------------------------------------------------------------------
    def _fit(self, data: SeriesData) -> None:
        self._check_params()
        values = data.values
        n_ch = values.shape[1]
        self.normaliser_ = Normaliser(self.normalise).fit(values)
        w = int(self.window)
        cap = int(self.memory) + 2 * w  # compaction keeps a full memory
        self.hist_ = np.zeros((n_ch, 2 * cap))  # channel-major: contiguous searches
        self.ctx_ = np.zeros((n_ch, w))
        self.dists_ = np.zeros(int(self.calibration))
        self.novs_ = np.zeros(int(self.horizon))
        self.sums_ = np.zeros(3)
        self.lo_ = np.zeros(n_ch)
        self.hi_ = np.zeros(n_ch)
        self.prof_ = np.zeros(int(self.memory))
        self.recent_ = np.zeros(int(self.refractory))
        self.counters_ = np.zeros(_N_COUNTERS, dtype=np.int64)
        self._prepare()
        self._advance(values, self._state(), LEARN)

    def _state(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, f"{key}_") for key in _STATE_KEYS}

    def _advance(self, values: np.ndarray, state: dict[str, np.ndarray], mode: int) -> np.ndarray:
        out = np.empty(values.shape[0])
        _run(
            np.ascontiguousarray(values, dtype=np.float64),
            self._centre,
            self._scale,
            *(state[key] for key in _STATE_KEYS),
            self._params,
            mode,
            out,
        )
        return out

    def _score(self, data: SeriesData) -> Scores:
        self._check_params()
        copy = {key: arr.copy() for key, arr in self._state().items()}
        return Scores(scores=finite_scores(self._advance(data.values, copy, LEARN)))

    # -- streaming ------------------------------------------------------------------------
    def score_one(self, x: Any) -> float:
        if isinstance(x, float) and self._fast_ready() and -MAX_ABS <= x <= MAX_ABS:
            return finite_score(self._call(x, SCORE))
        return super().score_one(x)

    def learn_one(self, x: Any) -> ConformalKNN:
        if isinstance(x, float) and self._fast_ready() and -MAX_ABS <= x <= MAX_ABS:
            self._call(x, LEARN)
            self._last1[0] = x
            self._last_point_ = self._last1
            return self
        super().learn_one(x)
        return self

    def _fast_ready(self) -> bool:
        return getattr(self, "is_fitted_", False) and getattr(self, "_c0", None) is not None

    def _call(self, x: np.ndarray | float, mode: int) -> float:
        """One kernel step; ``x`` is a point array (C,) or, univariate, a float."""
        if isinstance(x, float):
            z = self._z1
            z[0] = min(max((x - self._c0) / self._s0, -CLIP), CLIP)
            value: Any = x
        else:
            z = np.clip((x - self._centre) / self._scale, -CLIP, CLIP)
            value = z.tobytes()
        counters = self.counters_
        n_learned, n_seen = int(counters[1]), int(counters[2])
        hint = -1.0
        h = self._hint
        if h is not None and h[0] == n_learned and h[1] == n_seen and h[2] == value:
            hint = h[3]
        alarm = _step(
            z, hint, self.hist_, self.ctx_, self.dists_, self.novs_, self.sums_, self.lo_,
            self.hi_, self.prof_, self.recent_, counters, self._params, mode, self._work,
            self._d_out,
        )  # fmt: skip
        # a score_one followed by learn_one of the same point reuses the search
        self._hint = (n_learned, n_seen, value, float(self._d_out[0])) if mode == SCORE else None
        return float(alarm)

    def _learn_one(self, x: np.ndarray) -> None:
        if not hasattr(self, "hist_"):
            self._check_params()
            history = getattr(self, "_history", None) or []
            history.append(x.copy())
            self._history = history
            if len(history) >= max(int(self.warmup), 2 * int(self.window)):
                self._fit(SeriesData(values=np.asarray(history)))
            return
        self._call(x, LEARN)

    def _observe_one(self, x: np.ndarray) -> None:
        self._call(x, OBSERVE)

    def _score_one(self, x: np.ndarray) -> float:
        return self._call(x, SCORE)

    def _partial_fit(self, values: np.ndarray) -> None:
        if not hasattr(self, "hist_"):
            super()._partial_fit(values)  # collects the warm-up, then fits
            return
        self._hint = None
        self._advance(values, self._state(), LEARN)

    def _stream_ready(self) -> bool:
        return hasattr(self, "hist_")

    # -- state ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {key: arr.copy() for key, arr in self._state().items()}
        arrays.update(self.normaliser_.get_state())
        return arrays, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_counters(np.asarray(arrays["counters"]), int(arrays["hist"].shape[1]))
        self.normaliser_ = Normaliser.from_state(self.normalise, arrays)
        for key in _STATE_KEYS:
            dtype = np.int64 if key == "counters" else np.float64
            setattr(self, f"{key}_", np.array(arrays[key], dtype=dtype, copy=True))
        self._prepare()

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        set_channels(self, spec)

    def _state_spec(self) -> StateSpec:
        w, memory = int(self.window), int(self.memory)
        f64 = "float64"
        return (
            StateSpec(
                arrays={
                    "hist": ArraySpec(("C", 2 * (memory + 2 * w)), f64),
                    "ctx": ArraySpec(("C", w), f64),
                    "dists": ArraySpec((int(self.calibration),), f64, value_range=(0.0, None)),
                    "novs": ArraySpec((int(self.horizon),), f64),
                    "sums": ArraySpec((3,), f64),
                    "lo": ArraySpec(("C",), f64),
                    "hi": ArraySpec(("C",), f64),
                    "prof": ArraySpec((memory,), f64),
                    "recent": ArraySpec((int(self.refractory),), f64),
                    "counters": ArraySpec((_N_COUNTERS,), "int64", value_range=(-(2**62), 2**62)),
                }
            )
            .merged(normaliser_spec())
            .merged(channels_spec(self))
        )

    def _check_counters(self, c: np.ndarray, hist_len: int) -> None:
        """Ring positions and fills within their rings, the search profile within the
        history: what the kernels index with (see ``_STATE_KEYS``' comment)."""
        w, memory = int(self.window), int(self.memory)
        cal, horizon, refr = int(self.calibration), int(self.horizon), int(self.refractory)
        require(0 <= c[0] <= hist_len, f"history length {c[0]} outside [0, {hist_len}]")
        for i, what in ((1, "points learned"), (2, "points seen"), (5, "novelty count"),
                        (10, "steps since a full search")):  # fmt: skip
            require(c[i] >= 0, f"{what} is negative ({c[i]})")
        require(0 <= c[3] <= cal, f"calibration fill {c[3]} outside [0, {cal}]")
        require(0 <= c[4] < cal, f"calibration position {c[4]} outside [0, {cal})")
        require(0 <= c[6] < horizon, f"novelty position {c[6]} outside [0, {horizon})")
        require(c[7] in (0, 1), f"profile flag {c[7]} is not 0 or 1")
        if c[7] == 1:
            require(
                w - 1 <= c[8] <= c[9] < c[0] and c[9] - c[8] < memory,
                f"search profile [{c[8]}, {c[9]}] does not fit the history ({c[0]} points, "
                f"memory {memory})",
            )
        require(0 <= c[11] < max(refr, 1), f"refractory position {c[11]} outside its ring")
        require(0 <= c[12] <= refr, f"refractory fill {c[12]} outside [0, {refr}]")
