"""DRAEM: a reconstructive and a discriminative sub-network trained on simulated anomalies.

Training pairs are made on the fly: a training image gets a simulated anomaly (a
thresholded Perlin-noise mask filled, with random opacity, by an anomaly source; see
``image.textures``). The *reconstructive* sub-network (an encoder-decoder without skip
connections) learns to restore the anomaly-free image (L2 + SSIM loss); the
*discriminative* sub-network (a U-Net) sees the augmented image next to its
reconstruction and learns to segment the simulated anomaly (focal loss). Score: the
discriminative network's anomaly probability is the map; the image score is the maximum of
the map averaged over 21x21 windows (at 256 pixels; scaled with ``image_size``).

Deviation: the paper's anomaly source is the Describable Textures Dataset, which is not
available offline. The source here is a procedural texture (fractal noise, waves, checkers,
cells, blobs, scratches) or a flipped/shifted training image, each with three of DRAEM's
random augmentations. The paper's 700 epochs at 256 pixels with base widths 128/64 are a
GPU budget; the defaults here are narrower, smaller and shorter for a CPU.

References
----------
Zavrtanik, Kristan & Skočaj. DRAEM — A discriminatively trained reconstruction embedding
for surface anomaly detection. ICCV 2021.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.constraints import Integral, Interval, Options, Real
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import StateSpec
from .input import ImageSource
from .module_state import load_module_arrays, module_arrays, module_state_spec, on_meta
from .params import DEVICE, LEARNING_RATE, SEED, THREADS, TRAINING_COMMON
from .preprocess import RESIZE_POLICIES
from .textures import simulate_anomaly
from .training import PixelTrainedDetector


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
        nn.Conv2d(cin, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


def _pair(cin: int, cmid: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cmid, 3, padding=1),
        nn.BatchNorm2d(cmid),
        nn.ReLU(inplace=True),
        nn.Conv2d(cmid, cout, 3, padding=1),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ReconstructiveNet(nn.Module):
    """Encoder (5 double-conv blocks, 4 max-pools) and decoder (4 upsampling stages), no
    skip connections; widths b, 2b, 4b, 8b, 8b."""

    def __init__(self, b: int):
        super().__init__()
        self.enc = nn.ModuleList(
            [
                _block(3, b),
                _block(b, 2 * b),
                _block(2 * b, 4 * b),
                _block(4 * b, 8 * b),
                _block(8 * b, 8 * b),
            ]
        )
        self.dec = nn.Sequential(
            _up(8 * b, 8 * b), _pair(8 * b, 8 * b, 4 * b),
            _up(4 * b, 4 * b), _pair(4 * b, 4 * b, 2 * b),
            _up(2 * b, 2 * b), _pair(2 * b, 2 * b, b),
            _up(b, b), _pair(b, b, b),
            nn.Conv2d(b, 3, 3, padding=1),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
        return self.dec(x)


class DiscriminativeNet(nn.Module):
    """U-Net: 6 double-conv blocks (5 max-pools; widths b, 2b, 4b, 8b, 8b, 8b) and a decoder
    with skip connections, ending in two logits (normal, anomalous) per pixel."""

    def __init__(self, b: int, cin: int = 6):
        super().__init__()
        w = [b, 2 * b, 4 * b, 8 * b, 8 * b, 8 * b]
        self.enc = nn.ModuleList(
            [_block(cin, w[0])] + [_block(w[i - 1], w[i]) for i in range(1, 6)]
        )
        self.ups = nn.ModuleList(
            [_up(8 * b, 8 * b), _up(8 * b, 4 * b), _up(4 * b, 2 * b), _up(2 * b, b), _up(b, b)]
        )
        self.decs = nn.ModuleList(
            [
                _pair(16 * b, 8 * b, 8 * b),
                _pair(12 * b, 4 * b, 4 * b),
                _pair(6 * b, 2 * b, 2 * b),
                _pair(3 * b, b, b),
                _pair(2 * b, b, b),
            ]
        )
        self.out = nn.Conv2d(b, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        for up, dec, skip in zip(self.ups, self.decs, reversed(skips[:-1]), strict=True):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.out(x)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return (g[:, None] * g[None, :])[None, None]


def ssim(a: torch.Tensor, b: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Mean structural similarity of two (B, C, H, W) images in [0, 1] (Gaussian window)."""
    c = a.shape[1]
    w = window.to(a).expand(c, 1, *window.shape[-2:])
    pad = window.shape[-1] // 2
    mu_a = F.conv2d(a, w, padding=pad, groups=c)
    mu_b = F.conv2d(b, w, padding=pad, groups=c)
    var_a = F.conv2d(a * a, w, padding=pad, groups=c) - mu_a**2
    var_b = F.conv2d(b * b, w, padding=pad, groups=c) - mu_b**2
    cov = F.conv2d(a * b, w, padding=pad, groups=c) - mu_a * mu_b
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return s.mean()


def focal_loss(logits: torch.Tensor, mask: torch.Tensor, gamma: float = 2.0) -> torch.Tensor:
    """Focal loss of two-class pixel logits (B, 2, H, W) against a (B, H, W) 0/1 mask."""
    logp = F.log_softmax(logits, dim=1)
    target = mask.long()[:, None]
    logp_t = logp.gather(1, target)[:, 0]
    return (-((1 - logp_t.exp()) ** gamma) * logp_t).mean()


@register(
    "draem",
    modality="image",
    paper="Zavrtanik et al. DRAEM — A discriminatively trained reconstruction embedding for surface anomaly detection. ICCV 2021",
    year=2021,
    can_localise=True,
)
class DRAEM(PixelTrainedDetector):
    """DRAEM (Zavrtanik et al., ICCV 2021): reconstruct, then segment simulated anomalies.

    Parameters
    ----------
    recon_width, disc_width:
        Base widths of the reconstructive and discriminative sub-networks (paper: 128, 64).
    p_anomaly:
        Probability that a training image gets a simulated anomaly (paper: 0.5).
    max_steps, batch_size:
        Optimisation steps and images per step (paper: 700 epochs, batch 8).
    lr:
        Adam learning rate (paper: 1e-4, x0.2 at 80% and 90% of training).
    image_size, resize:
        Network input size and resizing policy (``image.preprocess``).
    validation_fraction, eval_every, patience:
        Early stopping on the loss of held-out normal images with fixed simulated anomalies.
    max_minutes, checkpoint_dir:
        Wall-clock budget of the whole ``fit`` (default 18 minutes, sized for a 2-core CPU;
        None for bit-reproducible runs), resumable checkpoints.
    num_threads, device, seed, verbose:
        Runtime and seed (``num_threads`` 1 by default, as EfficientAD's).

    References
    ----------
    Zavrtanik, Kristan & Skočaj. DRAEM — A discriminatively trained reconstruction embedding
    for surface anomaly detection. ICCV 2021.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "recon_width": 4,
        "disc_width": 4,
        "max_steps": 4,
        "batch_size": 2,
        "eval_every": 2,
        "num_threads": 1,
    }
    # ``make demo``: a few seconds of training on 128-pixel synthetic textures.
    demo_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "recon_width": 4,
        "disc_width": 8,
        "max_steps": 100,
        "lr": 2e-3,
        "eval_every": 50,
        "num_threads": 1,
    }
    norm_mean = (0.0, 0.0, 0.0)
    norm_std = (1.0, 1.0, 1.0)

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINING_COMMON,
        "recon_width": [Interval(Integral, 1, 512)],
        "disc_width": [Interval(Integral, 1, 512)],
        "p_anomaly": [Interval(Real, 0.0, 1.0, closed="right")],
        "batch_size": [Interval(Integral, 1, 4096)],
        "lr": LEARNING_RATE,
        "image_size": [Interval(Integral, 32, 4096, multiple_of=32)],
        "resize": [Options(str, RESIZE_POLICIES)],
        "num_threads": THREADS,
        "device": DEVICE,
        "seed": SEED,
        "verbose": [bool],
    }

    def __init__(
        self,
        *,
        recon_width: int = 16,
        disc_width: int = 16,
        p_anomaly: float = 0.5,
        max_steps: int = 1200,
        batch_size: int = 4,
        lr: float = 1e-3,
        image_size: int = 128,
        resize: str = "stretch",
        validation_fraction: float = 0.1,
        eval_every: int = 100,
        patience: int | None = 5,
        max_minutes: float | None = 18.0,
        checkpoint_dir: str | None = None,
        num_threads: int | None = 1,
        device: str = "auto",
        seed: int = 0,
        verbose: bool = True,
    ):
        self.recon_width = recon_width
        self.disc_width = disc_width
        self.p_anomaly = p_anomaly
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.image_size = image_size
        self.resize = resize
        self.validation_fraction = validation_fraction
        self.eval_every = eval_every
        self.patience = patience
        self.max_minutes = max_minutes
        self.checkpoint_dir = checkpoint_dir
        self.num_threads = num_threads
        self.device = device
        self.seed = seed
        self.verbose = verbose

    def _check_params(self) -> None:
        if int(self.recon_width) < 1 or int(self.disc_width) < 1 or int(self.max_steps) < 1:
            raise InputError("recon_width, disc_width and max_steps must be >= 1")
        if int(self.image_size) % 32 != 0:
            raise InputError(
                f"image_size must be a multiple of 32 for DRAEM, got {self.image_size}"
            )
        if not 0.0 < float(self.p_anomaly) <= 1.0:
            raise InputError(f"p_anomaly must lie in (0, 1], got {self.p_anomaly}")
        self._check_pixel_params()

    def _build(self) -> None:
        device = self._torch_device()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            self.reconstructive_ = ReconstructiveNet(int(self.recon_width)).to(device)
            self.discriminative_ = DiscriminativeNet(int(self.disc_width)).to(device)

    def _pairs(self, images: np.ndarray, pool: np.ndarray, rng: np.random.Generator):
        """Simulated training pairs: (augmented, original, mask) tensors."""
        aug, orig, masks = [], [], []
        for img in images:
            img = img.astype(np.float32) / 255.0
            if rng.random() < 0.5:
                img = img[:, ::-1]
            if rng.random() < 0.5:
                img = img[::-1]
            img = np.ascontiguousarray(img)
            a, m = simulate_anomaly(img, rng, pool, p_anomaly=float(self.p_anomaly))
            aug.append(a)
            orig.append(img)
            masks.append(m)
        device = self._torch_device()

        def t(x: list[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(x)).to(device)

        return t(aug).permute(0, 3, 1, 2), t(orig).permute(0, 3, 1, 2), t(masks)

    def _losses(self, aug: torch.Tensor, orig: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        rec = self.reconstructive_(aug)
        logits = self.discriminative_(torch.cat([aug, rec], dim=1))
        l2 = F.mse_loss(rec, orig)
        l_ssim = 1.0 - ssim(rec, orig, self._window)
        return l2 + l_ssim + focal_loss(logits, mask)

    def _fit(self, data: ImageSource) -> None:
        self._check_params()
        self._start_budget()
        self._window = _gaussian_window()
        with self._threads():
            images = self._training_views(data)
            train_idx, val_idx = self._split(len(images))
            train, val = images[train_idx], images[val_idx]
            self._build()
            val_rng = np.random.default_rng([int(self.seed), 17])
            val_pairs = [self._pairs(val[s : s + 8], train, val_rng) for s in range(0, len(val), 8)]
            batch = min(int(self.batch_size), len(train))

            def step(t: int, rng: np.random.Generator) -> torch.Tensor:
                pick = rng.choice(len(train), size=batch, replace=False)
                return self._losses(*self._pairs(train[pick], train, rng))

            def validate() -> float:
                total = sum(float(self._losses(*p)) * len(p[0]) for p in val_pairs)
                return total / len(val)

            params = list(self.reconstructive_.parameters()) + list(
                self.discriminative_.parameters()
            )
            opt = torch.optim.Adam(params, lr=float(self.lr))
            n = int(self.max_steps)
            sched = torch.optim.lr_scheduler.MultiStepLR(
                opt, milestones=[int(0.8 * n), int(0.9 * n)], gamma=0.2
            )
            trainer = self._trainer(
                {"reconstructive": self.reconstructive_, "discriminative": self.discriminative_},
                {"draem": opt},
                schedulers={"draem": sched},
                name="draem",
                max_steps=n,
                config=self._fingerprint(images),
                validate=validate,
            )
            self.training_ = trainer.run(step).to_dict()

    def _infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        rec = self.reconstructive_(x)
        prob = torch.softmax(self.discriminative_(torch.cat([x, rec], dim=1)), dim=1)[:, 1]
        k = max(3, int(round(21 * x.shape[-1] / 256)) | 1)
        pooled = F.avg_pool2d(prob[:, None], k, stride=1, padding=k // 2)[:, 0]
        return prob, pooled.flatten(1).amax(1)

    def _get_state(self):
        arrays = {
            **module_arrays(self.reconstructive_, "reconstructive"),
            **module_arrays(self.discriminative_, "discriminative"),
        }
        return arrays, {"training": self.training_}

    def _state_spec(self) -> StateSpec:
        """Both networks' weights, exactly as built from ``recon_width`` and ``disc_width``."""
        recon, disc = int(self.recon_width), int(self.disc_width)
        return StateSpec(
            arrays={
                **module_state_spec(on_meta(lambda: ReconstructiveNet(recon)), "reconstructive"),
                **module_state_spec(on_meta(lambda: DiscriminativeNet(disc)), "discriminative"),
            },
            meta={"training": [dict]},
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._build()
        load_module_arrays(self.reconstructive_, arrays, "reconstructive")
        load_module_arrays(self.discriminative_, arrays, "discriminative")
        self.reconstructive_.eval()
        self.discriminative_.eval()
        self.training_ = meta.get("training", {})
