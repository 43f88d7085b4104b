"""Mean-shift outlier scoring (MSS): stop an autoencoder from reconstructing outliers well.

An autoencoder can reconstruct some outliers almost perfectly, so their reconstruction
error looks normal. MSS replaces the *input* of the autoencoder by a mean-shifted copy of
the row: ``n_iter`` times, the row is moved to the mean of its ``n_neighbors`` nearest
training rows (mean-shift outlier detection, Yang et al. 2021). The error is then measured
between the *original* row and the reconstruction of the shifted one. An inlier barely
moves, so its score is unchanged; an outlier is pulled towards the normal data, its
reconstruction follows, and the distance back to the original row is large even when the
autoencoder would have copied it faithfully.

``mean_shift`` is the shifting step; ``MeanShiftScoring`` (registered as ``mss``) wraps any
autoencoder-style normalcy detector, i.e. one that provides ``_mss_space(X)`` (the space in
which its network works) and ``_mss_error(target, inputs)`` (its per-row error of
reconstructing ``inputs`` measured against ``target``): ``autoencoder`` and ``apre``.

References
----------
Tan, Yang, Chen, Rahardja & Rahardja. Improving Autoencoder-based Outlier Detection with
Adjustable Probabilistic Reconstruction Error and Mean-shift Outlier Scoring.
arXiv:2304.00709, 2023.
Yang, Rahardja & Fränti. Mean-shift outlier detection and filtering. Pattern Recognition 2021.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Satisfies
from ..core.errors import InputError, ModelFileError
from ..core.registry import create, get_class, register
from ..core.state_spec import ArraySpec, StateSpec, verify_state
from .base import TabularDetector
from .common import SEED
from .preprocessing import ColumnScaler, add_drift, finite_span

# Mean-shift settings, shared with ``apre``.
MSS_CONSTRAINTS: dict[str, list[Any]] = {
    "n_neighbors": [Interval(Integral, 1, 10_000)],
    "n_iter": [Interval(Integral, 0, 1000)],
    "max_reference": [Interval(Integral, 1, 10_000_000)],
}
# Autoencoder-style detectors mean-shift scoring can wrap.
MSS_BASES = frozenset({"autoencoder", "apre"})


def mean_shift(
    queries: np.ndarray,
    reference: np.ndarray,
    n_neighbors: int = 10,
    n_iter: int = 3,
    chunk: int = 2048,
) -> np.ndarray:
    """Move each query ``n_iter`` times to the mean of its ``n_neighbors`` nearest reference rows."""
    from sklearn.neighbors import NearestNeighbors

    k = int(max(1, min(n_neighbors, reference.shape[0])))
    index = NearestNeighbors(n_neighbors=k).fit(reference)
    shifted = np.array(queries, dtype=np.float64, copy=True)
    for _ in range(int(n_iter)):
        for start in range(0, shifted.shape[0], chunk):
            block = shifted[start : start + chunk]
            idx = index.kneighbors(block, return_distance=False)
            shifted[start : start + chunk] = reference[idx].mean(axis=1)
    return shifted


def reference_sample(Z: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """At most ``max_rows`` rows of ``Z`` (seeded, in order): the mean-shift reference."""
    if Z.shape[0] <= max_rows:
        return np.ascontiguousarray(Z)
    rows = np.sort(np.random.default_rng(seed).choice(Z.shape[0], int(max_rows), replace=False))
    return np.ascontiguousarray(Z[rows])


@register(
    "mss",
    modality="tabular",
    paper=(
        "Tan et al. Improving Autoencoder-based Outlier Detection with Adjustable "
        "Probabilistic Reconstruction Error and Mean-shift Outlier Scoring. arXiv 2023"
    ),
    year=2023,
)
class MeanShiftScoring(TabularDetector):
    """Mean-shift scoring around any autoencoder-style detector (default: ``autoencoder``).

    Parameters
    ----------
    base : str
        Registered name of an autoencoder-style detector (``autoencoder`` or ``apre``).
    base_params : dict or None
        Parameters for ``base`` (its ``seed`` defaults to this detector's).
    n_neighbors, n_iter : int
        Neighbours per mean-shift step and number of steps.
    max_reference : int
        Training rows kept (a seeded sample) as the mean-shift reference.
    seed : int
        Seed of the reference sample and of the base detector.

    References
    ----------
    Tan, Yang, Chen, Rahardja & Rahardja. arXiv:2304.00709, 2023.
    """

    quick_params: ClassVar[dict[str, Any]] = {"base_params": {"epoch_num": 2}}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "base": [
            Satisfies(
                lambda v: isinstance(v, str) and v in MSS_BASES,
                f"the name of an autoencoder-style detector, one of {sorted(MSS_BASES)}",
            )
        ],
        # checked in full by the base detector's own constraints when it is built
        "base_params": [
            None,
            Satisfies(
                lambda v: (
                    isinstance(v, dict) and len(v) <= 64 and all(isinstance(k, str) for k in v)
                ),
                "a dict of the base detector's parameters",
            ),
        ],
        **MSS_CONSTRAINTS,
        "seed": SEED,
    }

    def __init__(
        self,
        base: str = "autoencoder",
        base_params: dict[str, Any] | None = None,
        n_neighbors: int = 10,
        n_iter: int = 3,
        max_reference: int = 5000,
        seed: int = 0,
    ) -> None:
        self.base = base
        self.base_params = base_params
        self.n_neighbors = n_neighbors
        self.n_iter = n_iter
        self.max_reference = max_reference
        self.seed = seed

    def _make_base(self) -> Any:
        params = dict(self.base_params or {})
        if "seed" in get_class(self.base).info.params:
            params.setdefault("seed", self.seed)
        det = create(self.base, **params)
        if not (hasattr(det, "_mss_space") and hasattr(det, "_mss_error")):
            raise InputError(
                f"mss: base detector {self.base!r} is not autoencoder-style; expected one that "
                "reconstructs its input, such as 'autoencoder' or 'apre'"
            )
        return det

    def _fit(self, X: np.ndarray) -> None:
        self.base_ = self._make_base().fit(X)
        self.scaler_ = ColumnScaler().fit(X)
        self.reference_ = reference_sample(
            self.base_._mss_space(X), int(self.max_reference), self.seed
        )
        self.span_ = 1.0
        if self.reference_.shape[1] > 0:
            self.span_ = finite_span(self._raw(X[: min(len(X), 2000)]))

    def _raw(self, X: np.ndarray) -> np.ndarray:
        Z = self.base_._mss_space(X)
        if Z.shape[1] == 0:
            return np.zeros(len(X))
        shifted = mean_shift(Z, self.reference_, self.n_neighbors, self.n_iter)
        return np.asarray(self.base_._mss_error(Z, shifted), dtype=np.float64)

    def _score(self, X: np.ndarray) -> np.ndarray:
        return add_drift(self._raw(X), self.scaler_.drift(X), self.span_)

    def _get_state(self):
        base_arrays, base_meta = self.base_._get_state()
        arrays = {f"base.{k}": v for k, v in base_arrays.items()}
        arrays.update(self.scaler_.get_state())
        arrays["reference"] = self.reference_
        arrays["span"] = np.array([self.span_])
        meta = {"base_state": base_meta, "base_input": self.base_._input_spec()}
        return arrays, meta

    def _base_spec(self) -> tuple[Any, StateSpec]:
        """The base detector (unfitted, with this input width) and its state spec."""
        try:
            base = self._make_base()
        except InputError as exc:
            raise ModelFileError(f"the base detector cannot be built: {exc}") from None
        base.n_features_in_ = self._n_features()
        base.feature_names_in_ = getattr(self, "feature_names_in_", None)
        return base, base._state_spec()

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        _, base_spec = self._base_spec()
        base_arrays = {"base." + k: v for k, v in base_spec.arrays.items()}
        own = StateSpec(
            arrays={
                **base_arrays,
                "reference": ArraySpec(("n_ref_mss", "k"), "float64"),
                "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
            },
            meta={
                "base_state": [Satisfies(lambda v: isinstance(v, dict), "the base's metadata")],
                "base_input": [
                    Satisfies(
                        lambda v: (
                            isinstance(v, dict)
                            and v.get("n_features") == d
                            and set(v) <= {"n_features", "feature_names"}
                        ),
                        f"the base's input spec, with n_features={d}",
                    )
                ],
            },
            dims=base_spec.dims,
            dim_bounds={**base_spec.dim_bounds, "n_ref_mss": (1, int(self.max_reference))},
        )
        return ColumnScaler.state_spec(d).merged(own)

    def _set_state(self, arrays, meta):
        base, base_spec = self._base_spec()
        base_arrays = {k[5:]: v for k, v in arrays.items() if k.startswith("base.")}
        verify_state(base_spec, base_arrays, meta["base_state"])
        own_scaler = ColumnScaler.from_state(arrays)
        if own_scaler.n_kept == 0 and arrays["reference"].shape[1] != 0:
            raise ModelFileError("state array 'reference' must be empty when no column is kept")
        base._set_input_spec(meta["base_input"])
        base._set_state(base_arrays, meta["base_state"])
        base.is_fitted_ = True
        self.base_ = base
        self.scaler_ = own_scaler
        self.reference_ = arrays["reference"]
        self.span_ = float(arrays["span"][0])
