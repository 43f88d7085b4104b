"""Multivariate protocol metrics on small hand-computed cases: best point-adjusted F1,
point F1 at a threshold, affiliation precision/recall/F1 (Huet et al. 2022) and the
interpretation hit rate."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.metrics import f1_max, point_adjusted_f1
from normalcy.metrics.multivariate import (
    affiliation,
    affiliation_f1,
    hit_rate,
    point_adjusted_f1_max,
    point_f1,
)

Y = np.array([0, 0, 1, 1, 0, 0, 0, 0, 1, 0], dtype=bool)  # events [2, 3] and [8]


def test_point_f1_by_hand():
    pred = np.array([0, 0, 1, 0, 0, 1, 0, 0, 1, 0], dtype=float)  # tp 2, fp 1, fn 1
    assert point_f1(Y, pred) == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert point_f1(Y, pred * 5, threshold=5) == pytest.approx(2 / 3)


def test_point_adjusted_max_by_hand():
    s = np.array([0, 0, 0.5, 0, 0, 0.9, 0, 0, 0.6, 0])
    # thr 0.6: event [8] only, tp 1, fp 1 (0.9) -> 2/5; thr 0.5: both events, tp 3, fp 1 -> 6/7
    best = point_adjusted_f1_max(Y, s)
    assert best.f1 == pytest.approx(6 / 7) and best.threshold == 0.5
    assert point_adjusted_f1(Y, s, threshold=best.threshold) == pytest.approx(best.f1)


def test_point_adjusted_max_matches_a_threshold_sweep():
    rng = np.random.default_rng(0)
    y = np.zeros(300, dtype=bool)
    y[40:60] = y[150:155] = y[200:240] = True
    s = rng.random(300) + 0.3 * y
    swept = max(point_adjusted_f1(y, s, threshold=t) for t in np.unique(s))
    assert point_adjusted_f1_max(y, s).f1 == pytest.approx(swept)
    assert point_adjusted_f1_max(y, s).f1 >= f1_max(y, s).f1  # adjustment only inflates


def test_affiliation_perfect_and_empty():
    assert affiliation(Y, Y.astype(float)) == (1.0, 1.0, 1.0)
    none = affiliation(Y, np.zeros(10))
    assert np.isnan(none.precision) and none.recall == 0.0 and none.f1 == 0.0


def test_affiliation_by_hand():
    """Zones: [0, 5] for event [2, 3] (step 5 is 2 from it, 3 from event [8]) and [6, 9].
    One flag at step 5 (distance 2 from its event):
    precision = |{z in [0, 5]: d(z, [2, 3]) >= 2}| / 6 = |{0, 5}| / 6 = 1/3;
    recall zone 1 = mean over y in {2, 3} of |{z: |z - y| >= d(y, {5})}| / 6
                  = (|{5}| + |{0, 1, 5}|) / 2 / 6 = 1/3; zone 2 = 0 (nothing flagged)
    recall = 1/6; F1 = 2/9."""
    pred = np.zeros(10)
    pred[5] = 1
    res = affiliation(Y, pred)
    assert res.precision == pytest.approx(1 / 3)
    assert res.recall == pytest.approx(1 / 6)
    assert res.f1 == pytest.approx(2 / 9)


def test_affiliation_second_case_by_hand():
    """One event [4, 5] in 10 steps (one zone). Flags at 3 and 9: distances 1 and 4;
    zone distances [4, 3, 2, 1, 0, 0, 1, 2, 3, 4]; survival: P(d >= 1) = 8/10, P(d >= 4) =
    2/10 -> precision 0.5. Recall: y=4 is 1 from flag 3, |{z: |z - 4| >= 1}| = 9 -> 0.9;
    y=5 is 2 from flag 3, |{z: |z - 5| >= 2}| = 7 -> 0.7; recall 0.8."""
    y = np.zeros(10, dtype=bool)
    y[4:6] = True
    pred = np.zeros(10)
    pred[[3, 9]] = 1
    res = affiliation(y, pred)
    assert res.precision == pytest.approx(0.5)
    assert res.recall == pytest.approx(0.8)
    assert affiliation_f1(y, pred) == pytest.approx(2 * 0.5 * 0.8 / 1.3)


def test_affiliation_is_local_not_inflated_by_long_events():
    y = np.zeros(1000, dtype=bool)
    y[100:400] = True
    pred = np.zeros(1000)
    pred[250] = 1  # one flag inside a long event: point adjustment gives it the whole event
    assert point_adjusted_f1(y, pred) == pytest.approx(1.0)
    # affiliation recall: the event's steps are on average 75 steps from the flag, which a
    # step drawn at random from the 1000-step zone beats ~15 % of the time
    assert 0.8 < affiliation(y, pred).recall < 0.9


def test_hit_rate_definitions():
    maps = np.zeros((4, 5))
    maps[:, 1] = 3.0
    maps[:, 3] = 2.0
    maps[:, 0] = 1.0  # ranking at every step: 1, 3, 0, 4, 2
    seg = [(0, 3, [1, 3])]
    assert hit_rate(maps, seg, k=2) == 1.0
    assert hit_rate(maps, seg, k=1) == 1.0  # top 1 is a labelled channel: 1 / min(1, 2)
    assert hit_rate(maps, [(0, 3, [3, 4])], k=2) == 0.5
    assert hit_rate(maps, [(0, 3, [0, 2, 4])], p=1.0) == pytest.approx(1 / 3)  # top 3: 1,3,0
    assert hit_rate(maps, [(0, 1, [1]), (2, 3, [2])], p=1.5) == 0.5  # floor(1.5) = 1 channel


def test_hit_rate_rejects_bad_input():
    maps = np.zeros((4, 3))
    with pytest.raises(nc.InputError, match="exactly one"):
        hit_rate(maps, [(0, 1, [0])])
    with pytest.raises(nc.InputError, match="channels"):
        hit_rate(maps, [(0, 1, [5])], k=1)
    with pytest.raises(nc.InputError, match="outside"):
        hit_rate(maps, [(2, 9, [0])], k=1)
    with pytest.raises(nc.InputError, match="shape"):
        hit_rate(np.zeros(4), [(0, 1, [0])], k=1)
