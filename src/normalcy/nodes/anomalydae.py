"""AnomalyDAE (Fan, Zhang & Li, ICASSP 2020): a dual autoencoder of structure and
attributes whose embeddings interact in the decoders.

The structure encoder embeds each node (a dense layer, then a graph attention layer) to
``Z`` (N x d); the attribute encoder embeds each *attribute* (the columns of ``X``, i.e.
``X^T`` through two dense layers, the first with one weight per node) to ``H`` (F x d).
Decoders: ``S = sigmoid(Z Z^T)`` for the adjacency and ``X_hat = Z H^T`` for the
attributes. The score of node ``i`` is ``alpha * ||a_i - s_i|| + (1 - alpha) *
||x_i - x_hat_i||`` (``alpha`` weighs structure, as in the paper), with PyGOD's positive
weights ``theta`` (structure) and ``eta`` (attributes): entries with a non-zero target get
``w / (1 + w)``, zero entries ``1 / (1 + w)``; 1 means unweighted. Architecture and
defaults follow PyGOD 1.1.0 (64 units, lr 0.004, alpha 0.5) except ``epochs`` (PyGOD: 5;
here 100, as DOMINANT, since full-batch epochs are cheap) and ``theta = 40, eta = 5``
(PyGOD: 1, 1): the centre of BOND's search grid (theta in {10, 40, 90}, eta in {3, 5, 8})
and the paper's up-weighting of non-zero entries. Unweighted, the sigmoid structure error
is dominated by the non-edges (``sigmoid(0) = 0.5`` for every pair the model cannot push
apart) and misses the structural outliers of inj_cora (see docs/nodes.md).

Transductive by construction: the attribute encoder's first layer has one weight per node
of the training graph, so only a graph with that number of nodes (the fitted graph, in the
BOND protocol) can be scored; another size is an ``InputError``.

No dense adjacency: the structure error is split into an edge part and a sum over all
nodes of ``S_ij^2`` (``_recon.sigmoid_structure_error``), exact in blocks of columns for
graphs of at most ``max_columns`` nodes and otherwise an unbiased estimate from
``max_columns`` nodes drawn at random (seeded: the same draw for the same ``seed``).

References
----------
Fan, H., Zhang, F. & Li, Z. AnomalyDAE: Dual Autoencoder for Anomaly Detection on
Attributed Networks. IEEE ICASSP 2020, 5685-5689.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.errors import InputError
from ..core.registry import register
from ..graph.graphs import Graph
from ..torch_helpers import require_torch
from . import _recon
from ._autoencoder import COMMON_CONSTRAINTS, UNIT, WIDTH, GraphAutoencoder


def build_anomalydae(n_features: int, n_nodes: int, emb: int, hidden: int, dropout: float) -> Any:
    """Structure encoder (dense + GAT) and attribute encoder (two dense layers on X^T)."""
    torch = require_torch()
    from torch_geometric.nn import GATConv

    nn, F = torch.nn, torch.nn.functional

    class AnomalyDAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.struct_dense = nn.Linear(n_features, emb)
            self.gat = GATConv(emb, hidden)
            self.attr_dense1 = nn.Linear(n_nodes, emb)
            self.attr_dense2 = nn.Linear(emb, hidden)

        def forward(self, x, edge_index):
            h = F.dropout(F.relu(self.struct_dense(x)), dropout, self.training)
            z = self.gat(h, edge_index)
            a = F.dropout(F.relu(self.attr_dense1(x.T)), dropout, self.training)
            a = F.dropout(self.attr_dense2(a), dropout, self.training)
            return z @ a.T, z

    return AnomalyDAE()


@register(
    "anomalydae",
    modality="nodes",
    paper="Fan et al. AnomalyDAE: Dual Autoencoder for Anomaly Detection on Attributed Networks. ICASSP 2020",
    year=2020,
)
class AnomalyDAE(GraphAutoencoder):
    """Dual (structure x attribute) autoencoder; score = weighted reconstruction errors.

    Parameters
    ----------
    emb, hidden:
        Units of the dense layers and of the embeddings ``Z`` and ``H``.
    alpha:
        Weight of the structure error in the score and loss (1 - alpha: attributes).
    theta, eta:
        Weights of the non-zero entries of the adjacency and of the attributes (1: none).
    max_columns:
        Graphs with more nodes estimate the structure error from this many random nodes.
    dropout, weight_decay, lr, epochs:
        Full-batch Adam training of the mean score.
    scale_errors:
        Divide each error by its mean on the training graph before weighting (see
        ``normalcy.nodes._autoencoder``); ``False`` is PyGOD's raw weighted sum.
    device:
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    verbose:
        Show a progress bar over epochs.
    seed:
        Seeds weight initialisation and the column draws.
    """

    quick_params: ClassVar[dict[str, Any]] = {"epochs": 20, "emb": 16, "hidden": 16}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "emb": WIDTH,
        "hidden": WIDTH,
        "alpha": UNIT,
        "theta": [Interval(Real, 0, 1e6, closed="neither")],
        "eta": [Interval(Real, 0, 1e6, closed="neither")],
        "max_columns": [Interval(Integral, 16, 1_000_000)],
        **COMMON_CONSTRAINTS,
    }

    def __init__(
        self,
        *,
        emb: int = 64,
        hidden: int = 64,
        alpha: float = 0.5,
        theta: float = 40.0,
        eta: float = 5.0,
        max_columns: int = 1024,
        dropout: float = 0.0,
        weight_decay: float = 0.0,
        lr: float = 0.004,
        epochs: int = 100,
        scale_errors: bool = True,
        device: str = "auto",
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.emb = emb
        self.hidden = hidden
        self.alpha = alpha
        self.theta = theta
        self.eta = eta
        self.max_columns = max_columns
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.lr = lr
        self.epochs = epochs
        self.scale_errors = scale_errors
        self.device = device
        self.verbose = verbose
        self.seed = seed

    def _build(self, n_features: int, n_nodes: int) -> Any:
        return build_anomalydae(
            n_features, n_nodes, int(self.emb), int(self.hidden), float(self.dropout)
        )

    def _attr_weight(self) -> float:
        return 1.0 - float(self.alpha)

    def _errors(self, model: Any, x: Any, ei: Any, generator: Any) -> tuple[Any, Any]:
        x_hat, z = model(x, ei)
        cols = _recon.columns(x.shape[0], int(self.max_columns), generator)
        eta, theta = float(self.eta), float(self.theta)
        return (
            _recon.attribute_error(x, x_hat, eta / (1 + eta)),
            _recon.sigmoid_structure_error(z, ei, cols, theta / (1 + theta)),
        )

    def _check_score_input(self, X: Any) -> tuple[Graph, np.ndarray]:
        graph, feats = super()._check_score_input(X)
        if graph.n_nodes != self.n_nodes_:
            raise InputError(
                f"anomalydae is transductive: it scores graphs of {self.n_nodes_} nodes (the "
                f"fitted graph's size), got {graph.n_nodes}"
            )
        return graph, feats

    def _module_spec(self) -> dict[str, Any]:
        from ..core.state_spec import ArraySpec

        spec = dict(super()._module_spec())
        key = f"{self.prefix}attr_dense1.weight"
        spec[key] = ArraySpec((int(self.emb), "n_nodes"), spec[key].dtype)
        return spec

    def _state_spec(self):
        from dataclasses import replace

        spec = super()._state_spec()
        from ..graph.graphs import MAX_NODES

        return replace(spec, dim_bounds={"n_nodes": (2, MAX_NODES)})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        from ..core.errors import ModelFileError

        width = arrays[f"{self.prefix}attr_dense1.weight"].shape[1]
        if width != meta["n_nodes"]:
            raise ModelFileError(
                f"anomalydae state: the attribute encoder has {width} node weights but the "
                f"model file says the graph had {meta['n_nodes']} nodes"
            )
        super()._set_state(arrays, meta)
