"""GLAD's dynamic graphs: one small graph per sliding window of a session.

Li et al. (2023, section III-B) turn a log stream into a sequence of graphs, one per time
window, whose nodes are the window's events and their fields and whose edges are the
relations between them; the sequence is what the temporal attention reads. Here a session
(its event codes, with a ``START`` and an ``END`` marker around them) is cut into windows of
``window`` positions every ``stride`` positions; in each window

* every distinct event and every distinct field is one node (a *token*: the same event in
  two windows is two tokens, as in the paper's per-graph nodes),
* an event links to each field of each of its occurrences (``event -> field``),
* an event links to every later event of the window (``event -> later event``, the
  "precedes" relation: interleaved workflows, such as three data nodes writing one block,
  keep their usual relations whatever the interleaving, while a reordered session makes
  relations never seen in training), and the START / END markers link to the first and
  the last event (a truncated session ends on an unusual event).

Windows are grouped into *chunks* of at most ``max_snapshots`` windows, the unit the
temporal attention reads at once. Everything here is numpy; the model collates chunks into
torch tensors.

Global node ids: ``0`` START, ``1`` END, ``2 + c`` the event of code ``c`` (``c = 0``, an
event unseen in fit, is node ``2``), then the field nodes from ``field_offset`` on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

START, END, UNKNOWN_EVENT = 0, 1, 2
ROLE_FIELD, ROLE_IN, ROLE_OUT = 0, 1, 2


@dataclass
class Chunk:
    """Up to ``max_snapshots`` consecutive window graphs of one session.

    ``tokens`` (T,) global node ids; ``snapshot`` (T,) window index within the chunk;
    ``edges`` (E, 2) token indices (source, target); ``negative`` (E,) edges that touch a
    corrupted occurrence (training only); ``links`` (M, 3) rows (occurrence, edge, role)
    tying an event occurrence of the session to the edges it makes (role: field, incoming
    or outgoing transition).
    """

    session: int
    tokens: np.ndarray
    snapshot: np.ndarray
    edges: np.ndarray
    negative: np.ndarray
    links: np.ndarray


def session_chunks(
    session: int,
    nodes: np.ndarray,
    fields: list[np.ndarray],
    *,
    window: int,
    stride: int,
    max_snapshots: int,
    corrupted: np.ndarray | None = None,
) -> list[Chunk]:
    """The window graphs of one session, grouped into chunks.

    ``nodes`` (n,) global event node ids of the occurrences in log order; ``fields[i]`` the
    field node ids of occurrence ``i``; ``corrupted`` (n,) bool marks occurrences altered
    for training (their edges are negatives).
    """
    n = len(nodes)
    seq = np.concatenate([[START], np.asarray(nodes, dtype=np.int64), [END]])
    occ = np.arange(-1, n + 1)  # occurrence index of each position; -1 / n: markers
    bad = np.zeros(n + 2, dtype=bool)
    if corrupted is not None:
        bad[1:-1] = corrupted
    if len(seq) <= window:
        starts = [0]
    else:
        starts = list(range(0, len(seq) - window + 1, stride))
        if starts[-1] + window < len(seq):
            starts.append(len(seq) - window)
    chunks = []
    for lo in range(0, len(starts), max_snapshots):
        chunks.append(
            _chunk(session, seq, occ, bad, fields, starts[lo : lo + max_snapshots], window, n)
        )
    return chunks


class _Builder:
    """Accumulates the tokens and edges of one chunk, one window at a time."""

    def __init__(self) -> None:
        self.tokens: list[int] = []
        self.snaps: list[int] = []
        self.edges: list[tuple[int, int]] = []
        self.neg: list[bool] = []
        self.links: list[tuple[int, int, int]] = []

    def window(self, k: int) -> None:
        self.k = k
        self.local: dict[int, int] = {}
        self.seen: dict[tuple[int, int], int] = {}

    def token(self, gid: int) -> int:
        if gid not in self.local:
            self.local[gid] = len(self.tokens)
            self.tokens.append(gid)
            self.snaps.append(self.k)
        return self.local[gid]

    def edge(self, a: int, b: int, negative: bool) -> int:
        key = (a, b)
        if key not in self.seen:
            self.seen[key] = len(self.edges)
            self.edges.append(key)
            self.neg.append(negative)
        else:  # a relation is negative only when every occurrence making it was altered
            self.neg[self.seen[key]] = self.neg[self.seen[key]] and negative
        return self.seen[key]


def _chunk(session, seq, occ, bad, fields, starts, window, n) -> Chunk:
    g = _Builder()
    for k, s in enumerate(starts):
        g.window(k)
        stop = min(len(seq), s + window)
        for p in range(s, stop):
            a = g.token(int(seq[p]))
            o = int(occ[p])
            if 0 <= o < n:
                for f in fields[o]:
                    e = g.edge(a, g.token(int(f)), bool(bad[p]))
                    g.links.append((o, e, ROLE_FIELD))
            # "precedes" relations: to every later event of the window; the markers only
            # to their neighbour (START -> first event, last event -> END)
            last = stop if 0 <= o < n else min(stop, p + 2)
            for q in range(p + 1, last):
                nxt = int(occ[q])
                if nxt >= n and q != p + 1:
                    continue
                e = g.edge(a, g.token(int(seq[q])), bool(bad[p] or bad[q]))
                if 0 <= o < n:
                    g.links.append((o, e, ROLE_OUT))
                if 0 <= nxt < n:
                    g.links.append((nxt, e, ROLE_IN))
    return Chunk(
        session=session,
        tokens=np.asarray(g.tokens, dtype=np.int64),
        snapshot=np.asarray(g.snaps, dtype=np.int64),
        edges=np.asarray(g.edges, dtype=np.int64).reshape(-1, 2),
        negative=np.asarray(g.neg, dtype=bool),
        links=np.asarray(g.links, dtype=np.int64).reshape(-1, 3),
    )


def occurrence_scores(n: int, links: np.ndarray, edge_scores: np.ndarray) -> np.ndarray:
    """Per-occurrence scores (n,) from the scores of the edges it makes.

    An occurrence scores the larger of its worst field relation and the mean score of its
    "precedes" relations (to earlier and later events), so a moved or unseen event (most
    of its order relations odd) outranks its neighbours (one odd relation each).
    """
    out = np.full(n, -np.inf)
    if n == 0 or len(links) == 0:
        return np.zeros(n)
    fields = links[links[:, 2] == ROLE_FIELD]
    np.maximum.at(out, fields[:, 0], edge_scores[fields[:, 1]])
    order = links[links[:, 2] != ROLE_FIELD]
    total = np.zeros(n)
    count = np.zeros(n)
    np.add.at(total, order[:, 0], edge_scores[order[:, 1]])
    np.add.at(count, order[:, 0], 1.0)
    has = count > 0
    out[has] = np.maximum(out[has], total[has] / count[has])
    out[~np.isfinite(out)] = 0.0
    return out
