"""evaluate(): one row per call with every metric that applies, equal to the single metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import normalcy as nc
import normalcy.metrics as M
from normalcy.core.errors import InputError


def test_image_and_tabular_rows():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.1
    s = rng.random(400) + y
    for kind in ("image", "tabular"):
        row = M.evaluate(y, s, kind=kind)
        assert set(row) == {
            "kind",
            "n",
            "n_anomalies",
            "auroc",
            "average_precision",
            "f1_max",
            "f1_max_threshold",
            "tpr_at_fpr_0.01",
        }
        assert row["kind"] == kind and row["n"] == 400 and row["n_anomalies"] == int(y.sum())
        assert row["auroc"] == M.auroc(y, s)
        assert row["average_precision"] == M.average_precision(y, s)
        assert (row["f1_max"], row["f1_max_threshold"]) == tuple(M.f1_max(y, s))
        assert row["tpr_at_fpr_0.01"] == M.tpr_at_fpr(y, s, 0.01)
    assert "tpr_at_fpr_0.05" in M.evaluate(y, s, fpr=0.05)


def test_pixel_row():
    rng = np.random.default_rng(1)
    masks = np.zeros((12, 40, 40), bool)
    masks[8:, 10:20, 10:20] = True
    maps = rng.random((12, 40, 40)).astype(np.float32) + masks * 0.8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        row = M.evaluate(masks, maps, kind="pixel")
        expected_aupimo = M.aupimo(masks, maps).mean
    assert row["n_images"] == 12 and row["n_anomalous_images"] == 4
    assert row["pixel_auroc"] == M.pixel_auroc(masks, maps)
    assert row["aupro"] == M.aupro(masks, maps)
    assert row["aupimo"] == expected_aupimo or (
        np.isnan(row["aupimo"]) and np.isnan(expected_aupimo)
    )


def test_series_row_uses_the_f1_max_threshold():
    rng = np.random.default_rng(2)
    y = np.zeros(3000, int)
    y[[*range(500, 560), *range(1700, 1720), *range(2500, 2501)]] = 1
    s = rng.random(3000) + 0.7 * y
    row = M.evaluate(y, s, kind="series", window=20, early_buffer=30, delay_buffer=30)
    thr = M.f1_max(y, s).threshold
    assert row["threshold"] == thr and row["n_events"] == 3 and row["n_anomalies"] == 81
    assert row["vus_roc"] == M.vus_roc(y, s, window=20)
    assert row["vus_pr"] == M.vus_pr(y, s, window=20)
    assert row["pate"] == M.pate(y, s, early_buffer=30, delay_buffer=30)
    assert row["range_f1"] == M.range_f1(y, s, thr)
    assert row["event_f1"] == M.event_f1(y, s, thr)
    assert row["point_adjusted_f1"] == M.point_adjusted_f1(y, s, thr)
    assert row["nab_reward_low_FN_rate"] == M.nab_score(y, s, thr, profile="reward_low_FN_rate")
    assert row["ucr_score"] == M.ucr_score(y, s)
    assert row["auroc"] == M.auroc(y, s)
    binary = M.evaluate(y, (s > 1.2).astype(float), kind="series")
    assert np.isnan(binary["threshold"])
    assert binary["event_f1"] == M.event_f1(y, (s > 1.2).astype(float))


def test_undefined_metrics_are_nan_with_one_warning():
    with pytest.warns(M.UndefinedMetricWarning, match="auroc") as record:
        row = M.evaluate(np.zeros(100), np.arange(100.0), kind="series", window=5)
    assert len(record) == 1
    for key in ("auroc", "vus_pr", "pate", "range_f1", "nab_standard", "ucr_score"):
        assert np.isnan(row[key]), key


def test_bad_kind_and_lazy_import():
    with pytest.raises(InputError, match="kind"):
        M.evaluate([0, 1], [0.1, 0.2], kind="no-such-kind")
    assert nc.metrics.auroc is M.auroc
