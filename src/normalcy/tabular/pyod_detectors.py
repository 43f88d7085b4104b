"""PyOD's classical tabular detectors behind normalcy's API.

Each wrapper keeps the PyOD estimator's own hyper-parameters (same names and defaults),
maps ``seed`` to ``random_state``, drops columns that are constant in the training data
(PyOD's PCA and others return NaN on them), scores with ``decision_function`` (higher =
more anomalous), and saves its fitted state through skops (no pickle; see
``core.estimator_state``).
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..core.estimator_state import dump_estimator, load_estimator
from ..core.registry import register
from .base import TabularDetector

# name, "module:Class", paper, year
PYOD_DETECTORS: list[tuple[str, str, str, int]] = [
    (
        "iforest",
        "pyod.models.iforest:IForest",
        "Liu, Ting & Zhou. Isolation Forest. ICDM 2008",
        2008,
    ),
    (
        "ecod",
        "pyod.models.ecod:ECOD",
        "Li et al. ECOD: Unsupervised Outlier Detection Using Empirical Cumulative Distribution Functions. TKDE 2022",
        2022,
    ),
    (
        "copod",
        "pyod.models.copod:COPOD",
        "Li et al. COPOD: Copula-Based Outlier Detection. ICDM 2020",
        2020,
    ),
    (
        "hbos",
        "pyod.models.hbos:HBOS",
        "Goldstein & Dengel. Histogram-based Outlier Score (HBOS). KI 2012",
        2012,
    ),
    (
        "knn",
        "pyod.models.knn:KNN",
        "Ramaswamy, Rastogi & Shim. Efficient Algorithms for Mining Outliers from Large Data Sets. SIGMOD 2000",
        2000,
    ),
    (
        "lof",
        "pyod.models.lof:LOF",
        "Breunig et al. LOF: Identifying Density-Based Local Outliers. SIGMOD 2000",
        2000,
    ),
    (
        "pca",
        "pyod.models.pca:PCA",
        "Shyu et al. A Novel Anomaly Detection Scheme Based on Principal Component Classifier. ICDM Workshops 2003",
        2003,
    ),
    (
        "ocsvm",
        "pyod.models.ocsvm:OCSVM",
        "Schölkopf et al. Estimating the Support of a High-Dimensional Distribution. Neural Computation 2001",
        2001,
    ),
    (
        "mcd",
        "pyod.models.mcd:MCD",
        "Rousseeuw & Van Driessen. A Fast Algorithm for the Minimum Covariance Determinant Estimator. Technometrics 1999",
        1999,
    ),
    (
        "loda",
        "pyod.models.loda:LODA",
        "Pevný. Loda: Lightweight On-line Detector of Anomalies. Machine Learning 2016",
        2016,
    ),
    (
        "cblof",
        "pyod.models.cblof:CBLOF",
        "He, Xu & Deng. Discovering Cluster-Based Local Outliers. Pattern Recognition Letters 2003",
        2003,
    ),
]

# Parameters of the PyOD estimators that normalcy sets itself.
_HIDDEN = {"self", "contamination", "random_state", "n_jobs", "verbose", "behaviour"}
# Neighbour counts are clamped to n_samples - 1 on tiny training sets.
_NEIGHBOUR_PARAMS = ("n_neighbors",)
# Settings retried once when a fit fails on degenerate data (e.g. CBLOF on a handful of rows
# whose clusters are all the same size cannot split them into "large" and "small").
_FALLBACK = {"pyod.models.cblof:CBLOF": {"alpha": 0.01}}


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
        spread = X.max(axis=0) - X.min(axis=0)
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
                        model.fit(X[:, self.keep_columns_])
                    break
                except (ValueError, np.linalg.LinAlgError) as exc:
                    if i == len(attempts) - 1:
                        raise InputError(
                            f"{self.name} could not be fitted on data of shape {X.shape}: {exc}"
                        ) from None
            self.model_ = model

    def _score(self, X: np.ndarray) -> np.ndarray:
        # Deviation in the columns that were constant during fit is always anomalous.
        drift = np.abs(X[:, ~self.keep_columns_] - self.constant_values_[~self.keep_columns_])
        off_constant = drift.sum(axis=1)
        if self.model_ is None:
            return off_constant
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores = np.asarray(self.model_.decision_function(X[:, self.keep_columns_]), float)
        scores = np.nan_to_num(
            scores, nan=0.0, posinf=np.finfo(float).max / 4, neginf=-np.finfo(float).max / 4
        )
        if off_constant.any():
            span = float(np.ptp(scores)) or 1.0
            scores = scores + span * (off_constant > 0) + off_constant
        return scores

    def _get_state(self):
        arrays = {
            "keep_columns": self.keep_columns_,
            "constant_values": self.constant_values_,
        }
        if self.model_ is not None:
            arrays["estimator"] = dump_estimator(self.model_)
        return arrays, {"pyod_class": self.pyod_path}

    def _set_state(self, arrays, meta):
        self.keep_columns_ = arrays["keep_columns"].astype(bool)
        self.constant_values_ = arrays["constant_values"]
        self.model_ = load_estimator(arrays["estimator"]) if "estimator" in arrays else None


def _make_wrapper(name: str, path: str, paper: str, year: int) -> type:
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
        },
    )
    return register(name, modality="tabular", paper=paper, year=year)(cls)


for _entry in PYOD_DETECTORS:
    globals()[f"PyOD{_entry[1].split(':')[1]}"] = _make_wrapper(*_entry)
