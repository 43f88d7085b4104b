"""The series benchmark suite on tiny UCR- and NAB-shaped folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from normalcy.bench import series_suite


def _sine(n, period=40, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / period) + 0.05 * rng.standard_normal(n)


@pytest.fixture
def ucr_root(tmp_path):
    root = tmp_path / "ucr"
    root.mkdir()
    x = _sine(1200)
    x[900:905] += 3.0  # 1-based 901..905
    (root / "001_UCR_Anomaly_spike_600_901_905.txt").write_text("\n".join(map(str, x)))
    y = _sine(1200, seed=1)
    y[700:740] = 0.0
    (root / "002_UCR_Anomaly_flat_500_701_740.txt").write_text(" ".join(map(str, y)))
    return root


@pytest.fixture
def nab_root(tmp_path):
    root = tmp_path / "nab"
    (root / "data" / "g").mkdir(parents=True)
    (root / "labels").mkdir()
    stamps = pd.date_range("2024-01-01", periods=1500, freq="5min")
    windows = {}
    for i, spike in enumerate((900, 1200)):
        x = _sine(1500, seed=i)
        x[spike : spike + 3] += 4.0
        key = f"g/s{i}.csv"
        pd.DataFrame({"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": x}).to_csv(
            root / "data" / key, index=False
        )
        windows[key] = [[str(stamps[spike - 40]), str(stamps[spike + 40])]]
    (root / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    # NAB-style results of one outside detector that fires exactly at each window start
    res = tmp_path / "NAB" / "results" / "oracle" / "g"
    res.mkdir(parents=True)
    for i, spike in enumerate((900, 1200)):
        score = np.zeros(1500)
        score[spike - 40] = 1.0
        pd.DataFrame({"timestamp": stamps, "anomaly_score": score}).to_csv(
            res / f"oracle_s{i}.csv", index=False
        )
    return root


def test_ucr_protocol(ucr_root, tmp_path):
    out = tmp_path / "out"
    path = series_suite.run(
        dataset="ucr", root=ucr_root, out_dir=out, detectors=["sub_pca", "mp_discord"]
    )
    assert path == out / "series_ucr.csv"
    table = pd.read_csv(path).set_index("detector")
    assert table.loc["mp_discord", "ucr_score"] == 1.0
    assert table.loc["sub_pca", "ucr_score"] == 1.0
    for col in ("vus_pr", "pate", "range_f1", "seconds_per_series"):
        assert np.isfinite(table.loc["sub_pca", col])
    assert table.loc["sub_pca", "points_per_s"] > 0  # streaming detector measured
    assert table.loc["sub_pca", "latency_p50_us"] <= table.loc["sub_pca", "latency_p99_us"]
    assert np.isnan(table.loc["mp_discord", "points_per_s"])  # not a streaming detector
    per = pd.read_csv(out / "series_ucr_per_series.csv")
    assert len(per) == 4 and set(per["series"]) == {"001_spike", "002_flat"}
    html = (out / "series_ucr.html").read_text()
    assert html.count("<img") == 2 and "001_spike" in html
    assert "| detector |" in (out / "series_ucr.md").read_text()


def test_nab_protocol_and_reference_rescoring(nab_root, tmp_path):
    out = tmp_path / "out"
    path = series_suite.run(
        dataset="nab",
        root=nab_root.parent,  # a folder holding nab/ works too
        out_dir=out,
        detectors=["sub_pca", "sub_knn"],
        nab_results=tmp_path / "NAB",
    )
    table = pd.read_csv(path).set_index("detector")
    assert table.loc["oracle", "source"] == "numenta/NAB results"
    # firing once at the very start of every window is NAB's perfect detector
    assert table.loc["oracle", "nab_standard"] == pytest.approx(100.0)
    for name in ("sub_pca", "sub_knn"):
        assert table.loc[name, "nab_standard"] > 50  # obvious spikes are found early
        assert table.loc[name, "errors"] == 0
    assert table.loc["sub_pca", "points_per_s"] > 0
    thresholds = json.loads((out / "series_nab_thresholds.json").read_text())
    assert set(thresholds["sub_pca"]) == set(series_suite.NAB_PROFILES)
    assert "NAB:oracle" in thresholds
    assert (out / "series_nab.html").read_text().count("<img") == 2


def test_nab_uses_a_detectors_own_alarm_scores(nab_root, tmp_path, monkeypatch):
    """conformal_knn declares alarm_scores: its online scores are used without the suite's
    causal_margin transform (which sub_pca still gets)."""
    from normalcy.series import normalise

    calls = []
    original = normalise.causal_margin
    monkeypatch.setattr(
        normalise, "causal_margin", lambda *a, **k: calls.append(1) or original(*a, **k)
    )
    out = tmp_path / "out"
    path = series_suite.run(dataset="nab", root=nab_root, out_dir=out, detectors=["conformal_knn"])
    assert calls == []
    table = pd.read_csv(path).set_index("detector")
    assert table.loc["conformal_knn", "nab_standard"] > 50  # obvious spikes are found early
    assert table.loc["conformal_knn", "points_per_s"] > 0  # a streaming detector
    series_suite.run(dataset="nab", root=nab_root, out_dir=out, detectors=["sub_pca"])
    assert len(calls) == 2  # one per file


def test_nab_online_scores_are_causal():
    x = _sine(1000)
    p = 150
    for name in ("sub_pca", "mp_discord", "conformal_knn"):
        raw, secs, _ = series_suite.nab_online_scores(name, x, p)
        changed = x.copy()
        changed[700:] += 5.0
        raw2, _, _ = series_suite.nab_online_scores(name, changed, p)
        np.testing.assert_allclose(raw[:700], raw2[:700])  # the future never leaks back
        assert np.all(raw[: p // 2] == 0) and secs > 0


def test_threshold_search_finds_the_separating_threshold():
    y = np.zeros(1000, dtype=int)
    y[600:650] = 1
    s = np.zeros(1000)
    s[600] = 5.0
    s[300] = 4.0  # a false alarm, scored lower than the true detection
    thr, val = series_suite.nab_threshold_search([y], [s], "standard")
    assert 4.0 < thr <= 5.0 and val == pytest.approx(100.0)


def test_make_detector_causal_settings_and_errors(tmp_path):
    det = series_suite.make_detector("mp_discord", causal=True)
    assert det.spread == "last" and det.self_join is False
    assert series_suite.make_detector("sub_pca").spread == "mean"
    with pytest.raises(nc.InputError, match="dataset must be one of"):
        series_suite.run(dataset="bogus", out_dir=tmp_path)
    with pytest.raises(nc.InputError, match="not series"):
        series_suite.run(dataset="ucr", root=tmp_path, detectors=["iforest"], out_dir=tmp_path)
    with pytest.raises(nc.InputError, match="not found"):
        series_suite.run(dataset="ucr", root=tmp_path / "none", out_dir=tmp_path)


def test_params_override_every_detector_of_the_run(ucr_root, nab_root, tmp_path, monkeypatch):
    made = []
    from normalcy.bench import series_common

    original = series_common.create
    monkeypatch.setattr(
        series_common, "create", lambda name, **kw: made.append((name, kw)) or original(name, **kw)
    )
    series_suite.run(
        dataset="ucr", root=ucr_root, out_dir=tmp_path, detectors=["sub_pca"], params={"window": 24}
    )
    series_suite.run(
        dataset="nab", root=nab_root, out_dir=tmp_path, detectors=["sub_pca"], params={"window": 24}
    )
    assert made and all(kw["window"] == 24 for _, kw in made)
    with pytest.raises(nc.InputError, match="sub_pca has no parameter bogus"):
        series_suite.run(
            dataset="ucr",
            root=ucr_root,
            out_dir=tmp_path,
            detectors=["sub_pca"],
            params={"bogus": 1},
        )


def _add_unlabelled_files(root, n=3):
    """NAB files sorted before the labelled ones, with no anomaly window (like NAB's
    artificialNoAnomaly group)."""
    (root / "data" / "a").mkdir()
    stamps = pd.date_range("2024-01-01", periods=600, freq="5min")
    for i in range(n):
        pd.DataFrame(
            {"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": _sine(600, seed=9 + i)}
        ).to_csv(root / "data" / "a" / f"quiet{i}.csv", index=False)


def test_quick_nab_run_picks_files_with_labelled_anomalies(nab_root, tmp_path):
    _add_unlabelled_files(nab_root)
    path = series_suite.run(
        dataset="nab", root=nab_root, out_dir=tmp_path, detectors=["sub_pca"], quick=True
    )
    per_series = pd.read_csv(tmp_path / "series_nab_per_series.csv")
    assert set(per_series["series"]) == {"g/s0.csv", "g/s1.csv"}
    table = pd.read_csv(path).set_index("detector")
    assert table.loc["sub_pca", "labelled_series"] == 2
    assert np.isfinite(table.loc["sub_pca", ["vus_pr", "pate", "range_f1"]].astype(float)).all()


def test_metrics_without_a_labelled_anomaly_are_not_nan_silently(nab_root, tmp_path):
    import shutil

    shutil.rmtree(nab_root / "data" / "g")
    (nab_root / "labels" / "combined_windows.json").write_text("{}")
    _add_unlabelled_files(nab_root, n=1)
    with pytest.warns(UserWarning, match="no scored series has a labelled anomaly"):
        path = series_suite.run(
            dataset="nab", root=nab_root, out_dir=tmp_path, detectors=["sub_pca"]
        )
    assert pd.read_csv(path).set_index("detector").loc["sub_pca", "labelled_series"] == 0


def test_default_dataset_is_ucr(ucr_root, tmp_path, monkeypatch):
    monkeypatch.setenv("NORMALCY_SHARED", str(ucr_root.parent))
    (ucr_root.parent / "datasets").mkdir()
    ucr_root.rename(ucr_root.parent / "datasets" / "ucr")
    path = series_suite.run(out_dir=tmp_path, detectors=["sub_pca"], quick=True)
    assert path.name == "series_ucr.csv"
