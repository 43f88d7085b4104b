"""A small builder of ONNX graphs (``onnx.helper``), shared by the hand-built exporters.

``Graph`` collects nodes and constant initialisers and names every intermediate tensor
itself, so an exporter reads like the numpy code it mirrors::

    g = Graph("fedpca")
    z = g.op("Div", g.op("Sub", x, g.const(mean)), g.const(scale))
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17  # ai.onnx opset of every exported graph (onnxruntime >= 1.12 runs it)
ML_OPSET = 3  # ai.onnx.ml opset (tree ensembles, from skl2onnx)
IR_VERSION = 8


class Graph:
    """Nodes and initialisers of one ONNX graph under construction."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def _fresh(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, value: Any, dtype: Any = np.float64, name: str | None = None) -> str:
        """A constant tensor (an initialiser) holding ``value``."""
        arr = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        tensor = numpy_helper.from_array(arr, name or self._fresh("c"))
        self.initializers.append(tensor)
        return tensor.name

    def ints(self, values: Any) -> str:
        """An int64 constant (axes, indices, shapes)."""
        return self.const(values, np.int64)

    def op(self, op_type: str, *inputs: str, out: str | None = None, **attrs: Any) -> str:
        """Append one node with a single output; returns the output's name."""
        name = out or self._fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, list(inputs), [name], **attrs))
        return name

    # -- a few composite operations, as numpy spells them -----------------------------------
    def take_columns(self, x: str, columns: np.ndarray) -> str:
        """``x[:, columns]``."""
        return self.op("Gather", x, self.ints(np.asarray(columns, dtype=np.int64)), axis=1)

    def row_sum(self, x: str) -> str:
        """``x.sum(axis=1)`` of an (n, k) tensor, shape (n,)."""
        return self.op("ReduceSum", x, self.ints([1]), keepdims=0)

    def ptp(self, x: str) -> str:
        """``np.ptp(x)`` of a 1-D tensor (a scalar)."""
        hi = self.op("ReduceMax", x, keepdims=0)
        lo = self.op("ReduceMin", x, keepdims=0)
        return self.op("Sub", hi, lo)

    def model(
        self,
        inputs: list[onnx.ValueInfoProto],
        outputs: list[onnx.ValueInfoProto],
        ml: bool = False,
    ) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.initializers)
        opsets = [helper.make_opsetid("", OPSET)]
        if ml:
            opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
        model = helper.make_model(graph, opset_imports=opsets, producer_name="normalcy")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        return model


def tensor_input(name: str, elem: int, shape: list[Any]) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


DOUBLE = TensorProto.DOUBLE
FLOAT = TensorProto.FLOAT


def inline(g: Graph, sub: onnx.ModelProto, prefix: str, feeds: dict[str, str]) -> dict[str, str]:
    """Copy the nodes and initialisers of ``sub`` (e.g. a skl2onnx model) into ``g``.

    ``feeds`` maps ``sub``'s input names to tensors of ``g``; returns a map from ``sub``'s
    output names to their (prefixed) names in ``g``.
    """
    sub = onnx.compose.add_prefix(sub, prefix)
    for name, source in feeds.items():
        g.op("Identity", source, out=prefix + name)
    g.nodes.extend(sub.graph.node)
    g.initializers.extend(sub.graph.initializer)
    return {o.name[len(prefix) :]: o.name for o in sub.graph.output}
