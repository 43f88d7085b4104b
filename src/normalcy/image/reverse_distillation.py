"""Reverse distillation: a student decoder rebuilds a frozen encoder's features from a
one-class bottleneck embedding; where it cannot, the image is anomalous.

Two variants share this module:

* ``variant="rd"`` (Deng & Li, CVPR 2022): the teacher's three feature levels are fused by
  strided convolutions (multi-scale feature fusion) and squeezed through a residual
  one-class embedding block (OCE) to a compact code at twice the deepest level's stride; a decoder mirroring the
  encoder (transposed-convolution residual blocks) predicts the teacher's levels back.
* ``variant="fabric"`` (Thomine & Snoussi, 2024, for fabrics and textures): four teacher
  levels including the shallow stem-side features, fused by 1x1 convolutions into a
  bottleneck with an SSPCAB self-supervised attention block and a gated convolution
  block; the decoder receives *residual* connections from the teacher, each passed through
  a convolution and an attention gate and added one level deeper, so that the
  texture-describing high-level features reach the student while the bottleneck still
  keeps anomalies out.

Loss and score (both papers): ``1 - cos`` between teacher and student feature vectors at
every position of every level; the loss averages it, the anomaly map sums the levels
upsampled to the input size and smoothed with a Gaussian (sigma 4), the image score is the
map's maximum.

The teacher is frozen and un-augmented, so its features are computed once per training
image and cached; training runs in the shared loop (``image.training``) with early stopping
on the loss of held-out normal images.

References
----------
Deng & Li. Anomaly Detection via Reverse Distillation from One-Class Embedding. CVPR 2022.
Thomine & Snoussi. Distillation-based fabric anomaly detection. Textile Research Journal
94(5-6), 2024.
Ristea et al. Self-Supervised Predictive Convolutional Attentive Block for Anomaly
Detection. CVPR 2022 (SSPCAB).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.constraints import Integral, Interval, Options, Satisfies
from ..core.errors import InputError, ModelFileError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import StateSpec
from .feature_detector import FeatureImageDetector
from .input import ImageSource
from .module_state import load_module_arrays, module_arrays, module_state_spec, on_meta
from .params import FEATURE_TRAINED_COMMON, LAYERS, LEARNING_RATE, TRAINING_COMMON
from .preprocess import gaussian_blur, upsample
from .training import TrainedDetectorMixin

VARIANTS = ("rd", "fabric")
VARIANT_LAYERS = {
    # strides 8, 16, 32: WideResNet-50's layers 1-3 (strides 4-16) describe far more than
    # this shallow network does at the same strides; PatchCore and SimpleNet use stages 6 + 7
    "rd": ("stage4", "stage6", "stage7"),
    "fabric": ("stage2", "stage3", "stage4", "stage6"),
}


def _conv_bn_relu(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block, optionally strided (downsampling) with a projected shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


class DeBlock(nn.Module):
    """The decoder's basic block: a 2x2 transposed convolution upsamples (stride 2) where
    the encoder's block downsampled, with a transposed-convolution shortcut."""

    def __init__(self, cin: int, cout: int, up: bool):
        super().__init__()
        if up:
            self.conv1: nn.Module = nn.ConvTranspose2d(cin, cout, 2, 2, bias=False)
        else:
            self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = None
        if up or cin != cout:
            conv = (
                nn.ConvTranspose2d(cin, cout, 2, 2, bias=False)
                if up
                else nn.Conv2d(cin, cout, 1, bias=False)
            )
            self.short = nn.Sequential(conv, nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (x if self.short is None else self.short(x)))


def _de_layer(cin: int, cout: int, blocks: int, up: bool = True) -> nn.Sequential:
    return nn.Sequential(
        DeBlock(cin, cout, up), *[DeBlock(cout, cout, False) for _ in range(blocks - 1)]
    )


class RDStudent(nn.Module):
    """Deng & Li's one-class bottleneck embedding (MFF + OCE) and mirrored decoder for
    teacher levels with ``channels`` (shallow to deep), each at twice the previous stride
    (the paper: 4, 8 and 16)."""

    def __init__(self, channels: Sequence[int], embed: int, blocks: int = 2):
        super().__init__()
        c1, c2, c3 = (int(c) for c in channels)
        fuse = max(c3, embed // 2)
        self.down1 = nn.Sequential(
            _conv_bn_relu(c1, fuse // 2, 3, 2), _conv_bn_relu(fuse // 2, fuse, 3, 2)
        )
        self.down2 = _conv_bn_relu(c2, fuse, 3, 2)
        oce = [BasicBlock(2 * fuse + c3, embed, stride=2)]
        oce += [BasicBlock(embed, embed) for _ in range(blocks)]
        self.oce = nn.Sequential(*oce)
        self.de3 = _de_layer(embed, c3, blocks)
        self.de2 = _de_layer(c3, c2, blocks)
        self.de1 = _de_layer(c2, c1, blocks)

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        f1, f2, f3 = feats
        z = self.oce(torch.cat([self.down1(f1), self.down2(f2), f3], dim=1))
        d3 = self.de3(z)
        d2 = self.de2(d3)
        d1 = self.de1(d2)
        return [d1, d2, d3]


class SSPCAB(nn.Module):
    """Self-supervised predictive convolutional attentive block (Ristea et al., 2022): four
    sub-kernels at the corners of a masked receptive field, then squeeze-and-excitation."""

    def __init__(self, channels: int, kernel: int = 1, dilation: int = 1, reduction: int = 8):
        super().__init__()
        self.pad = kernel + dilation
        self.border = kernel + 2 * dilation + 1
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, kernel) for _ in range(4))
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = self.border
        x = F.pad(x, (self.pad,) * 4)
        parts = (x[:, :, :-b, :-b], x[:, :, b:, :-b], x[:, :, :-b, b:], x[:, :, b:, b:])
        y = F.relu(sum(conv(p) for conv, p in zip(self.convs, parts, strict=True)))
        w = torch.sigmoid(self.fc2(F.relu(self.fc1(y.mean(dim=(2, 3))))))
        return y * w[:, :, None, None]


class GatedConv(nn.Module):
    """DBFAD's attention: ``softmax(conv(relu(conv(x)))) * relu(conv(x))``, the softmax over
    the last (width) axis; 1x1 convolutions for the residual gates, 3x3 in the bottleneck."""

    def __init__(self, cin: int, cout: int, k: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, k, padding=k // 2)
        self.conv2 = nn.Conv2d(cout, cout, k, padding=k // 2)
        self.conv3 = nn.Conv2d(cout, cout, 1) if k == 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = F.relu(self.conv1(x))
        g = self.conv2(x1)
        if self.conv3 is not None:
            g = self.conv3(F.relu(g))
        return torch.softmax(g, dim=-1) * x1


def _conv1_relu_bn(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    # DBFAD's ordering: convolution, ReLU, then batch norm.
    return nn.Sequential(
        nn.Conv2d(cin, cout, 1, stride, bias=False), nn.ReLU(inplace=True), nn.BatchNorm2d(cout)
    )


class FabricStudent(nn.Module):
    """Thomine & Snoussi's residual reverse student for teacher levels with ``channels``
    (shallow to deep) at strides 4, 4, 8 and 16."""

    def __init__(self, channels: Sequence[int], embed: int, blocks: int = 2):
        super().__init__()
        c0, c1, c2, c3 = (int(c) for c in channels)
        mid = max(c3, embed // 2)
        self.b0 = nn.Sequential(_conv1_relu_bn(c0, mid // 2, 2), _conv1_relu_bn(mid // 2, mid, 2))
        self.b1 = nn.Sequential(_conv1_relu_bn(c1, mid // 2, 2), _conv1_relu_bn(mid // 2, mid, 2))
        self.b2 = _conv1_relu_bn(c2, mid, 2)
        self.b3 = _conv1_relu_bn(c3, mid)
        self.neck = nn.Sequential(
            _conv1_relu_bn(mid, mid),
            _conv1_relu_bn(mid, mid),
            _conv1_relu_bn(mid, embed, 2),
            SSPCAB(embed),
        )
        self.gate = GatedConv(embed, embed, 3)
        self.res0 = nn.Sequential(
            nn.Conv2d(c0, c1, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(c1),
            GatedConv(c1, c1, 1),
        )
        self.res1 = nn.Sequential(
            nn.Conv2d(c1, c2, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(c2),
            GatedConv(c2, c2, 1),
        )
        self.res2 = nn.Sequential(
            nn.Conv2d(c2, c3, 3, 1, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(c3),
            GatedConv(c3, c3, 1),
        )
        self.de3 = _de_layer(embed, c3, blocks)
        self.de2 = _de_layer(c3, c2, blocks)
        self.de1 = _de_layer(c2, c1, blocks)
        self.de0 = _de_layer(c1, c0, blocks, up=False)

    def forward(self, feats: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        x0, x1, x2, x3 = feats
        z = self.b0(x0) + self.b1(x1) + self.b2(x2) + self.b3(x3)
        z = self.gate(self.neck(z))
        d3 = self.de3(z)
        d3 = d3 + F.adaptive_avg_pool2d(self.res2(x2), d3.shape[-2:])
        d2 = self.de2(d3)
        d2 = d2 + F.adaptive_avg_pool2d(self.res1(x1), d2.shape[-2:])
        d1 = self.de1(d2)
        d1 = d1 + self.res0(x0)
        d0 = self.de0(d1)
        return [d0, d1, d2, d3]


def cosine_maps(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]):
    """Per level, ``1 - cos`` between teacher and student vectors at every position."""
    return [
        1.0 - F.cosine_similarity(t.float(), s.float(), dim=1)
        for t, s in zip(teacher, student, strict=True)
    ]


def distillation_loss(teacher: Sequence[torch.Tensor], student: Sequence[torch.Tensor]):
    """Mean over levels of the mean ``1 - cos`` over positions."""
    maps = cosine_maps(teacher, student)
    return sum(m.mean() for m in maps) / len(maps)


@register(
    "reverse_distillation",
    modality="image",
    paper="Deng & Li. Anomaly Detection via Reverse Distillation from One-Class Embedding. CVPR 2022",
    year=2022,
    can_localise=True,
)
class ReverseDistillation(TrainedDetectorMixin, FeatureImageDetector):
    """Reverse distillation (Deng & Li, CVPR 2022), with the fabric/texture variant of
    Thomine & Snoussi (2024) as ``variant="fabric"``.

    Parameters
    ----------
    variant:
        ``"rd"`` (one-class bottleneck, three levels) or ``"fabric"`` (four levels, SSPCAB
        bottleneck, attention-gated residual connections from the teacher).
    backbone, layers:
        Frozen teacher and its levels, shallow to deep. Default EfficientNet-Lite0 stages
        4, 6, 7 (strides 8, 16, 32; the paper's WideResNet-50 levels are at 4, 8, 16) for
        "rd"; stages 2 (max-pooled to stride 4), 3, 4, 6 for "fabric".
    embed:
        Channels of the bottleneck code (at twice the deepest level's stride).
    blocks:
        Residual blocks per decoder level (and after the first OCE block).
    lr:
        Adam learning rate (paper: 0.005, betas (0.5, 0.999) for "rd", (0.9, 0.999) for
        "fabric").
    max_steps, batch_size:
        Optimisation steps and training images per step (8000 steps of 8 images: ~93
        epochs of a 686-image training split; the paper trains 200 epochs of 16).
    image_size, resize:
        Preprocessing (``image.preprocess``).
    sigma:
        Gaussian smoothing of the maps in pixels at the network input size (papers: 4).
    validation_fraction, eval_every, patience, max_minutes, checkpoint_dir:
        Early stopping on held-out normal images, wall-clock budget of the whole ``fit``
        (default 18 minutes, sized for a 2-core CPU; None for bit-reproducible runs),
        resumable checkpoints.
    num_threads, device, cache_features, verbose, seed:
        Runtime and seed (``num_threads`` 1 by default, as EfficientAD's).

    References
    ----------
    Deng & Li. Anomaly Detection via Reverse Distillation from One-Class Embedding. CVPR 2022.
    Thomine & Snoussi. Distillation-based fabric anomaly detection. Textile Research
    Journal, 2024.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "max_steps": 6,
        "eval_every": 3,
        "embed": 64,
        "blocks": 1,
        "num_threads": 1,
    }

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **FEATURE_TRAINED_COMMON,
        **TRAINING_COMMON,
        "variant": [Options(str, VARIANTS)],
        "layers": [*LAYERS, None],
        "embed": [Interval(Integral, 8, 8192)],
        "blocks": [Interval(Integral, 1, 64)],
        "lr": LEARNING_RATE,
    }

    def __init__(
        self,
        *,
        variant: str = "rd",
        backbone: str = "efficientnet_lite0",
        layers: Sequence[str] | None = None,
        embed: int = 256,
        blocks: int = 2,
        lr: float = 0.005,
        max_steps: int = 8000,
        batch_size: int = 8,
        image_size: int = 256,
        resize: str = "stretch",
        sigma: float = 4.0,
        validation_fraction: float = 0.1,
        eval_every: int = 200,
        patience: int | None = 5,
        max_minutes: float | None = 18.0,
        checkpoint_dir: str | None = None,
        num_threads: int | None = 1,
        device: str = "auto",
        cache_features: bool = True,
        seed: int = 0,
        verbose: bool = True,
    ):
        self.variant = variant
        self.backbone = backbone
        self.layers = layers
        self.embed = embed
        self.blocks = blocks
        self.lr = lr
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

    center_crop = None
    tile = None
    tile_overlap = 0.25

    # -- building blocks ----------------------------------------------------------------------
    def _extractor(self):
        ext = getattr(self, "_extractor_", None)
        if ext is None:
            from .backbones import load_backbone

            ext = load_backbone(self.backbone, self._layer_names(), device=self._torch_device())
            self._extractor_ = ext
        return ext

    def _check_params(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        n_levels = 3 if self.variant == "rd" else 4
        if self.layers is not None and len(self.layers) != n_levels:
            raise InputError(
                f"variant {self.variant!r} needs {n_levels} teacher layers, got {list(self.layers)}"
            )
        self._check_common()
        self._check_training_params()
        if int(self.embed) < 8 or int(self.blocks) < 1 or int(self.max_steps) < 1:
            raise InputError("embed must be >= 8, blocks and max_steps >= 1")

    def _levels(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        """Teacher levels; the fabric variant max-pools its shallowest level to stride 4
        (the teacher's stem pooling in the paper)."""
        feats = [f.float() for f in features]
        if self.variant == "fabric":
            target = feats[1].shape[-2:]
            while feats[0].shape[-1] > target[-1]:
                feats[0] = F.max_pool2d(feats[0], 3, 2, 1)
        first = 1 if self.variant == "fabric" else 0  # fabric: its first level was pooled
        sides = [f.shape[-1] for f in feats]
        if any(a != 2 * b for a, b in zip(sides[first:], sides[first + 1 :], strict=False)):
            raise InputError(
                f"reverse distillation needs each teacher level at twice the previous one's "
                f"stride; layers {list(self._layer_names())} give grids {sides} wide"
            )
        if sides[-1] % 2:
            raise InputError(
                f"image_size {self.image_size} gives the deepest teacher level an odd grid "
                f"({sides[-1]} wide); expected a multiple of {2 * int(self.image_size) // sides[-1]}"
                " pixels so that the bottleneck halves it exactly"
            )
        return feats

    def _layer_names(self) -> Sequence[str]:
        return self.layers or VARIANT_LAYERS[self.variant]

    def _build(self, channels: Sequence[int]) -> None:
        device = self._torch_device()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            cls = RDStudent if self.variant == "rd" else FabricStudent
            self.student_ = cls(channels, int(self.embed), int(self.blocks)).to(device)
        self.channels_ = [int(c) for c in channels]

    # -- fit ----------------------------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        self._check_params()
        self._start_budget()
        out_size = data.output_size(self.on_mixed_sizes)
        with self._threads():
            chunks: list[list[torch.Tensor]] = []
            for batch in self._feature_batches(data, out_size, f"{self.name}: features"):
                chunks.append([f.to(torch.float16) for f in self._levels(batch.features)])
            levels = [torch.cat([c[i] for c in chunks]) for i in range(len(chunks[0]))]
            del chunks
            self._train(levels)

    def _train(self, levels: list[torch.Tensor]) -> None:
        device = self._torch_device()
        n = len(levels[0])
        self._build([f.shape[1] for f in levels])
        train_idx, val_idx = self._split(n)
        batch = min(int(self.batch_size), len(train_idx))
        code = levels[-1].shape[-1] // 2  # the bottleneck's grid side
        if batch * code * code < 2:
            raise InputError(
                f"reverse distillation's batch norms need at least 2 values per step: with "
                f"image_size {self.image_size} the bottleneck grid is {code}x{code}, so give at "
                f"least 2 training images (got {n}) or image_size >= {2 * int(self.image_size)}"
            )

        def take(idx: np.ndarray) -> list[torch.Tensor]:
            sel = torch.from_numpy(np.asarray(idx))
            return [f[sel].float().to(device) for f in levels]

        def step(t: int, rng: np.random.Generator) -> torch.Tensor:
            feats = take(rng.choice(train_idx, size=batch, replace=False))
            return distillation_loss(feats, self.student_(feats))

        def validate() -> float:
            total = 0.0
            for s in range(0, len(val_idx), 16):
                feats = take(val_idx[s : s + 16])
                total += float(distillation_loss(feats, self.student_(feats))) * len(feats[0])
            return total / len(val_idx)

        betas = (0.5, 0.999) if self.variant == "rd" else (0.9, 0.999)
        opt = torch.optim.Adam(self.student_.parameters(), lr=float(self.lr), betas=betas)
        trainer = self._trainer(
            {"student": self.student_},
            {"student": opt},
            name=self.variant,
            max_steps=int(self.max_steps),
            config=self._fingerprint(*[f.numpy() for f in levels]),
            validate=validate,
        )
        self.training_ = trainer.run(step).to_dict()

    # -- score --------------------------------------------------------------------------------
    def _grids(self, features: list[torch.Tensor], size: int) -> torch.Tensor:
        """Summed ``1 - cos`` maps of a batch of views at ``size`` x ``size`` (unsmoothed)."""
        device = self._torch_device()
        feats = [f.to(device) for f in self._levels(features)]
        with torch.inference_mode():
            maps = cosine_maps(feats, self.student_(feats))
        return sum(upsample(m, (size, size)) for m in maps).float().cpu()

    def _score(self, data: ImageSource) -> Scores:
        out_size = data.output_size(self.on_mixed_sizes)
        n = len(data)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32)
        size = self._preprocess().input_size
        self.student_.eval()
        with self._threads():
            for batch in self._feature_batches(
                data, out_size, f"{self.name}: scoring", cache=False
            ):
                grids = self._grids(batch.features, size)
                smooth = gaussian_blur(grids, float(self.sigma))
                view_scores = smooth.flatten(1).amax(1).double().numpy()
                img_scores = np.full(len(batch.images), -np.inf)
                np.maximum.at(img_scores, batch.view_image, view_scores)
                scores[batch.images] = img_scores
                maps[batch.images] = self._maps(grids, batch, out_size)
        return Scores(scores=scores, maps=maps)

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        meta = {
            "channels": self.channels_,
            "training": self.training_,
            "backbone_info": self._backbone_meta(),
        }
        return module_arrays(self.student_, "student"), meta

    def _extractor_layers(self) -> Sequence[str]:
        return self._layer_names()

    def _state_spec(self) -> StateSpec:
        """The student's weights, exactly as built from ``variant``, ``embed``, ``blocks``
        and the teacher's channels."""
        channels = [c for _, c, _ in self._layer_info()]
        cls = RDStudent if self.variant == "rd" else FabricStudent
        embed, blocks = int(self.embed), int(self.blocks)
        try:
            student = on_meta(lambda: cls(channels, embed, blocks))
        except ValueError:  # a layer count the variant cannot take
            raise ModelFileError(
                f"variant {self.variant!r} cannot be built on layers {list(self._layer_names())}"
            ) from None
        return StateSpec(
            arrays=module_state_spec(student, "student"),
            meta={
                "channels": [Satisfies(lambda v: v == channels, f"the channels {channels}")],
                "training": [dict],
                "backbone_info": self._backbone_meta_form(),
            },
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._check_backbone_meta(meta)
        self._build([int(c) for c in meta["channels"]])
        load_module_arrays(self.student_, arrays, "student")
        self.student_.eval()
        self.training_ = meta.get("training", {})
