"""``auto``: label-free family search with consensus trimming."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic import make_tabular
from normalcy.metrics import auroc
from normalcy.tabular.auto import agreement, robust_stats


def test_planted_outliers_outscore_normal_rows():
    split = make_tabular(n_train=400, n_test=200, n_features=6, contamination=0.1, seed=0)
    det = nc.create("auto").fit(split.train)
    scores = det.score(split.test).scores
    assert auroc(split.labels, scores) > 0.97
    assert set(det.selected_) <= {"iforest", "knn", "mahalanobis", "pca", "hbos"}


def test_save_load_identical_and_deterministic(tmp_path):
    split = make_tabular(n_train=300, n_test=100, n_features=5, contamination=0.1, seed=1)
    a = nc.create("auto", seed=4).fit(split.train)
    b = nc.create("auto", seed=4).fit(split.train)
    scores = a.score(split.test).scores
    np.testing.assert_array_equal(scores, b.score(split.test).scores)
    loaded = nc.load(a.save(tmp_path / "auto.normalcy"))
    np.testing.assert_array_equal(scores, loaded.score(split.test).scores)
    assert loaded.selected_ == a.selected_


def test_degenerate_training_sets_give_finite_scores():
    rng = np.random.default_rng(2)
    for train in (
        rng.normal(size=(2, 3)),  # the smallest allowed
        np.c_[rng.normal(size=(7, 2)), np.full(7, 3.0)],  # tiny, with a constant column
        np.repeat(rng.normal(size=(4, 3)), 25, axis=0),  # duplicated rows
        np.ones((20, 4)),  # every column constant
    ):
        det = nc.create("auto").fit(train)
        test = np.vstack([train[:3], train[:1] + 50.0])
        scores = det.score(test).scores
        assert np.isfinite(scores).all()
        assert scores[-1] == scores.max()


def test_deviation_in_a_constant_column_ranks_first():
    rng = np.random.default_rng(3)
    train = np.c_[rng.normal(size=(200, 3)), np.zeros(200)]
    test = np.c_[rng.normal(size=(20, 3)), np.zeros(20)]
    test[:5, :3] += 6.0  # ordinary outliers
    test[7, 3] = 0.5  # off a column that never moved
    scores = nc.create("auto").fit(train).score(test).scores
    assert scores.argmax() == 7


def _clustered_outliers():
    # 8% of the training rows form one tight cluster far away: neighbour and subspace
    # members fitted on all rows treat it as normal.
    rng = np.random.default_rng(4)
    normal = rng.normal(size=(460, 4))
    cluster = rng.normal(5.0, 0.05, size=(40, 4))
    return np.vstack([normal, cluster]), np.r_[np.zeros(460), np.ones(40)]


# the families that mask the cluster when fitted on all rows (Mahalanobis left out)
MASKED = ("iforest", "knn", "pca", "hbos")


def test_concentrated_mahalanobis_unmasks_a_cluster_of_training_outliers():
    # The Mahalanobis member concentrates on the central half of the rows (C-steps), so
    # the cluster cannot pull its estimate; without it the ensemble is masked. Measured
    # 0.77 without and 0.999 with it, the same under numpy 1.26, 2.2 and 2.4 (the other
    # seeds of this layout give 0.75-0.99 and 0.98-1.0).
    X, y = _clustered_outliers()
    plain = auroc(y, nc.create("auto", trim=0.0, families=MASKED).fit(X).score(X).scores)
    concentrated = auroc(y, nc.create("auto", trim=0.0).fit(X).score(X).scores)
    assert plain < 0.9  # the data really does mask the cluster
    assert concentrated > 0.97


@pytest.mark.xfail(
    strict=True,
    reason=(
        "known limitation, not dependency drift (same AUROC under numpy 1.26, 2.2 and 2.4): "
        "the screening consensus averages k-NN over k in (10, 20, 50), and k = 10, 20 see "
        "the 40-row cluster as the densest region, so one screening round trims 22 of its "
        "rows and the refit is masked by the other 18 (0.79 vs 0.77 without trimming)"
    ),
)
def test_trimming_unmasks_a_cluster_of_training_outliers():
    # What consensus trimming is for (step 4 of auto's docstring); strict, so that this
    # test fails as soon as the trimming step does unmask the cluster, and is then promoted.
    X, y = _clustered_outliers()
    plain = auroc(y, nc.create("auto", trim=0.0, families=MASKED).fit(X).score(X).scores)
    trimmed = auroc(y, nc.create("auto", trim=0.1, families=MASKED).fit(X).score(X).scores)
    assert trimmed > plain + 0.05
    assert trimmed > 0.95


def test_trimming_refits_without_the_screened_rows():
    # 5% scattered gross outliers: the screening consensus flags them and every family is
    # refitted on the other rows (here: the k-NN reference holds no outlier).
    rng = np.random.default_rng(6)
    directions = rng.normal(size=(25, 4))
    far = 8.0 * directions / np.linalg.norm(directions, axis=1, keepdims=True)
    X = np.vstack([rng.normal(size=(475, 4)), far])
    fams = ("knn", "pca", "hbos")
    for trim, n_reference, n_outliers in ((0.0, 500, 25), (0.05, 475, 0)):
        det = nc.create("auto", trim=trim, families=fams).fit(X)
        reference = det.members_[det.selected_.index("knn")].reference_
        assert reference.shape == (n_reference, 4)
        outliers = det.scaler_.transform(far)
        gaps = np.linalg.norm(reference[:, None, :] - outliers[None, :, :], axis=2)
        assert int((gaps.min(axis=0) < 1e-9).sum()) == n_outliers


def test_agreement_and_robust_stats():
    rng = np.random.default_rng(5)
    base = rng.normal(size=500)
    noisy = [base + 0.3 * rng.normal(size=500) for _ in range(2)]
    agree = agreement(np.stack([base, *noisy, -base]))
    assert agree[:3].min() > 0.2 and agree[3] < -0.2
    med, scale = robust_stats(np.stack([np.ones(10), np.arange(10.0)]))
    assert med.tolist() == [1.0, 4.5]
    assert scale[0] == 1.0 and np.isclose(scale[1], (6.75 - 2.25) / 1.349)
