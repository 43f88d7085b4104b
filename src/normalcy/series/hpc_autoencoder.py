"""Autoencoder for system metrics (Borghesi et al., 2019): learn normal multivariate behaviour,
score by reconstruction error, localise by the error of each variable.

The paper monitors the nodes of a supercomputer: each node's metrics (load, power,
temperatures, ...) are scaled to [0, 1] with statistics of the healthy period, and one
autoencoder per node is trained on healthy data only. A dense autoencoder with ReLU units,
trained with the mean absolute error and Adam, reconstructs normal states well and abnormal
ones badly; its reconstruction error is the anomaly signal, the error of each feature tells
which metric is off, and the detection threshold is a percentile of the errors on normal
data (here: ``calibrate``). The authors' architecture is *overcomplete* — hidden layers wider
than the input (``hidden_factor`` times) kept sparse by an L1 penalty on their activations —
with an undercomplete variant in their follow-up work (``hidden_factor < 1``).

Here one detector is one node: the input of the autoencoder at time step ``t`` is the window
of the last ``window`` steps of all ``C`` variables (``window * C`` features). ``window=1`` is
exactly the paper's setting (one sample = the metric vector of one time step); the default
``"auto"`` (the training data's dominant period) gives univariate series the temporal
context the paper obtained from its aggregated metrics. Scores are per feature, as in the
paper: every value of every window gets its absolute reconstruction error, a time step's
error for a variable is the mean (``spread``) of its own errors in the windows covering it
(``WindowedDetector``'s pointwise mode), the step's score is the sum over variables and
``Scores.maps`` holds the per-variable errors (T, C) for multivariate input, the
localisation of the paper. The paper's early stopping on a validation split is replaced by
a fixed number of epochs.

References
----------
Borghesi, A., Bartolini, A., Lombardi, M., Milano, M. & Benini, L. Anomaly Detection Using
Autoencoders in High Performance Computing Systems. AAAI 2019 (IAAI track), 33(01),
9428-9433.

Borghesi, A., Bartolini, A., Lombardi, M., Milano, M. & Benini, L. A semisupervised
autoencoder-based approach for anomaly detection in high performance computing systems.
Engineering Applications of Artificial Intelligence 85, 634-644, 2019.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval, Options
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import StateSpec
from . import params
from ._torch_utils import (
    epoch_progress,
    load_module_arrays,
    module_arrays,
    module_spec,
    predict_batches,
    require_torch,
    resolve_device,
    torch_session,
)
from .input import SeriesData
from .normalise import Normaliser
from .windowed import WindowedDetector
from .windows import sliding_windows

_SCORE_BATCH = 4096


def _build(n_in: int, width: int, n_layers: int):
    """Dense autoencoder: ``n_layers`` ReLU layers of ``width`` units to encode, as many to
    decode, then a linear output layer."""
    torch = require_torch()
    nn = torch.nn

    class DenseAutoencoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = []
            size = n_in
            for _ in range(2 * n_layers):
                layers += [nn.Linear(size, width), nn.ReLU()]
                size = width
            self.hidden = nn.Sequential(*layers)
            self.out = nn.Linear(size, n_in)

        def forward(self, x):
            activity = []
            h = x
            for layer in self.hidden:
                h = layer(h)
                if isinstance(layer, nn.ReLU):
                    activity.append(h)
            return self.out(h), activity

    return DenseAutoencoder()


@register(
    "hpc_autoencoder",
    modality="series",
    paper="Borghesi et al. Anomaly Detection Using Autoencoders in High Performance Computing Systems. AAAI (IAAI) 2019",
    year=2019,
    can_localise=True,
)
class HPCAutoencoder(WindowedDetector):
    """Dense (sparse, overcomplete) autoencoder of system metrics; per-variable errors.

    Parameters
    ----------
    window:
        Time steps per sample, or ``"auto"`` (the dominant period, 8 to 512). ``1`` is the
        paper's per-sample setting for multivariate metrics.
    hidden_factor:
        Width of each hidden layer as a multiple of the input size (``window * C``);
        above 1 the autoencoder is overcomplete (the paper's choice, kept sparse by ``l1``).
    n_layers:
        Hidden layers in the encoder (the decoder mirrors it).
    max_hidden:
        Upper bound on the hidden width (keeps wide windows cheap on a CPU).
    l1:
        L1 penalty on the hidden activations (sparsity of the overcomplete code).
    epochs, batch_size, lr:
        Adam training on the mean absolute error.
    stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed`` (``normalise="minmax"``: the paper's scaling).
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds weight initialisation and batch order.
    """

    quick_params = {"window": 16, "epochs": 2, "max_hidden": 64}

    min_window = 1
    _parameter_constraints = params.windowed(
        window=[Interval(Integral, 1, params.MAX_WINDOW), Options(str, {"auto"})],
        hidden_factor=params.POSITIVE,
        n_layers=params.count(1, 64),
        max_hidden=params.count(1, 1_000_000),
        l1=params.NON_NEGATIVE,
        epochs=params.count(1, 1_000_000),
        batch_size=params.count(1, 10_000_000),
        lr=params.LEARNING_RATE,
        device=params.DEVICE,
        verbose=[bool],
    )

    def __init__(
        self,
        *,
        window: int | str = "auto",
        hidden_factor: float = 10.0,
        n_layers: int = 1,
        max_hidden: int = 256,
        l1: float = 1e-5,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        stride: int | str = 1,
        max_windows: int = 4096,
        normalise: str = "minmax",
        spread: str = "mean",
        device: str = "auto",
        verbose: bool = False,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.hidden_factor = hidden_factor
        self.n_layers = n_layers
        self.max_hidden = max_hidden
        self.l1 = l1
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.stride = stride
        self.max_windows = max_windows
        self.normalise = normalise
        self.spread = spread
        self.device = device
        self.verbose = verbose
        self.nan_policy = nan_policy
        self.seed = seed

    def _check_params(self) -> None:
        super()._check_params()
        for name in ("n_layers", "max_hidden", "epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        for name in ("hidden_factor", "lr"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise InputError(f"{name} must be a positive number, got {value!r}")
        if not isinstance(self.l1, (int, float)) or self.l1 < 0:
            raise InputError(f"l1 must be a number >= 0, got {self.l1!r}")

    def _width(self, n_in: int) -> int:
        return int(min(self.max_hidden, max(2, math.ceil(self.hidden_factor * n_in))))

    # -- training -------------------------------------------------------------------------
    def _fit(self, data: SeriesData) -> None:
        if not (self.window == 1 and isinstance(self.window, int)):
            super()._fit(data)
            return
        # the paper's per-sample setting (windows.resolve_window asks for at least 2 steps)
        self._check_params()
        self.normaliser_ = Normaliser(self.normalise).fit(data.values)
        x = self.normaliser_.transform(data.values)
        self.window_ = 1
        stride = max(1, -(-x.shape[0] // self.max_windows))
        self._fit_windows(sliding_windows(x, 1, stride))

    def _fit_windows(self, W: np.ndarray) -> None:
        self._check_params()
        n_in = W.shape[1]
        self.width_ = self._width(n_in)
        with torch_session(self.seed) as torch:
            self.device_ = resolve_device(self.device)
            model = _build(n_in, self.width_, self.n_layers).to(self.device_)
            optimiser = torch.optim.Adam(model.parameters(), lr=float(self.lr))
            data = torch.from_numpy(W.astype(np.float32)).to(self.device_)
            n = data.shape[0]
            model.train()
            with epoch_progress(self.verbose, self.epochs, "hpc_autoencoder") as advance:
                for _ in range(self.epochs):
                    order = torch.randperm(n, device=self.device_)
                    total = 0.0
                    for lo in range(0, n, self.batch_size):
                        batch = data[order[lo : lo + self.batch_size]]
                        recon, activity = model(batch)
                        loss = (recon - batch).abs().mean()
                        if self.l1 > 0:
                            loss = loss + self.l1 * sum(a.abs().sum(dim=1).mean() for a in activity)
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                        total += float(loss.detach()) * batch.shape[0]
                    advance(loss=total / n)
            model.eval()
        self.model_ = model

    # -- scoring --------------------------------------------------------------------------
    pointwise = True  # scores come from the error of every value (WindowedDetector)

    def _element_errors(self, W: np.ndarray) -> np.ndarray:
        """Absolute reconstruction error of every value of every window (n, window * C)."""
        with torch_session():
            (recon,) = predict_batches(lambda xb: self.model_(xb)[0], W, self.device_, _SCORE_BATCH)
        return np.abs(recon - W)

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        return self._element_errors(W).mean(axis=1)

    # -- state ----------------------------------------------------------------------------
    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        meta = {"n_in": int(self.model_.out.out_features), "width": int(self.width_)}
        return module_arrays(self.model_, "ae."), meta

    def _method_state_spec(self) -> StateSpec:
        n_in = int(self.window_) * int(self.n_channels_)
        width = self._width(n_in)
        arrays = module_spec(lambda: _build(n_in, width, self.n_layers), "ae.")
        return StateSpec(
            arrays=arrays,
            meta={"n_in": [Options(int, {n_in})], "width": [Options(int, {width})]},
        )

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.width_ = int(meta["width"])
        with torch_session() as _:
            self.device_ = resolve_device(self.device)
            model = _build(int(meta["n_in"]), self.width_, self.n_layers)
            load_module_arrays(model, arrays, "ae.")
            self.model_ = model.to(self.device_).eval()
