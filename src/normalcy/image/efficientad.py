"""EfficientAD: a patch description network student-teacher pair plus an autoencoder.

* **Teacher**: a patch description network (PDN; four convolutions, 33-pixel receptive
  field, stride 4; small "S" or medium "M") distilled to reproduce pretrained features.
  The paper distils it from WideResNet-101 features on ImageNet; here (offline weights
  only) it is distilled from EfficientNet-Lite features (stages 4 and 5, 3x3 locally
  averaged, at twice the input resolution so their stride-8 grid matches the PDN's
  stride 4, projected to ``out_channels`` by PCA) on a corpus made at fit time: 80%
  training images, 10% procedural textures (half with DRAEM's colour augmentations) and
  10% training images with simulated anomalies (``teacher_corpus="mixed"``; ``"train"``
  uses the training images only).
* **Student**: a PDN with twice the outputs, trained on normal images with the *hard
  feature loss* (only distances above their 0.999 quantile count) plus a penalty keeping
  its outputs small on out-of-distribution images (procedural textures here, ImageNet in
  the paper).
* **Autoencoder** for logical anomalies: it predicts the teacher's output from a 1x1 code;
  the student's second half learns to predict the autoencoder's output.
* **Maps**: ``mean((T - S_st)^2)`` and ``mean((A - S_ae)^2)`` over channels, each
  normalised by its 0.9 and 0.995 quantiles on held-out normal images (``0.1 (m - q_a) /
  (q_b - q_a)``), averaged; padded back to the input size (edge cells repeated; the paper
  pads a constant). The image score is the maximum of the combined map.

Budget: the paper trains 60,000 teacher and 70,000 student steps on a GPU. The defaults here
are sized for a CPU (a narrower PDN; 10,000 teacher steps on 96-pixel crops, 2,000 student
steps; ``width`` and the step counts scale it back up); see docs/detectors/efficientad.md
for the measured effect.

References
----------
Batzner, Heckler & König. EfficientAD: Accurate Visual Anomaly Detection at
Millisecond-Level Latencies. WACV 2024.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.errors import InputError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from .backbones import LITE_MEAN, LITE_STD, describe, describe_layers, load_backbone
from .efficientad_crops import colour_jitter, crop_cells, windows
from .efficientad_nets import PDN, AutoEncoder
from .efficientad_teacher import TeacherDistillation
from .input import ImageSource
from .module_state import load_module_arrays, module_arrays, module_state_spec, on_meta
from .params import DEVICE, LEARNING_RATE, SEED, THREADS, TRAINING_COMMON
from .preprocess import RESIZE_POLICIES
from .textures import augment_image, procedural_texture
from .training import PixelTrainedDetector

VARIANTS = ("S", "M")
# Per variant: (width, out_channels) when not given.
VARIANT_DEFAULTS = {"S": (0.125, 32), "M": (0.25, 64)}
TEACHER_LAYERS = ("stage4", "stage5")
# A crop side: a multiple of 4 of at least 36 pixels (see ``crop_batch``).
CROP = Interval(Integral, 36, 4096, multiple_of=4)


@register(
    "efficientad",
    modality="image",
    paper="Batzner et al. EfficientAD: Accurate Visual Anomaly Detection at Millisecond-Level Latencies. WACV 2024",
    year=2024,
    can_localise=True,
)
class EfficientAD(TeacherDistillation, PixelTrainedDetector):
    """EfficientAD (Batzner et al., WACV 2024): PDN student-teacher + autoencoder.

    Parameters
    ----------
    variant:
        "S" (PDN-S) or "M" (PDN-M).
    width:
        Channel multiplier of the PDNs and the autoencoder relative to the paper (1.0 =
        paper widths 128/256 for S, 256/512 for M). None: 0.125 for S, 0.25 for M (sized
        for CPU latency).
    out_channels:
        Teacher output channels (paper: 384; at most the 120 dimensions of the
        EfficientNet-Lite target here). None: 32 for S, 64 for M.
    teacher_steps, teacher_batch:
        Distillation steps, and crops (whole images when ``teacher_crop`` is None) per step
        for the teacher.
    teacher_crop:
        Side in pixels (a multiple of 4, at least 36; capped at ``image_size``) of the
        random crops the teacher is distilled on, unpadded, against the exact cells of the
        whole image's target grid (``crop_batch``; the PDN is fully convolutional, so this
        teaches the same function as whole images at a fraction of the cost per step).
        None: whole padded images, as in the paper.
    student_crop:
        The same for the student and the autoencoder-imitating head; None (default): whole
        images, as in the paper.
    teacher_corpus:
        "mixed" (augmented training images, procedural textures, simulated anomalies) or
        "train" (augmented training images only).
    teacher_images:
        Size of the distillation corpus; its backbone targets are computed once.
    max_steps, batch_size:
        Student/autoencoder steps and images per step (paper: 70,000 steps of 1 image).
    lr:
        Adam learning rate of student and autoencoder (paper: 1e-4, weight decay 1e-5, x0.1
        after 95% of the steps).
    hard_quantile:
        The student's hard-feature loss averages the distances above this quantile (paper:
        0.999).
    image_size, resize:
        Network input size and resizing policy (``image.preprocess``).
    validation_fraction:
        Held-out normal images for early stopping and the map quantiles (paper: 10%).
    eval_every, patience, max_minutes, checkpoint_dir:
        Validation period (the student-teacher and student-autoencoder distances on held-out
        normal images), early stopping (off by default: the paper trains a fixed number of
        steps, and the last weights are kept), wall-clock budget of the whole ``fit``
        (default 18 minutes, sized for a 2-core CPU; the teacher gets 30% of it; None for
        bit-reproducible runs), resumable checkpoints.
    num_threads, device, seed, verbose:
        Runtime and seed. ``num_threads`` defaults to 1: on a shared, oversubscribed CPU a
        second torch thread spins, and a step was measured 4x slower with 2 threads than
        with 1; raise it on an idle machine.

    References
    ----------
    Batzner, Heckler & König. EfficientAD: Accurate Visual Anomaly Detection at
    Millisecond-Level Latencies. WACV 2024.
    """

    quick_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "width": 0.0625,
        "out_channels": 16,
        "teacher_steps": 4,
        "teacher_batch": 2,
        "teacher_images": 8,
        "max_steps": 4,
        "batch_size": 2,
        "eval_every": 2,
        "num_threads": 1,
    }
    # ``make demo``: a few seconds of training on 128-pixel synthetic textures.
    demo_params: ClassVar[dict[str, Any]] = {
        "image_size": 64,
        "width": 0.0625,
        "out_channels": 16,
        "teacher_steps": 60,
        "teacher_images": 32,
        "max_steps": 100,
        "lr": 1e-3,
        "eval_every": 50,
        "num_threads": 1,
    }
    norm_mean = LITE_MEAN
    norm_std = LITE_STD

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **TRAINING_COMMON,
        "variant": [Options(str, VARIANTS)],
        "width": [Interval(Real, 0.0, 16.0, closed="right"), None],
        "out_channels": [Interval(Integral, 1, 120), None],
        "teacher_steps": [Interval(Integral, 1, 10_000_000)],
        "teacher_batch": [Interval(Integral, 1, 4096)],
        "teacher_crop": [CROP, None],
        "student_crop": [CROP, None],
        "teacher_corpus": [Options(str, ("mixed", "train"))],
        "teacher_images": [Interval(Integral, 1, 1_000_000)],
        "batch_size": [Interval(Integral, 1, 4096)],
        "lr": LEARNING_RATE,
        "hard_quantile": [Interval(Real, 0.0, 1.0, closed="left")],
        "image_size": [Interval(Integral, 64, 4096)],
        "resize": [Options(str, RESIZE_POLICIES)],
        "num_threads": THREADS,
        "device": DEVICE,
        "seed": SEED,
        "verbose": [bool],
    }

    def __init__(
        self,
        *,
        variant: str = "S",
        width: float | None = None,
        out_channels: int | None = None,
        teacher_steps: int = 10000,
        teacher_batch: int = 16,
        teacher_crop: int | None = 96,
        student_crop: int | None = None,
        teacher_corpus: str = "mixed",
        teacher_images: int = 256,
        max_steps: int = 2000,
        batch_size: int = 4,
        lr: float = 1e-4,
        hard_quantile: float = 0.999,
        image_size: int = 256,
        resize: str = "stretch",
        validation_fraction: float = 0.1,
        eval_every: int = 500,
        patience: int | None = None,
        max_minutes: float | None = 18.0,
        checkpoint_dir: str | None = None,
        num_threads: int | None = 1,
        device: str = "auto",
        seed: int = 0,
        verbose: bool = True,
    ):
        self.variant = variant
        self.width = width
        self.out_channels = out_channels
        self.teacher_steps = teacher_steps
        self.teacher_batch = teacher_batch
        self.teacher_crop = teacher_crop
        self.student_crop = student_crop
        self.teacher_corpus = teacher_corpus
        self.teacher_images = teacher_images
        self.max_steps = max_steps
        self.batch_size = batch_size
        self.lr = lr
        self.hard_quantile = hard_quantile
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

    # -- building blocks ----------------------------------------------------------------------
    @property
    def _width(self) -> float:
        return float(VARIANT_DEFAULTS[self.variant][0] if self.width is None else self.width)

    @property
    def _channels(self) -> int:
        return int(
            VARIANT_DEFAULTS[self.variant][1] if self.out_channels is None else self.out_channels
        )

    def _check_params(self) -> None:
        if self.variant not in VARIANTS:
            raise InputError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if not self._width > 0:
            raise InputError(f"width must be > 0, got {self.width}")
        if self.teacher_corpus not in ("mixed", "train"):
            raise InputError(
                f"teacher_corpus must be 'mixed' or 'train', got {self.teacher_corpus!r}"
            )
        if int(self.image_size) < 64:
            raise InputError(
                f"image_size must be at least 64 for EfficientAD, got {self.image_size}"
            )
        if not 0.0 <= float(self.hard_quantile) < 1.0:
            raise InputError(f"hard_quantile must lie in [0, 1), got {self.hard_quantile}")
        if self._channels < 1:
            raise InputError(f"out_channels must be >= 1, got {self.out_channels}")
        for name in ("teacher_crop", "student_crop"):
            crop = getattr(self, name)
            if crop is not None and (int(crop) != crop or crop % 4 or crop < 36):
                raise InputError(
                    f"{name} must be None (whole images) or a multiple of 4 of at least 36, "
                    f"got {crop}"
                )
        for name in ("teacher_steps", "teacher_batch", "teacher_images", "max_steps"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        self._check_pixel_params()

    def _build(self) -> None:
        device = self._torch_device()
        s, c, w = int(self.image_size), self._channels, self._width
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(self.seed))
            self.teacher_ = PDN(self.variant, c, w).to(device)
            self.student_ = PDN(self.variant, 2 * c, w).to(device)
            with torch.no_grad():
                grid = self.teacher_(torch.zeros(1, 3, s, s, device=device)).shape[-1]
            self.autoencoder_ = AutoEncoder(c, w, s, grid).to(device)
        for m in (self.teacher_, self.student_, self.autoencoder_):
            m.to(memory_format=torch.channels_last)
        self.grid_ = int(grid)
        for name in ("t_mean", "t_std", "quantiles"):
            size = 4 if name == "quantiles" else c
            self.__dict__[name + "_"] = torch.zeros(size, device=device)

    def _crop(self, crop: int | None) -> int | None:
        """A crop side no larger than the image (a multiple of 4); None stays None."""
        if crop is None:
            return None
        return min(int(crop), int(self.image_size) // 4 * 4)

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        # channels-last: the oneDNN convolutions of the narrow PDNs run several times faster
        return super()._tensor(images).contiguous(memory_format=torch.channels_last)

    def _backbone(self):
        return load_backbone("efficientnet_lite0", TEACHER_LAYERS, device=self._torch_device())

    # -- student and autoencoder --------------------------------------------------------------
    def _teacher_out(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            t = self.teacher_(x)
        return (t - self.t_mean_[None, :, None, None]) / self.t_std_[None, :, None, None]

    def _teacher_normalisation(self, train: np.ndarray) -> None:
        c = self._channels
        total = torch.zeros(c, dtype=torch.float64, device=self._torch_device())
        sq = torch.zeros_like(total)
        count = 0
        self.teacher_.eval()
        with torch.no_grad():
            for s in range(0, len(train), 16):
                t = self.teacher_(self._tensor(train[s : s + 16])).double()
                total += t.sum(dim=(0, 2, 3))
                sq += (t * t).sum(dim=(0, 2, 3))
                count += t.shape[0] * t.shape[2] * t.shape[3]
        mean = total / count
        self.t_mean_ = mean.float()
        self.t_std_ = (sq / count - mean * mean).clamp_min(1e-12).sqrt().float()

    def _penalty_pool(self, train: np.ndarray, rng: np.random.Generator, n: int = 64) -> np.ndarray:
        """Out-of-distribution images for the student's penalty (ImageNet in the paper):
        procedural textures, half of them augmented."""
        s = int(self.image_size)
        pool = []
        for _ in range(n):
            tex = procedural_texture((s, s), rng)
            pool.append(augment_image(tex, rng) if rng.random() < 0.5 else tex)
        return (np.stack(pool) * 255 + 0.5).astype(np.uint8)

    def _train_student(self, train: np.ndarray, val: np.ndarray, config: str) -> dict[str, Any]:
        device = self._torch_device()
        prep = self._prep()
        c = self._channels
        pool = self._penalty_pool(train, np.random.default_rng([int(self.seed), 13]))
        mean = torch.tensor(prep.mean, device=device)[None, :, None, None]
        std = torch.tensor(prep.std, device=device)[None, :, None, None]
        batch = min(int(self.batch_size), len(train))
        val_x = [self._tensor(val[s : s + 16]) for s in range(0, len(val), 16)]

        crop = self._crop(self.student_crop)
        size = int(self.image_size)

        def crops(x: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
            pixels = windows(x, range(len(x)), offsets, crop, scale=4, shift=0)
            return pixels.contiguous(memory_format=torch.channels_last)

        def step(t: int, rng: np.random.Generator) -> torch.Tensor:
            pick = rng.choice(len(train), size=batch, replace=False)
            raw = (
                torch.from_numpy(train[pick].astype(np.float32) / 255.0)
                .permute(0, 3, 1, 2)
                .to(device)
            )
            raw = raw.contiguous(memory_format=torch.channels_last)
            x = (raw - mean) / std
            pen = self._tensor(
                np.stack([pool[int(i)] for i in rng.integers(len(pool), size=batch)])
            )
            x_ae = ((colour_jitter(raw, rng) - mean) / std).contiguous(
                memory_format=torch.channels_last
            )
            ae = self.autoencoder_(x_ae)
            if crop is not None:
                # The student (unpadded, fully convolutional) on one crop per image: its
                # cells are the whole image's cells ``offset + i`` (``crop_batch``), so the
                # teacher runs on the same crop and the autoencoder's output is cut to them.
                n_off = (size - crop) // 4 + 1
                o_st, o_pen, o_ae = (rng.integers(0, n_off, size=(batch, 2)) for _ in range(3))
                x, pen, x_ae_s = crops(x, o_st), crops(pen, o_pen), crops(x_ae, o_ae)
                ae_s = windows(ae, range(batch), o_ae, crop_cells(crop), scale=1, shift=0)
            else:
                x_ae_s, ae_s = x_ae, ae
            t_st = self._teacher_out(x)
            s_st = self.student_(x)[:, :c]
            dist = (t_st - s_st) ** 2
            # hard-feature loss: the distances above their ``hard_quantile`` quantile
            k = max(1, math.ceil((1.0 - float(self.hard_quantile)) * dist.numel()))
            loss_hard = torch.topk(dist.flatten(), k, sorted=False).values.mean()
            loss_pen = (self.student_(pen)[:, :c] ** 2).mean()
            t_ae = self._teacher_out(x_ae)
            s_ae = self.student_(x_ae_s)[:, c:]
            loss_ae = ((t_ae - ae) ** 2).mean()
            loss_stae = ((ae_s - s_ae) ** 2).mean()
            return loss_hard + loss_pen + loss_ae + loss_stae

        def validate() -> float:
            total = 0.0
            for x in val_x:
                st, ae = self._raw_maps(x)
                total += float(st.mean() + ae.mean()) * len(x)
            return total / len(val)

        params = list(self.student_.parameters()) + list(self.autoencoder_.parameters())
        opt = torch.optim.Adam(params, lr=float(self.lr), weight_decay=1e-5)
        n = int(self.max_steps)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=max(1, int(0.95 * n)), gamma=0.1)
        trainer = self._trainer(
            {"student": self.student_, "autoencoder": self.autoencoder_},
            {"student": opt},
            schedulers={"student": sched},
            name="student",
            max_steps=n,
            config=config,
            validate=validate,
            restore_best=False,
        )
        return trainer.run(step).to_dict()

    def _raw_maps(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self._channels
        t = self._teacher_out(x)
        s = self.student_(x)
        a = self.autoencoder_(x)
        st = ((t - s[:, :c]) ** 2).mean(1)
        ae = ((a - s[:, c:]) ** 2).mean(1)
        return st, ae

    def _map_normalisation(self, val: np.ndarray) -> None:
        sts, aes = [], []
        with torch.no_grad():
            for s in range(0, len(val), 16):
                st, ae = self._raw_maps(self._tensor(val[s : s + 16]))
                sts.append(st.flatten())
                aes.append(ae.flatten())
        st_all, ae_all = torch.cat(sts).double(), torch.cat(aes).double()
        q = torch.tensor([0.9, 0.995], dtype=torch.float64, device=st_all.device)
        qs = torch.cat([torch.quantile(st_all, q), torch.quantile(ae_all, q)]).float()
        self.quantiles_ = qs

    # -- fit / score --------------------------------------------------------------------------
    def _fit(self, data: ImageSource) -> None:
        self._check_params()
        self._start_budget()
        with self._threads():
            images = self._training_views(data)
            train_idx, val_idx = self._split(len(images))
            train, val = images[train_idx], images[val_idx]
            self._build()
            config = self._fingerprint(images)
            self.teacher_training_ = self._distil_teacher(train, val, config)
            self._teacher_normalisation(train)
            self.training_ = self._train_student(train, val, config)
            for m in (self.teacher_, self.student_, self.autoencoder_):
                m.eval()
            self._map_normalisation(val)

    def _infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        st, ae = self._raw_maps(x)
        q = self.quantiles_
        st = 0.1 * (st - q[0]) / (q[1] - q[0]).clamp_min(1e-12)
        ae = 0.1 * (ae - q[2]) / (q[3] - q[2]).clamp_min(1e-12)
        combined = 0.5 * st + 0.5 * ae
        scores = combined.flatten(1).amax(1)
        # Output cell i sees input pixels [4i, 4i + 33), centred on 4 (i + 4): pad by 4 cells
        # and resize, as in the paper, to bring the map to the input grid. The padding repeats
        # the edge cells (the paper pads a constant): the 16-pixel border band is inside the
        # edge cells' receptive fields, and a constant there hid every defect touching the
        # border (38% of MTD's defect pixels lie in that band; pixel AUROC 0.55 -> 0.74).
        size = x.shape[-1]
        padded = F.pad(combined[:, None], (4, 4, 4, 4), mode="replicate")
        maps = F.interpolate(padded, size=(size, size), mode="bilinear", align_corners=False)[:, 0]
        return maps, scores

    # -- state --------------------------------------------------------------------------------
    def _get_state(self):
        arrays = {
            **module_arrays(self.teacher_, "teacher"),
            **module_arrays(self.student_, "student"),
            **module_arrays(self.autoencoder_, "autoencoder"),
            "t_mean": self.t_mean_.cpu().numpy(),
            "t_std": self.t_std_.cpu().numpy(),
            "quantiles": self.quantiles_.cpu().numpy(),
        }
        meta = {
            "grid": self.grid_,
            "teacher_training": self.teacher_training_,
            "training": self.training_,
            "teacher_target": describe(self._backbone()),
        }
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        """The three networks' weights, exactly as built from ``variant``, ``width``,
        ``out_channels`` and ``image_size`` (the grid from a shape-only forward pass), the
        teacher's channel statistics and the four map quantiles."""
        s, c, w = int(self.image_size), self._channels, self._width
        teacher = on_meta(lambda: PDN(self.variant, c, w))
        student = on_meta(lambda: PDN(self.variant, 2 * c, w))
        grid = int(teacher(torch.zeros(1, 3, s, s, device="meta")).shape[-1])
        autoencoder = on_meta(lambda: AutoEncoder(c, w, s, grid))
        target = describe_layers("efficientnet_lite0", TEACHER_LAYERS)
        return StateSpec(
            arrays={
                **module_state_spec(teacher, "teacher"),
                **module_state_spec(student, "student"),
                **module_state_spec(autoencoder, "autoencoder"),
                "t_mean": ArraySpec((c,), dtype="float32"),
                "t_std": ArraySpec((c,), dtype="float32", value_range=(1e-7, None)),
                "quantiles": ArraySpec((4,), dtype="float32"),
            },
            meta={
                "grid": [Interval(Integral, grid, grid)],
                "teacher_training": [dict],
                "training": [dict],
                "teacher_target": [Satisfies(lambda v: v == target, f"the layout {target}")],
            },
        )

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._build()
        device = self._torch_device()
        load_module_arrays(self.teacher_, arrays, "teacher")
        load_module_arrays(self.student_, arrays, "student")
        load_module_arrays(self.autoencoder_, arrays, "autoencoder")
        for name in ("t_mean", "t_std", "quantiles"):
            self.__dict__[name + "_"] = torch.from_numpy(np.array(arrays[name])).to(device)
        for m in (self.teacher_, self.student_, self.autoencoder_):
            m.eval()
        self.teacher_training_ = meta.get("teacher_training", {})
        self.training_ = meta.get("training", {})
