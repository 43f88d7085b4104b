"""Every tabular detector declares its saved state: a model file round-trips to identical
scores, and a file whose arrays, metadata, parameters or input spec were altered (with the
checksums recomputed, as an attacker would) is refused with ModelFileError by ``nc.load``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import normalcy as nc
from model_file_tampering import read_model as _read
from model_file_tampering import write_model as _write

NAMES = sorted(info.name for info in nc.detectors("tabular"))

# A parameter change that alters the shape (or the recorded fit) of each detector's state.
SIZING = {
    "apre": ("hidden_neurons", [16, 8]),
    "auto": ("families", ["knn", "hbos"]),
    "autoencoder": ("hidden_neuron_list", [16, 8]),
    "cblof": ("beta", 7),
    "deepsvdd": ("hidden_neurons", [16, 8]),
    "dif": ("representation_dim", 5),
    "fedpca": ("max_components", 1),
    "hbos": ("n_bins", 7),
    "iforest": ("n_estimators", 7),
    "knn": ("n_neighbors", 2),
    "loda": ("n_random_cuts", 7),
    "lof": ("n_neighbors", 2),
    "mcd": ("support_fraction", 0.9),
    "mss": ("base_params", {"epoch_num": 2, "hidden_neuron_list": [16, 8]}),
    "ocsvm": ("nu", 0.3),
    "pca": ("n_components", 2),
}


def _data():
    rng = np.random.default_rng(0)
    train = np.c_[rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4)), np.full(40, 2.0)]
    test = np.c_[rng.normal(size=(8, 4)), np.full(8, 2.0)]
    test[0, :4] += 6.0
    return train, test


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> (path of a saved fitted model, its scores on the test rows)."""
    train, test = _data()
    out = {}
    root = tmp_path_factory.mktemp("models")
    for name in NAMES:
        cls = nc.create(name).__class__
        det = nc.create(name, **cls.quick_params).fit(train)
        out[name] = (det.save(root / f"{name}.normalcy"), det.score(test).scores)
    return out


def _refused(path: Path, what: str = "") -> str:
    with pytest.raises(nc.ModelFileError) as err:
        nc.load(path)
        pytest.fail(f"loaded despite {what}")
    return str(err.value)


def _structural(arrays: dict[str, np.ndarray]) -> list[str]:
    """Arrays whose size is tied to something (not opaque estimator bytes)."""
    return sorted(k for k, v in arrays.items() if v.dtype != np.uint8 or k.endswith("keep"))


@pytest.mark.parametrize("name", NAMES)
def test_round_trip_gives_identical_scores(name, saved):
    path, scores = saved[name]
    _, test = _data()
    np.testing.assert_array_equal(nc.load(path).score(test).scores, scores)


@pytest.mark.parametrize("name", NAMES)
def test_every_array_with_a_wrong_shape_is_refused(name, saved, tmp_path):
    path, _ = saved[name]
    manifest, arrays = _read(path)
    keys = _structural(arrays)
    assert keys
    for key in keys:
        bad = dict(arrays)
        arr = arrays[key]
        pad = np.zeros((*arr.shape[:-1], 1), dtype=arr.dtype)
        bad[key] = np.concatenate([arr, pad], axis=-1)
        _refused(_write(tmp_path / "shape.normalcy", manifest, bad), key)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_dtype_non_finite_values_and_stray_or_missing_arrays_are_refused(
    name, saved, tmp_path
):
    path, _ = saved[name]
    manifest, arrays = _read(path)
    floats = sorted(k for k, v in arrays.items() if v.dtype.kind == "f" and v.size)
    key = floats[0]
    other = np.float32 if arrays[key].dtype == np.float64 else np.float64
    cases = {
        "dtype": {**arrays, key: arrays[key].astype(other)},
        "nan": {
            **arrays,
            key: np.where(np.arange(arrays[key].size) == 0, np.nan, 1.0)
            .reshape(arrays[key].shape)
            .astype(arrays[key].dtype),
        },
        "stray": {**arrays, "payload": np.zeros(3)},
        "missing": {k: v for k, v in arrays.items() if k != "scaler.keep" and k != "keep_columns"},
    }
    for case, bad in cases.items():
        message = _refused(_write(tmp_path / f"{case}.normalcy", manifest, bad), case)
        assert name in message, message


@pytest.mark.parametrize("name", NAMES)
def test_tampered_input_width_and_metadata_are_refused(name, saved, tmp_path):
    path, _ = saved[name]
    manifest, arrays = _read(path)
    wider = json.loads(json.dumps(manifest))
    wider["input_spec"]["n_features"] += 1
    _refused(_write(tmp_path / "wider.normalcy", wider, arrays))
    huge = json.loads(json.dumps(manifest))
    huge["input_spec"]["n_features"] = 10**12
    _refused(_write(tmp_path / "huge.normalcy", huge, arrays))
    extra = json.loads(json.dumps(manifest))
    extra["state"]["injected"] = 1
    _refused(_write(tmp_path / "meta.normalcy", extra, arrays))


@pytest.mark.parametrize("name", sorted(SIZING))
def test_a_parameter_that_disagrees_with_the_arrays_is_refused(name, saved, tmp_path):
    path, _ = saved[name]
    manifest, arrays = _read(path)
    key, value = SIZING[name]
    assert manifest["params"][key] != value
    tampered = json.loads(json.dumps(manifest))
    tampered["params"][key] = value
    _refused(_write(tmp_path / "params.normalcy", tampered, arrays))


def test_every_detector_with_a_sizing_parameter_is_covered():
    assert set(NAMES) - set(SIZING) <= {"ecod", "copod"}  # these have no parameters but seed
