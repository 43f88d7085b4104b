"""Declared constraints of the parameters series detectors share (see ``core.constraints``).

Sizes have generous upper bounds: a model file's parameters are read from an untrusted
manifest, and a size drives allocations (ring buffers, memories) before any data is seen.
"""

from __future__ import annotations

import re
from typing import Any

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from .input import NAN_POLICIES
from .normalise import NORMALISE_METHODS
from .windows import SPREAD_RULES

MAX_WINDOW = 100_000
MAX_SIZE = 100_000_000  # memories, rings and windows counted in time steps

WINDOW = [Interval(Integral, 2, MAX_WINDOW), Options(str, {"auto"})]
STRIDE = [Interval(Integral, 1, MAX_SIZE), Options(str, {"auto"})]
MAX_WINDOWS = [Interval(Integral, 2, MAX_SIZE)]
NORMALISE = [Options(str, NORMALISE_METHODS)]
SPREAD = [Options(str, SPREAD_RULES)]
NAN_POLICY = [Options(str, NAN_POLICIES)]
SEED = [Interval(Integral, 0, 2**32 - 1)]
POSITIVE = [Interval(Real, 0, None, closed="neither")]
NON_NEGATIVE = [Interval(Real, 0, None)]
# optimiser step sizes: torch keeps them in float32, and no useful rate exceeds 10
LEARNING_RATE = [Interval(Real, 0, 10, closed="right")]
DEVICE = [
    Options(str, {"auto", "cpu"}),
    Satisfies(
        lambda d: isinstance(d, str) and re.fullmatch(r"cuda(:\d{1,3})?", d) is not None,
        "'cuda' or 'cuda:<index>'",
    ),
]


def count(low: int = 1, high: int = MAX_SIZE) -> list[Any]:
    """An int in [low, high]."""
    return [Interval(Integral, low, high)]


def windowed(**extra: list[Any]) -> dict[str, list[Any]]:
    """Constraints of ``WindowedDetector``'s shared parameters plus ``extra``."""
    return {
        "window": WINDOW,
        "stride": STRIDE,
        "max_windows": MAX_WINDOWS,
        "normalise": NORMALISE,
        "spread": SPREAD,
        "nan_policy": NAN_POLICY,
        "seed": SEED,
        **extra,
    }
