"""CNN forecasting (DeepAnT): a small 1-D convolutional network predicts the next time step
of every channel from the latest ones; the prediction error is the anomaly score.

DeepAnT (Munir et al., 2019) trains, on normal history only, a convolutional network that
maps the latest ``h`` steps of a (multivariate) series to the next step: two blocks of
convolution (32 filters), ReLU and max-pooling, a dense layer, and a linear output of one
value per channel, trained with the mean absolute error. A step that the learnt dynamics did
not predict is anomalous; DeepAnT scores it by the Euclidean distance between prediction and
observation. TSB-AD-M lists this "CNN" among its strongest multivariate methods.

normalcy uses windows of ``window = h + 1`` steps (the history and the step predicted), so
the window machinery (normalisation with training statistics, strides, chunked scoring) is
``WindowedDetector``'s. Each step's error for a channel is its squared prediction error;
the step's score is their sum (the squared Euclidean distance, same ranking as DeepAnT's)
and ``Scores.maps`` (T, C) holds the per-channel part: which metric was not predicted. The
first ``h`` steps have no history and take each channel's lowest error (never flagged).

References
----------
Munir, M., Siddiqui, S. A., Dengel, A. & Ahmed, S. DeepAnT: A Deep Learning Approach for
Unsupervised Anomaly Detection in Time Series. IEEE Access 7, 1991-2005, 2019.

Liu, Q. & Paparrizos, J. The Elephant in the Room: Towards A Reliable Time-Series Anomaly
Detection Benchmark (TSB-AD). NeurIPS Datasets and Benchmarks 2024.
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


def _build(n_channels: int, history: int, filters: int, hidden: int):
    """DeepAnT's network for ``history`` steps of ``n_channels`` channels."""
    torch = require_torch()
    nn = torch.nn
    length = history
    layers: list[Any] = []
    size = n_channels
    for _ in range(2):
        layers += [nn.Conv1d(size, filters, kernel_size=3, padding=1), nn.ReLU()]
        size = filters
        if length >= 2:
            layers.append(nn.MaxPool1d(2))
            length //= 2

    class DeepAnT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(*layers)
            self.head = nn.Sequential(
                nn.Flatten(), nn.Linear(filters * length, hidden), nn.ReLU(),
                nn.Linear(hidden, n_channels),
            )  # fmt: skip

        def forward(self, x):  # x: (batch, history, channels)
            return self.head(self.features(x.transpose(1, 2)))

    return DeepAnT()


@register(
    "cnn_forecast",
    modality="series",
    paper="Munir et al. DeepAnT: A Deep Learning Approach for Unsupervised Anomaly Detection in Time Series. IEEE Access 2019; CNN of TSB-AD-M (Liu & Paparrizos, NeurIPS 2024)",
    year=2019,
    can_localise=True,
)
class CNNForecast(WindowedDetector):
    """DeepAnT: convolutional next-step forecaster; squared error per channel.

    Parameters
    ----------
    window:
        Steps per window: the history the network sees plus the step it predicts
        (``window - 1`` steps of history), or ``"auto"``.
    filters, hidden:
        Convolution filters per layer and units of the dense layer.
    epochs, batch_size, lr:
        Adam training on the mean absolute error.
    stride, max_windows, normalise, spread, nan_policy:
        See ``normalcy.series.windowed``; ``spread="last"`` (the default) scores each step
        by its own prediction error.
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds weight initialisation and batch order.
    """

    quick_params = {"window": 9, "epochs": 2, "filters": 8, "hidden": 16}

    pointwise = True
    min_window = 2
    _parameter_constraints = params.windowed(
        filters=params.count(1, 4096),
        hidden=params.count(1, 100_000),
        epochs=params.count(1, 1_000_000),
        batch_size=params.count(1, 10_000_000),
        lr=params.LEARNING_RATE,
        device=params.DEVICE,
        verbose=[bool],
    )

    def __init__(
        self,
        *,
        window: int | str = 33,
        filters: int = 32,
        hidden: int = 40,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 1e-3,
        stride: int | str = 1,
        max_windows: int = 50_000,
        normalise: str = "zscore",
        spread: str = "last",
        device: str = "auto",
        verbose: bool = False,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.filters = filters
        self.hidden = hidden
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

    def _network(self):
        return _build(
            int(self.n_channels_), int(self.window_) - 1, int(self.filters), int(self.hidden)
        )

    def _split(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = W.reshape(W.shape[0], int(self.window_), -1)
        return X[:, :-1, :], X[:, -1, :]

    def _fit_windows(self, W: np.ndarray) -> None:
        history, target = self._split(W)
        with torch_session(self.seed) as torch:
            self.device_ = resolve_device(self.device)
            model = self._network().to(self.device_)
            optimiser = torch.optim.Adam(model.parameters(), lr=float(self.lr))
            xs = torch.from_numpy(np.ascontiguousarray(history, np.float32)).to(self.device_)
            ys = torch.from_numpy(np.ascontiguousarray(target, np.float32)).to(self.device_)
            n = xs.shape[0]
            model.train()
            with epoch_progress(self.verbose, self.epochs, "cnn_forecast") as advance:
                for _ in range(int(self.epochs)):
                    order = torch.randperm(n, device=self.device_)
                    total = 0.0
                    for lo in range(0, n, int(self.batch_size)):
                        idx = order[lo : lo + int(self.batch_size)]
                        loss = (model(xs[idx]) - ys[idx]).abs().mean()
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                        total += float(loss.detach()) * idx.shape[0]
                    advance(loss=total / n)
            model.eval()
        self.model_ = model

    def forecast_errors(self, W: np.ndarray) -> np.ndarray:
        """Squared prediction error of the last step of every window, per channel (n, C)."""
        history, target = self._split(W)
        with torch_session():
            (pred,) = predict_batches(self.model_, history, self.device_, _SCORE_BATCH)
        return (pred - target) ** 2

    def _element_errors(self, W: np.ndarray) -> np.ndarray:
        errors = np.zeros((W.shape[0], int(self.window_), int(self.n_channels_)))
        errors[:, -1, :] = self.forecast_errors(W)
        return errors.reshape(W.shape[0], -1)

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        return self.forecast_errors(W).sum(axis=1)

    # -- state ----------------------------------------------------------------------------
    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return module_arrays(self.model_, "cnn."), {}

    def _method_state_spec(self) -> StateSpec:
        return StateSpec(arrays=module_spec(self._network, "cnn."))

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        with torch_session():
            self.device_ = resolve_device(self.device)
            model = self._network()
            load_module_arrays(model, arrays, "cnn.")
            self.model_ = model.to(self.device_).eval()
