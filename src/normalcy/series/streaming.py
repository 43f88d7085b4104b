"""Streaming support shared by online series detectors: river's ``learn_one`` /
``score_one`` plus ``partial_fit``, and a ring buffer holding the latest window.

A streaming detector subclasses ``StreamingMixin`` *before* ``SeriesDetector`` and implements

* ``_learn_one(x)``: update the model with one time step ``x`` (float64 array (C,));
* ``_score_one(x) -> float``: score one time step given everything learned so far, without
  learning it;
* optionally ``_observe_one(x)``: advance the stream's context (e.g. the window buffer)
  without learning, used when scoring with a frozen model (default: nothing to advance);
* optionally ``_partial_fit(values)`` for a faster batch update (default: ``_learn_one`` per
  row).

Contract (tested for every detector registered with ``streaming=True``):

* ``score_one`` never changes the model; ``learn_one`` never returns a score.
* Prequential use is "score, then learn" for each step; ``score_stream(X)`` does exactly that
  (``learn=False`` scores every step against the frozen model, only advancing the context
  such as the latest window).
* Before the detector can score (nothing learned yet, or a warm-up history still filling:
  ``_stream_ready()`` is False), ``score_one`` returns 0.0.
* A point is a number (univariate) or a sequence of C numbers (bool and strings are not
  numbers). NaN/inf raise ``InputError`` unless ``nan_policy="interpolate"``, in which case
  the previous value is carried forward (a stream cannot look ahead to interpolate); a
  value beyond ``series.input.MAX_ABS`` (e.g. ``10**400``) or a wrong number of
  channels raises ``InputError``.
* ``score_one`` always returns a finite float (``numerics.finite_score``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.scores import Scores
from .input import MAX_ABS, as_series
from .numerics import finite_score


class WindowBuffer:
    """The latest ``size`` points of a stream as one contiguous (size, C) array.

    Each point is written twice (at ``i`` and ``i + size``) so the current window is always a
    contiguous slice: push is O(C), reading the window copies nothing.
    """

    def __init__(self, size: int, n_channels: int):
        self.size = int(size)
        self.n_channels = int(n_channels)
        self._buf = np.zeros((2 * self.size, self.n_channels))
        self._pos = 0
        self.count = 0

    def push(self, x: np.ndarray) -> None:
        self._buf[self._pos] = x
        self._buf[self._pos + self.size] = x
        self._pos = (self._pos + 1) % self.size
        self.count += 1

    @property
    def full(self) -> bool:
        return self.count >= self.size

    def window(self) -> np.ndarray:
        """The latest ``size`` points, oldest first (a view; copy it to keep it)."""
        return self._buf[self._pos : self._pos + self.size]

    def window_with(self, x: np.ndarray) -> np.ndarray:
        """The window that pushing ``x`` would give, without pushing it (a new array)."""
        out = np.empty((self.size, self.n_channels))
        out[:-1] = self._buf[self._pos + 1 : self._pos + self.size]
        out[-1] = x
        return out

    def get_state(self, prefix: str = "buffer_") -> dict[str, np.ndarray]:
        return {
            f"{prefix}window": self.window().copy(),
            f"{prefix}count": np.array([self.count], dtype=np.int64),
        }

    @classmethod
    def from_state(cls, arrays: dict[str, np.ndarray], prefix: str = "buffer_") -> WindowBuffer:
        window = np.asarray(arrays[f"{prefix}window"], dtype=np.float64)
        buf = cls(window.shape[0], window.shape[1])
        buf._buf[: buf.size] = window
        buf._buf[buf.size :] = window
        buf.count = int(arrays[f"{prefix}count"][0])
        return buf


class StreamingMixin:
    """``learn_one`` / ``score_one`` / ``partial_fit`` / ``score_stream`` for series
    detectors (see the module docstring for the contract)."""

    nan_policy: str = "raise"

    # -- hooks ----------------------------------------------------------------------------
    def _learn_one(self, x: np.ndarray) -> None:
        raise NotImplementedError

    def _score_one(self, x: np.ndarray) -> float:
        raise NotImplementedError

    def _observe_one(self, x: np.ndarray) -> None:
        return None

    def _partial_fit(self, values: np.ndarray) -> None:
        for row in values:
            self._learn_one(row)

    def _stream_ready(self) -> bool:
        """Whether the model can score yet (e.g. False while a warm-up history fills)."""
        return True

    # -- public API -----------------------------------------------------------------------
    def learn_one(self, x: Any) -> StreamingMixin:
        """Update the model with one time step (a number, or C numbers)."""
        point = self._check_point(x)
        self._learn_one(point)
        self._last_point_ = point
        self.is_fitted_ = self._stream_ready()
        return self

    def score_one(self, x: Any) -> float:
        """Score of one time step given what was learned so far (the model is unchanged)."""
        point = self._check_point(x)
        if not getattr(self, "is_fitted_", False):
            return 0.0
        return finite_score(self._score_one(point))

    def partial_fit(self, X: Any) -> StreamingMixin:
        """Learn a batch of consecutive time steps, (T,) / (T, C) / pandas."""
        data = as_series(
            X,
            min_length=1,
            n_channels=getattr(self, "n_channels_", None),
            nan_policy=self.nan_policy,
            name="partial_fit series",
        )
        self.n_channels_ = data.n_channels
        self._partial_fit(data.values)
        self._last_point_ = data.values[-1].copy()
        self.is_fitted_ = self._stream_ready()
        return self

    def score_stream(self, X: Any, learn: bool = True) -> Scores:
        """Score a series one step at a time; with ``learn`` each step is learned right after
        it is scored (prequential), without it the model stays frozen."""
        data = as_series(
            X,
            min_length=1,
            n_channels=getattr(self, "n_channels_", None),
            nan_policy=self.nan_policy,
            name="streamed series",
        )
        out = np.empty(data.length)
        for t, row in enumerate(data.values):
            out[t] = self.score_one(row)
            if learn:
                self.learn_one(row)
            elif getattr(self, "is_fitted_", False):
                self._observe_one(row)
        return Scores(scores=out, index=data.index)

    # -- validation -----------------------------------------------------------------------
    def _check_point(self, x: Any) -> np.ndarray:
        if isinstance(x, float) and -MAX_ABS <= x <= MAX_ABS:  # a plain number: fast path
            expected = getattr(self, "n_channels_", None)
            if expected == 1:
                return np.array([x], dtype=np.float64)
            if expected is None:
                self.n_channels_ = 1
                return np.array([x], dtype=np.float64)
        point = _as_point(x)
        expected = getattr(self, "n_channels_", None)
        if expected is None:
            if point.size == 0:
                raise InputError("a stream point must hold at least one value, got none")
            self.n_channels_ = point.size
        elif point.size != expected:
            raise InputError(
                f"stream point has {point.size} value(s) but the detector expects {expected} "
                "(one per channel)"
            )
        if not np.isfinite(point).all():
            last = getattr(self, "_last_point_", None)
            if self.nan_policy != "interpolate" or last is None:
                raise InputError(
                    f"stream point {point.tolist()} holds NaN/inf; pass finite values or use "
                    "nan_policy='interpolate' (carries the previous value forward)"
                )
            point = np.where(np.isfinite(point), point, last)
        big = np.abs(point) > MAX_ABS
        if big.any():
            c = int(np.flatnonzero(big)[0])
            raise InputError(
                f"stream point channel {c} holds {point[c]:.3g}; values must lie within "
                f"±{MAX_ABS:.3g} (their squares must be finite)"
            )
        return point


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _as_point(x: Any) -> np.ndarray:
    """A stream point as a float64 array (C,); ``InputError`` for anything but numbers."""
    if isinstance(x, np.ndarray) and x.dtype.kind == "f":  # the common case, checked cheaply
        return x.astype(np.float64).reshape(-1)
    # built only when needed: the repr of a many-channel array costs far more than a step
    bad = InputError(f"a stream point must be a number or a sequence of numbers, got {x!r:.80}")
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "iu":
            raise bad
        items: Any = x.reshape(-1)
    elif _is_number(x):
        items = [x]
    elif isinstance(x, (list, tuple)):
        items = x
    else:
        try:  # e.g. a pandas Series row
            items = np.asarray(x).reshape(-1)
        except Exception:
            raise bad from None
        if items.dtype.kind not in "iuf":
            raise bad
    if not all(_is_number(v) for v in items):
        raise bad
    try:
        return np.asarray(items, dtype=np.float64).reshape(-1)
    except OverflowError:
        big = next(v for v in items if isinstance(v, int) and abs(v) > MAX_ABS)
        raise InputError(
            f"stream point value {str(big)[:8]}... ({len(str(abs(big)))} digits) is beyond "
            f"±{MAX_ABS:.3g} (its square must be finite)"
        ) from None
