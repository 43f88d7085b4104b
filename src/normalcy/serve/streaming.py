"""Streams of points fed to a streaming series detector, one state per stream id, bounded.

A stream is keyed by (model name, stream id). It starts as a copy of the served, fitted
detector (the served model itself is never changed) and keeps its own context: the latest
window, and with ``learn=True`` its own model updates (prequential "score, then learn", as
``score_stream``). Points are scored in arrival order; one batch of a stream at a time.

Bounds (``StreamRegistry``):

* at most ``max_streams`` streams; opening one more evicts the least recently used stream
  that no WebSocket is attached to, or, when every stream is attached, is refused
  (``StreamsFull``: HTTP 429 / WebSocket close 1013);
* a stream not used for ``idle_seconds`` is dropped (checked whenever a stream is opened);
  using its id again starts a fresh stream (``n_seen`` restarts from 0);
* at most ``MAX_POINTS`` points per batch.

The memory of a stream is that of one copy of the model.
"""

from __future__ import annotations

import copy
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.errors import InputError, NormalcyError

MAX_POINTS = 10_000
STREAM_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


class StreamsFull(NormalcyError):
    """Every stream slot is held by an open WebSocket."""


@dataclass
class Stream:
    """One stream's detector copy and bookkeeping."""

    detector: Any
    last_used: float
    lock: threading.Lock = field(default_factory=threading.Lock)
    n_seen: int = 0
    attached: int = 0

    def feed(self, points: list[Any], learn: bool) -> dict[str, Any]:
        """Score ``points`` in order (learning each after scoring it when ``learn``)."""
        det = self.detector
        with self.lock:
            scores = det.score_stream(points, learn=learn).scores
            self.n_seen += len(scores)
            n_seen = self.n_seen
        threshold = getattr(det, "threshold", None)
        labels = threshold.apply(scores).tolist() if threshold is not None else None
        return {"scores": scores.tolist(), "labels": labels, "n_seen": n_seen}


def check_stream_id(stream_id: str) -> str:
    if not STREAM_ID.fullmatch(stream_id):
        raise InputError(
            f"stream id {stream_id[:40]!r} is not accepted; expected 1-128 letters, digits or "
            "._:- (starting with a letter or digit)"
        )
    return stream_id


def parse_points(payload: Any) -> list[Any]:
    """The points of a message: ``{"points": [p, ...]}``, ``{"point": p}`` or a bare
    number; a point is a number or a list of C numbers (one per channel)."""
    if isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return [payload]
    if isinstance(payload, dict) and "point" in payload:
        return [payload["point"]]
    if isinstance(payload, dict) and "points" in payload:
        points = payload["points"]
        if not isinstance(points, list) or not points:
            raise InputError('"points" must be a non-empty list of numbers or of lists of numbers')
        if len(points) > MAX_POINTS:
            raise InputError(f"{len(points)} points in one batch; send at most {MAX_POINTS}")
        return points
    raise InputError('a stream message is {"points": [p, ...]}, {"point": p} or a number')


def as_batch(points: list[Any]) -> np.ndarray:
    """Points as a (T,) or (T, C) float array; ``InputError`` for anything but numbers."""
    try:
        values = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise InputError(
            "stream points must be numbers, or equal-length lists of numbers (one per channel)"
        ) from None
    if values.ndim not in (1, 2):
        raise InputError(f"stream points have shape {values.shape}; expected (T,) or (T, C)")
    return values


class StreamRegistry:
    """The open streams of one service (see the module docstring for the bounds)."""

    def __init__(
        self,
        max_streams: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_streams = int(max_streams)
        self.idle_seconds = float(idle_seconds)
        self._clock = clock
        self._streams: OrderedDict[tuple[str, str], Stream] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0
        self.expired = 0

    def __len__(self) -> int:
        return len(self._streams)

    def acquire(self, model: str, stream_id: str, detector: Any, attach: bool = False) -> Stream:
        """The stream (created as a copy of ``detector`` if new), marked most recently used;
        ``attach`` marks it held by a WebSocket until ``release``."""
        key = (model, check_stream_id(stream_id))
        now = self._clock()
        with self._lock:
            self._expire(now)
            stream = self._streams.get(key)
            if stream is None:
                if len(self._streams) >= self.max_streams:
                    self._evict_one()
                stream = Stream(detector=copy.deepcopy(detector), last_used=now)
                self._streams[key] = stream
            self._streams.move_to_end(key)
            stream.last_used = now
            if attach:
                stream.attached += 1
            return stream

    def release(self, stream: Stream) -> None:
        with self._lock:
            stream.attached = max(stream.attached - 1, 0)
            stream.last_used = self._clock()

    def drop(self, model: str, stream_id: str) -> bool:
        with self._lock:
            return self._streams.pop((model, stream_id), None) is not None

    def _expire(self, now: float) -> None:
        stale = [
            key
            for key, s in self._streams.items()
            if not s.attached and now - s.last_used > self.idle_seconds
        ]
        for key in stale:
            del self._streams[key]
        self.expired += len(stale)

    def _evict_one(self) -> None:
        for key, s in self._streams.items():  # least recently used first
            if not s.attached:
                del self._streams[key]
                self.evicted += 1
                return
        raise StreamsFull(
            f"all {self.max_streams} streams are held by open WebSockets; close one or retry "
            "later (--max-streams)"
        )
