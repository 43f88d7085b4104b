"""GLocalKD: glocal knowledge distillation of a random graph network.

Ma et al. train one GCN (the predictor) to reproduce the node and graph embeddings of a
second GCN of the same architecture whose weights stay at their random initialisation
(the target), on normal graphs only. The predictor learns to imitate the target on what
normal graphs look like, so its errors are small there and large on graphs (and nodes)
unlike them. A graph's score is the sum of the graph-level error (mean squared difference
of the max-pooled graph embeddings) and the node-level error (mean over its nodes of the
mean squared difference of node embeddings): the *glocal* part.

Architecture, after the authors' code (github.com/RongrongMa/GLocalKD): ``n_layers`` graph
convolutions (``hidden`` units, the last ``out`` units), each output row L2-normalised,
ReLU between layers, max pooling of the last layer for the graph embedding; dropout 0.1
on the predictor's middle layers; Adam with gradient clipping at 0.1. Departures, for a
CPU default: torch-geometric's ``GCNConv`` without normalisation on the edges plus
self-loops (the reference's ``(A + I) H W + b``, sparse instead of dense), no batch norm (the reference builds a fresh,
untrained one on every call), pooling and errors over real nodes only (the reference pads
every graph to the largest one and averages over the padding), and smaller widths and
fewer epochs at a larger learning rate (512/256 units, 150 epochs at 1e-4 in the paper).

Localisation: a node's score is its own node-level distillation error.

References
----------
Ma, R., Pang, G., Chen, L. & van den Hengel, A. Deep Graph-level Anomaly Detection by
Glocal Knowledge Distillation. WSDM 2022 (arXiv:2112.10063).

Burda, Y., Edwards, H., Storkey, A. & Klimov, O. Exploration by Random Network
Distillation. ICLR 2019.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, Real
from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import StateSpec
from ..torch_helpers import load_module_arrays, module_arrays, module_spec, torch_session
from .base import GraphDetector, graph_scores
from .gin import (
    GRAPH_NN_CONSTRAINTS,
    MAX_WIDTH,
    SCORE_BATCH,
    batches,
    resolve,
    tensors,
)
from .input import EncodedGraphs

CLIP = 0.1  # gradient-norm clipping of the reference code


def _build(n_in: int, hidden: int, out: int, n_layers: int, dropout: float):
    """A GCN returning (node embeddings, max-pooled graph embeddings)."""
    import torch
    from torch import nn
    from torch_geometric.nn import GCNConv
    from torch_geometric.utils import add_self_loops, scatter

    class GCN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            sizes = [n_in] + [hidden] * (n_layers - 1) + [out]
            self.convs = nn.ModuleList(
                GCNConv(a, b, normalize=False) for a, b in zip(sizes[:-1], sizes[1:], strict=True)
            )
            self.drop = nn.Dropout(dropout)

        def forward(self, x, edge_index, owner, n_graphs: int):
            h = x
            edge_index, _ = add_self_loops(edge_index, num_nodes=x.shape[0])  # (A + I) h W
            last = len(self.convs) - 1
            for i, conv in enumerate(self.convs):
                if 0 < i < last:
                    h = self.drop(h)
                h = nn.functional.normalize(conv(h, edge_index), p=2, dim=1)
                if i < last:
                    h = torch.relu(h)
            graph = scatter(h, owner, dim=0, dim_size=n_graphs, reduce="max")
            return h, graph

    return GCN()


@register(
    "glocalkd",
    modality="graph",
    paper=(
        "Ma, Pang, Chen & van den Hengel. Deep Graph-level Anomaly Detection by Glocal "
        "Knowledge Distillation. WSDM 2022"
    ),
    year=2022,
    can_localise=True,
)
class GLocalKD(GraphDetector):
    """Random-network distillation of node and graph embeddings; score = both errors.

    Parameters
    ----------
    hidden:
        Width of the hidden graph convolutions.
    out:
        Width of the last convolution (node and graph embeddings).
    n_layers:
        Graph convolutions (at least 2).
    epochs, batch_size, lr, weight_decay:
        Adam on the predictor (gradient norm clipped at 0.1).
    device:
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    seed:
        Seeds both networks' initialisation, dropout and batch order.
    """

    quick_params: ClassVar[dict[str, Any]] = {"hidden": 16, "out": 8, "epochs": 3}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **GRAPH_NN_CONSTRAINTS,
        "out": [Interval(Integral, 1, MAX_WIDTH)],
        "n_layers": [Interval(Integral, 2, 16)],
        "lr": [Interval(Real, 0, 10, closed="right")],
    }

    def __init__(
        self,
        hidden: int = 64,
        out: int = 32,
        n_layers: int = 3,
        epochs: int = 30,
        batch_size: int = 128,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.out = out
        self.n_layers = n_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.seed = seed

    def _networks(self, n_in: int):
        shape = (n_in, int(self.hidden), int(self.out), int(self.n_layers))
        return _build(*shape, 0.0), _build(*shape, 0.1)

    def _fit(self, data: EncodedGraphs) -> None:
        rng = np.random.default_rng(self.seed)
        with torch_session(self.seed) as torch:
            self.device_ = resolve(self.device)
            target, predictor = self._networks(data.n_features)
            target, predictor = target.to(self.device_).eval(), predictor.to(self.device_)
            for p in target.parameters():
                p.requires_grad_(False)
            optimiser = torch.optim.Adam(
                predictor.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
            )
            predictor.train()
            for _ in range(int(self.epochs)):
                for idx in batches(len(data), int(self.batch_size), rng):
                    batch = tensors(data, idx, self.device_)
                    with torch.no_grad():
                        t_node, t_graph = target(*batch)
                    p_node, p_graph = predictor(*batch)
                    loss = ((p_graph - t_graph) ** 2).mean() + ((p_node - t_node) ** 2).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(predictor.parameters(), CLIP)
                    optimiser.step()
            predictor.eval()
        self.target_, self.predictor_ = target, predictor

    def _score(self, data: EncodedGraphs) -> Scores:
        from torch_geometric.utils import scatter

        scores = np.zeros(len(data))
        node_scores: list[np.ndarray] = []
        with torch_session() as torch, torch.no_grad():
            for idx in batches(len(data), SCORE_BATCH, None):
                batch = tensors(data, idx, self.device_)
                t_node, t_graph = self.target_(*batch)
                p_node, p_graph = self.predictor_(*batch)
                node_err = ((p_node - t_node) ** 2).mean(dim=1)
                graph_err = ((p_graph - t_graph) ** 2).mean(dim=1)
                local = scatter(node_err, batch[2], dim=0, dim_size=batch[3], reduce="mean")
                scores[idx] = (graph_err + local).double().cpu().numpy()
                per_node = node_err.cpu().numpy()
                bounds = np.cumsum([0] + [data.graphs[i].n_nodes for i in idx])
                node_scores += [per_node[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return graph_scores(data, scores, node_scores)

    # -- persistence --------------------------------------------------------------------
    def _get_state(self):
        arrays = module_arrays(self.target_, "target.")
        arrays.update(module_arrays(self.predictor_, "predictor."))
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        d = self._n_features()
        target = module_spec(lambda: self._networks(d)[0], "target.")
        predictor = module_spec(lambda: self._networks(d)[1], "predictor.")
        return StateSpec(arrays={**target, **predictor})

    def _set_state(self, arrays, meta) -> None:
        with torch_session():
            self.device_ = resolve(self.device)
            target, predictor = self._networks(self._n_features())
            try:
                load_module_arrays(target, arrays, "target.")
                load_module_arrays(predictor, arrays, "predictor.")
            except RuntimeError as exc:
                raise ModelFileError(f"glocalkd weights do not fit the networks: {exc}") from None
            self.target_ = target.to(self.device_).eval()
            self.predictor_ = predictor.to(self.device_).eval()
