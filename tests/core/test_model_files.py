"""Model files: bit-identical round trips for every registered detector, and every way a
file can be bad is rejected with a ModelFileError naming the problem."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

import normalcy as nc
from modality_data import DATA
from normalcy.core import persistence


@pytest.mark.parametrize("info", nc.detectors(), ids=lambda i: i.name)
def test_save_load_gives_bit_identical_scores(info, tmp_path):
    if info.modality not in DATA:
        pytest.fail(f"no round-trip data for modality {info.modality!r}; add it to DATA")
    train, test, holdout = DATA[info.modality]()
    cls = nc.core.get_class(info.name)
    det = nc.create(info.name, **cls.quick_params).fit(train)
    before = det.score(test)
    det.calibrate(holdout, fpr=0.1)
    path = det.save(tmp_path / f"{info.name}.normalcy")
    loaded = nc.load(path)
    after = loaded.score(test)
    assert type(loaded) is type(det)
    assert loaded.get_params() == json.loads(json.dumps(det.get_params()))
    np.testing.assert_array_equal(before.scores, after.scores)
    if before.maps is not None:
        np.testing.assert_array_equal(before.maps, after.maps)
    assert loaded.threshold == det.threshold
    assert after.labels is not None


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    train, _, _ = DATA["tabular"]()
    det = nc.create("ecod").fit(train)
    return det.save(tmp_path_factory.mktemp("m") / "ecod.normalcy")


def _rewrite(src, dst, replace: dict[str, bytes]):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, replace.get(name, zin.read(name)))
    return dst


def _manifest(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(persistence.MANIFEST))


def _with_manifest(src, dst, manifest: dict):
    body = json.dumps(manifest).encode()
    return _rewrite(
        src,
        dst,
        {
            persistence.MANIFEST: body,
            persistence.MANIFEST_HASH: persistence._sha256(body).encode(),
        },
    )


def test_missing_file(tmp_path):
    with pytest.raises(nc.ModelFileError, match="does not exist"):
        nc.load(tmp_path / "none.normalcy")


def test_truncated_file(model_file, tmp_path):
    data = model_file.read_bytes()
    bad = tmp_path / "cut.normalcy"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(nc.ModelFileError, match="truncated"):
        nc.load(bad)


def test_not_a_zip(tmp_path):
    bad = tmp_path / "text.normalcy"
    bad.write_text("hello")
    with pytest.raises(nc.ModelFileError, match="not a normalcy model file"):
        nc.load(bad)


def test_foreign_zip(tmp_path):
    bad = tmp_path / "foreign.normalcy"
    with zipfile.ZipFile(bad, "w") as zf:
        zf.writestr("model.pkl", b"\x80\x04")
    with pytest.raises(nc.ModelFileError, match="lacks"):
        nc.load(bad)


def test_foreign_format_name(model_file, tmp_path):
    manifest = _manifest(model_file) | {"format": "someone.else"}
    with pytest.raises(nc.ModelFileError, match="format 'someone.else'"):
        nc.load(_with_manifest(model_file, tmp_path / "f.normalcy", manifest))


def test_newer_format(model_file, tmp_path):
    manifest = _manifest(model_file) | {"format_version": persistence.FORMAT_VERSION + 1}
    with pytest.raises(nc.ModelFileError, match="newer than this normalcy"):
        nc.load(_with_manifest(model_file, tmp_path / "n.normalcy", manifest))


def test_tampered_arrays(model_file, tmp_path):
    with zipfile.ZipFile(model_file) as zf:
        blob = bytearray(zf.read(persistence.ARRAYS))
    blob[-1] ^= 0xFF
    bad = _rewrite(model_file, tmp_path / "t.normalcy", {persistence.ARRAYS: bytes(blob)})
    with pytest.raises(nc.ModelFileError, match="arrays checksum mismatch"):
        nc.load(bad)


def test_tampered_manifest(model_file, tmp_path):
    manifest = _manifest(model_file)
    manifest["params"]["seed"] = 99
    bad = _rewrite(
        model_file, tmp_path / "m.normalcy", {persistence.MANIFEST: json.dumps(manifest).encode()}
    )
    with pytest.raises(nc.ModelFileError, match="manifest checksum mismatch"):
        nc.load(bad)


def test_unknown_detector(model_file, tmp_path):
    manifest = _manifest(model_file) | {"detector": "from-the-future"}
    with pytest.raises(nc.ModelFileError, match="does not provide"):
        nc.load(_with_manifest(model_file, tmp_path / "u.normalcy", manifest))


class _Foreign:
    def __init__(self):
        self.payload = [1, 2, 3]


def test_untrusted_estimator_types_are_refused():
    """A skops payload naming a type outside sklearn/pyod/numpy/scipy is never rebuilt."""
    import skops.io as sio

    from normalcy.core.estimator_state import load_estimator

    payload = np.frombuffer(sio.dumps(_Foreign()), dtype=np.uint8)
    with pytest.raises(nc.ModelFileError, match="untrusted type"):
        load_estimator(payload)


def test_unfitted_detector_cannot_be_saved(tmp_path):
    with pytest.raises(nc.NotFittedError):
        nc.create("ecod").save(tmp_path / "x.normalcy")


def test_save_is_atomic_and_leaves_no_temporary_files(model_file):
    leftovers = [p for p in model_file.parent.iterdir() if p.name.startswith(".normalcy-")]
    assert leftovers == []
