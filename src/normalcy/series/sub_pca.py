"""Sub-PCA: principal components of sliding windows; a window's score is how badly the
leading components reconstruct it. Batch and streaming.

A window that follows the normal patterns lies close to the subspace spanned by the leading
principal components of the training windows; the squared residual outside it (the
"squared prediction error", Q statistic) measures how anomalous the window is. TSB-AD lists
this windowed PCA ("Sub-PCA") among its strongest classical methods. normalcy keeps the
residual of every value of the window, so each time step is scored by its own residuals
(``WindowedDetector.pointwise``): a one-step spike is not diluted over the window.

Streaming: the window mean and scatter matrix are sufficient statistics. ``learn_one``
appends the newest window to a block and, every ``refresh`` windows, merges the block into
the statistics (Chan et al.'s pairwise update) and recomputes the components. ``score_one``
scores the new point's residual in the window ending at it against the current components,
so a frozen model streams exactly the scores ``score`` gives with ``spread="last"``. Learning from scratch (no
``fit``) keeps the first ``warmup`` points, then fits on them.

References
----------
Shyu, M.-L., Chen, S.-C., Sarinnapakorn, K. & Chang, L. A Novel Anomaly Detection Scheme
Based on Principal Component Classifier. ICDM Foundations and New Directions of Data Mining
Workshop, 2003.

Liu, Q. & Paparrizos, J. The Elephant in the Room: Towards A Reliable Time-Series Anomaly
Detection Benchmark (TSB-AD). NeurIPS Datasets and Benchmarks 2024.

Chan, T. F., Golub, G. H. & LeVeque, R. J. Updating Formulae and a Pairwise Algorithm for
Computing Sample Variances. 1979.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from . import params
from .input import SeriesData
from .state import buffer_spec
from .streaming import StreamingMixin, WindowBuffer
from .windowed import WindowedDetector


def _n_kept(eigvals: np.ndarray, n_components: float | int) -> int:
    if isinstance(n_components, float) and 0.0 < n_components < 1.0:
        total = float(eigvals.sum())
        if total <= 0:
            return 1
        ratio = np.cumsum(eigvals) / total
        return int(min(np.searchsorted(ratio, n_components) + 1, eigvals.size))
    if isinstance(n_components, (int, np.integer)) and not isinstance(n_components, bool):
        if n_components >= 1:
            return int(min(n_components, eigvals.size))
    raise InputError(
        f"n_components must be a fraction of variance in (0, 1) or a count >= 1, "
        f"got {n_components!r}"
    )


@register(
    "sub_pca",
    modality="series",
    paper="Shyu et al. A Novel Anomaly Detection Scheme Based on Principal Component Classifier. ICDM Workshops 2003; as Sub-PCA in TSB-AD (Liu & Paparrizos, NeurIPS 2024)",
    year=2003,
    streaming=True,
)
class SubPCA(StreamingMixin, WindowedDetector):
    """Sub-PCA: reconstruction error of sliding windows by their leading principal components.

    A time step's score is its own squared residual, averaged over the windows that cover it
    (``spread="mean"``; ``"last"``: its residual in the window ending at it, which is what
    ``score_one`` streams), summed over channels; ``Scores.maps`` holds the per-channel part.

    Parameters
    ----------
    window:
        Window length, or ``"auto"`` for the training data's dominant period (8 to 512).
    n_components:
        Components kept: a fraction of the windows' variance in (0, 1), or a count.
    stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed``.
    refresh:
        Streaming: windows learned between two recomputations of the components.
    warmup:
        Streaming from scratch: points kept before the first fit.
    seed:
        Unused (the method is deterministic); kept for the common interface.
    """

    pointwise = True
    _parameter_constraints = params.windowed(
        n_components=[Interval(Real, 0, 1, closed="neither"), Interval(Integral, 1, None)],
        refresh=params.count(),
        warmup=params.count(2),
    )

    def __init__(
        self,
        *,
        window: int | str = "auto",
        n_components: float | int = 0.9,
        stride: int | str = 1,
        max_windows: int = 50_000,
        normalise: str = "zscore",
        spread: str = "mean",
        refresh: int = 2048,
        warmup: int = 2048,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.n_components = n_components
        self.stride = stride
        self.max_windows = max_windows
        self.normalise = normalise
        self.spread = spread
        self.refresh = refresh
        self.warmup = warmup
        self.nan_policy = nan_policy
        self.seed = seed

    # -- batch ----------------------------------------------------------------------------
    def _fit(self, data: SeriesData) -> None:
        super()._fit(data)
        x = self.normaliser_.transform(data.values)
        self.buffer_ = WindowBuffer(self.window_, x.shape[1])
        for row in x[-self.window_ :]:
            self.buffer_.push(row)
        self._history = None

    def _fit_windows(self, W: np.ndarray) -> None:
        self.n_seen_ = W.shape[0]
        self.mean_ = W.mean(axis=0)
        centred = W - self.mean_
        self.scatter_ = centred.T @ centred
        self._new_block(W.shape[1])
        self._update_components()

    def _update_components(self) -> None:
        cov = self.scatter_ / max(self.n_seen_ - 1, 1)
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        eigvals = np.maximum(eigvals[order], 0.0)
        k = _n_kept(eigvals, self.n_components)
        self.components_ = np.ascontiguousarray(eigvecs[:, order[:k]].T)
        self.explained_variance_ = eigvals[:k]

    def _element_errors(self, W: np.ndarray) -> np.ndarray:
        centred = W - self.mean_
        residual = centred - (centred @ self.components_.T) @ self.components_
        return residual * residual

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        return self._element_errors(W).mean(axis=1)

    # -- streaming ------------------------------------------------------------------------
    def _new_block(self, dim: int) -> None:
        self._block = np.empty((max(int(self.refresh), 1), dim))
        self._block_n = 0

    def _merge_block(self) -> None:
        nb = self._block_n
        if nb == 0:
            return
        block = self._block[:nb]
        mean_b = block.mean(axis=0)
        centred = block - mean_b
        delta = mean_b - self.mean_
        n = self.n_seen_ + nb
        self.scatter_ += centred.T @ centred + np.outer(delta, delta) * (self.n_seen_ * nb / n)
        self.mean_ = self.mean_ + delta * (nb / n)
        self.n_seen_ = n
        self._block_n = 0
        self._update_components()

    def _learn_one(self, x: np.ndarray) -> None:
        if not hasattr(self, "window_"):
            history = getattr(self, "_history", None) or []
            history.append(x.copy())
            self._history = history
            if len(history) >= max(int(self.warmup), 2 * self.min_length()):
                self._fit(SeriesData(values=np.asarray(history)))
            return
        self._observe_one(x)
        if not self.buffer_.full:
            return
        self._block[self._block_n] = self.buffer_.window().reshape(-1)
        self._block_n += 1
        if self._block_n == self._block.shape[0]:
            self._merge_block()

    def _observe_one(self, x: np.ndarray) -> None:
        self.buffer_.push(self.normaliser_.transform(x[None, :])[0])

    def _score_one(self, x: np.ndarray) -> float:
        if not hasattr(self, "window_") or self.buffer_.count < self.window_ - 1:
            return 0.0
        z = self.normaliser_.transform(x[None, :])[0]
        w = self.buffer_.window_with(z).reshape(1, -1)
        # the newest step's own squared residual (batch ``spread="last"`` gives the same)
        return float(self._element_errors(w)[0, -x.size :].sum())

    def _stream_ready(self) -> bool:
        return hasattr(self, "window_")

    # -- state ----------------------------------------------------------------------------
    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {
            "mean": self.mean_,
            "scatter": self.scatter_,
            "components": self.components_,
            "explained_variance": self.explained_variance_,
            "block": self._block[: self._block_n].copy(),
            **self.buffer_.get_state(),
        }
        return arrays, {"n_seen": int(self.n_seen_)}

    def _method_state_spec(self) -> StateSpec:
        d = int(self.window_) * int(self.n_channels_)
        if isinstance(self.n_components, float):
            k: int | str = "k"
        else:
            k = min(int(self.n_components), d)
        return StateSpec(
            arrays={
                "mean": ArraySpec((d,), "float64"),
                "scatter": ArraySpec((d, d), "float64"),
                "components": ArraySpec((k, d), "float64"),
                "explained_variance": ArraySpec((k,), "float64", value_range=(0.0, None)),
                "block": ArraySpec(("block", d), "float64"),
            },
            meta={"n_seen": [Interval(Integral, 1, None)]},
            dim_bounds={"k": (1, d), "block": (0, max(int(self.refresh), 1) - 1)},
        ).merged(buffer_spec(self.window_))

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        self.scatter_ = np.asarray(arrays["scatter"], dtype=np.float64).copy()
        self.components_ = np.asarray(arrays["components"], dtype=np.float64)
        self.explained_variance_ = np.asarray(arrays["explained_variance"], dtype=np.float64)
        self.n_seen_ = int(meta["n_seen"])
        self._new_block(self.mean_.size)
        block = np.asarray(arrays["block"], dtype=np.float64)
        self._block[: block.shape[0]] = block
        self._block_n = block.shape[0]
        self.buffer_ = WindowBuffer.from_state(arrays)
