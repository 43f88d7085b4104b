"""Adversarial training of CT-D2GAN with resumable, pickle-free checkpoints.

One iteration (Feng et al. 2021, after Liu et al. 2018): draw a batch of windows of
``n_past + 1`` consecutive frames; the generator predicts the last frame from the others
and takes a step on

    lambda_int * L2 + lambda_gd * gradient loss
    + lambda_img * LSGAN(D_img(pred)) + lambda_vid * LSGAN(D_vid(past + pred));

then the two discriminators take a step on their least-squares losses (real next frame vs
prediction, real clip vs past + prediction).

Batches are drawn from a random stream seeded by ``(seed, iteration)``, so a run resumed
from a checkpoint continues exactly as the uninterrupted run would have.

Checkpoints (``checkpoint=path``): a safetensors file holding the weights of the three
networks, the optimisers' moment estimates and the iteration count, with a JSON header
naming the settings and a fingerprint of the training data. Written every
``checkpoint_every`` iterations and at the end (atomically: a temporary file then a rename).
When ``fit`` starts and the file exists, training resumes from it: the settings and the
data must be the same (otherwise ``InputError`` says what differs), the file must hold
exactly the arrays these networks have (otherwise ``ModelFileError``), and it is read
without unpickling anything.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, ModelFileError
from ..progress import progress_bar
from ..torch_helpers import load_module_arrays, module_arrays, require_torch
from . import ctd2gan_nets as nets

CHECKPOINT_FORMAT = "normalcy-ctd2gan-checkpoint/1"
_HEADER_KEY = "normalcy_checkpoint"


@dataclass(frozen=True)
class TrainConfig:
    """What one training run needs besides the networks and the data."""

    n_past: int
    iterations: int
    batch_size: int
    lr_g: float
    lr_d: float
    lambda_int: float
    lambda_gd: float
    lambda_img: float
    lambda_vid: float
    seed: int

    @property
    def adversarial(self) -> bool:
        return self.lambda_img > 0 or self.lambda_vid > 0


def window_index(lengths: list[int], span: int) -> np.ndarray:
    """(n, 2) array of (clip, start) for every window of ``span`` frames within one clip."""
    rows = [(c, s) for c, n in enumerate(lengths) for s in range(n - span + 1)]
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def gather_windows(clips: list[np.ndarray], index: np.ndarray, span: int) -> np.ndarray:
    """Stack the windows ``index`` names: (B, span, C, H, W)."""
    return np.stack([clips[c][s : s + span] for c, s in index])


def data_fingerprint(clips: list[np.ndarray]) -> str:
    """A short fingerprint of the training frames (shapes and a coarse checksum)."""
    import hashlib

    digest = hashlib.sha256()
    for clip in clips:
        digest.update(str(clip.shape).encode())
        digest.update(np.ascontiguousarray(clip[:, :, ::4, ::4], dtype=np.float32).tobytes())
    return digest.hexdigest()[:32]


class Trainer:
    """Trains ``generator`` (and the discriminators when adversarial) on ``clips``.

    ``clips``: float32 arrays (T, C, H, W) in [-1, 1]. ``signature``: the settings that a
    checkpoint must match to be resumed (architecture and training parameters).
    """

    def __init__(
        self,
        generator: Any,
        image_disc: Any,
        video_disc: Any,
        clips: list[np.ndarray],
        config: TrainConfig,
        device: Any,
        signature: dict[str, Any],
    ) -> None:
        self.torch = require_torch("video")
        self.g, self.di, self.dv = generator, image_disc, video_disc
        self.clips = clips
        self.cfg = config
        self.device = device
        self.span = config.n_past + 1
        self.index = window_index([len(c) for c in clips], self.span)
        if len(self.index) == 0:
            raise InputError(
                f"training needs clips of at least {self.span} frames (n_past + 1); got "
                f"clips of {sorted({len(c) for c in clips})} frames"
            )
        # JSON round trip: the form a checkpoint's header is compared in (tuples -> lists)
        self.signature = json.loads(
            json.dumps(
                {
                    **signature,
                    "train": asdict(config) | {"iterations": None},
                    "data": data_fingerprint(clips),
                }
            )
        )
        torch = self.torch
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=config.lr_g, betas=(0.5, 0.999))
        d_params = list(self.di.parameters()) + list(self.dv.parameters())
        self.opt_d = torch.optim.Adam(d_params, lr=config.lr_d, betas=(0.5, 0.999))
        self.iteration = 0
        self.losses: list[float] = []

    # -- one step -----------------------------------------------------------------------
    def _batch(self, iteration: int) -> Any:
        rng = np.random.default_rng([self.cfg.seed, iteration])
        n = len(self.index)
        rows = rng.choice(n, size=self.cfg.batch_size, replace=n < self.cfg.batch_size)
        batch = gather_windows(self.clips, self.index[rows], self.span)
        return self.torch.from_numpy(batch).to(self.device)

    def step(self) -> float:
        torch, cfg = self.torch, self.cfg
        clip = self._batch(self.iteration)
        past, target = clip[:, :-1], clip[:, -1]
        self.g.train()
        pred = self.g(past)
        loss = cfg.lambda_int * nets.intensity_loss(pred, target)
        loss = loss + cfg.lambda_gd * nets.gradient_loss(pred, target)
        if cfg.adversarial:
            fake_clip = torch.cat([past, pred[:, None]], dim=1)
            if cfg.lambda_img > 0:
                loss = loss + cfg.lambda_img * nets.lsgan_generator_loss(self.di(pred))
            if cfg.lambda_vid > 0:
                loss = loss + cfg.lambda_vid * nets.lsgan_generator_loss(self.dv(fake_clip))
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        if cfg.adversarial:
            fake = pred.detach()
            d_loss = nets.lsgan_discriminator_loss(self.di(target), self.di(fake))
            d_loss = d_loss + nets.lsgan_discriminator_loss(
                self.dv(clip), self.dv(torch.cat([past, fake[:, None]], dim=1))
            )
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        self.iteration += 1
        value = float(loss.detach())
        self.losses.append(value)
        return value

    def run(
        self,
        checkpoint: str | Path | None = None,
        checkpoint_every: int = 100,
        verbose: bool = False,
        stop_after: int | None = None,
        on_step: Callable[[int, float], None] | None = None,
    ) -> None:
        """Train until ``cfg.iterations`` (resuming from ``checkpoint`` when it exists).

        ``stop_after``: stop (with a checkpoint) after this many iterations of this call,
        as an interruption would; the next call resumes.
        """
        if checkpoint is not None and Path(checkpoint).exists():
            self.load_checkpoint(checkpoint)
        done_here = 0
        total = self.cfg.iterations
        with progress_bar("ctd2gan", total, verbose) as advance:
            advance(self.iteration)
            while self.iteration < total:
                loss = self.step()
                done_here += 1
                advance(loss=loss)
                if on_step is not None:
                    on_step(self.iteration, loss)
                if checkpoint is not None and (
                    self.iteration % checkpoint_every == 0 or self.iteration == total
                ):
                    self.save_checkpoint(checkpoint)
                if stop_after is not None and done_here >= stop_after:
                    if checkpoint is not None:
                        self.save_checkpoint(checkpoint)
                    break
        self.g.eval()

    # -- checkpoints --------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {
            **module_arrays(self.g, "g."),
            **module_arrays(self.di, "di."),
            **module_arrays(self.dv, "dv."),
        }
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            for i, state in opt.state_dict()["state"].items():
                for key, value in state.items():
                    arrays[f"{name}.{i}.{key}"] = np.atleast_1d(value.detach().cpu().numpy()).copy()
        return arrays

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write the checkpoint atomically; returns its path."""
        from safetensors.numpy import save_file

        path = Path(path)
        header = {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration,
            "signature": self.signature,
            "losses": self.losses[-1000:],
        }
        tmp = path.with_name(path.name + ".tmp")
        save_file(self._arrays(), str(tmp), metadata={_HEADER_KEY: json.dumps(header)})
        os.replace(tmp, path)
        return path

    def _expected_shapes(self) -> dict[str, tuple[int, ...]]:
        shapes = {k: v.shape for k, v in self._arrays().items() if not k.startswith("opt_")}
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            params = [p for group in opt.param_groups for p in group["params"]]
            for i, p in enumerate(params):
                shapes[f"{name}.{i}.step"] = (1,)
                shapes[f"{name}.{i}.exp_avg"] = tuple(p.shape)
                shapes[f"{name}.{i}.exp_avg_sq"] = tuple(p.shape)
        return shapes

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore networks, optimisers and the iteration count from ``path``."""
        from safetensors import safe_open

        path = Path(path)
        shapes = self._expected_shapes()
        limit = 8 * sum(int(np.prod(s)) for s in shapes.values()) + 4_000_000
        if path.stat().st_size > limit:
            raise ModelFileError(
                f"checkpoint {path} is {path.stat().st_size} bytes, more than these networks "
                f"can need ({limit}); it was not written for them"
            )
        try:
            with safe_open(str(path), framework="numpy") as handle:
                header = json.loads((handle.metadata() or {}).get(_HEADER_KEY, "null"))
                keys = set(handle.keys())
                arrays = {k: handle.get_tensor(k) for k in keys if k in shapes}
        except (OSError, ValueError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"checkpoint {path} cannot be read: {exc}") from None
        except Exception as exc:  # safetensors raises its own error types
            raise ModelFileError(f"checkpoint {path} cannot be read: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != CHECKPOINT_FORMAT:
            raise ModelFileError(f"{path} is not a CT-D2GAN checkpoint ({CHECKPOINT_FORMAT})")
        if header.get("signature") != self.signature:
            theirs = header.get("signature") or {}
            differ = sorted(
                k
                for k in set(theirs) | set(self.signature)
                if theirs.get(k) != self.signature.get(k)
            )
            raise InputError(
                f"checkpoint {path} was written for other settings or data (differs in "
                f"{differ}); delete it or pass another checkpoint path to start afresh"
            )
        iteration = header.get("iteration")
        if not isinstance(iteration, int) or not 0 <= iteration <= self.cfg.iterations:
            raise InputError(
                f"checkpoint {path} is at iteration {iteration!r}, beyond iterations="
                f"{self.cfg.iterations}; raise iterations to continue training from it"
            )
        unknown = sorted(keys - set(shapes))
        missing = sorted(k for k in shapes if k not in keys and not k.startswith("opt_"))
        if unknown or missing:
            raise ModelFileError(
                f"checkpoint {path} does not fit these networks (unknown {unknown[:3]}, "
                f"missing {missing[:3]})"
            )
        for key, arr in arrays.items():
            if tuple(arr.shape) != shapes[key] or not np.isfinite(arr).all():
                raise ModelFileError(
                    f"checkpoint array {key!r} has shape {arr.shape} (expected {shapes[key]}) "
                    "or holds non-finite values"
                )
        load_module_arrays(self.g, arrays, "g.")
        load_module_arrays(self.di, arrays, "di.")
        load_module_arrays(self.dv, arrays, "dv.")
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state = opt.state_dict()
            restored: dict[int, dict[str, Any]] = {}
            for i in range(sum(len(g["params"]) for g in state["param_groups"])):
                keys_i = [f"{name}.{i}.{k}" for k in ("step", "exp_avg", "exp_avg_sq")]
                if all(k in arrays for k in keys_i):
                    restored[i] = {
                        "step": self.torch.tensor(float(arrays[keys_i[0]][0])),
                        "exp_avg": self.torch.from_numpy(arrays[keys_i[1]].copy()),
                        "exp_avg_sq": self.torch.from_numpy(arrays[keys_i[2]].copy()),
                    }
            opt.load_state_dict({"state": restored, "param_groups": state["param_groups"]})
        self.iteration = iteration
        losses = header.get("losses")
        self.losses = [float(v) for v in losses] if isinstance(losses, list) else []
