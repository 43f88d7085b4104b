"""The fitted event encoder: field values to integer entity codes, and back to JSON.

Each column is an entity *type*; each value an entity. Codes per column:

* ``0``: a category unseen in ``fit`` (or beyond the ``max_categories`` most frequent);
* ``1``: a missing value (its own entity, learnt like any other);
* ``2 + k``: the ``k``-th category (most frequent first), or the ``k``-th bin of a numeric
  column, in increasing order of value.

Numeric bins: the edges are the distinct inner ``n_bins``-quantiles of the fit values. An
edge holding at least ``1 / (2 n_bins)`` of the values (a point mass: the 0 of a count
that is mostly 0) gets a bin of its own, so ``0`` and ``5`` never share a bin because most
values are ``0``; the other bins are half-open intervals ``[e_i, e_{i+1})``. Two more bins hold the values below the
fit minimum and above the fit maximum (infinities included): no training event falls
into them, so a value outside the range seen in ``fit`` is as new as an unseen category.

``EventEncoder.to_json()`` is what a model file stores as the input spec;
``EventEncoder.from_json`` verifies every value (types, lengths, limits, sorted finite
edges) before anything is built from it. ``OneHot`` turns events into the one-hot +
standardised-numeric matrix the tabular baselines run on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InputError, ModelFileError
from .input import (
    MAX_COLUMNS,
    MAX_VALUE_CHARS,
    as_event_frame,
    categorical_keys,
    column_kind,
    numeric_values,
)

UNSEEN = 0
MISSING = 1
OFFSET = 2
MAX_CATEGORIES = 1_000_000  # per column, the largest max_categories accepted
MAX_BINS = 1024
MAX_ENTITIES = 4_000_000  # over all columns: bounds what a model file may make us allocate
KINDS = ("categorical", "numeric")


@dataclass
class EventEncoder:
    """Columns, their kinds, vocabularies (categorical) and bin edges (numeric)."""

    columns: list[str]
    kinds: list[str]
    vocabularies: list[list[str] | None]
    edges: list[list[float] | None]
    points: list[list[bool] | None]
    ranges: list[list[float] | None]
    _lookup: list[dict[str, int] | None] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._lookup = [
            None if v is None else {key: OFFSET + i for i, key in enumerate(v)}
            for v in self.vocabularies
        ]

    # -- fitting --------------------------------------------------------------------------
    @classmethod
    def fit(
        cls, X: Any, *, n_bins: int = 10, max_categories: int = 10_000, min_rows: int = 1
    ) -> EventEncoder:
        """Learn columns, kinds, vocabularies and bin edges from the events ``X``."""
        frame = as_event_frame(X, min_rows=min_rows)
        columns, kinds, vocabs, edges, points, ranges = [], [], [], [], [], []
        for col in frame.columns:
            kind = column_kind(frame[col], col)
            columns.append(col)
            kinds.append(kind)
            if kind == "categorical":
                keys = categorical_keys(frame[col], col)
                vocabs.append(_vocabulary(keys, max_categories))
                edges.append(None)
                points.append(None)
                ranges.append(None)
            else:
                vocabs.append(None)
                values = numeric_values(frame[col], col)
                e, p = _bin_edges(values, n_bins)
                edges.append(e)
                points.append(p)
                finite = values[np.isfinite(values)]
                ranges.append([float(finite.min()), float(finite.max())] if finite.size else None)
        enc = cls(columns, kinds, vocabs, edges, points, ranges)
        if enc.n_entities > MAX_ENTITIES:
            raise InputError(
                f"the events hold {enc.n_entities} distinct values over all columns; at most "
                f"{MAX_ENTITIES} are supported (lower max_categories)"
            )
        return enc

    # -- encoding -------------------------------------------------------------------------
    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def cardinalities(self) -> np.ndarray:
        """Codes per column (unseen + missing + categories or bins)."""
        return np.array(
            [
                OFFSET + (len(v) if v is not None else _n_bins(e, p) + 2)
                for v, e, p in zip(self.vocabularies, self.edges, self.points, strict=True)
            ],
            dtype=np.int64,
        )

    @property
    def offsets(self) -> np.ndarray:
        """Start of each column's codes in one table of all entities."""
        card = self.cardinalities
        return np.concatenate([[0], np.cumsum(card)[:-1]]).astype(np.int64)

    @property
    def n_entities(self) -> int:
        return int(self.cardinalities.sum())

    def transform(self, X: Any, *, name: str = "X") -> np.ndarray:
        """Integer codes ``(n_events, n_columns)`` of the events ``X``."""
        frame = as_event_frame(X, name=name)
        self._check_columns(list(frame.columns), name)
        codes = np.empty((len(frame), self.n_columns), dtype=np.int64)
        for j, col in enumerate(self.columns):
            series = frame[col]
            if self.kinds[j] == "categorical":
                keys = categorical_keys(series, col)
                lookup = self._lookup[j]
                assert lookup is not None
                codes[:, j] = [
                    MISSING if k is None else lookup.get(k, UNSEEN) for k in keys.tolist()
                ]
            else:
                codes[:, j] = self._bin(_as_numbers(series, col), j)
        return codes

    def _bin(self, values: np.ndarray, j: int) -> np.ndarray:
        edges = np.asarray(self.edges[j], dtype=np.float64)
        slot_to_bin = _slot_map(self.points[j] or [])
        below = np.searchsorted(edges, values, side="left")  # edges < x
        exact = np.zeros(len(values), dtype=bool)
        inside = below < len(edges)
        exact[inside] = edges[below[inside]] == values[inside]
        out = OFFSET + 1 + slot_to_bin[2 * below + exact]
        if self.ranges[j] is not None:
            low, high = self.ranges[j]
            out[values < low] = OFFSET
            out[values > high] = OFFSET + 1 + _n_bins(self.edges[j], self.points[j])
        out[np.isnan(values)] = MISSING
        return out

    def _check_columns(self, got: list[str], name: str) -> None:
        if got == self.columns:
            return
        missing = [c for c in self.columns if c not in got]
        extra = [c for c in got if c not in self.columns]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"lacks the columns {missing[:8]}")
            if extra:
                parts.append(f"has columns not seen in fit {extra[:8]}")
            raise InputError(
                f"{name} {' and '.join(parts)}; expected the {self.n_columns} columns seen "
                "in fit (any order)"
            )

    def describe(self, j: int, code: int) -> str:
        """A readable name of entity ``code`` of column ``j`` ("<unseen>", "[0.5, 2)", ...)."""
        if code == UNSEEN:
            return "<unseen>"
        if code == MISSING:
            return "<missing>"
        vocab = self.vocabularies[j]
        if vocab is not None:
            return vocab[code - OFFSET]
        edges = self.edges[j] or []
        inner = _n_bins(edges, self.points[j])
        low_high = self.ranges[j] or [float("nan")] * 2
        if code == OFFSET:
            return f"< {low_high[0]:.4g} (below the fit range)"
        if code == OFFSET + 1 + inner:
            return f"> {low_high[1]:.4g} (above the fit range)"
        slots = np.flatnonzero(_slot_map(self.points[j] or []) == code - OFFSET - 1)
        first, last = int(slots.min()), int(slots.max())
        if first % 2 == 1 and first == last:
            return f"= {edges[first // 2]:.4g}"
        low = f"{low_high[0]:.4g}" if first == 0 else f"{edges[(first - 1) // 2]:.4g}"
        high = f"{low_high[1]:.4g}" if last >= 2 * len(edges) else f"{edges[last // 2]:.4g}"
        if last >= 2 * len(edges):
            return ("[" if first % 2 == 1 or first == 0 else "(") + f"{low}, {high}]"
        return ("[" if first % 2 == 1 or first == 0 else "(") + f"{low}, {high})"

    # -- JSON -----------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "kinds": list(self.kinds),
            "vocabularies": [None if v is None else list(v) for v in self.vocabularies],
            "edges": [None if e is None else [float(x) for x in e] for e in self.edges],
            "points": [None if p is None else [bool(x) for x in p] for p in self.points],
            "ranges": [None if r is None else [float(x) for x in r] for r in self.ranges],
        }

    @classmethod
    def from_json(cls, spec: Any) -> EventEncoder:
        """An encoder from a model file's input spec, every value verified first."""
        if not isinstance(spec, dict):
            raise ModelFileError("input_spec must be a JSON object")
        cols, kinds = spec.get("columns"), spec.get("kinds")
        vocabs, edges, points = spec.get("vocabularies"), spec.get("edges"), spec.get("points")
        ranges = spec.get("ranges")
        if not isinstance(cols, list) or not 1 <= len(cols) <= MAX_COLUMNS:
            raise ModelFileError(f"input_spec['columns'] must be a list of 1..{MAX_COLUMNS} names")
        m = len(cols)
        if not all(isinstance(c, str) and len(c) <= 10_000 for c in cols) or len(set(cols)) != m:
            raise ModelFileError("input_spec['columns'] must hold distinct strings")
        for key, value in (
            ("kinds", kinds),
            ("vocabularies", vocabs),
            ("edges", edges),
            ("points", points),
            ("ranges", ranges),
        ):
            if not isinstance(value, list) or len(value) != m:
                raise ModelFileError(f"input_spec[{key!r}] must be a list of {m} entries")
        total = 0
        for j in range(m):
            kind, vocab, edge, point, span = kinds[j], vocabs[j], edges[j], points[j], ranges[j]
            if kind == "categorical":
                if edge is not None or point is not None or span is not None:
                    raise ModelFileError(
                        f"input_spec: categorical column {j} has numeric bins or a range"
                    )
                if not isinstance(vocab, list):
                    raise ModelFileError(
                        f"input_spec: categorical column {j} needs a vocabulary and no edges"
                    )
                if len(vocab) > MAX_CATEGORIES or not all(
                    isinstance(v, str) and len(v) <= MAX_VALUE_CHARS for v in vocab
                ):
                    raise ModelFileError(
                        f"input_spec: vocabulary {j} must hold at most {MAX_CATEGORIES} strings "
                        f"of at most {MAX_VALUE_CHARS} characters"
                    )
                if len(set(vocab)) != len(vocab):
                    raise ModelFileError(f"input_spec: vocabulary {j} holds duplicates")
                total += OFFSET + len(vocab)
            elif kind == "numeric":
                if vocab is not None or not isinstance(edge, list) or len(edge) > MAX_BINS:
                    raise ModelFileError(
                        f"input_spec: numeric column {j} needs at most {MAX_BINS} edges and no "
                        "vocabulary"
                    )
                if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in edge):
                    raise ModelFileError(f"input_spec: edges {j} must be numbers")
                arr = np.asarray(edge, dtype=np.float64)
                if not np.isfinite(arr).all() or (arr.size > 1 and not (np.diff(arr) > 0).all()):
                    raise ModelFileError(
                        f"input_spec: edges {j} must be finite and strictly increasing"
                    )
                if (
                    not isinstance(point, list)
                    or len(point) != len(edge)
                    or not all(isinstance(x, bool) for x in point)
                ):
                    raise ModelFileError(
                        f"input_spec: points {j} must be {len(edge)} booleans (one per edge)"
                    )
                if span is not None and not (
                    isinstance(span, list)
                    and len(span) == 2
                    and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in span)
                    and np.isfinite(span).all()
                    and span[0] <= span[1]
                ):
                    raise ModelFileError(f"input_spec: range {j} must be null or [low, high]")
                total += OFFSET + _n_bins(edge, point) + 2
            else:
                raise ModelFileError(f"input_spec: kind {j} must be one of {KINDS}, got {kind!r}")
        if total > MAX_ENTITIES:
            raise ModelFileError(f"input_spec declares {total} entities; at most {MAX_ENTITIES}")
        return cls(
            list(cols),
            list(kinds),
            [None if v is None else list(v) for v in vocabs],
            [None if e is None else [float(x) for x in e] for e in edges],
            [None if p is None else list(p) for p in points],
            [None if r is None else [float(x) for x in r] for r in ranges],
        )


def _vocabulary(keys: np.ndarray, max_categories: int) -> list[str]:
    """The ``max_categories`` most frequent values, most frequent first (ties by name)."""
    present = [k for k in keys.tolist() if k is not None]
    if not present:
        return []
    values, counts = np.unique(np.array(present, dtype=object), return_counts=True)
    order = sorted(range(len(values)), key=lambda i: (-counts[i], values[i]))
    return [str(values[i]) for i in order[:max_categories]]


def _bin_edges(values: np.ndarray, n_bins: int) -> tuple[list[float], list[bool]]:
    """Distinct inner ``n_bins``-quantiles of the finite values (empty: one bin), and which
    of them are point masses (hold at least ``1 / (2 n_bins)`` of the values)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0 or n_bins < 2:
        return [], []
    qs = np.quantile(finite, np.linspace(0.0, 1.0, n_bins + 1)[1:-1], method="lower")
    edges = np.unique(qs)
    counts = np.array([np.count_nonzero(finite == e) for e in edges])
    points = counts >= finite.size / (2 * n_bins)
    return [float(x) for x in edges], [bool(p) for p in points]


def _slot_map(points: list[bool]) -> np.ndarray:
    """Slot (``2 i`` = strictly between edges ``i - 1`` and ``i``, ``2 i + 1`` = exactly edge
    ``i``) to bin: an edge that is not a point mass joins the interval above it."""
    out = np.zeros(2 * len(points) + 1, dtype=np.int64)
    b = 0
    for i, point in enumerate(points):
        if point:
            out[2 * i + 1], out[2 * i + 2] = b + 1, b + 2
            b += 2
        else:
            out[2 * i + 1] = out[2 * i + 2] = b + 1
            b += 1
    return out


def _n_bins(edges: list[float] | None, points: list[bool] | None) -> int:
    return len(edges or []) + 1 + sum(bool(p) for p in points or [])


def _as_numbers(series: Any, column: str) -> np.ndarray:
    """A column fitted as numeric: numbers (an object column of numbers is accepted)."""
    import pandas as pd

    try:
        if column_kind(series, column) == "numeric":
            return numeric_values(series, column)
    except InputError:
        pass
    try:
        values = pd.to_numeric(series, errors="raise")
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"column {column!r} was numeric in fit but holds non-numbers now ({exc})"
        ) from None
    return numeric_values(pd.Series(values), column)


class OneHot:
    """Events to a float matrix for tabular detectors: one indicator column per categorical
    code (unseen and missing included) and each numeric column standardised with the fit
    mean and standard deviation (missing values become 0, the fit mean, plus an indicator)."""

    def __init__(self, max_categories: int = 10_000) -> None:
        self.max_categories = max_categories

    def fit(self, X: Any) -> OneHot:
        self.encoder_ = EventEncoder.fit(X, n_bins=1, max_categories=self.max_categories)
        frame = as_event_frame(X)
        self.stats_: dict[str, tuple[float, float]] = {}
        for j, col in enumerate(self.encoder_.columns):
            if self.encoder_.kinds[j] == "numeric":
                v = numeric_values(frame[col], col)
                v = v[np.isfinite(v)]
                mean = float(v.mean()) if v.size else 0.0
                std = float(v.std()) if v.size else 0.0
                self.stats_[col] = (mean, std if std > 0 else 1.0)
        return self

    def transform(self, X: Any) -> np.ndarray:
        enc = self.encoder_
        frame = as_event_frame(X)
        codes = enc.transform(frame)
        card = enc.cardinalities
        parts = []
        for j, col in enumerate(enc.columns):
            if enc.kinds[j] == "categorical":
                block = np.zeros((len(frame), int(card[j])), dtype=np.float64)
                block[np.arange(len(frame)), codes[:, j]] = 1.0
                parts.append(block)
            else:
                mean, std = self.stats_[col]
                v = _as_numbers(frame[col], col)
                missing = np.isnan(v)
                z = np.clip(np.nan_to_num((v - mean) / std, nan=0.0), -1e6, 1e6)
                parts.append(z[:, None])
                parts.append(missing[:, None].astype(np.float64))
        return np.hstack(parts)

    def fit_transform(self, X: Any) -> np.ndarray:
        return self.fit(X).transform(X)


def one_hot(train: Any, *others: Any, max_categories: int = 10_000) -> list[np.ndarray]:
    """``OneHot`` fitted on ``train``, applied to ``train`` and each of ``others``."""
    enc = OneHot(max_categories).fit(train)
    return [enc.transform(train), *(enc.transform(x) for x in others)]


__all__ = ["MISSING", "OFFSET", "UNSEEN", "EventEncoder", "OneHot", "one_hot"]
