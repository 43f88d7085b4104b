"""Synthetic series with injected anomalies for detector tests: spikes, level shifts,
frequency changes and collective anomalies, each with the span it occupies."""

from __future__ import annotations

import numpy as np

KINDS = ("spike", "level_shift", "frequency", "collective")
START = 700  # first anomalous step of every test series


def normal(length: int, seed: int, offset: int = 0) -> np.ndarray:
    """Two seasonal components (periods 40 and 97) plus a little noise."""
    t = np.arange(offset, offset + length)
    rng = np.random.default_rng(seed)
    return (
        np.sin(2 * np.pi * t / 40)
        + 0.5 * np.sin(2 * np.pi * t / 97)
        + 0.05 * rng.normal(size=length)
    )


def case(kind: str, train_length: int = 2000, test_length: int = 1500):
    """(train, test, (first, last)) with one anomaly of ``kind`` in ``test`` spanning
    ``first..last`` inclusive."""
    train = normal(train_length, seed=0)
    test = normal(test_length, seed=1, offset=train_length)
    t = np.arange(train_length, train_length + test_length)
    if kind == "spike":
        span = (START, START + 2)
        test[START : START + 3] += 4.0
    elif kind == "level_shift":
        span = (START, test_length - 1)
        test[START:] += 2.5
    elif kind == "frequency":
        span = (START, START + 119)
        seg = slice(START, START + 120)
        test[seg] = np.sin(2 * np.pi * t[seg] / 13) + 0.5 * np.sin(2 * np.pi * t[seg] / 97)
    elif kind == "collective":
        span = (START, START + 59)
        test[START : START + 60] = np.random.default_rng(2).normal(0.0, 0.8, size=60)
    else:
        raise ValueError(kind)
    return train, test, span
