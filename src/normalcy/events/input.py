"""Validation of categorical-event input at the boundary.

Policy (every violation is an ``InputError`` that names the column and says what was
expected):

* **Containers.** A pandas, polars or pyarrow table, a list of dicts (one per event; a key
  absent from a dict is a missing value of that field) or a dict of columns. One row per
  event; at least one row and one column. Arrays and other objects are refused: events
  need field names.
* **Column names.** Strings (other names are converted with ``str``), distinct, at most
  ``MAX_COLUMNS``. At scoring time the columns must be exactly those seen in ``fit`` (any
  order); missing or extra columns are refused and named.
* **Column kinds.** object, string, category and boolean columns are *categorical*: each
  value is an entity. Integer and float columns are *numeric*: they are discretised into
  quantile bins learnt in ``fit`` (see ``normalcy.events.encoding``). Date, time, duration
  and complex columns are refused (convert them to a category or a number first).
* **Cells.** A categorical cell must be a scalar: a string, bytes (decoded as UTF-8 with
  backslash escapes), a bool, an int, a float or a numpy scalar; lists, dicts, sets,
  arrays and other objects are refused. Numbers are keyed by their value (``80``,
  ``80.0`` and ``"80"`` are the same entity). Strings longer than ``MAX_VALUE_CHARS`` are
  kept as their first 200 characters plus a SHA-1 digest of the whole string, so no value
  stored in a model file is long and distinct long values stay distinct.
* **Missing values.** ``None``, NaN, ``pd.NA`` and ``NaT`` are *missing*: each column has
  its own "missing" entity, learnt like any other value (an empty string is a value, not
  missing). Numeric infinities fall into the outermost bins.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..core.errors import InputError

MAX_COLUMNS = 1024
MAX_VALUE_CHARS = 256
_KEEP_CHARS = 200
_SCALARS = (str, bytes, bool, int, float, np.generic)


def _frame_from(X: Any, name: str) -> Any:
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        return X
    module = type(X).__module__
    if module.startswith(("polars", "pyarrow")) and hasattr(X, "to_pandas"):
        try:
            return X.to_pandas()
        except Exception as exc:  # an arrow type pandas cannot hold
            raise InputError(
                f"{name}: cannot convert the {module} table to pandas: {exc}"
            ) from None
    if isinstance(X, Mapping):
        try:
            return pd.DataFrame(dict(X))
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{name}: a dict must map field names to equal-length columns ({exc})"
            ) from None
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise InputError(f"{name} holds no events; expected at least one")
        bad = next((i for i, row in enumerate(X) if not isinstance(row, Mapping)), None)
        if bad is not None:
            raise InputError(
                f"{name}: event {bad} is a {type(X[bad]).__name__}; a list of events must "
                "hold dicts (field name -> value)"
            )
        return pd.DataFrame.from_records(list(X))
    raise InputError(
        f"{name} is a {type(X).__name__}; expected a table of events (pandas, polars or "
        "pyarrow DataFrame), a list of dicts or a dict of columns"
    )


def as_event_frame(X: Any, *, name: str = "X", min_rows: int = 1) -> Any:
    """``X`` as a pandas DataFrame with distinct string column names, validated."""
    frame = _frame_from(X, name)
    n_rows, n_cols = frame.shape
    if n_cols == 0:
        raise InputError(f"{name} has no columns; expected at least one field per event")
    if n_rows < min_rows:
        raise InputError(
            f"{name} holds {n_rows} event(s); expected at least {min_rows}"
            + (" (an empty frame cannot be scored)" if n_rows == 0 else "")
        )
    if n_cols > MAX_COLUMNS:
        raise InputError(f"{name} has {n_cols} columns; at most {MAX_COLUMNS} are supported")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({c for c in names if names.count(c) > 1})
        raise InputError(f"{name} has duplicated column names {dup[:5]}")
    if list(frame.columns) != names:
        frame = frame.set_axis(names, axis=1)
    return frame


def column_kind(series: Any, column: str) -> str:
    """``"categorical"`` or ``"numeric"`` from a column's dtype (see the module policy)."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        return "categorical"
    if pd.api.types.is_complex_dtype(dtype):
        raise InputError(f"column {column!r} holds complex numbers; expected categories or reals")
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    raise InputError(
        f"column {column!r} has dtype {dtype}; expected categories (object, string, category, "
        "bool) or numbers (dates and durations: convert them to a category or a number first)"
    )


def _long_key(text: str) -> str:
    digest = hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{text[:_KEEP_CHARS]}...sha1:{digest}"


def cell_key(value: Any, column: str) -> str | None:
    """The entity name of one categorical cell, or ``None`` when it is missing."""
    if value is None:
        return None
    if not isinstance(value, _SCALARS):
        if _is_missing_scalar(value):
            return None
        raise InputError(
            f"column {column!r} holds a {type(value).__name__} ({_preview(value)}); expected "
            "a scalar per cell (string, number, bool or missing)"
        )
    if isinstance(value, np.generic):
        if isinstance(value, np.datetime64 | np.timedelta64):
            return None if np.isnat(value) else str(value)
        value = value.item()
        if not isinstance(value, (str, bytes, bool, int, float)):
            raise InputError(f"column {column!r} holds an unsupported numpy scalar {value!r}")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else _long_key(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        text = str(value)
        return text if len(text) <= MAX_VALUE_CHARS else _long_key(text)
    if math.isnan(value):
        return None
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _is_missing_scalar(value: Any) -> bool:
    import pandas as pd

    try:
        return value is pd.NA or value is pd.NaT
    except Exception:  # pragma: no cover - defensive
        return False


def _preview(value: Any, limit: int = 60) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def categorical_keys(series: Any, column: str) -> np.ndarray:
    """Entity names of a categorical column: an object array of ``str`` or ``None``."""
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = [cell_key(v, column) for v in series.cat.categories]
        lookup = np.array([*cats, None], dtype=object)
        codes = series.cat.codes.to_numpy()
        return lookup[np.where(codes < 0, len(cats), codes)]
    values = series.to_numpy(dtype=object, na_value=None)
    kind = pd.api.types.infer_dtype(values, skipna=True)
    if kind == "string":  # fast path: plain strings and missing cells
        out = values.copy()
        lengths = np.fromiter((len(v) if v is not None else 0 for v in values), int, len(values))
        for i in np.flatnonzero(lengths > MAX_VALUE_CHARS):
            out[i] = _long_key(values[i])
        missing = pd.isna(series).to_numpy()
        out[missing] = None
        return out
    return np.array([cell_key(v, column) for v in values] + [None], dtype=object)[:-1]


def numeric_values(series: Any, column: str) -> np.ndarray:
    """A numeric column as float64 (NaN = missing)."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InputError(f"column {column!r} cannot be read as numbers: {exc}") from None
