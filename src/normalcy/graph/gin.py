"""Small torch pieces shared by the neural graph-level detectors (OCGIN, GLocalKD).

* ``tensors``: a batch of encoded graphs as torch tensors (node features, edges, owner);
* ``batches``: seeded mini-batches of graph indices;
* ``GRAPH_NN_CONSTRAINTS``: the parameter forms the neural graph detectors share.

Message passing uses torch-geometric's ``GINConv``/``GCNConv`` on an ``edge_index`` and its
``scatter`` for pooling, so no dense adjacency matrix is ever built.
"""

from __future__ import annotations

from collections.abc import Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np

from ..core.constraints import Interval, Options
from ..torch_helpers import require_torch
from .input import EncodedGraphs

MAX_WIDTH = 4096
SCORE_BATCH = 512  # graphs per forward pass when scoring

GRAPH_NN_CONSTRAINTS: dict[str, list[Any]] = {
    "hidden": [Interval(Integral, 1, MAX_WIDTH)],
    "n_layers": [Interval(Integral, 1, 16)],
    "epochs": [Interval(Integral, 1, 100_000)],
    "batch_size": [Interval(Integral, 1, 1_000_000)],
    "lr": [Interval(Real, 0, 10, closed="right")],
    "weight_decay": [Interval(Real, 0, 1)],
    "device": [Options(str, {"auto", "cpu", "cuda"})],
    "seed": [Interval(Integral, 0, 2**32 - 1)],
}


def tensors(data: EncodedGraphs, index: list[int] | np.ndarray, device: Any):
    """Graphs ``index`` of ``data`` as (x, edge_index, owner, n_graphs) tensors."""
    torch = require_torch()
    x, ei, owner = data.batch(index)
    return (
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device),
        torch.from_numpy(np.ascontiguousarray(ei, dtype=np.int64)).to(device),
        torch.from_numpy(owner).to(device),
        len(index),
    )


def batches(n: int, size: int, rng: np.random.Generator | None) -> Iterator[np.ndarray]:
    """Indices 0..n-1 in batches of ``size`` (shuffled by ``rng`` when given); a last batch
    of a single graph joins the one before it (batch norm needs more than one row)."""
    order = rng.permutation(n) if rng is not None else np.arange(n)
    cuts = list(range(0, n, size))
    if len(cuts) > 1 and n - cuts[-1] == 1:
        cuts.pop()
    for k, lo in enumerate(cuts):
        hi = cuts[k + 1] if k + 1 < len(cuts) else n
        yield order[lo:hi]


def mean_pool(h, owner, n_graphs: int):
    """Mean of the node rows of every graph."""
    from torch_geometric.utils import scatter

    return scatter(h, owner, dim=0, dim_size=n_graphs, reduce="mean")


def resolve(device: str):
    """``"auto"`` → CUDA when present, else CPU."""
    from ..torch_helpers import resolve_device

    return resolve_device(device)
