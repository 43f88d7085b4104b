"""The one home of torch helpers shared by the neural detectors of every data type.

* ``require_torch``: torch, or an error naming the extra that installs it;
* ``torch_session``: a seeded random stream and a fixed CPU thread count, restored after;
* ``resolve_device``: ``"auto"``/``"cpu"``/``"cuda[:i]"`` to a torch device;
* ``module_arrays``/``load_module_arrays``: module weights as plain numpy arrays and back.

Model files hold no pickle, so a module's ``state_dict`` is saved as named arrays in the
safetensors part. 0-d tensors (batch-norm counters, fixed gains) are stored with shape (1,)
because that is how safetensors reads them back, and restored to 0-d on load, so a fitted
detector's own state and the state read from its file are the same arrays.

torch is imported only when these functions run, so importing this module costs nothing.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from .core.errors import InputError, NormalcyError


def require_torch(extra: str = "all") -> Any:
    """The torch module, or a ``NormalcyError`` saying how to install it."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed in development
        raise NormalcyError(
            f"this detector needs PyTorch; install it with `pip install normalcy[{extra}]`"
        ) from None
    return torch


@contextmanager
def torch_session(
    seed: int | None = None, threads: int | None = 1, *, global_rngs: bool = False
) -> Iterator[Any]:
    """Run torch code with ``threads`` CPU threads and, when ``seed`` is given, a seeded
    torch random stream; the caller's RNG states and thread count are restored after.

    ``global_rngs``: also seed (and restore) numpy's legacy global and Python's ``random``,
    for library code (PyOD) that draws from them.
    """
    torch = require_torch()
    old_threads = torch.get_num_threads()
    np_state = np.random.get_state() if global_rngs else None  # noqa: NPY002
    py_state = random.getstate() if global_rngs else None
    try:
        if threads:
            torch.set_num_threads(max(1, int(threads)))
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
                if global_rngs:
                    np.random.seed(int(seed) % 2**32)  # noqa: NPY002
                    random.seed(int(seed))
            yield torch
    finally:
        if np_state is not None:
            np.random.set_state(np_state)  # noqa: NPY002
        if py_state is not None:
            random.setstate(py_state)
        torch.set_num_threads(old_threads)


def resolve_device(device: str) -> Any:
    """``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:i]"``."""
    torch = require_torch()
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str) or not (device == "cpu" or device.startswith("cuda")):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda[:index]', got {device!r}")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError(f"device={device!r} was requested but CUDA is not available")
    return torch.device(device)


def module_arrays(module: Any, prefix: str) -> dict[str, np.ndarray]:
    """A module's parameters and buffers as CPU numpy copies keyed ``prefix + name``."""
    return {
        f"{prefix}{name}": np.atleast_1d(tensor.detach().cpu().contiguous().numpy()).copy()
        for name, tensor in module.state_dict().items()
    }


def load_module_arrays(module: Any, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load ``module_arrays`` output back into ``module`` (strict: every key must match)."""
    torch = require_torch()
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


def module_spec(build: Callable[[], Any], prefix: str) -> dict[str, Any]:
    """``ArraySpec`` of every array ``module_arrays`` writes for the module ``build()``
    returns, built on torch's "meta" device (shapes only, no memory, no weights)."""
    from .core.state_spec import ArraySpec

    torch = require_torch()
    with torch.device("meta"):
        module = build()
    # safetensors reads a 0-d tensor back as shape (1,)
    return {
        f"{prefix}{key}": ArraySpec(
            tuple(value.shape) or (1,), str(value.dtype).replace("torch.", "")
        )
        for key, value in module.state_dict().items()
    }
