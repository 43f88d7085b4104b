"""Series model files are verified against each detector's state spec before anything is
built: a file whose arrays, parameters or counters were edited (checksums recomputed, as an
attacker would) is refused with ``ModelFileError``, never crashes numba or torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from test_series_hostile_inputs import FAST

import normalcy as nc
from model_file_tampering import read_model as read
from model_file_tampering import write_model as write

NAMES = sorted(FAST)
# a sizing parameter of each detector, and an edit that changes a saved array's shape
SIZING = {
    "channel_pca": ("n_components", 1),
    "cnn_forecast": ("filters", 5),
    "conformal_knn": ("memory", 65),
    "hpc_autoencoder": ("n_layers", 2),
    "hypad": ("hidden", 5),
    "mp_discord": ("window", 9),
    "rola": ("threshold_window", 33),
    "sub_iforest": ("window", 9),
    "sub_knn": ("window", 9),
    "sub_pca": ("window", 9),
    "usad": ("latent", 5),
}


def _data(n: int = 300, channels: int = 2) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(n)[:, None]
    return np.sin(2 * np.pi * t / (20 + 7 * np.arange(channels))) + 0.1 * rng.standard_normal(
        (n, channels)
    )


@pytest.fixture(scope="module", params=NAMES)
def saved(request, tmp_path_factory):
    name = request.param
    X = _data()
    det = nc.create(name, **FAST[name]).fit(X)
    path = det.save(tmp_path_factory.mktemp(name) / f"{name}.normalcy")
    return name, det, path, X


def test_every_series_detector_declares_constraints_for_every_parameter():
    for info in nc.detectors("series"):
        cls = type(nc.create(info.name))
        assert set(cls._parameter_constraints) == set(info.params), info.name


def test_round_trip_gives_identical_scores(saved):
    name, det, path, X = saved
    loaded = nc.load(path)
    np.testing.assert_array_equal(loaded.score(X).scores, det.score(X).scores)


def test_wrong_array_shape_is_refused(saved, tmp_path):
    name, det, path, _ = saved
    manifest, arrays = read(path)
    spec = det._state_spec()
    tried = 0
    for key in sorted(arrays):
        arr = arrays[key]
        for axis, size in enumerate(spec.arrays[key].shape):
            if isinstance(size, str) and size not in spec.dims:
                continue  # a free size (e.g. the length of the reference history)
            bad = dict(arrays)
            bad[key] = np.concatenate([arr, arr.take([0], axis=axis)], axis=axis)  # one more
            with pytest.raises(nc.ModelFileError):
                nc.load(write(tmp_path / "bad.normalcy", manifest, bad))
            tried += 1
    assert tried > 0


def test_missing_or_extra_arrays_are_refused(saved, tmp_path):
    _, _, path, _ = saved
    manifest, arrays = read(path)
    first = sorted(arrays)[0]
    with pytest.raises(nc.ModelFileError):
        nc.load(
            write(
                tmp_path / "a.normalcy", manifest, {k: v for k, v in arrays.items() if k != first}
            )
        )
    with pytest.raises(nc.ModelFileError):
        nc.load(write(tmp_path / "b.normalcy", manifest, {**arrays, "intruder": np.zeros(3)}))


def test_edited_sizing_parameter_is_refused(saved, tmp_path):
    name, _, path, _ = saved
    manifest, arrays = read(path)
    key, value = SIZING[name]
    edited = {**manifest, "params": {**manifest["params"], key: value}}
    with pytest.raises(nc.ModelFileError):
        nc.load(write(tmp_path / "p.normalcy", edited, arrays))


@pytest.mark.parametrize("spec", [{"n_channels": 3}, {"n_channels": 0}, {"n_channels": "2"}, {}])
def test_edited_input_spec_is_refused(saved, tmp_path, spec):
    _, _, path, _ = saved
    manifest, arrays = read(path)
    edited = {**manifest, "input_spec": {**manifest["input_spec"], **spec}}
    if not spec:
        edited["input_spec"] = {}
    with pytest.raises(nc.ModelFileError):
        nc.load(write(tmp_path / "i.normalcy", edited, arrays))


def test_non_finite_state_is_refused(saved, tmp_path):
    _, _, path, _ = saved
    manifest, arrays = read(path)
    key = next(k for k in sorted(arrays) if arrays[k].dtype.kind == "f" and arrays[k].size)
    bad = dict(arrays)
    bad[key] = arrays[key].copy()
    bad[key].reshape(-1)[0] = np.nan
    with pytest.raises(nc.ModelFileError):
        nc.load(write(tmp_path / "n.normalcy", manifest, bad))


# Counters and ring positions feed numba kernels directly: random edits must be refused or
# give finite scores. Run in a subprocess so that a crash fails this test, not pytest.
_FUZZ = textwrap.dedent(
    """
    import sys
    import numpy as np
    import normalcy as nc
    sys.path.insert(0, {tests!r})
    from model_file_tampering import read_model as read, write_model as write
    path, out = {path!r}, {out!r}
    manifest, arrays = read(path)
    X = np.sin(np.arange(200) / 3.0)[:, None].repeat(2, axis=1)
    rng = np.random.default_rng(0)
    refused = scored = 0
    for trial in range(300):
        counters = arrays["counters"].copy()
        for _ in range(rng.integers(1, 3)):
            i = rng.integers(counters.size)
            counters[i] = rng.choice([-1, 0, 1, counters[i] + rng.integers(-3, 4),
                                      rng.integers(0, 10**4), 2**40])
        try:
            det = nc.load(write(out, manifest, {{**arrays, "counters": counters}}))
        except nc.ModelFileError:
            refused += 1
            continue
        s = det.score(X).scores
        assert np.isfinite(s).all()
        for x in X[:20]:
            det.score_one(x)
            det.learn_one(x)
        scored += 1
    print(refused, scored)
    """
)


@pytest.mark.parametrize("name", ["conformal_knn", "rola"])
def test_tampered_counters_never_crash_the_kernels(name, tmp_path):
    X = _data()
    path = nc.create(name, **FAST[name]).fit(X).save(tmp_path / "m.normalcy")
    script = _FUZZ.format(
        tests=str(Path(__file__).parents[1]), path=str(path), out=str(tmp_path / "t.normalcy")
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    refused, scored = map(int, proc.stdout.split()[-2:])
    assert refused > 0 and refused + scored == 300
