"""Synthetic graphs with known anomalies: the demo's graphs and the tests' fixtures.

Normal graphs are molecule-like: a ring of 12-24 atoms with a few short side chains and
ring closures, node labels from a small alphabet that follows the structure (ring atoms,
branch atoms, branch ends). Anomaly kinds planted in test graphs (``make_graphs``):

* ``clique``: a dense 5-clique wired among existing nodes (its nodes are the anomaly);
* ``rewired``: a third of the edges rewired at random (the ring motif broken);
* ``spectral``: a random graph of the same size and edge count (another spectrum; its
  node labels drawn from the normal label frequencies).

For node-level detection, ``make_node_graph`` builds one attributed community graph with
injected contextual outliers (features copied from a far node) and structural outliers
(small cliques), as PyGOD's injection does. Deterministic for a given ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..graph.graphs import Graph, clean_edges

GRAPH_KINDS = ("clique", "rewired", "spectral")


@dataclass
class GraphSplit:
    """Normal training graphs and test graphs with labels, kinds and anomalous nodes."""

    train: list[Graph]
    test: list[Graph]
    labels: np.ndarray
    kinds: list[str]
    anomalous_nodes: list[np.ndarray]


def _graph(n: int, edges: list[tuple[int, int]], labels: np.ndarray) -> Graph:
    ei = np.asarray(edges, dtype=np.int64).reshape(-1, 2).T
    return Graph(n, clean_edges(ei, n, "synthetic graph"), None, labels.astype(np.int64))


def _molecule(rng: np.random.Generator) -> tuple[int, list[tuple[int, int]], np.ndarray]:
    ring = int(rng.integers(12, 25))
    edges = [(i, (i + 1) % ring) for i in range(ring)]
    labels = [0] * ring
    n = ring
    for _ in range(int(rng.integers(1, 4))):  # side chains of 1-3 atoms
        at = int(rng.integers(0, ring))
        for k in range(int(rng.integers(1, 4))):
            edges.append((at if k == 0 else n - 1, n))
            labels.append(1)
            n += 1
        labels[-1] = 2
    if rng.random() < 0.5:  # a ring closure makes a fused second ring
        a = int(rng.integers(0, ring))
        edges.append((a, (a + ring // 2) % ring))
    return n, edges, np.asarray(labels)


def make_graphs(
    n_train: int = 200,
    n_test: int = 100,
    contamination: float = 0.2,
    kinds: tuple[str, ...] = GRAPH_KINDS,
    seed: int = 0,
) -> GraphSplit:
    """``n_train`` normal graphs, ``n_test`` test graphs of which ``contamination`` carry
    one planted anomaly each (kinds in turn)."""
    if n_train < 1 or n_test < 1 or not 0 <= contamination < 1:
        raise InputError("make_graphs needs n_train, n_test >= 1 and contamination in [0, 1)")
    rng = np.random.default_rng(seed)
    train = [_graph(*_molecule(rng)) for _ in range(n_train)]
    bad = set(rng.choice(n_test, size=int(round(contamination * n_test)), replace=False).tolist())
    test, labels, kind_of, nodes = [], [], [], []
    k = 0
    for i in range(n_test):
        n, edges, node_labels = _molecule(rng)
        hit = np.zeros(0, dtype=np.int64)
        kind = ""
        if i in bad:
            kind = kinds[k % len(kinds)]
            k += 1
            if kind == "clique":
                hit = np.sort(rng.choice(n, size=5, replace=False))
                edges += [(int(a), int(b)) for a in hit for b in hit if a < b]
            elif kind == "rewired":
                for j in rng.choice(len(edges), size=max(1, len(edges) // 3), replace=False):
                    a = edges[j][0]
                    b = int(rng.integers(0, n))
                    edges[j] = (a, b)
                hit = np.unique([x for e in edges for x in e]).astype(np.int64)
            elif kind == "spectral":
                m = len(edges)
                edges = [tuple(int(v) for v in rng.choice(n, 2, replace=False)) for _ in range(m)]
                node_labels = rng.choice(node_labels, size=n)
                hit = np.arange(n)
            else:
                raise InputError(f"unknown graph anomaly kind {kind!r}; known: {GRAPH_KINDS}")
        test.append(_graph(n, edges, node_labels))
        labels.append(int(i in bad))
        kind_of.append(kind)
        nodes.append(hit)
    return GraphSplit(train, test, np.asarray(labels, dtype=np.int64), kind_of, nodes)


@dataclass
class NodeGraph:
    """One attributed graph with node outlier labels (1) and their kind (1 contextual,
    2 structural)."""

    graph: Graph
    labels: np.ndarray
    kinds: np.ndarray


def make_node_graph(
    n_nodes: int = 600,
    n_features: int = 16,
    n_communities: int = 6,
    n_contextual: int = 15,
    n_cliques: int = 3,
    clique_size: int = 5,
    seed: int = 0,
) -> NodeGraph:
    """A stochastic-block community graph whose node features follow their community, with
    contextual and structural outliers injected."""
    if n_nodes < n_communities * 4 or n_features < 1:
        raise InputError("make_node_graph needs at least 4 nodes per community and 1 feature")
    rng = np.random.default_rng(seed)
    community = rng.integers(0, n_communities, size=n_nodes)
    centres = rng.normal(scale=3.0, size=(n_communities, n_features))
    x = centres[community] + rng.normal(size=(n_nodes, n_features))
    members = [np.flatnonzero(community == c) for c in range(n_communities)]
    src, dst = [], []
    for _ in range(n_nodes * 3):
        a = int(rng.integers(0, n_nodes))
        same = members[community[a]]
        b = int(rng.choice(same)) if rng.random() < 0.9 else int(rng.integers(0, n_nodes))
        src.append(a)
        dst.append(b)
    kinds = np.zeros(n_nodes, dtype=np.int64)
    pool = rng.permutation(n_nodes)
    contextual, pool = pool[:n_contextual], pool[n_contextual:]
    for v in contextual:  # features of the farthest of 50 random nodes (PyGOD's rule)
        cand = rng.choice(n_nodes, size=50, replace=False)
        far = cand[np.argmax(np.linalg.norm(x[cand] - x[v], axis=1))]
        x[v] = x[far]
        kinds[v] = 1
    for c in range(n_cliques):
        members = pool[c * clique_size : (c + 1) * clique_size]
        for a in members:
            for b in members:
                if a < b:
                    src.append(int(a))
                    dst.append(int(b))
        kinds[members] = 2
    ei = np.asarray([src, dst], dtype=np.int64)
    graph = Graph(n_nodes, clean_edges(ei, n_nodes, "node graph"), x.astype(np.float32))
    return NodeGraph(graph, (kinds > 0).astype(np.int64), kinds)
