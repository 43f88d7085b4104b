"""OutRank: cardinality-aware feature ranking for categorical (and binned numeric) columns.

OutRank (Škrlj & Mramor, 2023) ranks the columns of large sparse categorical tables by a
variant of mutual information that is normalised with regard to the noise produced by
features of the same cardinality. Plain (plug-in) mutual information grows with a
column's cardinality: an identifier column with one value per row "explains" any target
perfectly. OutRank subtracts what a random feature with the same value counts reaches
against the same target, so only information beyond chance counts::

    adjusted_mi(X; Y) = MI(X; Y) - E_pi[ MI(X; pi(Y)) ]

``pi`` is a random permutation of the target rows: ``X`` keeps its exact cardinality and
value counts while its relation to ``Y`` is destroyed, which is a random feature of the same
cardinality. The expectation is the mean over ``n_permutations`` seeded permutations.

Implemented here with numpy and pandas, not with the ``outrank`` package: that package is a
file-based command-line tool that pulls development tools (flake8, pre-commit, virtualenv)
at run time. Deviations from its code, each for determinism or clarity: the background is
an average over seeded random permutations of the target (the package uses one
deterministic shift of the target per feature value, a cheap pseudo-permutation, and skips
values seen once); subsampling (``max_rows``) is a seeded uniform sample (the package takes
the first rows of each value).

Two uses, both label-free in normal operation:

* **Explanation** (:func:`explain_anomalies`): the target is a detector's anomaly flags
  (or binned scores); the ranking says which columns carry the anomalies, with the value
  most over-represented among the flagged rows.
* **Pre-selection for ``auto``** (:class:`OutRankOneHot`): on wide categorical tables,
  columns are ranked by their mean adjusted MI with the other columns (feature-feature
  mode, :func:`rank_columns`; or against a target when one is given), and only the top
  ``k`` are one-hot encoded for a numeric detector such as ``auto``. Noise columns of high
  cardinality, which plain MI favours, fall to the bottom.

References
----------
Škrlj & Mramor. OutRank: Speeding up AutoML-based Model Search for Large Sparse Data sets
with Cardinality-aware Feature Ranking. RecSys 2023 (arXiv:2309.01552).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NotFittedError

MAX_ROWS = 200_000  # default subsample for one ranking (seeded)


# -- input ------------------------------------------------------------------------------------
def _as_frame(X: Any, name: str = "X", min_rows: int = 2) -> pd.DataFrame:
    """A pandas frame with string column names, or ``InputError``."""
    module = type(X).__module__
    if module.startswith(("polars", "pyarrow")) and hasattr(X, "to_pandas"):
        X = X.to_pandas()
    if isinstance(X, pd.DataFrame):
        frame = X
    elif isinstance(X, np.ndarray | list | tuple):
        arr = np.asarray(X, dtype=object)
        if arr.ndim != 2:
            raise InputError(f"{name} must be 2-D (rows x columns), got {arr.ndim}-D input")
        frame = pd.DataFrame(arr, columns=[str(i) for i in range(arr.shape[1])])
    else:
        raise InputError(
            f"{name} must be a pandas/polars/pyarrow table or a 2-D array, got {type(X).__name__}"
        )
    if frame.shape[0] < min_rows or frame.shape[1] < 1:
        raise InputError(
            f"{name} must have at least {min_rows} row(s) and 1 column, "
            f"got shape {tuple(frame.shape)}"
        )
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        dup = sorted({c for c in names if names.count(c) > 1})
        raise InputError(f"{name} has duplicate column names {dup[:5]}; names must be unique")
    frame = frame.copy(deep=False)
    frame.columns = names
    return frame


def _is_numeric(col: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(col.dtype) and not isinstance(
        col.dtype, pd.CategoricalDtype
    )


def _bin_numeric(values: np.ndarray, n_bins: int, what: str) -> np.ndarray:
    """Codes of a numeric column: exact values when few, else quantile bins."""
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise InputError(
            f"{what} holds NaN or infinite values; impute or drop them (categorical columns "
            "may hold missing values, numeric ones may not)"
        )
    uniq = np.unique(values)
    if len(uniq) <= n_bins:
        return np.searchsorted(uniq, values)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n_bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right")


def _column_codes(col: pd.Series, n_bins: int, categorical: bool, what: str) -> np.ndarray:
    if not categorical and _is_numeric(col):
        return _bin_numeric(col.to_numpy(), n_bins, what).astype(np.int64)
    codes, _ = pd.factorize(col.astype(object), use_na_sentinel=False)  # missing = a value
    return codes.astype(np.int64)


def encode_columns(
    X: Any, n_bins: int = 10, categorical: Sequence[str] = ()
) -> tuple[np.ndarray, list[str]]:
    """Integer codes (rows x columns) of every column: categories as they are, numeric
    columns in at most ``n_bins`` quantile bins (unless named in ``categorical``)."""
    _check_int("n_bins", n_bins, 2, 10_000)
    frame = _as_frame(X)
    unknown = sorted(set(categorical) - set(frame.columns))
    if unknown:
        raise InputError(f"categorical names columns {unknown[:5]} that X does not have")
    cat = set(categorical)
    codes = np.stack(
        [_column_codes(frame[c], n_bins, c in cat, f"column {c!r}") for c in frame.columns],
        axis=1,
    )
    return codes, list(frame.columns)


def _target_codes(y: Any, n: int, n_bins: int) -> np.ndarray:
    """Codes of the target: flags/classes as they are, continuous scores in quantile bins."""
    labels = getattr(y, "labels", None)
    if hasattr(y, "scores"):  # a normalcy Scores: its calibrated flags when present
        y = labels if labels is not None else y.scores
    if isinstance(y, pd.Series | pd.DataFrame):
        y = y.to_numpy()
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(
            f"the target (anomaly flags or scores) must be 1-D with one value per row of X "
            f"({n}), got shape {arr.shape}"
        )
    if arr.dtype.kind in "biu":
        return np.unique(arr, return_inverse=True)[1].astype(np.int64)
    if arr.dtype.kind == "f":
        return _bin_numeric(arr, n_bins, "the target").astype(np.int64)
    codes, _ = pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=False)
    return codes.astype(np.int64)


def _check_int(name: str, value: Any, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not (low <= value <= high)
    ):
        raise InputError(f"{name} must be an integer in [{low}, {high}], got {value!r}")


# -- mutual information -----------------------------------------------------------------------
def _compact(codes: np.ndarray) -> tuple[np.ndarray, int]:
    uniq, inv = np.unique(codes, return_inverse=True)
    return inv.astype(np.int64), len(uniq)


def mutual_information(x: np.ndarray, y: np.ndarray) -> float:
    """Plug-in mutual information (nats) of two integer-coded columns."""
    x, kx = _compact(x)
    y, ky = _compact(y)
    n = x.shape[0]
    joint = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky).astype(np.float64)
    px = joint.sum(axis=1, keepdims=True)
    py = joint.sum(axis=0, keepdims=True)
    nz = joint > 0
    ratio = joint[nz] * n / (px @ py)[nz]
    return float(max((joint[nz] / n * np.log(ratio)).sum(), 0.0))


def adjusted_mutual_information(
    x: np.ndarray, y: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[float, float]:
    """(plain MI, mean MI of ``x`` against permuted ``y``): OutRank's cardinality baseline."""
    mi = mutual_information(x, y)
    background = [mutual_information(x, rng.permutation(y)) for _ in range(n_permutations)]
    return mi, float(np.mean(background)) if background else 0.0


def _subsample(n: int, max_rows: int, seed: int) -> np.ndarray:
    if n <= max_rows:
        return np.arange(n)
    rng = np.random.default_rng([seed, 1])
    return np.sort(rng.choice(n, max_rows, replace=False))


def _ranking_frame(
    names: list[str], codes: np.ndarray, mi: np.ndarray, background: np.ndarray
) -> pd.DataFrame:
    card = np.array([len(np.unique(codes[:, j])) for j in range(codes.shape[1])])
    out = pd.DataFrame(
        {
            "feature": names,
            "cardinality": card,
            "mi": mi,
            "background_mi": background,
            "adjusted_mi": mi - background,
        }
    )
    order = np.lexsort((np.arange(len(names)), -out["adjusted_mi"].to_numpy()))
    return out.iloc[order].reset_index(drop=True)


# -- public functions -------------------------------------------------------------------------
def rank_features(
    X: Any,
    y: Any,
    *,
    n_bins: int = 10,
    n_permutations: int = 8,
    max_rows: int = MAX_ROWS,
    categorical: Sequence[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """Rank the columns of ``X`` by cardinality-adjusted mutual information with ``y``.

    Parameters
    ----------
    X : table (pandas/polars/pyarrow) or 2-D array
        Categorical columns are used as they are (missing values are a category); numeric
        columns are cut into ``n_bins`` quantile bins unless named in ``categorical``.
    y : array-like, shape (n,), or ``normalcy.Scores``
        The target: anomaly flags, classes, or continuous scores (binned like ``X``).
    n_permutations : int
        Random features of the same cardinality averaged for the background MI.
    max_rows : int
        Rows used (a seeded sample when ``X`` has more).
    seed : int
        Seed of the permutations and the sample; same seed, same ranking.

    Returns
    -------
    DataFrame with one row per column, best first: ``feature``, ``cardinality`` (distinct
    codes after binning), ``mi`` (plain MI, nats), ``background_mi`` (mean MI of a random
    feature with the same value counts), ``adjusted_mi`` (their difference, the ranking key).
    """
    _check_int("n_permutations", n_permutations, 1, 1000)
    _check_int("max_rows", max_rows, 2, 10**9)
    _check_int("seed", seed, 0, 2**63 - 1)
    codes, names = encode_columns(X, n_bins, categorical)
    target = _target_codes(y, codes.shape[0], n_bins)
    rows = _subsample(codes.shape[0], max_rows, seed)
    codes, target = codes[rows], target[rows]
    mi = np.zeros(len(names))
    background = np.zeros(len(names))
    for j in range(len(names)):
        rng = np.random.default_rng([seed, j])
        mi[j], background[j] = adjusted_mutual_information(codes[:, j], target, n_permutations, rng)
    return _ranking_frame(names, codes, mi, background)


def rank_columns(
    X: Any,
    *,
    n_bins: int = 10,
    n_permutations: int = 4,
    max_rows: int = 20_000,
    categorical: Sequence[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """Label-free ranking: each column's mean adjusted MI with every other column.

    OutRank's feature-feature mode: a column that shares structure with the others scores
    high; an independent column scores about zero, whatever its cardinality (plain MI would
    put a one-value-per-row identifier first). Same output columns as :func:`rank_features`
    (``mi`` and ``background_mi`` are means over the other columns).
    """
    _check_int("n_permutations", n_permutations, 1, 1000)
    _check_int("max_rows", max_rows, 2, 10**9)
    _check_int("seed", seed, 0, 2**63 - 1)
    codes, names = encode_columns(X, n_bins, categorical)
    codes = codes[_subsample(codes.shape[0], max_rows, seed)]
    d = len(names)
    mi = np.zeros((d, d))
    bg = np.zeros((d, d))
    for i in range(d):
        for j in range(i + 1, d):
            rng = np.random.default_rng([seed, i, j])
            mi[i, j], bg[i, j] = adjusted_mutual_information(
                codes[:, i], codes[:, j], n_permutations, rng
            )
    mi, bg = mi + mi.T, bg + bg.T
    denom = max(d - 1, 1)
    return _ranking_frame(names, codes, mi.sum(axis=1) / denom, bg.sum(axis=1) / denom)


def _top_values(
    frame: pd.DataFrame, names: list[str], flags: np.ndarray
) -> tuple[list, list, list]:
    """Per column: the value that explains most of the flagged rows, i.e. with the largest
    term ``hits / n_flagged * log(lift)`` of the flags' KL divergence from the column's
    distribution; its lift (share of flagged rows among its rows over the overall share)
    and its number of flagged rows."""
    base = flags.mean()
    n_flag = max(int(flags.sum()), 1)
    values, lifts, support = [], [], []
    for name in names:
        col = frame[name].astype(object).to_numpy()
        codes, uniques = pd.factorize(pd.Series(col, dtype=object), use_na_sentinel=False)
        total = np.bincount(codes, minlength=len(uniques))
        hits = np.bincount(codes, weights=flags.astype(float), minlength=len(uniques))
        lift = hits / np.maximum(total, 1) / base if base > 0 else np.zeros(len(uniques))
        gain = np.where(lift > 1, hits / n_flag * np.log(np.where(lift > 0, lift, 1.0)), -1.0)
        best = int(np.argmax(gain))
        if gain[best] <= 0:
            values.append(None)
            lifts.append(0.0)
            support.append(0)
        else:
            values.append(uniques[best])
            lifts.append(float(lift[best]))
            support.append(int(hits[best]))
    return values, lifts, support


def explain_anomalies(
    X: Any,
    anomalies: Any,
    *,
    contamination: float | None = None,
    n_bins: int = 10,
    n_permutations: int = 8,
    max_rows: int = MAX_ROWS,
    categorical: Sequence[str] = (),
    seed: int = 0,
) -> pd.DataFrame:
    """Which columns carry the anomalies: OutRank of the columns against anomaly flags.

    ``anomalies`` is a detector's output for the rows of ``X``: boolean flags, a
    ``Scores`` (its calibrated ``labels`` when set, else its scores), or raw scores. Raw
    scores are turned into flags by ``contamination`` (the top share of rows) when given,
    otherwise cut into ``n_bins`` quantile bins. With flags, three columns are added:
    ``top_value`` (the value that accounts for most of the flags' divergence from the
    column's distribution: many flagged rows and a high share of flags), ``lift`` (its share
    of flagged rows over the overall share) and ``flagged_with_value`` (its flagged rows).
    """
    frame = _as_frame(X)
    target = getattr(anomalies, "labels", None)
    if hasattr(anomalies, "scores"):
        anomalies = target if target is not None else anomalies.scores
    arr = np.asarray(anomalies.to_numpy() if hasattr(anomalies, "to_numpy") else anomalies)
    if contamination is not None:
        if not (isinstance(contamination, float | int) and 0 < contamination < 1):
            raise InputError(f"contamination must be in (0, 1), got {contamination!r}")
        if arr.dtype.kind not in "fiu" or arr.ndim != 1 or not np.isfinite(arr).all():
            raise InputError("contamination needs finite 1-D anomaly scores")
        cut = np.quantile(arr, 1 - float(contamination))
        arr = arr >= cut
    ranking = rank_features(
        frame,
        arr,
        n_bins=n_bins,
        n_permutations=n_permutations,
        max_rows=max_rows,
        categorical=categorical,
        seed=seed,
    )
    if arr.dtype.kind == "b" or (arr.dtype.kind in "iu" and set(np.unique(arr)) <= {0, 1}):
        values, lifts, support = _top_values(frame, list(ranking["feature"]), arr.astype(bool))
        ranking["top_value"] = values
        ranking["lift"] = lifts
        ranking["flagged_with_value"] = support
    return ranking


# -- pre-selection for auto -------------------------------------------------------------------
@dataclass
class _Column:
    name: str
    numeric: bool
    categories: list[Any]


class OutRankOneHot:
    """Keep the ``k`` best-ranked columns and one-hot encode them for a numeric detector.

    ``fit(X)`` ranks the columns label-free (:func:`rank_columns`), or against ``y`` when
    given (:func:`rank_features`, e.g. a pilot detector's scores); ``transform(X)`` returns
    a float64 array: kept numeric columns as they are, kept categorical columns one-hot
    over their ``max_categories`` most frequent training values (other values: all zeros).
    Typical use on a wide categorical table::

        enc = OutRankOneHot(k=20).fit(train)
        det = nc.create("auto").fit(enc.transform(train))
        det.score(enc.transform(test))
    """

    def __init__(
        self,
        k: int = 20,
        max_categories: int = 50,
        n_bins: int = 10,
        n_permutations: int = 4,
        max_rows: int = 20_000,
        categorical: Sequence[str] = (),
        seed: int = 0,
    ) -> None:
        self.k = k
        self.max_categories = max_categories
        self.n_bins = n_bins
        self.n_permutations = n_permutations
        self.max_rows = max_rows
        self.categorical = categorical
        self.seed = seed

    def fit(self, X: Any, y: Any = None) -> OutRankOneHot:
        _check_int("k", self.k, 1, 10**6)
        _check_int("max_categories", self.max_categories, 1, 10**6)
        frame = _as_frame(X)
        kwargs = dict(
            n_bins=self.n_bins,
            n_permutations=self.n_permutations,
            max_rows=self.max_rows,
            categorical=tuple(self.categorical),
            seed=self.seed,
        )
        self.ranking_ = (
            rank_features(frame, y, **kwargs) if y is not None else rank_columns(frame, **kwargs)
        )
        keep = list(self.ranking_["feature"][: self.k])
        cat = set(self.categorical)
        self.columns_: list[_Column] = []
        for name in keep:
            col = frame[name]
            if _is_numeric(col) and name not in cat:
                self.columns_.append(_Column(name, True, []))
            else:
                counts = col.astype(object).value_counts(dropna=False, sort=True)
                self.columns_.append(
                    _Column(name, False, list(counts.index[: self.max_categories]))
                )
        self.feature_names_in_ = list(frame.columns)
        return self

    @property
    def selected_(self) -> list[str]:
        self._require_fitted()
        return [c.name for c in self.columns_]

    def _require_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("OutRankOneHot is not fitted; call fit(X) first")

    def get_feature_names_out(self) -> list[str]:
        self._require_fitted()
        out: list[str] = []
        for c in self.columns_:
            out.extend([c.name] if c.numeric else [f"{c.name}={v}" for v in c.categories])
        return out

    def transform(self, X: Any) -> np.ndarray:
        self._require_fitted()
        frame = _as_frame(X, min_rows=1)
        missing = [c.name for c in self.columns_ if c.name not in frame.columns]
        if missing:
            raise InputError(f"X lacks the selected columns {missing[:5]}")
        blocks = []
        for c in self.columns_:
            values = frame[c.name]
            if c.numeric:
                arr = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64)
                if not np.isfinite(arr).all():
                    raise InputError(f"column {c.name!r} holds NaN, infinite or non-numeric values")
                blocks.append(arr[:, None])
            else:
                index = pd.Index(c.categories, dtype=object)
                codes = index.get_indexer(values.astype(object))
                block = np.zeros((len(frame), len(c.categories)))
                hit = codes >= 0
                block[np.flatnonzero(hit), codes[hit]] = 1.0
                blocks.append(block)
        return np.hstack(blocks)

    def fit_transform(self, X: Any, y: Any = None) -> np.ndarray:
        return self.fit(X, y).transform(X)
