"""ONNX export of tabular detectors: parity with normalcy's scores, the threshold carried
and adjustable, clear errors for what cannot be exported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from export_parity import TOLERANCE, assert_parity, relative_error

import normalcy as nc
from conftest import shared_dataset
from normalcy.export import SUPPORTED
from normalcy.export import export as export_model
from normalcy.export.runtime import OnnxDetector

TABULAR = ["fedpca", "pca", "mcd", "ocsvm", "knn", "hbos", "iforest", "lof"]
SMALL = {"iforest": {"n_estimators": 20}, "fedpca": {"rounds": 10}}  # fewer trees: faster tests


def _data(seed: int = 0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(2, 4))

    def rows(n):  # two latent factors in four columns, and a constant column
        return np.c_[rng.normal(size=(n, 2)) @ mix + 0.1 * rng.normal(size=(n, 4)), np.full(n, 7.0)]

    train, holdout, test = rows(300), rows(200), rows(60)
    test[0, :4] = [3.0, -3.0, 3.0, -3.0]  # a planted anomaly, off the latent plane
    test[1, 4] = 7.5  # a deviation in the training-constant column (the drift lift)
    return train, holdout, test


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.mark.parametrize("name", TABULAR)
def test_parity_threshold_and_planted_anomaly(name, data, tmp_path):
    train, holdout, test = data
    det = nc.create(name, **SMALL.get(name, {})).fit(train)
    det.calibrate(holdout, fpr=0.05)
    path = export_model(det, tmp_path / f"{name}.onnx")
    onx = OnnxDetector(path)
    assert onx.name == name and onx.modality == "tabular"
    assert_parity(det, onx, test)
    scores = onx.score(test).scores
    assert scores[0] > np.median(scores[2:]) and scores[1] > scores[2:].max()
    # adjustable afterwards: a number, or re-derived from normal data
    onx.threshold = float(np.median(scores))
    assert onx.score(test).labels.sum() == np.sum(scores > np.median(scores))
    again = onx.calibrate(holdout, fpr=0.05)
    assert again.value == pytest.approx(det.threshold.value, rel=TOLERANCE)


def test_a_recalibrated_threshold_is_saved_with_the_file(data, tmp_path):
    train, holdout, test = data
    det = nc.create("mcd").fit(train)
    det.calibrate(holdout, fpr=0.05)
    onx = OnnxDetector(export_model(det, tmp_path / "m.onnx"))
    onx.threshold = 1.0  # by hand: no calibration rate to record
    with pytest.raises(nc.InputError, match="calibrate"):
        onx.save(tmp_path / "hand.onnx")
    new = onx.calibrate(holdout, fpr=0.2)
    again = OnnxDetector(onx.save(tmp_path / "m2.onnx"))
    assert again.threshold == new and again.threshold.rate == 0.2
    np.testing.assert_array_equal(again.score(test).scores, onx.score(test).scores)


def test_uncalibrated_export_has_no_threshold(data, tmp_path):
    train, _, test = data
    det = nc.create("mcd").fit(train)
    onx = OnnxDetector(export_model(det, tmp_path / "m.onnx"))
    assert onx.threshold is None and onx.score(test).labels is None


def test_feature_names_are_checked(data, tmp_path):
    train, _, test = data
    cols = [f"c{i}" for i in range(train.shape[1])]
    det = nc.create("pca").fit(pd.DataFrame(train, columns=cols))
    onx = OnnxDetector(export_model(det, tmp_path / "p.onnx"))
    assert onx.metadata["input"]["feature_names"] == cols
    frame = pd.DataFrame(test, columns=cols)
    assert relative_error(det.score(frame).scores, onx.score(frame).scores) <= TOLERANCE
    with pytest.raises(nc.InputError):
        onx.score(pd.DataFrame(test, columns=cols[::-1]))
    with pytest.raises(nc.InputError):
        onx.score(test[:, :3])
    bad = test.copy()
    bad[0, 0] = np.nan
    with pytest.raises(nc.InputError):
        onx.score(bad)


def test_unsupported_and_unfitted(data, tmp_path):
    train, _, _ = data
    with pytest.raises(nc.InputError, match="cannot be exported"):
        export_model(nc.create("ecod").fit(train), tmp_path / "e.onnx")
    with pytest.raises(nc.NotFittedError):
        export_model(nc.create("pca"), tmp_path / "p.onnx")
    with pytest.raises(nc.InputError, match="format"):
        export_model(nc.create("pca").fit(train), tmp_path / "p.x", format="tflite")
    with pytest.raises(nc.InputError, match="metric"):
        export_model(nc.create("lof", metric="manhattan").fit(train), tmp_path / "l.onnx")
    assert set(TABULAR) <= set(SUPPORTED)


def test_nc_export_is_callable(data, tmp_path):
    train, _, test = data
    det = nc.create("fedpca", rounds=5).fit(train)
    path = nc.export(det, tmp_path / "f.onnx")
    assert (
        relative_error(det.score(test).scores, OnnxDetector(path).score(test).scores) <= TOLERANCE
    )


@pytest.mark.slow
@pytest.mark.parametrize("name", TABULAR)
def test_parity_on_adbench(name, tmp_path):
    root = shared_dataset("adbench")
    d = np.load(root / "22_magic.gamma.npz")
    X, y = d["X"].astype(np.float64), d["y"]
    rng = np.random.default_rng(0)
    normal = rng.permutation(np.flatnonzero(y == 0))
    train, holdout = X[normal[:1500]], X[normal[1500:2500]]
    test = X[rng.choice(len(X), 2000, replace=False)]
    det = nc.create(name, **SMALL.get(name, {})).fit(train)
    det.calibrate(holdout, fpr=0.05)
    onx = OnnxDetector(export_model(det, tmp_path / f"{name}.onnx"))
    assert_parity(det, onx, test)
