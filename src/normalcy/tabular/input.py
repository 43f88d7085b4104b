"""Validation of tabular input at the boundary: 2-D, real-valued, finite, in range, and
with the columns seen in ``fit``.

Policy (every violation is an ``InputError`` that names the column):

* **Types.** numpy arrays, nested lists, pandas, polars and pyarrow tables. Integer, float
  and boolean columns are accepted (booleans as 0/1, as scikit-learn does); object columns
  are accepted only when every value is a real number. Strings, categories, dates and
  times, durations and complex numbers are refused: an imaginary part is never dropped
  silently. Sparse matrices are refused (call ``.toarray()``).
* **Shape.** Exactly 2-D with at least one row and one column (a 1-D array is refused: use
  ``X.reshape(-1, 1)`` for one feature); ragged rows are refused.
* **Values.** NaN and infinities are refused (impute or drop them). So is any value with
  ``|x| > MAX_ABS`` (1e154, about the square root of the largest float64): its square
  overflows, and every distance, variance or kernel computed from it would be infinite.
  Values of tiny magnitude (1e-300 and even subnormal ones) are accepted; the detectors
  treat a column of near-zero but non-zero spread as an ordinary column (scale-free
  standardisation) and never divide by an exact zero.
* **Columns, as scikit-learn checks them.** Feature names are remembered when ``fit``
  receives a table whose column names are all strings. At scoring time, a table with other
  names, or the same names in another order, is refused with the difference named. A table
  scored by a detector fitted on an array without names, or an array scored by a detector
  fitted on named columns, is accepted with a ``UserWarning`` (scikit-learn's behaviour).
  Column names that mix strings and other types are refused.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ..core.errors import InputError

# Largest accepted magnitude: squares (and sums of a few of them) stay finite in float64.
MAX_ABS = 1e154


def _to_pandas_if_frame(X: Any) -> Any:
    """polars / pyarrow tables become pandas frames so columns keep their names."""
    module = type(X).__module__
    if module.startswith(("polars", "pyarrow")) and hasattr(X, "to_pandas"):
        return X.to_pandas()
    return X


def _labels(X: Any) -> list[Any] | None:
    cols = getattr(X, "columns", None)
    if cols is None and type(X).__name__ == "Series" and hasattr(X, "name"):
        return [X.name if X.name is not None else 0]
    return list(cols) if cols is not None else None


def column_names(X: Any) -> list[str] | None:
    """Feature names of a table whose column names are all strings, else None.

    Like scikit-learn, only all-string column names count as feature names; a frame with
    default integer columns has none.
    """
    labels = _labels(_to_pandas_if_frame(X))
    if labels is None or not all(isinstance(c, str) for c in labels):
        return None
    return [str(c) for c in labels]


def _label_text(labels: list[Any] | None, idx: Any) -> list[Any]:
    return [labels[i] if labels is not None else int(i) for i in idx][:10]


def _object_to_float(col: np.ndarray) -> np.ndarray | None:
    """An object column of real numbers as float64, else None (bools count as 0/1)."""
    ok = all(
        isinstance(v, (int, float, np.integer, np.floating, np.bool_, bool)) or v is None
        for v in col.ravel()
    )
    if not ok:
        return None
    return np.array([_as_float(v) for v in col.ravel()], dtype=np.float64).reshape(col.shape)


def _as_float(value: Any) -> float:
    if value is None:
        return np.nan
    try:
        return float(value)
    except OverflowError:  # a Python int beyond float64: refused as out of range later
        return np.inf if value > 0 else -np.inf


def _frame_to_array(frame: Any, name: str) -> np.ndarray:
    import pandas as pd

    api = pd.api.types
    columns: list[np.ndarray] = []
    problems: dict[str, list[Any]] = {}
    for label, series in frame.items():
        dt = series.dtype
        if api.is_complex_dtype(dt):
            problems.setdefault("complex", []).append(label)
        elif api.is_bool_dtype(dt) or (api.is_numeric_dtype(dt) and dt.kind != "c"):
            columns.append(series.to_numpy(dtype=np.float64, na_value=np.nan))
        elif (
            api.is_datetime64_any_dtype(dt)
            or api.is_timedelta64_dtype(dt)
            or (isinstance(dt, pd.PeriodDtype))
        ):
            problems.setdefault("date/time", []).append(label)
        elif dt.kind == "O":
            values = _object_to_float(series.to_numpy())
            if values is None:
                kinds = {type(v).__name__ for v in series.to_numpy()}
                kind = "complex" if kinds & {"complex", "complex128"} else "non-numeric"
                problems.setdefault(kind, []).append(label)
            else:
                columns.append(values)
        else:
            problems.setdefault("non-numeric", []).append(label)
    _raise_type_problems(problems, name)
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def _raise_type_problems(problems: dict[str, list[Any]], name: str) -> None:
    if not problems:
        return
    hints = {
        "non-numeric": "encode categories first, e.g. one-hot",
        "complex": "the imaginary part would be lost; split into real and imaginary columns",
        "date/time": "convert to numbers first, e.g. seconds since an epoch or calendar parts",
    }
    parts = [
        f"{kind} column(s) {cols[:10]} ({hints[kind]})" for kind, cols in problems.items() if cols
    ]
    raise InputError(f"{name} has " + "; ".join(parts) + ": expected numeric columns only")


def _array_to_float(X: Any, name: str) -> np.ndarray:
    if hasattr(X, "toarray") and hasattr(X, "nnz"):  # scipy.sparse
        raise InputError(f"{name} is a sparse matrix; pass a dense array (X.toarray())")
    try:
        arr = np.asarray(X)
    except Exception as exc:  # ragged lists and the like
        raise InputError(f"{name} could not be read as a 2-D numeric array: {exc}") from None
    if arr.ndim == 2 and arr.dtype.kind in "OUSVMmc":
        problems: dict[str, list[Any]] = {}
        if arr.dtype.kind == "c":
            bad = np.flatnonzero((arr.imag != 0).any(axis=0)) if arr.size else []
            problems["complex"] = _label_text(None, bad if len(bad) else range(arr.shape[1]))
        elif arr.dtype.kind in "Mm":
            problems["date/time"] = _label_text(None, range(arr.shape[1]))
        elif arr.dtype.kind == "O":
            cols = [_object_to_float(arr[:, j]) for j in range(arr.shape[1])]
            bad = [j for j, c in enumerate(cols) if c is None]
            if not bad:
                return np.column_stack(cols) if cols else np.empty(arr.shape)
            problems["non-numeric"] = bad[:10]
        else:
            problems["non-numeric"] = _label_text(None, range(arr.shape[1]))
        if arr.size == 0:
            return np.empty(arr.shape)
        try:
            _raise_type_problems(problems, name)
        except InputError as exc:
            raise InputError(f"{exc} (dtype {arr.dtype})") from None
    if arr.dtype.kind in "OUSVMmc":
        raise InputError(
            f"{name} has dtype {arr.dtype}; expected a numeric 2-D array (int, float or bool)"
        )
    return arr.astype(np.float64, copy=False)


def as_tabular(
    X: Any,
    *,
    n_features: int | None = None,
    name: str = "X",
    min_samples: int = 1,
    feature_names: list[str] | None = None,
) -> np.ndarray:
    """Return ``X`` as a finite float64 array of shape (n_samples, n_features).

    ``n_features`` and ``feature_names`` are what ``fit`` saw (``feature_names`` is None when
    ``fit`` received no string column names); see the module docstring for the policy.
    Raises ``InputError`` naming what was wrong.
    """
    X = _to_pandas_if_frame(X)
    labels = _labels(X)
    if labels is not None:
        import pandas as pd

        if isinstance(X, pd.Series):
            X = X.to_frame()
        kinds = {isinstance(c, str) for c in labels}
        if len(kinds) > 1:
            raise InputError(
                f"{name} has column names of mixed types ({labels[:10]}); use all-string "
                "names (df.columns = df.columns.astype(str)) or none"
            )
        if len(set(labels)) != len(labels):
            dup = sorted({str(c) for c in labels if labels.count(c) > 1})
            raise InputError(f"{name} has duplicate column names {dup[:10]}")
        arr = _frame_to_array(X, name)
    else:
        arr = _array_to_float(X, name)
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
        first_row = int(np.flatnonzero(~finite.all(axis=1))[0])
        raise InputError(
            f"{name} contains NaN or infinite values in column(s) "
            f"{_label_text(labels, bad_cols)} (first at row {first_row}); expected finite "
            "numbers (impute or drop them first)"
        )
    too_big = np.abs(arr) > MAX_ABS
    if too_big.any():
        bad_cols = np.flatnonzero(too_big.any(axis=0))
        row = int(np.flatnonzero(too_big.any(axis=1))[0])
        raise InputError(
            f"{name} has values beyond +-{MAX_ABS:g} in column(s) {_label_text(labels, bad_cols)} "
            f"(first at row {row}, {arr[row, bad_cols[0]]:g}); their squares overflow float64. "
            "Rescale those columns (e.g. divide by a power of ten) or take logarithms"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InputError(
            f"{name} has {arr.shape[1]} features but the detector was fitted on {n_features}"
        )
    if n_features is not None:
        check_feature_names(X, feature_names, name)
    return np.ascontiguousarray(arr)


def check_feature_names(X: Any, fitted: list[str] | None, name: str = "X") -> None:
    """Compare the column names of ``X`` with those seen in ``fit`` (scikit-learn's rules).

    Different names or order: ``InputError`` naming the difference. Names on one side
    only: a ``UserWarning``, and the columns are taken by position.
    """
    given = column_names(X)
    if fitted is None and given is None:
        return
    if fitted is None:
        warnings.warn(
            f"{name} has feature names, but the detector was fitted without feature names; "
            "columns are taken by position",
            UserWarning,
            stacklevel=4,
        )
        return
    if given is None:
        warnings.warn(
            f"{name} does not have valid feature names, but the detector was fitted with "
            f"feature names {list(fitted)[:10]}; columns are taken by position",
            UserWarning,
            stacklevel=4,
        )
        return
    fitted = list(fitted)
    if given == fitted:
        return
    unseen = [c for c in given if c not in fitted]
    missing = [c for c in fitted if c not in given]
    if unseen or missing:
        detail = []
        if unseen:
            detail.append(f"names unseen at fit time: {unseen[:10]}")
        if missing:
            detail.append(f"names seen at fit time, now missing: {missing[:10]}")
        raise InputError(
            f"{name}'s column names differ from those seen in fit: " + "; ".join(detail)
        )
    raise InputError(
        f"{name}'s columns are in a different order than in fit: got {given[:10]}, expected "
        f"{fitted[:10]}; reorder them (X[{fitted[:3]!r}...])"
    )
