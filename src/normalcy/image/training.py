"""What the trained image detectors share: the train/validation split, the ``Trainer`` set-up
from their common parameters, the thread bound, the device, and (for the detectors whose
networks see pixels) the training views and the scoring loop.

The training loop itself is ``image.trainer``; module weights as model-file arrays are
``image.module_state`` (both re-exported here for existing imports).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from .base import ImageDetector
from .module_state import load_module_arrays, module_arrays
from .trainer import Trainer, fingerprint, progress_bar

__all__ = [
    "PixelTrainedDetector",
    "RUNTIME_PARAMS",
    "TrainedDetectorMixin",
    "Trainer",
    "fingerprint",
    "load_module_arrays",
    "load_views",
    "module_arrays",
    "to_tensor",
]


# -- the detectors' shared machinery ----------------------------------------------------------

# Parameters that change how training runs but not what it computes: a checkpoint written
# with other values of these still resumes.
RUNTIME_PARAMS = ("verbose", "checkpoint_dir", "num_threads", "device", "max_minutes")


class TrainedDetectorMixin:
    """What the trained image detectors share: the train/validation split, the ``Trainer``
    set-up from the common parameters, the device and the thread bound.

    A subclass stores ``validation_fraction``, ``patience``, ``eval_every``, ``max_minutes``,
    ``checkpoint_dir``, ``num_threads``, ``device``, ``seed`` and ``verbose``.
    """

    validation_fraction: float
    patience: int | None
    eval_every: int
    max_minutes: float | None
    checkpoint_dir: str | None
    num_threads: int | None
    device: str
    seed: int
    verbose: bool

    def _torch_device(self) -> torch.device:
        from .feature_detector import resolve_device

        return resolve_device(self.device)

    def _threads(self):
        from .feature_detector import torch_threads

        return torch_threads(self.num_threads)

    def _start_budget(self) -> None:
        """Start the clock of ``max_minutes``, which bounds the whole ``fit`` (feature
        extraction and every training phase), not each phase separately."""
        self._budget_start = time.monotonic()

    def _budget_minutes(self, share: float = 1.0) -> float | None:
        """Minutes a training phase may use: ``share`` of what is left of ``max_minutes``
        since ``_start_budget``, or None without a budget. A phase always takes at least one
        step, so a spent budget ends each remaining phase after its first step."""
        if self.max_minutes is None:
            return None
        start = getattr(self, "_budget_start", None)
        used = 0.0 if start is None else (time.monotonic() - start) / 60.0
        return max(1e-5, float(share) * (float(self.max_minutes) - used))

    def _check_training_params(self) -> None:
        if not 0.0 <= float(self.validation_fraction) < 1.0:
            raise InputError(
                f"validation_fraction must lie in [0, 1), got {self.validation_fraction}"
            )
        if int(self.eval_every) < 1:
            raise InputError(f"eval_every must be >= 1, got {self.eval_every}")
        if self.patience is not None and int(self.patience) < 1:
            raise InputError(f"patience must be >= 1 or None, got {self.patience}")
        if self.max_minutes is not None and not float(self.max_minutes) > 0:
            raise InputError(f"max_minutes must be > 0 or None, got {self.max_minutes}")

    def _split(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Seeded split of ``n`` training images into (train, validation) indices; the
        validation part (normal images only) drives early stopping and any calibration of
        the maps. With fewer than 4 images, all are used for both."""
        n_val = int(round(float(self.validation_fraction) * n))
        if n < 4 or n_val == 0:
            idx = np.arange(n)
            return idx, idx
        perm = np.random.default_rng([int(self.seed), 7]).permutation(n)
        return np.sort(perm[n_val:]), np.sort(perm[:n_val])

    def _fingerprint(self, *arrays: np.ndarray) -> str:
        params = {k: v for k, v in self.get_params().items() if k not in RUNTIME_PARAMS}  # type: ignore[attr-defined]
        return fingerprint({"detector": self.name, "params": params}, *arrays)  # type: ignore[attr-defined]

    def _trainer(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        *,
        name: str,
        max_steps: int,
        config: str,
        validate: Callable[[], float] | None = None,
        schedulers: dict[str, Any] | None = None,
        patience: int | None | str = "default",
        grad_clip: float | None = None,
        restore_best: bool = True,
        budget_share: float = 1.0,
    ) -> Trainer:
        """A ``Trainer`` with the detector's common settings; its time budget is
        ``budget_share`` of what is left of ``max_minutes`` (``_budget_minutes``)."""
        return Trainer(
            modules,
            optimizers,
            max_steps=max_steps,
            schedulers=schedulers,
            validate=validate,
            eval_every=int(self.eval_every),
            patience=self.patience if patience == "default" else patience,  # type: ignore[arg-type]
            max_minutes=self._budget_minutes(budget_share),
            checkpoint_dir=self.checkpoint_dir,
            name=name,
            config=config,
            seed=int(self.seed),
            grad_clip=grad_clip,
            restore_best=restore_best,
            verbose=bool(self.verbose),
            desc=f"{self.name}: {name}",  # type: ignore[attr-defined]
        )


def load_views(
    source: Any, indices: Sequence[int] | np.ndarray, prep: Any, verbose: bool = False
) -> np.ndarray:
    """The network views of ``source[i]`` for ``i`` in ``indices`` as (N, S, S, 3) uint8.

    ``prep`` is an ``image.preprocess.Preprocess`` without tiling (one view per image).
    """
    idx = [int(i) for i in indices]
    s = prep.input_size
    out = np.empty((len(idx), s, s, 3), dtype=np.uint8)
    with progress_bar("loading images", len(idx), verbose) as update:
        for j, i in enumerate(idx):
            views, _ = prep.views(source[i])
            out[j] = np.clip(views[0] * 255.0 + 0.5, 0, 255).astype(np.uint8)
            update()
    return out


def to_tensor(images: np.ndarray, prep: Any, device: torch.device) -> torch.Tensor:
    """(B, S, S, 3) uint8 or float [0, 1] → normalised (B, 3, S, S) float32 tensor."""
    x = images.astype(np.float32) / 255.0 if images.dtype == np.uint8 else images
    return prep.normalise(x, device).contiguous()


class PixelTrainedDetector(TrainedDetectorMixin, ImageDetector):
    """Base of the trained detectors whose networks see pixels (EfficientAD, DRAEM).

    Training images become (N, S, S, 3) uint8 views (``image.preprocess.Preprocess``
    without tiling); scoring runs ``_infer`` on normalised batches and brings its (B, S, S)
    maps back to the output size. Subclasses store ``image_size``, ``resize`` and
    ``batch_size`` and set ``norm_mean`` / ``norm_std``.
    """

    image_size: int
    resize: str
    batch_size: int
    norm_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    norm_std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def _prep(self):
        from .preprocess import Preprocess

        return Preprocess(
            image_size=int(self.image_size),
            resize=self.resize,
            mean=self.norm_mean,
            std=self.norm_std,
        )

    def _check_pixel_params(self) -> None:
        self._prep()  # validates image_size and resize
        if int(self.batch_size) < 1:
            raise InputError(f"batch_size must be >= 1, got {self.batch_size}")
        self._check_training_params()

    def _training_views(self, source: Any) -> np.ndarray:
        return load_views(source, range(len(source)), self._prep(), bool(self.verbose))

    def _tensor(self, images: np.ndarray) -> torch.Tensor:
        return to_tensor(images, self._prep(), self._torch_device())

    def _infer(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, S, S) normalised → (maps (B, S, S), image scores (B,)), higher = anomalous."""
        raise NotImplementedError

    def _score(self, data: Any):
        from ..core.scores import Scores
        from .preprocess import assemble_maps

        out_size = data.output_size(self.on_mixed_sizes)
        prep = self._prep()
        n = len(data)
        scores = np.empty(n, dtype=np.float64)
        maps = np.empty((n, *out_size), dtype=np.float32)
        bs = int(self.batch_size)
        with self._threads(), progress_bar(f"{self.name}: scoring", n, bool(self.verbose)) as upd:
            for start in range(0, n, bs):
                idx = np.arange(start, min(start + bs, n))
                views = np.stack([prep.views(data[int(i)])[0][0] for i in idx])
                with torch.inference_mode():
                    m, s = self._infer(self._tensor(views))
                scores[idx] = s.double().cpu().numpy()
                boxes = [(0, 0, *out_size)] * len(idx)
                maps[idx] = assemble_maps(
                    m.float().cpu(),
                    np.arange(len(idx)),
                    boxes,
                    out_size,
                    len(idx),
                    prep.input_size,
                    0.0,
                )
                upd(advance=len(idx))
        return Scores(scores=scores, maps=maps)
