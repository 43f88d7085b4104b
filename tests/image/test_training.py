"""The shared training loop: seeded, resumable (identical weights), early stopping, budget."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from normalcy.image.module_state import load_module_arrays, module_arrays
from normalcy.image.trainer import Trainer, fingerprint


def _problem(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 5, generator=g)
    y = x @ torch.randn(5, 1, generator=g) + 0.1 * torch.randn(64, 1, generator=g)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Dropout(0.1), torch.nn.Linear(8, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=7, gamma=0.5)

    def step(t: int, rng: np.random.Generator) -> torch.Tensor:
        idx = torch.from_numpy(rng.choice(64, size=16, replace=False))
        return torch.nn.functional.mse_loss(model(x[idx]), y[idx])

    def validate() -> float:
        with torch.no_grad():
            return float(torch.nn.functional.mse_loss(model(x), y))

    return model, opt, sched, step, validate


def _trainer(model, opt, sched, validate, **kw) -> Trainer:
    args = dict(max_steps=30, schedulers={"m": sched}, validate=validate, eval_every=5,
                patience=None, seed=3, verbose=False, name="m")  # fmt: skip
    args.update(kw)
    return Trainer({"m": model}, {"m": opt}, **args)


def test_loss_decreases_and_history_is_recorded():
    model, opt, sched, step, validate = _problem()
    before = validate()
    result = _trainer(model, opt, sched, validate).run(step)
    assert result.steps == 30 and result.stopped == "max_steps"
    assert [h["step"] for h in result.history] == [5, 10, 15, 20, 25, 30]
    assert validate() < 0.2 * before
    assert result.best_val == pytest.approx(min(h["val"] for h in result.history))


def test_same_seed_same_weights_and_caller_rng_untouched():
    weights = []
    for _ in range(2):
        model, opt, sched, step, validate = _problem()
        torch.manual_seed(123)
        _trainer(model, opt, sched, validate).run(step)
        after = torch.rand(1)  # the loop forks torch's generator: the caller's state is kept
        torch.manual_seed(123)
        assert torch.equal(after, torch.rand(1))
        weights.append(module_arrays(model, "m"))
    for k in weights[0]:
        np.testing.assert_array_equal(weights[0][k], weights[1][k])


def test_crash_and_resume_gives_identical_weights(tmp_path):
    model, opt, sched, step, validate = _problem()
    _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path / "a", checkpoint_every=4).run(
        step
    )
    reference = module_arrays(model, "m")

    model, opt, sched, step, validate = _problem()

    def crashing(t, rng):
        if t == 13:
            raise KeyboardInterrupt
        return step(t, rng)

    trainer = _trainer(
        model, opt, sched, validate, checkpoint_dir=tmp_path / "b", checkpoint_every=4
    )
    with pytest.raises(KeyboardInterrupt):
        trainer.run(crashing)
    model, opt, sched, step, validate = _problem()  # a fresh process: new model, optimiser
    result = _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path / "b").run(step)
    assert result.resumed_from == 12 and result.steps == 30
    resumed = module_arrays(model, "m")
    for k in reference:
        np.testing.assert_array_equal(reference[k], resumed[k])
    # A finished phase is not run again: it returns the stored weights at once.
    model, opt, sched, step, validate = _problem()
    again = _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path / "b").run(
        lambda t, rng: pytest.fail("a finished phase must not train again")
    )
    assert again.steps == 30
    for k in reference:
        np.testing.assert_array_equal(reference[k], module_arrays(model, "m")[k])


def test_checkpoint_is_safetensors_with_json_header(tmp_path):
    model, opt, sched, step, validate = _problem()
    _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path, max_steps=6).run(step)
    with safe_open(str(tmp_path / "m.safetensors"), framework="pt") as fh:
        header = json.loads(fh.metadata()["normalcy"])
        keys = set(fh.keys())
    assert header["format"] == "normalcy.checkpoint" and header["step"] == 6 and header["done"]
    assert "model.m.0.weight" in keys and "optim.m.state.0.exp_avg" in keys
    assert header["schedulers"]["m"]["last_epoch"] == 6


def test_other_configuration_is_not_resumed(tmp_path):
    model, opt, sched, step, validate = _problem()
    _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path, config="a").run(step)
    model, opt, sched, step, validate = _problem()
    with pytest.warns(UserWarning, match="another configuration"):
        result = _trainer(model, opt, sched, validate, checkpoint_dir=tmp_path, config="b").run(
            step
        )
    assert result.resumed_from == 0 and result.steps == 30


def test_early_stopping_restores_the_best_weights():
    model, opt, sched, step, validate = _problem()
    snapshots = {}
    values = iter([5.0, 3.0, 4.0, 4.5, 6.0, 7.0])

    def fake_validate():
        snapshots[len(snapshots)] = module_arrays(model, "m")
        return next(values)

    result = _trainer(model, opt, sched, fake_validate, patience=2).run(step)
    assert result.stopped == "early_stopping"
    assert result.steps == 20 and result.best_step == 10 and result.best_val == 3.0
    final = module_arrays(model, "m")
    for k in final:
        np.testing.assert_array_equal(final[k], snapshots[1][k])


def test_time_budget_stops_training():
    model, opt, sched, step, validate = _problem()
    result = _trainer(model, opt, sched, validate, max_minutes=1e-9).run(step)
    assert result.stopped == "time_budget" and result.steps == 1


def test_module_arrays_round_trip_and_fingerprint():
    model, *_ = _problem()
    other, *_ = _problem(seed=1)
    load_module_arrays(other, module_arrays(model, "net"), "net")
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    data = np.arange(12, dtype=np.uint8)
    assert fingerprint({"a": 1}, data) == fingerprint({"a": 1}, data.copy())
    assert fingerprint({"a": 1}, data) != fingerprint({"a": 2}, data)
    assert fingerprint({"a": 1}, data) != fingerprint({"a": 1}, data[::-1].copy())
