"""ocgin: planted anomalies rank first, the graph policy, save/load, determinism, widths."""

from __future__ import annotations

import graph_checks as checks

PARAMS = {"hidden": 16, "epochs": 20, "device": "cpu"}


def test_planted_anomalies_rank_first():
    checks.check_planted_rank_first("ocgin", PARAMS)


def test_save_load_identity_and_determinism(tmp_path):
    checks.check_save_load_and_determinism("ocgin", {**PARAMS, "epochs": 2}, tmp_path)


def test_isolated_nodes_self_loops_disconnected_and_empty_graphs():
    checks.check_graph_policy("ocgin", {**PARAMS, "epochs": 2})


def test_wrong_feature_width_is_refused():
    checks.check_feature_widths("ocgin", {**PARAMS, "epochs": 1})
