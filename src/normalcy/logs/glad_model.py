"""GLAD's network: a GCN over each window graph, temporal attention across the windows, and
an edge scorer (Li et al., 2023, section III-C).

* **Node features** (content-aware): the frozen sentence embedding of the node's text (the
  event template, or "value is a type ." for a field; zero for the START/END markers and
  the unseen-event node; an unseen event whose text is known at score time carries the
  embedding of that text with the unseen-event identity), projected to ``hidden``, plus a
  learned embedding of the node's identity (the paper feeds the sentence embedding only; the identity embedding lets a
  small CPU model tell apart fields whose texts embed alike, e.g. two IP addresses).
* **Structure**: ``layers`` GCN layers (``torch_geometric.nn.GCNConv``, residual) over the
  disjoint union of the window graphs, edges in both directions.
* **Temporal attention**: every node token gets the learned position embedding of its
  window, and one Transformer encoder layer attends over all tokens of a chunk of
  consecutive windows (the paper adds a graph position embedding and runs a pretrained
  Transformer over the nodes of the graph sequence; here the Transformer is small and
  trained from scratch).
* **Edge score** (AddGraph's form, the paper's eq. 5): for an edge (i, j) with hidden
  states h_i, h_j the paper scores ``s = sigmoid(beta * ||a * h_i + b * h_j||^2 - mu)``
  with learned vectors ``a``, ``b``; higher = more anomalous. That form is a translation
  model (low only when h_j is close to one point fixed by h_i), which cannot score low
  every relation of a hub node (a field shared by all events) and failed on the synthetic
  block logs; here ``a * h_i + b * h_j`` becomes a one-hidden-layer perceptron of the pair,
  ``z = W relu(A h_i + B h_j + c)``, and ``s = sigmoid(beta * mean(z^2) - mu)``. The paper multiplies by the edge weight
  (its multiplicity); here every edge has weight 1, so frequent relations are not made
  more anomalous by repeating.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..torch_helpers import require_torch
from .glad_graph import UNKNOWN_EVENT, Chunk

BETA = 1.0  # the reference implementation's defaults
MU = 0.3


def build_network(
    n_nodes: int, text_dim: int, hidden: int, layers: int, heads: int, max_snapshots: int
) -> Any:
    """The GLAD network for ``n_nodes`` global nodes (weights initialised by torch's RNG)."""
    torch = require_torch()
    from torch_geometric.nn import GCNConv

    nn = torch.nn

    class GLADNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("node_text", torch.zeros(n_nodes, text_dim))
            self.text = nn.Linear(text_dim, hidden)
            self.identity = nn.Embedding(n_nodes, hidden)
            nn.init.normal_(self.identity.weight, std=0.1)
            self.convs = nn.ModuleList(GCNConv(hidden, hidden) for _ in range(layers))
            self.position = nn.Embedding(max_snapshots, hidden)
            nn.init.normal_(self.position.weight, std=0.1)
            self.attention = nn.TransformerEncoderLayer(
                hidden, heads, 2 * hidden, dropout=0.0, batch_first=True
            )
            self.a = nn.Linear(hidden, hidden, bias=False)
            self.b = nn.Linear(hidden, hidden)
            self.pair = nn.Linear(hidden, hidden)

        def forward(self, batch: dict[str, Any], dropout: float = 0.0):
            tokens = batch["tokens"]
            n = self.node_text.shape[0]
            extra = tokens >= n  # unseen events with their own text (see ``collate``)
            text = self.node_text[torch.where(extra, 0, tokens)]
            if bool(extra.any()):
                text = torch.where(
                    extra[:, None], batch["extra_text"][(tokens - n).clamp(min=0)], text
                )
            ident = torch.where(extra, UNKNOWN_EVENT, tokens)
            x = self.text(text) + self.identity(ident)
            for conv in self.convs:
                x = x + torch.relu(conv(x, batch["graph"]))
                x = nn.functional.dropout(x, dropout, self.training)
            x = x + self.position(batch["snapshot"])
            padded = x.new_zeros(batch["n_chunks"], batch["width"], x.shape[1])
            padded[batch["chunk"], batch["slot"]] = x
            h = self.attention(padded, src_key_padding_mask=batch["padding"])
            return h[batch["chunk"], batch["slot"]]

        def edge_scores(self, h, src, dst):
            return torch.sigmoid(self.logits(h, src, dst))

        def logits(self, h, src, dst):
            z = self.pair(torch.relu(self.a(h[src]) + self.b(h[dst])))
            return BETA * z.pow(2).mean(dim=1) - MU

    return GLADNet()


def collate(chunks: list[Chunk], device: Any, extra_text: Any = None) -> dict[str, Any]:
    """Tensors of a batch of chunks: tokens, window graph (both directions), padding.

    Tokens from ``n_nodes`` on are unseen events that carry their own text: token
    ``n_nodes + k`` has the identity of the unseen-event node and the text features
    ``extra_text[k]``."""
    torch = require_torch()
    sizes = np.asarray([len(c.tokens) for c in chunks], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    edges = np.concatenate([c.edges + off for c, off in zip(chunks, offsets, strict=True)]).reshape(
        -1, 2
    )
    edge_offsets = np.concatenate([[0], np.cumsum([len(c.edges) for c in chunks])[:-1]])
    graph = np.concatenate([edges.T, edges[:, ::-1].T], axis=1)
    width = int(sizes.max()) if len(sizes) else 1
    chunk = np.repeat(np.arange(len(chunks)), sizes)
    slot = np.arange(int(sizes.sum())) - np.repeat(offsets, sizes)
    padding = np.arange(width)[None, :] >= sizes[:, None]

    def t(a: np.ndarray, dtype: Any = torch.long):
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

    return {
        "tokens": t(np.concatenate([c.tokens for c in chunks])),
        "snapshot": t(np.concatenate([c.snapshot for c in chunks])),
        "graph": t(graph),
        "chunk": t(chunk),
        "slot": t(slot),
        "padding": t(padding, torch.bool),
        "n_chunks": len(chunks),
        "width": width,
        "edges": edges,
        "edge_offsets": edge_offsets,
        "negative": np.concatenate([c.negative for c in chunks]),
        "extra_text": extra_text,
    }
