"""EEGFormer: a vector-quantised transformer pretrained by masked reconstruction on normal
EEG segments; anomaly score from reconstruction error and codebook statistics.

Each channel of a segment is cut into patches of ``patch_len`` samples (a tail shorter than
a patch is dropped); a patch is embedded from its values and its log-magnitude spectrum,
given a learned position (per channel and patch), and a transformer encoder turns the
sequence into tokens. Each token is replaced by its nearest codebook vector (VQ with a
straight-through gradient, codebook and commitment losses), and a small transformer decoder
reconstructs the patch values from the quantised tokens. Pretraining (self-supervised, on
unlabelled normal segments only) masks ``mask_ratio`` of the patches and minimises the
reconstruction error of the masked ones plus the VQ losses.

Score (deterministic): every segment is reconstructed under ``n_views`` fixed masks (view
``v`` hides the patches ``i`` with ``i % n_views == v``), so each patch is predicted from
its context once; the segment's mean masked-reconstruction error, and the mean rarity
``-log p(code)`` of its (unmasked) tokens' codes under the codebook usage of the fit
segments, are each standardised by the median and interquartile range of the fit
segments' values and added. ``maps`` are the per-patch errors (where in the segment);
``extras["code_usage"]`` is each segment's codebook histogram, the interpretable pattern
summary of the paper.

Signals are standardised per channel with the fit segments' mean and deviation (not per
segment: amplitude is part of what makes a seizure abnormal).

References
----------
Chen, Ren, Qiu, Zhu, Liu, Yang & Ma. EEGFormer: Towards Transferable and Interpretable
Large-Scale EEG Foundation Model. AAAI Spring Symposium 2024 (arXiv:2401.10278).
van den Oord, Vinyals & Kavukcuoglu. Neural Discrete Representation Learning. NeurIPS 2017.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from ..progress import progress_bar
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    module_spec,
    resolve_device,
    torch_session,
)
from .base import SegmentDetector
from .eegformer_model import build

Z_LIMIT = 1e4
_BATCH = 64


@register(
    "eegformer",
    modality="segments",
    paper="Chen et al. EEGFormer: Towards Transferable and Interpretable Large-Scale EEG "
    "Foundation Model. arXiv 2024",
    year=2024,
    can_localise=True,
)
class EEGFormer(SegmentDetector):
    """Vector-quantised transformer, masked-reconstruction pretraining; score = error +
    codebook rarity.

    Parameters
    ----------
    patch_len : int
        Samples per patch (token).
    dim, layers, heads : int
        Transformer width, encoder depth and attention heads (``dim % heads == 0``).
    codebook_size : int
        Number of codebook vectors.
    mask_ratio : float
        Share of patches masked in pretraining.
    n_views : int
        Fixed masks used to score (each patch is hidden in exactly one).
    epochs, batch_size : int
        Pretraining length and mini-batch size.
    lr : float
        AdamW learning rate.
    device : str
        "auto", "cpu" or "cuda[:i]".
    n_threads : int
        CPU threads for torch.
    verbose : bool
        Show a progress bar over epochs.
    seed : int
        Seed of weights and masks.

    References
    ----------
    Chen et al. EEGFormer: Towards Transferable and Interpretable Large-Scale EEG
    Foundation Model. arXiv:2401.10278, 2024.
    """

    quick_params: ClassVar[dict[str, Any]] = {"epochs": 2, "dim": 16, "heads": 2, "patch_len": 8}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "patch_len": [Interval(Integral, 2, 4096)],
        "dim": [Interval(Integral, 2, 1024)],
        "layers": [Interval(Integral, 1, 16)],
        "heads": [Interval(Integral, 1, 16)],
        "codebook_size": [Interval(Integral, 2, 4096)],
        "mask_ratio": [Interval(Real, 0, 1, closed="neither")],
        "n_views": [Interval(Integral, 1, 64)],
        "epochs": [Interval(Integral, 0, 10_000)],
        "batch_size": [Interval(Integral, 1, 100_000)],
        "lr": [Interval(Real, 0, 10, closed="neither")],
        "device": [str],
        "n_threads": [Interval(Integral, 1, 1024)],
        "verbose": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        patch_len: int = 64,
        dim: int = 64,
        layers: int = 2,
        heads: int = 4,
        codebook_size: int = 64,
        mask_ratio: float = 0.5,
        n_views: int = 4,
        epochs: int = 20,
        batch_size: int = 16,
        lr: float = 1e-3,
        device: str = "cpu",
        n_threads: int = 1,
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.patch_len = patch_len
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.codebook_size = codebook_size
        self.mask_ratio = mask_ratio
        self.n_views = n_views
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.seed = seed

    # -- shapes ----------------------------------------------------------------------------
    def _patch(self) -> int:
        return int(min(self.patch_len, self.length_in_))

    def _n_tokens(self) -> int:
        return (self.length_in_ // self._patch()) * self.n_channels_in_

    def _heads(self) -> int:
        h = int(self.heads)
        while int(self.dim) % h:
            h -= 1
        return h

    def _build(self) -> Any:
        return build(
            self._n_tokens(),
            self._patch(),
            int(self.dim),
            int(self.codebook_size),
            int(self.layers),
            self._heads(),
        )

    def _tokens(self, X: np.ndarray) -> np.ndarray:
        """(N, T, C) segments to (N, C * n_patches, patch) standardised float32 patches."""
        p = self._patch()
        n_p = self.length_in_ // p
        with np.errstate(over="ignore", invalid="ignore"):
            Z = np.clip((X - self.mean_) / self.scale_, -Z_LIMIT, Z_LIMIT)
        Z = Z[:, : n_p * p, :].transpose(0, 2, 1).reshape(len(X), -1, p)
        return np.ascontiguousarray(Z, dtype=np.float32)

    # -- pretraining ----------------------------------------------------------------------
    def _fit(self, X: np.ndarray) -> None:
        self.mean_ = X.mean(axis=(0, 1))
        std = X.std(axis=(0, 1))
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        data = self._tokens(X)
        with torch_session(self.seed, self.n_threads) as torch:
            self.device_ = resolve_device(self.device)
            model = self._build().to(self.device_)
            opt = torch.optim.AdamW(model.parameters(), lr=float(self.lr), weight_decay=1e-4)
            x_all = torch.from_numpy(data).to(self.device_)
            n, t = x_all.shape[:2]
            model.train()
            with progress_bar("eegformer", int(self.epochs), self.verbose) as advance:
                for _ in range(int(self.epochs)):
                    order = torch.randperm(n, device=self.device_)
                    total = 0.0
                    for lo in range(0, n, int(self.batch_size)):
                        x = x_all[order[lo : lo + int(self.batch_size)]]
                        mask = torch.rand(x.shape[:2], device=self.device_) < float(self.mask_ratio)
                        out, _, vq = model(x, mask)
                        err = (out - x).pow(2).mean(-1)
                        w = mask.float()
                        loss = (err * w).sum() / w.sum().clamp(min=1) + 0.1 * err.mean() + vq
                        opt.zero_grad()
                        loss.backward()
                        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                        opt.step()
                        total += float(loss.detach()) * len(x)
                    advance(loss=total / n)
            model.eval()
        self.model_ = model
        errors, codes = self._forward(data)
        usage = np.bincount(codes.ravel(), minlength=int(self.codebook_size)).astype(np.float64)
        self.code_freq_ = (usage + 1.0) / (usage.sum() + len(usage))
        recon, rarity = errors.mean(axis=1), self._rarity(codes)
        self.stats_ = np.array([*_med_iqr(recon), *_med_iqr(rarity)])

    def _forward(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-token masked-reconstruction errors (n, tokens) and unmasked codes (n, tokens)."""
        v = int(self.n_views)
        errors, codes = [], []
        with torch_session(None, self.n_threads) as torch, torch.no_grad():
            idx = torch.arange(data.shape[1], device=self.device_)
            for lo in range(0, len(data), _BATCH):
                x = torch.from_numpy(data[lo : lo + _BATCH]).to(self.device_)
                err = torch.zeros(x.shape[:2], dtype=torch.float64, device=self.device_)
                for view in range(v):
                    mask = (idx % v == view)[None].expand(x.shape[0], -1)
                    out, _, _ = self.model_(x, mask if v > 1 else None)
                    e = (out - x).double().pow(2).mean(-1)
                    err = torch.where(mask, e, err)
                _, code, _ = self.model_(x, None)
                errors.append(err.cpu().numpy())
                codes.append(code.cpu().numpy())
        return np.concatenate(errors), np.concatenate(codes)

    def _rarity(self, codes: np.ndarray) -> np.ndarray:
        return -np.log(self.code_freq_[codes]).mean(axis=1)

    def _score(self, X: np.ndarray) -> Scores:
        errors, codes = self._forward(self._tokens(X))
        rm, ri, cm, ci = self.stats_
        score = (errors.mean(axis=1) - rm) / ri + (self._rarity(codes) - cm) / ci
        usage = np.stack([np.bincount(c, minlength=int(self.codebook_size)) for c in codes])
        return Scores(
            scores=score,
            maps=errors.astype(np.float32),
            extras={"code_usage": usage.astype(np.int64), "codes": codes.astype(np.int64)},
        )

    # -- state ------------------------------------------------------------------------------
    def _get_state(self):
        arrays = module_arrays(self.model_, "net.")
        arrays.update(
            mean=self.mean_, scale=self.scale_, code_freq=self.code_freq_, stats=self.stats_
        )
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        arrays = module_spec(self._build, "net.")
        c, k = self.n_channels_in_, int(self.codebook_size)
        arrays["mean"] = ArraySpec((c,), "float64")
        arrays["scale"] = ArraySpec((c,), "float64", value_range=(1e-300, None))
        arrays["code_freq"] = ArraySpec((k,), "float64", value_range=(1e-300, 1.0))
        arrays["stats"] = ArraySpec((4,), "float64")
        return StateSpec(arrays=arrays)

    def _set_state(self, arrays, meta):
        from ..core.errors import ModelFileError

        if arrays["stats"][1] <= 0 or arrays["stats"][3] <= 0:
            raise ModelFileError("state array 'stats' holds a non-positive spread")
        self.mean_, self.scale_ = arrays["mean"], arrays["scale"]
        self.code_freq_, self.stats_ = arrays["code_freq"], arrays["stats"]
        with torch_session():
            self.device_ = resolve_device(self.device)
            model = self._build()
            load_module_arrays(model, arrays, "net.")
            self.model_ = model.to(self.device_).eval()


def _med_iqr(values: np.ndarray) -> tuple[float, float]:
    """Median and interquartile range (the spread falls back to the mean absolute deviation
    and then 1, so it is always positive)."""
    med = float(np.median(values))
    q1, q3 = np.percentile(values, [25, 75])
    spread = float(q3 - q1)
    if not spread > 0:
        spread = float(np.mean(np.abs(values - med)))
    return med, spread if np.isfinite(spread) and spread > 0 else 1.0
