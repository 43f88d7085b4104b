"""Validation of time-series input: (T,) or (T, C) numeric, ordered timestamps, NaN policy.

Policies, stated once:

* **Magnitude.** A value whose square overflows float64 (``|x| > MAX_ABS``, about 1.3e154)
  is refused with an ``InputError`` naming its channel and time step: no physical series
  gets there, and squares are what every distance, variance and covariance is made of.
  Everything below that is accepted, down to subnormal values; detectors normalise with
  scale-safe arithmetic (``series.normalise``), so a series times 1e150 or 1e-300 scores
  like the series itself and scores are always finite.
* **Index.** A pandas index other than a ``RangeIndex`` must be timestamps (datetime,
  timezone-aware or not), time deltas or finite numbers, with no NaT/NaN, no mixed types,
  and strictly increasing: duplicate or out-of-order timestamps are refused (sort the
  series and drop or aggregate duplicates first), since a window of a series is only
  meaningful along its time order. The index is kept so scores come back aligned to it.
* **Timestamp columns** (``parse_timestamps``, used by the CLI's table reader): strings
  are parsed as dates; integers are epoch times whose unit (s, ms, us or ns) is inferred
  from their magnitude, and a magnitude no unit makes a date in 1973..2286 is refused.
* **Gaps.** ``nan_policy="raise"`` refuses NaN/inf naming the first position;
  ``"interpolate"`` fills gaps linearly per channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError

NAN_POLICIES = ("raise", "interpolate")
MAX_ABS = float(np.sqrt(np.finfo(np.float64).max)) * 0.99  # squares stay finite below this
# epoch values whose magnitude makes a date in 1973..2286 in each unit
_EPOCH_UNITS = (("s", 1e8, 1e10), ("ms", 1e11, 1e13), ("us", 1e14, 1e16), ("ns", 1e17, 1e19))


@dataclass
class SeriesData:
    """A validated series: ``values`` is (T, C) float64; ``index`` holds timestamps or None."""

    values: np.ndarray
    index: Any = None
    columns: list[str] | None = None

    @property
    def length(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.values.shape[1])


def _fill_gaps(values: np.ndarray) -> np.ndarray:
    """Linear interpolation over NaN gaps per channel; edges take the nearest valid value."""
    out = values.copy()
    t = np.arange(values.shape[0])
    for c in range(values.shape[1]):
        col = out[:, c]
        ok = np.isfinite(col)
        if not ok.any():
            raise InputError(f"series channel {c} has no finite value at all; cannot interpolate")
        col[~ok] = np.interp(t[~ok], t[ok], col[ok])
    return out


def as_series(
    X: Any,
    *,
    min_length: int = 2,
    n_channels: int | None = None,
    nan_policy: str = "raise",
    name: str = "series",
) -> SeriesData:
    """Validate a series given as an array (T,) / (T, C), or a pandas Series / DataFrame.

    A pandas DatetimeIndex (or any index) must be strictly increasing; it is kept so
    scores can be returned aligned to it. ``nan_policy="raise"`` rejects NaN/inf with
    the first position named; ``"interpolate"`` fills gaps linearly (documented policy).
    """
    if nan_policy not in NAN_POLICIES:
        raise InputError(f"nan_policy must be one of {NAN_POLICIES}, got {nan_policy!r}")
    index = None
    columns = None
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        pd = None
    if pd is not None and isinstance(X, (pd.Series, pd.DataFrame)):
        frame = X.to_frame() if isinstance(X, pd.Series) else X
        non_numeric = [
            str(c) for c, dt in frame.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)
        ]
        if non_numeric:
            raise InputError(f"{name} has non-numeric column(s) {non_numeric}; expected numbers")
        if not isinstance(frame.index, pd.RangeIndex):
            index = _check_index(frame.index, name, pd)
        columns = [str(c) for c in frame.columns]
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            values = np.asarray(X)
        except Exception as exc:
            raise InputError(f"{name} could not be read as a numeric array: {exc}") from None
        if values.dtype == object or values.dtype.kind in "USVMmc":
            raise InputError(f"{name} has dtype {values.dtype}; expected numbers")
        values = values.astype(np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise InputError(f"{name} must be 1-D (T,) or 2-D (T, channels), got shape {values.shape}")
    if values.shape[0] == 0 or values.shape[1] == 0:
        raise InputError(f"{name} is empty (shape {values.shape})")
    if values.shape[0] < min_length:
        raise InputError(
            f"{name} has {values.shape[0]} time steps but this detector needs at least "
            f"{min_length} (its window length); give a longer series or a smaller window"
        )
    if n_channels is not None and values.shape[1] != n_channels:
        raise InputError(
            f"{name} has {values.shape[1]} channel(s) but the detector was fitted on {n_channels}"
        )
    finite = np.isfinite(values)
    if not finite.all():
        if nan_policy == "raise":
            t, c = np.argwhere(~finite)[0]
            raise InputError(
                f"{name} has {int((~finite).sum())} NaN/inf value(s), first at time step {int(t)} "
                f"channel {int(c)}; fill the gaps or pass nan_policy='interpolate'"
            )
        values = _fill_gaps(np.where(finite, values, np.nan))
    big = np.abs(values) > MAX_ABS
    if big.any():
        t, c = np.argwhere(big)[0]
        label = f"channel {int(c)}" + (f" ({columns[int(c)]!r})" if columns else "")
        raise InputError(
            f"{name} {label} holds {values[t, c]:.3g} at time step {int(t)}; values must lie "
            f"within ±{MAX_ABS:.3g} (their squares must be finite). Rescale the series"
        )
    return SeriesData(values=np.ascontiguousarray(values), index=index, columns=columns)


def _check_index(idx: Any, name: str, pd: Any) -> Any:
    """The index of a pandas series, checked: timestamps, time deltas or finite numbers,
    no missing values, strictly increasing (see the module docstring)."""
    if isinstance(idx, (pd.DatetimeIndex, pd.TimedeltaIndex)):
        if idx.hasnans:
            pos = int(np.flatnonzero(idx.isna())[0])
            raise InputError(f"{name} index has a missing timestamp (NaT) at position {pos}")
        keys = idx.asi8
    elif pd.api.types.is_numeric_dtype(idx.dtype) and not pd.api.types.is_bool_dtype(idx.dtype):
        keys = idx.to_numpy(dtype=np.float64)
        if not np.isfinite(keys).all():
            pos = int(np.flatnonzero(~np.isfinite(keys))[0])
            raise InputError(f"{name} index has a NaN or infinite value at position {pos}")
    else:
        kind = pd.api.types.infer_dtype(idx, skipna=False)
        raise InputError(
            f"{name} index holds {kind} values; expected timestamps (a DatetimeIndex), time "
            "deltas or numbers. Parse it with pd.to_datetime or reset it (reset_index)"
        )
    breaks = np.flatnonzero(keys[1:] <= keys[:-1])
    if breaks.size:
        pos = int(breaks[0]) + 1
        what = "repeats" if keys[pos] == keys[pos - 1] else "goes back"
        raise InputError(
            f"{name} timestamps must be strictly increasing; the index {what} at position "
            f"{pos}. Sort the series (e.g. df.sort_index()) and drop or aggregate duplicate "
            "timestamps"
        )
    return idx


def parse_timestamps(column: Any, name: str = "timestamp") -> Any:
    """A column of timestamps as a ``pandas.DatetimeIndex``.

    Strings and datetimes are parsed as dates. Numbers are epoch times: the unit (seconds,
    milliseconds, microseconds or nanoseconds) is the one that puts the median magnitude in
    1973..2286; a column no unit fits (e.g. small counters, or a value between the bands) is
    refused with an ``InputError`` naming the column. Missing values are refused.
    """
    import warnings

    import pandas as pd

    col = pd.Series(column)
    if pd.api.types.is_bool_dtype(col.dtype):
        raise InputError(f"column {name!r} holds booleans, not timestamps")
    if pd.api.types.is_numeric_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            pos = int(np.flatnonzero(~np.isfinite(values))[0])
            raise InputError(f"column {name!r} has a missing timestamp at row {pos}")
        magnitude = float(np.median(np.abs(values))) if values.size else 0.0
        unit = next((u for u, lo, hi in _EPOCH_UNITS if lo <= magnitude < hi), None)
        if unit is None:
            raise InputError(
                f"column {name!r} holds numbers of magnitude {magnitude:.3g}, which is no epoch "
                "time in seconds (1e8..1e10), milliseconds (1e11..1e13), microseconds or "
                "nanoseconds; convert it to dates, or rename the column so it is read as data"
            )
        stamps = pd.to_datetime(values.astype(np.int64), unit=unit)
    else:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
                stamps = pd.to_datetime(col)
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputError(f"column {name!r} could not be parsed as timestamps ({exc})") from None
    index = pd.DatetimeIndex(stamps, name=name)
    if index.hasnans:
        pos = int(np.flatnonzero(index.isna())[0])
        raise InputError(f"column {name!r} has a missing timestamp at row {pos}")
    return index
