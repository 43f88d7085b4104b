"""Series metrics: the PATE package's outputs, VUS by brute force from the paper's formulas,
NAB's published scores, hand-computed cases and edge cases."""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from oracle_cases import RANGE_SETTINGS, digest, pate_cases, range_cases

import normalcy.metrics as M
from conftest import shared_dataset
from normalcy.core.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")


def labels(t_len, *events):
    y = np.zeros(t_len, int)
    for a, b in events:
        y[a : b + 1] = 1
    return y


# ---------------------------------------------------------------------------- PATE


@pytest.fixture(scope="module")
def pate_reference():
    return {
        c["name"]: c for c in json.loads((FIXTURES / "pate_reference.json").read_text())["cases"]
    }


@pytest.mark.parametrize("case", pate_cases(), ids=lambda c: c["name"])
def test_pate_matches_the_pate_package(case, pate_reference):
    ref = pate_reference[case["name"]]
    assert ref["sha256"] == digest(case["y_true"], case["y_score"])
    got = M.pate(case["y_true"], case["y_score"], **case["kwargs"])
    assert got == pytest.approx(ref["pate"], abs=1e-12)


def test_pate_f1_by_hand():
    # event [10, 19]; flagged: the event and two points after it
    y = labels(40, (10, 19))
    pred = labels(40, (10, 21))
    # delay buffer 4: zone [20, 23], centre 14.5, weights 1 - (x - 14.5) / 8.5 for x = 20, 21
    w = [1 - 5.5 / 8.5, 1 - 6.5 / 8.5]
    tp, fp = 10 + sum(w), 2 - sum(w)
    with_buffer = 2 * (tp / (tp + fp)) / (tp / (tp + fp) + 1)
    without = 2 * (10 / 12) / (10 / 12 + 1)  # buffer 0: both extra points are false positives
    got = M.pate(y, pred, early_buffer=4, delay_buffer=4, binary=True)
    assert got == pytest.approx((with_buffer + without) / 2)
    assert M.pate(y, y, early_buffer=4, delay_buffer=4, binary=True) == pytest.approx(1.0)
    assert M.pate(y, y.astype(float), early_buffer=4, delay_buffer=4) == pytest.approx(1.0)


def test_pate_edge_cases():
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.pate(np.zeros(50), np.arange(50.0)))
    with pytest.raises(InputError, match="0/1"):
        M.pate(labels(50, (10, 12)), np.linspace(0, 1, 50), binary=True)
    with pytest.raises(InputError, match="NaN"):
        M.pate(labels(5, (1, 2)), [0.1, np.nan, 0.3, 0.2, 0.1])
    with pytest.raises(InputError, match="buffer"):
        M.pate(labels(5, (1, 2)), np.arange(5.0), early_buffer=-1)


# ---------------------------------------------------------------------------- VUS


def brute_force_vus(y, s, window, n_thresholds=None):
    """The paper's formulas, one threshold and one point at a time."""
    t_len = len(y)
    events = []
    i = 0
    while i < t_len:
        if y[i]:
            j = i
            while j + 1 < t_len and y[j + 1]:
                j += 1
            events.append((i, j))
            i = j + 1
        else:
            i += 1
    big_p = sum(y)
    desc = sorted(set(s), reverse=True)
    if n_thresholds is not None:
        ranked = sorted(s, reverse=True)
        desc = [ranked[int(k)] for k in np.linspace(0, t_len - 1, n_thresholds).astype(int)]
    rocs, prs = [], []
    for ell in range(window + 1):
        lab = [float(v) for v in y]
        for a, b in events:
            for d in range(1, ell // 2 + 1):
                w = math.sqrt(1 - d / ell)
                if b + d < t_len:
                    lab[b + d] += w
                if a - d >= 0:
                    lab[a - d] += w
        lab = [min(v, 1.0) for v in lab]
        segments = []
        i = 0
        while i < t_len:
            if lab[i] > 0:
                j = i
                while j + 1 < t_len and lab[j + 1] > 0:
                    j += 1
                segments.append((i, j))
                i = j + 1
            else:
                i += 1
        p_ell = (big_p + sum(lab)) / 2
        n_ell = t_len - p_ell
        pts, precs = [(0.0, 0.0)], []
        for thr in desc:
            flagged = [v >= thr for v in s]
            tp = sum(lab[i] for i in range(t_len) if flagged[i])
            n_flag = sum(flagged)
            exist = sum(any(flagged[a : b + 1]) for a, b in segments) / len(segments)
            pts.append(((n_flag - tp) / n_ell, min(tp / p_ell, 1) * exist))
            precs.append(tp / n_flag)
        pts.append((1.0, 1.0))
        rocs.append(
            sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False))
        )
        tprs = [0.0] + [p[1] for p in pts[1:-1]]
        prs.append(sum((tprs[k + 1] - tprs[k]) * precs[k] for k in range(len(precs))))
    return sum(rocs) / len(rocs), sum(prs) / len(prs)


@pytest.mark.parametrize(
    ("seed", "window", "n_thresholds"),
    [(0, 0, None), (1, 4, None), (2, 7, None), (3, 10, None), (4, 6, 13), (5, 12, None)],
)
def test_vus_matches_brute_force(seed, window, n_thresholds):
    rng = np.random.default_rng(seed)
    t_len = 70
    y = np.zeros(t_len, int)
    for a, n in [(3, 4), (20, 1), (24, 6), (50, 9), (66, 4)][: 2 + seed % 4]:
        y[a : a + n] = 1
    s = np.round(rng.random(t_len) + 0.6 * y + 0.3 * np.roll(y, 3), 1)  # ties included
    roc, pr = brute_force_vus(y.tolist(), s.tolist(), window, n_thresholds)
    assert M.vus_roc(y, s, window=window, n_thresholds=n_thresholds) == pytest.approx(
        roc, abs=1e-12
    )
    assert M.vus_pr(y, s, window=window, n_thresholds=n_thresholds) == pytest.approx(pr, abs=1e-12)


def test_vus_package_variant_matches_the_vus_package():
    cases = {c["name"]: c for c in pate_cases()}
    refs = json.loads((FIXTURES / "vus_reference.json").read_text())["cases"]
    assert len(refs) >= 40
    for r in refs:
        c = cases[r["name"]]
        assert r["sha256"] == digest(c["y_true"], c["y_score"])
        kw = {"window": r["window"], "variant": "vus_package"}
        assert M.vus_roc(c["y_true"], c["y_score"], **kw) == pytest.approx(r["vus_roc"], abs=1e-12)
        assert M.vus_pr(c["y_true"], c["y_score"], **kw) == pytest.approx(r["vus_pr"], abs=1e-12)
    with pytest.raises(InputError, match="variant"):
        M.vus_pr(c["y_true"], c["y_score"], variant="tsb")


def test_vus_by_hand():
    y = labels(10, (4, 5))
    s = y.astype(float)  # a perfect detector
    assert M.vus_roc(y, s, window=0) == pytest.approx(1.0)
    assert M.vus_pr(y, s, window=0) == pytest.approx(1.0)
    # l = 2 widens the event by one point each side with weight sqrt(1/2)
    w = math.sqrt(0.5)
    p_ell = (2 + 2 + 2 * w) / 2
    tpr1 = 2 / p_ell
    fpr0 = (10 - (2 + 2 * w)) / (10 - p_ell)
    roc2 = fpr0 * (tpr1 + 1) / 2 + (1 - fpr0)
    pr2 = tpr1 + (1 - tpr1) * (2 + 2 * w) / 10
    assert M.vus_roc(y, s, window=2) == pytest.approx((1 + 1 + roc2) / 3)
    assert M.vus_pr(y, s, window=2) == pytest.approx((1 + 1 + pr2) / 3)


def test_vus_edge_cases():
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.vus_roc(np.zeros(20), np.arange(20.0)))
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.vus_pr(np.ones(20), np.arange(20.0)))
    # constant scores, no buffer: the ROC diagonal and the anomaly rate
    y = labels(20, (5, 8))
    assert M.vus_roc(y, np.zeros(20), window=0) == pytest.approx(0.5)
    assert M.vus_pr(y, np.zeros(20), window=0) == pytest.approx(4 / 20)


# ---------------------------------------------------------------------------- range-based


def test_range_precision_recall_by_hand():
    y = labels(40, (10, 19))
    pred = labels(40, (15, 24))
    assert M.range_precision_recall(y, pred) == pytest.approx((0.5, 0.5))
    assert M.range_f1(y, pred) == pytest.approx(0.5)
    # positional bias over the true range's positions 1..10, overlap at positions 6..10
    assert M.range_precision_recall(y, pred, bias="front")[1] == pytest.approx(15 / 55)
    assert M.range_precision_recall(y, pred, bias="back")[1] == pytest.approx(40 / 55)
    assert M.range_precision_recall(y, pred, bias="middle")[1] == pytest.approx(15 / 30)
    # two flagged ranges inside one true range
    pred2 = labels(40, (10, 12), (16, 17))
    assert M.range_precision_recall(y, pred2) == pytest.approx((1.0, 0.5))
    p, r = M.range_precision_recall(y, pred2, cardinality="reciprocal")
    assert (p, r) == pytest.approx((1.0, 0.25))
    p, r = M.range_precision_recall(y, pred2, alpha=0.5, cardinality="reciprocal")
    assert r == pytest.approx(0.5 * 1 + 0.5 * 0.25)
    # precision averages over flagged ranges: one hit (half inside), one miss
    pred3 = labels(40, (15, 24), (30, 31))
    assert M.range_precision_recall(y, pred3)[0] == pytest.approx((0.5 + 0.0) / 2)


@pytest.mark.parametrize("case", range_cases(), ids=lambda c: c["name"])
def test_range_precision_recall_match_prts(case):
    ref = {
        c["name"]: c for c in json.loads((FIXTURES / "range_reference.json").read_text())["cases"]
    }
    ref = ref[case["name"]]
    assert ref["sha256"] == digest(case["y_true"], case["y_pred"])
    assert len(ref["results"]) == len(RANGE_SETTINGS)
    for r in ref["results"]:
        kw = {k: r[k] for k in ("alpha", "cardinality", "bias")}
        p, rec = M.range_precision_recall(case["y_true"], case["y_pred"], **kw)
        assert (p, rec) == pytest.approx((r["precision"], r["recall"]), abs=1e-12), kw


def test_range_metrics_threshold_and_edges():
    y = labels(40, (10, 19))
    scores = np.where(labels(40, (15, 24)) > 0, 0.9, 0.1)
    assert M.range_f1(y, scores, threshold=0.5) == pytest.approx(0.5)
    assert M.range_f1(y, np.zeros(40)) == 0.0  # nothing flagged
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.range_f1(np.zeros(40), scores, threshold=0.5))
    with pytest.raises(InputError, match="threshold"):
        M.range_f1(y, np.linspace(0, 1, 40))
    with pytest.raises(InputError, match="bias"):
        M.range_f1(y, scores, 0.5, bias="left")


# ---------------------------------------------------------------------------- event-wise, PA


def test_event_f1_by_hand():
    y = labels(60, (10, 19), (30, 34), (50, 50))
    pred = labels(60, (15, 16), (40, 42), (50, 50))
    assert M.event_f1(y, pred) == pytest.approx(2 / 3)  # TP 2, FN 1, FP 1
    assert M.event_f1(y, np.zeros(60)) == 0.0
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.event_f1(np.zeros(60), pred))


def test_point_adjusted_f1_by_hand_and_its_inflation():
    y = labels(60, (10, 19), (30, 34))
    pred = np.zeros(60)
    pred[[12, 31, 40]] = 1
    # adjusted: all 15 event points found, one false positive
    assert M.point_adjusted_f1(y, pred) == pytest.approx(2 * (15 / 16) / (15 / 16 + 1))
    # inflation: one flagged point in a 200-point event earns a perfect score, while its
    # point-wise F1 (precision 1, recall 1/200) is below 0.01
    y = labels(1000, (400, 599))
    one = np.zeros(1000)
    one[450] = 1
    assert M.point_adjusted_f1(y, one) == pytest.approx(1.0)
    assert 2 * (1 / 200) / (1 + 1 / 200) < 0.01
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.point_adjusted_f1(np.zeros(10), np.ones(10)))


# ---------------------------------------------------------------------------- UCR


def test_ucr_score():
    y = labels(1000, (500, 520))
    for top, hit in [(410, 1.0), (399, 0.0), (400, 1.0), (620, 1.0), (621, 0.0)]:
        s = np.zeros(1000)
        s[top] = 1.0
        assert M.ucr_score(y, s) == hit, top
    assert M.ucr_score(y, np.zeros(1000)) == 0.0  # ties: the earliest index, 0
    assert M.ucr_score(y, np.zeros(1000), tolerance=500) == 1.0
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.ucr_score(np.zeros(10), np.arange(10.0)))


# ---------------------------------------------------------------------------- NAB


@pytest.fixture(scope="module")
def nab():
    return json.loads((FIXTURES / "nab_numenta.json").read_text())


def _nab_inputs(f, profile):
    y = np.zeros(f["n"], int)
    for a, b in f["windows"]:
        y[a : b + 1] = 1
    d = np.zeros(f["n"])
    d[f["detections"][profile]] = 1
    return y, d


@pytest.mark.parametrize("profile", PROFILES)
def test_nab_reproduces_numenta_published_scores(nab, profile):
    total, windows = 0.0, 0
    for f in nab["files"].values():
        y, d = _nab_inputs(f, profile)
        raw, n = M.nab_raw_score(y, d, profile=profile)
        assert raw == pytest.approx(f["nab_raw_score"][profile], abs=1e-9)
        total += raw
        windows += n
    assert windows == nab["n_windows"] == 116
    assert total == pytest.approx(nab["nab_totals"][profile], abs=1e-8)
    final = M.nab_normalize(total, windows, profile)
    assert final == pytest.approx(nab["nab_final_results"][profile], abs=1e-8)


def test_nab_from_scores_and_threshold(nab):
    scores = np.load(FIXTURES / "nab_numenta_scores.npz")
    for key in scores.files:
        f = nab["files"][key.replace("__", "/")]
        y, _ = _nab_inputs(f, "standard")
        for profile in PROFILES:
            thr = nab["thresholds"][profile]
            raw = M.nab_score(y, scores[key], thr, profile=profile, normalized=False)
            assert raw == pytest.approx(f["nab_raw_score"][profile], abs=1e-9)


def test_nab_by_hand():
    y = labels(100, (10, 19))
    kw = {"probationary_percent": 0.0, "normalized": False}
    d = np.zeros(100)
    d[10] = 1  # earliest possible detection: full credit
    assert M.nab_score(y, d, **kw) == pytest.approx(1.0)
    assert M.nab_score(y, d, probationary_percent=0.0) == pytest.approx(100.0)
    d[19] = 1  # a later detection in the same window adds nothing
    assert M.nab_score(y, d, **kw) == pytest.approx(1.0)
    d[:] = 0
    d[19] = 1  # right edge: relative position -1/10, credit scaled so the left edge gives 1
    s_edge, s_max = 2 / (1 + math.exp(-0.5)) - 1, 2 / (1 + math.exp(-5)) - 1
    assert M.nab_score(y, d, **kw) == pytest.approx(s_edge / s_max)
    d[:] = 0
    d[5] = 1  # before any window: -A_FP, and the window is missed: -A_FN
    assert M.nab_score(y, d, **kw) == pytest.approx(-0.11 - 1.0)
    assert M.nab_score(y, d, profile="low_fn", **kw) == pytest.approx(-0.11 - 2.0)
    d[:] = 0
    d[20] = 1  # one step past the window, in widths of (10 - 1)
    fp = 0.11 * (2 / (1 + math.exp(5 / 9)) - 1)
    assert M.nab_score(y, d, **kw) == pytest.approx(fp - 1.0)
    d[:] = 0
    d[10] = 1
    # the first 15 points are probationary: the detection at 10 is ignored
    assert M.nab_score(y, d, normalized=False) == pytest.approx(-1.0)
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.nab_score(np.zeros(100), d))
    with pytest.raises(InputError, match="profile"):
        M.nab_score(y, d, profile="strict")


def test_nab_windows_from_the_shared_data_set_match_nab(nab):
    root = shared_dataset("nab")
    windows = json.loads((root / "labels" / "combined_windows.json").read_text())
    rel = "realKnownCause/nyc_taxi.csv"
    with open(root / "data" / rel) as fh:
        times = [datetime.fromisoformat(r["timestamp"]) for r in csv.DictReader(fh)]
    index = {t: i for i, t in enumerate(times)}
    spans = [
        [index[datetime.fromisoformat(a)], index[datetime.fromisoformat(b)]]
        for a, b in windows[rel]
    ]
    f = nab["files"][rel]
    assert len(times) == f["n"] and spans == f["windows"]
    y, d = _nab_inputs(f, "standard")
    assert M.nab_raw_score(y, d)[0] == pytest.approx(f["nab_raw_score"]["standard"], abs=1e-9)
