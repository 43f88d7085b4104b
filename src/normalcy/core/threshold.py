"""Thresholds calibrated from data, never hand-set.

Three ways to calibrate:

* ``Threshold.at_fpr(normal_scores, fpr)``: from scores of held-out *normal* data, so that
  a fraction ``fpr`` of normal data is flagged (the quantile is taken with the "higher"
  rule, so the realised rate on the calibration set never exceeds ``fpr``). This assumes
  the scores are (nearly) independent draws, as for rows of a table or images.
* ``Threshold.at_fpr(normal_scores, fpr, method="autocorrelated")``: for scores of a *series*
  hold-out, which are strongly autocorrelated (a window score is shared by all its steps;
  consecutive windows overlap) and hold only a few effectively independent values, so the
  plain quantile badly underestimates the rate on later normal data. The threshold is the
  largest of four estimates: the plain quantile; a Student-t prediction bound for one new
  score from the effective number of independent scores (``effective_sample_size``); a
  prediction bound for the quantile of a new stretch from the quantiles of contiguous
  blocks of the hold-out ("blocked" calibration); and a peaks-over-threshold fit of a
  generalised Pareto tail (SPOT, Siffer et al., KDD 2017) that extrapolates beyond the
  largest hold-out score. Measured effect: ``docs/benchmarks.md`` (series calibration).
* ``Threshold.at_contamination(scores, contamination)``: from unlabelled data believed to
  hold a fraction ``contamination`` of anomalies.

Every calibrated threshold keeps a bounded sketch of the scores it was calibrated on
(``quantiles`` and ``quantile_levels``, at most ``MAX_QUANTILES`` points), so a user can move
the threshold later and read the false-positive rate it implies (``implied_rate``): the
sketch holds every distinct calibration score when there are few, otherwise a subset that is
dense in the upper tail, where thresholds live.

A hold-out too small for the requested rate (``fpr < 1 / n``, or ``< 1 / n_eff`` for a
series) gets a ``CalibrationWarning`` naming the realised rate on the hold-out.

References
----------
Siffer, A., Fouque, P.-A., Termier, A. & Largouët, C. Anomaly Detection in Streams with
Extreme Value Theory. KDD 2017.

Sokal, A. Monte Carlo Methods in Statistical Mechanics: Foundations and New Algorithms.
1997 (integrated autocorrelation time with an automatic window).

Künsch, H. R. The Jackknife and the Bootstrap for General Stationary Observations. Annals
of Statistics 17(3), 1989 (blocks of a dependent series).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from numbers import Real
from typing import Any

import numpy as np

from .errors import InputError, ModelFileError

MIN_CALIBRATION_SAMPLES = 10
METHODS = ("quantile", "autocorrelated")
SERIES_CONFIDENCE = 0.9  # one-sided level of the blocked prediction bound
_KINDS = ("fpr", "contamination", "chi2")
# thresholds derived analytically (no calibration scores: n_calibration is 0)
_ANALYTIC_KINDS = ("chi2",)
MAX_QUANTILES = 1001  # points of the calibration-score sketch saved with a threshold


class CalibrationWarning(UserWarning):
    """The calibration data cannot resolve the requested rate (too few scores)."""


def check_rate(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (Real, np.number)):
        raise InputError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    if not 0 < value < 1:  # compared before float(): 10**400 does not fit a float
        raise InputError(f"{name} must be strictly between 0 and 1, got {str(value)[:40]}")
    return float(value)


def _check_scores(scores: np.ndarray) -> np.ndarray:
    try:
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise InputError("calibration scores must be numbers") from None
    if scores.size < MIN_CALIBRATION_SAMPLES:
        raise InputError(
            f"calibration needs at least {MIN_CALIBRATION_SAMPLES} scores, got {scores.size}"
        )
    if not np.all(np.isfinite(scores)):
        raise InputError("calibration scores contain NaN or infinite values")
    return scores


def autocorrelation_time(scores: np.ndarray) -> float:
    """Integrated autocorrelation time ``tau = 1 + 2 * sum(rho_k)`` of a score sequence,
    summed up to Sokal's automatic window (the first lag ``M >= 5 * tau(M)``); 1 for
    independent scores, about the window length for window scores spread over steps."""
    x = np.asarray(scores, dtype=np.float64).reshape(-1)
    n = x.size
    x = x - x.mean()
    peak = float(np.abs(x).max()) if n else 0.0
    if n < 3 or peak == 0.0:
        return 1.0
    x = x / peak  # scale-free: no overflow or underflow in the products
    spec = np.fft.rfft(x, 2 * n)
    acf = np.fft.irfft(spec * np.conj(spec))[:n]
    acf = acf / acf[0]
    tau = 1.0 + 2.0 * np.cumsum(acf[1:])
    lags = np.arange(1, n)
    stop = np.flatnonzero(lags >= 5.0 * tau)
    value = float(tau[stop[0]]) if stop.size else float(tau[-1])
    return float(min(max(value, 1.0), n))


def effective_sample_size(scores: np.ndarray) -> float:
    """How many independent scores ``scores`` are worth: ``n / autocorrelation_time``."""
    n = np.asarray(scores).size
    return n / autocorrelation_time(scores) if n else 0.0


def _quantile(scores: np.ndarray, fpr: float) -> float:
    return float(np.quantile(scores, 1.0 - fpr, method="higher"))


def _student_bound(scores: np.ndarray, fpr: float, n_eff: float) -> float:
    """Prediction bound for one new score from ``n_eff`` independent normal draws."""
    from scipy import stats

    n_eff = max(n_eff, 2.0)
    t = float(stats.t.ppf(1.0 - fpr, df=n_eff - 1.0))
    return float(scores.mean() + scores.std(ddof=1) * t * math.sqrt(1.0 + 1.0 / n_eff))


def _blocked_bound(scores: np.ndarray, fpr: float, tau: float) -> float:
    """Prediction bound (level ``SERIES_CONFIDENCE``) for the ``1 - fpr`` quantile of a new
    stretch, from the quantiles of contiguous blocks at least two correlation times long."""
    from scipy import stats

    n_blocks = int(np.clip(scores.size // max(2.0 * tau, 1.0), 2, 20))
    q = np.array([_quantile(b, fpr) for b in np.array_split(scores, n_blocks)])
    t = float(stats.t.ppf(SERIES_CONFIDENCE, df=n_blocks - 1))
    return float(q.mean() + t * q.std(ddof=1) * math.sqrt(1.0 + 1.0 / n_blocks))


def _pot_bound(scores: np.ndarray, fpr: float) -> float | None:
    """SPOT's quantile: a generalised Pareto tail fitted to the excesses over a high initial
    threshold, evaluated at ``fpr``; None when the tail has too few distinct excesses."""
    from scipy import stats

    init = min(0.98, max(0.8, 1.0 - 4.0 * fpr))
    u = float(np.quantile(scores, init))
    excess = scores[scores > u] - u
    if excess.size < 5 or np.unique(excess).size < 3:
        return None
    unit = float(excess.max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shape, _, scale = stats.genpareto.fit(excess / unit, floc=0.0)
    if not (np.isfinite(shape) and np.isfinite(scale) and scale > 0):
        return None
    shape = float(np.clip(shape, -0.5, 0.5))  # keep the extrapolation stable
    ratio = fpr * scores.size / excess.size
    if abs(shape) < 1e-6:
        z = -scale * math.log(ratio)
    else:
        z = scale / shape * (ratio ** (-shape) - 1.0)
    return u + unit * z


def series_threshold_value(scores: np.ndarray, fpr: float) -> float:
    """The ``method="autocorrelated"`` threshold of already checked scores (see the module doc)."""
    tau = autocorrelation_time(scores)
    n_eff = scores.size / tau
    candidates = [
        _quantile(scores, fpr),
        _student_bound(scores, fpr, n_eff),
        _blocked_bound(scores, fpr, tau),
    ]
    pot = _pot_bound(scores, fpr)
    if pot is not None:
        candidates.append(pot)
    finite = [c for c in candidates if np.isfinite(c)]
    return float(max(finite))


def _warn_if_unresolved(scores: np.ndarray, fpr: float, value: float, method: str) -> None:
    n = scores.size
    n_eff = effective_sample_size(scores) if method == "autocorrelated" else float(n)
    if fpr * n_eff >= 1.0:
        return
    flagged = int(np.count_nonzero(scores > value))
    what = f"{n} scores" if method == "quantile" else f"{n} scores, worth ~{n_eff:.0f} independent"
    warnings.warn(
        f"the hold-out ({what}) is too short to calibrate fpr={fpr:g}: it resolves rates "
        f"down to ~{1.0 / max(n_eff, 1.0):.3g}. The threshold flags {flagged} of its {n} "
        f"scores (realised rate {flagged / n:.3g} on the hold-out); give at least "
        f"{_needed(n / max(n_eff, 1.0) / fpr)} hold-out scores for this rate",
        CalibrationWarning,
        stacklevel=3,
    )


def score_sketch(scores: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A bounded sketch of checked calibration scores: ``(values, levels)``, where ``values``
    are distinct scores in increasing order and ``levels[i]`` is the exact fraction of scores
    ``<= values[i]`` (the last level is 1). At most ``MAX_QUANTILES`` points: every distinct
    score when they fit, else half the points evenly spaced in rank and half spaced
    logarithmically in the upper tail (down to one score), so low rates stay resolved."""
    ordered = np.sort(np.asarray(scores, dtype=np.float64).reshape(-1))
    n = ordered.size
    distinct = np.unique(ordered)
    if distinct.size <= MAX_QUANTILES:
        picked = distinct
    else:
        half = (MAX_QUANTILES - 1) // 2
        even = np.linspace(0.0, 1.0, half)
        tail = 1.0 - np.logspace(-1.0, math.log10(1.0 / n), half)
        ranks = np.unique(np.clip(np.ceil(np.r_[even, tail] * n) - 1, 0, n - 1).astype(np.int64))
        picked = np.unique(np.r_[ordered[ranks], ordered[-1]])
    levels = np.searchsorted(ordered, picked, side="right") / n
    return tuple(float(v) for v in picked), tuple(float(v) for v in levels)


def _check_sketch(values: Any, levels: Any) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A saved sketch, verified: equal-length lists of 1..MAX_QUANTILES finite numbers,
    values strictly increasing, levels strictly increasing in (0, 1] and ending at 1."""
    for name, v in (("quantiles", values), ("quantile_levels", levels)):
        if not isinstance(v, list) or not 1 <= len(v) <= MAX_QUANTILES:
            raise ModelFileError(
                f"the saved threshold {name} must be a list of 1 to {MAX_QUANTILES} numbers, "
                f"got {str(v)[:60]}"
            )
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            raise ModelFileError(f"the saved threshold {name} must hold only numbers")
    if len(values) != len(levels):
        raise ModelFileError(
            f"the saved threshold has {len(values)} quantiles but {len(levels)} quantile_levels"
        )
    try:
        vals = np.asarray(values, dtype=np.float64)
        levs = np.asarray(levels, dtype=np.float64)
    except OverflowError:  # an integer beyond float range (JSON allows 10**400)
        raise ModelFileError("the saved threshold quantiles must be finite numbers") from None
    if not (np.all(np.isfinite(vals)) and np.all(np.diff(vals) > 0)):
        raise ModelFileError("the saved threshold quantiles must be finite and strictly increasing")
    if not (np.all(np.diff(levs) > 0) and levs[0] > 0 and levs[-1] == 1.0):
        raise ModelFileError(
            "the saved threshold quantile_levels must be strictly increasing in (0, 1] and end at 1"
        )
    return tuple(float(v) for v in vals), tuple(float(v) for v in levs)


@dataclass(frozen=True)
class Threshold:
    """A decision threshold: a score strictly above ``value`` is anomalous."""

    value: float
    method: str  # "fpr", "contamination" or "chi2" (analytic, no calibration scores)
    rate: float  # the target false-positive rate or contamination
    n_calibration: int
    calibration: str = "quantile"  # "quantile" or "autocorrelated" (see the module docstring)
    # the calibration scores' sketch (see ``score_sketch``); None for thresholds set without
    # scores and for model files saved before sketches existed
    quantiles: tuple[float, ...] | None = None
    quantile_levels: tuple[float, ...] | None = None
    # for detectors with maps: a map value above which a pixel (element) is anomalous,
    # calibrated on the maps of the same normal hold-out at the same rate (None otherwise)
    pixel_value: float | None = None

    @classmethod
    def at_fpr(
        cls, normal_scores: np.ndarray, fpr: float = 0.01, method: str = "quantile"
    ) -> Threshold:
        """Threshold flagging a fraction ``fpr`` of normal data; ``method="autocorrelated"`` for the
        autocorrelated scores of a series hold-out (see the module docstring)."""
        fpr = check_rate("fpr", fpr)
        if method not in METHODS:
            raise InputError(f"calibration method must be one of {METHODS}, got {method!r}")
        scores = _check_scores(normal_scores)
        if method == "autocorrelated":
            value = series_threshold_value(scores, fpr)
        else:
            value = _quantile(scores, fpr)
        _warn_if_unresolved(scores, fpr, value, method)
        quantiles, levels = score_sketch(scores)
        return cls(
            value=value,
            method="fpr",
            rate=fpr,
            n_calibration=int(scores.size),
            calibration=method,
            quantiles=quantiles,
            quantile_levels=levels,
        )

    @classmethod
    def at_contamination(cls, scores: np.ndarray, contamination: float = 0.05) -> Threshold:
        """Threshold flagging the top ``contamination`` fraction of unlabelled scores."""
        contamination = check_rate("contamination", contamination)
        scores = _check_scores(scores)
        value = float(np.quantile(scores, 1.0 - contamination, method="higher"))
        quantiles, levels = score_sketch(scores)
        return cls(
            value=value,
            method="contamination",
            rate=contamination,
            n_calibration=int(scores.size),
            quantiles=quantiles,
            quantile_levels=levels,
        )

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Boolean decisions: ``scores > value``."""
        return np.asarray(scores) > self.value

    def implied_rate(self, value: float) -> float | None:
        """The fraction of calibration scores strictly above ``value`` (the false-positive
        rate a threshold at ``value`` implies on normal hold-out data), from the sketch:
        exact when the sketch holds every distinct score, else an upper bound that is tight
        at the sketch's points. None without a sketch."""
        if self.quantiles is None or self.quantile_levels is None:
            return None
        i = int(np.searchsorted(np.asarray(self.quantiles), float(value), side="right"))
        return 1.0 if i == 0 else float(1.0 - self.quantile_levels[i - 1])

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("quantiles", "quantile_levels", "pixel_value"):
            if data[key] is None:
                del data[key]  # files without a sketch read as before
            elif key != "pixel_value":
                data[key] = list(data[key])
        return data

    @classmethod
    def from_dict(cls, data: Any) -> Threshold:
        """A threshold read from a model file; ``ModelFileError`` naming what is malformed."""
        required = {"value", "method", "rate", "n_calibration"}
        optional = {"calibration", "quantiles", "quantile_levels", "pixel_value"}
        if not isinstance(data, dict) or not required <= set(data) <= required | optional:
            raise ModelFileError(
                f"the saved threshold must have the fields {sorted(required)} (and optionally "
                f"{sorted(optional)}), got {str(data)[:120]}"
            )
        value, method, rate, n_cal = (data[k] for k in ("value", "method", "rate", "n_calibration"))
        calibration = data.get("calibration", "quantile")

        def number(v: Any) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

        if not number(value):
            raise ModelFileError(
                f"the saved threshold value must be a finite number, got {value!r:.40}"
            )
        if method not in _KINDS:
            raise ModelFileError(
                f"the saved threshold method must be one of {_KINDS}, got {method!r:.40}"
            )
        if not number(rate) or not 0.0 < rate < 1.0:
            raise ModelFileError(f"the saved threshold rate must be in (0, 1), got {rate!r:.40}")
        least = 0 if method in _ANALYTIC_KINDS else MIN_CALIBRATION_SAMPLES
        most = 0 if method in _ANALYTIC_KINDS else 2**53
        if not isinstance(n_cal, int) or isinstance(n_cal, bool) or not least <= n_cal <= most:
            raise ModelFileError(
                f"the saved threshold n_calibration must be an integer in [{least}, "
                f"{most if most == 0 else '2**53'}] for method {method!r}, got {str(n_cal)[:40]}"
            )
        pixel_value = data.get("pixel_value")
        if pixel_value is not None and not number(pixel_value):
            raise ModelFileError(
                f"the saved threshold pixel_value must be a finite number, got {pixel_value!r:.40}"
            )
        if calibration not in METHODS:
            raise ModelFileError(
                f"the saved threshold calibration must be one of {METHODS}, got {calibration!r:.40}"
            )
        quantiles = levels = None
        if "quantiles" in data or "quantile_levels" in data:
            if "quantiles" not in data or "quantile_levels" not in data:
                raise ModelFileError(
                    "the saved threshold must hold both quantiles and quantile_levels, or neither"
                )
            quantiles, levels = _check_sketch(data["quantiles"], data["quantile_levels"])
            if len(quantiles) > n_cal:
                raise ModelFileError(
                    f"the saved threshold has {len(quantiles)} quantiles of only {n_cal} "
                    "calibration scores"
                )
        return cls(
            value=float(value),
            method=method,
            rate=float(rate),
            n_calibration=n_cal,
            calibration=calibration,
            quantiles=quantiles,
            quantile_levels=levels,
            pixel_value=None if pixel_value is None else float(pixel_value),
        )


def _needed(count: float) -> str:
    """How many hold-out scores a rate needs, readable even for absurd rates (1e-300)."""
    return f"{math.ceil(count)}" if count < 1e12 else f"~{count:.1e}"
