"""Shared cases for the series tests: synthetic series with one injected anomaly, a seasonal
series, and a reusable streaming-contract check.

A plain module (``from series_cases import ...``), not a conftest.py: tests elsewhere import
``shared_dataset`` with ``from conftest import ...``, which a second conftest.py would shadow.
"""

from __future__ import annotations

import numpy as np

from normalcy.datasets.synthetic import make_series

KINDS = ("point", "level_shift", "frequency", "collective")


def injected(kind: str, seed: int = 0, channels: int = 1):
    """(train, test, (start, end)): 1000 normal steps, 800 test steps holding one anomaly."""
    split = make_series(
        train_length=1000, test_length=800, n_channels=channels, kinds=(kind,), seed=seed
    )
    return split.train, split.test, split.windows[0]


def seasonal_series() -> np.ndarray:
    """A clean univariate seasonal series (period 50) with mild noise."""
    rng = np.random.default_rng(7)
    t = np.arange(3000)
    return (
        np.sin(2 * np.pi * t / 50)
        + 0.3 * np.sin(4 * np.pi * t / 50)
        + 0.05 * rng.standard_normal(t.size)
    )


def check_streaming_contract(det, train: np.ndarray, stream: np.ndarray) -> None:
    """What every detector registered with streaming=True promises (see series.streaming):
    score_one changes nothing, learn_one returns the detector, prequential score_stream equals
    an explicit score-then-learn loop, and streaming is deterministic."""
    det.fit(train)
    for x in stream[:20]:
        assert det.score_one(x) == det.score_one(x)  # score_one changes nothing
        det.learn_one(x)
    assert det.learn_one(stream[0]) is det
    det.fit(train)
    frozen = det.score_stream(stream, learn=False).scores
    det.fit(train)
    np.testing.assert_array_equal(frozen, det.score_stream(stream, learn=False).scores)
    det.fit(train)
    loop = []
    for x in stream:
        loop.append(det.score_one(x))
        det.learn_one(x)
    det.fit(train)
    preq = det.score_stream(stream, learn=True).scores
    np.testing.assert_array_equal(preq, loop)
    assert np.all(np.isfinite(preq))
