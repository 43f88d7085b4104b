"""Validation of log input at the boundary, and its encoding to integer event codes.

What a log detector accepts (anything else is an ``InputError`` saying what was expected):

* ``Sessions`` (see ``normalcy.logs.sessions``);
* a list of sessions, each a list of event keys (str or int);
* a list of dicts with an ``"events"`` list (the ``sessions.jsonl`` records);
* a pandas DataFrame with an ``"events"`` column (the same records as a frame);
* a flat list of raw log lines (str or bytes): parsed with the detector's Drain3 parser and
  cut into consecutive windows of ``DEFAULT_WINDOW`` lines (use ``Sessions.from_lines`` to
  group by an id or to choose the window).

A session may be empty (it gets a score like any other). At least one session is needed.
Event keys never seen in ``fit`` get code 0 ("unseen"); the vocabulary of ``fit`` maps the
others to 1..V in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..core.errors import InputError
from .parsing import LogParser
from .sessions import Sessions

DEFAULT_WINDOW = 20
MAX_VOCABULARY = 100_000
UNSEEN = 0


@dataclass
class EncodedSessions:
    """What ``_fit``/``_score`` of a log detector receive.

    ``codes[i]`` holds session ``i``'s event codes (int64; 0 = unseen in fit, ``k`` =
    ``vocabulary[k - 1]``); ``params[i][j]`` the variable fields of its ``j``-th event as
    (type, value) pairs, when known; ``templates[k - 1]`` the template text of code ``k``
    ("" when unknown); ``unseen_keys[i]`` the raw keys of the session's unseen events.
    """

    ids: list[str]
    codes: list[np.ndarray]
    params: list[list[tuple[tuple[str, str], ...]]] | None
    vocabulary: list[str]
    templates: list[str]
    unseen_keys: list[list[str]]

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_codes(self) -> int:
        """Size of the code alphabet, the unseen code 0 included."""
        return len(self.vocabulary) + 1

    def lengths(self) -> np.ndarray:
        return np.asarray([len(c) for c in self.codes], dtype=np.int64)

    def count_matrix(self) -> np.ndarray:
        """(n_sessions, n_codes) float64 event-count vectors (loglizer's feature)."""
        out = np.zeros((len(self.codes), self.n_codes), dtype=np.float64)
        for i, c in enumerate(self.codes):
            if len(c):
                out[i] = np.bincount(c, minlength=self.n_codes)
        return out


def as_sessions(X: Any, name: str = "X") -> Sessions:
    """Any accepted log input as ``Sessions`` (see the module docstring)."""
    if isinstance(X, Sessions):
        out = X
    elif _is_frame(X):
        if "events" not in X.columns:
            raise InputError(
                f"{name}: a DataFrame of sessions needs an 'events' column (lists of event "
                "keys); for one row per log line use Sessions.from_frame(frame, event=..., "
                "session=... or time=..., window=...)"
            )
        out = Sessions.from_records(X.to_dict("records"))
    elif isinstance(X, str | bytes) or not isinstance(X, Iterable):
        raise InputError(
            f"{name} must be log sessions (a list of lists of event keys, session records, "
            f"Sessions) or a list of raw log lines, got {type(X).__name__}"
        )
    else:
        items = list(X)
        if not items:
            raise InputError(f"{name} holds no sessions (expected at least one)")
        first = items[0]
        if isinstance(first, str | bytes | bytearray):
            out = Sessions.from_lines(items, window=DEFAULT_WINDOW)
        elif isinstance(first, dict):
            out = Sessions.from_records(items)
        else:
            out = Sessions.from_lists(items)
    if len(out) == 0:
        raise InputError(f"{name} holds no sessions (expected at least one)")
    return out


def _is_frame(X: Any) -> bool:
    return type(X).__name__ == "DataFrame" and hasattr(X, "columns")


class Vocabulary:
    """Event keys seen in ``fit`` → codes 1..V (0 = unseen), with their template texts."""

    def __init__(self, keys: list[str], templates: list[str]) -> None:
        if len(keys) > MAX_VOCABULARY:
            raise InputError(
                f"{len(keys)} distinct event keys, more than {MAX_VOCABULARY}: these do not look "
                "like log templates (parse raw lines into templates first)"
            )
        self.keys = keys
        self.templates = templates
        self.code = {k: i + 1 for i, k in enumerate(keys)}

    @classmethod
    def learn(cls, sessions: list[list[str]], templates: dict[str, str]) -> Vocabulary:
        seen: dict[str, None] = {}
        for s in sessions:
            for key in s:
                if key not in seen:
                    seen[key] = None
                    if len(seen) > MAX_VOCABULARY:
                        break
        keys = list(seen)
        return cls(keys, [templates.get(k, "") for k in keys])

    def encode(self, sessions: list[list[str]]) -> tuple[list[np.ndarray], list[list[str]]]:
        codes, unseen = [], []
        get = self.code.get
        for s in sessions:
            c = np.fromiter((get(k, UNSEEN) for k in s), dtype=np.int64, count=len(s))
            codes.append(c)
            unseen.append([k for k, v in zip(s, c, strict=True) if v == UNSEEN])
        return codes, unseen


def parse_lines(
    sessions: Sessions, parser: LogParser
) -> tuple[list[list[str]], list[list[tuple[tuple[str, str], ...]]]]:
    """Templates (event keys) and fields of raw-line sessions."""
    keys, params = [], []
    for s in sessions.lines or []:
        parsed = parser.parse_many(s)
        keys.append([p.template for p in parsed])
        params.append([p.params for p in parsed])
    return keys, params
