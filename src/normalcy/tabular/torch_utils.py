"""Torch plumbing for the tabular deep models: seeded, thread-pinned runs and safe state.

``seeded_torch`` runs a block with fixed seeds (torch, numpy's global generator, Python's
``random``) and a fixed number of CPU threads, then restores the caller's random state and
thread count, so that PyOD models (which seed global generators) neither leak state nor
depend on it. ``module_arrays``/``load_module_arrays`` move a module's ``state_dict`` to and
from plain numpy arrays (saved in safetensors; nothing is pickled).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..torch_helpers import load_module_arrays as _load_module_arrays
from ..torch_helpers import module_arrays, require_torch, torch_session  # noqa: F401


def import_torch() -> Any:
    """torch, or an error naming the ``tabular-deep`` extra."""
    return require_torch("tabular-deep")


def seeded_torch(seed: int | None, threads: int | None = 1):
    """A torch session that also seeds numpy's and Python's global generators, which
    PyOD's deep models draw from; everything is restored afterwards."""
    return torch_session(0 if seed is None else seed, threads, global_rngs=True)


# Two input widths at which a module is built to read off how each saved tensor's shape
# depends on the width (a tensor axis is a constant, the width, or twice the width).
_PROBE_WIDTHS = (3, 5)


def module_spec(build: Callable[[int], Any], prefix: str, dim: str = "k") -> dict[str, Any]:
    """``ArraySpec`` of every tensor ``module_arrays(build(width), prefix)`` writes, with axes
    that follow the input width named ``dim`` (or ``dim + "x2"`` for twice the width).

    ``build`` is called twice at tiny widths, so the spec costs almost nothing.
    """
    from ..core.state_spec import ArraySpec

    states = []
    for width in _PROBE_WIDTHS:
        with seeded_torch(0):
            states.append(build(width).state_dict())
    (w1, w2), out = _PROBE_WIDTHS, {}
    for name, t1 in states[0].items():
        t2 = states[1][name]
        axes: list[int | str] = []
        for s1, s2 in zip(t1.shape, t2.shape, strict=True):
            slope, rest = divmod(s2 - s1, w2 - w1)
            base = s1 - slope * w1
            if rest or slope not in (0, 1, 2) or (slope and base):
                raise ValueError(f"{name}: axis sizes {s1}, {s2} do not follow the width")
            axes.append(base if slope == 0 else dim if slope == 1 else dim + "x2")
        dtype = str(t1.dtype).replace("torch.", "")
        value_range = (0, None) if dtype.startswith("int") else None
        # a 0-d tensor (batch norm's counter) is written as shape (1,)
        out[prefix + name] = ArraySpec(tuple(axes) or (1,), dtype, value_range=value_range)
    return out


def load_module_arrays(module: Any, arrays: dict[str, np.ndarray], prefix: str) -> None:
    """Load arrays written by ``module_arrays`` into ``module`` and set it to eval mode."""
    _load_module_arrays(module, arrays, prefix)
    module.eval()
