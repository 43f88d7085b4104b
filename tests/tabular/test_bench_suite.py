"""The tabular benchmark suite on a tiny fake ADBench folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from normalcy.bench import tabular_suite as suite


@pytest.fixture
def fake_root(tmp_path):
    rng = np.random.default_rng(0)
    for stem, n in (("1_a", 120), ("2_b", 90), ("3_c", 300)):
        X = rng.normal(size=(n, 4))
        X[:, 3] = 1.0  # a constant column
        y = np.zeros(n, dtype=np.int64)
        y[:10] = 1
        X[:10, :3] += 4.0
        np.savez(tmp_path / f"{stem}.npz", X=X, y=y)
    return tmp_path


def test_run_writes_results_tables_and_report(fake_root, tmp_path):
    out = tmp_path / "out"
    csv = suite.run(
        root=fake_root, out_dir=out, detectors=["iforest", "hbos", "auto"], max_samples=200
    )
    frame = pd.read_csv(csv)
    assert len(frame) == 9 and set(frame["detector"]) == {"iforest", "hbos", "auto"}
    assert frame["roc_auc"].between(0.9, 1.0).all() and frame["ap"].notna().all()
    assert (frame["fit_s"] >= 0).all() and (frame["score_s"] >= 0).all()
    big = frame[frame["dataset"] == "3_c"]
    assert big["subsampled"].all() and (big["n"] == 200).all() and (big["n_original"] == 300).all()
    md = (out / "tabular.md").read_text()
    assert "| auto |" in md and "3_c (300 -> 200)" in md and "time_vs_iforest" in md
    html = (out / "tabular.html").read_text()
    assert "Critical-difference" in html and "data:image/png;base64" in html


def test_limit_runs_the_smallest_sets_and_dataset_selects_one(fake_root, tmp_path):
    csv = suite.run(root=fake_root, out_dir=tmp_path, detectors=["hbos"], limit=2)
    assert sorted(pd.read_csv(csv)["dataset"]) == ["1_a", "2_b"]
    one = suite.run(root=fake_root, out_dir=tmp_path, detectors=["hbos"], dataset="c")
    assert one.name == "tabular_3_c.csv" and len(pd.read_csv(one)) == 1


def test_refuses_detectors_of_another_modality(fake_root, tmp_path):
    from normalcy.core.registry import detectors

    others = [i.name for i in detectors() if i.modality != "tabular"]
    if not others:
        pytest.skip("no non-tabular detector registered")
    with pytest.raises(suite.InputError, match="not tabular"):
        suite.run(root=fake_root, out_dir=tmp_path, detectors=[others[0]])


def test_ranks_and_critical_difference():
    frame = pd.DataFrame(
        {
            "dataset": ["a", "a", "b", "b", "c", "c"],
            "detector": ["x", "y"] * 3,
            "roc_auc": [0.9, 0.8, 0.7, 0.75, 0.6, np.nan],
        }
    )
    ranks = suite.average_ranks(frame)
    assert ranks["x"] == pytest.approx((1 + 2 + 1) / 3) and ranks["y"] == pytest.approx(5 / 3)
    # two methods: q_0.05 = 1.960, CD = 1.960 * sqrt(2 * 3 / (6 N))
    assert suite.nemenyi_cd(2, 10) == pytest.approx(1.95996 * np.sqrt(1 / 10), rel=1e-3)
    fig = suite.cd_diagram(ranks, 3)
    assert fig.axes


def test_a_run_over_the_time_limit_is_a_failure():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 3)), np.r_[np.zeros(45), np.ones(5)]
    row = suite.evaluate("hbos", X, y, quick=False, seed=0, timeout=1e-4)
    assert row["error"].startswith("timeout") and "roc_auc" not in row
    ok = suite.evaluate("hbos", X, y, quick=False, seed=0, timeout=120)
    assert ok["error"] == "" and 0.0 <= ok["roc_auc"] <= 1.0
