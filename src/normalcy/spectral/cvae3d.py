"""3D-CVAE: a 3-D convolutional variational autoencoder over spatial-spectral patches,
trained with a Gaussian negative log-likelihood on the bulk spectra of a cube.

Every pixel's ``p x p`` neighbourhood (reflect-padded at the borders) is one ``bands x p x p``
patch. The VAE (``cvae3d_model``) encodes it to a small latent code and decodes a mean and
a log-variance for every value of the patch; training minimises the Gaussian negative
log-likelihood of the patch plus ``beta`` times the KL divergence of the code from N(0, I).
As the bulk (defect-free) material dominates the cube, the network learns to reconstruct
bulk spectra; a pixel's anomaly score is the negative log-likelihood of its own (centre)
spectrum under the decoded Gaussian, computed from the latent mean (deterministic), and
band ``b`` contributes its term of that sum.

Bands are standardised (z-scores from the fit pixels; a band constant at fit keeps scale 1,
so a later deviation in it costs a large likelihood penalty) and padded to a multiple of 4.
Training uses at most ``max_pixels`` pixels drawn (seeded) from the fit cubes.

References
----------
Robust Spectral Anomaly Detection in EELS Spectral Images via Three Dimensional
Convolutional Variational Autoencoders (arXiv 2024). Kingma & Welling. Auto-Encoding
Variational Bayes. ICLR 2014.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..progress import progress_bar
from ..tabular.preprocessing import robust_mean_std
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    module_spec,
    resolve_device,
    torch_session,
)
from .base import SpectralDetector
from .cvae3d_model import build, padded_bands

Z_LIMIT = 1e4  # z-scores are clipped here before the float32 network sees them
_SCORE_BATCH = 2048


def patches(cube: np.ndarray, patch: int, L: int) -> np.ndarray:
    """(H*W, 1, L, p, p) float32 patches around every pixel of a standardised cube
    (reflect-padded at the borders, zero-padded from ``B`` to ``L`` bands)."""
    h, w, b = cube.shape
    r = patch // 2
    mode = "reflect" if min(h, w) > patch else "edge"
    pads = (r, patch - 1 - r)
    padded = np.pad(cube.astype(np.float32), (pads, pads, (0, 0)), mode=mode)
    out = np.zeros((h, w, L, patch, patch), dtype=np.float32)
    for i in range(patch):
        for j in range(patch):
            out[:, :, :b, i, j] = padded[i : i + h, j : j + w]
    return out.reshape(h * w, 1, L, patch, patch)


@register(
    "cvae3d",
    modality="spectral",
    paper="Robust Spectral Anomaly Detection in EELS Spectral Images via Three Dimensional "
    "Convolutional Variational Autoencoders (arXiv 2024)",
    year=2024,
    can_localise=True,
)
class CVAE3D(SpectralDetector):
    """3-D convolutional VAE with a Gaussian NLL; score = NLL of each pixel's spectrum.

    Parameters
    ----------
    patch_size : int
        Side of the spatial neighbourhood of each patch (the pixel sits at ``p // 2``).
    channels : int
        Channels of the first 3-D convolution (the second has twice as many).
    latent_dim : int
        Size of the latent code.
    beta : float
        Weight of the KL term.
    epochs, batch_size : int
        Training length and mini-batch size.
    lr : float
        Adam learning rate.
    max_pixels : int
        At most this many fit pixels (seeded draw) are used for training.
    device : str
        "auto", "cpu" or "cuda[:i]".
    n_threads : int
        CPU threads for torch.
    verbose : bool
        Show a progress bar over epochs.
    seed : int
        Seed of weights, pixel draws and the VAE's noise.

    References
    ----------
    Robust Spectral Anomaly Detection in EELS Spectral Images via Three Dimensional
    Convolutional Variational Autoencoders (arXiv 2024).
    """

    quick_params: ClassVar[dict[str, Any]] = {"epochs": 2, "channels": 4, "max_pixels": 2000}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "patch_size": [Interval(Integral, 1, 15)],
        "channels": [Interval(Integral, 1, 256)],
        "latent_dim": [Interval(Integral, 1, 1024)],
        "beta": [Interval(Real, 0, 1e3)],
        "epochs": [Interval(Integral, 0, 10_000)],
        "batch_size": [Interval(Integral, 1, 1_000_000)],
        "lr": [Interval(Real, 0, 10, closed="neither")],
        "max_pixels": [Interval(Integral, 1, 10_000_000)],
        "device": [str],
        "n_threads": [Interval(Integral, 1, 1024)],
        "verbose": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        patch_size: int = 3,
        channels: int = 8,
        latent_dim: int = 8,
        beta: float = 1.0,
        epochs: int = 10,
        batch_size: int = 256,
        lr: float = 1e-3,
        max_pixels: int = 10_000,
        device: str = "cpu",
        n_threads: int = 1,
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.patch_size = patch_size
        self.channels = channels
        self.latent_dim = latent_dim
        self.beta = beta
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_pixels = max_pixels
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.seed = seed

    def _build(self) -> Any:
        return build(
            self.n_bands_in_, int(self.patch_size), int(self.channels), int(self.latent_dim)
        )

    def _standardise(self, cube: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            z = (cube - self.mean_) / self.scale_
        return np.clip(z, -Z_LIMIT, Z_LIMIT)

    def _fit(self, cubes: list[np.ndarray]) -> None:
        flat = np.concatenate([c.reshape(-1, c.shape[2]) for c in cubes])
        mean, std = robust_mean_std(flat)
        self.mean_ = mean
        self.scale_ = np.where(std > np.finfo(np.float32).tiny, std, 1.0)
        L = padded_bands(self.n_bands_in_)
        p = int(self.patch_size)
        data = np.concatenate([patches(self._standardise(c), p, L) for c in cubes])
        rng = np.random.default_rng(self.seed)
        if len(data) > self.max_pixels:
            data = data[np.sort(rng.choice(len(data), int(self.max_pixels), replace=False))]
        with torch_session(self.seed, self.n_threads) as torch:
            self.device_ = resolve_device(self.device)
            model = self._build().to(self.device_)
            opt = torch.optim.Adam(model.parameters(), lr=float(self.lr))
            x_all = torch.from_numpy(data).to(self.device_)
            valid = torch.zeros(L, device=self.device_)
            valid[: self.n_bands_in_] = 1.0
            n = len(x_all)
            model.train()
            with progress_bar("cvae3d", int(self.epochs), self.verbose) as advance:
                for _ in range(int(self.epochs)):
                    order = torch.randperm(n, device=self.device_)
                    total = 0.0
                    for lo in range(0, n, int(self.batch_size)):
                        x = x_all[order[lo : lo + int(self.batch_size)]]
                        mean_, var_log, mu, logvar = model(x)
                        nll = 0.5 * (var_log + (x[:, 0] - mean_) ** 2 * torch.exp(-var_log))
                        nll = (nll * valid[None, :, None, None]).sum(dim=(1, 2, 3))
                        kl = -0.5 * (1 + logvar - mu**2 - logvar.exp()).sum(dim=1)
                        loss = (nll + float(self.beta) * kl).mean() / self.n_bands_in_
                        opt.zero_grad()
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
                        opt.step()
                        total += float(loss.detach()) * len(x)
                    advance(loss=total / max(n, 1))
            model.eval()
        self.model_ = model

    def _score_cubes(self, cubes: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        L = padded_bands(self.n_bands_in_)
        p, b = int(self.patch_size), self.n_bands_in_
        c = p // 2
        out = []
        with torch_session(None, self.n_threads) as torch, torch.no_grad():
            for cube in cubes:
                data = patches(self._standardise(cube), p, L)
                for lo in range(0, len(data), _SCORE_BATCH):
                    x = torch.from_numpy(data[lo : lo + _SCORE_BATCH]).to(self.device_)
                    mean_, var_log, _, _ = self.model_(x, sample=False)
                    centre = x[:, 0, :b, c, c].double()
                    m, v = mean_[:, :b, c, c].double(), var_log[:, :b, c, c].double()
                    nll = 0.5 * (v + (centre - m) ** 2 * torch.exp(-v) + math.log(2 * math.pi))
                    out.append(nll.cpu().numpy())
        contrib = np.concatenate(out)
        return contrib.sum(axis=1), contrib

    def _get_state(self):
        arrays = module_arrays(self.model_, "net.")
        arrays["mean"] = self.mean_
        arrays["scale"] = self.scale_
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        arrays = module_spec(self._build, "net.")
        b = self.n_bands_in_
        arrays["mean"] = ArraySpec((b,), "float64")
        arrays["scale"] = ArraySpec((b,), "float64", value_range=(1e-300, None))
        return StateSpec(arrays=arrays)

    def _set_state(self, arrays, meta):
        self.mean_ = arrays["mean"]
        self.scale_ = arrays["scale"]
        with torch_session():
            self.device_ = resolve_device(self.device)
            model = self._build()
            load_module_arrays(model, arrays, "net.")
            self.model_ = model.to(self.device_).eval()
