"""An .onnx file is hostile input: every crafted file below must give a clear
``ModelFileError`` from ``OnnxDetector``, never a crash, a hang or a read outside the file."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import normalcy as nc
from normalcy.export import export as export_model
from normalcy.export.metadata import KEY
from normalcy.export.runtime import OnnxDetector


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    X = np.random.default_rng(0).normal(size=(200, 3))
    det = nc.create("mcd").fit(X)
    det.calibrate(X[:100], fpr=0.05)
    path = export_model(det, tmp_path_factory.mktemp("onnx") / "mcd.onnx")
    return path


def _meta(model: onnx.ModelProto) -> dict:
    return json.loads({p.key: p.value for p in model.metadata_props}[KEY])


def _set_meta(model: onnx.ModelProto, text: str) -> None:
    del model.metadata_props[:]
    entry = model.metadata_props.add()
    entry.key, entry.value = KEY, text


def _write(tmp_path, model_or_bytes, name="crafted.onnx"):
    path = tmp_path / name
    data = (
        model_or_bytes if isinstance(model_or_bytes, bytes) else model_or_bytes.SerializeToString()
    )
    path.write_bytes(data)
    return path


def _refused(path, match: str, **kwargs):
    with pytest.raises(nc.ModelFileError, match=match):
        OnnxDetector(path, **kwargs)


def test_the_valid_file_loads(valid):
    onx = OnnxDetector(valid)
    assert onx.name == "mcd" and onx.threshold is not None


@pytest.mark.parametrize(
    "data, match",
    [
        (b"", "no graph"),
        (b"not an onnx model at all \x00\xff" * 10, "not an ONNX model"),
        (bytes(range(256)) * 4, "not an ONNX model"),
    ],
)
def test_garbage_bytes(tmp_path, data, match):
    _refused(_write(tmp_path, data), match)


def test_truncated_file(valid, tmp_path):
    data = valid.read_bytes()
    _refused(_write(tmp_path, data[: len(data) // 2]), "not an ONNX model|no graph|normalcy")


def test_missing_file_and_folder(tmp_path):
    _refused(tmp_path / "absent.onnx", "cannot read")
    _refused(tmp_path, "not a file")


def test_size_cap(valid):
    _refused(valid, "above the limit", max_bytes=100)


def test_external_data_is_refused(valid, tmp_path):
    """A tensor whose bytes live in '../../etc/passwd' is never followed."""
    model = onnx.load(valid)
    t = model.graph.initializer[0]
    t.ClearField("raw_data")
    t.ClearField("double_data")
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", "../../../../etc/passwd"), ("offset", "0"), ("length", "64")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    _refused(_write(tmp_path, model), "outside the file")


def test_declared_huge_initializer(valid, tmp_path):
    model = onnx.load(valid)
    big = numpy_helper.from_array(np.zeros(4, dtype=np.float32), "huge")
    big.dims[:] = [2**20, 2**20]  # declares 2**40 elements, holds 16 bytes
    model.graph.initializer.append(big)
    _refused(_write(tmp_path, model), "more than")


def test_bytes_that_do_not_match_the_shape(valid, tmp_path):
    model = onnx.load(valid)
    bad = numpy_helper.from_array(np.zeros(4, dtype=np.float64), "short")
    bad.dims[:] = [1000]
    model.graph.initializer.append(bad)
    _refused(_write(tmp_path, model), "bytes but its shape")


def test_huge_declared_value_info(valid, tmp_path):
    model = onnx.load(valid)
    model.graph.value_info.append(
        helper.make_tensor_value_info("v", TensorProto.FLOAT, [2**31, 2**31])
    )
    _refused(_write(tmp_path, model), "more than")


def test_custom_domain_operator(valid, tmp_path):
    model = onnx.load(valid)
    model.graph.node.append(helper.make_node("Pwn", ["X"], ["pwned"], domain="com.evil"))
    model.opset_import.append(helper.make_opsetid("com.evil", 1))
    _refused(_write(tmp_path, model), "not accepted")


def test_operator_outside_the_allow_list(valid, tmp_path):
    model = onnx.load(valid)
    model.graph.node.append(helper.make_node("RandomNormal", [], ["r"], shape=[3]))
    _refused(_write(tmp_path, model), "not among")


def test_control_flow_subgraph(valid, tmp_path):
    model = onnx.load(valid)
    body = helper.make_graph([], "body", [], [])
    model.graph.node.append(
        helper.make_node("If", ["c"], ["o"], then_branch=body, else_branch=body)
    )
    _refused(_write(tmp_path, model), "not among|subgraph")


def test_local_functions(valid, tmp_path):
    model = onnx.load(valid)
    model.functions.append(
        helper.make_function("x.y", "f", ["a"], ["b"], [], [helper.make_opsetid("", 17)])
    )
    _refused(_write(tmp_path, model), "functions")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: None, "no 'normalcy' metadata"),
        (lambda m: "{not json", "not valid JSON"),
        (lambda m: json.dumps({**m, "extra": 1}), "expected exactly the fields"),
        (lambda m: json.dumps({**m, "format": 99}), "format"),
        (lambda m: json.dumps({**m, "modality": "video"}), "modality"),
        (
            lambda m: json.dumps({**m, "threshold": {**m["threshold"], "value": "high"}}),
            "threshold",
        ),
        (
            lambda m: json.dumps(m).replace('"value": ', '"value": NaN, "x": '),
            "not valid JSON|fields",
        ),
        (
            lambda m: json.dumps({**m, "input": {"n_features": -3, "feature_names": None}}),
            "n_features",
        ),
        (
            lambda m: json.dumps(
                {**m, "input": {"n_features": 3, "feature_names": ["a", "a", "b"]}}
            ),
            "distinct",
        ),
        (
            lambda m: json.dumps({**m, "input": {"n_features": 5, "feature_names": None}}),
            "expected double|shape",
        ),
        (lambda m: json.dumps({**m, "outputs": {"score": "label", "map": None}}), "outputs"),
        (lambda m: "[" * 100_000 + "]" * 100_000, "not valid JSON"),
        (lambda m: json.dumps({**m, "notes": "x" * 2_000_000}), "larger than"),
    ],
)
def test_malformed_metadata(valid, tmp_path, edit, match):
    model = onnx.load(valid)
    text = edit(_meta(model))
    if text is None:
        del model.metadata_props[:]
    else:
        _set_meta(model, text)
    _refused(_write(tmp_path, model), match)


def test_graph_that_disagrees_with_its_metadata(valid, tmp_path):
    model = onnx.load(valid)
    model.graph.output[0].name = "other"
    model.graph.node[-1].output[0] = "other"
    _refused(_write(tmp_path, model), "gives")
