"""GLAD: content-aware dynamic graphs for log anomaly detection (Li et al., 2023).

GLAD reads a log session as a sequence of window graphs whose nodes are events and the
fields (entities) found in their messages, encodes each graph with a GNN and the sequence
with temporal attention, and scores every *relation* (edge): a session is as anomalous as
its most anomalous relation, and that relation says where the anomaly is.

The pipeline here (modules ``glad_fields``, ``glad_text``, ``glad_graph``, ``glad_model``):

1. **Fields** of every event from its parameters and template (``glad_fields``; the
   paper's prompt-based few-shot extractor is replaced by rules, offline).
2. **Content features**: sentence embeddings of templates and field prompts with the
   offline MiniLM package (``glad_text``; feature hashing when it is not installed).
3. **Dynamic graphs**: windows of ``window`` positions every ``stride`` (``glad_graph``);
   event -> field and event -> next-event edges; ``START``/``END`` markers make truncated
   sessions visible.
4. **Model**: GCN + temporal attention + AddGraph-style edge scorer (``glad_model``),
   trained to score normal edges low and negative edges high. The paper's margin loss
   ``max(0, gamma + s(pos) - s(neg))`` on sigmoid scores stalls here: a normal edge whose
   sigmoid saturates early gets no gradient and keeps score 1 (measured on the synthetic
   block logs), so the loss is the logistic loss of negative sampling,
   ``-log(1 - s(pos)) - log s(neg)``, which keeps a gradient. Negative edges come
   from (a) the paper's negative sampling — one endpoint of a normal edge replaced by
   another node of the same kind in the same chunk — and (b) corrupted copies of the
   training sessions (an event replaced by another or by the unseen-event node, a field
   value replaced by another of its type, two events swapped), whose altered edges never
   occur in training; (b) teaches the model that unseen events and never-seen relations
   are anomalous, which the paper's in-graph negatives cannot (they contain no unseen
   node).
5. **Scores**: a session scores its largest edge score; ``Scores.maps`` holds each event's
   score (the larger of its worst field relation and the mean of its worst incoming and
   outgoing transitions); ``Scores.extras`` names each session's ``top_relations`` most
   anomalous relations (``relations``: text, ``relation_scores``, ``relation_events``:
   the position of the event that makes each relation).

Unseen templates at score time (code 0) of raw lines get a node of their own with the
identity of the unseen-event node (trained as a negative) and the embedding of their
template's text, computed on the fly. Template-id input (whose unseen keys are bare ids),
or a model fitted with MiniLM features scoring where the package is missing, falls back
to one shared unseen-event node (zero text). Field values
never seen (or seen once) in fit map to the node of their type. Scoring an already-seen
template needs no sentence model: the node embeddings computed in fit are stored in the
model file.

References
----------
Li, Y., Liu, Y., Wang, H., Chen, Z., Cheng, W., Chen, Y., Yu, W., Chen, H. & Liu, C.
GLAD: Content-aware Dynamic Graphs For Log Anomaly Detection. IEEE ICKG 2023.
arXiv:2309.05953. Reference code: github.com/yul091/GraphLogAD.

Zheng, L., Li, Z., Li, J., Li, Z. & Gao, J. AddGraph: Anomaly Detection in Dynamic Graph
Using Attention-based Temporal GCN. IJCAI 2019 (the edge scorer).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.constraints import Integral, Interval, ListOf, Options, Real, Satisfies
from ..core.registry import register
from ..core.scores import Scores
from ..core.state_spec import ArraySpec, StateSpec
from ..torch_helpers import (
    load_module_arrays,
    module_arrays,
    require_torch,
    resolve_device,
    torch_session,
)
from . import glad_text
from .base import LogDetector, session_scores
from .glad_fields import extract_fields, field_label, field_prompt
from .glad_graph import END, START, UNKNOWN_EVENT, Chunk, occurrence_scores, session_chunks
from .glad_model import build_network, collate
from .input import EncodedSessions

MAX_FIELD_NODES = 100_000
MAX_LABEL_CHARS = 200
MAX_UNSEEN_CHARS = 2000
_SCORE_BATCH = 256
_PAIR = 1 << 31  # pair key = source * _PAIR + target (node ids stay below it)


class _Corruptor:
    """Training-time corruption of sessions (negatives of kind (b), see the module doc)."""

    def __init__(
        self,
        n_events: int,
        n_nodes: int,
        field_types: np.ndarray,
        field_offset: int,
        rate: float,
        text_unseen: bool,
    ):
        self.n_events = n_events
        self.text_unseen = text_unseen  # unseen events will carry their text when scored
        self.n_nodes = n_nodes
        self.rate = rate
        self.field_offset = field_offset
        self.by_type: dict[int, np.ndarray] = {}
        for t in np.unique(field_types):
            self.by_type[int(t)] = np.flatnonzero(field_types == t) + field_offset
        self.field_type = field_types

    def __call__(self, rng, nodes: np.ndarray, fields: list[np.ndarray]):
        n = len(nodes)
        bad = rng.random(n) < self.rate
        if not bad.any():
            return nodes, fields, bad
        nodes = nodes.copy()
        fields = list(fields)
        for i in np.flatnonzero(bad):
            op = int(rng.integers(3))
            if op == 1 and len(fields[i]):
                f = fields[i].copy()
                k = int(rng.integers(len(f)))
                pool = self.by_type[int(self.field_type[f[k] - self.field_offset])]
                if len(pool) > 1:
                    f[k] = int(pool[rng.integers(len(pool))])
                    fields[i] = f
                    continue
            if op == 2 and i + 1 < n and nodes[i + 1] != nodes[i]:
                nodes[i], nodes[i + 1] = nodes[i + 1], nodes[i]
                fields[i], fields[i + 1] = fields[i + 1], fields[i]
                bad[i + 1] = True
                continue
            # replace the event: now and then by an unseen event (without text, or, for raw
            # lines, with the text of some template: ``n_nodes + g`` has node g's text),
            # else by another event
            u = rng.random()
            if u < (0.1 if self.text_unseen else 0.25) or self.n_events < 2:
                nodes[i] = UNKNOWN_EVENT
            elif u < 0.25:
                nodes[i] = self.n_nodes + UNKNOWN_EVENT + 1 + int(rng.integers(self.n_events))
            else:
                nodes[i] = UNKNOWN_EVENT + 1 + int(rng.integers(self.n_events))
        return nodes, fields, bad


@register(
    "glad",
    modality="logs",
    paper="Li et al. GLAD: Content-aware Dynamic Graphs For Log Anomaly Detection. ICKG 2023",
    year=2023,
    can_localise=True,
)
class GLAD(LogDetector):
    """Window graphs of events and fields, GCN + temporal attention, edge anomaly scores.

    Parameters
    ----------
    window, stride:
        Positions per window graph (the session's START/END markers included) and the step
        between windows.
    max_snapshots:
        Windows per chunk: the span of the temporal attention (longer sessions are read in
        several chunks; a session scores its worst edge over all of them).
    hidden, layers, heads:
        Width of node states, GCN layers, attention heads (``hidden`` must be a multiple of
        ``heads``).
    epochs, batch_size, lr:
        Adam on the margin loss; ``batch_size`` counts chunks.
    corrupt_rate:
        Share of training events altered to make the corrupted negatives.
    min_field_count:
        Field values seen fewer times in fit share their type's node.
    max_fields:
        At most this many field values get their own node (the most frequent).
    max_train_sessions:
        Fit on a random subset of at most this many sessions (keeps large logs cheap).
    text_features:
        ``"minilm"`` (offline sentence model), ``"hashing"``, or ``"auto"`` (MiniLM when
        installed).
    top_relations:
        Relations named per session in ``Scores.extras``.
    protect_known:
        Never use a relation seen in fit as a negative (off: negatives are only checked not
        to be edges of their own window graph, as in the paper, so rare relations of the
        training data keep a higher score than frequent ones).
    global_weight:
        Weight of the session-level part of the score (the reference code's
        "multi-granularity" objective, weight 0.5): the distance of the session's mean node
        state from the training sessions'; 0 scores by the worst edge alone.
    device, verbose, seed:
        ``"auto"``/``"cpu"``/``"cuda"``; progress output; seeds weights, corruption and
        batch order.
    """

    quick_params = {"epochs": 2, "hidden": 16, "text_features": "hashing"}
    # the demo runs the defaults: its 600 sessions fit in about half a minute
    demo_params: ClassVar[dict[str, Any]] = {}

    _parameter_constraints = {
        "window": [Interval(Integral, 2, 1000)],
        "stride": [Interval(Integral, 1, 1000)],
        "max_snapshots": [Interval(Integral, 1, 512)],
        "hidden": [Interval(Integral, 2, 1024)],
        "layers": [Interval(Integral, 1, 8)],
        "heads": [Interval(Integral, 1, 16)],
        "epochs": [Interval(Integral, 1, 10_000)],
        "batch_size": [Interval(Integral, 1, 100_000)],
        "lr": [Interval(Real, 0, 1, closed="right")],
        "corrupt_rate": [Interval(Real, 0, 1, closed="left")],
        "min_field_count": [Interval(Integral, 1, 1_000_000)],
        "max_fields": [Interval(Integral, 0, MAX_FIELD_NODES)],
        "max_train_sessions": [Interval(Integral, 1, 10_000_000)],
        "text_features": [Options(str, {"auto", "minilm", "hashing"})],
        "top_relations": [Interval(Integral, 1, 100)],
        "protect_known": [bool],
        "global_weight": [Interval(Real, 0, 100)],
        "device": [str],
        "verbose": [bool],
        "seed": [Interval(Integral, 0, 2**32 - 1)],
    }

    def __init__(
        self,
        *,
        window: int = 10,
        stride: int = 5,
        max_snapshots: int = 16,
        hidden: int = 32,
        layers: int = 2,
        heads: int = 2,
        epochs: int = 10,
        batch_size: int = 64,
        lr: float = 3e-3,
        corrupt_rate: float = 0.15,
        min_field_count: int = 2,
        max_fields: int = 5000,
        max_train_sessions: int = 20_000,
        text_features: str = "auto",
        top_relations: int = 3,
        protect_known: bool = False,
        global_weight: float = 0.5,
        device: str = "cpu",
        verbose: bool = False,
        seed: int = 0,
    ) -> None:
        self.window = window
        self.stride = stride
        self.max_snapshots = max_snapshots
        self.hidden = hidden
        self.layers = layers
        self.heads = heads
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.corrupt_rate = corrupt_rate
        self.min_field_count = min_field_count
        self.max_fields = max_fields
        self.max_train_sessions = max_train_sessions
        self.text_features = text_features
        self.top_relations = top_relations
        self.protect_known = protect_known
        self.global_weight = global_weight
        self.device = device
        self.verbose = verbose
        self.seed = seed

    def _validate_params(self) -> None:
        super()._validate_params()
        if self.hidden % self.heads:
            from ..core.errors import InputError

            raise InputError(f"hidden ({self.hidden}) must be a multiple of heads ({self.heads})")

    # -- fields and nodes ---------------------------------------------------------------------
    def _raw_fields(self, data: EncodedSessions) -> list[list[list[tuple[str, str]]]]:
        cache: dict[Any, list[tuple[str, str]]] = {}
        out = []
        for i, codes in enumerate(data.codes):
            params = data.params[i] if data.params is not None else None
            unseen = iter(data.unseen_keys[i])
            rows = []
            for j, code in enumerate(codes):
                p = tuple(params[j]) if params is not None and j < len(params) else None
                # an unseen event's key is its template text when the input was raw lines
                template = data.templates[code - 1] if code > 0 else next(unseen, "")
                key = (template, p)
                if key not in cache:
                    cache[key] = extract_fields(template, p)
                rows.append(cache[key])
            out.append(rows)
        return out

    def _learn_fields(self, raw: list[list[list[tuple[str, str]]]]) -> None:
        counts: dict[tuple[str, str], int] = {}
        for session in raw:
            for fields in session:
                for f in fields:
                    counts[f] = counts.get(f, 0) + 1
        types = sorted({t for t, _ in counts})
        values = [
            f for f, c in counts.items() if f[1] and c >= self.min_field_count and f[0] in types
        ]
        values.sort(key=lambda f: (-counts[f], f))
        values = sorted(values[: self.max_fields])
        self.field_labels_ = [t[:MAX_LABEL_CHARS] for t in types] + [
            field_label(t, v)[:MAX_LABEL_CHARS] for t, v in values
        ]
        self._index_fields()

    def _index_fields(self) -> None:
        self.field_offset_ = UNKNOWN_EVENT + 1 + len(self.vocabulary_.keys)
        self.field_gid_ = {
            label: self.field_offset_ + i for i, label in enumerate(self.field_labels_)
        }
        types = [label.split("=", 1)[0] for label in self.field_labels_]
        type_ids = {t: i for i, t in enumerate(dict.fromkeys(types))}
        self.field_types_ = np.asarray([type_ids[t] for t in types], dtype=np.int64)

    def _field_gid(self, kind: str, value: str) -> int | None:
        gid = self.field_gid_.get(field_label(kind, value)[:MAX_LABEL_CHARS]) if value else None
        return gid if gid is not None else self.field_gid_.get(kind[:MAX_LABEL_CHARS])

    def _node_texts(self) -> list[str]:
        texts = ["", "", ""] + [
            t or k for k, t in zip(self.vocabulary_.keys, self.vocabulary_.templates, strict=True)
        ]
        for label in self.field_labels_:
            kind, _, value = label.partition("=")
            texts.append(field_prompt(kind, value))
        return texts

    def _encode_nodes(self, data: EncodedSessions):
        """Global node ids of every session's events and fields.

        Unseen events (code 0) of parsed raw lines get a node of their own, ``n_nodes + k``
        for the ``k``-th distinct unseen template, whose text is embedded now
        (``self.extra_text_``); for template-id input, or when the fitted text model is not
        installed here, they share the unseen-event node."""
        raw = self._raw_fields(data)
        sessions = []
        n_nodes = self._n_nodes()
        extra: dict[str, int] = {}
        # a key is a template's text only when this detector parsed raw lines; a key of
        # template-id input (an id) says nothing, so those unseen events share one node
        embed_unseen = self.parser_ is not None and (
            self.text_kind_ == "hashing" or glad_text.minilm_available()
        )
        for i, (codes, session) in enumerate(zip(data.codes, raw, strict=True)):
            nodes = np.asarray(codes, dtype=np.int64) + UNKNOWN_EVENT
            if embed_unseen and len(data.unseen_keys[i]):
                where = np.flatnonzero(codes == 0)
                for pos, key in zip(where, data.unseen_keys[i], strict=False):
                    nodes[pos] = n_nodes + extra.setdefault(str(key)[:MAX_UNSEEN_CHARS], len(extra))
            fields = []
            for fs in session:
                gids = [self._field_gid(k, v) for k, v in fs]
                fields.append(np.asarray([g for g in gids if g is not None], dtype=np.int64))
            sessions.append((nodes, fields))
        self.extra_keys_ = list(extra)
        self.extra_text_ = glad_text.embed(self.extra_keys_, self.text_kind_) if extra else None
        return sessions

    def _chunks(self, i, nodes, fields, corrupted=None) -> list[Chunk]:
        return session_chunks(
            i,
            nodes,
            fields,
            window=self.window,
            stride=self.stride,
            max_snapshots=self.max_snapshots,
            corrupted=corrupted,
        )

    def _n_nodes(self) -> int:
        return self.field_offset_ + len(self.field_labels_)

    def _network(self):
        return build_network(
            self._n_nodes(),
            glad_text.DIM,
            self.hidden,
            self.layers,
            self.heads,
            self.max_snapshots,
        )

    # -- fit ------------------------------------------------------------------------------------
    def _fit(self, data: EncodedSessions) -> None:
        rng = np.random.default_rng(self.seed)
        if len(data) > self.max_train_sessions:
            keep = np.sort(rng.choice(len(data), self.max_train_sessions, replace=False))
            data = EncodedSessions(
                [data.ids[i] for i in keep],
                [data.codes[i] for i in keep],
                None if data.params is None else [data.params[i] for i in keep],
                data.vocabulary,
                data.templates,
                [data.unseen_keys[i] for i in keep],
            )
        self._learn_fields(self._raw_fields(data))
        self.text_kind_ = glad_text.resolve_kind(self.text_features)
        texts = glad_text.embed(self._node_texts(), self.text_kind_)
        sessions = self._encode_nodes(data)
        n_nodes = self._n_nodes()
        known = set()
        for i, (nodes, fields) in enumerate(sessions):
            for c in self._chunks(i, nodes, fields):
                g = c.tokens[c.edges]
                known.update((g[:, 0] * _PAIR + g[:, 1]).tolist())
        known_pairs = np.asarray(sorted(known), dtype=np.int64)
        corrupt = _Corruptor(
            len(self.vocabulary_.keys),
            n_nodes,
            self.field_types_,
            self.field_offset_,
            self.corrupt_rate,
            text_unseen=self.parser_ is not None,
        )
        with torch_session(self.seed) as torch:
            self.device_ = resolve_device(self.device)
            net = self._network()
            net.node_text.copy_(torch.from_numpy(texts))
            net = net.to(self.device_)
            optimiser = torch.optim.Adam(net.parameters(), lr=float(self.lr))
            net.train()
            for epoch in range(self.epochs):
                total, steps = 0.0, 0
                chunks = []
                for i, (nodes, fields) in enumerate(sessions):
                    n2, f2, bad = corrupt(rng, nodes, fields)
                    chunks += self._chunks(i, n2, f2, bad if bad.any() else None)
                order = rng.permutation(len(chunks))
                for lo in range(0, len(chunks), self.batch_size):
                    batch = [chunks[k] for k in order[lo : lo + self.batch_size]]
                    loss = self._loss(net, batch, known_pairs, n_nodes, rng, torch)
                    if loss is None:
                        continue
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    total += float(loss.detach())
                    steps += 1
                if self.verbose:
                    print(f"glad epoch {epoch + 1}/{self.epochs}: loss {total / max(steps, 1):.4f}")
            net.eval()
        self.net_ = net
        self._fit_session_stats(sessions)

    def _fit_session_stats(self, sessions) -> None:
        """Centre and spread of the training sessions' mean node states, and the median
        and spread of both score parts over the training sessions."""
        (edge, pooled, *_), inverse = self._score_unique(sessions)
        edge, pooled = edge[inverse], pooled[inverse]
        self.center_ = pooled.mean(axis=0)
        self.spread_ = np.maximum(pooled.std(axis=0), 1e-6)
        dist = (((pooled - self.center_) / self.spread_) ** 2).mean(axis=1)
        self.calib_ = np.asarray(
            [np.median(edge), _spread(edge), np.median(dist), _spread(dist)], dtype=np.float64
        )

    def _loss(self, net, chunks, known_pairs, n_nodes, rng, torch):
        b = collate(chunks, self.device_, net.node_text)
        edges, negative = b["edges"], b["negative"].copy()
        tokens = np.concatenate([c.tokens for c in chunks])
        pairs = tokens[edges[:, 0]] * _PAIR + tokens[edges[:, 1]]
        if self.protect_known:  # an altered edge that is normal is not a negative
            negative &= ~np.isin(pairs, known_pairs)
        pos = np.flatnonzero(~b["negative"])
        if len(pos) == 0:
            return None
        h = net(b, dropout=0.1)
        t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(self.device_)  # noqa: E731
        softplus = torch.nn.functional.softplus
        terms = [softplus(net.logits(h, t(edges[pos, 0]), t(edges[pos, 1])))]
        # (a) the paper's negative sampling: replace one endpoint by a token of the same
        # kind from the same chunk, keeping only pairs never seen in training
        sizes = np.asarray([len(c.tokens) for c in chunks])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        owner = np.repeat(np.arange(len(chunks)), [len(c.edges) for c in chunks])[pos]
        swap_src = rng.random(len(pos)) < 0.5
        pick = offsets[owner] + (rng.random(len(pos)) * sizes[owner]).astype(np.int64)
        src = np.where(swap_src, pick, edges[pos, 0])
        dst = np.where(swap_src, edges[pos, 1], pick)
        is_field = (tokens >= self.field_offset_) & (tokens < n_nodes)
        replaced = np.where(swap_src, edges[pos, 0], edges[pos, 1])
        fresh = (is_field[pick] == is_field[replaced]) & (pick != replaced)
        if self.protect_known:
            fresh &= ~np.isin(tokens[src] * _PAIR + tokens[dst], known_pairs)
        else:  # the paper: the replacement must not be adjacent in its window graph
            fresh &= ~np.isin(src * len(tokens) + dst, edges[:, 0] * len(tokens) + edges[:, 1])
        if fresh.any():
            terms.append(softplus(-net.logits(h, t(src[fresh]), t(dst[fresh]))))
        # (b) the edges of corrupted events
        neg = np.flatnonzero(negative)
        if len(neg):
            terms.append(softplus(-net.logits(h, t(edges[neg, 0]), t(edges[neg, 1]))))
        return sum(term.mean() for term in terms)

    # -- score ----------------------------------------------------------------------------------
    def _score(self, data: EncodedSessions) -> Scores:
        parts, inverse = self._score_unique(self._encode_nodes(data))
        edge, pooled, events, rel_text, rel_score, rel_event = parts
        scores = self._combine(edge, pooled)
        out = session_scores(data, scores[inverse], [events[j] for j in inverse])
        out.extras.update(
            relations=rel_text[inverse].astype(str),
            relation_scores=rel_score[inverse],
            relation_events=rel_event[inverse],
        )
        return out

    def _combine(self, edge: np.ndarray, pooled: np.ndarray) -> np.ndarray:
        """Session scores: the worst edge and, with ``global_weight``, the distance of the
        session's mean node state from the training sessions' (both in units of their
        spread over the training sessions)."""
        med_e, scale_e, med_g, scale_g = (float(v) for v in self.calib_)
        out = (edge - med_e) / scale_e
        if self.global_weight > 0:
            dist = (((pooled - self.center_) / self.spread_) ** 2).mean(axis=1)
            out = out + self.global_weight * (dist - med_g) / scale_g
        return out

    def _score_unique(self, encoded):
        """Score each distinct session once (common in template-only logs); returns the
        per-unique results and the index of each session's result."""
        first: dict[tuple, int] = {}
        inverse = np.empty(len(encoded), dtype=np.int64)
        for i, (nodes, fields) in enumerate(encoded):
            key = (nodes.tobytes(), tuple(f.tobytes() for f in fields))
            inverse[i] = first.setdefault(key, len(first))
        order = np.zeros(len(first), dtype=np.int64)
        for i in range(len(encoded) - 1, -1, -1):
            order[inverse[i]] = i
        unique = [encoded[i] for i in order]
        return self._score_sessions(unique), inverse

    def _score_sessions(self, sessions):
        n = len(sessions)
        scores = np.full(n, -np.inf)
        events = [np.full(len(nodes), -np.inf) for nodes, _ in sessions]
        k = int(self.top_relations)
        rel_text = np.full((n, k), "", dtype=object)
        rel_score = np.zeros((n, k), dtype=np.float64)
        rel_event = np.full((n, k), -1, dtype=np.int64)
        found: list[list[tuple[float, int, int, int, int]]] = [[] for _ in range(n)]
        pooled = np.zeros((n, self.hidden))
        counts = np.zeros(n)
        chunks = [
            c for i, (nodes, fields) in enumerate(sessions) for c in self._chunks(i, nodes, fields)
        ]
        with torch_session() as torch, torch.no_grad():
            for lo in range(0, len(chunks), _SCORE_BATCH):
                batch = chunks[lo : lo + _SCORE_BATCH]
                extra = self.extra_text_
                b = collate(batch, self.device_, None if extra is None else torch.from_numpy(extra))
                h = self.net_(b)
                owner = np.repeat([c.session for c in batch], [len(c.tokens) for c in batch])
                np.add.at(pooled, owner, h.double().cpu().numpy())
                np.add.at(counts, owner, 1.0)
                e = b["edges"]
                src, dst = torch.from_numpy(e[:, 0]), torch.from_numpy(e[:, 1])
                s = self.net_.logits(h, src, dst).double().cpu().numpy()
                for c, off in zip(batch, b["edge_offsets"], strict=True):
                    es = s[off : off + len(c.edges)]
                    if not len(es):
                        continue
                    scores[c.session] = max(scores[c.session], float(es.max()))
                    ev = events[c.session]
                    if len(ev):
                        np.maximum(ev, occurrence_scores(len(ev), c.links, es), out=ev)
                    occ = _edge_occurrence(c)
                    for j in np.argsort(-es, kind="stable")[:k]:
                        src, dst = c.tokens[c.edges[j]]
                        found[c.session].append((float(es[j]), int(src), int(dst), int(occ[j])))
        for i, rows in enumerate(found):
            best: dict[tuple[int, int], tuple[float, int]] = {}
            for sc, src, dst, occ in rows:
                if (src, dst) not in best or sc > best[(src, dst)][0]:
                    best[(src, dst)] = (sc, occ)
            top = sorted(best.items(), key=lambda kv: (-kv[1][0], kv[0]))[:k]
            for r, ((src, dst), (sc, occ)) in enumerate(top):
                rel_text[i, r] = f"{self._node_name(src)} -> {self._node_name(dst)}"
                rel_score[i, r] = sc
                rel_event[i, r] = occ
        scores[~np.isfinite(scores)] = 0.0
        for ev in events:
            ev[~np.isfinite(ev)] = 0.0
        pooled /= np.maximum(counts, 1.0)[:, None]
        return scores, pooled, events, rel_text, rel_score, rel_event

    def _node_name(self, gid: int) -> str:
        if gid == START:
            return "START"
        if gid == END:
            return "END"
        if gid == UNKNOWN_EVENT:
            return "event <unseen>"
        if gid >= self._n_nodes():
            key = self.extra_keys_[gid - self._n_nodes()]
            return f"event <unseen> {key[:120]!r}"
        if gid < self.field_offset_:
            code = gid - UNKNOWN_EVENT
            return f"event {self.vocabulary_.keys[code - 1]!r}"
        return f"field {self.field_labels_[gid - self.field_offset_]!r}"

    # -- state ----------------------------------------------------------------------------------
    def _get_state(self):
        meta = {"field_labels": list(self.field_labels_), "text_kind": self.text_kind_}
        arrays = module_arrays(self.net_, "net.")
        arrays.update(center=self.center_, spread=self.spread_, calib=self.calib_)
        return arrays, meta

    def _state_spec(self) -> StateSpec:
        torch = require_torch()
        n_events = len(self.vocabulary_.keys)
        with torch.device("meta"):
            shapes = {
                k: tuple(v.shape) for k, v in _meta_network(self, n_events).state_dict().items()
            }
        arrays = {}
        for key, shape in shapes.items():
            spec_shape = tuple("nodes" if d == _SENTINEL_NODES else d for d in shape) or (1,)
            arrays[f"net.{key}"] = ArraySpec(spec_shape, "float32")
        arrays["center"] = ArraySpec((self.hidden,), "float64")
        arrays["spread"] = ArraySpec((self.hidden,), "float64", value_range=(1e-9, None))
        arrays["calib"] = ArraySpec((4,), "float64")
        return StateSpec(
            arrays=arrays,
            meta={
                "field_labels": [ListOf(_LABEL, max_len=MAX_FIELD_NODES)],
                "text_kind": [Options(str, {"minilm", "hashing"})],
            },
            dim_bounds={"nodes": (UNKNOWN_EVENT + 1 + n_events, None)},
        )

    def _set_state(self, arrays, meta) -> None:
        self.center_ = arrays["center"]
        self.spread_ = arrays["spread"]
        self.calib_ = arrays["calib"]
        if self.calib_[1] <= 0 or self.calib_[3] <= 0:
            from ..core.errors import ModelFileError

            raise ModelFileError("state array 'calib' must hold positive spreads")
        self.field_labels_ = list(meta["field_labels"])
        self.text_kind_ = meta["text_kind"]
        self._index_fields()
        n_nodes = self._n_nodes()
        if arrays["net.node_text"].shape[0] != n_nodes:
            from ..core.errors import ModelFileError

            raise ModelFileError(
                f"the state holds {arrays['net.node_text'].shape[0]} nodes, but its vocabulary "
                f"and field labels make {n_nodes}"
            )
        with torch_session():
            self.device_ = resolve_device(self.device)
            net = self._network()
            load_module_arrays(
                net, {k: v for k, v in arrays.items() if k.startswith("net.")}, "net."
            )
            self.net_ = net.to(self.device_).eval()


_SENTINEL_NODES = 999_983  # a prime no real layer size takes: marks the node axis in the spec


def _meta_network(det: GLAD, n_events: int):
    return build_network(
        _SENTINEL_NODES, glad_text.DIM, det.hidden, det.layers, det.heads, det.max_snapshots
    )


_LABEL = Satisfies(
    lambda v: isinstance(v, str) and 0 < len(v) <= MAX_LABEL_CHARS,
    f"a field label (1..{MAX_LABEL_CHARS} characters)",
)


def _spread(values: np.ndarray) -> float:
    """A robust spread: the 10-90 % inter-quantile range, else the standard deviation, else 1."""
    low, high = np.quantile(values, [0.1, 0.9])
    for value in (high - low, values.std()):
        if np.isfinite(value) and value > 1e-9:
            return float(value)
    return 1.0


def _edge_occurrence(c: Chunk) -> np.ndarray:
    """The occurrence that makes each edge of ``c`` (its source event; -1 for markers)."""
    occ = np.full(len(c.edges), -1, dtype=np.int64)
    if len(c.links):
        out = c.links[c.links[:, 2] != 2]  # field edges and incoming transitions
        occ[out[:, 1]] = out[:, 0]
    return occ
