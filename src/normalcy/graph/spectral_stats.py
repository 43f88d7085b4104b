"""Fixed-width statistics of graphs: size and degrees, the normalised-Laplacian spectrum,
Weisfeiler-Lehman subtree labels, and node-feature moments (``graph_stats``'s features).

Per graph, in this order (``feature_names`` lists them):

* **size and degrees** (8): log node and edge counts, density, mean/std/log-max degree,
  share of isolated nodes, connected components per node;
* **degree histogram** (8): share of nodes of degree 0..6 and 7 or more;
* **spectrum** (``SPECTRAL_BINS`` + ``len(HEAT_TIMES)`` + 3): the eigenvalues of the
  normalised Laplacian ``I - D^-1/2 A D^-1/2`` (in [0, 2]; an isolated node gives 1) as a
  histogram of shares, heat-kernel traces ``(1/n) sum exp(-t lambda)`` (NetLSD's signature,
  Tsitsulin et al. 2018, normalised by the empty graph), the spectral gap (second smallest
  eigenvalue), the largest eigenvalue and the share of zero eigenvalues. Graphs over
  ``max_spectral_nodes`` nodes use the subgraph of their first ``max_spectral_nodes``
  nodes (dense eigenvalues cost cubic time);
* **Weisfeiler-Lehman subtree labels** (``(iterations + 1) * (width + 2)``): nodes start
  from their node label (their degree when graphs carry none); each iteration hashes a
  node's label with the multiset of its neighbours' labels (Shervashidze et al. 2011). Per
  iteration: the count of nodes in each of ``width`` hash buckets as ``log(1 + count)``
  (the WL kernel's feature map counts subtrees; ``scale="share"`` divides by the node
  count instead), and two novelty figures
  against the training graphs' vocabulary (how many training graphs hold each label): the
  share of nodes whose label no *other* training graph holds, and the mean of
  ``1 / (1 + graphs holding the label)``. Training graphs are counted leave-one-out
  (their own occurrence excluded), so training and new graphs are measured alike;
* **node features** (``2 D``): mean and standard deviation of every encoded node feature
  column (for one-hot node labels the mean is the label histogram).

Hashing is splitmix64 on uint64 arithmetic: deterministic across runs and platforms.
"""

from __future__ import annotations

import numpy as np

from .graphs import Graph
from .input import EncodedGraphs

SPECTRAL_BINS = 16
HEAT_TIMES = (0.1, 0.3, 1.0, 3.0, 10.0)
DEGREE_BINS = 8
N_SIZE = 8
MAX_VOCAB = 2_000_000  # WL labels kept per iteration (the most common ones beyond that)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_MIX = np.uint64(0x2545F4914F6CDD1D)


def n_spectral() -> int:
    return SPECTRAL_BINS + len(HEAT_TIMES) + 3


def width_of(n_encoded: int, iterations: int, width: int) -> int:
    """Number of features for encoded node-feature width ``n_encoded``."""
    return N_SIZE + DEGREE_BINS + n_spectral() + (iterations + 1) * (width + 2) + 2 * n_encoded


def feature_names(n_encoded: int, iterations: int, width: int) -> list[str]:
    names = [
        "log_nodes",
        "log_edges",
        "density",
        "degree_mean",
        "degree_std",
        "log_degree_max",
        "isolated_share",
        "components_per_node",
    ]
    names += [f"degree_{k}" for k in range(DEGREE_BINS - 1)] + [f"degree_{DEGREE_BINS - 1}+"]
    names += [f"eig_hist_{k}" for k in range(SPECTRAL_BINS)]
    names += [f"heat_{t:g}" for t in HEAT_TIMES] + ["eig_gap", "eig_max", "eig_zero_share"]
    for it in range(iterations + 1):
        names += [f"wl{it}_bucket_{b}" for b in range(width)]
        names += [f"wl{it}_unseen_share", f"wl{it}_rarity"]
    names += [f"feature_mean_{j}" for j in range(n_encoded)]
    names += [f"feature_std_{j}" for j in range(n_encoded)]
    return names


def splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64 of every uint64 (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))


def wl_labels(graphs: list[Graph], iterations: int) -> tuple[list[np.ndarray], np.ndarray]:
    """WL labels of every node of the disjoint union, per iteration 0..``iterations``, and
    the graph of every node."""
    sizes = np.asarray([g.n_nodes for g in graphs], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    owner = np.repeat(np.arange(len(graphs)), sizes)
    src = np.concatenate([g.edge_index[0] + o for g, o in zip(graphs, offsets, strict=True)])
    dst = np.concatenate([g.edge_index[1] + o for g, o in zip(graphs, offsets, strict=True)])
    if all(g.node_labels is not None for g in graphs):
        start = np.concatenate([g.node_labels for g in graphs]).astype(np.int64)
        labels = splitmix(start.view(np.uint64))
    else:
        degree = np.bincount(src, minlength=int(sizes.sum()))
        labels = splitmix(degree.astype(np.uint64) + np.uint64(1 << 40))
    out = [labels]
    for _ in range(iterations):
        neighbours = np.zeros_like(labels)
        with np.errstate(over="ignore"):
            np.add.at(neighbours, dst, splitmix(labels[src]))
            labels = splitmix(labels * _MIX + neighbours)
        out.append(labels)
    return out, owner


def graph_label_counts(labels: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct labels (sorted) and how many graphs hold each."""
    pairs = np.unique(np.stack([owner.astype(np.uint64), labels]), axis=1)
    keys, counts = np.unique(pairs[1], return_counts=True)
    if len(keys) > MAX_VOCAB:
        top = np.sort(np.argsort(-counts, kind="stable")[:MAX_VOCAB])
        keys, counts = keys[top], counts[top]
    return keys, counts.astype(np.int64)


def _lookup(keys: np.ndarray, counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    if len(keys) == 0:
        return np.zeros(len(labels), dtype=np.int64)
    pos = np.clip(np.searchsorted(keys, labels), 0, len(keys) - 1)
    return np.where(keys[pos] == labels, counts[pos], 0)


def _laplacian(g: Graph, max_nodes: int) -> np.ndarray:
    n = min(g.n_nodes, max_nodes)
    ei = g.edge_index
    if g.n_nodes > max_nodes:
        ei = ei[:, (ei[0] < n) & (ei[1] < n)]
    A = np.zeros((n, n))
    A[ei[0], ei[1]] = 1.0
    deg = A.sum(axis=1)
    inv = np.where(deg > 0, 1.0 / np.sqrt(np.maximum(deg, 1e-12)), 0.0)
    return np.eye(n) - inv[:, None] * A * inv[None, :]


def _summary(lam: np.ndarray) -> np.ndarray:
    """Spectral statistics of each row of ``lam`` (graphs x sorted eigenvalues)."""
    n = lam.shape[1]
    bins = np.minimum((lam * (SPECTRAL_BINS / 2.0)).astype(np.int64), SPECTRAL_BINS - 1)
    hist = (bins[:, :, None] == np.arange(SPECTRAL_BINS)).mean(axis=1)
    heat = np.stack([np.exp(-t * lam).mean(axis=1) for t in HEAT_TIMES], axis=1)
    gap = lam[:, 1] if n > 1 else np.zeros(len(lam))
    zero = (lam < 1e-8).mean(axis=1)
    return np.column_stack([hist, heat, gap, lam[:, -1], zero])


def spectral_features(graphs: list[Graph], max_nodes: int) -> np.ndarray:
    """Spectral statistics of every graph; graphs of one size share one batched
    eigenvalue call."""
    out = np.zeros((len(graphs), n_spectral()))
    sizes = np.asarray([min(g.n_nodes, max_nodes) for g in graphs])
    for n in np.unique(sizes):
        idx = np.flatnonzero(sizes == n)
        for lo in range(0, len(idx), 256):
            part = idx[lo : lo + 256]
            L = np.stack([_laplacian(graphs[i], max_nodes) for i in part])
            lam = np.clip(np.linalg.eigvalsh(L), 0.0, 2.0)
            out[part] = _summary(lam)
    return out


def size_features(graphs: list[Graph]) -> np.ndarray:
    """Size, degree and component statistics of every graph (vectorised over the union)."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    n = np.asarray([g.n_nodes for g in graphs], dtype=np.float64)
    m = np.asarray([g.n_edges for g in graphs], dtype=np.float64)
    offsets = np.concatenate([[0], np.cumsum(n[:-1])]).astype(np.int64)
    owner = np.repeat(np.arange(len(graphs)), n.astype(np.int64))
    src = np.concatenate([g.edge_index[0] + o for g, o in zip(graphs, offsets, strict=True)])
    dst = np.concatenate([g.edge_index[1] + o for g, o in zip(graphs, offsets, strict=True)])
    total = len(owner)
    deg = np.bincount(src, minlength=total).astype(np.float64)
    adj = csr_matrix((np.ones(len(src)), (src, dst)), shape=(total, total))
    _, comp = connected_components(adj, directed=False)
    first = np.unique(comp, return_index=True)[1]
    n_comp = np.bincount(owner[first], minlength=len(graphs))
    mean = np.bincount(owner, weights=deg, minlength=len(graphs)) / n
    sq = np.bincount(owner, weights=deg**2, minlength=len(graphs)) / n
    dmax = np.zeros(len(graphs))
    np.maximum.at(dmax, owner, deg)
    bins = np.minimum(deg.astype(np.int64), DEGREE_BINS - 1)
    hist = np.bincount(owner * DEGREE_BINS + bins, minlength=len(graphs) * DEGREE_BINS)
    hist = hist.reshape(len(graphs), DEGREE_BINS) / n[:, None]
    density = np.where(n > 1, 2.0 * m / np.maximum(n * (n - 1), 1.0), 0.0)
    isolated = np.bincount(owner, weights=(deg == 0).astype(np.float64), minlength=len(graphs))
    size = np.stack(
        [
            np.log1p(n),
            np.log1p(m),
            density,
            mean,
            np.sqrt(np.maximum(sq - mean**2, 0.0)),
            np.log1p(dmax),
            isolated / n,
            n_comp / n,
        ],
        axis=1,
    )
    return np.concatenate([size, hist], axis=1)


class WLVocabulary:
    """Per WL iteration: the distinct labels of the training graphs and how many graphs
    hold each (sorted uint64 keys, int64 counts)."""

    def __init__(self, keys: list[np.ndarray], counts: list[np.ndarray]) -> None:
        self.keys, self.counts = keys, counts

    @classmethod
    def learn(cls, labels: list[np.ndarray], owner: np.ndarray) -> WLVocabulary:
        pairs = [graph_label_counts(lab, owner) for lab in labels]
        return cls([k for k, _ in pairs], [c for _, c in pairs])


def features(
    data: EncodedGraphs,
    vocab: WLVocabulary | None,
    iterations: int,
    width: int,
    max_spectral_nodes: int,
    scale: str = "log_count",
) -> tuple[np.ndarray, WLVocabulary]:
    """The feature matrix (n_graphs, ``width_of``) float64 of ``data``.

    With ``vocab=None`` the graphs are the training graphs: the vocabulary is learnt from
    them (and returned) and novelty is counted leave-one-out.
    """
    graphs = data.graphs
    n_graphs = len(graphs)
    sizes = data.sizes().astype(np.float64)
    labels, owner = wl_labels(graphs, iterations)
    training = vocab is None
    if vocab is None:
        vocab = WLVocabulary.learn(labels, owner)
    wl_parts = []
    for it, lab in enumerate(labels):
        bucket = (lab % np.uint64(width)).astype(np.int64)
        hist = np.bincount(owner * width + bucket, minlength=n_graphs * width)
        hist = hist.reshape(n_graphs, width).astype(np.float64)
        hist = np.log1p(hist) if scale == "log_count" else hist / sizes[:, None]
        held = _lookup(vocab.keys[it], vocab.counts[it], lab)
        if training:  # leave-one-out: a graph's own occurrence is not evidence
            held = np.maximum(held - 1, 0)
        unseen = np.bincount(owner, weights=(held == 0).astype(np.float64), minlength=n_graphs)
        rarity = np.bincount(owner, weights=1.0 / (1.0 + held), minlength=n_graphs)
        wl_parts += [hist, (unseen / sizes)[:, None], (rarity / sizes)[:, None]]
    spectra = spectral_features(graphs, max_spectral_nodes)
    x = np.concatenate(data.features).astype(np.float64)
    mean = np.stack([np.bincount(owner, weights=c, minlength=n_graphs) for c in x.T], axis=1)
    mean /= sizes[:, None]
    sq = np.stack([np.bincount(owner, weights=c * c, minlength=n_graphs) for c in x.T], axis=1)
    std = np.sqrt(np.maximum(sq / sizes[:, None] - mean**2, 0.0))
    out = np.concatenate([size_features(graphs), spectra, *wl_parts, mean, std], axis=1)
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0), vocab
