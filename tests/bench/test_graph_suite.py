"""The graph benchmark: GLocalKD's class convention, the split, labels for labelled
detectors only, and a quick end-to-end run on a small TU folder written here."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from normalcy.bench import graph_suite
from normalcy.datasets.synthetic_graphs import make_graphs


def write_tu(folder: Path, name: str, graphs, labels) -> Path:
    """``graphs`` (normalcy Graphs with node labels) as a TU collection in folder/name."""
    root = folder / name
    root.mkdir(parents=True)
    edges, indicator, node_labels, offset = [], [], [], 0
    for g_id, g in enumerate(graphs, 1):
        edges += [(u + offset + 1, v + offset + 1) for u, v in g.edge_index.T.tolist()]
        indicator += [g_id] * g.n_nodes
        node_labels += g.node_labels.tolist()
        offset += g.n_nodes
    (root / f"{name}_A.txt").write_text("".join(f"{u}, {v}\n" for u, v in edges))
    (root / f"{name}_graph_indicator.txt").write_text("".join(f"{i}\n" for i in indicator))
    (root / f"{name}_node_labels.txt").write_text("".join(f"{v}\n" for v in node_labels))
    (root / f"{name}_graph_labels.txt").write_text("".join(f"{v}\n" for v in labels))
    return folder


def small_set(tmp_path: Path) -> Path:
    data = make_graphs(n_train=70, n_test=40, contamination=0.5, seed=0)
    graphs = data.train + data.test
    # class 7 = anomalous; it appears first in the labels file (GLocalKD's convention)
    labels = [3] * 70 + [7 if bad else 3 for bad in data.labels]
    order = np.r_[np.flatnonzero(np.array(labels) == 7)[:1], np.arange(len(labels))]
    order = list(dict.fromkeys(order.tolist()))
    return write_tu(
        tmp_path / "graphs", "TOY", [graphs[i] for i in order], [labels[i] for i in order]
    )


def test_the_class_appearing_first_is_anomalous_and_the_split_is_stratified():
    labels = np.array([-1, 1, 1, -1, 1] * 40)
    parts = graph_suite.split(labels, seed=0)
    y = parts["y"]
    assert graph_suite.anomalous_class(labels) == -1 and y.sum() == 80
    assert not y[parts["fit"]].any() and not y[parts["holdout"]].any()
    assert y[parts["train_anomalous"]].all()
    test = parts["test"]
    assert abs(y[test].mean() - 0.4) < 0.05 and len(test) == 40
    everything = np.concatenate([parts[k] for k in ("fit", "holdout", "train_anomalous", "test")])
    assert sorted(everything.tolist()) == list(range(200))
    again = graph_suite.split(labels, seed=0)
    assert all(np.array_equal(again[k], parts[k]) for k in parts)


def test_labelled_detectors_get_labels_and_one_class_detectors_do_not(monkeypatch):
    seen = {}

    class Fake:
        threshold = None

        def fit(self, X, y=None):
            seen[self.name] = (len(X), None if y is None else np.asarray(y).tolist())
            return self

        def calibrate(self, X, fpr):
            self.threshold = 0.5

        def score(self, X):
            s = np.arange(len(X), dtype=float)
            return SimpleNamespace(scores=s, labels=s > 0.5 * len(X), maps=None, extras={})

    def fake_class(name):
        return SimpleNamespace(info=SimpleNamespace(uses_labels=name == "labelled"))

    def fake_make(name, quick, seed, overrides=None):
        det = Fake()
        det.name = name
        return det

    monkeypatch.setattr(graph_suite, "get_class", fake_class)
    monkeypatch.setattr(graph_suite, "make_detector", fake_make)
    labels = np.array([0] * 30 + [1] * 70)
    parts = graph_suite.split(labels, seed=1)
    graphs = list(range(100))
    graph_suite.evaluate("labelled", graphs, parts, False, 0)
    graph_suite.evaluate("one_class", graphs, parts, False, 0)
    n_fit, y = seen["labelled"]
    assert n_fit == len(parts["fit"]) + len(parts["train_anomalous"])
    assert sum(y) == len(parts["train_anomalous"])
    assert seen["one_class"] == (len(parts["fit"]), None)


def test_quick_run_writes_tables_and_report(tmp_path):
    root = small_set(tmp_path)
    out = tmp_path / "results"
    csv = graph_suite.run(
        root=root, out_dir=out, detectors=["graph_stats"], quick=True, nodes=False
    )
    summary = pd.read_csv(csv)
    assert set(summary["detector"]) == {"graph_stats"}
    assert summary.loc[0, "roc_auc"] > 0.8
    runs = pd.read_csv(out / "graph_runs.csv")
    assert (runs["anomalous_class"] == 7).all()
    md = (out / "graph.md").read_text()
    assert "ROC-AUC per data set" in md and "TOY" in md
    html = (out / "graph.html").read_text()
    assert "Most anomalous test graphs" in html and "data:image/png;base64" in html


def test_node_level_rows_come_from_graph_nodes_when_it_exists(monkeypatch, tmp_path):
    import sys

    calls = []

    def run_nodes(root, out_dir, detectors, quick):
        calls.append((Path(root).name, detectors, quick))
        return [{"dataset": "inj_cora", "detector": "dominant", "roc_auc": 0.9}]

    fake = SimpleNamespace(run_nodes=run_nodes)
    monkeypatch.setitem(sys.modules, "normalcy.bench.graph_nodes", fake)
    rows = graph_suite._node_rows(["dominant"], tmp_path, True)
    assert calls == [("nodes", ["dominant"], True)]
    assert rows.loc[0, "roc_auc"] == 0.9
    monkeypatch.setitem(sys.modules, "normalcy.bench.graph_nodes", None)  # absent module
    assert graph_suite._node_rows([], tmp_path, False) is None
