"""``LogDetector``: the base of detectors on log sessions (one score per session).

``fit`` learns the event vocabulary (and, for raw lines, a Drain3 parser) from normal
sessions; both are the detector's input spec, saved in its model file as plain JSON and
checked on load. ``_fit``/``_score`` receive ``EncodedSessions`` (see ``logs.input``).

Localisation: ``Scores.maps`` is (n_sessions, longest session) float32, the score of each
event of a session in log order, padded with 0 after the session's end;
``Scores.extras["lengths"]`` holds the session lengths. ``session_scores`` builds it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..core.base import Detector
from ..core.errors import InputError, ModelFileError
from ..core.scores import Scores
from .input import MAX_VOCABULARY, EncodedSessions, Vocabulary, as_sessions, parse_lines
from .parsing import LogParser
from .sessions import MAX_KEY_CHARS, Sessions


class LogDetector(Detector):
    """Base for detectors on log sessions."""

    modality = "logs"
    min_fit_sessions: ClassVar[int] = 1

    vocabulary_: Vocabulary
    parser_: LogParser | None = None

    def _check_fit_input(self, X: Any) -> EncodedSessions:
        sessions = as_sessions(X)
        if len(sessions) < self.min_fit_sessions:
            raise InputError(
                f"{self._owner()} needs at least {self.min_fit_sessions} sessions to fit, "
                f"got {len(sessions)}"
            )
        self.parser_ = None
        if sessions.has_lines:
            self.parser_ = LogParser()
            self.parser_.learn(line for s in sessions.lines or [] for line in s)
        keys, params, templates = self._keys(sessions)
        self.vocabulary_ = Vocabulary.learn(keys, templates)
        return self._encode(sessions.ids, keys, params)

    def _check_score_input(self, X: Any) -> EncodedSessions:
        sessions = as_sessions(X)
        keys, params, _ = self._keys(sessions)
        return self._encode(sessions.ids, keys, params)

    def _keys(self, sessions: Sessions):
        if sessions.has_lines:
            parser = self.parser_ or LogParser()  # fitted on keys: lines become masked text
            keys, params = parse_lines(sessions, parser)
            return keys, params, {k: k for s in keys for k in s}  # a parsed key is its template
        return sessions.events or [], sessions.params, sessions.templates

    def _encode(self, ids, keys, params) -> EncodedSessions:
        codes, unseen = self.vocabulary_.encode(keys)
        vocab = self.vocabulary_
        return EncodedSessions(ids, codes, params, vocab.keys, vocab.templates, unseen)

    def _index_of(self, data: EncodedSessions) -> Any:
        return list(data.ids)

    # -- input spec: vocabulary and parser ----------------------------------------------------
    def _input_spec(self) -> dict[str, Any]:
        return {
            "vocabulary": list(self.vocabulary_.keys),
            "templates": list(self.vocabulary_.templates),
            "parser": None if self.parser_ is None else self.parser_.state(),
        }

    def _set_input_spec(self, spec: dict[str, Any]) -> None:
        super()._set_input_spec(spec)
        if set(spec) != {"vocabulary", "templates", "parser"}:
            raise ModelFileError(
                "a log detector's input_spec must have exactly vocabulary, templates and parser"
            )
        keys, templates = spec["vocabulary"], spec["templates"]
        for name, values in (("vocabulary", keys), ("templates", templates)):
            if (
                not isinstance(values, list)
                or len(values) > MAX_VOCABULARY
                or not all(isinstance(v, str) and len(v) <= MAX_KEY_CHARS for v in values)
            ):
                raise ModelFileError(
                    f"input_spec[{name!r}] must be a list of at most {MAX_VOCABULARY} strings"
                )
        if len(templates) != len(keys) or len(set(keys)) != len(keys):
            raise ModelFileError("input_spec vocabulary must be distinct keys, one template each")
        self.vocabulary_ = Vocabulary(keys, templates)
        parser = spec["parser"]
        self.parser_ = None if parser is None else LogParser.from_state(parser)

    def _n_codes(self) -> int:
        """Code alphabet size (unseen code 0 included), for state specs."""
        return len(self.vocabulary_.keys) + 1


def session_scores(
    data: EncodedSessions, scores: np.ndarray, event_scores: list[np.ndarray] | None = None
) -> Scores:
    """``Scores`` of sessions, with per-event scores as padded maps when given."""
    lengths = data.lengths()
    if event_scores is None:
        return Scores(scores=scores, extras={"lengths": lengths})
    width = max(int(lengths.max()) if len(lengths) else 0, 1)
    maps = np.zeros((len(data), width), dtype=np.float32)
    for i, e in enumerate(event_scores):
        maps[i, : len(e)] = e
    return Scores(scores=scores, maps=maps, extras={"lengths": lengths})
