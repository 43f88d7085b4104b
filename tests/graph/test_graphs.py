"""The graph representation: accepted forms, the edge policy, TU files, node encoding."""

from __future__ import annotations

import json

import networkx as nx
import numpy as np
import pytest

from conftest import shared_dataset
from normalcy import InputError, ModelFileError
from normalcy.datasets.synthetic_graphs import make_graphs, make_node_graph
from normalcy.datasets.tu import read_tu
from normalcy.graph.base import GraphDetector, graph_scores
from normalcy.graph.graphs import Graph, as_graph
from normalcy.graph.input import MAX_DEGREE_BUCKET, NodeEncoder, as_graphs
from normalcy.nodes.base import NodeDetector
from normalcy.nodes.reader import read as read_npz


def test_edges_are_symmetrised_deduplicated_and_self_loops_dropped():
    g = as_graph((np.array([[0, 1, 1, 2, 2], [1, 0, 2, 2, 0]]), np.ones((4, 2))))
    assert g.n_nodes == 4 and g.n_edges == 3
    pairs = {tuple(e) for e in g.edge_index.T}
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0)}
    assert g.degrees().tolist() == [2, 2, 2, 0]  # node 3 is isolated and kept


def test_networkx_and_torch_geometric_forms_agree():
    import torch
    from torch_geometric.data import Data

    G = nx.cycle_graph(5)
    for v in G.nodes:
        G.nodes[v]["x"] = [float(v), 1.0]
    a = as_graph(G)
    b = as_graph(Data(x=torch.tensor(a.x), edge_index=torch.tensor(a.edge_index)))
    assert np.array_equal(a.edge_index, b.edge_index) and np.array_equal(a.x, b.x)
    labelled = nx.path_graph(3)
    nx.set_node_attributes(labelled, {0: 1, 1: 2, 2: 1}, "label")
    assert as_graph(labelled).node_labels.tolist() == [1, 2, 1]


@pytest.mark.parametrize(
    "bad, match",
    [
        ((np.array([[0], [9]]), np.ones((3, 1))), "node ids"),
        ((np.array([[0.5], [1]]), np.ones((3, 1))), "integer"),
        ((np.zeros((3, 1), int), np.ones((3, 1))), r"shape \(2, E\)"),
        ((np.zeros((2, 0), int), np.full((3, 1), np.nan)), "NaN"),
        ((np.zeros((2, 0), int), None), "n_nodes"),
        (Graph(0, np.zeros((2, 0), np.int64)), "at least one node"),
        ("graph", "networkx"),
    ],
)
def test_bad_graphs_are_refused(bad, match):
    with pytest.raises(InputError, match=match):
        as_graph(bad)


def test_a_collection_is_required_for_graph_level_input():
    with pytest.raises(InputError, match="wrap a single graph"):
        as_graphs(nx.path_graph(3))
    with pytest.raises(InputError, match="no graphs"):
        as_graphs([])


def test_node_encoder_labels_attributes_degrees_and_state():
    data = make_graphs(n_train=20, n_test=5, seed=0)
    enc = NodeEncoder.learn(data.train)
    assert enc.labels == [0, 1, 2] and enc.n_features == 4  # 3 labels + unseen
    odd = Graph(2, np.array([[0, 1], [1, 0]]), None, np.array([0, 7]))
    feats = enc.encode([odd]).features[0]
    assert feats[1, 3] == 1.0  # label 7 was never seen: the unseen column
    again = NodeEncoder.from_state(json.loads(json.dumps(enc.state())))
    assert np.array_equal(again.encode(data.test).features[0], enc.encode(data.test).features[0])
    plain = NodeEncoder.learn([as_graph(nx.star_graph(12)), as_graph(nx.path_graph(3))])
    f = plain.encode([as_graph(nx.star_graph(12))]).features[0]
    assert plain.n_features == MAX_DEGREE_BUCKET + 1 and f[0, MAX_DEGREE_BUCKET] == 1.0
    with pytest.raises(InputError, match="different sizes"):
        NodeEncoder.learn(
            [
                as_graph((np.zeros((2, 0), int), np.ones((2, 1)))),
                as_graph((np.zeros((2, 0), int), np.ones((2, 2)))),
            ]
        )


@pytest.mark.parametrize(
    "state",
    [
        {},
        {"labels": [1, 1], "n_attributes": 0, "mean": [], "scale": []},
        {"labels": [], "n_attributes": 2, "mean": [0.0], "scale": [1.0]},
        {"labels": [], "n_attributes": 1, "mean": [0.0], "scale": [0.0]},
        {"labels": [], "n_attributes": 1, "mean": [float("nan")], "scale": [1.0]},
        {"labels": [], "n_attributes": True, "mean": [], "scale": []},
    ],
)
def test_crafted_encoder_states_are_refused(state):
    with pytest.raises(ModelFileError):
        NodeEncoder.from_state(state)


def _write_tu(folder, A, indicator, graph_labels=None):
    folder.mkdir()
    (folder / "T_A.txt").write_text("\n".join(f"{u}, {v}" for u, v in A))
    (folder / "T_graph_indicator.txt").write_text("\n".join(map(str, indicator)))
    if graph_labels is not None:
        (folder / "T_graph_labels.txt").write_text("\n".join(map(str, graph_labels)))


def test_tu_reader_splits_graphs_and_checks_files(tmp_path):
    _write_tu(tmp_path / "T", [(1, 2), (2, 1), (3, 4), (4, 5)], [1, 1, 2, 2, 2], [0, 1])
    s = read_tu(tmp_path / "T")
    assert [g.n_nodes for g in s.graphs] == [2, 3] and s.labels.tolist() == [0, 1]
    assert s.graphs[1].n_edges == 2
    _write_tu(tmp_path / "U", [(1, 3)], [1, 1, 2])
    with pytest.raises(InputError, match="another graph"):
        read_tu(tmp_path / "U", "T")
    _write_tu(tmp_path / "V", [(1, 9)], [1, 1])
    with pytest.raises(InputError, match="outside"):
        read_tu(tmp_path / "V", "T")
    with pytest.raises(InputError, match="missing"):
        read_tu(tmp_path, "T")


def test_shared_tu_sets_read():
    s = read_tu(shared_dataset("graphs") / "BZR")
    assert len(s) == 405 and sorted(set(s.labels.tolist())) == [-1, 1]


class _Graphs(GraphDetector):
    pass


class _Nodes(NodeDetector):
    pass


def test_graph_base_spec_round_trip_and_padded_maps():
    data = make_graphs(n_train=10, n_test=4, seed=1)
    det = _Graphs()
    enc = det._check_fit_input(data.train)
    other = _Graphs()
    other._set_input_spec(json.loads(json.dumps(det._input_spec())))
    assert np.array_equal(
        other._check_score_input(data.test).features[2],
        det._check_score_input(data.test).features[2],
    )
    res = graph_scores(enc, np.zeros(len(enc)), [np.ones(g.n_nodes) for g in enc.graphs])
    assert res.maps.shape == (10, int(enc.sizes().max()))
    with pytest.raises(InputError, match="at least 2"):
        _Graphs()._check_fit_input(data.train[:1])


def test_node_base_checks_the_feature_width(tmp_path):
    ng = make_node_graph(n_nodes=60, n_features=5, n_communities=3, seed=0)
    det = _Nodes()
    graph, feats = det._check_fit_input(ng.graph)
    assert feats.shape == (60, 5)
    with pytest.raises(InputError, match="node features"):
        det._check_score_input((ng.graph.edge_index, np.ones((60, 4))))
    np.savez(tmp_path / "g.npz", x=ng.graph.x, edge_index=ng.graph.edge_index)
    assert read_npz(tmp_path / "g.npz").n_nodes == 60
    np.savez(tmp_path / "p.npz", x=np.array([object()], dtype=object), edge_index=np.zeros((2, 0)))
    with pytest.raises(InputError):
        read_npz(tmp_path / "p.npz")
