"""FedPCA: PCA reconstruction-error detection learned by clients that never share raw rows.

Each client ``i`` holds rows ``X_i``. The clients and a server agree on a common subspace
``Z`` (``d x r``, orthonormal columns) by consensus ADMM on

    minimise  sum_i f_i(U_i)   subject to   U_i = Z,   U_i^T U_i = I,
    f_i(U) = ||(I - U U^T) X_i^T||_F^2 / n          (n = all rows of all clients)

so that ``sum_i f_i`` is exactly the centralised PCA reconstruction loss. Per round the
server sends ``Z`` to a random subset of clients (``client_fraction``); each runs
``local_steps`` gradient steps on its augmented Lagrangian
``f_i(U) + <Y_i, U - Z> + rho/2 ||U - Z||^2``, updates its dual ``Y_i`` and returns
``U_i + Y_i / rho``; the server averages the latest returns into the new ``Z``.

Two variants, as in the paper:

* ``variant="grassmann"`` (FEDPG): local steps follow the Riemannian gradient (the
  Euclidean gradient projected onto the tangent space ``(I - U U^T) G``) and retract to
  orthonormal columns by QR; the server projects its average back the same way.
* ``variant="euclidean"`` (FEDPE): plain gradient steps with the orthonormality constraint
  handled by the penalty ``rho/4 ||U^T U - I||^2``; ``Z`` is orthonormalised once at the end.

Anomaly score: the squared reconstruction error ``||(I - Z Z^T) z||^2`` of a standardised
row ``z``. Standardisation is federated too: clients upload counts, minima and maxima, then
sums (each column divided by a power of two the server picks from the ranges, so nothing
overflows), then squared deviations from the mean the server sends back (no rows). With a
fractional ``n_components`` the clients also upload their local covariance spectra, whose
sum (an upper bound of the pooled spectrum's partial sums, exact for identically
distributed clients) picks the rank.

``fit`` accepts either a list of 2-D arrays (one per client) or one array, which is split
into ``n_clients`` random, seeded shards to simulate clients in-process. After ``fit``,
``communication_`` reports what crossed the network (floats and bytes at 8 bytes per float,
uplink and downlink), next to what centralising the raw rows would have cost.

References
----------
Nguyen, Le, Nguyen, Bao, Seneviratne, Hong & Tran. Federated PCA on Grassmann Manifold for
IoT Anomaly Detection. IEEE/ACM Transactions on Networking, 2024 (arXiv:2407.07421).
Boyd, Parikh, Chu, Peleato & Eckstein. Distributed Optimization and Statistical Learning via
the Alternating Direction Method of Multipliers. Foundations and Trends in ML, 2011.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.errors import InputError, ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import TabularDetector
from .common import SEED
from .input import as_tabular, column_names
from .preprocessing import ColumnScaler, add_drift, finite_span

BYTES_PER_FLOAT = 8


def _orthonormal(A: np.ndarray) -> np.ndarray:
    """Q of a QR decomposition with signs fixed (diag(R) >= 0), so results are unique."""
    q, r = np.linalg.qr(A)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def _align(U: np.ndarray, Y: np.ndarray, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Represent the subspace of ``U`` by the basis closest to ``Z`` (orthogonal Procrustes).

    On the Grassmann manifold ``U`` and ``U R`` (``R`` orthogonal) are the same point, but
    the consensus term ``U - Z`` is not invariant to ``R``; rotating the client's basis (and
    its dual) onto the server's before each round removes that spurious disagreement.
    """
    p, _, qt = np.linalg.svd(U.T @ Z)
    R = p @ qt
    return U @ R, Y @ R


def _is_client_list(X: Any) -> bool:
    if not isinstance(X, (list, tuple)) or len(X) == 0:
        return False
    return all(np.ndim(part) == 2 for part in X)


@register(
    "fedpca",
    modality="tabular",
    paper="Nguyen et al. Federated PCA on Grassmann Manifold for IoT Anomaly Detection. IEEE/ACM ToN 2024",
    year=2024,
)
class FedPCA(TabularDetector):
    """Federated PCA (FEDPG on the Grassmann manifold, or FEDPE) via ADMM; reconstruction error.

    Parameters
    ----------
    n_components : int or float
        Subspace rank, or (float in (0, 1)) the share of variance it must explain.
    max_components : int
        Upper bound on the rank (each round ships ``d x r`` floats per client).
    variant : {"grassmann", "euclidean"}
        FEDPG or FEDPE.
    n_clients : int
        Number of simulated clients when ``fit`` receives a single array.
    client_fraction : float
        Share of clients sampled (seeded) to take part in each round.
    rounds, local_steps : int
        ADMM rounds, and gradient steps per client per round.
    rho : float
        ADMM penalty.
    learning_rate : float
        Local step size, relative to each client's own curvature bound.
    seed : int
        Seed of the client split, the initial subspace and the client sampling.

    References
    ----------
    Nguyen et al. Federated PCA on Grassmann Manifold for IoT Anomaly Detection.
    IEEE/ACM Transactions on Networking, 2024.
    """

    quick_params: ClassVar[dict[str, Any]] = {"rounds": 10}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "n_components": [Interval(Integral, 1, 100_000), Interval(Real, 0, 1, closed="neither")],
        "max_components": [Interval(Integral, 1, 100_000)],
        "variant": [Options(str, {"grassmann", "euclidean"})],
        "n_clients": [Interval(Integral, 1, 100_000)],
        "client_fraction": [Interval(Real, 0, 1, closed="right")],
        "rounds": [Interval(Integral, 0, 100_000)],
        "local_steps": [Interval(Integral, 1, 10_000)],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "learning_rate": [Interval(Real, 0, 100, closed="neither")],
        "seed": SEED,
    }

    def __init__(
        self,
        n_components: int | float = 0.9,
        max_components: int = 32,
        variant: str = "grassmann",
        n_clients: int = 5,
        client_fraction: float = 1.0,
        rounds: int = 60,
        local_steps: int = 10,
        rho: float = 0.1,
        learning_rate: float = 1.0,
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.max_components = max_components
        self.variant = variant
        self.n_clients = n_clients
        self.client_fraction = client_fraction
        self.rounds = rounds
        self.local_steps = local_steps
        self.rho = rho
        self.learning_rate = learning_rate
        self.seed = seed

    # -- input ----------------------------------------------------------------------------
    def _check_fit_input(self, X: Any) -> list[np.ndarray]:
        if _is_client_list(X):
            clients = [as_tabular(part, name=f"client {i}") for i, part in enumerate(X)]
            widths = {c.shape[1] for c in clients}
            if len(widths) != 1:
                raise InputError(
                    f"fedpca: clients have different feature counts {sorted(widths)}; "
                    "every client must hold the same columns"
                )
            if sum(c.shape[0] for c in clients) < 2:
                raise InputError("fedpca: the clients hold fewer than 2 rows in total")
            self.feature_names_in_ = None
        else:
            data = as_tabular(X, name="X", min_samples=2)
            self.feature_names_in_ = column_names(X)
            k = int(max(1, min(int(self.n_clients), data.shape[0])))
            order = np.random.default_rng(self.seed).permutation(data.shape[0])
            clients = [data[np.sort(part)] for part in np.array_split(order, k)]
        self.n_features_in_ = clients[0].shape[1]
        return clients

    # -- the federated protocol -----------------------------------------------------------
    def _fit(self, clients: list[np.ndarray]) -> None:
        d_raw = clients[0].shape[1]
        n = sum(c.shape[0] for c in clients)
        comm = {"clients": len(clients), "floats_up": 0, "floats_down": 0}
        # 1. Federated standardisation from sufficient statistics, in three exchanges that
        #    stay finite at any magnitude: counts and ranges (the server picks a power of two
        #    per column), sums of scaled values (the server sends the mean), sums of squared
        #    scaled deviations from that mean.
        lo = np.min([c.min(axis=0) for c in clients], axis=0)
        hi = np.max([c.max(axis=0) for c in clients], axis=0)
        _, exp = np.frexp(np.maximum(np.abs(lo), np.abs(hi)))
        total = np.sum([np.ldexp(c, -exp).sum(axis=0) for c in clients], axis=0)
        mean_s = total / n
        sq_dev = np.sum([((np.ldexp(c, -exp) - mean_s) ** 2).sum(axis=0) for c in clients], 0)
        comm["floats_up"] += len(clients) * (4 * d_raw + 1)
        comm["floats_down"] += len(clients) * 2 * d_raw
        scaler = ColumnScaler()
        scaler.keep_ = hi > lo
        scaler.constant_values_ = np.where(hi > lo, 0.0, lo)
        mean = np.ldexp(mean_s, exp)
        std = np.ldexp(np.sqrt(sq_dev / n), exp)
        spread = (hi - lo)[scaler.keep_]
        scaler.mean_ = mean[scaler.keep_]
        scaler.scale_ = np.where(
            std[scaler.keep_] > 0, std[scaler.keep_], np.maximum(spread, np.finfo(float).tiny)
        )
        comm["floats_down"] += len(clients) * 2 * d_raw
        self.scaler_ = scaler
        d = scaler.n_kept
        self.components_ = np.zeros((d, 0))
        self.span_ = 1.0
        if d == 0:
            self.communication_ = self._finish_comm(comm, n, d_raw, 0)
            return
        # Local covariances around the global mean, weighted so that they sum to the pooled one.
        covs = []
        for c in clients:
            z = scaler.transform(c)
            covs.append(z.T @ z / n)
        # 2. Rank.
        if isinstance(self.n_components, float) and 0.0 < self.n_components < 1.0:
            spectra = np.sum([np.sort(np.linalg.eigvalsh(c))[::-1] for c in covs], axis=0)
            comm["floats_up"] += len(clients) * d
            cum = np.cumsum(np.clip(spectra, 0, None)) / max(spectra.clip(0).sum(), 1e-300)
            r = int(np.searchsorted(cum, self.n_components)) + 1
        else:
            r = int(self.n_components)
        r = int(max(1, min(r, int(self.max_components), d)))
        # 3. Consensus ADMM.
        rng = np.random.default_rng(self.seed)
        Z = _orthonormal(rng.standard_normal((d, r)))
        k = len(clients)
        U = [Z.copy() for _ in range(k)]
        Y = [np.zeros((d, r)) for _ in range(k)]
        returned = [Z.copy() for _ in range(k)]
        rho = float(self.rho)
        steps = [float(self.learning_rate) / (4.0 * np.linalg.norm(c, 2) + 3.0 * rho) for c in covs]
        per_round = int(max(1, round(float(self.client_fraction) * k)))
        comm["floats_down"] += k * d * r  # initial subspace
        self.losses_ = []
        for _ in range(int(self.rounds)):
            chosen = np.sort(rng.choice(k, per_round, replace=False))
            for i in chosen:
                if self.variant == "grassmann":
                    U[i], Y[i] = _align(U[i], Y[i], Z)
                U[i] = self._local_update(covs[i], U[i], Y[i], Z, rho, steps[i])
                Y[i] = Y[i] + rho * (U[i] - Z)
                returned[i] = U[i] + Y[i] / rho
            comm["floats_down"] += per_round * d * r
            comm["floats_up"] += per_round * d * r
            Z = np.mean(returned, axis=0)
            if self.variant == "grassmann":
                Z = _orthonormal(Z)
            self.losses_.append(self._pca_loss(covs, _orthonormal(Z)))
        self.components_ = _orthonormal(Z)
        self.communication_ = self._finish_comm(comm, n, d_raw, int(self.rounds))
        train = np.concatenate([self._residual(scaler.transform(c)) for c in clients])
        self.span_ = finite_span(train)

    def _local_update(self, C, U, Y, Z, rho, step) -> np.ndarray:
        for _ in range(int(self.local_steps)):
            CU = C @ U
            grad = -4.0 * CU + 2.0 * CU @ (U.T @ U) + 2.0 * U @ (U.T @ CU)
            grad = grad + Y + rho * (U - Z)
            if self.variant == "grassmann":
                grad = grad - U @ (U.T @ grad)  # tangent space of the Grassmann manifold
                U = _orthonormal(U - step * grad)
            else:
                grad = grad + rho * U @ (U.T @ U - np.eye(U.shape[1]))
                U = U - step * grad
        return U

    @staticmethod
    def _pca_loss(covs: list[np.ndarray], V: np.ndarray) -> float:
        """Centralised reconstruction loss of subspace ``V`` (for convergence diagnostics)."""
        C = np.sum(covs, axis=0)
        return float(np.trace(C) - np.trace(V.T @ C @ V))

    @staticmethod
    def _finish_comm(comm: dict, n: int, d: int, rounds: int) -> dict[str, Any]:
        comm["rounds"] = rounds
        comm["bytes_up"] = comm["floats_up"] * BYTES_PER_FLOAT
        comm["bytes_down"] = comm["floats_down"] * BYTES_PER_FLOAT
        comm["bytes_total"] = comm["bytes_up"] + comm["bytes_down"]
        comm["raw_data_bytes"] = n * d * BYTES_PER_FLOAT  # cost of centralising the rows
        return comm

    # -- scoring --------------------------------------------------------------------------
    def _residual(self, Z: np.ndarray) -> np.ndarray:
        proj = Z @ self.components_
        return np.maximum(np.einsum("ij,ij->i", Z, Z) - np.einsum("ij,ij->i", proj, proj), 0.0)

    def _score(self, X: np.ndarray) -> np.ndarray:
        drift = self.scaler_.drift(X)
        if self.scaler_.n_kept == 0:
            return drift
        return add_drift(self._residual(self.scaler_.transform(X)), drift, self.span_)

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["components"] = self.components_
        arrays["span"] = np.array([self.span_])
        return arrays, {"communication": self.communication_}

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        return ColumnScaler.state_spec(d).merged(
            StateSpec(
                arrays={
                    "components": ArraySpec(("k", "r"), "float64", value_range=(-1.0, 1.0)),
                    "span": ArraySpec((1,), "float64", value_range=(0.0, None)),
                },
                meta={"communication": [Satisfies(_is_comm, "a dict of traffic counts")]},
                dim_bounds={"r": (0, int(self.max_components))},
            )
        )

    def _set_state(self, arrays, meta):
        kept, rank = arrays["components"].shape
        if (kept == 0) != (rank == 0):
            raise ModelFileError(f"state array 'components' has shape {(kept, rank)}")
        gram = arrays["components"].T @ arrays["components"]
        if not np.allclose(gram, np.eye(rank), atol=1e-6):
            raise ModelFileError("state array 'components' does not hold orthonormal columns")
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.components_ = arrays["components"]
        self.span_ = float(arrays["span"][0])
        self.communication_ = dict(meta["communication"])


_COMM_KEYS = frozenset(
    {
        "clients",
        "floats_up",
        "floats_down",
        "rounds",
        "bytes_up",
        "bytes_down",
        "bytes_total",
        "raw_data_bytes",
    }
)


def _is_comm(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) <= _COMM_KEYS
        and all(type(v) is int and v >= 0 for v in value.values())
    )
