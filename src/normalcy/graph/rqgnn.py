"""RQGNN: Rayleigh Quotient Graph Neural Networks for graph-level anomaly detection
(Dong, Zhang & Wang, ICLR 2024), in two training modes.

The paper's observation: the Rayleigh quotient ``x^T L x / x^T x`` of a graph's node
features with respect to its normalised Laplacian summarises where the features' spectral
energy lies, and anomalous graphs have Rayleigh quotients that differ from normal ones.
RQGNN feeds the per-channel quotients through an MLP (Rayleigh-quotient learning) and uses
them as the anchor of an attention pooling over node representations from a Chebyshev
spectral GNN (RQ-pooling); see ``rqgnn_model`` for the network.

* ``rqgnn`` (``uses_labels=True``): the paper's setting. ``fit(graphs, y)`` with ``y`` 1
  for anomalous and 0 for normal graphs trains a two-logit classifier with the
  class-balanced focal loss (Cui et al. 2019); the score is the anomaly margin
  ``logit_1 - logit_0`` (its sign is the classifier's own decision). Without labels, or
  with no anomaly among them, it warns and trains the one-class objective below.
* ``rqgnn_oneclass``: normal graphs only. There are no anomalies to classify against, so
  the classifier head and focal loss go; the RQGNN representation is trained by
  *random network distillation* (Burda et al. 2019, the principle of GLocalKD, Ma et al.
  2022): a frozen, randomly initialised RQGNN (teacher) maps each graph to its
  representation ``[RQ-pooled nodes, RQL code]`` and each node to ``h_v``; a second RQGNN
  (student) learns to reproduce both on normal graphs. Graphs unlike the training graphs,
  whether in their Rayleigh quotients or in their local structure, are predicted badly.
  Distillation rather than a Deep-SVDD compactness objective: it cannot collapse (the
  teacher's targets are fixed and vary between graphs), needs no bias-free network, and
  gives a per-node error for localisation. Batch normalisation and dropout are off (they
  would make the targets depend on the batch) and RQ-pooling is a mean (``sum_v s_v h_v /
  n``; the sum's scale grows with the square of the graph's size, which made the targets
  heavy-tailed). Errors are measured in units of the teacher's spread on the training
  graphs, per dimension; the graph-level and mean node-level errors are then z-scored
  with their mean and spread on a seeded tenth of the normal graphs held out of the
  student's training (on the training graphs the graph-level error looks small, on new
  normal graphs it varies far more than the node-level one) and added.

Scores and localisation: ``rqgnn`` scores a graph by its margin and each node by its exact
share of the margin (``s_v * u . h_v``, the pooled part; signed); ``rqgnn_oneclass``
scores a graph by the sum of the two z-scored errors and each node by its share of the
node-level one (its error divided by the graph's size and the term's spread).
``Scores.maps`` holds the node scores (see ``graph.base``).

Departures from the reference code: a fixed number of epochs instead of early stopping on a
labelled validation split; ``hidden`` is also the width of the node MLP (the reference
keeps the input width there), so wide node features stay cheap; the Chebyshev filters share
their basis; CPU-sized defaults (``hidden=32``, 50 epochs; the paper: 64, 100).

References
----------
Dong, X., Zhang, X. & Wang, S. Rayleigh Quotient Graph Neural Networks for Graph-level
Anomaly Detection. ICLR 2024.

Cui, Y., Jia, M., Lin, T.-Y., Song, Y. & Belongie, S. Class-Balanced Loss Based on
Effective Number of Samples. CVPR 2019.

Burda, Y., Edwards, H., Storkey, A. & Klimov, O. Exploration by Random Network
Distillation. ICLR 2019.

Ma, R., Pang, G., Chen, L. & van den Hengel, A. Deep Graph-level Anomaly Detection by
Glocal Knowledge Distillation. WSDM 2022.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import numpy as np

from ..core.constraints import Integral, Interval, Options, Real, Satisfies
from ..core.errors import InputError, ModelFileError
from ..core.registry import register
from ..core.state_spec import ArraySpec, StateSpec
from ..progress import progress_bar
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    module_spec,
    resolve_device,
    torch_session,
)
from .base import GraphDetector, graph_scores
from .input import EncodedGraphs
from .rqgnn_model import build_rqgnn, class_balanced_focal_loss

PAPER = (
    "Dong, Zhang & Wang. Rayleigh Quotient Graph Neural Networks for Graph-level Anomaly "
    "Detection. ICLR 2024"
)
THREADS = 1  # CPU threads inside fit/score (restored afterwards)
_SCORE_BATCH = 512

_DEVICE = [
    Options(str, {"auto", "cpu"}),
    Satisfies(
        lambda d: isinstance(d, str) and re.fullmatch(r"cuda(:\d{1,3})?", d) is not None,
        "'cuda' or 'cuda:<index>'",
    ),
]
# sizes bounded so that the largest layer (order * hidden -> width * hidden) stays
# under 70M weights whatever the parameters (they are read from untrusted model files too)
_SHARED = {
    "hidden": [Interval(Integral, 2, 512)],
    "width": [Interval(Integral, 1, 16)],
    "order": [Interval(Integral, 1, 16)],
    "epochs": [Interval(Integral, 1, 100_000)],
    "batch_size": [Interval(Integral, 2, 1_000_000)],
    "lr": [Interval(Real, 0, 10, closed="right")],
    "weight_decay": [Interval(Real, 0, 10)],
    "device": _DEVICE,
    "verbose": [bool],
    "seed": [Interval(Integral, 0, 2**32 - 1)],
}


class _RQGNNBase(GraphDetector):
    """Shared training, scoring and state of the two RQGNN detectors."""

    hidden: int
    width: int
    order: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    device: str
    verbose: bool
    seed: int

    # -- batches --------------------------------------------------------------------------
    def _batches(self, n: int, generator: Any = None) -> list[np.ndarray]:
        """Graph indices in near-equal batches of about ``batch_size`` graphs, never of a
        single graph when there are two or more (batch normalisation needs two)."""
        import torch

        if generator is None:
            order = np.arange(n)
        else:
            order = torch.randperm(n, generator=generator).numpy()
        return np.array_split(order, max(1, min(-(-n // self.batch_size), n // 2)))

    def _tensors(self, data: EncodedGraphs, index: np.ndarray) -> tuple[Any, Any, Any, int]:
        import torch

        x, ei, owner = data.batch(index.tolist())
        dev = self.device_
        return (
            torch.from_numpy(x).to(dev),
            torch.from_numpy(ei).to(dev),
            torch.from_numpy(owner).to(dev),
            len(index),
        )

    def _build(self, **kwargs: Any) -> Any:
        return build_rqgnn(self._n_features(), self.hidden, self.width, self.order, **kwargs)

    def _optimiser(self, torch: Any, model: Any) -> Any:
        return torch.optim.Adam(
            model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )

    # -- one-class: random network distillation --------------------------------------------
    def _fit_distillation(self, data: EncodedGraphs) -> None:
        # a seeded tenth of the graphs is held out of the student's training to measure
        # the typical errors on unseen normal graphs (the training graphs stand in when
        # that is fewer than two graphs)
        order = np.random.default_rng(self.seed).permutation(len(data))
        n_held = len(data) // 10
        held, train = np.sort(order[:n_held]), np.sort(order[n_held:])
        full = data
        data = _subset(full, train)
        with torch_session(self.seed, THREADS) as torch:
            self.device_ = resolve_device(self.device)
            teacher = self._build(mean_pool=True).to(self.device_).eval()
            student = self._build(mean_pool=True).to(self.device_)
            for p in teacher.parameters():
                p.requires_grad_(False)
            g_all, n_all = [], []
            with torch.no_grad():
                for idx in self._batches(len(data)):
                    h, _, g = teacher.encode(*self._tensors(data, idx))
                    g_all.append(g)
                    n_all.append(h)
            self.graph_scale_ = _spread(torch.cat(g_all))
            self.node_scale_ = _spread(torch.cat(n_all))
            gs = torch.from_numpy(self.graph_scale_).to(self.device_)
            ns = torch.from_numpy(self.node_scale_).to(self.device_)
            optimiser = self._optimiser(torch, student)
            gen = torch.Generator().manual_seed(int(self.seed))
            student.train()
            with progress_bar(self.name, self.epochs, self.verbose) as advance:
                for _ in range(self.epochs):
                    total = 0.0
                    for idx in self._batches(len(data), gen):
                        batch = self._tensors(data, idx)
                        with torch.no_grad():
                            th, _, tg = teacher.encode(*batch)
                        sh, _, sg = student.encode(*batch)
                        loss = ((sg - tg) / gs).pow(2).mean() + ((sh - th) / ns).pow(2).mean()
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                        total += float(loss.detach()) * len(idx)
                    advance(loss=total / len(data))
            student.eval()
        self.teacher_, self.student_ = teacher, student
        graph_err, local_err, _ = self._distillation_errors(
            _subset(full, held if n_held >= 2 else train)
        )
        self.error_scale_ = np.asarray(
            [
                graph_err.mean(),
                _positive(graph_err.std()),
                local_err.mean(),
                _positive(local_err.std()),
            ],
            dtype=np.float32,
        )
        self.mode_ = "distillation"

    def _distillation_errors(
        self, data: EncodedGraphs
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """Graph-level errors, mean node-level errors and node errors / graph size."""
        graph_errs, local_errs, nodes = [], [], []
        with torch_session(None, THREADS) as torch, torch.no_grad():
            gs = torch.from_numpy(self.graph_scale_).to(self.device_)
            ns = torch.from_numpy(self.node_scale_).to(self.device_)
            for idx in self._batches(len(data)):
                x, ei, owner, g = self._tensors(data, idx)
                th, _, tg = self.teacher_.encode(x, ei, owner, g)
                sh, _, sg = self.student_.encode(x, ei, owner, g)
                node_err = ((sh - th) / ns).pow(2).mean(dim=1).double()
                sizes = torch.bincount(owner, minlength=g).double()
                share = node_err / sizes[owner]
                local = torch.zeros(g, dtype=torch.float64).index_add_(0, owner, share)
                graph_errs.append(((sg - tg) / gs).pow(2).mean(dim=1).double().cpu().numpy())
                local_errs.append(local.cpu().numpy())
                nodes.extend(_split(share.cpu().numpy(), sizes.cpu().numpy()))
        return np.concatenate(graph_errs), np.concatenate(local_errs), nodes

    def _score_distillation(self, data: EncodedGraphs) -> tuple[np.ndarray, list[np.ndarray]]:
        graph_err, local_err, nodes = self._distillation_errors(data)
        g_mean, g_std, n_mean, n_std = (float(v) for v in self.error_scale_)
        scores = (graph_err - g_mean) / g_std + (local_err - n_mean) / n_std
        return scores, [v / n_std for v in nodes]

    # -- labelled: the paper's classifier ---------------------------------------------------
    def _fit_classifier(self, data: EncodedGraphs, y: np.ndarray) -> None:
        counts = (int((y == 0).sum()), int((y == 1).sum()))
        with torch_session(self.seed, THREADS) as torch:
            self.device_ = resolve_device(self.device)
            model = self._build(dropout=float(self.dropout), batch_norm=True, n_out=2).to(
                self.device_
            )
            labels = torch.from_numpy(y.astype(np.int64)).to(self.device_)
            optimiser = self._optimiser(torch, model)
            gen = torch.Generator().manual_seed(int(self.seed))
            model.train()
            with progress_bar(self.name, self.epochs, self.verbose) as advance:
                for _ in range(self.epochs):
                    total = 0.0
                    for idx in self._batches(len(data), gen):
                        logits = model(*self._tensors(data, idx))
                        target = labels[torch.from_numpy(idx).to(self.device_)]
                        loss = class_balanced_focal_loss(
                            logits, target, counts, float(self.beta), float(self.gamma)
                        )
                        optimiser.zero_grad()
                        loss.backward()
                        optimiser.step()
                        total += float(loss.detach()) * len(idx)
                    advance(loss=total / len(data))
            model.eval()
        self.net_ = model
        self.mode_ = "classifier"

    def _score_classifier(self, data: EncodedGraphs) -> tuple[np.ndarray, list[np.ndarray]]:
        scores, nodes = [], []
        with torch_session(None, THREADS) as torch, torch.no_grad():
            for idx in self._batches(len(data)):
                x, ei, owner, g = self._tensors(data, idx)
                margin, share = self.net_.margin_parts(x, ei, owner, g)
                sizes = torch.bincount(owner, minlength=g).cpu().numpy()
                scores.append(margin.double().cpu().numpy())
                nodes.extend(_split(share.double().cpu().numpy(), sizes))
        return np.concatenate(scores), nodes

    # -- scoring --------------------------------------------------------------------------
    def _score(self, data: EncodedGraphs):
        if self.mode_ == "classifier":
            scores, nodes = self._score_classifier(data)
        else:
            scores, nodes = self._score_distillation(data)
        return graph_scores(data, scores, nodes)

    # -- state ----------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if self.mode_ == "classifier":
            return module_arrays(self.net_, "net."), {"mode": "classifier"}
        arrays = {
            **module_arrays(self.teacher_, "teacher."),
            **module_arrays(self.student_, "student."),
            "graph_scale": self.graph_scale_.copy(),
            "node_scale": self.node_scale_.copy(),
            "error_scale": self.error_scale_.copy(),
        }
        return arrays, {"mode": "distillation"}

    def _distillation_spec(self, optional: bool) -> dict[str, ArraySpec]:
        arrays = {
            **module_spec(lambda: self._build(mean_pool=True), "teacher."),
            **module_spec(lambda: self._build(mean_pool=True), "student."),
            "graph_scale": ArraySpec((2 * self.hidden,), "float32", value_range=(1e-12, None)),
            "node_scale": ArraySpec((self.hidden,), "float32", value_range=(1e-12, None)),
            "error_scale": ArraySpec((4,), "float32"),
        }
        if optional:
            arrays = {k: _optional(v) for k, v in arrays.items()}
        return arrays

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        mode = meta["mode"]
        if mode == "classifier":
            stray = [k for k in arrays if not k.startswith("net.")]
        else:
            stray = [k for k in arrays if k.startswith("net.")]
            lacking = {"graph_scale", "node_scale", "error_scale"} - set(arrays)
            if lacking:
                raise ModelFileError(f"a distillation RQGNN state lacks {sorted(lacking)}")
        if stray:
            raise ModelFileError(
                f"a {mode} RQGNN state holds arrays of the other mode: {stray[:3]}"
            )
        with torch_session():
            self.device_ = resolve_device(self.device)
            if mode == "classifier":
                net = self._build(dropout=float(self.dropout), batch_norm=True, n_out=2)
                _load(net, arrays, "net.")
                self.net_ = net.to(self.device_).eval()
            else:
                teacher, student = self._build(mean_pool=True), self._build(mean_pool=True)
                _load(teacher, arrays, "teacher.")
                _load(student, arrays, "student.")
                self.teacher_ = teacher.to(self.device_).eval()
                self.student_ = student.to(self.device_).eval()
                self.graph_scale_ = np.asarray(arrays["graph_scale"], dtype=np.float32)
                self.node_scale_ = np.asarray(arrays["node_scale"], dtype=np.float32)
                scale = np.asarray(arrays["error_scale"], dtype=np.float32)
                if (scale[[1, 3]] <= 0).any():
                    raise ModelFileError("error_scale spreads must be positive")
                self.error_scale_ = scale
        self.mode_ = mode


@register("rqgnn_oneclass", modality="graph", paper=PAPER, year=2024, can_localise=True)
class RQGNNOneClass(_RQGNNBase):
    """RQGNN trained on normal graphs only, by distilling a frozen random RQGNN.

    Parameters
    ----------
    hidden:
        Width of node representations (the graph representation is ``2 * hidden``).
    width:
        Chebyshev filters in the spectral GNN (the paper's "width").
    order:
        Chebyshev terms per filter (the paper's "depth"; polynomial degree ``order - 1``).
    epochs, batch_size, lr, weight_decay:
        Adam training of the student on batches of graphs.
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds both networks' initialisation and the batch order.
    """

    quick_params = {"hidden": 16, "epochs": 10, "batch_size": 64}
    _parameter_constraints = dict(_SHARED)

    def __init__(
        self,
        *,
        hidden: int = 32,
        width: int = 4,
        order: int = 6,
        epochs: int = 50,
        batch_size: int = 512,
        lr: float = 5e-3,
        weight_decay: float = 0.0,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.width = width
        self.order = order
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.verbose = verbose
        self.seed = seed

    def _fit(self, data: EncodedGraphs) -> None:
        self._fit_distillation(data)

    def _state_spec(self) -> StateSpec:
        return StateSpec(
            arrays=self._distillation_spec(optional=False),
            meta={"mode": [Options(str, {"distillation"})]},
        )


@register("rqgnn", modality="graph", paper=PAPER, year=2024, can_localise=True, uses_labels=True)
class RQGNN(_RQGNNBase):
    """RQGNN as in the paper: a graph classifier trained with labels (focal loss).

    ``fit(graphs, y)``: ``y`` holds 1 for each anomalous graph and 0 for each normal one
    (booleans accepted). Without ``y``, or when ``y`` has no anomaly, the one-class objective
    of ``rqgnn_oneclass`` is trained instead (with a ``UserWarning``).

    Parameters
    ----------
    hidden, width, order:
        As in ``rqgnn_oneclass`` (the paper: 64, 4, 6).
    dropout:
        Dropout on the graph representation before the classifier head.
    beta, gamma:
        Class-balanced focal loss: effective-number decay ``beta`` and focusing ``gamma``.
    epochs, batch_size, lr, weight_decay:
        Adam training on batches of graphs (the paper: lr 5e-3, batches of 512).
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds initialisation, dropout and the batch order.
    """

    quick_params = {"hidden": 16, "epochs": 10, "batch_size": 64}
    _parameter_constraints = {
        **_SHARED,
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "beta": [Interval(Real, 0, 1, closed="neither")],
        "gamma": [Interval(Real, 0, 100)],
    }

    def __init__(
        self,
        *,
        hidden: int = 32,
        width: int = 4,
        order: int = 6,
        dropout: float = 0.4,
        beta: float = 0.999,
        gamma: float = 1.5,
        epochs: int = 50,
        batch_size: int = 512,
        lr: float = 5e-3,
        weight_decay: float = 0.0,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.width = width
        self.order = order
        self.dropout = dropout
        self.beta = beta
        self.gamma = gamma
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.verbose = verbose
        self.seed = seed

    def _fit(self, data: EncodedGraphs, y: Any = None) -> None:
        labels = _anomaly_labels(y, len(data))
        if labels is None or not labels.any():
            warnings.warn(
                "rqgnn got no labelled anomalies (y is None or all 0); training the one-class "
                "objective of rqgnn_oneclass instead",
                UserWarning,
                stacklevel=3,
            )
            self._fit_distillation(data)
        else:
            self._fit_classifier(data, labels)

    def _state_spec(self) -> StateSpec:
        classifier = module_spec(
            lambda: self._build(dropout=float(self.dropout), batch_norm=True, n_out=2), "net."
        )
        arrays = {k: _optional(v) for k, v in classifier.items()}
        arrays.update(self._distillation_spec(optional=True))
        return StateSpec(
            arrays=arrays, meta={"mode": [Options(str, {"classifier", "distillation"})]}
        )


# -- helpers ------------------------------------------------------------------------------
def _anomaly_labels(y: Any, n: int) -> np.ndarray | None:
    """``y`` as a bool array of ``n`` anomaly flags (``None`` stays ``None``)."""
    if y is None:
        return None
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as exc:
        raise InputError(f"y must be an array of 0/1 anomaly labels ({exc})") from None
    if arr.shape != (n,):
        raise InputError(f"y must hold one 0/1 label per graph ({n}), got shape {arr.shape}")
    if arr.dtype.kind == "b":
        out = arr
    elif arr.dtype.kind in "iuf" and np.isin(arr, (0, 1)).all():
        out = arr.astype(bool)
    else:
        raise InputError("y must hold 0 (normal) or 1 (anomalous) per graph")
    if out.all():
        raise InputError("y marks every graph anomalous; rqgnn needs normal graphs to fit")
    return out


def _spread(values: Any) -> np.ndarray:
    """Per-dimension standard deviation of the teacher's outputs, floored away from 0."""
    std = values.double().std(dim=0, unbiased=False).cpu().numpy()
    floor = max(1e-6, 1e-2 * float(np.abs(std).max(initial=0.0)))
    return np.maximum(std, floor).astype(np.float32)


def _positive(value: float) -> float:
    return float(value) if np.isfinite(value) and value > 1e-12 else 1e-12


def _subset(data: EncodedGraphs, index: np.ndarray) -> EncodedGraphs:
    return EncodedGraphs(
        [data.graphs[i] for i in index], [data.features[i] for i in index], data.n_features
    )


def _split(values: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    bounds = np.cumsum(np.asarray(sizes, dtype=np.int64))[:-1]
    return [v.astype(np.float32) for v in np.split(values, bounds)]


def _optional(spec: ArraySpec) -> ArraySpec:
    return ArraySpec(
        spec.shape, spec.dtype, spec.finite, spec.index_of, spec.allow_minus_one,
        spec.value_range, optional=True,
    )  # fmt: skip


def _load(module: Any, arrays: dict[str, np.ndarray], prefix: str) -> None:
    missing = [k for k in module.state_dict() if f"{prefix}{k}" not in arrays]
    if missing:
        raise ModelFileError(f"the state lacks the arrays {[prefix + k for k in missing[:3]]}")
    load_module_arrays(module, arrays, prefix)
