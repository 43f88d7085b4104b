"""The training loop shared by the trained image detectors (EfficientAD, SimpleNet, DRAEM,
reverse distillation).

``Trainer`` runs a method's ``step`` function for a number of optimisation steps and adds
what every method needs:

* **Seeded and resumable.** All randomness of step ``t`` comes from generators seeded by
  ``(seed, t)`` (a numpy ``Generator`` handed to the step, and torch's global generator,
  re-seeded inside ``torch.random.fork_rng`` so the caller's state is untouched). A run
  resumed from a checkpoint therefore takes exactly the same steps as an uninterrupted one.
* **Checkpoints** in safetensors (never pickle): model weights, the optimiser and scheduler
  states flattened to tensors, the best weights seen so far, and a JSON header with the step,
  the early-stopping state and a fingerprint of the configuration and data. ``fit`` with the
  same ``checkpoint_dir`` resumes; a finished phase is not run again.
* **Early stopping** on a validation signal the method computes from held-out *normal*
  images only (lower is better); the best weights are restored at the end.
* **A time budget** (``max_minutes``, wall-clock, summed over resumed runs): training stops
  after the step that crosses it. A run stopped by the budget depends on the machine's
  speed; leave it ``None`` for bit-reproducible results.
* **A rich progress bar** with the running loss, silent when not verbose or not a terminal.

The detectors' shared set-up of this loop is ``image.training``; module weights as model-file
arrays are ``image.module_state``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..core.errors import InputError
from ..progress import progress_bar

StepOutput = torch.Tensor | dict[str, torch.Tensor]
CHECKPOINT_FORMAT = "normalcy.checkpoint"
CHECKPOINT_VERSION = 1


# -- seeds ----------------------------------------------------------------------------------


def step_seed(seed: int, step: int, stream: int = 0) -> int:
    """A 63-bit seed for step ``step`` of a run seeded with ``seed`` (independent streams)."""
    ss = np.random.SeedSequence([int(seed) & 0xFFFFFFFF, int(step), int(stream)])
    return int(ss.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))


# -- checkpoints ---------------------------------------------------------------------------------


def _flatten_optimizer(opt_state: dict[str, Any], prefix: str):
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for idx, st in opt_state["state"].items():
        for key, val in st.items():
            name = f"{prefix}.state.{idx}.{key}"
            if isinstance(val, torch.Tensor):
                tensors[name] = val.detach().cpu().contiguous()
            else:
                scalars[name] = val
    return tensors, {"param_groups": opt_state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict[str, Any], prefix: str):
    state: dict[int, dict[str, Any]] = {}
    start = prefix + ".state."
    for name, val in list(tensors.items()) + list(meta["scalars"].items()):
        if not name.startswith(start):
            continue
        idx, key = name[len(start) :].split(".", 1)
        state.setdefault(int(idx), {})[key] = val
    return {"state": state, "param_groups": meta["param_groups"]}


def _atomic_save(tensors: dict[str, torch.Tensor], header: dict[str, Any], path: Path) -> None:
    from safetensors.torch import save

    blob = save(tensors, metadata={"normalcy": json.dumps(header)})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    from safetensors import safe_open

    tensors: dict[str, torch.Tensor] = {}
    with safe_open(str(path), framework="pt", device="cpu") as fh:
        header = json.loads((fh.metadata() or {}).get("normalcy", "{}"))
        for key in fh.keys():  # noqa: SIM118 - safe_open has no __iter__
            tensors[key] = fh.get_tensor(key)
    if header.get("format") != CHECKPOINT_FORMAT:
        raise InputError(f"{path} is not a normalcy training checkpoint")
    return tensors, header


def fingerprint(config: dict[str, Any], *arrays: np.ndarray) -> str:
    """Hash of a JSON configuration and data arrays: a checkpoint resumes only on a match."""
    h = hashlib.blake2b(digest_size=16)
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.shape, a.dtype.str)).encode())
        h.update(a.data)
    return h.hexdigest()


# -- the loop -------------------------------------------------------------------------------------


@dataclass
class TrainResult:
    """What a training phase did.

    ``steps``: optimisation steps taken; ``best_step`` / ``best_val``: the step whose weights
    were kept and its validation value (None without validation); ``stopped``: why it ended
    (``"max_steps"``, ``"early_stopping"`` or ``"time_budget"``); ``seconds``: wall-clock
    time over all (resumed) runs; ``history``: one entry per evaluation.
    """

    steps: int
    best_step: int
    best_val: float | None
    stopped: str
    seconds: float
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": self.steps,
            "best_step": self.best_step,
            "best_val": self.best_val,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 3),
            "history": self.history,
        }


class Trainer:
    """Runs ``step(t, rng) -> loss`` for ``max_steps`` steps; see the module docstring.

    Parameters
    ----------
    modules:
        The trained networks by name; put in train mode for steps, eval mode for validation,
        and saved in checkpoints.
    optimizers, schedulers:
        By name. After each step every optimiser steps, then every scheduler.
    max_steps:
        Number of optimisation steps.
    validate:
        ``validate() -> float`` (lower is better) on held-out normal data, or None. Called every
        ``eval_every`` steps and after the last step, in eval mode without gradients.
    patience:
        Evaluations without an improvement larger than ``min_delta`` (relative) before
        stopping; None never stops early.
    max_minutes:
        Wall-clock budget, or None.
    checkpoint_dir, name:
        Where ``<name>.safetensors`` is kept; None disables checkpoints.
    checkpoint_every:
        Steps between checkpoints (and at every evaluation and at the end).
    config:
        Fingerprint (``fingerprint``) of what is trained on: a checkpoint with another
        fingerprint is ignored (with a warning) rather than resumed.
    grad_clip:
        Clip the global gradient norm to this value, or None.
    restore_best:
        Keep the weights of the best validation (default); False keeps the last weights and
        uses validation only for early stopping and the history.
    """

    def __init__(
        self,
        modules: dict[str, nn.Module],
        optimizers: dict[str, torch.optim.Optimizer],
        *,
        max_steps: int,
        schedulers: dict[str, Any] | None = None,
        validate: Callable[[], float] | None = None,
        eval_every: int = 100,
        patience: int | None = 5,
        min_delta: float = 0.0,
        max_minutes: float | None = None,
        checkpoint_dir: str | Path | None = None,
        checkpoint_every: int | None = None,
        name: str = "model",
        config: str = "",
        seed: int = 0,
        grad_clip: float | None = None,
        restore_best: bool = True,
        verbose: bool = True,
        desc: str | None = None,
    ):
        if int(max_steps) < 0:
            raise InputError(f"max_steps must be >= 0, got {max_steps}")
        if int(eval_every) < 1:
            raise InputError(f"eval_every must be >= 1, got {eval_every}")
        if max_minutes is not None and not float(max_minutes) > 0:
            raise InputError(f"max_minutes must be > 0 or None, got {max_minutes}")
        if patience is not None and int(patience) < 1:
            raise InputError(f"patience must be >= 1 or None, got {patience}")
        self.modules = modules
        self.optimizers = optimizers
        self.schedulers = schedulers or {}
        self.max_steps = int(max_steps)
        self.validate = validate
        self.eval_every = int(eval_every)
        self.patience = None if patience is None else int(patience)
        self.min_delta = float(min_delta)
        self.max_minutes = None if max_minutes is None else float(max_minutes)
        self.path = None if checkpoint_dir is None else Path(checkpoint_dir) / f"{name}.safetensors"
        self.checkpoint_every = checkpoint_every
        self.name = name
        self.config = config
        self.seed = int(seed)
        self.grad_clip = grad_clip
        self.restore_best = bool(restore_best)
        self.verbose = verbose
        self.desc = desc or name

    # -- state -------------------------------------------------------------------------------
    def _params(self) -> list[torch.Tensor]:
        return [p for m in self.modules.values() for p in m.parameters() if p.requires_grad]

    def _weights(self) -> dict[str, dict[str, torch.Tensor]]:
        return {
            k: {n: t.detach().clone() for n, t in m.state_dict().items()}
            for k, m in self.modules.items()
        }

    def _save(self, header: dict[str, Any], best: dict[str, dict[str, torch.Tensor]] | None):
        if self.path is None:
            return
        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, Any] = {"optimizers": {}, "schedulers": {}}
        for k, m in self.modules.items():
            for n, t in m.state_dict().items():
                tensors[f"model.{k}.{n}"] = t.detach().cpu().contiguous()
        if best is not None:
            for k, sd in best.items():
                for n, t in sd.items():
                    tensors[f"best.{k}.{n}"] = t.detach().cpu().contiguous()
        for k, opt in self.optimizers.items():
            t, m = _flatten_optimizer(opt.state_dict(), f"optim.{k}")
            tensors.update(t)
            meta["optimizers"][k] = m
        for k, sch in self.schedulers.items():
            meta["schedulers"][k] = sch.state_dict()
        header = {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.config,
            "has_best": best is not None,
            **header,
            **meta,
        }
        _atomic_save(tensors, header, self.path)

    def _load(self) -> tuple[dict[str, Any], dict[str, dict[str, torch.Tensor]] | None] | None:
        if self.path is None or not self.path.is_file():
            return None
        try:
            tensors, header = _read_checkpoint(self.path)
        except Exception as exc:  # unreadable or foreign: start afresh, say so
            warnings.warn(f"ignoring checkpoint {self.path}: {exc}", stacklevel=3)
            return None
        if header.get("version") != CHECKPOINT_VERSION or header.get("config") != self.config:
            warnings.warn(
                f"ignoring checkpoint {self.path}: it was written for another configuration or "
                "other training data; training starts afresh and overwrites it",
                stacklevel=3,
            )
            return None
        for k, m in self.modules.items():
            sd = {
                n[len(f"model.{k}.") :]: t
                for n, t in tensors.items()
                if n.startswith(f"model.{k}.")
            }
            m.load_state_dict(sd, strict=True)
        for k, opt in self.optimizers.items():
            opt.load_state_dict(
                _unflatten_optimizer(tensors, header["optimizers"][k], f"optim.{k}")
            )
        for k, sch in self.schedulers.items():
            # Dict-valued entries (e.g. MultiStepLR's milestones Counter) are configuration the
            # scheduler was built with; JSON would turn their keys into strings.
            saved = {n: v for n, v in header["schedulers"][k].items() if not isinstance(v, dict)}
            sch.load_state_dict({**sch.state_dict(), **saved})
        best = None
        if header.get("has_best"):
            best = {
                k: {
                    n[len(f"best.{k}.") :]: t
                    for n, t in tensors.items()
                    if n.startswith(f"best.{k}.")
                }
                for k in self.modules
            }
        return header, best

    def _restore(self, best: dict[str, dict[str, torch.Tensor]]) -> None:
        for k, m in self.modules.items():
            m.load_state_dict(best[k], strict=True)

    # -- running -------------------------------------------------------------------------------
    def _evaluate(self) -> float:
        for m in self.modules.values():
            m.eval()
        with torch.no_grad():
            val = float(self.validate())  # type: ignore[misc]
        if not math.isfinite(val):
            raise FloatingPointError(f"validation of {self.name} gave {val}; training diverged")
        return val

    def run(self, step: Callable[[int, np.random.Generator], StepOutput]) -> TrainResult:
        """Train (or resume, or return at once if this phase already finished)."""
        state: dict[str, Any] = {
            "step": 0,
            "done": False,
            "stopped": "max_steps",
            "best_val": None,
            "best_step": 0,
            "bad_evals": 0,
            "seconds": 0.0,
            "running": None,
            "history": [],
        }
        best: dict[str, dict[str, torch.Tensor]] | None = None
        loaded = self._load()
        resumed_from = 0
        if loaded is not None:
            header, best = loaded
            state.update({k: header[k] for k in state if k in header})
            resumed_from = int(state["step"])
        if state["done"]:
            return self._result(state, resumed_from)

        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        t0 = time.monotonic() - float(state["seconds"])
        every = self.checkpoint_every
        stop = None
        with (
            torch.random.fork_rng(devices=devices),
            progress_bar(self.desc, self.max_steps, self.verbose) as update,
        ):
            update(advance=int(state["step"]))
            while int(state["step"]) < self.max_steps:
                t = int(state["step"])
                torch.manual_seed(step_seed(self.seed, t, 1))
                rng = np.random.default_rng(step_seed(self.seed, t, 0))
                for m in self.modules.values():
                    m.train()
                out = step(t, rng)
                loss = out["loss"] if isinstance(out, dict) else out
                for opt in self.optimizers.values():
                    opt.zero_grad(set_to_none=True)
                loss.backward()
                if self.grad_clip is not None:
                    torch.nn.utils.clip_grad_norm_(self._params(), float(self.grad_clip))
                for opt in self.optimizers.values():
                    opt.step()
                for sch in self.schedulers.values():
                    sch.step()
                value = float(loss.detach())
                if not math.isfinite(value):
                    raise FloatingPointError(
                        f"training of {self.name} diverged at step {t} (loss {value}); "
                        "try a smaller learning rate"
                    )
                running = state["running"]
                running = value if running is None else 0.9 * running + 0.1 * value
                state["running"] = running
                state["step"] = t + 1
                state["seconds"] = time.monotonic() - t0
                last = state["step"] == self.max_steps
                over = self.max_minutes is not None and state["seconds"] > 60 * self.max_minutes
                evaluated = False
                if self.validate is not None and (
                    state["step"] % self.eval_every == 0 or last or over
                ):
                    val = self._evaluate()
                    evaluated = True
                    state["history"].append({"step": state["step"], "loss": running, "val": val})
                    prev = state["best_val"]
                    if prev is None or val < prev - self.min_delta * abs(prev):
                        state["best_val"], state["best_step"], state["bad_evals"] = (
                            val,
                            state["step"],
                            0,
                        )
                        if self.restore_best:
                            best = self._weights()
                    else:
                        state["bad_evals"] += 1
                        if self.patience is not None and state["bad_evals"] >= self.patience:
                            stop = "early_stopping"
                    update(advance=1, loss=running, val=val)
                else:
                    update(advance=1, loss=running)
                if stop is None and over and not last:
                    stop = "time_budget"
                if stop is not None or last:
                    break
                if (every and state["step"] % int(every) == 0) or evaluated:
                    self._save(state, best)
        if stop is not None:
            state["stopped"] = stop
        if best is not None:
            self._restore(best)
        elif not self.restore_best or state["best_val"] is None:
            state["best_step"] = state["step"]
        state["done"] = True
        state["seconds"] = time.monotonic() - t0
        self._save(state, best)
        for m in self.modules.values():
            m.eval()
        return self._result(state, resumed_from)

    def _result(self, state: dict[str, Any], resumed_from: int) -> TrainResult:
        return TrainResult(
            steps=int(state["step"]),
            best_step=int(state["best_step"]),
            best_val=state["best_val"],
            stopped=str(state["stopped"]),
            seconds=float(state["seconds"]),
            history=list(state["history"]),
            resumed_from=resumed_from,
        )
