"""Reconstruction errors of the graph autoencoders, computed without a dense adjacency.

DOMINANT and AnomalyDAE score a node by how badly its attributes and its row of the
adjacency matrix ``A`` are reconstructed: ``sqrt(sum_j (A_ij - S_ij)^2)`` with
``S = Z Z^T`` (DOMINANT, PyGOD's default without a sigmoid) or ``S = sigmoid(Z Z^T)``
(AnomalyDAE). PyGOD builds ``A`` densely (``to_dense_adj``), which fails with memory for
large graphs (PyGOD issue #118). Here the row error is split, for a binary ``A`` without
self-loops, into

    sum_j S_ij^2  +  sum_{j in N(i)} [(1 - S_ij)^2 - S_ij^2]

The second sum runs over the edges only. The first runs over all nodes and is computed
exactly without forming ``S``: for ``S = Z Z^T`` it is ``z_i^T (Z^T Z) z_i`` (a d x d Gram
matrix), and for the sigmoid it is summed over blocks of columns when the graph has at most
``max_columns`` nodes, or estimated without bias from ``max_columns`` nodes drawn at random
(seeded) otherwise. Memory is O(N d + E) (plus N x ``max_columns`` for the sigmoid).

PyGOD's positive weights (``pos_weight``: entries with a non-zero target get ``w``, zero
entries ``1 - w``, applied only when ``w != 0.5``) carry over: the all-nodes sum is taken
with weight ``1 - w`` and the edge correction becomes ``w (1 - S)^2 - (1 - w) S^2``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..graph.graphs import Graph
from ..torch_helpers import require_torch

BLOCK = 2048  # columns per block of the exact sigmoid sum


def tensors(graph: Graph, features: np.ndarray, device: Any) -> tuple[Any, Any]:
    """Node features (N, F) float32 and edge_index (2, E) int64 as torch tensors."""
    torch = require_torch()
    x = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(device)
    ei = torch.from_numpy(np.ascontiguousarray(graph.edge_index, dtype=np.int64)).to(device)
    return x, ei


def _weights(pos_weight: float) -> tuple[float, float]:
    return (1.0, 1.0) if pos_weight == 0.5 else (float(pos_weight), 1.0 - float(pos_weight))


def attribute_error(x: Any, x_hat: Any, pos_weight: float = 0.5) -> Any:
    """Per node ``sqrt(sum_f w_if (x_if - x_hat_if)^2)`` (PyGOD's ``double_recon_loss``)."""
    torch = require_torch()
    diff = (x - x_hat) ** 2
    pos, neg = _weights(pos_weight)
    if (pos, neg) != (1.0, 1.0):
        diff = torch.where(x > 0, diff * pos, diff * neg)
    return torch.sqrt(diff.sum(dim=1) + 1e-12)


def _edge_sum(values: Any, src: Any, n: int) -> Any:
    torch = require_torch()
    return torch.zeros(n, dtype=values.dtype, device=values.device).index_add_(0, src, values)


def dot_structure_error(z: Any, edge_index: Any, pos_weight: float = 0.5) -> Any:
    """Per node error of ``S = Z Z^T`` against ``A``, exact, O(N d^2 + E d)."""
    pos, neg = _weights(pos_weight)
    n = z.shape[0]
    gram = z.T @ z
    total = ((z @ gram) * z).sum(dim=1)  # sum_j (z_i . z_j)^2
    s = (z[edge_index[0]] * z[edge_index[1]]).sum(dim=1)
    edges = _edge_sum(pos * (1 - s) ** 2 - neg * s**2, edge_index[0], n)
    return (neg * total + edges).clamp_min(0).add(1e-12).sqrt()


def columns(n: int, max_columns: int, generator: Any) -> Any:
    """Node ids over which ``sum_j`` runs: all ``n`` when ``n <= max_columns``, else
    ``max_columns`` drawn without replacement with ``generator``."""
    torch = require_torch()
    if n <= max_columns:
        return None
    return torch.randperm(n, generator=generator)[:max_columns]


def sigmoid_structure_error(z: Any, edge_index: Any, cols: Any, pos_weight: float = 0.5) -> Any:
    """Per node error of ``S = sigmoid(Z Z^T)`` against ``A``; ``cols`` from ``columns``
    (``None``: exact, summed over blocks of ``BLOCK`` columns)."""
    torch = require_torch()
    pos, neg = _weights(pos_weight)
    n = z.shape[0]
    if cols is None:
        total = torch.zeros(n, dtype=z.dtype, device=z.device)
        for lo in range(0, n, BLOCK):
            total = total + (torch.sigmoid(z @ z[lo : lo + BLOCK].T) ** 2).sum(dim=1)
    else:
        total = (torch.sigmoid(z @ z[cols].T) ** 2).mean(dim=1) * n
    s = torch.sigmoid((z[edge_index[0]] * z[edge_index[1]]).sum(dim=1))
    edges = _edge_sum(pos * (1 - s) ** 2 - neg * s**2, edge_index[0], n)
    return (neg * total + edges).clamp_min(0).add(1e-12).sqrt()
