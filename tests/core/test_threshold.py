"""Thresholds calibrated at a target false-positive rate or contamination."""

from __future__ import annotations

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
