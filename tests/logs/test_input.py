"""The log detector base: accepted input forms, vocabulary with an unseen code, the parser
and vocabulary as input spec, and the reader."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from normalcy import InputError, ModelFileError
from normalcy.datasets.synthetic_logs import make_logs
from normalcy.logs.base import LogDetector, session_scores
from normalcy.logs.input import as_sessions
from normalcy.logs.reader import read
from normalcy.logs.sessions import Sessions


class Probe(LogDetector):
    """A bare LogDetector to exercise the input path."""


def test_input_forms_become_the_same_sessions():
    lists = [[1, 2], [2, 3]]
    a = as_sessions(lists)
    b = as_sessions([{"events": [1, 2]}, {"events": [2, 3]}])
    c = as_sessions(pd.DataFrame({"events": lists}))
    assert a.events == b.events == c.events == [["1", "2"], ["2", "3"]]
    raw = as_sessions([f"line {i}" for i in range(45)])
    assert raw.has_lines and [len(x) for x in raw.lines] == [20, 20, 5]
    for bad in ([], "one string", 5, None, pd.DataFrame({"x": [1]})):
        with pytest.raises(InputError):
            as_sessions(bad)


def test_vocabulary_codes_and_unseen_events():
    det = Probe()
    enc = det._check_fit_input([["a", "b"], ["b", "c"], []])
    assert enc.vocabulary == ["a", "b", "c"]
    assert [c.tolist() for c in enc.codes] == [[1, 2], [2, 3], []]
    test = det._check_score_input([["a", "zzz", "c"]])
    assert test.codes[0].tolist() == [1, 0, 3] and test.unseen_keys == [["zzz"]]
    counts = test.count_matrix()
    assert counts.shape == (1, 4) and counts[0].tolist() == [1, 1, 0, 1]


def test_raw_lines_are_parsed_and_the_spec_round_trips():
    data = make_logs(n_train=50, n_test=20, contamination=0.25, seed=2)
    det = Probe()
    det._check_fit_input(data.train)
    spec = json.loads(json.dumps(det._input_spec()))
    other = Probe()
    other._set_input_spec(spec)
    a, b = det._check_score_input(data.test), other._check_score_input(data.test)
    assert all(np.array_equal(x, y) for x, y in zip(a.codes, b.codes, strict=True))
    assert a.params == b.params
    unseen = [i for i, k in enumerate(data.kinds) if k == "unseen"]
    assert all(0 in a.codes[i] for i in unseen)


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"vocabulary": ["a", "a"], "templates": ["", ""], "parser": None},
        {"vocabulary": ["a"], "templates": [], "parser": None},
        {"vocabulary": [1], "templates": [""], "parser": None},
        {"vocabulary": ["a"], "templates": [""], "parser": {"x": 1}},
        {"vocabulary": ["a"], "templates": [""], "parser": None, "more": 1},
    ],
)
def test_crafted_input_specs_are_refused(spec):
    with pytest.raises(ModelFileError):
        Probe()._set_input_spec(spec)


def test_session_scores_pad_event_scores():
    enc = Probe()._check_fit_input([["a"], ["a", "b", "c"], []])
    res = session_scores(enc, np.array([1.0, 2.0, 3.0]), [np.ones(1), np.arange(3.0), []])
    assert res.maps.shape == (3, 3) and res.maps[1].tolist() == [0, 1, 2]
    assert res.extras["lengths"].tolist() == [1, 3, 0]


def test_reader_reads_jsonl_and_text_logs(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"id": "a", "events": [1, 2]}\n')
    assert read(tmp_path / "s.jsonl").events == [["1", "2"]]
    (tmp_path / "app.log").write_bytes(b"start \xff\nstop\n")
    sessions = read(tmp_path / "app.log")
    assert isinstance(sessions, Sessions) and sessions.lines == [["start \ufffd", "stop"]]
    with pytest.raises(InputError, match="not a file"):
        read(tmp_path / "missing.log")
