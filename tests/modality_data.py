"""Small standard data per modality, (train, test, holdout): the conformance suite and the
model-file round trips fit every registered detector on it. A new modality adds its entry
to ``DATA`` here (the suites fail with a clear message until it does)."""

from __future__ import annotations

from typing import Any

import numpy as np


def _tabular() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    train = rng.normal(size=(60, 4))
    test = np.vstack([rng.normal(size=(12, 4)), np.full((2, 4), 6.0)])
    return train, test, rng.normal(size=(30, 4))


def _series() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.arange(1200)
    base = np.stack([np.sin(2 * np.pi * t / 50), np.cos(2 * np.pi * t / 50)], axis=1)
    series = base + 0.05 * np.random.default_rng(1).normal(size=base.shape)
    test = series[600:].copy()
    test[300:310] += 3.0
    return series[:600], test, series[:600]


def _images() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    train = (rng.random((12, 64, 64)) * 80 + 80).astype(np.uint8)
    test = (rng.random((3, 64, 64)) * 80 + 80).astype(np.uint8)
    test[0, 20:30, 20:30] = 255
    return train, test, np.concatenate([train, train])


def _logs() -> tuple[Any, Any, Any]:
    from normalcy.datasets.synthetic_logs import make_logs

    data = make_logs(n_train=120, n_test=24, contamination=0.25, seed=3)
    return data.train.subset(range(80)), data.test, data.train.subset(range(80, 120))


def _graphs() -> tuple[Any, Any, Any]:
    from normalcy.datasets.synthetic_graphs import make_graphs

    data = make_graphs(n_train=60, n_test=12, contamination=0.25, seed=5)
    return data.train[:40], data.test, data.train[40:]


def _nodes() -> tuple[Any, Any, Any]:
    from normalcy.datasets.synthetic_graphs import make_node_graph

    graph = make_node_graph(n_nodes=120, n_features=6, n_communities=4, seed=6).graph
    return graph, graph, graph


def _events() -> tuple[Any, Any, Any]:
    from normalcy.events.synthetic import make_events

    data = make_events(n_train=300, n_test=40, n_anomalies=3, seed=3)
    return data.train.iloc[:200], data.test, data.train.iloc[200:]


def _spectral() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from normalcy.spectral.synthetic import make_cube

    train = make_cube(14, 14, 12, seed=7)
    test = make_cube(10, 12, 12, seed=8)
    test[4, 5] += 0.5
    return train, test, make_cube(12, 12, 12, seed=9)


def _segments() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(10)
    t = np.arange(64)

    def make(n: int) -> np.ndarray:
        phase = rng.uniform(0, 2 * np.pi, (n, 1))
        return np.sin(2 * np.pi * t / 16 + phase) + 0.2 * rng.normal(size=(n, 64))

    test = make(10)
    test[0, ::8] += 6.0  # spikes
    return make(40), test, make(20)


def _video() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from normalcy.video.synthetic import make_clips

    train = make_clips(n_clips=2, n_frames=8, size=(32, 40), seed=7).clips
    test = make_clips(n_clips=1, n_frames=8, size=(32, 40), anomaly="wrong_way", seed=8).clips
    holdout = make_clips(n_clips=2, n_frames=6, size=(32, 40), seed=9).clips
    return train, test, holdout


DATA = {
    "tabular": _tabular,
    "series": _series,
    "image": _images,
    "logs": _logs,
    "graph": _graphs,
    "nodes": _nodes,
    "events": _events,
    "spectral": _spectral,
    "segments": _segments,
    "video": _video,
}
