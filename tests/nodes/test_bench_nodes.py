"""The node benchmark (``normalcy bench nodes``) on tiny stand-ins of the shared node sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from normalcy.bench import nodes_suite
from normalcy.bench.graph_nodes import run_nodes, run_scale
from normalcy.datasets.synthetic_graphs import make_node_graph


@pytest.fixture()
def root(tmp_path):
    for i, name in enumerate(("inj_cora", "books", "disney")):
        data = make_node_graph(n_nodes=120, n_features=6, n_communities=4, seed=i)
        g = data.graph
        (tmp_path / "nodes").mkdir(exist_ok=True)
        np.savez(tmp_path / "nodes" / f"{name}.npz", x=g.x, edge_index=g.edge_index, y=data.labels)
    return tmp_path


def test_run_nodes_rows(root):
    rows = run_nodes(root, None, ["neighbour_residual"], seeds=(0, 1))
    assert [r["dataset"] for r in rows] == ["inj_cora", "books", "disney"]
    for row in rows:
        assert row["error"] == "" and row["seeds"] == 2
        assert 0.5 < row["roc_auc"] <= 1 and row["roc_auc_std"] >= 0
        assert row["fit_s"] >= 0 and row["fit_cpu_s"] >= 0


def test_suite_writes_csv_and_markdown(root, tmp_path):
    csv = nodes_suite.run("disney", root, tmp_path / "out", ["neighbour_residual"], quick=True)
    frame = pd.read_csv(csv)
    assert csv.name == "nodes_disney.csv" and len(frame) == 1
    assert "ROC-AUC" in (tmp_path / "out" / "nodes_disney.md").read_text()
    with pytest.raises(nc.InputError):
        nodes_suite.run("cora", root, tmp_path / "out")
    with pytest.raises(nc.InputError):
        nodes_suite.run(None, root, tmp_path / "out", ["iforest"])


def test_scale_run_reports_time_and_memory(tmp_path):
    rows = run_scale(300, ["neighbour_residual"])
    assert rows[0]["error"] == "" and rows[0]["peak_rss_mb"] > 0 and rows[0]["n_nodes"] == 300


def test_run_nodes_accepts_the_nodes_folder(root):
    rows = run_nodes(root / "nodes", None, ["neighbour_residual"], seeds=(0,), datasets=("books",))
    assert rows[0]["error"] == ""
