"""GLAD's dynamic graphs: one small graph per sliding window of a session.

Li et al. (2023, section III-B) turn a log stream into a sequence of graphs, one per time
window, whose nodes are the window's events and their fields and whose edges are the
relations between them; the sequence is what the temporal attention reads. Here a session
(its event codes, with a ``START`` and an ``END`` marker around them) is cut into windows of
``window`` positions every ``stride`` positions; in each window

* every distinct event and every distinct field is one node (a *token*: the same event in
  two windows is two tokens, as in the paper's per-graph nodes),
* an event links to each field of each of its occurrences (``event -> field``),
* consecutive positions link the events in log order (``event -> next event``), so a
  reordered or truncated session makes transitions never seen in training.

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
        elif negative:
            self.neg[self.seen[key]] = True
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
            if p + 1 < stop:
                e = g.edge(a, g.token(int(seq[p + 1])), bool(bad[p] or bad[p + 1]))
                if 0 <= o < n:
                    g.links.append((o, e, ROLE_OUT))
                nxt = int(occ[p + 1])
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

    An occurrence scores the larger of its worst field relation and the mean of its worst
    incoming and worst outgoing transition, so a moved or unseen event (both transitions
    odd) outranks its neighbours (one odd transition each).
    """
    out = np.zeros(n, dtype=np.float64)
    if n == 0 or len(links) == 0:
        return out
    best = np.zeros((3, n), dtype=np.float64)
    for role in (ROLE_FIELD, ROLE_IN, ROLE_OUT):
        rows = links[links[:, 2] == role]
        np.maximum.at(best[role], rows[:, 0], edge_scores[rows[:, 1]])
    return np.maximum(best[ROLE_FIELD], 0.5 * (best[ROLE_IN] + best[ROLE_OUT]))
