"""APRE + MSS and the MSS wrapper."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.metrics import auroc
from normalcy.tabular.mss import mean_shift


def _gap_case(seed: int = 0):
    """Two clusters on a plane in 10-D; the outliers lie on the same plane, in the gap
    between the clusters. An autoencoder that has learned the plane reconstructs them well
    (they are "normal" for its decoder), so its error barely flags them; mean shift pulls
    them onto a cluster, and the reconstruction of the shifted row is far from the original."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(10, 2)))[0] * 3.0
    z = np.r_[rng.normal([-3, 0], 0.4, (200, 2)), rng.normal([3, 0], 0.4, (200, 2))]
    gap = rng.normal([0, 0], 0.3, (20, 2))
    train = z @ basis.T + 0.05 * rng.normal(size=(400, 10))
    outliers = gap @ basis.T + 0.05 * rng.normal(size=(20, 10))
    test = np.r_[train[:100], outliers]
    return train, test, np.r_[np.zeros(100), np.ones(20)]


def test_mss_wrapper_fixes_outliers_the_autoencoder_reconstructs_well():
    train, test, y = _gap_case()
    plain = nc.create("autoencoder", epoch_num=20).fit(train)
    wrapped = nc.create("mss", base_params={"epoch_num": 20}).fit(train)
    auc_plain = auroc(y, plain.score(test).scores)
    auc_mss = auroc(y, wrapped.score(test).scores)
    assert auc_plain < 0.85  # the gap outliers are reconstructed well
    assert auc_mss > 0.95 and auc_mss > auc_plain + 0.15


def test_mean_shift_moves_isolated_points_and_keeps_dense_ones():
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(300, 2))
    queries = np.array([[0.0, 0.0], [6.0, 6.0]])
    shifted = mean_shift(queries, ref, n_neighbors=10, n_iter=3)
    moved = np.linalg.norm(shifted - queries, axis=1)
    assert moved[0] < 0.5 and moved[1] > 5.0


@pytest.mark.parametrize("mss", [True, False])
def test_apre_outliers_roundtrip_and_seed(mss, tmp_path):
    rng = np.random.default_rng(2)
    train = rng.normal(size=(200, 6))
    test = np.r_[rng.normal(size=(40, 6)), rng.normal(6.0, 0.5, (5, 6))]
    det = nc.create("apre", epochs=10, mss=mss, seed=3).fit(train)
    scores = det.score(test).scores
    assert scores[40:].min() > np.quantile(scores[:40], 0.9)
    again = nc.create("apre", epochs=10, mss=mss, seed=3).fit(train).score(test).scores
    np.testing.assert_array_equal(scores, again)
    loaded = nc.load(det.save(tmp_path / "apre.normalcy"))
    np.testing.assert_array_equal(scores, loaded.score(test).scores)


def test_apre_and_mss_handle_degenerate_data_and_wrap_apre(tmp_path):
    rng = np.random.default_rng(4)
    tiny = np.c_[rng.normal(size=(3, 2)), np.zeros(3)]
    test = np.r_[tiny, [[0.0, 0.0, 4.0]]]
    for det in (
        nc.create("apre", epochs=2),
        nc.create("mss", base="apre", base_params={"epochs": 2, "mss": False}),
    ):
        scores = det.fit(tiny).score(test).scores
        assert np.isfinite(scores).all() and scores.argmax() == 3
    det = nc.create("mss", base="apre", base_params={"epochs": 2, "mss": False}).fit(tiny)
    loaded = nc.load(det.save(tmp_path / "mss.normalcy"))
    np.testing.assert_array_equal(det.score(test).scores, loaded.score(test).scores)


def test_mss_refuses_a_base_that_does_not_reconstruct():
    with pytest.raises(nc.InputError, match="autoencoder-style"):
        nc.create("mss", base="iforest").fit(np.random.default_rng(5).normal(size=(20, 3)))
