"""CAR's temporal model: a hierarchical Pitman-Yor context tree over alert types.

A variable-order Markov model in the form CAR (Lin et al., CIKM 2018) describes: every
context (the ``k`` most recent alert types, ``k = 0 .. depth``) is a node of a suffix
tree, each node holds a predictive distribution over the next alert type, and a node's
distribution has its parent's (the context without its oldest alert) as prior. The prior
is a Pitman-Yor process, so short contexts carry the statistics long contexts lack
(short-term correlations at the top of the tree, long-term dependencies in its depth).

Inference uses the interpolated Kneser-Ney approximation of the hierarchical Pitman-Yor
process (Teh, 2006: one table per distinct symbol, concentration 0)::

    p(a | u) = max(c(u, a) - d_|u| * t(u, a), 0) / c(u)
               + d_|u| * t(u) / c(u) * p(a | parent(u))

with weighted counts ``c`` (alerts weighted by their current true-positive belief, which
is how CAR's joint optimisation feeds back into this model), ``t(u, a) = min(c(u, a), 1)``
and ``t(u) = sum_a t(u, a)``. The root's parent is the uniform distribution over the
alert types plus one "unseen" type. Discounts per depth are the Kneser-Ney estimates
``n1 / (n1 + 2 n2)`` from the (unweighted) count-of-counts, clipped to [0.1, 0.9]; nothing
is tuned per data set.

The tree is stored as plain arrays (node parent and edge symbol, count triplets), so it
saves to safetensors and is rebuilt on load without executing anything.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ROOT = 0


class ContextTree:
    """Weighted hierarchical Pitman-Yor (IKN) context tree; alert types are ``0..n_types-1``
    (``n_types`` itself is the unseen type)."""

    def __init__(self, n_types: int, depth: int) -> None:
        self.n_types = int(n_types)
        self.depth = int(depth)
        self.parent: list[int] = [-1]
        self.symbol: list[int] = [-1]
        self.node_depth: list[int] = [0]
        self.children: list[dict[int, int]] = [{}]
        self.counts: list[dict[int, float]] = [{}]
        self.raw: list[dict[int, int]] = [{}]
        self.discount = np.full(self.depth + 1, 0.5)

    # -- building -----------------------------------------------------------------------
    def _child(self, node: int, sym: int, create: bool) -> int:
        nxt = self.children[node].get(sym)
        if nxt is None and create:
            nxt = len(self.parent)
            self.parent.append(node)
            self.symbol.append(sym)
            self.node_depth.append(self.node_depth[node] + 1)
            self.children.append({})
            self.counts.append({})
            self.raw.append({})
            self.children[node][sym] = nxt
        return -1 if nxt is None else nxt

    def path(self, seq: np.ndarray, t: int, create: bool = False) -> list[int]:
        """Nodes of the contexts of position ``t``: root, then ``seq[t-1]``, ... (deepest
        existing context last)."""
        nodes = [ROOT]
        node = ROOT
        for k in range(1, min(self.depth, t) + 1):
            node = self._child(node, int(seq[t - k]), create)
            if node < 0:
                break
            nodes.append(node)
        return nodes

    def fit(self, sequences: Sequence[np.ndarray], weights: Sequence[np.ndarray]) -> ContextTree:
        for seq, w in zip(sequences, weights, strict=True):
            for t in range(len(seq)):
                a = int(seq[t])
                for node in self.path(seq, t, create=True):
                    self.counts[node][a] = self.counts[node].get(a, 0.0) + float(w[t])
                    self.raw[node][a] = self.raw[node].get(a, 0) + 1
        self._estimate_discounts()
        self._finalise()
        return self

    def _finalise(self) -> None:
        """Cache each node's total weight and table count (used by every ``prob``)."""
        self._total = [sum(c.values()) for c in self.counts]
        self._tables = [sum(min(v, 1.0) for v in c.values()) for c in self.counts]

    def _estimate_discounts(self) -> None:
        n1 = np.zeros(self.depth + 1)
        n2 = np.zeros(self.depth + 1)
        for node, raw in enumerate(self.raw):
            values = np.fromiter(raw.values(), dtype=np.int64, count=len(raw))
            k = self.node_depth[node]
            n1[k] += np.sum(values == 1)
            n2[k] += np.sum(values == 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            d = np.where(n1 + n2 > 0, n1 / (n1 + 2 * n2), 0.5)
        self.discount = np.clip(d, 0.1, 0.9)

    # -- inference ----------------------------------------------------------------------
    def prob(self, nodes: list[int], a: int) -> float:
        """p(a | deepest context in ``nodes``), interpolated down from the root."""
        p = 1.0 / (self.n_types + 1)
        for node in nodes:
            total = self._total[node]
            if total <= 0:
                continue
            d = self.discount[self.node_depth[node]]
            c = self.counts[node].get(a, 0.0)
            tables = self._tables[node]
            p = max(c - d * min(c, 1.0), 0.0) / total + d * tables / total * p
        return p

    def gains(self, seq: np.ndarray) -> np.ndarray:
        """Per position: ``log p(a_t | context) - log p(a_t | no context)``, how much the
        preceding alerts make this one predictable (0 at a sequence start)."""
        out = np.zeros(len(seq))
        for t in range(len(seq)):
            nodes = self.path(seq, t)
            a = int(seq[t])
            out[t] = np.log(self.prob(nodes, a)) - np.log(self.prob(nodes[:1], a))
        return out

    # -- patterns -----------------------------------------------------------------------
    def patterns(self, min_length: int = 2) -> list[tuple[tuple[int, ...], float, float]]:
        """Every stored (context, next type) of length >= ``min_length``: the alert types in
        time order, the weighted count and the log-probability gain over no context."""
        out = []
        for node in range(1, len(self.parent)):
            if self.node_depth[node] + 1 < min_length:
                continue
            context = []
            n = node
            while n != ROOT:
                context.append(self.symbol[n])
                n = self.parent[n]
            context.reverse()  # oldest first
            nodes = self.path(np.array(context + [0]), len(context))
            for a, c in self.counts[node].items():
                gain = np.log(self.prob(nodes, a)) - np.log(self.prob(nodes[:1], a))
                out.append((tuple(context + [a]), float(c), float(gain)))
        return out

    # -- state --------------------------------------------------------------------------
    def get_state(self, prefix: str) -> dict[str, np.ndarray]:
        node_idx, sym_idx, value, raw = [], [], [], []
        for node, counts in enumerate(self.counts):
            for a, c in counts.items():
                node_idx.append(node)
                sym_idx.append(a)
                value.append(c)
                raw.append(self.raw[node][a])
        return {
            prefix + "parent": np.asarray(self.parent, dtype=np.int64),
            prefix + "symbol": np.asarray(self.symbol, dtype=np.int64),
            prefix + "count_node": np.asarray(node_idx, dtype=np.int64),
            prefix + "count_symbol": np.asarray(sym_idx, dtype=np.int64),
            prefix + "count_value": np.asarray(value, dtype=np.float64),
            prefix + "count_raw": np.asarray(raw, dtype=np.int64),
            prefix + "discount": self.discount.astype(np.float64),
        }

    @classmethod
    def from_state(
        cls, arrays: dict[str, np.ndarray], prefix: str, n_types: int, depth: int
    ) -> ContextTree:
        """Rebuild from verified arrays; raises ``ValueError`` on an inconsistent tree."""
        tree = cls(n_types, depth)
        parent = arrays[prefix + "parent"]
        symbol = arrays[prefix + "symbol"]
        n = len(parent)
        if n < 1 or parent[0] != -1 or symbol[0] != -1:
            raise ValueError("the context tree's first node must be the root")
        tree.parent, tree.symbol = [-1], [-1]
        tree.node_depth, tree.children = [0], [{}]
        for i in range(1, n):
            p, s = int(parent[i]), int(symbol[i])
            if not 0 <= p < i or not 0 <= s <= n_types:
                raise ValueError(f"context tree node {i} has parent {p} or symbol {s} out of range")
            if s in tree.children[p]:
                raise ValueError(f"context tree node {p} has two children for symbol {s}")
            if tree.node_depth[p] + 1 > depth:
                raise ValueError("the context tree is deeper than its depth parameter")
            tree.parent.append(p)
            tree.symbol.append(s)
            tree.node_depth.append(tree.node_depth[p] + 1)
            tree.children.append({})
            tree.children[p][s] = i
        tree.counts = [{} for _ in range(n)]
        tree.raw = [{} for _ in range(n)]
        for node, a, c, r in zip(
            arrays[prefix + "count_node"],
            arrays[prefix + "count_symbol"],
            arrays[prefix + "count_value"],
            arrays[prefix + "count_raw"],
            strict=True,
        ):
            tree.counts[int(node)][int(a)] = float(c)
            tree.raw[int(node)][int(a)] = int(r)
        tree.discount = np.asarray(arrays[prefix + "discount"], dtype=np.float64).copy()
        tree._finalise()
        return tree
