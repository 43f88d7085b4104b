"""Model-agnostic meta-learning (MAML, Finn et al. 2017) of a frame predictor over
scenarios, and its few-shot adaptation: the learning procedure of SA2D (Zhu et al. 2024),
which follows the few-shot scene-adaptive detector of Lu et al. (ECCV 2020).

A *task* is one scenario (a scene or a camera view) given as clips (T, C, H, W) in
[-1, 1]. One meta-iteration samples ``meta_batch`` tasks; for each, K support and K query
windows of ``n_past + 1`` frames are drawn from the task, the predictor's weights take
``inner_steps`` plain gradient steps (rate ``inner_lr``) on the support loss, and the loss of
the adapted weights on the query windows is back-propagated to the initial weights (through
the inner steps with ``first_order=False``, the full MAML gradient; at the adapted weights
with ``first_order=True``, first-order MAML, which is what a CPU affords). The meta-gradient
averaged over the tasks updates the initial weights with Adam (``meta_lr``).

Adaptation to a new scenario: ``adapt`` copies the meta-learned weights and takes
``steps`` gradient steps on windows drawn from the K normal clips of that scenario.

The loss is the generator's prediction loss of CT-D2GAN without its adversarial terms:
L2 intensity plus image-gradient difference.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError
from ..progress import progress_bar
from ..torch_helpers import require_torch
from .ctd2gan_nets import gradient_loss, intensity_loss
from .ctd2gan_train import gather_windows, window_index


@dataclass(frozen=True)
class MetaConfig:
    n_past: int
    shots: int
    meta_iterations: int
    meta_batch: int
    inner_steps: int
    inner_lr: float
    meta_lr: float
    first_order: bool
    seed: int


def prediction_loss(pred: Any, target: Any) -> Any:
    return intensity_loss(pred, target) + gradient_loss(pred, target)


class Task:
    """Windows of one scenario: draws support and query windows."""

    def __init__(self, clips: list[np.ndarray], span: int, name: str) -> None:
        self.clips, self.span, self.name = clips, span, name
        self.index = window_index([len(c) for c in clips], span)
        if len(self.index) == 0:
            raise InputError(
                f"scenario {name!r} has no clip of {span} frames (n_past + 1); SA2D needs "
                "windows of consecutive frames"
            )

    def sample(self, rng: np.random.Generator, k: int) -> np.ndarray:
        rows = rng.choice(len(self.index), size=k, replace=len(self.index) < k)
        return gather_windows(self.clips, self.index[rows], self.span)

    def support_query(self, rng: np.random.Generator, k: int) -> tuple[np.ndarray, np.ndarray]:
        """K support and K query windows, disjoint when the scenario has 2K windows."""
        n = len(self.index)
        if n >= 2 * k:
            rows = rng.choice(n, size=2 * k, replace=False)
            s, q = rows[:k], rows[k:]
        else:
            s = rng.choice(n, size=k, replace=n < k)
            q = rng.choice(n, size=k, replace=n < k)
        return (
            gather_windows(self.clips, self.index[s], self.span),
            gather_windows(self.clips, self.index[q], self.span),
        )


def _loss_at(model: Any, params: dict[str, Any], buffers: dict[str, Any], batch: Any) -> Any:
    torch = require_torch("video")
    pred = torch.func.functional_call(model, {**params, **buffers}, (batch[:, :-1],))
    return prediction_loss(pred, batch[:, -1])


def _inner(
    model: Any,
    params: dict[str, Any],
    buffers: dict[str, Any],
    support: Any,
    steps: int,
    lr: float,
    create_graph: bool,
) -> dict[str, Any]:
    torch = require_torch("video")
    for _ in range(steps):
        loss = _loss_at(model, params, buffers, support)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = {k: p - lr * g for (k, p), g in zip(params.items(), grads, strict=True)}
    return params


def meta_train(
    model: Any, tasks: list[Task], cfg: MetaConfig, device: Any, verbose: bool = False
) -> list[float]:
    """MAML over ``tasks``; updates ``model`` in place; returns the query loss per iteration."""
    torch = require_torch("video")
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.meta_lr)
    names = [n for n, _ in model.named_parameters()]
    buffers = dict(model.named_buffers())
    history: list[float] = []
    model.train()
    with progress_bar("sa2d meta-training", cfg.meta_iterations, verbose) as advance:
        for it in range(cfg.meta_iterations):
            rng = np.random.default_rng([cfg.seed, it])
            chosen = rng.choice(len(tasks), size=min(cfg.meta_batch, len(tasks)), replace=False)
            optimiser.zero_grad(set_to_none=True)
            total = 0.0
            for t in chosen:
                s, q = tasks[int(t)].support_query(rng, cfg.shots)
                support = torch.from_numpy(s).to(device)
                query = torch.from_numpy(q).to(device)
                params = dict(model.named_parameters())
                if cfg.first_order:
                    fast = {k: v.detach().clone().requires_grad_(True) for k, v in params.items()}
                    fast = _inner(
                        model, fast, buffers, support, cfg.inner_steps, cfg.inner_lr, False
                    )
                    fast = {k: v.detach().requires_grad_(True) for k, v in fast.items()}
                    loss = _loss_at(model, fast, buffers, query)
                    grads = torch.autograd.grad(loss, [fast[k] for k in names])
                    for (_, p), g in zip(model.named_parameters(), grads, strict=True):
                        p.grad = g / len(chosen) if p.grad is None else p.grad + g / len(chosen)
                else:
                    fast = _inner(
                        model, params, buffers, support, cfg.inner_steps, cfg.inner_lr, True
                    )
                    loss = _loss_at(model, fast, buffers, query) / len(chosen)
                    loss.backward()
                total += float(loss.detach())
            optimiser.step()
            history.append(total / len(chosen) if cfg.first_order else total)
            advance(loss=history[-1])
    model.eval()
    return history


def adapt(
    model: Any,
    clips: list[np.ndarray],
    n_past: int,
    shots: int,
    steps: int,
    lr: float,
    seed: int,
    device: Any,
) -> Any:
    """A copy of ``model`` after ``steps`` gradient steps (rate ``lr``) on batches of
    ``shots`` windows drawn from ``clips`` (the new scenario's normal frames)."""
    torch = require_torch("video")
    task = Task(clips, n_past + 1, "adaptation")
    adapted = copy.deepcopy(model).train()
    optimiser = torch.optim.SGD(adapted.parameters(), lr=lr)
    for step in range(steps):
        rng = np.random.default_rng([seed, 1_000_003, step])
        batch = torch.from_numpy(task.sample(rng, shots)).to(device)
        loss = prediction_loss(adapted(batch[:, :-1]), batch[:, -1])
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return adapted.eval()
