"""``WindowedDetector``: the shared frame of series detectors that score sliding windows.

It resolves the window length (``"auto"``: the training data's dominant period, see
``windows.resolve_window``), fits a ``Normaliser`` on the training history only, cuts
windows, hands them to the method's ``_fit_windows`` / ``_score_windows``, and spreads the
window scores back onto time steps (``windows.spread_scores``). Scoring runs in chunks so
memory stays bounded on long series. A method implements only its window-level parts:

* ``_fit_windows(W)`` with ``W`` (n_windows, window * C) from the normalised training data;
* ``_score_windows(W) -> (n_windows,)``, higher = more anomalous;
* ``_get_method_state()`` / ``_set_method_state(arrays, meta)`` for its fitted state, and
  ``_method_state_spec()`` declaring it (in terms of ``self.window_``, the parameters and
  the named size ``"C"``, the number of channels; see ``series.state``);
* optionally ``_element_errors(W) -> (n_windows, window * C)``, a non-negative error for every
  value of every window (e.g. a squared reconstruction residual), with ``pointwise = True``.
  Then a time step's score comes from *its own* errors in the windows covering it (mean, max,
  or for ``"last"`` its error in the window ending at it), summed over channels, and
  ``Scores.maps`` holds the per-channel part (T, C) when there are several channels. A spike
  then scores as a spike instead of being diluted over the window.

Shared parameters (each subclass lists them in its constructor): ``window`` (int or
``"auto"``), ``stride`` (int, or ``"auto"``: the smallest stride scoring at most
``max_windows`` windows), ``max_windows`` (training windows beyond this are subsampled at an
even stride), ``normalise`` (``Normaliser`` method), ``spread`` (``"mean"``, ``"max"`` or the
causal ``"last"``), ``nan_policy`` and ``seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.scores import Scores
from ..core.state_spec import StateSpec
from .base import SeriesDetector
from .input import SeriesData
from .normalise import Normaliser
from .numerics import finite_scores
from .state import channels_spec, normaliser_spec, set_channels, set_window
from .windows import SPREAD_RULES, resolve_window, sliding_windows, spread_scores, window_starts

MIN_AUTO_WINDOW = 8
_CHUNK = 16_384  # windows scored per chunk


class WindowedDetector(SeriesDetector):
    """Base of window-scoring series detectors (see the module docstring)."""

    pointwise: bool = False

    window: int | str = "auto"
    stride: int | str = 1
    max_windows: int = 50_000
    normalise: str = "zscore"
    spread: str = "mean"

    # -- hooks ----------------------------------------------------------------------------
    def _fit_windows(self, W: np.ndarray) -> None:
        raise NotImplementedError

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _element_errors(self, W: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        return None

    def _method_state_spec(self) -> StateSpec:
        raise NotImplementedError

    min_window: int = 2  # smallest resolved window a model file may declare

    # -- shared machinery -----------------------------------------------------------------
    def min_length(self) -> int:
        if hasattr(self, "window_"):
            return int(self.window_)
        return self.window if isinstance(self.window, int) else MIN_AUTO_WINDOW

    def _check_params(self) -> None:
        if self.spread not in SPREAD_RULES:
            raise InputError(f"spread must be one of {SPREAD_RULES}, got {self.spread!r}")
        if not (self.stride == "auto" or (isinstance(self.stride, int) and self.stride >= 1)):
            raise InputError(f"stride must be a positive int or 'auto', got {self.stride!r}")
        if not isinstance(self.max_windows, int) or self.max_windows < 2:
            raise InputError(f"max_windows must be an int of at least 2, got {self.max_windows!r}")

    def _score_stride(self, length: int) -> int:
        if self.stride == "auto":
            n = length - self.window_ + 1
            return max(1, -(-n // self.max_windows))
        return int(self.stride)

    def _fit(self, data: SeriesData) -> None:
        self._check_params()
        self.normaliser_ = Normaliser(self.normalise).fit(data.values)
        x = self.normaliser_.transform(data.values)
        self.window_ = resolve_window(self.window, x)
        if x.shape[0] < self.window_:
            raise InputError(
                f"training series has {x.shape[0]} time steps, fewer than the window length "
                f"{self.window_}"
            )
        n = x.shape[0] - self.window_ + 1
        stride = max(1, -(-n // self.max_windows))
        self._fit_windows(sliding_windows(x, self.window_, stride))

    def _chunks(self, values: np.ndarray):
        """Yield (starts, W) chunks of the windows of a validated (T, C) array."""
        x = self.normaliser_.transform(values)
        starts = window_starts(x.shape[0], self.window_, self._score_stride(x.shape[0]))
        view = np.lib.stride_tricks.sliding_window_view(x, self.window_, axis=0)
        for lo in range(0, starts.size, _CHUNK):
            idx = starts[lo : lo + _CHUNK]
            yield idx, view[idx].transpose(0, 2, 1).reshape(idx.size, -1)

    def window_scores(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(starts, scores) of the windows of an already validated (T, C) array."""
        parts = [(idx, self._score_windows(W)) for idx, W in self._chunks(values)]
        starts = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        return starts, _finite(scores)

    def point_errors(self, values: np.ndarray) -> np.ndarray:
        """(T, C) per-step, per-channel errors of a validated array (``pointwise`` methods)."""
        T, C = values.shape
        m = self.window_
        rule = self.spread
        total = np.zeros((T, C))
        count = np.zeros(T)
        best = np.full((T, C), -np.inf) if rule == "max" else None
        for idx, W in self._chunks(values):
            E = _finite(self._element_errors(W)).reshape(idx.size, m, C)
            if rule == "last":
                ends = idx + m - 1
                total[ends] = E[:, -1, :]
                count[ends] = 1.0
                continue
            for j in range(m):  # window starts are unique: no repeated index per step
                if rule == "max":
                    best[idx + j] = np.maximum(best[idx + j], E[:, j, :])
                else:
                    total[idx + j] += E[:, j, :]
                    count[idx + j] += 1.0
        if rule == "max":
            return best
        if rule == "last":
            # a step that ends no window takes the latest earlier window end; steps before
            # the first window end take the lowest error (they are never flagged)
            have = np.flatnonzero(count > 0)
            pos = np.searchsorted(have, np.arange(T), side="right") - 1
            out = total[have[np.maximum(pos, 0)]]
            out[pos < 0] = total[have].min(axis=0)
            return out
        return total / np.maximum(count, 1.0)[:, None]

    def _score(self, data: SeriesData) -> Scores:
        self._check_params()
        if self.pointwise:
            per_channel = self.point_errors(data.values)
            maps = per_channel if data.n_channels > 1 else None
            return Scores(scores=per_channel.sum(axis=1), maps=maps)
        starts, ws = self.window_scores(data.values)
        return Scores(scores=spread_scores(ws, starts, data.length, self.window_, self.spread))

    def _get_state(self):
        arrays, meta = self._get_method_state()
        arrays = {**arrays, **self.normaliser_.get_state()}
        return arrays, meta

    def _set_state(self, arrays, meta):
        self.normaliser_ = Normaliser.from_state(self.normalise, arrays)
        self._set_method_state(arrays, meta)

    def _input_spec(self) -> dict[str, Any]:
        return {**super()._input_spec(), "window": int(self.window_)}

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        set_channels(self, spec)
        set_window(self, spec, self.min_window)

    def _state_spec(self) -> StateSpec:
        return self._method_state_spec().merged(normaliser_spec()).merged(channels_spec(self))


def _finite(a: np.ndarray) -> np.ndarray:
    return finite_scores(a)
