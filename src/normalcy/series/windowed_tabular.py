"""Windowed tabular detectors: each sliding window becomes one row for a tabular detector.

Sub-IForest and Sub-KNN (TSB-AD's names) fit normalcy's own tabular detectors
(``nc.create("iforest")``, ``nc.create("knn")``, PyOD underneath) on the windows of the
normal history and score the windows of new data with them; the window machinery (length,
normalisation, strides, spreading) comes from ``WindowedDetector``. The fitted tabular
detector is saved through its own state (skops, no pickle).

References
----------
Liu, F. T., Ting, K. M. & Zhou, Z.-H. Isolation Forest. ICDM 2008.

Ramaswamy, S., Rastogi, R. & Shim, K. Efficient Algorithms for Mining Outliers from Large
Data Sets. SIGMOD 2000.

Liu, Q. & Paparrizos, J. The Elephant in the Room: Towards A Reliable Time-Series Anomaly
Detection Benchmark (TSB-AD). NeurIPS Datasets and Benchmarks 2024.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Options, Satisfies
from ..core.registry import create, register
from ..core.state_spec import StateSpec, verify_state
from . import params
from .windowed import WindowedDetector

_PREFIX = "tabular."


class WindowedTabularDetector(WindowedDetector):
    """Base: fit a registered tabular detector on window vectors."""

    tabular_name: ClassVar[str] = ""
    tabular_params: ClassVar[tuple[str, ...]] = ()

    def _make_tabular(self):
        params = {k: getattr(self, k) for k in self.tabular_params}
        return create(self.tabular_name, **params, seed=self.seed)

    def _fit_windows(self, W: np.ndarray) -> None:
        self.tabular_ = self._make_tabular().fit(W)

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        return self.tabular_.score(W).scores

    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays, meta = self.tabular_._get_state()
        return (
            {_PREFIX + k: v for k, v in arrays.items()},
            {"tabular_state": meta, "tabular_input": self.tabular_._input_spec()},
        )

    def _tabular_for_state(self) -> tuple[Any, StateSpec]:
        """An unfitted tabular detector for ``window_ * C`` features and its state spec."""
        d = int(self.window_) * int(self.n_channels_)
        tab = self._make_tabular()
        tab._set_input_spec({"n_features": d, "feature_names": None})
        return tab, tab._state_spec()

    def _method_state_spec(self) -> StateSpec:
        d = int(self.window_) * int(self.n_channels_)
        _, spec = self._tabular_for_state()
        return StateSpec(
            arrays={_PREFIX + k: v for k, v in spec.arrays.items()},
            meta={
                "tabular_state": [dict],
                "tabular_input": [
                    Satisfies(
                        lambda v: v == {"n_features": d, "feature_names": None},
                        f"{{'n_features': {d}, 'feature_names': None}}",
                    )
                ],
            },
            dims=spec.dims,
            dim_bounds=spec.dim_bounds,
        )

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        tab, spec = self._tabular_for_state()
        inner = {k[len(_PREFIX) :]: v for k, v in arrays.items() if k.startswith(_PREFIX)}
        verify_state(spec, inner, meta["tabular_state"])  # the nested detector's own spec
        tab._set_state(inner, meta["tabular_state"])
        tab.is_fitted_ = True
        self.tabular_ = tab


@register(
    "sub_iforest",
    modality="series",
    paper="Liu, Ting & Zhou. Isolation Forest. ICDM 2008; on sliding windows as Sub-IForest in TSB-AD (Liu & Paparrizos, NeurIPS 2024)",
    year=2008,
)
class SubIForest(WindowedTabularDetector):
    """Sub-IForest: an isolation forest on the sliding windows of the series.

    Parameters
    ----------
    window, stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed``.
    n_estimators:
        Trees in the forest (PyOD/scikit-learn's parameter).
    seed:
        Random seed of the forest.
    """

    tabular_name = "iforest"
    tabular_params = ("n_estimators",)
    _parameter_constraints = params.windowed(n_estimators=params.count(1, 100_000))

    def __init__(
        self,
        *,
        window: int | str = "auto",
        n_estimators: int = 100,
        stride: int | str = 1,
        max_windows: int = 20_000,
        normalise: str = "zscore",
        spread: str = "mean",
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.n_estimators = n_estimators
        self.stride = stride
        self.max_windows = max_windows
        self.normalise = normalise
        self.spread = spread
        self.nan_policy = nan_policy
        self.seed = seed


@register(
    "sub_knn",
    modality="series",
    paper="Ramaswamy, Rastogi & Shim. Efficient Algorithms for Mining Outliers from Large Data Sets. SIGMOD 2000; on sliding windows as Sub-KNN in TSB-AD (Liu & Paparrizos, NeurIPS 2024)",
    year=2000,
)
class SubKNN(WindowedTabularDetector):
    """Sub-KNN: distance of each sliding window to its k-th nearest training window.

    Parameters
    ----------
    window, stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed``. The default ``stride="auto"`` scores at most
        ``max_windows`` windows per series (k-NN search costs scored x training windows).
    n_neighbors:
        k; the score is the distance to the k-th nearest training window (``method``).
    method:
        PyOD's ``"largest"`` (k-th distance), ``"mean"`` or ``"median"`` of the k distances.
    seed:
        Unused (exact search); kept for the common interface.
    """

    tabular_name = "knn"
    tabular_params = ("n_neighbors", "method")
    _parameter_constraints = params.windowed(
        n_neighbors=params.count(1, 1_000_000),
        method=[Options(str, {"largest", "mean", "median"})],
    )

    def __init__(
        self,
        *,
        window: int | str = "auto",
        n_neighbors: int = 10,
        method: str = "largest",
        stride: int | str = "auto",
        max_windows: int = 5_000,
        normalise: str = "zscore",
        spread: str = "mean",
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.n_neighbors = n_neighbors
        self.method = method
        self.stride = stride
        self.max_windows = max_windows
        self.normalise = normalise
        self.spread = spread
        self.nan_policy = nan_policy
        self.seed = seed
