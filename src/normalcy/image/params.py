"""Declared constraints of the parameters the image detectors share (``core.constraints``).

Each detector's ``_parameter_constraints`` is built from these pieces plus its own
parameters, so a bad value is refused by ``create``/``fit``/``load`` with one clear message
before any backbone is loaded. Cross-parameter rules (a layer the chosen backbone lacks, a
centre crop larger than ``image_size``) are checked when the detector builds its pipeline.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..core.constraints import Integral, Interval, ListOf, Options, Real, Satisfies
from .backbones import OFFLINE_BACKBONES
from .preprocess import RESIZE_POLICIES

_HUB_PATTERN = re.compile(r"(resnet|wide_resnet|resnext)[0-9a-z_]*")
LAYER_NAMES = ("stem", *[f"layer{i}" for i in range(1, 5)], *[f"stage{i}" for i in range(1, 10)])

BACKBONE = [
    Options(str, OFFLINE_BACKBONES),
    Satisfies(
        lambda s: isinstance(s, str) and _HUB_PATTERN.fullmatch(s) is not None,
        "a torchvision ResNet name (resnet*, wide_resnet*, resnext*; needs a network)",
    ),
]
LAYER = Options(str, LAYER_NAMES)
LAYERS = [ListOf(LAYER, min_len=1, max_len=len(LAYER_NAMES))]
SIDE = Interval(Integral, 32, 4096)
POSITIVE_INT = Interval(Integral, 1, None)
SEED = [Interval(Integral, 0, 2**32 - 1)]
THREADS = [Interval(Integral, 1, 1024), None]
DEVICE = [Options(str, ("auto", "cpu", "cuda"))]
LEARNING_RATE = [Interval(Real, 0.0, 10.0, closed="right")]

# The preprocessing and runtime parameters of ``FeatureImageDetector`` subclasses.
FEATURE_COMMON: dict[str, list[Any]] = {
    "backbone": BACKBONE,
    "image_size": [SIDE],
    "resize": [Options(str, RESIZE_POLICIES)],
    "center_crop": [SIDE, None],
    "tile": [Interval(Integral, 32, 65_536), None],
    "tile_overlap": [Interval(Real, 0.0, 1.0, closed="left")],
    "sigma": [Interval(Real, 0.0, 100.0)],
    "batch_size": [Interval(Integral, 1, 4096)],
    "num_threads": THREADS,
    "device": DEVICE,
    "cache_features": [bool],
    "seed": SEED,
    "verbose": [bool],
}

# The training-loop parameters of ``TrainedDetectorMixin`` subclasses.
TRAINING_COMMON: dict[str, list[Any]] = {
    "validation_fraction": [Interval(Real, 0.0, 1.0, closed="left")],
    "eval_every": [POSITIVE_INT],
    "patience": [POSITIVE_INT, None],
    "max_minutes": [Interval(Real, 0.0, None, closed="neither"), None],
    "checkpoint_dir": [str, Path, None],
    "max_steps": [Interval(Integral, 1, 10_000_000)],
}

# ``FEATURE_COMMON`` without the views the trained feature detectors keep fixed (one whole
# image per view: no centre crop, no tiles).
FEATURE_TRAINED_COMMON = {
    k: v for k, v in FEATURE_COMMON.items() if k not in ("center_crop", "tile", "tile_overlap")
}
