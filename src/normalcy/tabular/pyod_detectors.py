"""PyOD's classical tabular detectors behind normalcy's API.

Each wrapper keeps the PyOD estimator's own hyper-parameters (same names and defaults),
maps ``seed`` to ``random_state``, drops columns that are constant in the training data
(PyOD's PCA and others return NaN on them), centres and multiplies training data of extreme
magnitude by a power of two (see ``MAGNITUDE_BOUND``), scores with ``decision_function``
(higher = more anomalous), and saves its fitted state through skops (no pickle; see
``core.estimator_state``). Parameter constraints are declared per estimator in
``PYOD_DETECTORS``; on load, the saved estimator must be of the declared class, fitted with
the file's parameters on as many columns as the state says.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import warnings
from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval, ListOf, Options, Real, Satisfies, check_value
from ..core.errors import InputError, ModelFileError
from ..core.estimator_state import dump_estimator, load_estimator
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import TabularDetector
from .common import SEED

_COUNT = Interval(Integral, 1, 100_000)
_NEIGHBOUR_METRICS = Options(
    str,
    {
        "braycurtis",
        "canberra",
        "chebyshev",
        "cityblock",
        "correlation",
        "cosine",
        "dice",
        "euclidean",
        "hamming",
        "jaccard",
        "l1",
        "l2",
        "mahalanobis",
        "manhattan",
        "minkowski",
        "rogerstanimoto",
        "russellrao",
        "seuclidean",
        "sokalsneath",
        "sqeuclidean",
        "yule",
    },
)
# the keyword arguments scikit-learn's distance metrics take (minkowski/seuclidean/mahalanobis)
_METRIC_PARAM_NAMES = frozenset({"p", "w", "V", "VI"})
_METRIC_PARAMS = [
    None,
    Satisfies(
        lambda v: (
            isinstance(v, dict)
            and len(v) <= 16
            and all(k in _METRIC_PARAM_NAMES for k in v)
            and all(
                check_value([Interval(Real, None, None), ListOf(Real, 1_000_000)], x)
                or check_value([ListOf(ListOf(Interval(Real, None, None), 10_000), 10_000)], x)
                for x in v.values()
            )
        ),
        "a dict of metric settings (p, w, V or VI -> number or list of numbers)",
    ),
]
_NEIGHBOURS = {
    "n_neighbors": [_COUNT],
    "algorithm": [Options(str, {"auto", "ball_tree", "kd_tree", "brute"})],
    "leaf_size": [_COUNT],
    "metric": [_NEIGHBOUR_METRICS],
    "p": [Interval(Real, 1, None)],
    "metric_params": _METRIC_PARAMS,
}
_C_IFOREST = {
    "n_estimators": [_COUNT],
    "max_samples": [Options(str, {"auto"}), _COUNT, Interval(Real, 0, 1, closed="right")],
    "max_features": [_COUNT, Interval(Real, 0, 1, closed="right")],
    "bootstrap": [bool],
}
_C_ECOD: dict[str, list[Any]] = {}
_C_COPOD: dict[str, list[Any]] = {}
_C_HBOS = {
    "n_bins": [Interval(Integral, 2, 100_000), Options(str, {"auto"})],
    "alpha": [Interval(Real, 0, 1, closed="right")],
    "tol": [Interval(Real, 0, 1, closed="neither")],
}
_C_KNN = {
    **_NEIGHBOURS,
    "method": [Options(str, {"largest", "mean", "median"})],
    "radius": [Interval(Real, 0, None, closed="neither")],
}
_C_LOF = {**_NEIGHBOURS, "novelty": [Options(bool, {True})]}  # novelty=False cannot score new rows
_C_PCA = {
    "n_components": [
        None,
        _COUNT,
        Interval(Real, 0, 1, closed="neither"),
        Options(str, {"mle"}),
    ],
    "n_selected_components": [None, _COUNT],
    "copy": [bool],
    "whiten": [bool],
    "svd_solver": [Options(str, {"auto", "full", "covariance_eigh", "arpack", "randomized"})],
    "tol": [Interval(Real, 0, None)],
    "iterated_power": [Options(str, {"auto"}), Interval(Integral, 0, 1000)],
    "weighted": [bool],
    "standardization": [bool],
}
_C_OCSVM = {
    "kernel": [Options(str, {"linear", "poly", "rbf", "sigmoid"})],
    "degree": [Interval(Integral, 0, 100)],
    "gamma": [Options(str, {"scale", "auto"}), Interval(Real, 0, None, closed="neither")],
    "coef0": [Interval(Real, None, None)],
    "tol": [Interval(Real, 0, None, closed="neither")],
    "nu": [Interval(Real, 0, 1, closed="right")],
    "shrinking": [bool],
    "cache_size": [Interval(Real, 0, 1_000_000, closed="right")],
    "max_iter": [Interval(Integral, -1, 2**31 - 1)],
}
_C_MCD = {
    "store_precision": [bool],
    "assume_centered": [bool],
    "support_fraction": [None, Interval(Real, 0, 1, closed="right")],
}
_C_LODA = {
    "n_bins": [Interval(Integral, 2, 100_000), Options(str, {"auto"})],
    "n_random_cuts": [_COUNT],
}
_C_CBLOF = {
    "n_clusters": [Interval(Integral, 2, 100_000)],
    # a user-supplied estimator could not be written to a model file's JSON parameters
    "clustering_estimator": [None],
    "alpha": [Interval(Real, 0.5, 1, closed="neither")],
    "beta": [Interval(Real, 1, None, closed="neither")],
    "use_weights": [bool],
    # PyOD's own check raises a bare AssertionError on clusterings it finds unstable;
    # normalcy validates the parameters itself
    "check_estimator": [Options(bool, {False})],
}

# name, "module:Class", paper, year, constraints of the PyOD parameters (``seed`` is added)
PYOD_DETECTORS: list[tuple[str, str, str, int, dict[str, list[Any]]]] = [
    (
        "iforest",
        "pyod.models.iforest:IForest",
        "Liu, Ting & Zhou. Isolation Forest. ICDM 2008",
        2008,
        _C_IFOREST,
    ),
    (
        "ecod",
        "pyod.models.ecod:ECOD",
        "Li et al. ECOD: Unsupervised Outlier Detection Using Empirical Cumulative Distribution Functions. TKDE 2022",
        2022,
        _C_ECOD,
    ),
    (
        "copod",
        "pyod.models.copod:COPOD",
        "Li et al. COPOD: Copula-Based Outlier Detection. ICDM 2020",
        2020,
        _C_COPOD,
    ),
    (
        "hbos",
        "pyod.models.hbos:HBOS",
        "Goldstein & Dengel. Histogram-based Outlier Score (HBOS). KI 2012",
        2012,
        _C_HBOS,
    ),
    (
        "knn",
        "pyod.models.knn:KNN",
        "Ramaswamy, Rastogi & Shim. Efficient Algorithms for Mining Outliers from Large Data Sets. SIGMOD 2000",
        2000,
        _C_KNN,
    ),
    (
        "lof",
        "pyod.models.lof:LOF",
        "Breunig et al. LOF: Identifying Density-Based Local Outliers. SIGMOD 2000",
        2000,
        _C_LOF,
    ),
    (
        "pca",
        "pyod.models.pca:PCA",
        "Shyu et al. A Novel Anomaly Detection Scheme Based on Principal Component Classifier. ICDM Workshops 2003",
        2003,
        _C_PCA,
    ),
    (
        "ocsvm",
        "pyod.models.ocsvm:OCSVM",
        "Schölkopf et al. Estimating the Support of a High-Dimensional Distribution. Neural Computation 2001",
        2001,
        _C_OCSVM,
    ),
    (
        "mcd",
        "pyod.models.mcd:MCD",
        "Rousseeuw & Van Driessen. A Fast Algorithm for the Minimum Covariance Determinant Estimator. Technometrics 1999",
        1999,
        _C_MCD,
    ),
    (
        "loda",
        "pyod.models.loda:LODA",
        "Pevný. Loda: Lightweight On-line Detector of Anomalies. Machine Learning 2016",
        2016,
        _C_LODA,
    ),
    (
        "cblof",
        "pyod.models.cblof:CBLOF",
        "He, Xu & Deng. Discovering Cluster-Based Local Outliers. Pattern Recognition Letters 2003",
        2003,
        _C_CBLOF,
    ),
]

# Parameters of the PyOD estimators that normalcy sets itself.
_HIDDEN = {"self", "contamination", "random_state", "n_jobs", "verbose", "behaviour"}
# Neighbour counts are clamped to n_samples - 1 on tiny training sets.
_NEIGHBOUR_PARAMS = ("n_neighbors",)
# Settings retried once when a fit fails on degenerate data (e.g. CBLOF on a handful of rows
# whose clusters are all the same size cannot split them into "large" and "small").
_FALLBACK = {"pyod.models.cblof:CBLOF": {"alpha": 0.01}}


# Training data of extreme magnitude is first centred on its column medians (when a column's
# offset dwarfs its spread) and then multiplied by a power of two (exact) that brings it near
# 1: covariances of 1e-300-scale data underflow to zero, kernels of 1e150-scale data
# overflow, and 1e150 + 1e140 * z looks constant to a covariance. Data whose magnitude lies
# within [2**-MAGNITUDE_BOUND, 2**MAGNITUDE_BOUND] and whose offsets are moderate is untouched.
MAGNITUDE_BOUND = 64
OFFSET_RATIO = 2.0**20
SCALED_CLIP = 1e100  # scaled scoring input is clipped here (squares stay finite)


def _conditioning(X: np.ndarray) -> tuple[np.ndarray, int]:
    """(column offsets, power-of-two exponent) that bring ``X`` to a safe range."""
    offset = np.zeros(X.shape[1])
    spread = np.ptp(X, axis=0)
    median = np.median(X, axis=0)
    peak = float(np.abs(X).max())
    extreme = not (peak == 0.0 or 2.0**-MAGNITUDE_BOUND <= peak <= 2.0**MAGNITUDE_BOUND)
    offset_heavy = np.abs(median) > OFFSET_RATIO * spread
    if extreme or (offset_heavy & (spread > 0)).any():
        offset = np.where(spread > 0, median, 0.0)
    centred = X - offset
    peak = float(np.abs(centred).max())
    if peak == 0.0 or 2.0**-MAGNITUDE_BOUND <= peak <= 2.0**MAGNITUDE_BOUND:
        return offset, 0
    return offset, int(np.frexp(peak)[1])


class PyODDetector(TabularDetector):
    """Common wrapper; concrete classes are generated per PyOD estimator below."""

    pyod_path: str = ""
    pyod_params: tuple[str, ...] = ()

    def _pyod_class(self) -> type:
        module, cls = self.pyod_path.split(":")
        return getattr(importlib.import_module(module), cls)

    def _build(self, n_samples: int, **overrides: Any) -> Any:
        cls = self._pyod_class()
        kwargs = {k: getattr(self, k) for k in self.pyod_params}
        kwargs.update(overrides)
        for key in _NEIGHBOUR_PARAMS:
            if key in kwargs and kwargs[key] is not None:
                kwargs[key] = max(1, min(int(kwargs[key]), n_samples - 1))
        accepted = inspect.signature(cls.__init__).parameters
        if "random_state" in accepted:
            kwargs["random_state"] = self.seed
        if "n_clusters" in kwargs:  # CBLOF: at most one cluster per two samples
            kwargs["n_clusters"] = max(2, min(int(kwargs["n_clusters"]), n_samples // 2))
        return cls(**kwargs)

    def _fit(self, X: np.ndarray) -> None:
        self.offset_, self.magnitude_ = _conditioning(X)
        Xs = self._condition(X)
        spread = Xs.max(axis=0) - Xs.min(axis=0)
        self.keep_columns_ = spread > 0
        self.constant_values_ = X[0].copy()
        self.model_ = None
        if self.keep_columns_.any():
            attempts = [{}] + ([_FALLBACK[self.pyod_path]] if self.pyod_path in _FALLBACK else [])
            for i, overrides in enumerate(attempts):
                model = self._build(X.shape[0], **overrides)
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        model.fit(Xs[:, self.keep_columns_])
                    break
                except (ValueError, np.linalg.LinAlgError) as exc:
                    if i == len(attempts) - 1:
                        raise InputError(
                            f"{self.name} could not be fitted on data of shape {X.shape}: {exc}"
                        ) from None
            self.model_ = self._drop_degenerate_components(model, Xs[:, self.keep_columns_])

    def _drop_degenerate_components(self, model: Any, Xs: np.ndarray) -> Any:
        """PCA weighs each component's distance by 1 / its explained-variance ratio, so a
        direction of (numerically) zero variance, which linearly dependent columns such as
        one-hot groups always have, blows every score up to ~1e16 and beyond. Refit with the
        components that carry variance when ``n_components`` was left to PyOD."""
        ratio = getattr(model, "explained_variance_ratio_", None)
        if self.pyod_path != "pyod.models.pca:PCA" or ratio is None or self.n_components:
            return model
        ratio = np.asarray(ratio, dtype=float)
        rank = int(np.count_nonzero(ratio > 1e-10 * max(float(ratio.max()), 1e-300)))
        if rank == len(ratio) or rank < 1:
            return model
        refit = self._build(Xs.shape[0], n_components=rank)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit.fit(Xs)
        return refit

    def _score(self, X: np.ndarray) -> np.ndarray:
        # Deviation in the columns that were constant during fit is always anomalous.
        Xs = self._condition(X)
        const = self._condition(self.constant_values_[None, :])[0]
        off_constant = np.abs(Xs[:, ~self.keep_columns_] - const[~self.keep_columns_]).sum(axis=1)
        if self.model_ is None:
            return off_constant
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            # a shallow copy: some PyOD estimators (ECOD, COPOD, KNN, LOF) keep what they
            # computed for the last scored batch as attributes, which would make the saved
            # state depend on what was scored before saving
            model = copy.copy(self.model_)
            scores = np.asarray(model.decision_function(Xs[:, self.keep_columns_]), float)
        big = np.finfo(float).max / 4
        scores = np.nan_to_num(scores, nan=big, posinf=big, neginf=-big)
        if off_constant.any():
            span = float(np.ptp(scores)) or 1.0
            scores = scores + span * (off_constant > 0) + off_constant
        return scores

    def _condition(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            Xs = np.ldexp(X - self.offset_, -self.magnitude_)
        return np.clip(Xs, -SCALED_CLIP, SCALED_CLIP)

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        arrays = {
            "offset": self.offset_,
            "keep_columns": self.keep_columns_,
            "constant_values": self.constant_values_,
            "magnitude": np.array([self.magnitude_], dtype=np.int64),
        }
        if self.model_ is not None:
            arrays["estimator"] = dump_estimator(self.model_)
        return arrays, {"pyod_class": self.pyod_path}

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        return StateSpec(
            arrays={
                "keep_columns": ArraySpec((d,), "bool"),
                "constant_values": ArraySpec((d,), "float64"),
                "offset": ArraySpec((d,), "float64"),
                "magnitude": ArraySpec((1,), "int64", value_range=(-1100, 1100)),
                # skops bytes of free length; their types are checked by load_estimator
                "estimator": ArraySpec(("blob",), "uint8", optional=True),
            },
            meta={"pyod_class": [Options(str, {self.pyod_path})]},
        )

    def _set_state(self, arrays, meta):
        keep = arrays["keep_columns"].astype(bool)
        if keep.any() != ("estimator" in arrays):
            raise ModelFileError(
                "state array 'estimator' must be present exactly when some column is kept "
                f"({int(keep.sum())} kept)"
            )
        model = load_estimator(arrays["estimator"]) if "estimator" in arrays else None
        if model is not None:
            self._check_estimator(model, int(keep.sum()))
        self.keep_columns_ = keep
        self.constant_values_ = arrays["constant_values"]
        self.magnitude_ = int(arrays["magnitude"][0])
        self.offset_ = arrays["offset"]
        self.model_ = model

    def _check_estimator(self, model: Any, width: int) -> None:
        """The saved estimator must be this detector's PyOD class, fitted with its
        parameters, on ``width`` columns."""
        cls = self._pyod_class()
        if type(model) is not cls:
            raise ModelFileError(
                f"saved estimator is a {type(model).__name__}, expected {cls.__name__}"
            )
        saved = model.get_params(deep=False)
        fallback = _FALLBACK.get(self.pyod_path, {})
        for key in self.pyod_params:
            want, got = getattr(self, key), saved.get(key)
            if key in _NEIGHBOUR_PARAMS or key == "n_clusters":
                ok = isinstance(got, (int, np.integer)) and 1 <= got <= want
            else:
                ok = _same(got, want) or (key in fallback and _same(got, fallback[key]))
            if not ok:
                raise ModelFileError(
                    f"parameter {key!r} is {want!r} but the saved estimator was fitted with "
                    f"{got!r}; the file was altered"
                )
        try:
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                probe = np.asarray(model.decision_function(np.zeros((1, width))), float)
        except Exception as exc:
            raise ModelFileError(
                f"saved estimator cannot score {width} columns, as keep_columns says ({exc})"
            ) from None
        if probe.shape != (1,):
            raise ModelFileError(f"saved estimator returns scores of shape {probe.shape}")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _make_wrapper(
    name: str, path: str, paper: str, year: int, constraints: dict[str, list[Any]]
) -> type:
    module, cls_name = path.split(":")
    pyod_cls = getattr(importlib.import_module(module), cls_name)
    pyod_sig = inspect.signature(pyod_cls.__init__)
    params = [
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for p in pyod_sig.parameters.values()
        if p.name not in _HIDDEN and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    params.append(inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, default=0))
    names = tuple(p.name for p in params if p.name != "seed")
    undeclared = set(names) ^ set(constraints)
    if undeclared:  # PyOD changed its signature: the table must follow
        raise RuntimeError(f"{name}: constraints do not match PyOD's parameters {undeclared}")

    def __init__(self, **kwargs: Any) -> None:
        bound = signature.bind(self, **kwargs)
        bound.apply_defaults()
        for key, value in list(bound.arguments.items())[1:]:
            setattr(self, key, value)

    signature = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD), *params]
    )
    __init__.__signature__ = signature  # type: ignore[attr-defined]
    doc = (
        f"{cls_name} from PyOD ({paper}).\n\n"
        f"Parameters are PyOD's own ({', '.join(names)}), plus ``seed`` (random_state).\n\n"
        f"References\n----------\n{paper}."
    )
    cls = type(
        f"PyOD{cls_name}",
        (PyODDetector,),
        {
            "__init__": __init__,
            "__doc__": doc,
            "__module__": __name__,
            "pyod_path": path,
            "pyod_params": names,
            "_parameter_constraints": {**constraints, "seed": SEED},
        },
    )
    return register(name, modality="tabular", paper=paper, year=year)(cls)


for _entry in PYOD_DETECTORS:
    globals()[f"PyOD{_entry[1].split(':')[1]}"] = _make_wrapper(*_entry)
