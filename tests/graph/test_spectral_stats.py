"""graph_stats and its features: planted anomalies, localisation, WL hashing and novelty,
the graph policy, save/load with the nested auto detector's state verified."""

from __future__ import annotations

import graph_checks as checks
import networkx as nx
import numpy as np
import pytest

import normalcy as nc
from normalcy import ModelFileError
from normalcy.graph.graphs import as_graph
from normalcy.graph.input import NodeEncoder
from normalcy.graph.spectral_stats import (
    feature_names,
    features,
    spectral_features,
    width_of,
    wl_labels,
)


def test_planted_anomalies_rank_first_and_clique_nodes_are_localised():
    data, res = checks.check_planted_rank_first(
        "graph_stats", {}, kinds=("clique", "rewired", "spectral")
    )
    hits = []
    for i, kind in enumerate(data.kinds):
        if kind == "clique":
            n = data.test[i].n_nodes
            nodes = res.maps[i, :n]
            inside = np.zeros(n, dtype=bool)
            inside[data.anomalous_nodes[i]] = True
            hits.append(nodes[inside].mean() > nodes[~inside].mean())
    assert hits and np.mean(hits) >= 0.8


def test_save_load_identity_and_determinism(tmp_path):
    checks.check_save_load_and_determinism("graph_stats", {}, tmp_path)


def test_isolated_nodes_self_loops_disconnected_and_empty_graphs():
    checks.check_graph_policy("graph_stats", {})


def test_wrong_feature_width_is_refused():
    checks.check_feature_widths("graph_stats", {})


def test_feature_width_and_names_agree():
    data = checks.planted()
    enc = NodeEncoder.learn(data.train)
    X, _ = features(enc.encode(data.train[:10]), None, 2, 8, 100)
    assert X.shape == (10, width_of(enc.n_features, 2, 8))
    assert len(feature_names(enc.n_features, 2, 8)) == X.shape[1]
    assert np.isfinite(X).all()


def test_wl_labels_are_isomorphism_invariant_and_tell_structures_apart():
    ring = as_graph(nx.cycle_graph(6))
    relabelled = as_graph(nx.relabel_nodes(nx.cycle_graph(6), {i: (i * 5) % 6 for i in range(6)}))
    path = as_graph(nx.path_graph(6))
    labels, _ = wl_labels([ring, relabelled, path], 2)
    last = labels[-1]
    assert np.array_equal(np.sort(last[:6]), np.sort(last[6:12]))
    assert not np.array_equal(np.sort(last[:6]), np.sort(last[12:]))


def test_spectrum_of_known_graphs():
    # normalised Laplacian of K3: eigenvalues 0, 1.5, 1.5; of an edgeless graph: all 1
    tri = as_graph(nx.complete_graph(3))
    bare = as_graph((np.zeros((2, 0), np.int64), None, 4))
    s = spectral_features([tri, bare], 100)
    # zero-eigenvalue share, largest eigenvalue, spectral gap are the last three columns
    assert s[0, -1] == pytest.approx(1 / 3) and s[0, -2] == pytest.approx(1.5)
    assert s[1, -1] == 0.0 and s[1, -2] == pytest.approx(1.0)


def test_novelty_is_leave_one_out_on_training_graphs():
    """A training graph whose structure no other training graph shows counts as novel,
    exactly as the same graph would when scored after fit."""
    rings = [as_graph(nx.cycle_graph(n)) for n in (6, 7, 8, 6, 7, 8)]
    star = as_graph(nx.star_graph(5))
    enc = NodeEncoder.learn(rings + [star])
    X, vocab = features(enc.encode(rings + [star]), None, 1, 4, 100)
    names = feature_names(enc.n_features, 1, 4)
    col = names.index("wl1_unseen_share")
    assert X[-1, col] == 1.0 and X[0, col] == 0.0
    enc2 = NodeEncoder.learn(rings)
    _, vocab2 = features(enc2.encode(rings), None, 1, 4, 100)
    Y, _ = features(enc2.encode([star]), vocab2, 1, 4, 100)
    assert Y[0, col] == 1.0


def test_a_tampered_nested_state_is_refused(tmp_path):
    from model_file_tampering import read_model, write_model

    data = checks.planted()
    path = nc.create("graph_stats").fit(data.train[:40]).save(tmp_path / "g.normalcy")
    manifest, arrays = read_model(path)
    arrays["auto.span"] = np.array([-1.0])
    write_model(path, manifest, arrays)
    with pytest.raises(ModelFileError):
        nc.load(path)
