"""State-spec pieces shared by series detectors (see ``core.state_spec``).

The input spec of a fitted series detector holds ``n_channels`` and, for window-based
methods, the resolved ``window`` (``"auto"`` resolves at fit time), so that every saved
array's shape can be declared from the parameters and the input spec before ``load``
builds anything. Values the kernels index with (ring positions, counters) are checked too:
numba never sees an inconsistent state.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import ModelFileError
from ..core.state_spec import ArraySpec, StateSpec
from .params import MAX_WINDOW

MAX_CHANNELS = 100_000
COUNT_RANGE = (0, 2**62)  # counters of steps seen: non-negative, far from int64 overflow
_TINY = float(np.nextafter(0.0, 1.0))


def read_int(spec: dict[str, Any], key: str, low: int, high: int) -> int:
    """``spec[key]`` as an int in [low, high], else ``ModelFileError``."""
    value = spec.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ModelFileError(
            f"the input spec's {key!r} must be an int in [{low}, {high}], got {value!r}"
        )
    return value


def set_channels(det: Any, spec: dict[str, Any]) -> None:
    """Read ``n_channels`` from a model file's input spec."""
    det.n_channels_ = read_int(spec, "n_channels", 1, MAX_CHANNELS)


def set_window(det: Any, spec: dict[str, Any], min_window: int = 2) -> None:
    """Read the resolved window from a model file's input spec; it must equal an int
    ``window`` parameter."""
    window = read_int(spec, "window", min_window, MAX_WINDOW)
    if not isinstance(det.window, str) and window != det.window:
        raise ModelFileError(
            f"the input spec's window ({window}) differs from the window parameter ({det.window})"
        )
    det.window_ = window


def channels_spec(det: Any) -> StateSpec:
    """The named size ``C`` fixed to the fitted number of channels."""
    n = getattr(det, "n_channels_", None)
    if n is None:
        raise ModelFileError("the input spec lacks n_channels")
    return StateSpec(dims={"C": int(n)})


def normaliser_spec(prefix: str = "norm_") -> StateSpec:
    """``Normaliser.get_state``: per-channel centre and a positive scale."""
    return StateSpec(
        arrays={
            f"{prefix}centre": ArraySpec(("C",), "float64"),
            f"{prefix}scale": ArraySpec(("C",), "float64", value_range=(_TINY, None)),
        }
    )


def buffer_spec(window: int, prefix: str = "buffer_") -> StateSpec:
    """``WindowBuffer.get_state``: the latest window and the count of points pushed."""
    return StateSpec(
        arrays={
            f"{prefix}window": ArraySpec((int(window), "C"), "float64"),
            f"{prefix}count": ArraySpec((1,), "int64", value_range=COUNT_RANGE),
        }
    )


def require(condition: bool, message: str) -> None:
    """``ModelFileError(message)`` unless ``condition`` (internal consistency of a state)."""
    if not condition:
        raise ModelFileError(f"inconsistent saved state: {message}")
