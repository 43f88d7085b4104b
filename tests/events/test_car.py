"""CAR: alerts of a recurring multi-step pattern with consistent content rank first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

import normalcy as nc
from conftest import shared_dataset
from normalcy.events.car import CollaborativeAlertRanker, precision_at

PATTERN = [("t1", "nmap", "22"), ("t4", "ssh", "22"), ("t7", "sudo", "0"), ("t9", "scp", "443")]


def synthetic_alerts(n_seq: int = 40, seed: int = 0, consistent_user: bool = True):
    """Per host, a sequence of isolated false alerts (random type and content); every other
    host also carries the 4-step attack pattern once or twice (true positives)."""
    rng = np.random.default_rng(seed)
    types = [f"t{i}" for i in range(12)]
    rows = []
    for s in range(n_seq):
        seq = [
            (rng.choice(types), f"p{rng.integers(0, 40)}", str(rng.integers(1000, 1100)), 0)
            for _ in range(rng.integers(10, 25))
        ]
        if s % 2 == 0:
            for _ in range(rng.integers(1, 3)):
                pos = int(rng.integers(0, len(seq) + 1))
                seq[pos:pos] = [(t, p, port, 1) for t, p, port in PATTERN]
        for i, (t, p, port, tp) in enumerate(seq):
            user = "root" if tp and consistent_user else f"u{rng.integers(0, 30)}"
            rows.append(
                {"host": f"h{s}", "time": i, "type": t, "process": p, "port": port,
                 "user": user, "tp": tp}
            )  # fmt: skip
    return pd.DataFrame(rows)


def ranker(**kw) -> CollaborativeAlertRanker:
    return CollaborativeAlertRanker(
        sequence_column="host",
        order_column="time",
        type_columns=["type"],
        ignore_columns=["tp"],
        **kw,
    )


def test_true_positives_rank_first():
    alerts = synthetic_alerts()
    scores = ranker().fit_score(alerts)
    n_tp = int(alerts["tp"].sum())
    assert precision_at(scores, alerts["tp"], n_tp) >= 0.95
    assert roc_auc_score(alerts["tp"], scores) >= 0.99


def test_temporal_model_alone_finds_the_pattern():
    alerts = synthetic_alerts(consistent_user=False)
    scores = ranker(content_weight=0.0).fit_score(alerts)
    assert roc_auc_score(alerts["tp"], scores) >= 0.85


def test_patterns_reconstruct_the_scenario():
    car = ranker().fit(synthetic_alerts())
    top = car.patterns(top=3)
    steps = {p for p in top["pattern"]}
    assert steps == {("t1", "t4"), ("t4", "t7"), ("t7", "t9")}
    assert (top["gain"] > 0).all()


def test_shuffled_rows_with_order_column_still_rank_true_positives_first():
    alerts = synthetic_alerts()
    a = ranker().fit_score(alerts)
    perm = np.random.default_rng(0).permutation(len(alerts))
    shuffled = alerts.iloc[perm]
    b = ranker().fit(shuffled).score(alerts)
    # The alert order within sequences comes from the order column, not the row order.
    assert roc_auc_score(alerts["tp"], b) >= 0.99
    assert np.corrcoef(a, b)[0, 1] > 0.8  # only the embedding SGD order differs


def test_deterministic_and_save_load_identity(tmp_path):
    alerts = synthetic_alerts(n_seq=16)
    car = ranker(**CollaborativeAlertRanker.quick_params, seed=3).fit(alerts)
    again = ranker(**CollaborativeAlertRanker.quick_params, seed=3).fit(alerts)
    np.testing.assert_array_equal(car.score(alerts), again.score(alerts))
    path = car.save(tmp_path / "car.normalcy")
    loaded = CollaborativeAlertRanker.load(path)
    np.testing.assert_array_equal(car.score(alerts), loaded.score(alerts))
    pd.testing.assert_frame_equal(car.patterns(), loaded.patterns())
    assert loaded.get_params() == car.get_params()


def test_score_handles_unseen_values_and_types():
    alerts = synthetic_alerts(n_seq=16)
    car = ranker(**CollaborativeAlertRanker.quick_params).fit(alerts)
    new = alerts.head(30).copy()
    new.loc[new.index[:5], "type"] = "never-seen"
    new.loc[new.index[:5], "process"] = None
    scores = car.score(new)
    assert scores.shape == (30,) and np.isfinite(scores).all()


@pytest.mark.parametrize(
    "edit",
    [
        lambda m, a: a.update({"tree.parent": a["tree.parent"][::-1].copy()}),
        lambda m, a: a.update({"content.embeddings": a["content.embeddings"][:, :2].copy()}),
        lambda m, a: a.update({"tree.count_node": a["tree.count_node"] + 10**6}),
        lambda m, a: m["input_spec"].update({"types": []}),
        lambda m, a: m["params"].update({"depth": 99}),
        lambda m, a: m.update({"detector": "patchcore"}),
    ],
)
def test_tampered_file_is_refused(tmp_path, edit):
    from model_file_tampering import read_model, write_model

    car = ranker(**CollaborativeAlertRanker.quick_params).fit(synthetic_alerts(n_seq=6))
    path = car.save(tmp_path / "car.normalcy")
    manifest, arrays = read_model(path)
    edit(manifest, arrays)
    write_model(path, manifest, arrays)
    with pytest.raises(nc.ModelFileError):
        CollaborativeAlertRanker.load(path)


@pytest.mark.parametrize(
    "alerts, kw, match",
    [
        ("not a table", {}, "table"),
        (pd.DataFrame(), {}, "at least one row"),
        (pd.DataFrame({"type": ["a", "b"]}), {"sequence_column": "host"}, "lack the columns"),
        (pd.DataFrame({"type": ["a", "b"], "t": ["x", "y"]}), {"order_column": "t"}, "numbers"),
        (pd.DataFrame({"type": ["a", "b"], "s": [1.0, np.nan]}), {"score_column": "s"}, "finite"),
        (pd.DataFrame({"type": ["a", "b"]}), {"type_columns": ["nope"]}, "type_columns"),
        (pd.DataFrame({"type": ["a"]}), {}, "at least 2 alerts"),
        (pd.DataFrame({"type": [[1], [2]]}), {}, "scalars"),
        (pd.DataFrame({"type": ["a", "b"]}), {"depth": 0}, "depth"),
    ],
)
def test_bad_input_raises_input_error(alerts, kw, match):
    with pytest.raises(nc.InputError, match=match):
        CollaborativeAlertRanker(**kw).fit(alerts)


def test_score_before_fit_and_missing_columns():
    with pytest.raises(nc.NotFittedError):
        CollaborativeAlertRanker().score(pd.DataFrame({"a": ["x"]}))
    car = ranker(**CollaborativeAlertRanker.quick_params).fit(synthetic_alerts(n_seq=6))
    with pytest.raises(nc.InputError, match="lack"):
        car.score(synthetic_alerts(n_seq=2).drop(columns=["process"]))


def test_bench_suite_writes_both_precisions(tmp_path):
    root = shared_dataset("events/nsl_kdd")
    from normalcy.bench import car_suite

    csv = car_suite.run(root=root, out_dir=tmp_path, detectors=["auto"], limit=1500, quick=True)
    frame = pd.read_csv(csv)
    assert set(frame["ranking"]) == {"detector", "car", "car+score"}
    assert set(frame["protocol"]) == {"window", "service"}
    assert frame["p@100"].between(0, 1).all()
    assert "p@100" in (tmp_path / "car_nsl_kdd.md").read_text()
