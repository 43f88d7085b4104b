"""FedPCA: clients that share no rows agree on (nearly) the centralised PCA subspace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import subspace_angles

import normalcy as nc


def _clients(seed: int = 0, d: int = 12):
    """Three clients with different sizes and shifted means (not identically distributed)."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    mixing[:, :3] *= 4.0
    sizes, shifts = (600, 300, 900), (0.0, 1.0, -0.5)
    return [rng.normal(s, 1.0, size=(n, d)) @ mixing.T for n, s in zip(sizes, shifts, strict=True)]


def _central_subspace(clients, r):
    X = np.vstack(clients)
    Z = (X - X.mean(0)) / X.std(0)
    _, vectors = np.linalg.eigh(Z.T @ Z)
    return vectors[:, ::-1][:, :r]


@pytest.mark.parametrize("variant", ["grassmann", "euclidean"])
@pytest.mark.parametrize("fraction", [1.0, 0.67])
def test_federated_subspace_matches_centralised_pca(variant, fraction):
    clients = _clients()
    det = nc.create("fedpca", n_components=4, variant=variant, client_fraction=fraction)
    det.fit(clients)
    angles = np.degrees(subspace_angles(_central_subspace(clients, 4), det.components_))
    assert angles.max() < 2.0
    assert det.losses_[-1] < det.losses_[0]


def test_communication_volume_is_reported_exactly():
    clients = _clients(1)
    d, r, k, rounds = 12, 3, 3, 20
    full = nc.create("fedpca", n_components=r, rounds=rounds).fit(clients).communication_
    assert full["clients"] == k and full["rounds"] == rounds
    assert full["floats_up"] == k * (4 * d + 1) + rounds * k * d * r
    # down: per-column exponents, the mean, then mean and scale (4 d), the initial subspace
    assert full["floats_down"] == k * 4 * d + k * d * r + rounds * k * d * r
    assert full["bytes_total"] == 8 * (full["floats_up"] + full["floats_down"])
    assert full["raw_data_bytes"] == 8 * 1800 * d
    sub = nc.create("fedpca", n_components=r, rounds=rounds, client_fraction=1 / 3)
    part = sub.fit(clients).communication_
    assert part["floats_up"] == k * (4 * d + 1) + rounds * 1 * d * r
    # a variance share adds one spectrum upload (d floats) per client
    frac = nc.create("fedpca", n_components=0.8, rounds=rounds).fit(clients)
    r_frac = frac.components_.shape[1]
    assert frac.communication_["floats_up"] == k * (4 * d + 1) + k * d + rounds * k * d * r_frac


def test_off_subspace_rows_outscore_normal_rows_and_roundtrip(tmp_path):
    rng = np.random.default_rng(2)
    basis = np.linalg.qr(rng.normal(size=(8, 2)))[0]
    train = rng.normal(size=(400, 2)) @ basis.T * 3 + 0.05 * rng.normal(size=(400, 8))
    normal = rng.normal(size=(30, 2)) @ basis.T * 3 + 0.05 * rng.normal(size=(30, 8))
    directions = np.eye(8)[:5] - np.eye(8)[:5] @ basis @ basis.T  # orthogonal to the plane
    off = normal[:5] + 2.0 * directions
    test = np.vstack([normal, off])
    det = nc.create("fedpca", n_components=2).fit(train)  # one array: simulated clients
    scores = det.score(test).scores
    assert scores[30:].min() > scores[:30].max()
    loaded = nc.load(det.save(tmp_path / "fedpca.normalcy"))
    np.testing.assert_array_equal(scores, loaded.score(test).scores)
    assert loaded.communication_ == det.communication_
    again = nc.create("fedpca", n_components=2).fit(train).score(test).scores
    np.testing.assert_array_equal(scores, again)


def test_bad_inputs_are_refused():
    rng = np.random.default_rng(3)
    with pytest.raises(nc.InputError, match="different feature counts"):
        nc.create("fedpca").fit([rng.normal(size=(10, 3)), rng.normal(size=(10, 4))])
    with pytest.raises(nc.InputError, match="variant"):
        nc.create("fedpca", variant="spherical").fit(rng.normal(size=(10, 3)))
    det = nc.create("fedpca").fit(rng.normal(size=(30, 3)))
    with pytest.raises(nc.InputError, match="features"):
        det.score(rng.normal(size=(3, 2)))


def test_constant_columns_and_tiny_clients_stay_finite():
    rng = np.random.default_rng(4)
    clients = [np.c_[rng.normal(size=(n, 3)), np.full(n, 2.0)] for n in (1, 2, 3)]
    det = nc.create("fedpca", n_components=2, rounds=5).fit(clients)
    test = np.r_[clients[2], [[0.0, 0.0, 0.0, 5.0]]]
    scores = det.score(test).scores
    assert np.isfinite(scores).all() and scores.argmax() == 3
