"""Spectral pieces of RQGNN (Dong et al., ICLR 2024), without a dense adjacency matrix.

* ``normalised_edges``: the weights ``1/sqrt(d_u d_v)`` of the symmetric normalised
  adjacency ``D^-1/2 A D^-1/2`` on a batch's (2, E) edge list;
* ``rayleigh_quotient``: per graph and per feature channel, the Rayleigh quotient
  ``x^T L x / x^T x`` of the channel ``x`` with respect to the normalised Laplacian
  ``L = I - D^-1/2 A D^-1/2``; it lies in [0, 2] and measures how much of the channel's
  energy sits in high graph frequencies (the paper's Theorem 1 ties it to the spectral
  energy distribution, which differs between normal and anomalous graphs);
* ``chebyshev_basis``: ``T_0(L~) x, ..., T_{K-1}(L~) x`` with ``L~ = L - I`` (the
  Laplacian rescaled to [-1, 1] with ``lambda_max = 2``), the terms a Chebyshev spectral
  filter combines.

Isolated nodes have degree 0: they add nothing to ``x^T L x`` (SciPy's normalised
Laplacian has a zero row there, as the reference code uses), only to ``x^T x``; a channel
that is zero on the whole graph has quotient 0. Sums run through ``index_add_``, so memory
is linear in nodes + edges.
"""

from __future__ import annotations

from typing import Any


def normalised_edges(edge_index: Any, n_nodes: int) -> Any:
    """Weights ``1/sqrt(d_u d_v)`` of every (directed) edge of a symmetric edge list."""
    import torch

    src, dst = edge_index
    deg = torch.zeros(n_nodes, dtype=torch.float32, device=edge_index.device)
    deg.index_add_(0, src, torch.ones(src.shape[0], dtype=torch.float32, device=deg.device))
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1.0).rsqrt(), torch.zeros_like(deg))
    return inv_sqrt[src] * inv_sqrt[dst]


def rayleigh_quotient(x: Any, edge_index: Any, owner: Any, n_graphs: int) -> Any:
    """(n_graphs, F) Rayleigh quotients ``x^T L x / x^T x`` of every feature channel of
    every graph of a disjoint union (``owner``: the graph of each node)."""
    import torch

    n = x.shape[0]
    src, dst = edge_index
    deg = torch.zeros(n, dtype=x.dtype, device=x.device)
    deg.index_add_(0, src, torch.ones(src.shape[0], dtype=x.dtype, device=x.device))
    inv_sqrt = torch.where(deg > 0, deg.clamp(min=1.0).rsqrt(), torch.zeros_like(deg))
    y = x * inv_sqrt[:, None]
    # x^T L x = 1/2 * sum over directed edges (x_u/sqrt(d_u) - x_v/sqrt(d_v))^2
    diff = (y[src] - y[dst]).pow(2)
    xlx = torch.zeros(n_graphs, x.shape[1], dtype=x.dtype, device=x.device)
    xlx.index_add_(0, owner[src], diff)
    xlx = 0.5 * xlx
    xx = torch.zeros_like(xlx)
    xx.index_add_(0, owner, x.pow(2))
    safe = torch.where(xx > 0, xx, torch.ones_like(xx))
    return torch.where(xx > 0, xlx / safe, torch.zeros_like(xlx)).clamp(0.0, 2.0)


def chebyshev_basis(h: Any, edge_index: Any, weight: Any, order: int) -> list[Any]:
    """``[T_0(L~) h, ..., T_{order-1}(L~) h]`` with ``L~ = -D^-1/2 A D^-1/2`` (the
    normalised Laplacian minus the identity), by the three-term recurrence."""
    src, dst = edge_index

    def step(z: Any) -> Any:  # L~ z
        out = z.new_zeros(z.shape)
        out.index_add_(0, dst, z[src] * weight[:, None])
        return -out

    terms = [h]
    if order > 1:
        terms.append(step(h))
    for _ in range(2, order):
        terms.append(2.0 * step(terms[-1]) - terms[-2])
    return terms
