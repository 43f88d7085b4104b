"""Reading an ONNX file as hostile input.

Before onnxruntime sees a byte, ``read_model``:

* refuses a file larger than ``max_bytes`` (checked on the file system, before reading);
* parses the protobuf itself (a malformed file is a ``ModelFileError``);
* refuses every tensor whose data lives outside the file (``external_data``: a path that
  could point anywhere, e.g. ``../../etc/passwd``), sparse initialisers, and string tensors;
* caps every tensor the file declares (initialisers, ``Constant`` attributes, graph inputs,
  outputs and value infos with fixed dimensions) at ``max_elements`` elements, and checks
  that an initialiser's bytes match its declared shape;
* allows only operators of the standard domains (``ai.onnx``, ``ai.onnx.ml``) from
  ``ALLOWED_OPS``, the set normalcy's exporters emit: no control flow (``If``, ``Loop``,
  ``Scan``: no subgraphs at all), no custom-operator domains, no local functions;
* validates the ``normalcy`` metadata (``export.metadata``).

The session is then built from the checked bytes (never from the path, so nothing next to
the file is ever read). What remains possible: a crafted graph of allowed operators whose
shapes are computed at run time may still ask onnxruntime for a large buffer; onnxruntime
refuses an allocation it cannot make with an error, which ``OnnxDetector.score`` reports
as a ``ModelFileError``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import ModelFileError
from .metadata import read_metadata

MAX_FILE_BYTES = 512 * 2**20
MAX_ELEMENTS = 2**27  # 512 MiB of float32 in one tensor
ALLOWED_DOMAINS = ("", "ai.onnx", "ai.onnx.ml")
ALLOWED_OPS = frozenset(
    {
        # arithmetic and elementwise
        "Abs", "Add", "Sub", "Mul", "Div", "Neg", "Sum", "Mean", "Pow", "Sqrt", "Exp", "Log", "Tanh",
        "Sigmoid", "Relu", "Clip", "Max", "Min", "Reciprocal", "Floor", "Ceil", "Sign",
        "Erf", "HardSigmoid", "HardSwish", "LeakyRelu", "Where", "Not", "And", "Or", "Equal",
        "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "IsNaN", "IsInf", "Cast",
        "CastLike", "Identity",
        # linear algebra and reductions
        "MatMul", "Gemm", "Einsum", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin",
        "ReduceProd", "ReduceSumSquare", "ReduceL2", "ArgMax", "ArgMin", "TopK", "CumSum",
        "Softmax",
        # tensors
        "Gather", "GatherElements", "GatherND", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
        "Transpose", "Concat", "Split", "Slice", "Shape", "Size", "Constant", "ConstantOfShape",
        "Expand", "Tile", "Range", "Pad", "Resize",
        # convolutional networks
        "Conv", "BatchNormalization", "AveragePool", "MaxPool", "GlobalAveragePool",
        # scikit-learn (ai.onnx.ml)
        "TreeEnsembleRegressor", "TreeEnsembleClassifier", "ZipMap", "LabelEncoder",
        "ArrayFeatureExtractor", "Normalizer", "Scaler",
    }
)  # fmt: skip


def _dims_count(dims: Any, what: str, max_elements: int) -> int:
    count = 1
    for d in dims:
        if d < 0:
            raise ModelFileError(f"{what} declares a negative dimension {d}")
        count *= int(d)
        if count > max_elements:
            raise ModelFileError(
                f"{what} declares {list(dims)} = more than {max_elements} elements (the cap)"
            )
    return count


def _check_tensor(t: Any, what: str, max_elements: int) -> None:
    from onnx import TensorProto, helper

    name = f"{what} {t.name!r}" if t.name else what
    if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
        where = {e.key: e.value for e in t.external_data}.get("location", "?")
        raise ModelFileError(
            f"{name} keeps its data outside the file ({where[:80]!r}); exported normalcy "
            "models are single files and external data is refused"
        )
    if t.data_type in (TensorProto.STRING, TensorProto.UNDEFINED):
        raise ModelFileError(f"{name} has an unsupported element type ({t.data_type})")
    count = _dims_count(t.dims, name, max_elements)
    if t.HasField("raw_data"):
        try:
            itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(t.data_type)).itemsize
        except Exception:
            raise ModelFileError(f"{name} has an unknown element type {t.data_type}") from None
        if len(t.raw_data) != count * itemsize:
            raise ModelFileError(
                f"{name} holds {len(t.raw_data)} bytes but its shape {list(t.dims)} needs "
                f"{count * itemsize}"
            )


def _check_value_info(v: Any, what: str, max_elements: int) -> None:
    tt = v.type.tensor_type if v.type.HasField("tensor_type") else None
    if tt is None or not tt.HasField("shape"):
        return
    fixed = [d.dim_value for d in tt.shape.dim if d.HasField("dim_value")]
    _dims_count(fixed, f"{what} {v.name!r}", max_elements)


def _check_graph(graph: Any, max_elements: int) -> None:
    for t in graph.initializer:
        _check_tensor(t, "initializer", max_elements)
    if len(graph.sparse_initializer):
        raise ModelFileError("sparse initializers are not accepted")
    for v in (*graph.input, *graph.output, *graph.value_info):
        _check_value_info(v, "tensor", max_elements)
    for node in graph.node:
        if node.domain not in ALLOWED_DOMAINS:
            raise ModelFileError(
                f"operator {node.op_type!r} of domain {node.domain[:60]!r} is not accepted; "
                f"only the standard domains {ALLOWED_DOMAINS[1:]}"
            )
        if node.op_type not in ALLOWED_OPS:
            raise ModelFileError(
                f"operator {node.op_type[:60]!r} is not among those normalcy exports emit"
            )
        for attr in node.attribute:
            if attr.HasField("g") or len(attr.graphs):
                raise ModelFileError(f"operator {node.op_type!r} carries a subgraph")
            if attr.HasField("t"):
                _check_tensor(attr.t, f"attribute {attr.name!r} of {node.op_type}", max_elements)
            if attr.HasField("sparse_tensor") or len(attr.sparse_tensors):
                raise ModelFileError("sparse tensors are not accepted")


def read_model(
    path: str | Path, max_bytes: int = MAX_FILE_BYTES, max_elements: int = MAX_ELEMENTS
) -> tuple[bytes, dict[str, Any]]:
    """The checked bytes of an exported ONNX file and its validated normalcy metadata."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file")
    if size > max_bytes:
        raise ModelFileError(f"{path} is {size} bytes, above the limit of {max_bytes} bytes")
    with open(path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ModelFileError(f"{path} grew above the limit of {max_bytes} bytes while read")
    model = onnx.ModelProto()
    try:
        model.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise ModelFileError(f"{path} is not an ONNX model ({str(exc)[:120]})") from None
    if not model.HasField("graph") or not len(model.opset_import):
        raise ModelFileError(f"{path} is not an ONNX model (no graph or no opset)")
    for op in model.opset_import:
        if op.domain not in ALLOWED_DOMAINS:
            raise ModelFileError(f"opset domain {op.domain[:60]!r} is not accepted")
    if len(model.functions):
        raise ModelFileError("model-local functions are not accepted")
    _check_graph(model.graph, max_elements)
    props = {p.key: p.value for p in model.metadata_props}
    return data, read_metadata(props)
