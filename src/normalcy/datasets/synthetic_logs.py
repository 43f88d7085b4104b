"""Synthetic log sessions with known anomalies: the demo's logs and the tests' fixtures.

Normal sessions follow an HDFS-like block workflow: a block is allocated, received by
three data nodes, stored, optionally verified, and sometimes deleted; the lines carry
parameters (block id, data-node addresses, sizes). Data nodes come from two pools: pool A
serves the replication steps, pool B (a backup rack) only answers verification requests.

Anomaly kinds planted in test sessions (one per anomalous session, at a known event):

* ``unseen``: a line of a template never seen in training (an exception);
* ``order``: the workflow out of order (a block stored before it was received);
* ``relation``: a rare field relation: a replication step whose data node comes from pool
  B (each value is common in training, never together with that event);
* ``missing``: a replication step that never completes (a receive without its stored).

Deterministic for a given ``seed``; numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..logs.sessions import Sessions

LOG_KINDS = ("unseen", "order", "relation", "missing")

T_ALLOCATE = "BLOCK* NameSystem.allocateBlock: /user/root/job_{job}/part-{part} {blk}"
T_RECEIVING = "Receiving block {blk} src: /{src} dest: /{dst}"
T_RECEIVED = "Received block {blk} of size {size} from /{src}"
T_STORED = "BLOCK* NameSystem.addStoredBlock: blockMap updated: {dst} is added to {blk} size {size}"
T_VERIFY = "Verification succeeded for {blk} by /{dst}"
T_DELETE = "Deleting block {blk} file /mnt/hadoop/dfs/data/current/subdir{part}/{blk}"
T_EXCEPTION = "PacketResponder {blk} Exception java.io.IOException: Connection reset by peer"


@dataclass
class LogSplit:
    """Training (normal) and test sessions of synthetic logs.

    ``train``/``test`` hold raw lines; ``labels`` is 1 for anomalous test sessions;
    ``kinds`` names each test session's anomaly ("" for normal ones) and ``event`` the
    position of the planted event in its session (-1 for normal ones).
    """

    train: Sessions
    test: Sessions
    labels: np.ndarray
    kinds: list[str]
    event: np.ndarray


def _ip(pool: str, i: int) -> str:
    return f"10.250.{10 if pool == 'A' else 20}.{i}:50010"


def _block(rng: np.random.Generator) -> str:
    return f"blk_{int(rng.integers(-(2**62), 2**62))}"


def _normal(rng: np.random.Generator) -> list[str]:
    blk = _block(rng)
    size = int(rng.choice([67108864, 3544, 91178]))
    job, part = int(rng.integers(100, 999)), int(rng.integers(0, 60))
    nodes = [_ip("A", int(i)) for i in rng.choice(40, size=3, replace=False)]
    lines = [T_ALLOCATE.format(job=job, part=part, blk=blk)]
    receiving = [T_RECEIVING.format(blk=blk, src=nodes[0], dst=d) for d in nodes]
    received = [T_RECEIVED.format(blk=blk, size=size, src=d) for d in nodes]
    stored = [T_STORED.format(blk=blk, dst=d, size=size) for d in nodes]
    for i in rng.permutation(3):  # replication steps interleave, but each keeps its order
        lines += [receiving[i], received[i]]
    lines += list(np.asarray(stored)[rng.permutation(3)])
    if rng.random() < 0.4:
        lines.append(T_VERIFY.format(blk=blk, dst=_ip("B", int(rng.integers(0, 40)))))
    if rng.random() < 0.3:
        lines.append(T_DELETE.format(blk=blk, part=part))
    return [str(x) for x in lines]


def _plant(rng: np.random.Generator, lines: list[str], kind: str) -> tuple[list[str], int]:
    blk = lines[0].split()[-1]
    if kind == "unseen":
        pos = int(rng.integers(2, 7))
        return lines[:pos] + [T_EXCEPTION.format(blk=blk)] + lines[pos:], pos
    if kind == "order":
        stored = next(i for i, x in enumerate(lines) if "addStoredBlock" in x)
        moved = lines.pop(stored)
        return [lines[0], moved] + lines[1:], 1
    if kind == "relation":
        pos = next(i for i, x in enumerate(lines) if x.startswith("Received block"))
        size = lines[pos].split()[5]
        lines[pos] = T_RECEIVED.format(blk=blk, size=size, src=_ip("B", int(rng.integers(0, 40))))
        return lines, pos
    if kind == "missing":
        pos = next(i for i, x in enumerate(lines) if x.startswith("Received block"))
        return lines[:pos] + lines[pos + 1 :], pos
    raise InputError(f"unknown log anomaly kind {kind!r}; known: {LOG_KINDS}")


def make_logs(
    n_train: int = 400,
    n_test: int = 200,
    contamination: float = 0.1,
    kinds: tuple[str, ...] = LOG_KINDS,
    seed: int = 0,
) -> LogSplit:
    """Synthetic block sessions: ``n_train`` normal ones, ``n_test`` test ones of which
    ``contamination`` carry one planted anomaly each (kinds in turn)."""
    if n_train < 1 or n_test < 1 or not 0 <= contamination < 1:
        raise InputError("make_logs needs n_train, n_test >= 1 and contamination in [0, 1)")
    rng = np.random.default_rng(seed)
    train = [_normal(rng) for _ in range(n_train)]
    test, labels, kind_of, event = [], [], [], []
    n_bad = int(round(contamination * n_test))
    bad = set(rng.choice(n_test, size=n_bad, replace=False).tolist())
    k = 0
    for i in range(n_test):
        lines = _normal(rng)
        if i in bad:
            kind = kinds[k % len(kinds)]
            k += 1
            lines, pos = _plant(rng, lines, kind)
            labels.append(1)
            kind_of.append(kind)
            event.append(pos)
        else:
            labels.append(0)
            kind_of.append("")
            event.append(-1)
        test.append(lines)

    def ids(prefix: str, sessions: list[list[str]]) -> list[str]:
        return [f"{prefix}{i}:{s[0].split()[-1]}" for i, s in enumerate(sessions)]

    return LogSplit(
        train=Sessions(ids=ids("train", train), lines=train),
        test=Sessions(ids=ids("test", test), lines=test, labels=np.asarray(labels)),
        labels=np.asarray(labels, dtype=np.int64),
        kinds=kind_of,
        event=np.asarray(event, dtype=np.int64),
    )
