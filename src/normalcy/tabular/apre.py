"""APRE + MSS: a probabilistic autoencoder with an adjustable reconstruction error, scored
with mean shift.

The network predicts, for every feature, a mean ``mu`` and a log-variance ``log s2`` of the
row it reconstructs. It is trained and scored with the *adjustable probabilistic
reconstruction error*

    APRE(x) = mean_j [ alpha * (x_j - mu_j)**2 / s2_j  +  beta * log s2_j ]

whose first term is the reconstruction bias measured in units of the network's own
uncertainty, and whose second term is the uncertainty (judged by the network) itself. With
``alpha = beta = 1`` it is the Gaussian negative log-likelihood (the paper's PRE); the two
weights trade one factor against the other. The log-variance is bounded smoothly to
``[-6, 6]`` (standardised units) so that training cannot diverge.

APRE is the training loss. The outlier score depends on ``mss``:

* ``mss=False``: the APRE of the row itself (reconstruction bias in units of the network's
  uncertainty, plus the uncertainty), the natural score of a probabilistic autoencoder.
* ``mss=True`` (default), mean-shift scoring (see ``normalcy.tabular.mss``): the network
  reconstructs a mean-shifted copy of the row, and the score is the mean squared distance
  between the *original* row and that reconstruction's mean (the paper's MSS applied to the
  reconstruction bias, "MSS-MSE"). Outliers the network would copy faithfully are pulled
  towards normal data first, so their score stays high. The uncertainty is deliberately not
  used here: normalising the shifted reconstruction by the variance predicted at the
  shifted point magnifies the small shifts of inliers in dense, low-variance regions, and
  measured worse than the bias alone (docs/detectors/apre.md).

References
----------
Tan, Yang, Chen, Rahardja & Rahardja. Improving Autoencoder-based Outlier Detection with
Adjustable Probabilistic Reconstruction Error and Mean-shift Outlier Scoring.
arXiv:2304.00709, 2023 (published as MSS-PAE, Pattern Recognition).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Interval, Real
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .base import TabularDetector
from .common import BATCH, DECAY, EPOCHS, LAYERS, N_THREADS, RATE, SEED
from .mss import MSS_CONSTRAINTS, mean_shift, reference_sample
from .preprocessing import ColumnScaler, add_drift, finite_span
from .torch_utils import load_module_arrays, module_arrays, module_spec, seeded_torch

LOGVAR_BOUND = 6.0


def _network(d: int, hidden: list[int]) -> Any:
    """Encoder d -> hidden..., decoder back to 2d outputs (means and raw log-variances)."""
    import torch
    from torch import nn

    class ProbabilisticAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            enc: list[nn.Module] = []
            width = d
            for h in hidden:
                enc += [nn.Linear(width, h), nn.ReLU()]
                width = h
            dec: list[nn.Module] = []
            for h in reversed(hidden[:-1]):
                dec += [nn.Linear(width, h), nn.ReLU()]
                width = h
            dec.append(nn.Linear(width, 2 * d))
            self.encoder = nn.Sequential(*enc[:-1])  # linear latent code
            self.decoder = nn.Sequential(*dec)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            out = self.decoder(self.encoder(x))
            mu, raw = out[:, :d], out[:, d:]
            return mu, LOGVAR_BOUND * torch.tanh(raw / LOGVAR_BOUND)

    return ProbabilisticAE()


@register(
    "apre",
    modality="tabular",
    paper=(
        "Tan et al. Improving Autoencoder-based Outlier Detection with Adjustable "
        "Probabilistic Reconstruction Error and Mean-shift Outlier Scoring. arXiv 2023"
    ),
    year=2023,
)
class APREDetector(TabularDetector):
    """Probabilistic autoencoder trained with APRE, scored with mean shift (APRE+MSS).

    Parameters
    ----------
    hidden_neurons : sequence of int
        Encoder widths; the last is the latent size (decoder mirrors them).
    epochs, batch_size, lr, weight_decay : training of the network (Adam).
    alpha, beta : float
        Weights of the reconstruction-bias and the uncertainty terms of APRE.
    mss : bool
        Score with mean-shift scoring (APRE+MSS, default) or with the row's own APRE.
    n_neighbors, n_iter, max_reference : mean-shift settings (see ``normalcy.tabular.mss``).
    seed : int
        Seed of the initial weights, the batch order and the reference sample.
    n_threads : int
        CPU threads torch may use.

    References
    ----------
    Tan, Yang, Chen, Rahardja & Rahardja. arXiv:2304.00709, 2023.
    """

    quick_params: ClassVar[dict[str, Any]] = {"epochs": 2}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "hidden_neurons": LAYERS,
        "epochs": EPOCHS,
        "batch_size": BATCH,
        "lr": RATE,
        "weight_decay": DECAY,
        "alpha": [Interval(Real, 0, 1000)],
        "beta": [Interval(Real, 0, 1000)],
        "mss": [bool],
        **MSS_CONSTRAINTS,
        "seed": SEED,
        "n_threads": N_THREADS,
    }

    def __init__(
        self,
        hidden_neurons: tuple[int, ...] | list[int] = (64, 32),
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        alpha: float = 1.0,
        beta: float = 1.0,
        mss: bool = True,
        n_neighbors: int = 10,
        n_iter: int = 3,
        max_reference: int = 5000,
        seed: int = 0,
        n_threads: int = 1,
    ) -> None:
        self.hidden_neurons = hidden_neurons
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.alpha = alpha
        self.beta = beta
        self.mss = mss
        self.n_neighbors = n_neighbors
        self.n_iter = n_iter
        self.max_reference = max_reference
        self.seed = seed
        self.n_threads = n_threads

    def _hidden(self) -> list[int]:
        return [int(h) for h in self.hidden_neurons]

    def _apre(self, torch: Any, target: Any, mu: Any, logvar: Any) -> Any:
        per = self.alpha * (target - mu) ** 2 * torch.exp(-logvar) + self.beta * logvar
        return per.mean(dim=1)

    def _fit(self, X: np.ndarray) -> None:
        self.scaler_ = ColumnScaler().fit(X)
        self.net_ = None
        self.span_ = 1.0
        if self.scaler_.n_kept == 0:
            return
        Z = self.scaler_.transform(X)
        n = Z.shape[0]
        batch = int(max(1, min(self.batch_size, n)))
        with seeded_torch(self.seed, self.n_threads) as torch:
            net = _network(Z.shape[1], self._hidden())
            opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
            data = torch.as_tensor(Z, dtype=torch.float32)
            gen = torch.Generator().manual_seed(int(self.seed))
            net.train()
            for _ in range(int(self.epochs)):
                order = torch.randperm(n, generator=gen)
                for start in range(0, n, batch):
                    xb = data[order[start : start + batch]]
                    mu, logvar = net(xb)
                    loss = self._apre(torch, xb, mu, logvar).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
            net.eval()
        self.net_ = net
        self.reference_ = reference_sample(Z, int(self.max_reference), self.seed)
        self.span_ = finite_span(self._raw(Z[: min(n, 2000)]))

    # -- scoring --------------------------------------------------------------------------
    def _mss_space(self, X: np.ndarray) -> np.ndarray:
        return self.scaler_.transform(X)

    def _forward(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with seeded_torch(self.seed, self.n_threads) as torch, torch.no_grad():
            mu, logvar = self.net_(torch.as_tensor(Z, dtype=torch.float32))
        return mu.numpy().astype(np.float64), logvar.numpy().astype(np.float64)

    def _mss_error(self, target: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        """Mean squared distance from ``target`` to the reconstructed mean of ``inputs``."""
        mu, _ = self._forward(inputs)
        return ((target - mu) ** 2).mean(axis=1)

    def _apre_score(self, Z: np.ndarray) -> np.ndarray:
        """APRE of each row reconstructed from itself."""
        mu, logvar = self._forward(Z)
        per = self.alpha * (Z - mu) ** 2 * np.exp(-logvar) + self.beta * logvar
        return per.mean(axis=1)

    def _raw(self, Z: np.ndarray) -> np.ndarray:
        if self.mss:
            shifted = mean_shift(Z, self.reference_, self.n_neighbors, self.n_iter)
            return self._mss_error(Z, shifted)
        return self._apre_score(Z)

    def _score(self, X: np.ndarray) -> np.ndarray:
        drift = self.scaler_.drift(X)
        if self.net_ is None:
            return drift
        return add_drift(self._raw(self.scaler_.transform(X)), drift, self.span_)

    # -- persistence ----------------------------------------------------------------------
    def _get_state(self):
        arrays = self.scaler_.get_state()
        arrays["span"] = np.array([self.span_])
        if self.net_ is not None:
            arrays.update(module_arrays(self.net_, "net."))
            arrays["reference"] = self.reference_
        return arrays, {"has_model": self.net_ is not None}

    def _model_spec(self) -> dict[str, ArraySpec]:
        out = module_spec(lambda d: _network(d, self._hidden()), "net.")
        out["reference"] = ArraySpec(("n_ref", "k"), "float64")
        return out

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        arrays = {k: replace(v, optional=True) for k, v in self._model_spec().items()}
        arrays["span"] = ArraySpec((1,), "float64", value_range=(0.0, None))
        own = StateSpec(
            arrays=arrays,
            meta={"has_model": [bool]},
            dim_bounds={"n_ref": (1, int(self.max_reference)), "kx2": (0, 2 * d)},
        )
        return ColumnScaler.state_spec(d).merged(own)

    def _set_state(self, arrays, meta):
        has_model = bool(meta["has_model"])
        n_kept = int(np.count_nonzero(arrays["scaler.keep"]))
        model_keys = set(self._model_spec())
        present = model_keys & set(arrays)
        if has_model != (n_kept > 0) or present != (model_keys if has_model else set()):
            raise ModelFileError(
                f"has_model is {has_model}, {n_kept} columns are kept, and the network's "
                f"arrays are {'incomplete' if has_model else 'present'}"
            )
        self.scaler_ = ColumnScaler.from_state(arrays)
        self.span_ = float(arrays["span"][0])
        self.net_ = None
        if has_model:
            if arrays["reference"].shape[1] != n_kept:
                raise ModelFileError(f"state array 'reference' must have {n_kept} columns")
            with seeded_torch(self.seed, self.n_threads):
                self.net_ = _network(self.scaler_.n_kept, self._hidden())
                load_module_arrays(self.net_, arrays, "net.")
            self.reference_ = arrays["reference"]
