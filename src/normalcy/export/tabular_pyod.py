"""ONNX graphs of normalcy's PyOD-backed tabular detectors (``tabular.pyod_detectors``).

The graph repeats the wrapper's own steps around the estimator, in float64: conditioning
(``(X - offset) * 2**-magnitude``, clipped to +-``SCALED_CLIP``), the kept columns, the
estimator's score, NaN/inf replacement, and the lift of rows that deviate in a
training-constant column (``score + ptp(batch scores) * (drift > 0) + drift``; like the
wrapper, it depends on the batch when a row drifts).

Estimator heads:

* ``pca``: PyOD's score ``sum_j ||x - c_j|| / w_j`` over the selected components (after
  PyOD's standardisation), hand-built.
* ``mcd``: the squared Mahalanobis distance to the MCD location (``MinCovDet.mahalanobis``),
  hand-built.
* ``ocsvm``: ``-(dual_coef @ K(SV, x) + intercept)`` for the linear, poly, rbf and sigmoid
  kernels, hand-built in float64 (skl2onnx's ``SVMRegressor`` runs in float32 only in
  onnxruntime, which measured 1.6e-5 off on random data).
* ``iforest``: scikit-learn's ``IsolationForest`` converted by skl2onnx (float32 trees, as
  scikit-learn itself evaluates them), negated.
* ``lof`` (``novelty=True``): PyOD's score ``-score_samples`` of scikit-learn's
  ``LocalOutlierFactor``, hand-built in float64 from its fitted arrays (training rows,
  k-distances, local reachability densities) with an exact TopK search; skl2onnx's
  converter computes the distances with a ``Scan`` loop, 3x slower than scikit-learn.

* ``knn``: the distances to the ``n_neighbors`` nearest training rows (exact, TopK over
  ``|x|^2 - 2 x.t + |t|^2`` in float64) reduced as PyOD's ``method`` says, hand-built.

* ``hbos`` (fixed ``n_bins``): the bin lookup as PyOD does it, out-of-range values
  included, hand-built (``Less`` + ``ReduceSum`` for the bin index, ``GatherElements``).

Not exported (``InputError``): ECOD, COPOD, LODA, CBLOF, HBOS with ``n_bins="auto"`` (their scoring is
histograms, empirical CDFs or PyOD-specific neighbour code that skl2onnx does not cover).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx

from ..core.errors import InputError
from .graph import DOUBLE, FLOAT, Graph, inline, tensor_input

Head = Callable[[Graph, str, Any], str]
BIG = np.finfo(float).max / 4


def _scale_by_power_of_two(g: Graph, x: str, exponent: int) -> str:
    """``np.ldexp(x, exponent)`` as up to two exact multiplications (2**e may not fit alone)."""
    first = exponent // 2
    for e in (first, exponent - first):
        if e:
            x = g.op("Mul", x, g.const(np.ldexp(1.0, e)))
    return x


def pyod_model(det: Any) -> onnx.ModelProto:
    """The ONNX graph of a fitted PyOD-backed detector: input ``X`` (n, d) float64, output
    ``score`` (n,) float64 equal to ``det.score(X).scores``."""
    from ..tabular.pyod_detectors import SCALED_CLIP

    head = HEADS.get(det.name)
    if head is None:
        raise InputError(f"no ONNX export for {det.name!r}; exported: {sorted(HEADS)}")
    d = int(det.n_features_in_)
    g = Graph(f"normalcy_{det.name}")
    x = "X"
    xs = _scale_by_power_of_two(g, g.op("Sub", x, g.const(det.offset_)), -int(det.magnitude_))
    xs = g.op("Clip", xs, g.const(-SCALED_CLIP), g.const(SCALED_CLIP))
    keep = np.asarray(det.keep_columns_, dtype=bool)
    dropped = np.flatnonzero(~keep)
    drift = None
    if len(dropped):
        const = np.clip(
            np.ldexp(det.constant_values_ - det.offset_, -int(det.magnitude_)),
            -SCALED_CLIP,
            SCALED_CLIP,
        )
        off = g.op("Sub", g.take_columns(xs, dropped), g.const(const[dropped]))
        drift = g.row_sum(g.op("Abs", off))
    if det.model_ is None:
        g.op("Identity", drift, out="score")  # every column was constant in training
    else:
        kept = g.take_columns(xs, np.flatnonzero(keep))
        s = head(g, kept, det.model_)
        s = g.op("Where", g.op("IsNaN", s), g.const(BIG), s)
        s = g.op("Clip", s, g.const(-BIG), g.const(BIG))
        if drift is not None:
            span = g.ptp(s)
            span = g.op("Where", g.op("Equal", span, g.const(0.0)), g.const(1.0), span)
            flagged = g.op("Cast", g.op("Greater", drift, g.const(0.0)), to=DOUBLE)
            s = g.op("Add", g.op("Add", s, g.op("Mul", span, flagged)), drift)
        g.op("Identity", s, out="score")
    ml = any(n.domain == "ai.onnx.ml" for n in g.nodes)
    return g.model(
        [tensor_input("X", DOUBLE, ["n", d])], [tensor_input("score", DOUBLE, ["n"])], ml=ml
    )


def _sq_distances(g: Graph, x: str, rows: np.ndarray) -> str:
    """(n, m) squared Euclidean distances from the rows of ``x`` to ``rows`` (m, k), as
    ``|x|^2 - 2 x.r + |r|^2`` clipped at 0 (libsvm's own expansion)."""
    xx = g.op("ReduceSum", g.op("Mul", x, x), g.ints([1]), keepdims=1)
    rr = g.const((rows * rows).sum(axis=1)[None, :])
    cross = g.op("MatMul", x, g.const(rows.T))
    d2 = g.op("Add", g.op("Sub", xx, g.op("Mul", cross, g.const(2.0))), rr)
    return g.op("Max", d2, g.const(0.0))


def _pca_head(g: Graph, x: str, est: Any) -> str:
    """PyOD PCA: ``sum(cdist(X, selected_components_) / selected_w_components_, axis=1)``."""
    if getattr(est, "standardization", False):
        scaler = est.scaler_
        if scaler.with_mean:
            x = g.op("Sub", x, g.const(scaler.mean_))
        if scaler.with_std:
            x = g.op("Div", x, g.const(scaler.scale_))
    comps = np.asarray(est.selected_components_, dtype=np.float64)  # (k, d)
    weights = np.asarray(est.selected_w_components_, dtype=np.float64)
    # cdist exactly: the difference to every component, then its norm
    diff = g.op("Sub", g.op("Unsqueeze", x, g.ints([1])), g.const(comps[None, :, :]))  # (n, k, d)
    dist = g.op("Sqrt", g.op("ReduceSum", g.op("Mul", diff, diff), g.ints([2]), keepdims=0))
    return g.row_sum(g.op("Div", dist, g.const(weights)))


def _mcd_head(g: Graph, x: str, pyod: Any) -> str:
    """``MinCovDet.mahalanobis``: ``sum((x - loc) @ P * (x - loc), axis=1)``."""
    est = pyod.detector_
    centred = g.op("Sub", x, g.const(est.location_))
    prec = np.asarray(est.get_precision(), dtype=np.float64)
    return g.row_sum(g.op("Mul", g.op("MatMul", centred, g.const(prec)), centred))


def _ocsvm_head(g: Graph, x: str, pyod: Any) -> str:
    """``-decision_function`` of scikit-learn's ``OneClassSVM``."""
    est = pyod.detector_
    sv = np.asarray(est.support_vectors_, dtype=np.float64)
    coef = np.asarray(est.dual_coef_, dtype=np.float64).reshape(-1)
    gamma = float(est._gamma)
    kernel = est.kernel
    if kernel == "rbf":
        k = g.op("Exp", g.op("Mul", _sq_distances(g, x, sv), g.const(-gamma)))
    elif kernel in ("linear", "poly", "sigmoid"):
        k = g.op("MatMul", x, g.const(sv.T))
        if kernel == "poly":
            inner = g.op("Add", g.op("Mul", k, g.const(gamma)), g.const(float(est.coef0)))
            k = g.op("Pow", inner, g.const(float(est.degree)))
        elif kernel == "sigmoid":
            k = g.op("Tanh", g.op("Add", g.op("Mul", k, g.const(gamma)), g.const(float(est.coef0))))
    else:  # pragma: no cover - the wrapper's constraints allow only these four
        raise InputError(f"no ONNX export for OneClassSVM with kernel {kernel!r}")
    dec = g.op("Add", g.op("MatMul", k, g.const(coef)), g.const(float(est.intercept_[0])))
    return g.op("Neg", dec)


def _skl2onnx(est: Any, width: int, dtype: Any) -> onnx.ModelProto:
    from skl2onnx import to_onnx

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return to_onnx(
                est,
                np.zeros((1, width), dtype=dtype),
                target_opset={"": 17, "ai.onnx.ml": 3},
                model_optim=False,  # its identity-removal pass is quadratic in the trees
            )
    except Exception as exc:
        raise InputError(
            f"skl2onnx cannot convert this {type(est).__name__} ({str(exc)[:200]})"
        ) from None


def _iforest_head(g: Graph, x: str, pyod: Any) -> str:
    """``-IsolationForest.decision_function`` (trees in float32, as scikit-learn runs them)."""
    est = pyod.detector_
    width = int(est.n_features_in_)
    sub = _skl2onnx(est, width, np.float32)
    outs = inline(g, sub, "iforest_", {sub.graph.input[0].name: g.op("Cast", x, to=FLOAT)})
    score = g.op("Cast", g.op("Flatten", outs["scores"], axis=0), to=DOUBLE)
    return g.op("Neg", g.op("Reshape", score, g.ints([-1])))


def _lof_head(g: Graph, x: str, pyod: Any) -> str:
    """PyOD LOF: ``-LocalOutlierFactor.score_samples`` (novelty mode), the mean over the k
    nearest training rows of ``lrd(neighbour) / lrd(x)``, with
    ``lrd(x) = 1 / (mean(max(d(x, o), k-distance(o))) + 1e-10)`` (scikit-learn's formula)."""
    est = pyod.detector_
    _euclidean_only(est, "lof")
    train = np.asarray(est._fit_X, dtype=np.float64)
    k = int(est.n_neighbors_)
    dist, idx = _nearest(g, x, train, k)
    k_distance = np.asarray(est._distances_fit_X_[:, k - 1], dtype=np.float64)
    reach = g.op("Max", dist, g.op("Gather", g.const(k_distance), idx, axis=0))
    mean_reach = g.op("Div", g.row_sum(reach), g.const(float(k)))
    lrd = g.op("Reciprocal", g.op("Add", mean_reach, g.const(1e-10)))  # (n,)
    neighbour_lrd = g.op("Gather", g.const(np.asarray(est._lrd, dtype=np.float64)), idx, axis=0)
    ratios = g.op("Div", neighbour_lrd, g.op("Unsqueeze", lrd, g.ints([1])))
    return g.op("Div", g.row_sum(ratios), g.const(float(k)))


def _euclidean_only(est: Any, name: str) -> None:
    if est.metric not in ("minkowski", "euclidean", "l2") or (
        est.metric == "minkowski" and est.p != 2
    ):
        raise InputError(
            f"no ONNX export for {name} with metric {est.metric!r} (p={est.p}); the exported "
            f"{name} uses Euclidean distances"
        )


def _nearest(g: Graph, x: str, train: np.ndarray, k: int) -> tuple[str, str]:
    """Distances (n, k), ascending, and indices of the ``k`` nearest rows of ``train``."""
    nearest = g.op("TopK", _sq_distances(g, x, train), g.ints([k]), axis=1, largest=0, sorted=1)
    g.nodes[-1].output.append(nearest + "_idx")  # TopK's second output: the indices
    return g.op("Sqrt", nearest), nearest + "_idx"


def _knn_head(g: Graph, x: str, pyod: Any) -> str:
    """PyOD KNN: the largest, mean or median of the distances to the ``n_neighbors`` nearest
    training rows (exact search over the stored training rows, TopK)."""
    nn = pyod.neigh_
    _euclidean_only(nn, "knn")
    k = int(pyod.n_neighbors)
    dist, _ = _nearest(g, x, np.asarray(nn._fit_X, dtype=np.float64), k)
    if pyod.method == "largest":
        return g.op("Reshape", g.op("Gather", dist, g.ints([k - 1]), axis=1), g.ints([-1]))
    if pyod.method == "mean":
        return g.op("Div", g.row_sum(dist), g.const(float(k)))
    middle = [(k - 1) // 2, k // 2]  # the median of k sorted values
    return g.op("Div", g.row_sum(g.op("Gather", dist, g.ints(middle), axis=1)), g.const(2.0))


def _hbos_head(g: Graph, x: str, pyod: Any) -> str:
    """PyOD HBOS with a fixed ``n_bins``: per feature, the log2 density of the bin a value
    falls in (``np.digitize(right=True)``: the number of edges below it), a value just
    outside the range (within ``tol`` bin widths) taking the edge bin, one further out the
    lowest density; the score is minus the sum over features."""
    if isinstance(pyod.n_bins, str):
        raise InputError("no ONNX export for hbos with n_bins='auto' (bins of varying number)")
    edges = np.asarray(pyod.bin_edges_, dtype=np.float64)  # (B + 1, d)
    hist = np.asarray(pyod.hist_, dtype=np.float64)  # (B, d)
    n_bins = hist.shape[0]
    out = np.log2(hist + pyod.alpha)
    lowest = out.min(axis=0)
    table = np.vstack([lowest, out, lowest])  # index 0 and B + 1: outside the bins
    below = g.op("Less", g.const(edges[None, :, :]), g.op("Unsqueeze", x, g.ints([1])))
    ind = g.op("ReduceSum", g.op("Cast", below, to=onnx.TensorProto.INT64), g.ints([1]), keepdims=0)
    score = g.op("GatherElements", g.const(table), ind, axis=0)  # (n, d)
    tol = float(pyod.tol)
    near_low = g.op(
        "LessOrEqual", g.op("Sub", g.const(edges[0]), x), g.const((edges[1] - edges[0]) * tol)
    )
    near_high = g.op(
        "LessOrEqual", g.op("Sub", x, g.const(edges[-1])), g.const((edges[-1] - edges[-2]) * tol)
    )
    at_low = g.op("And", g.op("Equal", ind, g.ints(0)), near_low)
    at_high = g.op("And", g.op("Equal", ind, g.ints(n_bins + 1)), near_high)
    score = g.op("Where", at_low, g.const(out[0]), score)
    score = g.op("Where", at_high, g.const(out[-1]), score)
    return g.op("Neg", g.row_sum(score))


HEADS: dict[str, Head] = {
    "hbos": _hbos_head,
    "knn": _knn_head,
    "pca": _pca_head,
    "mcd": _mcd_head,
    "ocsvm": _ocsvm_head,
    "iforest": _iforest_head,
    "lof": _lof_head,
}
