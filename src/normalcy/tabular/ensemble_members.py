"""The members ``auto`` searches over: small, fast detectors with a fit/score/state contract.

Each member family scores standardised data (see ``preprocessing.ColumnScaler``) and may
carry a grid of hyper-parameter variants that share one fitted model (e.g. several ``k`` on
one neighbour search, several variance fractions on one eigendecomposition); ``score``
returns one row of scores per variant, higher = more anomalous.

Members
-------
iforest      Isolation Forest (scikit-learn), Liu, Ting & Zhou, ICDM 2008.
knn          mean distance to the k nearest of a seeded reference sample (Ramaswamy et al.,
             SIGMOD 2000; sampling as in Sugiyama & Borgwardt, NeurIPS 2013).
mahalanobis  Mahalanobis distance under an OAS-shrunk covariance (Chen et al., IEEE TSP 2010)
             of the concentrated half of the rows: C-steps as in FastMCD (Rousseeuw & Van
             Driessen, Technometrics 1999).
pca          squared residual off the leading principal subspace (Shyu et al., 2003).
hbos         Histogram-based Outlier Score from PyOD (Goldstein & Dengel, KI 2012).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import ModelFileError
from ..core.estimator_state import dump_estimator, load_estimator
from ..core.state_spec import ArraySpec

MAX_EIGEN_DIM = 128  # above this many columns the subspace members use a randomised SVD
POSITIVE = (float(np.finfo(float).smallest_subnormal), None)


class Member:
    """Base of the member families."""

    family: str = ""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    @property
    def variants(self) -> list[str]:
        raise NotImplementedError

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> Member:
        """Fit on ``Z``; ``cache`` lets members fitted on the same rows share work."""
        raise NotImplementedError

    def score(self, Z: np.ndarray) -> np.ndarray:
        """Scores, shape (n_variants, n_rows)."""
        raise NotImplementedError

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        raise NotImplementedError

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        """The arrays ``state`` writes; ``kept`` names the number of standardised columns."""
        raise NotImplementedError


class IForestMember(Member):
    family = "iforest"

    def __init__(self, seed: int = 0, n_estimators: int = 100, max_samples: int = 256) -> None:
        super().__init__(seed)
        self.n_estimators = n_estimators
        self.max_samples = max_samples

    @property
    def variants(self) -> list[str]:
        return [f"iforest(n_estimators={self.n_estimators},max_samples={self.max_samples})"]

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> IForestMember:
        from sklearn.ensemble import IsolationForest

        self.model_ = IsolationForest(
            n_estimators=self.n_estimators,
            max_samples=min(self.max_samples, Z.shape[0]),
            random_state=self.seed,
            n_jobs=1,
        ).fit(Z)
        return self

    def score(self, Z: np.ndarray) -> np.ndarray:
        return -self.model_.score_samples(Z)[None, :]

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return {prefix + "estimator": dump_estimator(self.model_)}

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        from sklearn.ensemble import IsolationForest

        model = load_estimator(arrays[prefix + "estimator"])
        width = arrays["scaler.mean"].shape[0]
        if not isinstance(model, IsolationForest) or getattr(model, "n_features_in_", -1) != width:
            raise ModelFileError(
                f"state array {prefix}estimator is not an IsolationForest fitted on {width} columns"
            )
        if model.n_estimators != self.n_estimators or len(model.estimators_) != self.n_estimators:
            raise ModelFileError(f"state array {prefix}estimator has the wrong number of trees")
        self.model_ = model

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        return {prefix + "estimator": ArraySpec((prefix + "blob",), "uint8")}


class KNNMember(Member):
    """Mean distance to the k nearest reference rows, skipping the nearest one.

    The nearest reference row is skipped for every query alike, so a training row scored
    against a reference that contains it is not flattered by its own zero distance.
    """

    family = "knn"

    def __init__(
        self, seed: int = 0, ks: tuple[int, ...] = (10, 20, 50), max_reference: int = 1000
    ) -> None:
        super().__init__(seed)
        self.ks = tuple(ks)
        self.max_reference = max_reference

    @property
    def variants(self) -> list[str]:
        return [f"knn(k={k})" for k in self.ks]

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> KNNMember:
        rng = np.random.default_rng(self.seed)
        if Z.shape[0] > self.max_reference:
            rows = np.sort(rng.choice(Z.shape[0], self.max_reference, replace=False))
            Z = Z[rows]
        self.reference_ = np.ascontiguousarray(Z)
        return self

    def score(self, Z: np.ndarray, chunk: int = 4096) -> np.ndarray:
        ref = self.reference_
        ref_sq = np.einsum("ij,ij->i", ref, ref)
        n_ref = ref.shape[0]
        kk = min(max(self.ks) + 1, n_ref)
        out = np.empty((len(self.ks), Z.shape[0]))
        for start in range(0, Z.shape[0], chunk):
            q = Z[start : start + chunk]
            sq = np.einsum("ij,ij->i", q, q)[:, None] + ref_sq[None, :] - 2.0 * (q @ ref.T)
            np.maximum(sq, 0.0, out=sq)
            near = np.partition(sq, kk - 1, axis=1)[:, :kk] if kk < n_ref else sq
            near = np.sqrt(np.sort(near, axis=1))
            for i, k in enumerate(self.ks):
                upto = min(k + 1, kk)
                block = near[:, 1:upto] if upto > 1 else near[:, :1]
                out[i, start : start + len(q)] = block.mean(axis=1)
        return out

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return {prefix + "reference": self.reference_}

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.reference_ = arrays[prefix + "reference"]

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        return {prefix + "reference": ArraySpec((prefix + "n_ref", kept), "float64")}


class _Subspace(Member):
    """Shared eigendecomposition of the (training) covariance."""

    def _decompose(self, Z: np.ndarray, cache: dict | None) -> None:
        if cache is not None and "subspace" in cache:
            self._set_decomposition(*cache["subspace"])
            return
        n, d = Z.shape
        location = Z.mean(axis=0)
        centred = Z - location
        total = float(np.einsum("ij,ij->", centred, centred)) / n
        if d <= MAX_EIGEN_DIM:
            cov = centred.T @ centred / n
            values, vectors = np.linalg.eigh(cov)
            order = np.argsort(values)[::-1]
            values, vectors = np.clip(values[order], 0.0, None), vectors[:, order]
            sum_sq = float(np.sum(cov**2))
            rest_mean = 0.0
        else:
            from sklearn.utils.extmath import randomized_svd

            r = min(MAX_EIGEN_DIM, n, d)
            _, s, vt = randomized_svd(centred, r, n_iter=2, random_state=self.seed)
            values, vectors = s**2 / n, vt.T
            rest = max(total - values.sum(), 0.0)
            # The remaining spectrum is treated as flat (as in probabilistic PCA).
            rest_mean = rest / max(d - r, 1)
            sum_sq = float(np.sum(values**2)) + rest_mean * rest
        decomposition = (location, values, vectors, total, sum_sq, rest_mean)
        if cache is not None:
            cache["subspace"] = decomposition
        self._set_decomposition(*decomposition)

    def _set_decomposition(self, location, values, vectors, total, sum_sq, rest_mean) -> None:
        self.location_, self.values_, self.vectors_ = location, values, vectors
        self.total_, self.sum_sq_, self.rest_mean_ = total, sum_sq, rest_mean


class MahalanobisMember(_Subspace):
    """Mahalanobis distance under an OAS-shrunk covariance of the most central rows.

    Starting from all rows, ``c_steps`` concentration steps (FastMCD's C-steps) each keep
    the ``support_fraction`` of the rows closest under the current estimate and re-estimate
    location and covariance on them, so up to about half the rows can be outliers without
    masking each other (the MCD's breakdown point). Covariances are OAS-shrunk and
    distances computed in closed form from the eigenvalues.
    """

    family = "mahalanobis"

    def __init__(self, seed: int = 0, support_fraction: float = 0.5, c_steps: int = 3) -> None:
        super().__init__(seed)
        self.support_fraction = support_fraction
        self.c_steps = c_steps

    @property
    def variants(self) -> list[str]:
        return [f"mahalanobis(shrinkage=oas,support={self.support_fraction})"]

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> MahalanobisMember:
        self._estimate(Z, cache)
        n = Z.shape[0]
        h = min(n, max(int(self.support_fraction * n), Z.shape[1] + 2))
        if h < n:
            for _ in range(int(self.c_steps)):
                central = np.sort(np.argsort(self.score(Z)[0], kind="stable")[:h])
                self._estimate(Z[central], None)
        return self

    def _estimate(self, Z: np.ndarray, cache: dict | None) -> None:
        self._decompose(Z, cache)
        n, d = Z.shape
        mu = self.total_ / d
        alpha = self.sum_sq_ / d**2
        den = (n + 1.0) * (alpha - mu**2 / d)
        shrink = 1.0 if den <= 0 else min((alpha + mu**2) / den, 1.0)
        floor = max(shrink * mu, 1e-12 * max(mu, 1e-300), 1e-300)
        self.shrunk_ = (1.0 - shrink) * self.values_ + floor
        # eigenvalue of every direction outside the kept vectors (randomised SVD only)
        self.rest_ = (1.0 - shrink) * self.rest_mean_ + floor

    def score(self, Z: np.ndarray) -> np.ndarray:
        centred = Z - self.location_
        proj = centred @ self.vectors_
        inside = (proj**2 / self.shrunk_).sum(axis=1)
        if self.vectors_.shape[1] == self.vectors_.shape[0]:  # full basis: nothing outside
            return np.sqrt(inside)[None, :]
        outside = np.maximum(np.einsum("ij,ij->i", centred, centred) - (proj**2).sum(1), 0.0)
        return np.sqrt(inside + outside / self.rest_)[None, :]

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            prefix + "location": self.location_,
            prefix + "vectors": self.vectors_,
            prefix + "shrunk": self.shrunk_,
            prefix + "rest": np.array([self.rest_]),
        }

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.location_ = arrays[prefix + "location"]
        self.vectors_ = arrays[prefix + "vectors"]
        self.shrunk_ = arrays[prefix + "shrunk"]
        self.rest_ = float(arrays[prefix + "rest"][0])

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        rank = prefix + "rank"
        return {
            prefix + "location": ArraySpec((kept,), "float64"),
            prefix + "vectors": ArraySpec((kept, rank), "float64"),
            prefix + "shrunk": ArraySpec((rank,), "float64", value_range=POSITIVE),
            prefix + "rest": ArraySpec((1,), "float64", value_range=POSITIVE),
        }


class PCAMember(_Subspace):
    """Squared distance from the principal subspace holding a given share of the variance."""

    family = "pca"

    def __init__(self, seed: int = 0, fractions: tuple[float, ...] = (0.9, 0.95)) -> None:
        super().__init__(seed)
        self.fractions = tuple(fractions)

    @property
    def variants(self) -> list[str]:
        return [f"pca(variance={f})" for f in self.fractions]

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> PCAMember:
        self._decompose(Z, cache)
        cum = np.cumsum(self.values_) / max(self.total_, 1e-300)
        self.ranks_ = np.array(
            [min(int(np.searchsorted(cum, f)) + 1, len(self.values_)) for f in self.fractions]
        )
        self.vectors_ = self.vectors_[:, : int(self.ranks_.max())]
        return self

    def score(self, Z: np.ndarray) -> np.ndarray:
        centred = Z - self.location_
        norm = np.einsum("ij,ij->i", centred, centred)
        proj_sq = (centred @ self.vectors_) ** 2
        cum = np.cumsum(proj_sq, axis=1)
        return np.stack([np.maximum(norm - cum[:, r - 1], 0.0) for r in self.ranks_])

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            prefix + "location": self.location_,
            prefix + "vectors": self.vectors_,
            prefix + "ranks": self.ranks_.astype(np.int64),
        }

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.location_ = arrays[prefix + "location"]
        self.vectors_ = arrays[prefix + "vectors"]
        self.ranks_ = arrays[prefix + "ranks"].astype(int)
        if self.ranks_.max() > self.vectors_.shape[1]:
            raise ModelFileError(
                f"state array {prefix}ranks exceeds the {self.vectors_.shape[1]} saved vectors"
            )

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        return {
            prefix + "location": ArraySpec((kept,), "float64"),
            prefix + "vectors": ArraySpec((kept, prefix + "rank"), "float64"),
            prefix + "ranks": ArraySpec((len(self.fractions),), "int64", value_range=(1, None)),
        }


class HBOSMember(Member):
    """HBOS with static bins, vectorised over columns.

    Same definition as PyOD's ``HBOS`` (density histograms, regulariser ``alpha`` = 0.1,
    values up to ``tol`` = 0.5 bin widths outside the training range take the edge bin's
    score, values further out the column's worst score); PyOD loops over columns in Python,
    which costs seconds on wide data, so the arithmetic is done here in one pass.
    """

    family = "hbos"
    alpha = 0.1
    tol = 0.5

    def __init__(self, seed: int = 0, bins: tuple[int, ...] = (10, 20)) -> None:
        super().__init__(seed)
        self.bins = tuple(bins)

    @property
    def variants(self) -> list[str]:
        return [f"hbos(n_bins={b})" for b in self.bins]

    def fit(self, Z: np.ndarray, cache: dict | None = None) -> HBOSMember:
        lo, hi = Z.min(axis=0), Z.max(axis=0)
        flat = hi <= lo  # constant (e.g. after trimming): numpy's convention, +-0.5
        self.low_ = np.where(flat, lo - 0.5, lo)
        high = np.where(flat, lo + 0.5, hi)
        self.log_density_ = []
        self.width_ = []
        for b in self.bins:
            width = (high - self.low_) / b
            idx = self._bin(Z, b, width)
            d = Z.shape[1]
            counts = np.bincount((idx + np.arange(d) * b).ravel(), minlength=b * d)
            density = counts.reshape(d, b).T / (Z.shape[0] * width)
            self.log_density_.append(np.log2(density + self.alpha))
            self.width_.append(width)
        return self

    def _bin(self, Z: np.ndarray, b: int, width: np.ndarray) -> np.ndarray:
        pos = np.floor((Z - self.low_) / width)
        return np.clip(pos, 0, b - 1).astype(np.int64)

    def score(self, Z: np.ndarray) -> np.ndarray:
        rows = []
        cols = np.arange(Z.shape[1])
        for b, width, logd in zip(self.bins, self.width_, self.log_density_, strict=True):
            idx = self._bin(Z, b, width)
            per = logd[idx, cols]
            rel = (Z - self.low_) / width
            outside = (rel < -self.tol) | (rel > b + self.tol)
            per = np.where(outside, logd.min(axis=0), per)
            rows.append(-per.sum(axis=1))
        return np.stack(rows)

    def state(self, prefix: str) -> dict[str, np.ndarray]:
        arrays = {prefix + "low": self.low_}
        for i in range(len(self.bins)):
            arrays[f"{prefix}{i}.log_density"] = self.log_density_[i]
            arrays[f"{prefix}{i}.width"] = self.width_[i]
        return arrays

    def load(self, arrays: dict[str, np.ndarray], prefix: str) -> None:
        self.low_ = arrays[prefix + "low"]
        self.log_density_ = [arrays[f"{prefix}{i}.log_density"] for i in range(len(self.bins))]
        self.width_ = [arrays[f"{prefix}{i}.width"] for i in range(len(self.bins))]

    def spec(self, prefix: str, kept: str) -> dict[str, ArraySpec]:
        out = {prefix + "low": ArraySpec((kept,), "float64")}
        for i, b in enumerate(self.bins):
            out[f"{prefix}{i}.log_density"] = ArraySpec((b, kept), "float64")
            out[f"{prefix}{i}.width"] = ArraySpec((kept,), "float64", value_range=POSITIVE)
        return out


FAMILIES: dict[str, type[Member]] = {
    m.family: m for m in (IForestMember, KNNMember, MahalanobisMember, PCAMember, HBOSMember)
}


def make_member(family: str, seed: int, **kwargs: Any) -> Member:
    return FAMILIES[family](seed=seed, **kwargs)
