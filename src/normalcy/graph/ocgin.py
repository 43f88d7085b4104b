"""OCGIN: a graph isomorphism network trained with the one-class (Deep SVDD) objective.

Zhao & Akoglu train a GIN encoder on normal graphs only so that their embeddings gather
around a fixed centre ``c``; a graph's anomaly score is its squared distance to ``c``.

The encoder follows the authors' reference code (github.com/LingxiaoShawn/GLOD-Issues):
a linear input transform with batch norm, then ``n_layers`` GIN convolutions (a two-layer
MLP without biases, ReLU, batch norm). Every layer's node embeddings are mean-pooled per
graph and the pooled vectors of all layers (the input transform's included) are summed:
that sum is the graph embedding. The centre is the mean embedding of the training graphs
under the initial weights (computed once, before training, and then fixed); training
minimises the mean squared distance to it with Adam and weight decay.

Localisation: a node's score is the squared distance to ``c`` of its own embedding summed
over layers (the quantity whose per-graph mean is the graph embedding), so the nodes that
pull a graph away from the centre stand out.

References
----------
Zhao, L. & Akoglu, L. On Using Classification Datasets to Evaluate Graph Outlier
Detection: Peculiar Observations and New Insights. Big Data 11(3), 2023
(arXiv:2012.12931, 2020).

Ruff, L. et al. Deep One-Class Classification. ICML 2018.

Xu, K., Hu, W., Leskovec, J. & Jegelka, S. How Powerful are Graph Neural Networks? ICLR 2019.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.errors import ModelFileError
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from ..torch_helpers import load_module_arrays, module_arrays, module_spec, torch_session
from .base import GraphDetector, graph_scores
from .gin import (
    GRAPH_NN_CONSTRAINTS,
    SCORE_BATCH,
    batches,
    mean_pool,
    resolve,
    tensors,
)
from .input import EncodedGraphs


def _build(n_in: int, hidden: int, n_layers: int):
    """The GIN encoder: returns per-node embeddings summed over layers and the graph
    embeddings (sum over layers of the per-layer mean pools)."""
    import torch
    from torch import nn
    from torch_geometric.nn import GINConv

    class GIN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transform = nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden))
            self.convs = nn.ModuleList(
                GINConv(
                    nn.Sequential(
                        nn.Linear(hidden, hidden, bias=False),
                        nn.ReLU(),
                        nn.Linear(hidden, hidden, bias=False),
                    )
                )
                for _ in range(n_layers)
            )
            self.norms = nn.ModuleList(nn.BatchNorm1d(hidden) for _ in range(n_layers))

        def forward(self, x, edge_index, owner, n_graphs: int):
            h = self.transform(x)
            node_sum = h
            graph = mean_pool(h, owner, n_graphs)
            for conv, norm in zip(self.convs, self.norms, strict=True):
                h = norm(torch.relu(conv(h, edge_index)))
                node_sum = node_sum + h
                graph = graph + mean_pool(h, owner, n_graphs)
            return node_sum, graph

    return GIN()


@register(
    "ocgin",
    modality="graph",
    paper=(
        "Zhao & Akoglu. On Using Classification Datasets to Evaluate Graph Outlier "
        "Detection: Peculiar Observations and New Insights. Big Data 2023 (arXiv 2020)"
    ),
    year=2020,
    can_localise=True,
)
class OCGIN(GraphDetector):
    """One-class GIN: graph embeddings pulled to a centre; score = squared distance.

    Parameters
    ----------
    hidden:
        Width of every GIN layer.
    n_layers:
        GIN convolutions after the input transform.
    epochs, batch_size, lr, weight_decay:
        Adam on the mean squared distance to the centre (the reference code's settings:
        25 epochs, batches of 32 graphs, learning rate 1e-3, weight decay 5e-4).
    device:
        ``"auto"`` (CUDA when present), ``"cpu"`` or ``"cuda"``.
    seed:
        Seeds weight initialisation and batch order.
    """

    quick_params: ClassVar[dict[str, Any]] = {"hidden": 16, "epochs": 3}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = dict(GRAPH_NN_CONSTRAINTS)

    def __init__(
        self,
        hidden: int = 64,
        n_layers: int = 3,
        epochs: int = 25,
        batch_size: int = 32,
        lr: float = 1e-3,
        weight_decay: float = 5e-4,
        device: str = "auto",
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.n_layers = n_layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.seed = seed

    def _fit(self, data: EncodedGraphs) -> None:
        rng = np.random.default_rng(self.seed)
        with torch_session(self.seed) as torch:
            self.device_ = resolve(self.device)
            model = _build(data.n_features, int(self.hidden), int(self.n_layers))
            model = model.to(self.device_)
            model.train()
            with torch.no_grad():  # the centre: mean embedding under the initial weights
                total = torch.zeros(int(self.hidden), device=self.device_)
                for idx in batches(len(data), int(self.batch_size), None):
                    _, graph = model(*tensors(data, idx, self.device_))
                    total += graph.sum(dim=0)
                centre = total / len(data)
            optimiser = torch.optim.Adam(
                model.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
            )
            for _ in range(int(self.epochs)):
                for idx in batches(len(data), int(self.batch_size), rng):
                    _, graph = model(*tensors(data, idx, self.device_))
                    loss = ((graph - centre) ** 2).sum(dim=1).mean()
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
            model.eval()
        self.model_ = model
        self.centre_ = centre.detach().cpu().numpy().astype(np.float32)

    def _score(self, data: EncodedGraphs) -> Scores:
        scores = np.zeros(len(data))
        node_scores: list[np.ndarray] = []
        with torch_session() as torch, torch.no_grad():
            centre = torch.from_numpy(self.centre_).to(self.device_)
            for idx in batches(len(data), SCORE_BATCH, None):
                x, ei, owner, n = tensors(data, idx, self.device_)
                node, graph = self.model_(x, ei, owner, n)
                scores[idx] = ((graph - centre) ** 2).sum(dim=1).double().cpu().numpy()
                per_node = ((node - centre) ** 2).sum(dim=1).cpu().numpy()
                bounds = np.cumsum([0] + [data.graphs[i].n_nodes for i in idx])
                node_scores += [per_node[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        return graph_scores(data, scores, node_scores)

    # -- persistence --------------------------------------------------------------------
    def _get_state(self):
        arrays = module_arrays(self.model_, "gin.")
        arrays["centre"] = self.centre_
        return arrays, {}

    def _state_spec(self) -> StateSpec:
        d, h, k = self._n_features(), int(self.hidden), int(self.n_layers)
        arrays = module_spec(lambda: _build(d, h, k), "gin.")
        arrays["centre"] = ArraySpec((h,), "float32")
        return StateSpec(arrays=arrays)

    def _set_state(self, arrays, meta) -> None:
        with torch_session():
            self.device_ = resolve(self.device)
            model = _build(self._n_features(), int(self.hidden), int(self.n_layers))
            try:
                load_module_arrays(model, arrays, "gin.")
            except RuntimeError as exc:
                raise ModelFileError(f"ocgin weights do not fit the network: {exc}") from None
            self.model_ = model.to(self.device_).eval()
        self.centre_ = np.asarray(arrays["centre"], dtype=np.float32)
