"""RQGNN (Dong et al., ICLR 2024): the Rayleigh quotient, both training modes, planted
anomalies, localisation, model files, determinism and the graph edge cases."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import normalcy as nc
from normalcy import InputError
from normalcy.datasets.synthetic_graphs import make_graphs
from normalcy.graph.graphs import Graph

pytestmark = pytest.mark.slow

FAST = {"hidden": 16, "epochs": 30, "batch_size": 32}


@pytest.fixture(scope="module")
def split():
    return make_graphs(n_train=150, n_test=60, contamination=0.2, seed=3)


@pytest.fixture(scope="module")
def oneclass(split):
    return nc.create("rqgnn_oneclass", **FAST).fit(split.train)


@pytest.fixture(scope="module")
def labelled(split):
    # a few labelled anomalies of every kind next to the normal graphs
    extra = make_graphs(n_train=1, n_test=40, contamination=0.3, seed=11)
    bad = [g for g, y in zip(extra.test, extra.labels, strict=True) if y]
    X = split.train + bad
    y = np.r_[np.zeros(len(split.train)), np.ones(len(bad))].astype(int)
    return nc.create("rqgnn", **FAST).fit(X, y)


def test_rayleigh_quotient_matches_the_dense_normalised_laplacian():
    import torch
    from scipy.sparse.csgraph import laplacian

    from normalcy.graph.rqgnn_spectral import rayleigh_quotient

    rng = np.random.default_rng(0)
    graphs = [nx.gnp_random_graph(9, 0.3, seed=s) for s in range(3)]
    graphs[1].add_node(9)  # an isolated node
    xs, edges, owner, offset, want = [], [], [], 0, []
    for k, G in enumerate(graphs):
        n = G.number_of_nodes()
        x = rng.normal(size=(n, 3))
        x[:, 2] = 0.0  # an all-zero channel has quotient 0
        L = laplacian(nx.to_numpy_array(G, nodelist=range(n)), normed=True)
        xx = (x * x).sum(0)
        want.append(np.where(xx > 0, np.diag(x.T @ L @ x) / np.where(xx > 0, xx, 1), 0))
        ei = np.array(list(G.edges()), dtype=np.int64).reshape(-1, 2).T
        edges.append(np.concatenate([ei, ei[::-1]], axis=1) + offset)
        xs.append(x)
        owner.append(np.full(n, k))
        offset += n
    got = rayleigh_quotient(
        torch.tensor(np.concatenate(xs)),
        torch.tensor(np.concatenate(edges, axis=1)),
        torch.tensor(np.concatenate(owner)),
        len(graphs),
    ).numpy()
    np.testing.assert_allclose(got, np.array(want), atol=1e-10)
    assert (got >= 0).all() and (got <= 2).all()


def test_oneclass_ranks_planted_anomalies_first(split, oneclass):
    res = oneclass.score(split.test)
    assert roc_auc_score(split.labels, res.scores) > 0.9
    top = np.argsort(-res.scores)[: int(split.labels.sum()) // 2]
    assert split.labels[top].all()


def test_labelled_mode_ranks_planted_anomalies_first(split, labelled):
    assert labelled.mode_ == "classifier"
    res = labelled.score(split.test)
    assert roc_auc_score(split.labels, res.scores) > 0.9
    # the margin's sign is the classifier's own decision
    assert ((res.scores > 0) == split.labels.astype(bool)).mean() > 0.85


def test_oneclass_localisation_points_at_the_planted_clique(split, oneclass, labelled):
    # message passing spreads a clique's effect to its neighbours, so node scores rank
    # the clique's own nodes above the rest of the graph, but not perfectly
    res = oneclass.score(split.test)
    sizes = res.extras["sizes"]
    assert res.maps.shape == (len(split.test), int(sizes.max()))
    hits = []
    for i, kind in enumerate(split.kinds):
        if kind == "clique":
            n = int(sizes[i])
            truth = np.zeros(n, dtype=int)
            truth[split.anomalous_nodes[i]] = 1
            hits.append(roc_auc_score(truth, res.maps[i, :n]))
    assert np.mean(hits) > 0.6, hits
    # the labelled mode's maps are signed shares of the margin (see the next test)
    maps = labelled.score(split.test).maps
    assert maps.shape == res.maps.shape and np.isfinite(maps).all()
    assert all((maps[i, int(n) :] == 0).all() for i, n in enumerate(sizes))


def test_labelled_node_scores_sum_to_the_pooled_part_of_the_margin(split, labelled):
    import torch

    data = labelled._check_score_input(split.test[:5])
    x, ei, owner, g = labelled._tensors(data, np.arange(5))
    net = labelled.net_
    with torch.no_grad():
        margin, nodes = net.margin_parts(x, ei, owner, g)
        h, att, graph = net.encode(x, ei, owner, g)
        graph[:, :16] = 0.0  # the margin without the pooled nodes
        rest = net.head(net.norm(graph))
    per_graph = torch.zeros(g).index_add_(0, owner, nodes)
    np.testing.assert_allclose(
        (per_graph + rest[:, 1] - rest[:, 0]).numpy(), margin.numpy(), rtol=1e-4, atol=1e-4
    )


def test_labelled_mode_without_anomalies_falls_back_to_the_oneclass_objective(split):
    with pytest.warns(UserWarning, match="one-class"):
        det = nc.create("rqgnn", hidden=8, epochs=2).fit(split.train[:20])
    assert det.mode_ == "distillation"
    with pytest.warns(UserWarning):
        det.fit(split.train[:20], np.zeros(20))
    assert np.isfinite(det.score(split.test[:5]).scores).all()


@pytest.mark.parametrize("y", [np.ones(20), np.full(20, 2), np.zeros(19), ["a"] * 20])
def test_bad_labels_are_input_errors(split, y):
    with pytest.raises(InputError):
        nc.create("rqgnn", hidden=8, epochs=1).fit(split.train[:20], y)


@pytest.mark.parametrize("name", ["rqgnn", "rqgnn_oneclass"])
def test_save_load_identity_and_determinism(split, name, tmp_path):
    y = np.r_[np.zeros(30), np.ones(len(split.test) - 48)][: len(split.test)]
    X = split.train[:30] + [g for g, b in zip(split.test, split.labels, strict=True) if b]
    y = np.r_[np.zeros(30), np.ones(len(X) - 30)].astype(int)
    fit = (lambda d: d.fit(X, y)) if name == "rqgnn" else (lambda d: d.fit(X[:30]))
    a = fit(nc.create(name, hidden=8, epochs=3, seed=4))
    b = fit(nc.create(name, hidden=8, epochs=3, seed=4))
    first = a.score(split.test)
    np.testing.assert_array_equal(first.scores, b.score(split.test).scores)
    np.testing.assert_array_equal(first.maps, b.score(split.test).maps)
    path = a.save(tmp_path / f"{name}.normalcy")
    again = nc.load(path).score(split.test)
    np.testing.assert_array_equal(first.scores, again.scores)
    np.testing.assert_array_equal(first.maps, again.maps)
    other = fit(nc.create(name, hidden=8, epochs=3, seed=5)).score(split.test)
    assert not np.array_equal(first.scores, other.scores)


def test_a_labelled_file_refuses_arrays_of_the_other_mode(split, tmp_path):
    from normalcy import ModelFileError

    det = nc.create("rqgnn", hidden=8, epochs=1)
    X = split.train[:10] + split.test[:10]
    det.fit(X, np.r_[np.zeros(10), np.ones(10)].astype(int))
    arrays, meta = det._get_state()
    arrays = {**arrays, "node_scale": np.ones(8, np.float32)}
    with pytest.raises(ModelFileError):
        det._set_state(arrays, meta)
    with pytest.warns(UserWarning):
        det.fit(split.train[:10])  # the one-class objective: its state needs its scales
    arrays, meta = det._get_state()
    del arrays["error_scale"]
    with pytest.raises(ModelFileError, match="error_scale"):
        det._set_state(arrays, meta)


def test_isolated_nodes_self_loops_and_disconnected_graphs(oneclass, labelled):
    graphs = [
        Graph(1, np.zeros((2, 0), np.int64), node_labels=np.array([0])),  # one node
        (np.array([[0, 1, 1], [1, 1, 2]]), None, 5),  # self-loop dropped, isolated nodes
        Graph(  # two components
            6,
            np.array([[0, 1, 1, 2, 3, 4, 4, 5], [1, 0, 2, 1, 4, 3, 5, 4]]),
            node_labels=np.array([0, 0, 1, 0, 0, 2]),
        ),
    ]
    graphs[1] = Graph(5, graphs[1][0], node_labels=np.zeros(5, dtype=np.int64))
    for det in (oneclass, labelled):
        res = det.score(graphs)
        assert np.isfinite(res.scores).all() and np.isfinite(res.maps).all()
        assert res.maps.shape == (3, 6)
        assert (res.maps[0, 1:] == 0).all()


def test_wrong_feature_width_is_an_input_error():
    rng = np.random.default_rng(1)
    ring = np.array([[i for i in range(6)] + [(i + 1) % 6 for i in range(6)]] * 1).reshape(2, 6)
    train = [(ring, rng.normal(size=(6, 3))) for _ in range(8)]
    det = nc.create("rqgnn_oneclass", hidden=8, epochs=1).fit(train)
    with pytest.raises(InputError, match="node features"):
        det.score([(ring, rng.normal(size=(6, 4)))])
    with pytest.raises(InputError):
        det.score([])
    with pytest.raises(InputError):
        nc.create("rqgnn_oneclass").fit([(ring, rng.normal(size=(6, 3)))] * 1)


def test_no_batch_of_one_graph_reaches_batch_normalisation(split):
    # 3 graphs in batches of 2 would leave one alone: batch normalisation cannot train on it
    X = [split.train[0], split.train[1], split.test[int(np.flatnonzero(split.labels)[0])]]
    det = nc.create("rqgnn", hidden=8, epochs=2, batch_size=2).fit(X, [0, 0, 1])
    assert det.mode_ == "classifier"
    assert np.isfinite(det.score(split.test[:4]).scores).all()
