"""``Sessions``: the unit a log detector scores — a sequence of log events.

A session is what gets one anomaly score: an HDFS block's events, an OpenStack VM
instance's events, or a window of consecutive lines. Events are given either as **event
keys** (template ids or template texts, as in loglizer's structured logs and
``sessions.jsonl``) or as **raw lines**, which the detector parses into templates with its
own Drain3 parser (``normalcy.logs.parsing``) learnt in ``fit``.

Constructors:

* ``Sessions.from_lists(events, ids=None)``: lists of event keys (str or int).
* ``Sessions.from_records(records)``: dicts with ``"events"`` (and ``"id"``), as in
  ``sessions.jsonl``; ``Sessions.from_jsonl(path)`` reads that file.
* ``Sessions.from_lines(lines, group_by=REGEX)``: raw lines grouped by the first match of
  a regex (e.g. the HDFS block id ``r"blk_-?\\d+"``; a line without a match goes to no
  session); or ``window=N`` (and ``step``) for count windows of consecutive lines.
* ``Sessions.from_frame(frame, event=COLUMN, session=COLUMN | None, time=COLUMN | None,
  window=..., step=...)``: a structured DataFrame, grouped by a session column, by time
  windows (``window`` a duration such as ``"30min"``, ``step`` the slide) or by count
  windows (``window`` an int).

Windows that slide (``step < window``) put a line in several sessions, as loglizer's
sliding windows do.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError
from .parsing import as_text

MAX_SESSIONS = 10_000_000
MAX_KEY_CHARS = 10_000


@dataclass
class Sessions:
    """Log sessions: ids, and per session either event keys or raw lines.

    Attributes
    ----------
    ids : list[str]
        One id per session.
    events : list[list[str]] or None
        Event keys per session (``None`` when the sessions hold raw lines).
    lines : list[list[str]] or None
        Raw lines per session, parsed by the detector (``None`` for event keys).
    params : list[list[tuple[tuple[str, str], ...]]] or None
        Per event its variable fields as (type, value) pairs, when known.
    templates : dict[str, str]
        Template text of event keys, when known (e.g. ``templates.csv``).
    labels : numpy.ndarray or None
        1 = anomalous session, when the data set says so (never used by ``fit``).
    """

    ids: list[str]
    events: list[list[str]] | None = None
    lines: list[list[str]] | None = None
    params: list[list[tuple[tuple[str, str], ...]]] | None = None
    templates: dict[str, str] = field(default_factory=dict)
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if (self.events is None) == (self.lines is None):
            raise InputError("Sessions hold either event keys (events=) or raw lines (lines=)")
        body = self.events if self.events is not None else self.lines
        if len(body) != len(self.ids):
            raise InputError(f"{len(self.ids)} session ids for {len(body)} sessions")
        if self.params is not None and len(self.params) != len(self.ids):
            raise InputError(f"params for {len(self.params)} sessions, expected {len(self.ids)}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels).reshape(-1)
            if len(self.labels) != len(self.ids):
                raise InputError(f"{len(self.labels)} labels for {len(self.ids)} sessions")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def has_lines(self) -> bool:
        return self.lines is not None

    def subset(self, index: Sequence[int] | np.ndarray) -> Sessions:
        """The sessions at ``index`` (a list of positions or a boolean mask)."""
        idx = np.asarray(index)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        idx = [int(i) for i in idx]

        def pick(values: list[Any] | None) -> list[Any] | None:
            return None if values is None else [values[i] for i in idx]

        return Sessions(
            ids=[self.ids[i] for i in idx],
            events=pick(self.events),
            lines=pick(self.lines),
            params=pick(self.params),
            templates=dict(self.templates),
            labels=None if self.labels is None else self.labels[idx],
        )

    def n_lines(self) -> int:
        body = self.events if self.events is not None else self.lines
        return sum(len(s) for s in body or [])

    # -- constructors ---------------------------------------------------------------------
    @classmethod
    def from_lists(
        cls,
        events: Iterable[Iterable[Any]],
        ids: Sequence[Any] | None = None,
        templates: dict[Any, str] | None = None,
        labels: Any = None,
    ) -> Sessions:
        """Sessions of event keys (each key a str or an int)."""
        keys = [_keys(s, i) for i, s in enumerate(events)]
        return cls(
            ids=_ids(ids, len(keys)),
            events=keys,
            templates={str(k): str(v) for k, v in (templates or {}).items()},
            labels=labels,
        )

    @classmethod
    def from_records(
        cls, records: Iterable[dict[str, Any]], templates: dict[Any, str] | None = None
    ) -> Sessions:
        """Sessions from dicts with ``"events"`` (and optional ``"id"`` and ``"label"``)."""
        records = list(records)
        for i, r in enumerate(records):
            if not isinstance(r, dict) or "events" not in r:
                raise InputError(f"session record {i} must be a dict with an 'events' list")
        ids = [r.get("id", i) for i, r in enumerate(records)]
        labels = None
        if records and all("label" in r for r in records):
            labels = np.asarray([int(r["label"]) for r in records])
        return cls.from_lists(
            [r["events"] for r in records], ids=ids, templates=templates, labels=labels
        )

    @classmethod
    def from_jsonl(cls, path: str | Path, templates: str | Path | None = None) -> Sessions:
        """``sessions.jsonl`` (one record a line) and, optionally, ``templates.csv``."""
        return cls.from_records(
            read_jsonl(path), templates=read_templates(templates) if templates else None
        )

    @classmethod
    def from_lines(
        cls,
        lines: Iterable[Any],
        group_by: str | None = None,
        window: int | None = None,
        step: int | None = None,
    ) -> Sessions:
        """Raw lines grouped by a regex id (``group_by``) or into count windows."""
        text = [as_text(line, f"line {i}") for i, line in enumerate(lines)]
        if group_by is not None:
            if window is not None:
                raise InputError("give either group_by (a regex) or window (a line count)")
            try:
                pattern = re.compile(group_by)
            except re.error as exc:
                raise InputError(f"group_by is not a valid regex: {exc}") from None
            groups: dict[str, list[str]] = {}
            for line in text:
                m = pattern.search(line)
                if m is not None:
                    groups.setdefault(m.group(0), []).append(line)
            return cls(ids=list(groups), lines=list(groups.values()))
        size = window or len(text) or 1
        starts = window_starts(len(text), size, step)
        return cls(ids=[str(s) for s in starts], lines=[text[s : s + size] for s in starts])

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        event: str = "EventId",
        session: str | None = None,
        time: str | None = None,
        window: int | str | None = None,
        step: int | str | None = None,
        label: str | None = None,
        template: str | None = "EventTemplate",
    ) -> Sessions:
        """A structured log DataFrame, one row per line, grouped into sessions.

        ``label`` names a column whose non-normal values (anything but 0, "-", "normal" or
        empty) mark anomalous lines; a session is anomalous when any of its lines is.
        """
        import pandas as pd

        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"from_frame needs a pandas DataFrame, got {type(frame).__name__}")
        for col in (event, session, time, label):
            if col is not None and col not in frame.columns:
                raise InputError(f"column {col!r} not in the frame; columns: {list(frame.columns)}")
        keys = frame[event].astype(str).tolist()
        bad = _line_labels(frame[label]) if label is not None else None
        templates = {}
        if template is not None and template in frame.columns:
            templates = dict(zip(keys, frame[template].astype(str), strict=True))
        groups = _frame_groups(frame, session, time, window, step)
        events = [[keys[i] for i in rows] for _, rows in groups]
        labels = None if bad is None else np.asarray([int(bad[rows].any()) for _, rows in groups])
        return cls(
            ids=[str(g) for g, _ in groups], events=events, templates=templates, labels=labels
        )


def window_starts(n: int, window: int, step: int | None) -> list[int]:
    """First positions of count windows of ``window`` items every ``step`` (default: no
    overlap); the last window may be shorter."""
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise InputError(f"window must be a positive number of lines, got {window!r}")
    step = window if step is None else step
    if isinstance(step, bool) or not isinstance(step, int | np.integer) or step < 1:
        raise InputError(f"step must be a positive number of lines, got {step!r}")
    if n == 0:
        return []
    starts = list(range(0, max(n - window, 0) + 1, step))
    if starts[-1] + window < n:  # the tail after the last full window
        starts.append(starts[-1] + step)
    return starts


def read_jsonl(path: str | Path) -> list[Any]:
    """The JSON values of a JSON-lines file, blank lines skipped (``InputError`` naming the
    first line that is not JSON)."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}, line {n}: not a JSON object ({exc.msg})") from None
    return records


def read_templates(path: str | Path) -> dict[str, str]:
    """``templates.csv`` (columns id,template) as {id: template}."""
    import pandas as pd

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    if not {"id", "template"} <= set(frame.columns):
        raise InputError(f"{path} must have columns id,template")
    return dict(zip(frame["id"], frame["template"], strict=True))


def _ids(ids: Sequence[Any] | None, n: int) -> list[str]:
    if ids is None:
        return [str(i) for i in range(n)]
    out = [str(i) for i in ids]
    if len(out) != n:
        raise InputError(f"{len(out)} session ids for {n} sessions")
    return out


def _keys(session: Any, i: int) -> list[str]:
    if isinstance(session, str | bytes) or not isinstance(session, Iterable):
        raise InputError(
            f"session {i} must be a list of event keys (str or int), got {type(session).__name__}"
        )
    out = []
    for j, key in enumerate(session):
        if isinstance(key, bool) or not isinstance(key, str | int | np.integer):
            raise InputError(
                f"session {i}, event {j}: an event key must be a str or an int, "
                f"got {type(key).__name__}"
            )
        text = str(key)
        if len(text) > MAX_KEY_CHARS:
            raise InputError(f"session {i}, event {j}: event key longer than {MAX_KEY_CHARS}")
        out.append(text)
    return out


def _line_labels(column: Any) -> np.ndarray:
    text = column.astype(str).str.strip().str.lower()
    return ~text.isin({"0", "-", "normal", "", "nan", "false"}).to_numpy()


def _frame_groups(frame: Any, session: str | None, time: str | None, window: Any, step: Any):
    import pandas as pd

    n = len(frame)
    if session is not None:
        codes, uniques = pd.factorize(frame[session].astype(str), sort=False)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        return [
            (uniques[codes[rows[0]]], rows) for rows in np.split(order, bounds) if len(rows) > 0
        ]
    if time is not None:
        if window is None:
            raise InputError("time windows need window= (a duration such as '30min')")
        stamps = _timestamps(frame[time])
        width = pd.Timedelta(window)
        stride = pd.Timedelta(step) if step is not None else width
        if width <= pd.Timedelta(0) or stride <= pd.Timedelta(0):
            raise InputError("window and step must be positive durations")
        order = np.argsort(stamps.to_numpy(), kind="stable")
        values = stamps.to_numpy()[order]
        groups = []
        start = values[0] if n else None
        while n and start <= values[-1]:
            lo = np.searchsorted(values, start, "left")
            hi = np.searchsorted(values, start + width.to_timedelta64(), "left")
            if hi > lo:
                groups.append((str(pd.Timestamp(start)), order[lo:hi]))
            start = start + stride.to_timedelta64()
        return groups
    size = window if window is not None else n
    return [(str(s), np.arange(s, min(s + size, n))) for s in window_starts(n, max(size, 1), step)]


def _timestamps(column: Any) -> Any:
    import pandas as pd

    if pd.api.types.is_numeric_dtype(column):
        return pd.to_datetime(column, unit="s")
    try:
        return pd.to_datetime(column)
    except (ValueError, TypeError) as exc:
        raise InputError(f"time column {column.name!r} is not made of timestamps: {exc}") from None
