"""HypAD: an LSTM encoder-decoder with GAN critics reconstructs windows; a hyperbolic
embedding of the reconstruction measures how certain the model is. A window is anomalous
when the model is certain of it yet reconstructs it badly.

HypAD (Flaborea et al., 2023) builds on TadGAN (Geiger et al., 2020):

* an encoder (bidirectional LSTM) maps a window ``x`` to a latent code ``z`` and a
  generator (dense layer, bidirectional LSTM, upsampling, bidirectional LSTM, tanh) maps a
  code back to a window; two Wasserstein critics with gradient penalty judge windows
  (``critic_x``: real windows against windows generated from noise) and codes
  (``critic_z``: codes of real windows against Gaussian noise), which regularises the
  encoder-generator pair as in TadGAN's training schedule (``n_critic`` critic updates per
  encoder-generator update);
* HypAD replaces TadGAN's Euclidean reconstruction loss by a hyperbolic one: a Möbius
  linear layer (Ganea et al., 2018: Euclidean linear map, exponential map at the origin of
  the Poincaré ball, Möbius addition of a bias) embeds the reconstruction and the input,
  and the loss is their Poincaré distance. Points near the boundary of the ball are far
  from everything, so a wrong but confident reconstruction costs much more than a hedged
  one near the origin: the network learns to put what it cannot predict near the origin.
  The norm of the embedded reconstruction is the *certainty*.

Score of a window (the reference's ``"uncertainty"`` combination): ``rec * critic *
certainty``, with ``rec`` the Poincaré distance between the embedded reconstruction and the
embedded input and ``critic`` the ``critic_x`` value, each standardised with statistics of the
training windows (``rec``: z-score clipped at 0, plus 1; ``critic``: absolute z-score around
the mean of its inter-quartile values, plus 1, as in TadGAN/Orion). ``combination`` selects
the reference's ablations (``"mult"``: rec x critic, ``"rec_uncertainty"``, ``"rec"``).
Point scores spread window scores (``windows.spread_scores``, mean rule), which also
smooths them like the reference's rolling mean.

Training (TadGAN's schedule): per encoder-generator update, ``n_critic`` updates of both
critics on random batches (the frozen encoder and generator produce the codes and fakes of
those batches in one pass), gradient penalty 10; the encoder-generator loss is the
adversarial terms plus 10 x (Poincaré reconstruction distance + mean squared error).

Simplifications, documented:

* the network is small (``hidden`` LSTM units; ``critic_x`` is the reference's dense
  critic) and trains for few epochs on at most ``max_windows`` windows, so that it runs on a
  CPU; scoring uses every ``stride``-th window (``"auto"``: at most 20,000 per series);
* the Euclidean reconstruction error of TadGAN is kept next to the hyperbolic one: with the
  hyperbolic distance alone the networks learned, on CPU budgets, to hedge *every* window at
  the origin (certainty ~ 0, reconstruction ~ 0);
* the Möbius layer's weight starts orthogonal with a gain that puts a typical window
  mid-ball and keeps that Frobenius norm, and the embedded input is a constant target of the
  loss (stop-gradient): otherwise the layer can shrink every window to one point, which
  makes distances and certainty meaningless;
* the hyperbolic bias is a tangent vector at the origin mapped by the exponential map, so
  plain Adam replaces Riemannian Adam (same function class);
* windows are scaled to [-1, 1] with the training minimum and maximum (TadGAN's scaling).

References
----------
Flaborea, A., Prenkaj, B., Munjal, B., Sterpa, M. A., Aragona, D., Podo, L. & Galasso, F.
Are we certain it's anomalous? CVPR Workshops (VAND) 2023.

Geiger, A., Liu, D., Alnegheimish, S., Cuesta-Infante, A. & Veeramachaneni, K. TadGAN: Time
Series Anomaly Detection Using Generative Adversarial Networks. IEEE BigData 2020.

Ganea, O., Bécigneul, G. & Hofmann, T. Hyperbolic Neural Networks. NeurIPS 2018.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..core.constraints import Options
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
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

COMBINATIONS = ("uncertainty", "mult", "rec_uncertainty", "rec")
MAX_SCORE_WINDOWS = 20_000  # stride="auto" scores at most this many windows per series
BALL_EPS = 4e-3  # points are kept within radius 1 - BALL_EPS (float32, as geoopt does)
GP_WEIGHT = 10.0  # gradient penalty of the Wasserstein critics (TadGAN)
REC_WEIGHT = 10.0  # weight of the reconstruction term of the encoder-generator loss (TadGAN)
_BATCH_SCORE = 1024


# -- Poincaré ball (curvature -1) ---------------------------------------------------------------
def _expmap0(v):
    torch = require_torch()
    norm = v.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    return torch.tanh(norm) * v / norm


def _mobius_add(x, y):
    xy = (x * y).sum(dim=-1, keepdim=True)
    x2 = (x * x).sum(dim=-1, keepdim=True)
    y2 = (y * y).sum(dim=-1, keepdim=True)
    num = (1 + 2 * xy + y2) * x + (1 - x2) * y
    return num / (1 + 2 * xy + x2 * y2).clamp_min(1e-15)


def _project(x):
    norm = x.norm(dim=-1, keepdim=True).clamp_min(1e-15)
    limit = 1.0 - BALL_EPS
    return x * (limit / norm).clamp_max(1.0)


def poincare_distance(u, v):
    """Geodesic distance between points ``u`` and ``v`` of the Poincaré ball (last axis)."""
    torch = require_torch()
    diff = ((u - v) ** 2).sum(dim=-1)
    den = (1 - (u * u).sum(dim=-1)) * (1 - (v * v).sum(dim=-1))
    return torch.acosh(1 + 2 * diff / den.clamp_min(1e-15) + 1e-7)


# -- networks ----------------------------------------------------------------------------------
def _build(window: int, n_vars: int, hidden: int, latent: int) -> dict[str, Any]:
    torch = require_torch()
    nn = torch.nn
    half = math.ceil(window / 2)

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(n_vars, hidden, batch_first=True, bidirectional=True)
            self.dense = nn.Linear(window * 2 * hidden, latent)

        def forward(self, x):  # (B, window, C) -> (B, latent)
            h, _ = self.lstm(x)
            return self.dense(h.reshape(x.shape[0], -1))

    class Generator(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.dense = nn.Linear(latent, half)
            self.lstm1 = nn.LSTM(1, hidden, batch_first=True, bidirectional=True)
            self.lstm2 = nn.LSTM(2 * hidden, hidden, batch_first=True, bidirectional=True)
            self.dropout = nn.Dropout(0.2)
            self.out = nn.Linear(2 * hidden, n_vars)

        def forward(self, z):  # (B, latent) -> (B, window, C) in [-1, 1]
            h, _ = self.lstm1(self.dense(z).unsqueeze(-1))
            h = self.dropout(h).repeat_interleave(2, dim=1)[:, :window]
            h, _ = self.lstm2(h)
            return torch.tanh(self.out(self.dropout(h)))

    class CriticX(nn.Module):
        """Dense critic of whole windows (HypAD's reference critic)."""

        def __init__(self) -> None:
            super().__init__()
            layers: list[Any] = []
            size = window * n_vars
            for _ in range(4):
                layers += [nn.Linear(size, latent), nn.LeakyReLU(0.2), nn.Dropout(0.25)]
                size = latent
            self.net = nn.Sequential(*layers, nn.Linear(latent, 1))

        def forward(self, x):  # (B, window, C) -> (B,)
            return self.net(x.reshape(x.shape[0], -1)).squeeze(-1)

    class CriticZ(nn.Module):
        def __init__(self, width: int = 32) -> None:
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(latent, width),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.2),
                nn.Linear(width, width),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.2),
                nn.Linear(width, 1),
            )

        def forward(self, z):
            return self.net(z).squeeze(-1)

    class MobiusLinear(nn.Module):
        """Euclidean linear map, exponential map at 0, Möbius addition of a ball bias. The
        weight starts orthogonal, scaled so a typical window lands mid-ball, and keeps that
        Frobenius norm (fixed-gain weight normalisation)."""

        def __init__(self, dim: int) -> None:
            super().__init__()
            weight = torch.empty(dim, dim)
            nn.init.orthogonal_(weight, gain=math.sqrt(3.0 / dim))
            self.weight = nn.Parameter(weight)
            self.register_buffer("gain", weight.norm().clone())
            self.bias = nn.Parameter(torch.zeros(dim))  # tangent vector at the origin

        def forward(self, v):
            w = self.weight * (self.gain / self.weight.norm().clamp_min(1e-12))
            u = _expmap0(nn.functional.linear(v, w))
            return _project(_mobius_add(u, _expmap0(self.bias)))

    return {
        "encoder": Encoder(),
        "generator": Generator(),
        "critic_x": CriticX(),
        "critic_z": CriticZ(),
        "hyper": MobiusLinear(window * n_vars),
    }


def _gradient_penalty(critic, real, fake):
    torch = require_torch()
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    alpha = torch.rand(shape, device=real.device)
    mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.reshape(grad.shape[0], -1).norm(dim=1) - 1) ** 2).mean()


@register(
    "hypad",
    modality="series",
    paper="Flaborea et al. Are we certain it's anomalous? CVPR Workshops (VAND) 2023",
    year=2023,
)
class HypAD(WindowedDetector):
    """HypAD: TadGAN-style LSTM reconstruction with hyperbolic certainty; certain and wrong =
    anomalous.

    Parameters
    ----------
    window:
        Window length (100 in the paper), or ``"auto"`` (dominant period, 8 to 512).
    hidden:
        LSTM units per direction in the encoder and the generator.
    latent:
        Size of the latent code (20 in TadGAN / HypAD).
    epochs, batch_size, lr:
        Training length, batch size and Adam learning rate (all networks).
    n_critic:
        Critic updates per encoder-generator update (5 in TadGAN).
    combination:
        Window score: ``"uncertainty"`` (rec x critic x certainty, HypAD), ``"mult"``
        (rec x critic), ``"rec_uncertainty"`` or ``"rec"``.
    stride:
        Scoring stride, or ``"auto"`` (smallest stride giving at most 20,000 windows).
    max_windows:
        Training windows at most (evenly subsampled beyond).
    normalise, spread, nan_policy:
        See ``normalcy.series.windowed`` (``"minmax"``, then mapped to [-1, 1]).
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds initialisation, batch order and the noise fed to the critics.
    """

    quick_params = {"window": 16, "epochs": 1, "hidden": 4, "latent": 4, "max_windows": 128}

    _parameter_constraints = params.windowed(
        hidden=params.count(1, 100_000),
        latent=params.count(1, 100_000),
        epochs=params.count(1, 1_000_000),
        batch_size=params.count(1, 10_000_000),
        lr=params.LEARNING_RATE,
        n_critic=params.count(1, 1_000),
        combination=[Options(str, COMBINATIONS)],
        device=params.DEVICE,
        verbose=[bool],
    )

    def __init__(
        self,
        *,
        window: int | str = 100,
        hidden: int = 16,
        latent: int = 20,
        epochs: int = 20,
        batch_size: int = 64,
        lr: float = 1e-3,
        n_critic: int = 5,
        combination: str = "uncertainty",
        stride: int | str = "auto",
        max_windows: int = 512,
        normalise: str = "minmax",
        spread: str = "mean",
        device: str = "auto",
        verbose: bool = False,
        nan_policy: str = "raise",
        seed: int = 0,
    ) -> None:
        self.window = window
        self.hidden = hidden
        self.latent = latent
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.n_critic = n_critic
        self.combination = combination
        self.stride = stride
        self.max_windows = max_windows
        self.normalise = normalise
        self.spread = spread
        self.device = device
        self.verbose = verbose
        self.nan_policy = nan_policy
        self.seed = seed

    # -- parameters -----------------------------------------------------------------------
    def _check_params(self) -> None:
        super()._check_params()
        if self.combination not in COMBINATIONS:
            raise InputError(f"combination must be one of {COMBINATIONS}, got {self.combination!r}")
        for name in ("hidden", "latent", "epochs", "batch_size", "n_critic"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a positive int, got {value!r}")
        if not isinstance(self.lr, (int, float)) or self.lr <= 0:
            raise InputError(f"lr must be a positive number, got {self.lr!r}")

    def _score_stride(self, length: int) -> int:
        if self.stride == "auto":
            n = length - self.window_ + 1
            return max(1, -(-n // MAX_SCORE_WINDOWS))
        return int(self.stride)

    def _as_windows(self, W: np.ndarray) -> np.ndarray:
        """Flat normalised windows (n, window * C) in [0, 1] -> (n, window, C) in [-1, 1]."""
        return (2.0 * W - 1.0).reshape(W.shape[0], self.window_, -1).astype(np.float32)

    # -- training -------------------------------------------------------------------------
    def _fit_windows(self, W: np.ndarray) -> None:
        self._check_params()
        X = self._as_windows(W)
        n, m, n_vars = X.shape
        with torch_session(self.seed) as torch:
            self.device_ = device = resolve_device(self.device)
            nets = _build(m, n_vars, self.hidden, self.latent)
            for net in nets.values():
                net.to(device).train()
            enc, gen, cx, cz, hyp = (nets[k] for k in ("encoder", "generator", "critic_x", "critic_z", "hyper"))  # fmt: skip
            opt_cx = torch.optim.Adam(cx.parameters(), lr=self.lr)
            opt_cz = torch.optim.Adam(cz.parameters(), lr=self.lr)
            opt_eg = torch.optim.Adam(
                [*enc.parameters(), *gen.parameters(), *hyp.parameters()], lr=self.lr
            )
            data = torch.from_numpy(X).to(device)
            bs = min(self.batch_size, n)
            with epoch_progress(self.verbose, self.epochs, "hypad") as advance:
                for _ in range(self.epochs):
                    order = torch.randperm(n, device=device)
                    rec_total, rec_count = 0.0, 0
                    for lo in range(0, n, bs):
                        pick = torch.randint(0, n, (bs * self.n_critic,), device=device)
                        self._critic_steps(torch, data[pick], bs, enc, gen, cx, cz, opt_cx, opt_cz)
                        x = data[order[lo : lo + bs]]
                        rec_total += self._generator_step(torch, x, enc, gen, cx, cz, hyp, opt_eg)
                        rec_count += 1
                    advance(rec=rec_total / max(rec_count, 1))
            for net in nets.values():
                net.eval()
        self.nets_ = nets
        rec, critic, certainty = self._window_parts(W)
        self.rec_stats_ = np.array([rec.mean(), max(rec.std(), 1e-12)])
        q1, q3 = np.quantile(critic, [0.25, 0.75])
        inner = critic[(critic >= q1) & (critic <= q3)]
        self.critic_stats_ = np.array([inner.mean(), max(critic.std(), 1e-12)])

    def _critic_steps(self, torch, chunk, bs, enc, gen, cx, cz, opt_cx, opt_cz) -> None:
        """``n_critic`` updates of both critics on consecutive batches of ``chunk``. The
        encoder and generator are frozen meanwhile, so their outputs for the whole chunk
        are computed in one pass."""
        for net, flag in ((enc, False), (gen, False), (cx, True), (cz, True)):
            net.requires_grad_(flag)
        noise = torch.randn(chunk.shape[0], self.latent, device=chunk.device)
        with torch.no_grad():
            fakes = gen(noise)
            codes = enc(chunk)
        for lo in range(0, chunk.shape[0], bs):
            x, fake_x = chunk[lo : lo + bs], fakes[lo : lo + bs]
            z, code = noise[lo : lo + bs], codes[lo : lo + bs]
            loss_x = cx(fake_x).mean() - cx(x).mean() + GP_WEIGHT * _gradient_penalty(cx, x, fake_x)
            opt_cx.zero_grad()
            loss_x.backward()
            opt_cx.step()
            loss_z = cz(code).mean() - cz(z).mean() + GP_WEIGHT * _gradient_penalty(cz, z, code)
            opt_cz.zero_grad()
            loss_z.backward()
            opt_cz.step()

    def _generator_step(self, torch, x, enc, gen, cx, cz, hyp, opt_eg) -> float:
        for net, flag in ((enc, True), (gen, True), (cx, False), (cz, False)):
            net.requires_grad_(flag)
        z = torch.randn(x.shape[0], self.latent, device=x.device)
        code = enc(x)
        recon, fake = gen(torch.cat([code, z])).split(x.shape[0])
        flat = recon.reshape(x.shape[0], -1)
        target = hyp(x.reshape(x.shape[0], -1)).detach()
        rec = poincare_distance(hyp(flat), target).mean()
        mse = ((recon - x) ** 2).mean()
        loss = -cx(fake).mean() - cz(code).mean() + REC_WEIGHT * (mse + rec)
        opt_eg.zero_grad()
        loss.backward()
        opt_eg.step()
        return float(rec.detach())

    # -- scoring --------------------------------------------------------------------------
    def _window_parts(self, W: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per window: Poincaré reconstruction distance, critic value, certainty (norm)."""
        X = self._as_windows(W)
        enc, gen, cx, hyp = (self.nets_[k] for k in ("encoder", "generator", "critic_x", "hyper"))

        def parts(xb):
            flat = xb.reshape(xb.shape[0], -1)
            emb = hyp(gen(enc(xb)).reshape(xb.shape[0], -1))
            dist = poincare_distance(emb, hyp(flat))
            return dist, cx(xb), emb.norm(dim=-1)

        with torch_session():
            rec, critic, certainty = predict_batches(parts, X, self.device_, _BATCH_SCORE)
        return rec, critic, certainty

    def _score_windows(self, W: np.ndarray) -> np.ndarray:
        rec, critic, certainty = self._window_parts(W)
        rec_s = np.clip((rec - self.rec_stats_[0]) / self.rec_stats_[1], 0.0, None) + 1.0
        critic_s = np.abs(critic - self.critic_stats_[0]) / self.critic_stats_[1] + 1.0
        if self.combination == "uncertainty":
            return rec_s * critic_s * certainty
        if self.combination == "mult":
            return rec_s * critic_s
        if self.combination == "rec_uncertainty":
            return rec_s * certainty
        return rec_s

    # -- state ----------------------------------------------------------------------------
    def _get_method_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {
            "rec_stats": self.rec_stats_,
            "critic_stats": self.critic_stats_,
        }
        for name, net in self.nets_.items():
            arrays.update(module_arrays(net, f"{name}."))
        n_vars = int(self.nets_["generator"].out.out_features)
        return arrays, {"n_vars": n_vars}

    def _method_state_spec(self) -> StateSpec:
        m, c = int(self.window_), int(self.n_channels_)
        arrays = {
            "rec_stats": ArraySpec((2,), "float64"),
            "critic_stats": ArraySpec((2,), "float64"),
        }
        for name in ("encoder", "generator", "critic_x", "critic_z", "hyper"):
            arrays.update(
                module_spec(lambda n=name: _build(m, c, self.hidden, self.latent)[n], f"{name}.")
            )
        return StateSpec(arrays=arrays, meta={"n_vars": [Options(int, {c})]})

    def _set_method_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.rec_stats_ = np.asarray(arrays["rec_stats"], dtype=np.float64)
        self.critic_stats_ = np.asarray(arrays["critic_stats"], dtype=np.float64)
        with torch_session():
            self.device_ = resolve_device(self.device)
            nets = _build(self.window_, int(meta["n_vars"]), self.hidden, self.latent)
            for name, net in nets.items():
                load_module_arrays(net, arrays, f"{name}.")
                net.to(self.device_).eval()
        self.nets_ = nets
