"""SimpleNet: a feature adaptor and a discriminator trained against Gaussian-noised features.

Fit: locally aware patch features of a frozen pretrained backbone (as in PatchCore) are
computed once for every training image and standardised per channel. A one-layer *feature
adaptor* maps them towards the target domain; *anomalous features* are made by adding
Gaussian noise to adapted normal features; a two-layer MLP *discriminator* learns to score
normal features above ``+margin`` and noised ones below ``-margin`` (the truncated L1 loss
of the paper). Score: the noise generator is dropped; each patch's anomaly score is minus
the discriminator's output on its adapted feature, the image score is the largest patch
score and the map is the upsampled, Gaussian-smoothed patch scores.

Training uses the shared loop (``image.training``): seeded, resumable checkpoints, early
stopping on the same loss measured on held-out normal images with fixed noise.

References
----------
Liu, Zhou, Xia, Chen & Yang. SimpleNet: A Simple Network for Image Anomaly Detection and
Localization. CVPR 2023.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ..core.constraints import Integral, Interval, Real, Satisfies
from ..core.errors import InputError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import StateSpec
from .feature_detector import FeatureImageDetector, concat_layers
from .input import ImageSource
from .module_state import load_module_arrays, module_arrays, module_state_spec, on_meta
from .params import FEATURE_TRAINED_COMMON, LAYERS, LEARNING_RATE, TRAINING_COMMON
from .training import TrainedDetectorMixin


class Discriminator(nn.Module):
    """Linear → batch norm → LeakyReLU(0.2) → linear to one logit (positive = normal)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.BatchNorm1d(hidden), nn.LeakyReLU(0.2))
        self.tail = nn.Linear(hidden, 1, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_normal_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(x))[:, 0]


class Adaptor(nn.Module):
    """Per-channel standardisation (fixed) followed by one learned linear layer."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))
        self.fc = nn.Linear(dim, dim)
        nn.init.xavier_normal_(self.fc.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc((x - self.mean) / self.std)


def truncated_l1(true_scores: torch.Tensor, fake_scores: torch.Tensor, margin: float):
    """SimpleNet's loss: normal scores pushed above ``margin``, noised ones below ``-margin``."""
    return (
        torch.clamp(margin - true_scores, min=0).mean()
        + torch.clamp(fake_scores + margin, min=0).mean()
    )


@register(
    "simplenet",
    modality="image",
    paper="Liu et al. SimpleNet: A Simple Network for Image Anomaly Detection and Localization. CVPR 2023",
    year=2023,
    can_localise=True,
)
class SimpleNet(TrainedDetectorMixin, FeatureImageDetector):
    """SimpleNet (Liu et al., CVPR 2023): adapted features vs. Gaussian-noised fakes.

    Parameters
    ----------
    backbone, layers:
        Frozen feature extractor and its layers (``image.backbones``); default
        EfficientNet-Lite0 stages 6 and 7 (strides 16 and 32), the layers PatchCore uses.
    patch_size:
        Neighbourhood averaged into each patch feature (paper: 3).
    noise_std:
        Standard deviation of the Gaussian noise that makes anomalous features, in units of
        the standardised features.
    hidden:
        Width of the discriminator's hidden layer (paper: 1024).
    margin:
        The truncated L1 loss's margin (paper: 0.5).
    lr_adaptor, lr_discriminator:
        Adam learning rates (paper: 1e-4 and 2e-4; weight decay 1e-5).
    max_steps:
        Optimisation steps; each step uses every patch of ``batch_size`` training images.
    batch_size:
        Images per step (and per backbone batch).
    image_size, resize:
        Preprocessing (``image.preprocess``).
    sigma:
        Gaussian smoothing of the maps in pixels at the network input size (paper: 4).
    validation_fraction, eval_every, patience:
        Held-out normal images, steps between validations, validations without improvement
        before stopping early (None: never).
    max_minutes:
        Wall-clock budget of the whole ``fit`` (features and training; default 15, sized
        for a 2-core CPU), or None (bit-reproducible runs).
    checkpoint_dir:
        Folder for resumable training checkpoints, or None.
    num_threads, device, cache_features, verbose, seed:
        Runtime: torch threads (1 by default, as EfficientAD's), "auto"/"cpu"/"cuda",
        feature cache, progress bars, seed.

    References
    ----------
    Liu et al. SimpleNet: A Simple Network for Image Anomaly Detection and Localization.
    CVPR 2023.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "max_steps": 20,
        "eval_every": 10,
        "hidden": 32,
        "num_threads": 1,
    }
    # ``make demo``: 128-pixel views (the demo images' size), a few seconds of training.
    demo_params: ClassVar[dict[str, Any]] = {
        "image_size": 128,
        "max_steps": 60,
        "eval_every": 20,
        "hidden": 64,
        "num_threads": 1,
    }

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_TRAINED_COMMON,
        **TRAINING_COMMON,
        "layers": [*LAYERS, None],
        "patch_size": [Interval(Integral, 1, 15)],
        "noise_std": [Interval(Real, 0.0, 100.0, closed="right")],
        "hidden": [Interval(Integral, 1, 65_536)],
        "margin": [Interval(Real, 0.0, 100.0)],
        "lr_adaptor": LEARNING_RATE,
        "lr_discriminator": LEARNING_RATE,
    }

    def __init__(
        self,
        *,
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = ("stage6", "stage7"),
        patch_size: int = 3,
        noise_std: float = 0.3,
        hidden: int = 1024,
        margin: float = 0.5,
        lr_adaptor: float = 1e-4,
        lr_discriminator: float = 2e-4,
        max_steps: int = 2000,
        batch_size: int = 8,
        image_size: int = 256,
        resize: str = "stretch",
        sigma: float = 4.0,
        validation_fraction: float = 0.1,
        eval_every: int = 200,
        patience: int | None = 4,
        max_minutes: float | None = 15.0,
        checkpoint_dir: str | None = None,
        num_threads: int | None = 1,
        device: str = "auto",
        cache_features: bool = True,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.backbone = backbone
        self.layers = layers
        self.patch_size = patch_size
        self.noise_std = noise_std
        self.hidden = hidden
        self.margin = margin
        self.lr_adaptor = lr_adaptor
        self.lr_discriminator = lr_discriminator
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.image_size = image_size
        self.resize = resize
        self.sigma = sigma
        self.validation_fraction = validation_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.max_minutes = max_minutes
        self.checkpoint_dir = checkpoint_dir
        self.num_threads = num_threads
        self.device = device
        self.cache_features = cache_features
        self.seed = seed
        self.verbose = verbose

    # FeatureImageDetector's preprocessing parameters that SimpleNet keeps fixed.
    center_crop = None
    tile = None
    tile_overlap = 0.25

    def _check_params(self) -> None:
        self._check_common()
        self._check_training_params()
        if not float(self.noise_std) > 0:
            raise InputError(f"noise_std must be > 0, got {self.noise_std}")
        if int(self.hidden) < 1 or int(self.patch_size) < 1:
            raise InputError("hidden and patch_size must be >= 1")
        if int(self.max_steps) < 1:
            raise InputError(f"max_steps must be >= 1, got {self.max_steps}")

    def _embed(self, features: list[torch.Tensor]) -> torch.Tensor:
        return concat_layers(features, pool=int(self.patch_size))

    def _build(self, dim: int) -> None:
        device = self._torch_device()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            self.adaptor_ = Adaptor(dim).to(device)
            self.discriminator_ = Discriminator(dim, int(self.hidden)).to(device)
        self.dim_ = int(dim)

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        self._check_params()
        self._start_budget()
        out_size = data.output_size(self.on_mixed_sizes)
        with self._threads():
            chunks = []
            for batch in self._feature_batches(data, out_size, "simplenet: features"):
                chunks.append(self._embed(batch.features).to(torch.float16))
            feats = torch.cat(chunks)  # (N, D, h, w) float16
            self._train(feats)

    def _train(self, feats: torch.Tensor) -> None:
        n, dim, h, w = feats.shape
        self._build(dim)
        device = self._torch_device()
        train_idx, val_idx = self._split(n)
        rows = feats[torch.from_numpy(train_idx)].permute(0, 2, 3, 1).reshape(-1, dim).float()
        self.adaptor_.mean.copy_(rows.mean(0).to(device))
        self.adaptor_.std.copy_(rows.std(0).clamp_min(1e-6).to(device))
        del rows
        sigma, margin = float(self.noise_std), float(self.margin)
        val = feats[torch.from_numpy(val_idx)].permute(0, 2, 3, 1).reshape(-1, dim).float()
        gen = torch.Generator().manual_seed(int(self.seed) + 1)
        val_noise = torch.randn(val.shape, generator=gen) * sigma
        val, val_noise = val.to(device), val_noise.to(device)
        batch = min(int(self.batch_size), len(train_idx))

        def step(t: int, rng: np.random.Generator) -> torch.Tensor:
            pick = torch.from_numpy(rng.choice(train_idx, size=batch, replace=False))
            x = feats[pick].permute(0, 2, 3, 1).reshape(-1, dim).float().to(device)
            q = self.adaptor_(x)
            fake = q + torch.randn_like(q) * sigma
            scores = self.discriminator_(torch.cat([q, fake]))
            return truncated_l1(scores[: len(q)], scores[len(q) :], margin)

        def validate() -> float:
            losses = []
            for s in range(0, len(val), 65536):
                q = self.adaptor_(val[s : s + 65536])
                true = self.discriminator_(q)
                fake = self.discriminator_(q + val_noise[s : s + 65536])
                losses.append(float(truncated_l1(true, fake, margin)) * len(q))
            return sum(losses) / len(val)

        optimizers = {
            "adaptor": torch.optim.AdamW(
                self.adaptor_.parameters(), lr=float(self.lr_adaptor), weight_decay=1e-5
            ),
            "discriminator": torch.optim.Adam(
                self.discriminator_.parameters(),
                lr=float(self.lr_discriminator),
                weight_decay=1e-5,
            ),
        }
        trainer = self._trainer(
            {"adaptor": self.adaptor_, "discriminator": self.discriminator_},
            optimizers,
            name="simplenet",
            max_steps=int(self.max_steps),
            config=self._fingerprint(feats.numpy()),
            validate=validate if len(val) else None,
        )
        self.training_ = trainer.run(step).to_dict()
        self.grid_ = [int(h), int(w)]

    # -- score --------------------------------------------------------------------------------
    def _patch_scores(self, emb: torch.Tensor) -> torch.Tensor:
        v, d, h, w = emb.shape
        x = emb.permute(0, 2, 3, 1).reshape(-1, d).to(self._torch_device())
        with torch.inference_mode():
            s = -self.discriminator_(self.adaptor_(x))
        return s.reshape(v, h, w).float().cpu()

    def _score(self, data: ImageSource) -> Scores:
        out_size = data.output_size(self.on_mixed_sizes)
        n = len(data)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32)
        self.adaptor_.eval()
        self.discriminator_.eval()
        with self._threads():
            for batch in self._feature_batches(data, out_size, "simplenet: scoring", cache=False):
                grids = self._patch_scores(self._embed(batch.features))
                view_scores = grids.flatten(1).amax(1).double().numpy()
                img_scores = np.full(len(batch.images), -np.inf)
                np.maximum.at(img_scores, batch.view_image, view_scores)
                scores[batch.images] = img_scores
                maps[batch.images] = self._maps(grids, batch, out_size)
        return Scores(scores=scores, maps=maps)

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        arrays = {
            **module_arrays(self.adaptor_, "adaptor"),
            **module_arrays(self.discriminator_, "discriminator"),
        }
        meta = {
            "dim": self.dim_,
            "grid": self.grid_,
            "training": self.training_,
            "backbone_info": self._backbone_meta(),
        }
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        """The adaptor's and discriminator's weights, exactly as built from ``hidden`` and
        the backbone's channels; the patch grid of ``image_size``."""
        dim = sum(c for _, c, _ in self._layer_info())
        side = self._grid_side()
        grid = [side, side]
        hidden = int(self.hidden)
        arrays = {
            **module_state_spec(on_meta(lambda: Adaptor(dim)), "adaptor"),
            **module_state_spec(on_meta(lambda: Discriminator(dim, hidden)), "discriminator"),
        }
        return StateSpec(
            arrays=arrays,
            meta={
                "dim": [Interval(Integral, dim, dim)],
                "grid": [Satisfies(lambda g: g == grid, f"the patch grid {grid}")],
                "training": [dict],
                "backbone_info": self._backbone_meta_form(),
            },
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_backbone_meta(meta)
        self._build(int(meta["dim"]))
        load_module_arrays(self.adaptor_, arrays, "adaptor")
        load_module_arrays(self.discriminator_, arrays, "discriminator")
        self.adaptor_.eval()
        self.discriminator_.eval()
        self.grid_ = list(meta.get("grid", []))
        self.training_ = meta.get("training", {})
