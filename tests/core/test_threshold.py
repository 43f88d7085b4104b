"""Thresholds calibrated at a target false-positive rate or contamination."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import normalcy as nc
from normalcy.core.threshold import Threshold


def test_realised_fpr_on_fresh_normal_data_is_within_half_a_point():
    rng = np.random.default_rng(1)
    threshold = Threshold.at_fpr(rng.normal(size=100_000), fpr=0.01)
    fresh = rng.normal(size=200_000)
    realised = float(np.mean(threshold.apply(fresh)))
    assert abs(realised - 0.01) <= 0.005


def test_fpr_never_exceeded_on_calibration_set_even_with_ties():
    scores = np.repeat(np.arange(10.0), 100)
    threshold = Threshold.at_fpr(scores, fpr=0.05)
    assert np.mean(threshold.apply(scores)) <= 0.05


def test_contamination_flags_that_fraction():
    scores = np.arange(1000.0)
    threshold = Threshold.at_contamination(scores, contamination=0.1)
    assert np.mean(threshold.apply(scores)) == pytest.approx(0.1, abs=0.002)
    assert threshold.method == "contamination"


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1, 2.0])
def test_rates_outside_open_unit_interval_are_rejected(rate):
    with pytest.raises(nc.InputError, match="strictly between 0 and 1"):
        Threshold.at_fpr(np.arange(100.0), fpr=rate)


def test_too_few_or_nan_calibration_scores_are_rejected():
    with pytest.raises(nc.InputError, match="at least 10"):
        Threshold.at_fpr(np.arange(3.0))
    with pytest.raises(nc.InputError, match="NaN"):
        Threshold.at_fpr(np.r_[np.arange(20.0), np.nan])


def test_detector_calibrate_sets_labels():
    rng = np.random.default_rng(0)
    det = nc.create("ecod").fit(rng.normal(size=(500, 3)))
    assert det.score(rng.normal(size=(5, 3))).labels is None
    det.calibrate(rng.normal(size=(2000, 3)), fpr=0.02)
    test = np.vstack([rng.normal(size=(1000, 3)), np.full((5, 3), 8.0)])
    labels = det.score(test).labels
    assert labels[-5:].all()
    assert labels[:1000].mean() < 0.05
    with pytest.raises(nc.InputError, match="not both"):
        det.calibrate(test, fpr=0.01, contamination=0.1)


def test_threshold_round_trips_through_dict():
    t = Threshold.at_fpr(np.arange(100.0), 0.1)
    assert Threshold.from_dict(t.to_dict()) == t


# -- bad rates, series calibration, hostile threshold files ----------------------------------
@pytest.mark.parametrize("rate", ["abc", None, True, [0.1], float("nan"), "0.1"])
def test_non_numeric_rates_are_input_errors(rate):
    with pytest.raises(nc.InputError, match="fpr"):
        Threshold.at_fpr(np.arange(100.0), fpr=rate)
    with pytest.raises(nc.InputError, match="contamination"):
        Threshold.at_contamination(np.arange(100.0), contamination=rate)


@pytest.mark.parametrize("kw", [{"fpr": "abc"}, {"fpr": 1.5}, {"contamination": "x"}])
@pytest.mark.parametrize("name", ["ecod", "sub_pca"])
def test_detector_calibrate_rejects_bad_rates(name, kw):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2)) if name == "ecod" else np.sin(np.arange(300) / 4.0)
    det = nc.create(name, **({"window": 8} if name == "sub_pca" else {})).fit(X)
    with pytest.raises(nc.InputError):
        det.calibrate(X, **kw)


def test_unknown_calibration_method_is_refused():
    with pytest.raises(nc.InputError, match="calibration method"):
        Threshold.at_fpr(np.arange(100.0), fpr=0.1, method="magic")


def _ar1(n: int, phi: float, rng: np.random.Generator) -> np.ndarray:
    from scipy.signal import lfilter

    return lfilter([1.0], [1.0, -phi], rng.standard_normal(n)) * np.sqrt(1 - phi**2)


def test_autocorrelation_time_of_independent_and_correlated_scores():
    from normalcy.core.threshold import autocorrelation_time

    rng = np.random.default_rng(0)
    assert autocorrelation_time(rng.standard_normal(5000)) == pytest.approx(1.0, abs=0.3)
    # AR(1) with phi = 0.9: tau = (1 + phi) / (1 - phi) = 19
    assert autocorrelation_time(_ar1(20_000, 0.9, rng)) == pytest.approx(19.0, rel=0.3)
    assert autocorrelation_time(np.ones(50)) == 1.0
    assert autocorrelation_time(1e-300 * _ar1(2000, 0.9, rng)) > 5  # scale-free


def test_series_calibration_holds_its_rate_on_autocorrelated_scores():
    """Hold-outs of 500 strongly autocorrelated scores (tau ~ 100): the plain quantile
    overshoots the target on later data, the series method holds it on average."""
    rng = np.random.default_rng(3)
    plain, series = [], []
    for _ in range(30):
        x = _ar1(500 + 5_000, 0.98, rng)
        hold, later = x[:500], x[500:]
        plain.append(np.mean(later > Threshold.at_fpr(hold, 0.05).value))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a short hold-out for this rate: it is the point
            t = Threshold.at_fpr(hold, 0.05, method="autocorrelated")
        series.append(np.mean(later > t.value))
    assert np.mean(plain) > 0.08  # the failure being fixed
    assert np.mean(series) <= 0.05
    assert np.median(series) <= 0.05


def test_series_calibration_equals_the_quantile_scale_on_independent_scores():
    rng = np.random.default_rng(4)
    t = Threshold.at_fpr(rng.standard_normal(20_000), 0.05, method="autocorrelated")
    assert t.calibration == "autocorrelated"
    realised = np.mean(rng.standard_normal(200_000) > t.value)
    assert 0.03 <= realised <= 0.05


def test_too_short_hold_out_warns_with_the_realised_rate():
    from normalcy.core.threshold import CalibrationWarning

    with pytest.warns(CalibrationWarning, match=r"realised rate 0 on the hold-out"):
        Threshold.at_fpr(np.arange(50.0), fpr=0.001)
    assert issubclass(CalibrationWarning, UserWarning)


def test_series_detectors_calibrate_with_the_series_method():
    x = np.sin(np.arange(2000) / 5.0) + 0.1 * np.random.default_rng(0).standard_normal(2000)
    det = nc.create("sub_pca", window=16).fit(x[:1000])
    thr = det.calibrate(x[1000:], fpr=0.05)
    assert thr.calibration == "autocorrelated" and det.threshold is thr
    assert nc.create("ecod").fit(np.c_[x, x]).calibrate(np.c_[x, x], 0.05).calibration == "quantile"


@pytest.mark.parametrize(
    "data",
    [
        {"value": "abc", "method": "fpr", "rate": 0.1, "n_calibration": 10},
        {"value": float("inf"), "method": "fpr", "rate": 0.1, "n_calibration": 10},
        {"value": 1.0, "method": "other", "rate": 0.1, "n_calibration": 10},
        {"value": 1.0, "method": "fpr", "rate": 2.0, "n_calibration": 10},
        {"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": "10"},
        {"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": 10, "calibration": "x"},
        {"value": 1.0},
        ["not", "a", "dict"],
        # an analytic (chi2) threshold has no calibration scores, so no count and no sketch
        {"value": 1.0, "method": "chi2", "rate": 0.1, "n_calibration": 10},
        {"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": 0},
    ],
)
def test_malformed_saved_thresholds_are_model_file_errors(data):
    with pytest.raises(nc.ModelFileError):
        Threshold.from_dict(data)


def test_threshold_round_trips_through_a_dict():
    t = Threshold.at_fpr(
        np.random.default_rng(0).standard_normal(500), 0.1, method="autocorrelated"
    )
    assert Threshold.from_dict(t.to_dict()) == t
    legacy = {"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": 10}
    assert Threshold.from_dict(legacy).calibration == "quantile"
    analytic = Threshold(value=3.2, method="chi2", rate=0.05, n_calibration=0)
    assert Threshold.from_dict(analytic.to_dict()) == analytic


# -- the calibration-score sketch (for moving the threshold later) ---------------------------
@pytest.mark.parametrize("n", [50, 1001, 20_000])
def test_sketch_gives_the_rate_a_moved_threshold_implies(n):
    scores = np.random.default_rng(n).standard_normal(n)
    t = Threshold.at_fpr(scores, 0.05)
    assert len(t.quantiles) == len(t.quantile_levels) <= 1001
    assert t.quantile_levels[-1] == 1.0 and t.quantiles[-1] == scores.max()
    for value in np.quantile(scores, [0.0, 0.5, 0.9, 0.99, 0.999]):
        exact = float(np.mean(scores > value))
        implied = t.implied_rate(value)
        if n <= 1001:  # every score kept: exact
            assert implied == pytest.approx(exact, abs=1e-12)
        else:  # an upper bound, tight in the tail
            assert exact - 1e-12 <= implied <= exact + max(0.002, 0.05 * exact)
    assert t.implied_rate(scores.min() - 1) == 1.0
    assert t.implied_rate(scores.max()) == 0.0
    assert t.implied_rate(t.value) == pytest.approx(np.mean(t.apply(scores)), abs=2e-3)


def test_sketch_round_trips_and_older_thresholds_have_none():
    scores = np.random.default_rng(0).standard_normal(3000)
    t = Threshold.at_contamination(scores, 0.1)
    assert Threshold.from_dict(t.to_dict()) == t
    assert t.implied_rate(t.value) == pytest.approx(0.1, abs=2e-3)
    legacy = Threshold.from_dict({"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": 10})
    assert legacy.quantiles is None and legacy.implied_rate(0.0) is None
    assert "quantiles" not in legacy.to_dict()


def test_sketch_survives_a_model_file(tmp_path):
    rng = np.random.default_rng(0)
    det = nc.create("ecod").fit(rng.normal(size=(200, 3)))
    det.calibrate(rng.normal(size=(300, 3)), fpr=0.05)
    loaded = nc.load(det.save(tmp_path / "m.normalcy"))
    assert loaded.threshold == det.threshold and loaded.threshold.quantiles is not None


def _saved(**sketch):
    return {"value": 1.0, "method": "fpr", "rate": 0.1, "n_calibration": 10, **sketch}


@pytest.mark.parametrize(
    "sketch",
    [
        {"quantiles": [1.0, 2.0]},  # levels missing
        {"quantiles": [1.0, 2.0], "quantile_levels": [0.5]},  # lengths differ
        {"quantiles": [2.0, 1.0], "quantile_levels": [0.5, 1.0]},  # not sorted
        {"quantiles": [1.0, 1.0], "quantile_levels": [0.5, 1.0]},  # not strictly
        {"quantiles": [1.0, float("nan")], "quantile_levels": [0.5, 1.0]},
        {"quantiles": [1.0, float("inf")], "quantile_levels": [0.5, 1.0]},
        {"quantiles": [1.0, 10**400], "quantile_levels": [0.5, 1.0]},
        {"quantiles": [1.0, "2"], "quantile_levels": [0.5, 1.0]},
        {"quantiles": [1.0, True], "quantile_levels": [0.5, 1.0]},
        {"quantiles": [1.0, 2.0], "quantile_levels": [0.5, 0.9]},  # does not end at 1
        {"quantiles": [1.0, 2.0], "quantile_levels": [0.0, 1.0]},  # a level of 0
        {"quantiles": [1.0, 2.0], "quantile_levels": [1.0, 0.5]},
        {"quantiles": [1.0, 2.0], "quantile_levels": [-0.5, 1.0]},
        {"quantiles": [], "quantile_levels": []},
        {"quantiles": list(range(1002)), "quantile_levels": [(i + 1) / 1002 for i in range(1002)]},
        {"quantiles": {"a": 1}, "quantile_levels": [1.0]},
        {"quantiles": [[1.0]], "quantile_levels": [1.0]},
        {"quantiles": list(range(11)), "quantile_levels": [(i + 1) / 11 for i in range(11)]},
    ],
)
def test_hostile_sketches_are_model_file_errors(sketch):
    with pytest.raises(nc.ModelFileError, match="quantile"):
        Threshold.from_dict(_saved(**sketch))
