"""RoLA: one lightweight online detector per variable, correlations found on the fly, and a
joint decision by majority rule. Streaming (``learn_one`` / ``score_one``) and batch.

RoLA (Lee et al., 2023) splits a multivariate stream by variable and runs one lightweight
anomaly detector (LAD) per variable in parallel. Each LAD is RePAD2 (Lee & Lin, 2023):

* a tiny model predicts the next value of its variable from the latest ``lookback`` values;
* the detection signal at time ``t`` is AARE, the average absolute error of the latest
  ``lookback`` predictions;
* the threshold is ``mean + k * std`` of the AARE values in a sliding window of
  ``threshold_window`` steps (RePAD2's bounded memory);
* online retraining: when AARE exceeds the threshold, the model is retrained on the latest
  data and the point is predicted again; only when the retrained model also exceeds the
  threshold is the point reported, and the old model is kept. After a reported point the
  next step starts by retraining (RePAD's flag). Reports are immediate (per point).

When LADs report, RoLA decides jointly: for each reporting variable ``a`` it looks at the
variables whose Pearson correlation with ``a`` over the latest ``correlation_window`` points
has magnitude at least ``correlation_threshold`` (computed on the fly), counts ``a`` and the
correlated variables that also report as agreeing and the others as disagreeing, and reports
the time step when the agreeing votes are the majority.

How this module implements it
-----------------------------
* **Per-variable model** (simplification, documented): RePAD trains a small LSTM on the
  latest three points. A per-point LSTM cannot stream 20,000 points/s on one core, so each
  LAD uses the lightest model with the same interface: a linear autoregressive predictor of
  order ``lookback`` (with intercept), fitted by ridge least squares. ``fit`` fits it on the
  whole normal history; online retraining refits it on the latest ``retrain_window`` points
  before ``t`` (RePAD retrains on the latest points only).
* **AARE** uses absolute errors on the series normalised with statistics of the training
  history. RePAD divides by the actual value (relative error), which is undefined for
  values at or near zero, common in normalised or zero-crossing series; the threshold rule
  is unchanged.
* **Continuous score**: a detector must rank time steps, not only flag them. Each LAD's
  score is its AARE standardised by the sliding window, ``s = (AARE - mean) / std``, so the
  LAD reports exactly when ``s > k`` (after the retraining check, i.e. the smaller of the
  two scores). The joint score of variable ``a`` is ``min(s_a, the m-th largest s in its
  group)`` with the group ``{a} ∪ correlated(a)`` and ``m = floor(|group| / 2) + 1``; it
  exceeds ``k`` exactly when ``a`` reports and the majority of its group reports. The score
  of the time step is the largest joint score over variables, so ``score > k`` is exactly
  RoLA's joint decision (``Scores.extras["rola_flags"]``). ``Scores.maps`` holds each
  LAD's ``s`` (localisation: which variables deviate).
* A variable without correlated partners decides alone (its group is itself); a
  univariate series therefore reduces to RePAD2. The reference description leaves this case
  open; dropping such reports would make RoLA silent on univariate streams.
* Running sums (correlation, AARE window) are updated in O(1) per step and recomputed
  exactly once per window length, so they do not drift. All state updates are numba-jitted
  (``series.rola_kernels``).

Batch and streaming agree: ``score(X)`` runs the online procedure over ``X`` starting from
the current state (learning as it goes, as RoLA does) on a copy, so it equals
``score_stream(X)`` (score, then learn, each point) on a detector in the same state, and it
leaves the detector unchanged. ``score_stream(X, learn=False)`` keeps the models, AARE
windows and thresholds frozen (no retraining) and advances only the context: the latest
values and prediction errors and the correlation sums. Learning from scratch (no ``fit``) keeps the first ``warmup``
points, then fits on them.

References
----------
Lee, M.-C., Lin, J.-C. et al. RoLA: A Real-Time Online Lightweight Anomaly Detection System
for Multivariate Time Series. arXiv:2305.16509, 2023.

Lee, M.-C. & Lin, J.-C. RePAD2: Real-Time, Lightweight, and Adaptive Anomaly Detection for
Open-Ended Time Series. IoTBDS 2023.

Lee, M.-C., Lin, J.-C. & Gran, E. G. RePAD: Real-Time Proactive Anomaly Detection for Time
Series. AINA 2020.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.constraints import Interval, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from . import params
from .base import SeriesDetector
from .input import SeriesData
from .normalise import NORMALISE_METHODS, Normaliser
from .numerics import finite_scores
from .rola_kernels import LEARN, MIN_HISTORY, OBSERVE, RIDGE, SCORE, _run, _step
from .state import COUNT_RANGE, channels_spec, normaliser_spec, set_channels
from .streaming import StreamingMixin

# -- the detector -----------------------------------------------------------------------------
_STATE_KEYS = ("vals", "coef", "errs", "aare", "sums", "flag", "corr", "counters")


@register(
    "rola",
    modality="series",
    paper="Lee, Lin et al. RoLA: A Real-Time Online Lightweight Anomaly Detection System for Multivariate Time Series. arXiv:2305.16509, 2023",
    year=2023,
    can_localise=True,
    streaming=True,
)
class RoLA(StreamingMixin, SeriesDetector):
    """RoLA: per-variable online predictors (RePAD2), correlations on the fly, majority vote.

    Parameters
    ----------
    lookback:
        Values each per-variable model predicts from, and predictions averaged into AARE
        (RePAD's look-back ``b``; 3 in the papers).
    retrain_window:
        Latest points an online retraining fits the predictor on.
    threshold_window:
        AARE values kept for the threshold ``mean + k * std`` (RePAD2's sliding window).
    k:
        Threshold width in standard deviations; a LAD reports when its standardised AARE
        exceeds it (3 in the papers).
    correlation_window:
        Latest points over which the Pearson correlation between variables is computed.
    correlation_threshold:
        Minimum absolute correlation for two variables to vote together.
    normalise:
        Per-variable scaling fitted on the training history (``normalise.Normaliser``).
    warmup:
        Streaming from scratch: points kept before the first fit.
    nan_policy:
        ``"raise"`` or ``"interpolate"`` (see ``series.input`` and ``streaming``).
    seed:
        Unused (the method is deterministic); kept for the common interface.
    """

    quick_params = {"threshold_window": 512, "correlation_window": 256}
    _parameter_constraints = {
        "lookback": params.count(1, 1_000),
        "retrain_window": params.count(4, params.MAX_SIZE),
        "threshold_window": params.count(MIN_HISTORY, params.MAX_SIZE),
        "k": params.POSITIVE,
        "correlation_window": params.count(3, params.MAX_SIZE),
        "correlation_threshold": [Interval(Real, 0, 1)],
        "normalise": params.NORMALISE,
        "warmup": params.count(8, params.MAX_SIZE),
        "nan_policy": params.NAN_POLICY,
        "seed": params.SEED,
    }

    def __init__(
        self,
        *,
        lookback: int = 3,
        retrain_window: int = 64,
        threshold_window: int = 8064,
        k: float = 3.0,
        correlation_window: int = 2880,
        correlation_threshold: float = 0.95,
        normalise: str = "zscore",
        warmup: int = 256,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.lookback = lookback
        self.retrain_window = retrain_window
        self.threshold_window = threshold_window
        self.k = k
        self.correlation_window = correlation_window
        self.correlation_threshold = correlation_threshold
        self.normalise = normalise
        self.warmup = warmup
        self.nan_policy = nan_policy
        self.seed = seed

    # -- parameters -----------------------------------------------------------------------
    def min_length(self) -> int:
        return 4 * (int(self.lookback) + 1) if _is_int(self.lookback) else 16

    def _check_params(self) -> None:
        for name in ("lookback", "retrain_window", "threshold_window", "correlation_window"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if self.retrain_window < 2 * (self.lookback + 1):
            raise InputError(
                f"retrain_window ({self.retrain_window}) must be at least 2 * (lookback + 1) = "
                f"{2 * (self.lookback + 1)} so a retrained predictor is determined"
            )
        if self.threshold_window < MIN_HISTORY:
            raise InputError(f"threshold_window must be at least {MIN_HISTORY}")
        if self.correlation_window < 3:
            raise InputError("correlation_window must be at least 3")
        if not (isinstance(self.k, (int, float)) and self.k > 0):
            raise InputError(f"k must be a positive number, got {self.k!r}")
        if not (0.0 <= float(self.correlation_threshold) <= 1.0):
            raise InputError(
                f"correlation_threshold must lie in [0, 1], got {self.correlation_threshold!r}"
            )
        if self.normalise not in NORMALISE_METHODS:
            raise InputError(f"normalise must be one of {NORMALISE_METHODS}")
        if not _is_int(self.warmup) or self.warmup < self.min_length():
            raise InputError(f"warmup must be an int of at least {self.min_length()}")

    def _params_array(self) -> np.ndarray:
        return np.array(
            [
                self.lookback,
                self.retrain_window,
                self.k,
                self.correlation_window,
                self.correlation_threshold,
            ],
            dtype=np.float64,
        )

    # -- batch ----------------------------------------------------------------------------
    def _fit(self, data: SeriesData) -> None:
        self._check_params()
        values = data.values
        self.normaliser_ = Normaliser(self.normalise).fit(values)
        self._centre = _numba_ready(self.normaliser_.centre_)
        self._scale = _numba_ready(self.normaliser_.scale_)
        z = self.normaliser_.transform(values)
        n_vars = z.shape[1]
        b = int(self.lookback)
        size = max(self.retrain_window + b, self.correlation_window) + 1
        self.vals_ = np.zeros((n_vars, size))
        self.coef_ = np.stack([_ar_least_squares(z[:, i], b) for i in range(n_vars)])
        self.errs_ = np.zeros((n_vars, b))
        self.aare_ = np.zeros((n_vars, int(self.threshold_window)))
        self.sums_ = np.zeros((n_vars, 2))
        self.flag_ = np.zeros(n_vars)
        self.corr_ = np.zeros((n_vars, n_vars + 2))
        self.counters_ = np.zeros(3, dtype=np.int64)
        self._params = self._params_array()
        self._s_buf = np.empty(n_vars)
        # run the online procedure over the history: fills the buffers and AARE window
        self._advance(values)
        self._history = None

    def _advance(self, values: np.ndarray, state: dict | None = None):
        """Score-then-learn ``values`` (T, C) on ``state`` (default: the detector's own)."""
        st = self._state() if state is None else state
        scores = np.empty(values.shape[0])
        per_var = np.empty(values.shape)
        _run(
            _numba_ready(values),
            self._centre,
            self._scale,
            *(st[key] for key in _STATE_KEYS),
            self._params,
            LEARN,
            scores,
            per_var,
        )
        return scores, per_var

    def _state(self) -> dict[str, np.ndarray]:
        return {key: getattr(self, f"{key}_") for key in _STATE_KEYS}

    def _score(self, data: SeriesData) -> Scores:
        self._check_params()
        copy = {key: arr.copy() for key, arr in self._state().items()}
        scores, per_var = self._advance(data.values, copy)
        return Scores(
            scores=finite_scores(scores),
            maps=finite_scores(per_var),
            extras={"rola_flags": scores > self.k, "lad_flags": per_var > self.k},
        )

    # -- streaming ------------------------------------------------------------------------
    def _learn_one(self, x: np.ndarray) -> None:
        if not hasattr(self, "coef_"):
            history = getattr(self, "_history", None) or []
            history.append(x.copy())
            self._history = history
            if len(history) >= self.warmup:
                self._fit(SeriesData(values=np.asarray(history)))
            return
        _step(
            _numba_ready(x), self._centre, self._scale,
            self.vals_, self.coef_, self.errs_, self.aare_, self.sums_, self.flag_,
            self.corr_, self.counters_, self._params, LEARN, self._s_buf,
        )  # fmt: skip

    def _observe_one(self, x: np.ndarray) -> None:
        _step(
            _numba_ready(x), self._centre, self._scale,
            self.vals_, self.coef_, self.errs_, self.aare_, self.sums_, self.flag_,
            self.corr_, self.counters_, self._params, OBSERVE, self._s_buf,
        )  # fmt: skip

    def _score_one(self, x: np.ndarray) -> float:
        return float(
            _step(
                _numba_ready(x), self._centre, self._scale,
                self.vals_, self.coef_, self.errs_, self.aare_, self.sums_, self.flag_,
                self.corr_, self.counters_, self._params, SCORE, self._s_buf,
            )
        )  # fmt: skip

    def _partial_fit(self, values: np.ndarray) -> None:
        if not hasattr(self, "coef_"):
            super()._partial_fit(values)  # collects the warm-up, then fits
            return
        self._advance(values)

    def _stream_ready(self) -> bool:
        return hasattr(self, "coef_")

    # -- state ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {key: arr.copy() for key, arr in self._state().items()}
        arrays.update(self.normaliser_.get_state())
        return arrays, {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.normaliser_ = Normaliser.from_state(self.normalise, arrays)
        self._centre = _numba_ready(self.normaliser_.centre_)
        self._scale = _numba_ready(self.normaliser_.scale_)
        for key in _STATE_KEYS:
            dtype = np.int64 if key == "counters" else np.float64
            setattr(self, f"{key}_", np.array(arrays[key], dtype=dtype, copy=True))
        self._params = self._params_array()
        self._s_buf = np.empty(self.coef_.shape[0])
        self._history = None

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        set_channels(self, spec)

    def _state_spec(self) -> StateSpec:
        b = int(self.lookback)
        size = max(int(self.retrain_window) + b, int(self.correlation_window)) + 1
        f64 = "float64"
        return (
            StateSpec(
                arrays={
                    "vals": ArraySpec(("C", size), f64),
                    "coef": ArraySpec(("C", b + 1), f64),
                    "errs": ArraySpec(("C", b), f64, value_range=(0.0, None)),
                    "aare": ArraySpec(("C", int(self.threshold_window)), f64),
                    "sums": ArraySpec(("C", 2), f64),
                    "flag": ArraySpec(("C",), f64, value_range=(0.0, 1.0)),
                    "corr": ArraySpec(("C", "C+2"), f64),
                    "counters": ArraySpec((3,), "int64", value_range=COUNT_RANGE),
                },
                dims={"C+2": int(self.n_channels_) + 2},
            )
            .merged(normaliser_spec())
            .merged(channels_spec(self))
        )


def _numba_ready(a: np.ndarray) -> np.ndarray:
    """float64, C-contiguous and writable: one compiled signature for every call (a read-only
    or strided array would make numba compile the kernels again)."""
    flags = a.flags
    if a.dtype == np.float64 and flags.c_contiguous and flags.writeable:
        return a  # the common case, checked cheaply (this runs twice per streamed point)
    return np.require(a, np.float64, ["C", "W"])


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _ar_least_squares(z: np.ndarray, b: int) -> np.ndarray:
    """Ridge least-squares AR(b) + intercept on a whole (normalised) series."""
    n = z.shape[0]
    if n <= b:
        coef = np.zeros(b + 1)
        coef[b - 1] = 1.0  # persistence
        return coef
    view = np.lib.stride_tricks.sliding_window_view(z, b + 1)
    X = np.hstack([view[:, :b], np.ones((view.shape[0], 1))])
    y = view[:, b]
    A = X.T @ X + RIDGE * X.shape[0] * np.eye(b + 1)
    return np.linalg.solve(A, X.T @ y)
