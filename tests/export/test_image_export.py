"""ONNX export of PaDiM and PatchCore: backbone + head + maps in one graph, scored by
``OnnxDetector`` with the detector's scores and maps; on MTD images (slow) and tiny
synthetic ones."""

from __future__ import annotations

import numpy as np
import pytest
from export_parity import TOLERANCE, assert_parity, relative_error

import normalcy as nc
from conftest import shared_dataset
from normalcy.export import export as export_model
from normalcy.export.runtime import OnnxDetector

SMALL = {
    "padim": {"image_size": 64, "n_features": 40},
    "patchcore": {"image_size": 64, "max_bank": 300, "search": "exact"},
}


def _images():
    rng = np.random.default_rng(2)
    train = (rng.random((10, 64, 64)) * 80 + 80).astype(np.uint8)
    test = (rng.random((3, 80, 72)) * 80 + 80).astype(np.uint8)  # another size than 64
    test[0, 20:40, 20:40] = 255
    return train, test


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    train, _ = _images()
    folder = tmp_path_factory.mktemp("onnx")
    out = {}
    for name, params in SMALL.items():
        det = nc.create(name, verbose=False, num_threads=1, **params).fit(train)
        det.calibrate(np.concatenate([train, train]), fpr=0.1)
        out[name] = (det, export_model(det, folder / f"{name}.onnx"))
    return out


@pytest.mark.parametrize("name", sorted(SMALL))
def test_image_parity_maps_and_threshold(exported, name):
    det, path = exported[name]
    _, test = _images()
    onx = OnnxDetector(path, num_threads=1)
    assert onx.metadata["input"]["image_size"] == 64
    assert_parity(det, onx, test)
    ours, theirs = det.score(test), onx.score(test)
    assert theirs.maps.shape == ours.maps.shape == (3, 80, 72)
    assert relative_error(ours.maps, theirs.maps) <= TOLERANCE * max(1.0, ours.maps.max())
    assert theirs.scores[0] > theirs.scores[1:].max()  # the planted bright square
    onx.threshold = float(theirs.scores[1:].max())
    assert onx.score(test).labels.tolist() == [True, False, False]


def test_unsupported_preprocessing(tmp_path):
    train, _ = _images()
    det = nc.create("padim", verbose=False, image_size=64, center_crop=48).fit(train)
    with pytest.raises(nc.InputError, match="stretch"):
        export_model(det, tmp_path / "p.onnx")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["padim", "patchcore"])
def test_parity_on_mtd(name, tmp_path):
    from normalcy.datasets import mtd

    ds = mtd.load(shared_dataset("mtd"))
    train = [str(p) for p in ds.train_paths[:24]]
    holdout = [str(p) for p in ds.train_paths[24:44]]
    test = [str(p) for p in ds.test_paths[:4]] + [str(p) for p in ds.test_paths[-4:]]
    params = {"padim": {"image_size": 128}, "patchcore": {"image_size": 128, "max_bank": 2000}}
    det = (
        nc.create(name, verbose=False, num_threads=2, search="exact", **params[name])
        if (name == "patchcore")
        else nc.create(name, verbose=False, num_threads=2, **params[name])
    )
    det.fit(train)
    det.calibrate(holdout, fpr=0.1)
    onx = OnnxDetector(export_model(det, tmp_path / f"{name}.onnx"), num_threads=2)
    assert_parity(det, onx, test)
