"""Alert frames for CAR: validation, attribute entities, alert types and sequences.

An alert frame is a table with one row per alert: its categorical (or numeric) attributes,
optionally a sequence id column (alerts of one host, user, session ...) and an order
column (a time stamp or counter); without them the frame is one sequence in row order.
Attribute values become entities per column (``0`` = unseen in ``fit``, ``1`` = missing,
``2 + k`` = the ``k``-th most frequent value; numeric columns are cut at quantile edges
into at most ``n_bins`` bins first). The alert *type*, the symbol of the sequence model,
is the combination of the ``type_columns`` values.

Everything learnt here is JSON (vocabularies, bin edges, type labels) and is verified
before use when read back from a model file.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import InputError, ModelFileError

if TYPE_CHECKING:
    import pandas as pd

UNSEEN, MISSING, OFFSET = 0, 1, 2
MAX_COLUMNS = 1024
MAX_VALUE_CHARS = 256
TYPE_SEP = " | "


def as_alert_frame(X: Any, name: str = "alerts") -> pd.DataFrame:
    """A pandas frame with distinct string column names and at least one row."""
    import pandas as pd

    if isinstance(X, pd.DataFrame):
        frame = X
    elif type(X).__module__.startswith(("polars", "pyarrow")) and hasattr(X, "to_pandas"):
        frame = X.to_pandas()
    elif isinstance(X, Mapping) or (isinstance(X, list) and X and isinstance(X[0], Mapping)):
        try:
            frame = pd.DataFrame(X)
        except (ValueError, TypeError) as exc:
            raise InputError(
                f"{name}: cannot build a table from the given columns ({exc})"
            ) from None
    else:
        raise InputError(
            f"{name} must be a table (pandas/polars/pyarrow), a dict of columns or a list of "
            f"dicts, one row per alert; got {type(X).__name__}"
        )
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise InputError(f"{name} must have at least one row and one column, got {frame.shape}")
    if frame.shape[1] > MAX_COLUMNS:
        raise InputError(f"{name} has {frame.shape[1]} columns, more than {MAX_COLUMNS}")
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InputError(f"{name} has duplicate column names; names must be distinct")
    frame = frame.copy(deep=False)
    frame.columns = names
    return frame


def _is_numeric(col: pd.Series) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype)


def _keys(col: pd.Series, what: str) -> np.ndarray:
    """Categorical cells as strings (``None`` for missing); non-scalars are refused."""
    import pandas as pd

    out = np.empty(len(col), dtype=object)
    for i, v in enumerate(col.to_numpy(dtype=object)):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            out[i] = None
        elif isinstance(v, str | bool | int | float | np.generic):
            text = str(v.item() if isinstance(v, np.generic) else v)
            out[i] = text[:MAX_VALUE_CHARS]
        else:
            raise InputError(f"{what} holds a {type(v).__name__}; cells must be scalars")
    return out


@dataclass
class AlertEncoder:
    """Attribute vocabularies/bin edges and the alert-type vocabulary, learnt in ``fit``."""

    columns: list[str]
    numeric: list[bool]
    vocabularies: list[list[str]]
    edges: list[list[float]]
    type_columns: list[str]
    types: list[str]

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str],
        type_columns: Sequence[str],
        max_categories: int,
        n_bins: int,
    ) -> AlertEncoder:
        import pandas as pd

        numeric, vocabs, edges = [], [], []
        for c in columns:
            col = frame[c]
            if _is_numeric(col):
                values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
                finite = values[np.isfinite(values)]
                qs = np.quantile(finite, np.linspace(0, 1, n_bins + 1)[1:-1]) if finite.size else []
                numeric.append(True)
                vocabs.append([])
                edges.append([float(e) for e in np.unique(qs)])
            else:
                keys = pd.Series(_keys(col, f"column {c!r}"), dtype=object).dropna()
                counts = keys.value_counts(sort=True)
                order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
                numeric.append(False)
                vocabs.append([k for k, _ in order[:max_categories]])
                edges.append([])
        enc = cls(list(columns), numeric, vocabs, edges, list(type_columns), [])
        labels = enc.type_labels(frame)
        counts = pd.Series(labels, dtype=object).value_counts(sort=True)
        order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        enc.types = [k for k, _ in order[:max_categories]]
        return enc

    @property
    def sizes(self) -> list[int]:
        """Entities per column (unseen, missing, then values or bins)."""
        return [
            OFFSET + (len(e) + 1 if num else len(v))
            for num, v, e in zip(self.numeric, self.vocabularies, self.edges, strict=True)
        ]

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)

    def check_columns(self, frame: pd.DataFrame, name: str = "alerts") -> None:
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise InputError(f"{name} lacks the attribute columns {missing[:5]} seen in fit")

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Global entity ids (rows x attribute columns)."""
        import pandas as pd

        self.check_columns(frame)
        out = np.empty((len(frame), len(self.columns)), dtype=np.int64)
        offsets = self.offsets
        for j, c in enumerate(self.columns):
            col = frame[c]
            if self.numeric[j]:
                values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
                if pd.isna(col).to_numpy().sum() != np.isnan(values).sum():
                    raise InputError(f"column {c!r} was numeric in fit but holds non-numbers")
                code = OFFSET + np.searchsorted(np.asarray(self.edges[j]), values, side="right")
                code = np.where(np.isnan(values), MISSING, code)
            else:
                keys = _keys(col, f"column {c!r}")
                index = {k: i for i, k in enumerate(self.vocabularies[j])}
                code = np.array(
                    [MISSING if k is None else OFFSET + index.get(k, -OFFSET) for k in keys],
                    dtype=np.int64,
                )
            out[:, j] = offsets[j] + code
        return out

    def type_labels(self, frame: pd.DataFrame) -> np.ndarray:
        import pandas as pd

        parts = [
            pd.Series(_keys(frame[c], f"column {c!r}"), dtype=object).fillna("<missing>")
            for c in self.type_columns
        ]
        labels = parts[0].astype(str)
        for p in parts[1:]:
            labels = labels + TYPE_SEP + p.astype(str)
        return labels.to_numpy(dtype=object)

    def type_codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Alert-type symbols ``0..n_types-1``; ``n_types`` for a type unseen in fit."""

        index = {k: i for i, k in enumerate(self.types)}
        return np.array([index.get(k, len(self.types)) for k in self.type_labels(frame)])

    # -- JSON ---------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "numeric": self.numeric,
            "vocabularies": self.vocabularies,
            "edges": self.edges,
            "type_columns": self.type_columns,
            "types": self.types,
        }

    @classmethod
    def from_json(cls, spec: Any, max_categories: int, n_bins: int) -> AlertEncoder:
        """Rebuild from a model file's input spec, verifying every value."""
        keys = {"columns", "numeric", "vocabularies", "edges", "type_columns", "types"}
        if not isinstance(spec, dict) or set(spec) != keys:
            raise ModelFileError(f"the alert encoder must be a JSON object with keys {keys}")

        def strings(v: Any, limit: int, what: str) -> list[str]:
            if not isinstance(v, list) or len(v) > limit:
                raise ModelFileError(f"{what} must be a list of at most {limit} strings")
            if not all(isinstance(s, str) and len(s) <= 4 * MAX_VALUE_CHARS for s in v):
                raise ModelFileError(f"{what} must hold short strings")
            if len(set(v)) != len(v):
                raise ModelFileError(f"{what} holds duplicates")
            return list(v)

        columns = strings(spec["columns"], MAX_COLUMNS, "columns")
        if not columns:
            raise ModelFileError("the alert encoder has no columns")
        d = len(columns)
        numeric, vocabs, edges = spec["numeric"], spec["vocabularies"], spec["edges"]
        if not (isinstance(numeric, list) and len(numeric) == d):
            raise ModelFileError("numeric must have one flag per column")
        if not all(isinstance(b, bool) for b in numeric):
            raise ModelFileError("numeric must hold booleans")
        if not (
            isinstance(vocabs, list) and isinstance(edges, list) and len(vocabs) == len(edges) == d
        ):
            raise ModelFileError("vocabularies and edges must have one entry per column")
        vocabs = [strings(v, max_categories, f"vocabulary {j}") for j, v in enumerate(vocabs)]
        clean_edges = []
        for j, e in enumerate(edges):
            if not isinstance(e, list) or len(e) > n_bins:
                raise ModelFileError(f"edges {j} must be a list of at most {n_bins} numbers")
            arr = np.array(e, dtype=np.float64) if e else np.zeros(0)
            if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in e):
                raise ModelFileError(f"edges {j} must hold numbers")
            if not np.isfinite(arr).all() or np.any(np.diff(arr) <= 0):
                raise ModelFileError(f"edges {j} must be finite and strictly increasing")
            if (numeric[j] and vocabs[j]) or (not numeric[j] and e):
                raise ModelFileError(f"column {j}: numeric columns have edges, others vocabularies")
            clean_edges.append([float(x) for x in arr])
        type_columns = strings(spec["type_columns"], d, "type_columns")
        if not type_columns or not set(type_columns) <= set(columns):
            raise ModelFileError("type_columns must be a non-empty subset of the columns")
        types = strings(spec["types"], max_categories, "types")
        if not types:
            raise ModelFileError("the alert-type vocabulary is empty")
        return cls(columns, numeric, vocabs, clean_edges, type_columns, types)


def sequences(frame: pd.DataFrame, sequence_column: str | None, order_column: str | None):
    """Row indices of each alert sequence, in order (sequences in order of first appearance)."""
    import pandas as pd

    n = len(frame)
    if order_column is not None:
        order = frame[order_column]
        if not (
            pd.api.types.is_numeric_dtype(order.dtype)
            or pd.api.types.is_datetime64_any_dtype(order.dtype)
        ) or pd.api.types.is_bool_dtype(order.dtype):
            raise InputError(
                f"order column {order_column!r} must hold numbers or time stamps, "
                f"got dtype {order.dtype}"
            )
        if order.isna().any():
            raise InputError(f"order column {order_column!r} holds missing values")
        rank = pd.Series(order).rank(method="first").to_numpy() - 1
    else:
        rank = np.arange(n, dtype=np.float64)
    if sequence_column is None:
        return [np.argsort(rank, kind="stable")]
    ids = frame[sequence_column]
    if ids.isna().any():
        raise InputError(f"sequence column {sequence_column!r} holds missing values")
    groups, _ = pd.factorize(ids.astype(str))
    out = []
    for g in range(groups.max() + 1):
        rows = np.flatnonzero(groups == g)
        out.append(rows[np.argsort(rank[rows], kind="stable")])
    return out
