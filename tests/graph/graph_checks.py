"""Behaviour checks shared by the graph-level detectors' tests (planted anomalies, edge
cases of the graph policy, save/load, determinism, feature widths)."""

from __future__ import annotations

from typing import Any

import networkx as nx
import numpy as np
import pytest

import normalcy as nc
from normalcy import InputError
from normalcy.datasets.synthetic_graphs import make_graphs
from normalcy.graph.graphs import Graph
from normalcy.metrics import auroc


def planted(seed: int = 0):
    return make_graphs(n_train=120, n_test=40, contamination=0.25, seed=seed)


def check_planted_rank_first(
    name: str, params: dict[str, Any], kinds=("clique", "spectral"), top_share: float = 0.6
):
    """The planted anomalies of ``kinds`` outrank the normal test graphs; at least
    ``top_share`` of the top-scored graphs (as many as there are anomalies) are anomalous."""
    data = planted()
    res = nc.create(name, **params).fit(data.train).score(data.test)
    for kind in kinds:
        mask = np.array([k == kind for k in data.kinds]) | (data.labels == 0)
        assert auroc(data.labels[mask], res.scores[mask]) >= 0.9, kind
    top = np.argsort(-res.scores)[: int(data.labels.sum())]
    assert data.labels[top].mean() >= top_share
    assert res.maps is not None and res.maps.shape[0] == len(data.test)
    return data, res


def check_save_load_and_determinism(name: str, params: dict[str, Any], tmp_path):
    data = planted(1)
    det = nc.create(name, **params).fit(data.train[:60])
    first = det.score(data.test)
    again = nc.create(name, **params).fit(data.train[:60]).score(data.test)
    np.testing.assert_array_equal(first.scores, again.scores)
    path = det.save(tmp_path / "graph.normalcy")
    loaded = nc.load(path).score(data.test)
    np.testing.assert_array_equal(loaded.scores, first.scores)
    np.testing.assert_array_equal(loaded.maps, first.maps)


def check_graph_policy(name: str, params: dict[str, Any]):
    """Isolated nodes, self-loops and disconnected graphs are scored (finite); a self-loop
    changes nothing (the policy drops it); a graph without edges is accepted."""
    rng = np.random.default_rng(0)
    train = []
    for _ in range(30):
        G = nx.cycle_graph(int(rng.integers(6, 12)))
        train.append(G)
    det = nc.create(name, **params).fit(train)
    ring = nx.cycle_graph(8)
    looped = ring.copy()
    looped.add_edge(3, 3)
    isolated = ring.copy()
    isolated.add_node(99)
    split_graph = nx.disjoint_union(nx.cycle_graph(5), nx.cycle_graph(4))
    empty = Graph(3, np.zeros((2, 0), np.int64))
    res = det.score([ring, looped, isolated, split_graph, empty])
    assert np.isfinite(res.scores).all()
    assert res.scores[0] == pytest.approx(res.scores[1], rel=1e-6, abs=1e-9)
    with pytest.raises(InputError):
        det.score([Graph(0, np.zeros((2, 0), np.int64))])


def check_feature_widths(name: str, params: dict[str, Any]):
    """Node features of another width than in fit are refused with ``InputError``."""
    rng = np.random.default_rng(0)
    ring = nx.cycle_graph(6)
    ei = np.array(list(ring.edges())).T
    train = [(ei, rng.normal(size=(6, 3))) for _ in range(12)]
    det = nc.create(name, **params).fit(train)
    assert np.isfinite(det.score(train[:2]).scores).all()
    with pytest.raises(InputError, match="node features"):
        det.score([(ei, rng.normal(size=(6, 2)))])
    with pytest.raises(InputError):
        nc.create(name, **params).fit(
            [(ei, rng.normal(size=(6, 3))), (ei, rng.normal(size=(6, 2)))]
        )
