"""The RQGNN network (Dong et al., ICLR 2024) and its class-balanced focal loss.

Architecture (after the authors' public code, written anew):

* node MLP: two LeakyReLU layers ``F -> C -> C`` (``C = hidden``);
* Chebyshev spectral GNN (CWGNN): ``width`` Chebyshev filters of ``order`` terms each on
  the normalised Laplacian, their outputs concatenated and mapped by two LeakyReLU layers
  to node representations ``h_v`` (``hidden``). The Chebyshev terms are computed once and
  shared by all filters (the same filters as ``width`` separate convolutions, at a fraction
  of the cost);
* Rayleigh-quotient learning (RQL): the per-channel Rayleigh quotients of the input
  features (``rqgnn_spectral.rayleigh_quotient``) through a two-layer MLP;
* RQ-pooling: a second MLP maps the Rayleigh quotients to an anchor ``a_G``; node ``v``
  gets the attention weight ``s_v = h_v . a_G`` and the graph the pooled vector
  ``sum_v s_v h_v`` (a weighted sum, as in the reference code);
* the graph representation ``[pooled, RQL]`` (``2 * hidden``), batch-normalised and
  dropped out when asked, then a linear head (2 logits for the classifier).

Weights are plain ``nn.Linear``/``nn.BatchNorm1d`` modules, so a model file's arrays have
names and shapes that do not depend on the torch-geometric version.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..torch_helpers import require_torch
from .rqgnn_spectral import chebyshev_basis, normalised_edges, rayleigh_quotient


def build_rqgnn(
    n_features: int,
    hidden: int,
    width: int,
    order: int,
    *,
    dropout: float = 0.0,
    batch_norm: bool = False,
    n_out: int = 0,
    mean_pool: bool = False,
) -> Any:
    """A fresh RQGNN module (``n_out = 0``: no head, the representation is the output)."""
    torch = require_torch()
    nn = torch.nn

    class RQGNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.act = nn.LeakyReLU()
            self.node1 = nn.Linear(n_features, hidden)
            self.node2 = nn.Linear(hidden, hidden)
            self.cheb = nn.Linear(order * hidden, width * hidden)
            self.mix1 = nn.Linear(width * hidden, hidden)
            self.mix2 = nn.Linear(hidden, hidden)
            self.rq1 = nn.Linear(n_features, hidden)
            self.rq2 = nn.Linear(hidden, hidden)
            self.att1 = nn.Linear(n_features, hidden)
            self.att2 = nn.Linear(hidden, hidden)
            self.norm = nn.BatchNorm1d(2 * hidden) if batch_norm else nn.Identity()
            self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
            self.head = nn.Linear(2 * hidden, n_out) if n_out else None

        def encode(self, x, edge_index, owner, n_graphs):
            """Node representations (N, hidden), attention weights (N,), graph
            representations (G, 2 * hidden) before normalisation."""
            act = self.act
            rq = rayleigh_quotient(x, edge_index, owner, n_graphs)
            h = act(self.node2(act(self.node1(x))))
            weight = normalised_edges(edge_index, x.shape[0])
            basis = torch.cat(chebyshev_basis(h, edge_index, weight, order), dim=1)
            # cheb and mix1 are consecutive linear maps: apply their product (the same
            # function and gradients, a quarter of the work per node)
            w = self.mix1.weight @ self.cheb.weight
            b = self.mix1.weight @ self.cheb.bias + self.mix1.bias
            h = act(self.mix2(act(torch.nn.functional.linear(basis, w, b))))
            anchor = act(self.att2(act(self.att1(rq))))
            attention = (h * anchor[owner]).sum(dim=1)
            pooled = torch.zeros(n_graphs, hidden, dtype=h.dtype, device=h.device)
            pooled.index_add_(0, owner, attention[:, None] * h)
            if mean_pool:
                sizes = torch.zeros(n_graphs, dtype=h.dtype, device=h.device)
                sizes.index_add_(0, owner, torch.ones_like(attention))
                pooled = pooled / sizes.clamp(min=1.0)[:, None]
            rq_code = act(self.rq2(self.rq1(rq)))
            return h, attention, torch.cat([pooled, rq_code], dim=1)

        def forward(self, x, edge_index, owner, n_graphs):
            _, _, graph = self.encode(x, edge_index, owner, n_graphs)
            z = self.drop(self.norm(graph))
            return z if self.head is None else self.head(z)

        def margin_parts(self, x, edge_index, owner, n_graphs):
            """Anomaly margin ``logit_1 - logit_0`` of every graph (eval mode) and each
            node's exact share of it: the margin is linear in the pooled vector, which is
            a sum over nodes, so node ``v`` contributes ``s_v * (u . h_v)``."""
            h, attention, graph = self.encode(x, edge_index, owner, n_graphs)
            u = self.head.weight[1] - self.head.weight[0]
            if isinstance(self.norm, nn.BatchNorm1d):
                u = u * self.norm.weight / torch.sqrt(self.norm.running_var + self.norm.eps)
            logits = self.head(self.norm(graph))
            nodes = attention * (h @ u[:hidden])
            return logits[:, 1] - logits[:, 0], nodes

    return RQGNN()


def class_balanced_focal_loss(
    logits: Any, labels: Any, counts: tuple[int, int], beta: float, gamma: float
) -> Any:
    """Class-balanced focal loss (Cui et al., CVPR 2019; Lin et al., ICCV 2017) on two
    sigmoid logits per graph, as RQGNN trains: class ``c`` weighs ``(1 - beta) /
    (1 - beta^n_c)`` (normalised to sum to 2), each logit's binary cross-entropy is scaled
    by the focal modulator ``(1 - p_t)^gamma``; the sum is divided by the batch size."""
    torch = require_torch()
    F = torch.nn.functional
    n = np.asarray(counts, dtype=np.float64)
    effective = 1.0 - np.power(beta, n)
    weights = np.where(effective > 0, (1.0 - beta) / np.where(effective > 0, effective, 1), 0)
    weights = weights / weights.sum() * 2.0
    target = F.one_hot(labels, 2).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    # (1 - p_t)^gamma = sigmoid(z) for target 0, sigmoid(-z) for target 1
    modulator = torch.exp(gamma * F.logsigmoid(logits * (1.0 - 2.0 * target)))
    w = torch.as_tensor(weights, dtype=logits.dtype, device=logits.device)[labels]
    return (w[:, None] * modulator * bce).sum() / labels.shape[0]
