"""Matrix-profile discords: a window is as anomalous as it is far from its nearest neighbour.

The matrix profile of a series gives, for every window of length ``m``, the z-normalised
Euclidean distance to its nearest non-trivial neighbour. Windows unlike any other (discords)
have the largest values. Here the neighbours are looked up among the windows of the normal
training history (an AB-join) and, with ``self_join`` (default), also among the other
windows of the scored series outside the trivial-match zone (the classic discord
definition; it forgives a normal pattern absent from the training data when it recurs in the
scored data). A window's score is the smaller of the two distances. Without ``self_join``
the score of one window never depends on the other scored windows, so with
``spread="last"`` the scores are causal (what an online protocol needs). STUMPY computes
the joins; small joins run in NumPy with the same distances (no JIT compilation).

Cost is (scored windows) x (reference windows). When that exceeds ``max_pairs``, both series
are mean-pooled by the smallest factor ``d`` that brings it under, the window shrinks to
``round(m / d)``, and the pooled point scores are repeated ``d`` times. Channels are joined
one by one; a time step's score is the mean over channels, and ``Scores.maps`` holds the
per-channel scores (T, C). Distances are divided by ``sqrt(m)`` so they lie in [0, 2].

References
----------
Yeh, C.-C. M. et al. Matrix Profile I: All Pairs Similarity Joins for Time Series. ICDM 2016.

Law, S. M. STUMPY: A Powerful and Scalable Python Library for Time Series Data Mining. JOSS
2019.

Wu, R. & Keogh, E. Current Time Series Anomaly Detection Benchmarks are Flawed and are
Creating the Illusion of Progress. IEEE TKDE 2021.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from . import params
from .base import SeriesDetector
from .input import MAX_ABS, SeriesData
from .numerics import finite_scores
from .state import channels_spec, set_channels, set_window
from .windows import SPREAD_RULES, resolve_window, spread_scores

MIN_AUTO_WINDOW = 8
MIN_POOLED_WINDOW = 4
# Joins comparing at most this many window pairs run in NumPy: same distances as STUMPY,
# without the seconds of JIT compilation STUMPY spends on its first call in a process.
NUMPY_JOIN_PAIRS = 10_000_000


def pool(x: np.ndarray, factor: int) -> np.ndarray:
    """Mean of consecutive blocks of ``factor`` steps (the last block may be shorter)."""
    if factor <= 1:
        return x
    n = x.shape[0]
    full = n // factor * factor
    out = x[:full].reshape(-1, factor).mean(axis=1)
    if full < n:
        out = np.append(out, x[full:].mean())
    return out


def _window_stats(x: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, standard deviation and constancy (max == min) of every window of ``x``."""
    view = np.lib.stride_tricks.sliding_window_view(x, m)
    mean = view.mean(axis=1)
    std = view.std(axis=1)
    constant = view.max(axis=1) == view.min(axis=1)
    return mean, std, constant


def nn_distance_numpy(a: np.ndarray, m: int, b: np.ndarray | None = None) -> np.ndarray:
    """z-normalised Euclidean distance from each window of ``a`` to its nearest window of
    ``b`` (or, without ``b``, of ``a`` outside the trivial-match zone ``|i - j| <= ceil(m/4)``),
    computed densely. Constant windows follow STUMPY: distance 0 to another constant window,
    ``sqrt(m)`` to a non-constant one."""
    self_join = b is None
    b = a if b is None else b
    Wa = np.lib.stride_tricks.sliding_window_view(a, m)
    Wb = np.lib.stride_tricks.sliding_window_view(b, m)
    mu_a, sd_a, const_a = _window_stats(a, m)
    mu_b, sd_b, const_b = _window_stats(b, m)
    excl = int(np.ceil(m / 4))
    out = np.empty(Wa.shape[0])
    step = max(1, 2_000_000 // max(Wb.shape[0], 1))
    cols = np.arange(Wb.shape[0])
    for lo in range(0, Wa.shape[0], step):
        hi = min(lo + step, Wa.shape[0])
        qt = Wa[lo:hi] @ Wb.T
        denom = np.maximum(m * np.outer(sd_a[lo:hi], sd_b), 1e-14)
        rho = np.minimum((qt - m * np.outer(mu_a[lo:hi], mu_b)) / denom, 1.0)
        d2 = np.abs(2 * m * (1.0 - rho))
        ca, cb = const_a[lo:hi, None], const_b[None, :]
        d2 = np.where(ca & cb, 0.0, np.where(ca | cb, float(m), d2))
        if self_join:
            rows = np.arange(lo, hi)[:, None]
            d2[np.abs(rows - cols[None, :]) <= excl] = np.inf
        out[lo:hi] = np.sqrt(d2.min(axis=1))
    return out


def pool_factor(n_scored: int, n_reference: int, self_join: bool, max_pairs: int) -> int:
    """Smallest ``d`` with (n_scored / d) * (n_reference / d [+ n_scored / 2d]) <= max_pairs."""
    pairs = float(n_scored) * (n_reference + (n_scored / 2 if self_join else 0))
    return max(1, math.ceil(math.sqrt(pairs / max(float(max_pairs), 1.0))))


@register(
    "mp_discord",
    modality="series",
    paper="Yeh et al. Matrix Profile I: All Pairs Similarity Joins for Time Series. ICDM 2016 (computed with STUMPY, Law, JOSS 2019)",
    year=2016,
    can_localise=True,
)
class MatrixProfileDiscord(SeriesDetector):
    """Matrix-profile discords: distance of each window to its nearest normal neighbour.

    Parameters
    ----------
    window:
        Window length, or ``"auto"``: the training data's dominant period (8 to 512; see
        ``normalcy.series.windows.resolve_window``).
    self_join:
        Also search neighbours among the scored series' own windows (outside the trivial
        match zone of ``m / 4``); a window's distance is the smaller of the two.
    spread:
        How window scores become point scores (``"mean"``, ``"max"``, ``"last"``).
    max_pairs:
        Largest number of window pairs compared before the series are pooled.
    nan_policy:
        ``"raise"`` or ``"interpolate"`` (see ``series.input``).
    seed:
        Unused (exact method); kept for the common interface.
    """

    _parameter_constraints = {
        "window": params.WINDOW,
        "self_join": [bool],
        "spread": params.SPREAD,
        "max_pairs": [Interval(Integral, 1, 10**15)],
        "nan_policy": params.NAN_POLICY,
        "seed": params.SEED,
    }

    def __init__(
        self,
        *,
        window: int | str = "auto",
        self_join: bool = True,
        spread: str = "mean",
        max_pairs: int = 2_000_000_000,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.self_join = self_join
        self.spread = spread
        self.max_pairs = max_pairs
        self.nan_policy = nan_policy
        self.seed = seed

    def min_length(self) -> int:
        if hasattr(self, "window_"):
            return int(self.window_)
        return self.window if isinstance(self.window, int) else MIN_AUTO_WINDOW

    def _fit(self, data: SeriesData) -> None:
        if self.spread not in SPREAD_RULES:
            raise InputError(f"spread must be one of {SPREAD_RULES}, got {self.spread!r}")
        self.window_ = resolve_window(self.window, data.values)
        if data.length < self.window_:
            raise InputError(
                f"training series has {data.length} time steps, fewer than the window "
                f"length {self.window_}"
            )
        self.reference_ = data.values.copy()

    def _join(self, scored: np.ndarray, reference: np.ndarray, m: int) -> np.ndarray:
        """Nearest-neighbour distance of each window of ``scored`` (1-D) / sqrt(m)."""
        n_a, n_b = scored.shape[0] - m + 1, reference.shape[0] - m + 1
        own = self.self_join and scored.shape[0] >= 2 * m
        small = n_a * (n_b + (n_a if own else 0)) <= NUMPY_JOIN_PAIRS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if small:
                dist = nn_distance_numpy(scored, m, reference)
                if own:
                    dist = np.fmin(dist, nn_distance_numpy(scored, m))
            else:
                import stumpy

                dist = stumpy.stump(scored, m, T_B=reference, ignore_trivial=False)[:, 0]
                dist = dist.astype(np.float64)
                if own:
                    dist = np.fmin(dist, stumpy.stump(scored, m)[:, 0].astype(np.float64))
        dist = np.where(np.isfinite(dist), dist, 0.0)
        return dist / math.sqrt(m)

    def _score(self, data: SeriesData) -> Scores:
        values, ref = data.values, self.reference_
        factor = pool_factor(data.length, ref.shape[0], self.self_join, self.max_pairs)
        m = self.window_
        if factor > 1:
            m = max(MIN_POOLED_WINDOW, round(self.window_ / factor))
        per_channel = np.empty_like(values)
        for c in range(values.shape[1]):
            # z-normalised distances are scale-free: divide by the peak so no square overflows
            # (1e150-scale series) and no spread underflows the constancy floor (1e-300 scale)
            peak = max(float(np.abs(values[:, c]).max()), float(np.abs(ref[:, c]).max()))
            unit = peak if peak > 0 else 1.0
            scored = pool(values[:, c] / unit, factor)
            reference = pool(ref[:, c] / unit, factor)
            if scored.shape[0] < m or reference.shape[0] < m:
                raise InputError(
                    f"series of {scored.shape[0]} (pooled) steps is shorter than the window {m}"
                )
            dist = self._join(scored, reference, m)
            starts = np.arange(dist.size)
            points = spread_scores(dist, starts, scored.shape[0], m, self.spread)
            per_channel[:, c] = np.repeat(points, factor)[: data.length]
        per_channel = finite_scores(per_channel)
        maps = per_channel if values.shape[1] > 1 else None
        return Scores(scores=per_channel.mean(axis=1), maps=maps)

    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {"reference": self.reference_}, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.reference_ = np.asarray(arrays["reference"], dtype=np.float64)

    def _input_spec(self) -> dict[str, Any]:
        return {**super()._input_spec(), "window": int(self.window_)}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        set_channels(self, spec)
        set_window(self, spec)

    def _state_spec(self) -> StateSpec:
        return StateSpec(
            arrays={"reference": ArraySpec(("n", "C"), "float64", value_range=(-MAX_ABS, MAX_ABS))},
            dim_bounds={"n": (int(self.window_), None)},
        ).merged(channels_spec(self))
