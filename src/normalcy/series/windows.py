"""Sliding windows over a series, the window-length rule, and spreading window scores back
onto time steps.

Every window-based series detector in normalcy scores *windows* and must return one score per
*time step*. The rules used for that are stated here once:

* ``window_starts(T, m, stride)``: windows start every ``stride`` steps; when the last regular
  window does not reach the end of the series, one more window ending at ``T - 1`` is added,
  so every time step is covered.
* ``spread_scores(..., rule)``: how window scores become point scores.

  - ``"mean"`` (default): a time step gets the mean score of the windows that cover it. An
    anomaly that raises the score of every window overlapping it gives a peak at its centre.
  - ``"max"``: a time step gets the largest score of the windows that cover it.
  - ``"last"``: causal; a time step gets the score of the latest window that *ends* at or
    before it (with ``stride=1``: the window ending at it). This is what a streaming
    detector can report without looking ahead; it is the rule that makes batch scores equal
    to streamed ones. Time steps before the first window ends get the lowest window score.

* ``dominant_period(values)``: the window-length rule (see its docstring).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d

from ..core.errors import InputError

SPREAD_RULES = ("mean", "max", "last")


def n_windows(length: int, window: int, stride: int = 1) -> int:
    """Number of windows ``window_starts`` yields for a series of ``length`` steps."""
    return len(window_starts(length, window, stride))


def window_starts(length: int, window: int, stride: int = 1) -> np.ndarray:
    """Start indices of the windows: every ``stride`` steps, plus one window ending at the
    last time step when the regular grid stops short of it."""
    if window < 1 or stride < 1:
        raise InputError(f"window ({window}) and stride ({stride}) must be at least 1")
    if length < window:
        raise InputError(f"series has {length} time steps, shorter than the window length {window}")
    starts = np.arange(0, length - window + 1, stride, dtype=np.int64)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts


def sliding_windows(values: np.ndarray, window: int, stride: int = 1) -> np.ndarray:
    """Windows of a (T,) or (T, C) series as rows of a 2-D array.

    Returns an array (n_windows, window * C); a row lists the window time-major (all channels
    of its first step, then of its second, ...). Starts follow ``window_starts``.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    starts = window_starts(values.shape[0], window, stride)
    view = np.lib.stride_tricks.sliding_window_view(values, window, axis=0)  # (n, C, m)
    rows = view[starts].transpose(0, 2, 1)  # (n, m, C)
    return rows.reshape(len(starts), window * values.shape[1])


def spread_scores(
    window_scores: np.ndarray,
    starts: np.ndarray,
    length: int,
    window: int,
    rule: str = "mean",
) -> np.ndarray:
    """Point scores (length,) from scores of windows starting at ``starts`` (see module doc)."""
    if rule not in SPREAD_RULES:
        raise InputError(f"spread rule must be one of {SPREAD_RULES}, got {rule!r}")
    window_scores = np.asarray(window_scores, dtype=np.float64).reshape(-1)
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    if window_scores.shape != starts.shape:
        raise InputError(
            f"{window_scores.size} window scores for {starts.size} window starts; they must match"
        )
    if rule == "last":
        ends = starts + window - 1
        out = np.empty(length, dtype=np.float64)
        # index of the latest window ending at or before t (ends are increasing)
        latest = np.searchsorted(ends, np.arange(length), side="right") - 1
        out[:] = window_scores[np.maximum(latest, 0)]
        out[latest < 0] = window_scores.min()
        return out
    if rule == "max":
        placed = np.full(length, -np.inf)
        np.maximum.at(placed, starts, window_scores)
        # point t is covered by windows starting in [t - window + 1, t]
        out = maximum_filter1d(placed, size=window, origin=(window - 1) // 2, mode="nearest")
        return out
    total = np.zeros(length + 1)
    count = np.zeros(length + 1)
    np.add.at(total, starts, window_scores)
    np.add.at(total, starts + window, -window_scores)
    np.add.at(count, starts, 1.0)
    np.add.at(count, starts + window, -1.0)
    total = np.cumsum(total)[:length]
    count = np.cumsum(count)[:length]
    return total / np.maximum(count, 1.0)


def dominant_period(
    values: np.ndarray,
    min_period: int = 8,
    max_period: int = 512,
    max_points: int = 20_000,
    min_correlation: float = 0.1,
) -> int | None:
    """The dominant period of a series from its autocorrelation, or None when it has none.

    Rule: take the first ``max_points`` steps, remove each channel's mean, sum the channels'
    autocorrelation functions (computed with the FFT), and return the lag in
    ``[min_period, max_period]`` (and at most a third of the data) holding the highest local
    maximum of that function. Return None when no local maximum there reaches
    ``max(min_correlation, 2.5 / sqrt(n))`` (normalised autocorrelation; the second term
    is the noise level of an autocorrelation estimated from ``n`` points), e.g. for noise or
    a trend.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    x = x[:max_points]
    n = x.shape[0]
    hi = min(max_period, n // 3)
    if hi <= min_period:
        return None
    peak = np.abs(x).max(axis=0)
    x = x / np.where(peak > 0, peak, 1.0)  # scale-free: no overflow at 1e150, no underflow
    x = x - x.mean(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spec = np.fft.rfft(x, n=size, axis=0)
    acf = np.fft.irfft(spec * np.conj(spec), n=size, axis=0)[:n].sum(axis=1)
    if acf[0] <= 0:
        return None
    acf = acf / acf[0]
    lags = np.arange(max(min_period, 1), hi + 1)
    seg = acf[lags]
    left = acf[lags - 1]
    right = acf[lags + 1]
    floor = max(min_correlation, 2.5 / np.sqrt(n))
    peaks = lags[(seg > left) & (seg >= right) & (seg >= floor)]
    if peaks.size == 0:
        return None
    return int(peaks[np.argmax(acf[peaks])])


def resolve_window(
    window: int | str,
    values: np.ndarray,
    default: int = 100,
    min_window: int = 8,
    max_window: int = 512,
) -> int:
    """The window length a detector uses: ``window`` itself when it is an int, else (for
    ``"auto"``) the training data's dominant period bounded to ``[min_window, max_window]``,
    or ``default`` when the data has no clear period. The result never exceeds a quarter of
    the training length (so a handful of windows can always be formed)."""
    n = int(np.asarray(values).shape[0])
    if isinstance(window, str):
        if window != "auto":
            raise InputError(f"window must be a positive int or 'auto', got {window!r}")
        period = dominant_period(values, min_period=min_window, max_period=max_window)
        m = default if period is None else period
        m = int(min(max(m, min_window), max_window, max(2, n // 4)))
        return max(m, 2)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise InputError(f"window must be an int of at least 2 or 'auto', got {window!r}")
    return int(window)
