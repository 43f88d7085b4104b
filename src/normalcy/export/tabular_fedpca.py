"""ONNX graph of ``fedpca`` (normalcy's federated PCA; Nguyen et al., IEEE/ACM ToN 2024).

The graph is the detector's scoring in float64: the kept columns standardised with the
federated mean and scale (clipped to +-``Z_CLIP``), the squared reconstruction error
``max(|z|^2 - |z V|^2, 0)``, and the lift of rows that deviate in a training-constant column
(``preprocessing.add_drift``: ``score + (drift > 0) * (span + ptp(batch scores)) + drift``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx

from .graph import DOUBLE, Graph, tensor_input


def fedpca_model(det: Any) -> onnx.ModelProto:
    """Input ``X`` (n, d) float64, output ``score`` (n,) float64 = ``det.score(X).scores``."""
    from ..tabular.preprocessing import Z_CLIP

    scaler = det.scaler_
    d = int(det.n_features_in_)
    g = Graph("normalcy_fedpca")
    x = "X"
    keep = np.asarray(scaler.keep_, dtype=bool)
    dropped = np.flatnonzero(~keep)
    drift = None
    if len(dropped):
        off = g.op("Sub", g.take_columns(x, dropped), g.const(scaler.constant_values_[dropped]))
        drift = g.row_sum(g.op("Abs", off))
    if scaler.n_kept == 0:
        g.op("Identity", drift, out="score")
    else:
        z = g.op("Sub", g.take_columns(x, np.flatnonzero(keep)), g.const(scaler.mean_))
        z = g.op("Clip", g.op("Div", z, g.const(scaler.scale_)), g.const(-Z_CLIP), g.const(Z_CLIP))
        proj = g.op("MatMul", z, g.const(det.components_))
        res = g.op("Sub", g.row_sum(g.op("Mul", z, z)), g.row_sum(g.op("Mul", proj, proj)))
        s = g.op("Max", res, g.const(0.0))
        if drift is not None:
            span = float(det.span_) if np.isfinite(det.span_) and det.span_ > 0 else 1.0
            lift = g.op("Add", g.const(span), g.ptp(s))
            flagged = g.op("Cast", g.op("Greater", drift, g.const(0.0)), to=DOUBLE)
            s = g.op("Add", g.op("Add", s, g.op("Mul", flagged, lift)), drift)
        g.op("Identity", s, out="score")
    return g.model([tensor_input("X", DOUBLE, ["n", d])], [tensor_input("score", DOUBLE, ["n"])])
