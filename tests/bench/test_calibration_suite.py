"""The calibration benchmark: realised false-positive rates on later normal data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from normalcy.bench import calibration_suite as cal


def test_split_keeps_order_and_sizes():
    parts = cal._split(np.arange(100.0), (0.5, 0.25))
    assert [p.size for p in parts] == [50, 25, 25]
    np.testing.assert_array_equal(np.concatenate(parts), np.arange(100.0))


def test_synthetic_run_writes_rates_for_both_methods(tmp_path):
    path = cal.run(dataset="synthetic", out_dir=tmp_path, detectors=["sub_pca"], quick=True)
    rows = pd.read_csv(tmp_path / "series_calibration.csv")
    assert set(rows["method"]) == set(cal.METHODS) and set(rows["fpr"]) == set(cal.RATES)
    assert rows["realised"].between(0, 1).all()
    # the autocorrelation-aware threshold is never below the plain quantile
    wide = rows.pivot_table(index=["case", "fpr"], columns="method", values="realised")
    assert (wide["autocorrelated"] <= wide["quantile"]).all()
    summary = pd.read_csv(path)
    assert summary["detector"].tolist() == ["sub_pca"]
    assert (tmp_path / "series_calibration_summary.md").read_text().startswith("| detector")
