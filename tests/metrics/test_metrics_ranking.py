"""Ranking metrics: hand-computed cases, scikit-learn as an independent oracle, edge cases."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

import normalcy.metrics as M
from normalcy.core.errors import InputError

Y = [0, 0, 1, 1]
S = [0.1, 0.4, 0.35, 0.8]


def test_hand_computed_textbook_case():
    # sorted: 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): one of four pos/neg pairs is inverted
    assert M.auroc(Y, S) == pytest.approx(0.75)
    # P/R at 0.8: 1/0.5, at 0.4: 0.5/0.5, at 0.35: 2/3/1, at 0.1: 0.5/1
    assert M.average_precision(Y, S) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    f1, thr = M.f1_max(Y, S)
    assert f1 == pytest.approx(0.8) and thr == 0.35
    assert float(M.f1_max(Y, S)) == pytest.approx(0.8)
    assert M.tpr_at_fpr(Y, S, fpr=0.0) == 0.5
    assert M.tpr_at_fpr(Y, S, fpr=0.49) == 0.5
    assert M.tpr_at_fpr(Y, S, fpr=0.5) == 1.0


def test_ties_count_one_half():
    # pos 3 beats all three negatives; pos 2 ties one (1/2) and beats two -> 5.5 / 6
    assert M.auroc([1, 1, 0, 0, 0], [3, 2, 2, 1, 0]) == pytest.approx(5.5 / 6)
    assert M.auroc([0, 1], [0.5, 0.5]) == 0.5
    # tied scores move together: at threshold 2, both the positive and the negative enter
    assert M.average_precision([1, 0, 1], [2, 2, 1]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3)
    f1, thr = M.f1_max([1, 0, 1], [2, 2, 1])
    assert f1 == pytest.approx(0.8) and thr == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(3000) < 0.07
    s = np.round(rng.normal(size=3000) + 1.2 * y, 1)  # rounding creates many ties
    assert M.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert M.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    prec, rec, thr = precision_recall_curve(y, s)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-300), 0)[:-1]
    best = M.f1_max(y, s)
    assert best.f1 == pytest.approx(f1.max(), abs=1e-12)
    assert best.threshold == thr[np.flatnonzero(f1 == f1.max()).max()]
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    for target in (0.0, 0.01, 0.05, 0.3, 1.0):
        assert M.tpr_at_fpr(y, s, target) == pytest.approx(tpr[fpr <= target].max(), abs=1e-12)


def test_one_class_is_nan_with_warning():
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.auroc([0, 0, 0], [1, 2, 3]))
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.auroc([1, 1], [1, 2]))
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.average_precision([0, 0], [1, 2]))
    with pytest.warns(M.UndefinedMetricWarning):
        res = M.f1_max([0, 0], [1, 2])
    assert np.isnan(res.f1) and np.isnan(res.threshold)
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.tpr_at_fpr([1, 1], [1, 2]))


def test_all_anomalous_is_defined_where_it_can_be():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert M.average_precision([1, 1, 1], [0.2, 0.1, 0.3]) == 1.0
        assert M.f1_max([1, 1, 1], [0.2, 0.1, 0.3]) == (1.0, 0.1)


def test_constant_scores():
    y = [0, 1, 0, 0, 1, 0, 0, 0]
    s = [0.7] * 8
    p = 2 / 8
    assert M.auroc(y, s) == 0.5
    assert M.average_precision(y, s) == pytest.approx(p)
    assert M.f1_max(y, s) == (pytest.approx(2 * p / (1 + p)), 0.7)
    assert M.tpr_at_fpr(y, s, 0.5) == 0.0
    assert M.tpr_at_fpr(y, s, 1.0) == 1.0


@pytest.mark.parametrize(
    ("y", "s", "match"),
    [
        ([0, 1, 1], [0.1, np.nan, 0.3], "NaN"),
        ([0, 1, 1], [0.1, np.inf, 0.3], "infinite"),
        ([0, 2, 1], [0.1, 0.2, 0.3], "expected only 0"),
        ([0, 1], [0.1, 0.2, 0.3], "shape"),
        ([], [], "empty"),
        ([0, np.nan], [0.1, 0.2], "NaN"),
        (["a", "b"], [0.1, 0.2], "dtype"),
    ],
)
def test_bad_input_raises_input_error(y, s, match):
    with pytest.raises(InputError, match=match):
        M.auroc(y, s)


def test_bad_rate_raises():
    with pytest.raises(InputError, match="fpr"):
        M.tpr_at_fpr(Y, S, fpr=1.5)


def test_accepts_bool_and_column_vectors():
    y = np.array(Y, bool)[:, None]
    s = np.array(S)[:, None]
    assert M.auroc(y, s) == pytest.approx(0.75)
