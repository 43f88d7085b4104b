"""Validation of tabular input at the boundary: 2-D numeric, finite, consistent width."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError


def _to_pandas_if_frame(X: Any) -> Any:
    """polars / pyarrow tables become pandas frames so columns keep their names."""
    module = type(X).__module__
    if module.startswith("polars") and hasattr(X, "to_pandas"):
        return X.to_pandas()
    if module.startswith("pyarrow") and hasattr(X, "to_pandas"):
        return X.to_pandas()
    return X


def column_names(X: Any) -> list[str] | None:
    """Column names of a data frame input, else None."""
    X = _to_pandas_if_frame(X)
    cols = getattr(X, "columns", None)
    return [str(c) for c in cols] if cols is not None else None


def as_tabular(
    X: Any, *, n_features: int | None = None, name: str = "X", min_samples: int = 1
) -> np.ndarray:
    """Return ``X`` as a finite float64 array of shape (n_samples, n_features).

    Raises ``InputError`` for empty input, a rank other than 2 (a 1-D array is rejected:
    say ``X.reshape(-1, 1)`` for one feature), non-numeric columns, NaN/inf (naming the
    column), or a feature count differing from the one seen in ``fit``.
    """
    X = _to_pandas_if_frame(X)
    names = column_names(X)
    if names is not None:
        import pandas as pd

        frame = X.to_frame() if isinstance(X, pd.Series) else X
        non_numeric = [
            str(c)
            for c, dt in frame.dtypes.items()
            if not (pd.api.types.is_numeric_dtype(dt) and not pd.api.types.is_complex_dtype(dt))
        ]
        if non_numeric:
            raise InputError(
                f"{name} has non-numeric column(s) {non_numeric}; expected numeric columns only "
                "(encode categories first, e.g. one-hot)"
            )
        arr = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        try:
            arr = np.asarray(X)
        except Exception as exc:  # ragged lists and the like
            raise InputError(f"{name} could not be read as a 2-D numeric array: {exc}") from None
        if arr.dtype == object or arr.dtype.kind in "USVMmc":
            raise InputError(
                f"{name} has dtype {arr.dtype}; expected a numeric 2-D array (int or float)"
            )
        if arr.dtype.kind == "b":
            arr = arr.astype(np.float64)
        arr = arr.astype(np.float64, copy=False)
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got {arr.ndim}-D with shape {arr.shape}"
            + ("; use X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else "")
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(
            f"{name} is empty (shape {arr.shape}); expected at least one row and column"
        )
    if arr.shape[0] < min_samples:
        raise InputError(f"{name} has {arr.shape[0]} rows; at least {min_samples} are needed")
    finite = np.isfinite(arr)
    if not finite.all():
        bad_cols = np.flatnonzero(~finite.all(axis=0))
        labels = [names[i] for i in bad_cols] if names is not None else [int(i) for i in bad_cols]
        first_row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise InputError(
            f"{name} contains NaN or infinite values in column(s) {labels[:10]} "
            f"(first at row {first_row}); expected finite numbers (impute or drop them first)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(
            f"{name} has {arr.shape[1]} features but the detector was fitted on {n_features}"
        )
    return np.ascontiguousarray(arr)
