"""Every image detector declares its saved state: a round trip scores identically, and a
crafted model file (wrong shape, dtype, non-finite value, or a parameter that no longer
matches the arrays) is refused by ``nc.load`` with ``ModelFileError`` before anything is
built."""

from __future__ import annotations

import json

import numpy as np
import pytest

import normalcy as nc
from model_file_tampering import read_model as _read
from model_file_tampering import write_model as _write

# Tiny settings: torch on a shared 2-core CPU is slow.
FEATURE = {"image_size": 64, "num_threads": 1, "verbose": False}
TRAINED = {"max_minutes": None, "verbose": False, "num_threads": 1}
CASES = {
    "patchcore": ({**FEATURE, "max_bank": 50}, "layers", ["stage5", "stage7"]),
    "padim": ({**FEATURE, "n_features": 20}, "n_features", 30),
    "gaussian": ({**FEATURE, "layers": ["stage4", "stage6"]}, "layers", ["stage5", "stage6"]),
    "musc": (FEATURE, "backbone", "efficientnet_lite1"),
    "simplenet": (
        {**FEATURE, "max_steps": 2, "eval_every": 1, "hidden": 8, **TRAINED},
        "hidden",
        16,
    ),
    "reverse_distillation": (
        {**FEATURE, "max_steps": 2, "eval_every": 1, "embed": 16, "blocks": 1, **TRAINED},
        "embed",
        32,
    ),
    "draem": (
        {
            "image_size": 64,
            "recon_width": 2,
            "disc_width": 2,
            "max_steps": 2,
            "batch_size": 2,
            "eval_every": 1,
            **TRAINED,
        },
        "recon_width",
        3,
    ),
    "efficientad": (
        {
            **{k: v for k, v in nc.create("efficientad").quick_params.items()},
            "teacher_steps": 2,
            "max_steps": 2,
            "teacher_images": 4,
            "teacher_crop": None,
            **TRAINED,
        },
        "out_channels",
        8,
    ),
}


def _images(n: int = 4, side: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 200, size=(1, side, side, 3))
    noise = rng.integers(-20, 20, size=(n, side, side, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module", params=sorted(CASES))
def saved(request, tmp_path_factory):
    name = request.param
    params = CASES[name][0]
    det = nc.create(name, **params).fit(_images())
    path = det.save(tmp_path_factory.mktemp(name) / f"{name}.normalcy")
    return name, det, path


def _largest_float(arrays: dict[str, np.ndarray]) -> str:
    floats = [k for k, v in arrays.items() if v.dtype.kind == "f" and v.ndim >= 1]
    return max(floats, key=lambda k: arrays[k].size)


def test_round_trip_scores_identical(saved, tmp_path):
    name, det, path = saved
    test = _images(3, seed=1)
    loaded = nc.load(path)
    before, after = det.score(test), loaded.score(test)
    np.testing.assert_array_equal(before.scores, after.scores)
    if before.maps is not None:
        np.testing.assert_array_equal(before.maps, after.maps)


def test_spec_describes_the_saved_state(saved):
    from normalcy.core.state_spec import verify_state

    _, det, _ = saved
    arrays, meta = det._get_state()
    verify_state(det._state_spec(), arrays, json.loads(json.dumps(meta)))


def test_wrong_array_shape_refused(saved, tmp_path):
    name, _, path = saved
    manifest, arrays = _read(path)
    if not arrays:
        pytest.skip(f"{name} saves no arrays")
    key = _largest_float(arrays)
    arrays[key] = np.ascontiguousarray(arrays[key][..., :-1])  # one channel short
    with pytest.raises(nc.ModelFileError, match="axis|axes"):
        nc.load(_write(tmp_path / "shape.normalcy", manifest, arrays))


def test_wrong_dtype_refused(saved, tmp_path):
    name, _, path = saved
    manifest, arrays = _read(path)
    if not arrays:
        pytest.skip(f"{name} saves no arrays")
    key = _largest_float(arrays)
    arrays[key] = arrays[key].astype(np.float16)
    with pytest.raises(nc.ModelFileError, match="dtype"):
        nc.load(_write(tmp_path / "dtype.normalcy", manifest, arrays))


def test_non_finite_refused(saved, tmp_path):
    name, _, path = saved
    manifest, arrays = _read(path)
    if not arrays:
        pytest.skip(f"{name} saves no arrays")
    key = _largest_float(arrays)
    arrays[key] = arrays[key].copy()
    arrays[key].reshape(-1)[0] = np.nan
    with pytest.raises(nc.ModelFileError, match="NaN"):
        nc.load(_write(tmp_path / "nan.normalcy", manifest, arrays))


def test_extra_array_refused(saved, tmp_path):
    _, _, path = saved
    manifest, arrays = _read(path)
    arrays["payload"] = np.zeros(3, dtype=np.float32)
    with pytest.raises(nc.ModelFileError, match="does not use"):
        nc.load(_write(tmp_path / "extra.normalcy", manifest, arrays))


def test_tampered_sizing_parameter_refused(saved, tmp_path):
    name, _, path = saved
    manifest, arrays = _read(path)
    key, value = CASES[name][1], CASES[name][2]
    manifest["params"][key] = value
    with pytest.raises(nc.ModelFileError):
        nc.load(_write(tmp_path / "param.normalcy", manifest, arrays))


def test_invalid_parameter_refused(saved, tmp_path):
    _, _, path = saved
    manifest, arrays = _read(path)
    manifest["params"]["seed"] = -5
    with pytest.raises(nc.ModelFileError, match="seed"):
        nc.load(_write(tmp_path / "seed.normalcy", manifest, arrays))


def test_tampered_metadata_refused(saved, tmp_path):
    _, _, path = saved
    manifest, arrays = _read(path)
    manifest["state"]["backbone_info" if "backbone_info" in manifest["state"] else "training"] = 7
    with pytest.raises(nc.ModelFileError, match="metadata"):
        nc.load(_write(tmp_path / "meta.normalcy", manifest, arrays))


@pytest.mark.parametrize("saved", ["patchcore"], indirect=True)
def test_patchcore_stores_no_serialised_index(saved):
    """The search index is rebuilt from the verified bank; no faiss bytes are read."""
    _, det, _ = saved
    arrays, meta = det._get_state()
    assert set(arrays) == {"memory_bank"} and "index" not in meta


def test_gaussian_npca_round_trip_and_spec(tmp_path):
    det = nc.create("gaussian", npca_variance=0.5, **CASES["gaussian"][0]).fit(_images())
    path = det.save(tmp_path / "npca.normalcy")
    test = _images(2, seed=3)
    np.testing.assert_array_equal(det.score(test).scores, nc.load(path).score(test).scores)
    manifest, arrays = _read(path)
    arrays["components_0"] = np.ascontiguousarray(arrays["components_0"][:, :-1])
    with pytest.raises(nc.ModelFileError, match="components_0"):
        nc.load(_write(tmp_path / "bad.normalcy", manifest, arrays))
    manifest, arrays = _read(path)
    del arrays["components_1"]
    with pytest.raises(nc.ModelFileError, match="lacks"):
        nc.load(_write(tmp_path / "lacks.normalcy", manifest, arrays))


@pytest.mark.parametrize("saved", ["patchcore"], indirect=True)
def test_patchcore_bank_larger_than_max_bank_refused(saved, tmp_path):
    _, _, path = saved
    manifest, arrays = _read(path)
    manifest["params"]["max_bank"] = 1
    with pytest.raises(nc.ModelFileError, match="'n'"):
        nc.load(_write(tmp_path / "bank.normalcy", manifest, arrays))
    manifest["params"]["max_bank"] = 50
    manifest["params"]["layers"] = ["layer2", "layer3"]  # ResNet layers on EfficientNet-Lite
    with pytest.raises(nc.ModelFileError, match="cannot be built"):
        nc.load(_write(tmp_path / "layers.normalcy", manifest, arrays))
