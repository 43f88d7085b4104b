"""Module weights as model-file arrays, and the state spec those arrays must meet.

``module_arrays`` flattens a module's ``state_dict`` to ``{prefix.name: numpy array}``;
``load_module_arrays`` loads them back strictly. ``module_state_spec`` declares, for
``core.state_spec``, the exact names, shapes and dtypes a module built from the detector's
parameters has, read from a copy built on torch's ``meta`` device (no memory, no weights),
so ``nc.load`` refuses a file whose weights do not fit before any module is built.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import torch_helpers
from ..core.state_spec import ArraySpec

# -- module weights <-> numpy arrays -----------------------------------------------------------


def module_arrays(module: nn.Module, prefix: str) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as ``{prefix.name: numpy array}`` (see
    ``normalcy.torch_helpers``)."""
    return torch_helpers.module_arrays(module, prefix + ".")


def load_module_arrays(module: nn.Module, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load ``module_arrays`` output back into ``module`` (strict: every key must match)."""
    torch_helpers.load_module_arrays(module, arrays, prefix + ".")


def on_meta(build: Callable[[], nn.Module]) -> nn.Module:
    """``build()`` run on torch's meta device: shapes and dtypes only, nothing allocated."""
    with torch.device("meta"):
        return build()


def module_state_spec(module: nn.Module, prefix: str) -> dict[str, ArraySpec]:
    """The ``ArraySpec`` of every array ``module_arrays(module, prefix)`` returns.

    Shapes and dtypes are exact; float arrays must be finite, batch-norm running variances
    non-negative and batch counts non-negative.
    """
    out: dict[str, ArraySpec] = {}
    for key, value in module.state_dict().items():
        dtype = str(value.dtype).removeprefix("torch.")
        value_range = None
        if key.endswith("running_var") or key.endswith("num_batches_tracked"):
            value_range = (0, None)
        # 0-d tensors (batch counts) are saved as 1-element arrays (see ``module_arrays``).
        shape = tuple(int(s) for s in value.shape) or (1,)
        out[f"{prefix}.{key}"] = ArraySpec(shape, dtype=dtype, value_range=value_range)
    return out
