"""Torch module weights as plain numpy arrays and back: the one place model files meet torch.

Model files hold no pickle, so a module's ``state_dict`` is saved as named arrays in the
safetensors part. 0-d tensors (batch-norm counters, fixed gains) are stored with shape (1,)
because that is how safetensors reads them back, and restored to 0-d on load, so a fitted
detector's own state and the state read from its file are the same arrays.

torch is imported only when these functions run, so importing this module costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def module_arrays(module: Any, prefix: str) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as CPU numpy copies keyed ``prefix + name``."""
    return {
        f"{prefix}{name}": np.atleast_1d(tensor.detach().cpu().contiguous().numpy()).copy()
        for name, tensor in module.state_dict().items()
    }


def load_module_arrays(module: Any, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load ``module_arrays`` output back into ``module`` (strict: every key must match)."""
    import torch

    shapes = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    state = {}
    for key, value in arrays.items():
        if not key.startswith(prefix):
            continue
        name = key[len(prefix) :]
        tensor = torch.from_numpy(np.array(value, copy=True))
        if shapes.get(name) == () and tensor.numel() == 1:
            tensor = tensor.reshape(())
        state[name] = tensor
    module.load_state_dict(state, strict=True)
