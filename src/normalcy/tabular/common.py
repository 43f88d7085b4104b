"""Parameter constraints that several tabular detectors share (see ``core.constraints``)."""

from __future__ import annotations

from numbers import Integral, Real

from ..core.constraints import Interval, ListOf

SEED = [Interval(Integral, 0, 2**32 - 1)]
N_THREADS = [Interval(Integral, 1, 1024)]
EPOCHS = [Interval(Integral, 0, 100_000)]
BATCH = [Interval(Integral, 1, 10_000_000)]
RATE = [Interval(Real, 0, 10, closed="neither")]
DECAY = [Interval(Real, 0, 1, closed="left")]
DROPOUT = [Interval(Real, 0, 1, closed="left")]
LAYERS = [ListOf(Interval(Integral, 1, 100_000), min_len=1, max_len=64)]
