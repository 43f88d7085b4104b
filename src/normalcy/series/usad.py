"""USAD: UnSupervised Anomaly Detection on multivariate time series (Audibert et al., 2020).

One encoder ``E`` and two decoders ``D1``, ``D2`` form two autoencoders ``AE1 = D1∘E`` and
``AE2 = D2∘E`` over windows of ``window`` steps of all ``C`` channels (min-max scaled with
the training statistics, flattened). Training has two phases weighted by the epoch ``n``:

* ``L1 = 1/n ||W - AE1(W)||² + (1 - 1/n) ||W - AE2(AE1(W))||²`` (``E``, ``D1``),
* ``L2 = 1/n ||W - AE2(W)||² - (1 - 1/n) ||W - AE2(AE1(W))||²`` (``E``, ``D2``):

both first learn to reconstruct; then AE1 learns to fool AE2 while AE2 learns to tell real
windows from AE1's reconstructions, which amplifies the reconstruction error of windows
unlike the normal ones. The anomaly score of a window is
``alpha ||W - AE1(W)||² + beta ||W - AE2(AE1(W))||²``.

normalcy scores every value: each element of a window gets ``alpha (W - AE1(W))² + beta
(W - AE2(AE1(W)))²``, a time step's error for a channel is the mean over the windows covering
it (``WindowedDetector``'s pointwise mode), the step's score is the sum over channels and
``Scores.maps`` (T, C) holds the per-channel part: the localisation.

Sizes follow the reference implementation (layers of ``d/2`` and ``d/4`` units for a
flattened window of ``d = window * C`` values, ReLU, sigmoid output) with a latent size
``latent`` (the reference uses ``window * 100``; a smaller code is cheaper on a CPU and
regularises more); the paper's window for SMD is 5 steps, the default here.

References
----------
Audibert, J., Michiardi, P., Guyard, F., Marti, S. & Zuluaga, M. A. USAD: UnSupervised
Anomaly Detection on Multivariate Time Series. KDD 2020, 3395-3404.
"""

from __future__ import annotations

from typing import Any

import numpy as np

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
from .windowed import WindowedDetector

_SCORE_BATCH = 4096


def _build(d: int, latent: int):
    """Encoder and two decoders of USAD for flattened windows of ``d`` values."""
    torch = require_torch()
    nn = torch.nn
    h1, h2 = max(d // 2, 1), max(d // 4, 1)

    def decoder() -> Any:
        return nn.Sequential(
            nn.Linear(latent, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
            nn.Linear(h1, d), nn.Sigmoid(),
        )  # fmt: skip

    class USADNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(
                nn.Linear(d, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
                nn.Linear(h2, latent), nn.ReLU(),
            )  # fmt: skip
            self.decoder1 = decoder()
            self.decoder2 = decoder()

        def forward(self, x):
            z = self.encoder(x)
            w1 = self.decoder1(z)
            w2 = self.decoder2(z)
            w3 = self.decoder2(self.encoder(w1))
            return w1, w2, w3

    return USADNet()


@register(
    "usad",
    modality="series",
    paper="Audibert et al. USAD: UnSupervised Anomaly Detection on Multivariate Time Series. KDD 2020",
    year=2020,
    can_localise=True,
)
class USAD(WindowedDetector):
    """USAD: two adversarially trained autoencoders sharing an encoder; per-channel errors.

    Parameters
    ----------
    window:
        Time steps per window (5 in the paper for SMD), or ``"auto"``.
    latent:
        Size of the shared code.
    alpha, beta:
        Weights of AE1's and of AE2∘AE1's reconstruction errors in the score.
    epochs, batch_size, lr:
        Adam training of both phases.
    stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed`` (``normalise="minmax"``: the paper's scaling, which
        the sigmoid output needs).
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds weight initialisation and batch order.
    """

    quick_params = {"window": 5, "epochs": 2, "latent": 8}

    pointwise = True
    _parameter_constraints = params.windowed(
        latent=params.count(1, 100_000),
        alpha=params.NON_NEGATIVE,
        beta=params.NON_NEGATIVE,
        epochs=params.count(1, 1_000_000),
        batch_size=params.count(1, 10_000_000),
        lr=params.LEARNING_RATE,
        device=params.DEVICE,
        verbose=[bool],
    )

    def __init__(
        self,
        *,
        window: int | str = 5,
        latent: int = 32,
        alpha: float = 0.5,
        beta: float = 0.5,
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 1e-3,
        stride: int | str = 1,
        max_windows: int = 50_000,
        normalise: str = "minmax",
        spread: str = "mean",
        device: str = "auto",
        verbose: bool = False,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.latent = latent
        self.alpha = alpha
        self.beta = beta
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

    def _fit_windows(self, W: np.ndarray) -> None:
        d = W.shape[1]
        with torch_session(self.seed) as torch:
            self.device_ = resolve_device(self.device)
            model = _build(d, int(self.latent)).to(self.device_)
            ae1 = list(model.encoder.parameters()) + list(model.decoder1.parameters())
            ae2 = list(model.encoder.parameters()) + list(model.decoder2.parameters())
            opt1 = torch.optim.Adam(ae1, lr=float(self.lr))
            opt2 = torch.optim.Adam(ae2, lr=float(self.lr))
            data = torch.from_numpy(W.astype(np.float32)).to(self.device_)
            n = data.shape[0]
            model.train()
            with epoch_progress(self.verbose, self.epochs, "usad") as advance:
                for epoch in range(1, int(self.epochs) + 1):
                    order = torch.randperm(n, device=self.device_)
                    total = 0.0
                    for lo in range(0, n, int(self.batch_size)):
                        batch = data[order[lo : lo + int(self.batch_size)]]
                        w1, _, w3 = model(batch)
                        e3 = ((batch - w3) ** 2).mean()
                        loss1 = ((batch - w1) ** 2).mean() / epoch + (1 - 1 / epoch) * e3
                        opt1.zero_grad()
                        loss1.backward()
                        opt1.step()
                        w1, w2, w3 = model(batch)
                        e3 = ((batch - w3) ** 2).mean()
                        loss2 = ((batch - w2) ** 2).mean() / epoch - (1 - 1 / epoch) * e3
                        opt2.zero_grad()
                        loss2.backward()
                        opt2.step()
                        total += float(loss1.detach()) * batch.shape[0]
                    advance(loss=total / n)
            model.eval()
        self.model_ = model

    def _element_errors(self, W: np.ndarray) -> np.ndarray:
        """``alpha (W - AE1(W))² + beta (W - AE2(AE1(W)))²`` for every value (n, window * C)."""
        with torch_session():
            w1, w3 = predict_batches(
                lambda xb: self.model_(xb)[0::2], W, self.device_, _SCORE_BATCH
            )
        return float(self.alpha) * (W - w1) ** 2 + float(self.beta) * (W - w3) ** 2

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        return self._element_errors(W).mean(axis=1)

    # -- state ----------------------------------------------------------------------------
    def _d(self) -> int:
        return int(self.window_) * int(self.n_channels_)

    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return module_arrays(self.model_, "usad."), {}

    def _method_state_spec(self) -> StateSpec:
        d, latent = self._d(), int(self.latent)
        return StateSpec(arrays=module_spec(lambda: _build(d, latent), "usad."))

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        with torch_session():
            self.device_ = resolve_device(self.device)
            model = _build(self._d(), int(self.latent))
            load_module_arrays(model, arrays, "usad.")
            self.model_ = model.to(self.device_).eval()
