"""Validation of time-series input: (T,) or (T, C) numeric, ordered timestamps, NaN policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError

NAN_POLICIES = ("raise", "interpolate")


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
            idx = frame.index
            stamps = idx.to_numpy()
            breaks = np.flatnonzero(stamps[1:] <= stamps[:-1])
            if breaks.size:
                raise InputError(
                    f"{name} timestamps must be strictly increasing; the order breaks at position "
                    f"{int(breaks[0]) + 1}. Sort the series (e.g. df.sort_index()) and drop "
                    "duplicate timestamps"
                )
            index = idx
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
    return SeriesData(values=np.ascontiguousarray(values), index=index, columns=columns)
