"""The categorical-events benchmark on its synthetic set (quick)."""

from __future__ import annotations

import pandas as pd

from normalcy.bench import events_suite


def test_quick_synthetic_run_writes_every_metric_and_the_report(tmp_path):
    path = events_suite.run(
        dataset="synthetic",
        out_dir=tmp_path,
        detectors=["avf", "ape", "hbos"],
        quick=True,
        params={"epochs": 200, "dim": 16},  # APE's defaults, given to it alone (hbos lacks them)
    )
    frame = pd.read_csv(path)
    assert frame["detector"].tolist() == ["avf", "ape", "hbos"]
    assert frame["input"].tolist() == ["events", "events", "one-hot"]
    for col in ("roc_auc", "ap", "f1_at_fpr", "best_f1", "fit_s", "rows_per_s"):
        assert frame[col].notna().all(), col
    assert (frame["best_f1"] >= frame["f1_at_fpr"] - 1e-12).all()
    roc = frame.set_index("detector")["roc_auc"]
    assert roc["ape"] > 0.95 and roc["ape"] > roc["avf"]  # the planted pairs
    md = (tmp_path / "events_synthetic.md").read_text()
    assert "FPR 0.05" in md and "| ape |" in md
    html = (tmp_path / "events_synthetic.html").read_text()
    assert "localised to" in html and " &amp; " in html  # a field pair per top event


def test_default_detectors_are_the_event_detectors_then_auto_and_pyod():
    names = events_suite.detector_names()
    assert names[:2] == ["ape", "avf"] and "auto" in names and "iforest" in names
    assert "autoencoder" not in names  # deep tabular models only on request


def test_the_split_holds_out_a_fifth_for_calibration():
    frame = pd.DataFrame({"a": list("xyzw") * 25})
    fit, cal = events_suite.split(frame, seed=0)
    assert (len(fit), len(cal)) == (80, 20)
