"""The members of ``auto`` compute what their references compute."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import OAS
from sklearn.neighbors import NearestNeighbors

from normalcy.tabular import ensemble_members as em

RNG = np.random.default_rng(0)
TRAIN = RNG.normal(size=(300, 6)) @ RNG.normal(size=(6, 6))
TEST = np.vstack([RNG.normal(size=(40, 6)) @ RNG.normal(size=(6, 6)), RNG.normal(9, 1, (5, 6))])


def test_hbos_matches_pyod():
    from pyod.models.hbos import HBOS

    ours = em.HBOSMember(bins=(10, 20)).fit(TRAIN).score(TEST)
    for row, bins in zip(ours, (10, 20), strict=True):
        ref = HBOS(n_bins=bins).fit(TRAIN).decision_function(TEST)
        np.testing.assert_allclose(row, ref, rtol=1e-10, atol=1e-10)


def test_mahalanobis_matches_sklearn_oas():
    ours = em.MahalanobisMember(support_fraction=1.0).fit(TRAIN).score(TEST)[0]
    ref = np.sqrt(OAS().fit(TRAIN).mahalanobis(TEST))
    np.testing.assert_allclose(ours, ref, rtol=1e-8)


def test_mahalanobis_c_steps_keep_the_closest_half():
    member = em.MahalanobisMember(support_fraction=0.5, c_steps=2).fit(TRAIN)
    rows = np.arange(len(TRAIN))
    for _ in range(2):  # the C-steps written out with sklearn's OAS
        oas = OAS().fit(TRAIN[rows])
        rows = np.sort(np.argsort(oas.mahalanobis(TRAIN), kind="stable")[:150])
    ref = np.sqrt(OAS().fit(TRAIN[rows]).mahalanobis(TEST))
    np.testing.assert_allclose(member.score(TEST)[0], ref, rtol=1e-8)


def test_concentration_unmasks_a_cluster_of_outliers():
    rng = np.random.default_rng(7)
    X = np.vstack([rng.normal(size=(300, 3)), rng.normal(4.0, 0.1, size=(60, 3))])
    full = em.MahalanobisMember(support_fraction=1.0).fit(X).score(X)[0]
    core = em.MahalanobisMember().fit(X).score(X)[0]
    # fitted on all rows, the 17% cluster inflates the covariance and hides itself
    assert np.median(full[300:]) < np.percentile(full[:300], 99)
    assert core[300:].min() > core[:300].max() * 0.9


def test_wide_data_uses_a_truncated_subspace_and_stays_finite():
    wide = RNG.normal(size=(60, em.MAX_EIGEN_DIM + 40))
    member = em.MahalanobisMember().fit(wide)
    assert member.vectors_.shape[1] <= em.MAX_EIGEN_DIM
    scores = member.score(np.vstack([wide[:5], wide[:1] + 5.0]))[0]
    assert np.isfinite(scores).all() and scores[-1] > scores[:5].max()


def test_pca_residual_matches_explicit_projection():
    member = em.PCAMember(fractions=(0.9,)).fit(TRAIN)
    r = int(member.ranks_[0])
    centred = TRAIN - TRAIN.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    P = vt[:r]
    t = TEST - TRAIN.mean(0)
    ref = ((t - t @ P.T @ P) ** 2).sum(1)
    np.testing.assert_allclose(member.score(TEST)[0], ref, rtol=1e-8, atol=1e-8)
    explained = np.cumsum(np.linalg.svd(centred, compute_uv=False) ** 2)
    explained /= explained[-1]
    assert explained[r - 1] >= 0.9 > (explained[r - 2] if r > 1 else 0.0)


@pytest.mark.parametrize("max_reference", [1000, 50])
def test_knn_is_the_mean_distance_to_neighbours_two_to_k_plus_one(max_reference):
    member = em.KNNMember(ks=(3, 7), max_reference=max_reference, seed=1).fit(TRAIN)
    ref = member.reference_
    assert ref.shape[0] == min(max_reference, len(TRAIN))
    dist, _ = NearestNeighbors(n_neighbors=8).fit(ref).kneighbors(TEST)
    scores = member.score(TEST)
    np.testing.assert_allclose(scores[0], dist[:, 1:4].mean(1), rtol=1e-6)
    np.testing.assert_allclose(scores[1], dist[:, 1:8].mean(1), rtol=1e-6)


def test_iforest_member_is_seeded():
    a = em.IForestMember(seed=3).fit(TRAIN).score(TEST)
    b = em.IForestMember(seed=3).fit(TRAIN).score(TEST)
    np.testing.assert_array_equal(a, b)
    assert a[0, -5:].min() > np.median(a[0, :40])
