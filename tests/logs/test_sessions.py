"""Sessions: built from lists, records, jsonl, raw lines (regex ids, count windows) and
structured frames (session column, time windows)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from normalcy import InputError
from normalcy.logs.sessions import Sessions, window_starts


def test_window_starts_cover_every_line():
    assert window_starts(10, 4, None) == [0, 4, 8]
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]
    assert window_starts(3, 5, None) == [0]
    assert window_starts(0, 5, None) == []
    with pytest.raises(InputError):
        window_starts(10, 0, None)


def test_from_lines_groups_by_regex_id():
    lines = ["open blk_1", "open blk_2", "close blk_1", "no id here", "close blk_2"]
    s = Sessions.from_lines(lines, group_by=r"blk_\d+")
    assert s.ids == ["blk_1", "blk_2"]
    assert s.lines == [["open blk_1", "close blk_1"], ["open blk_2", "close blk_2"]]
    with pytest.raises(InputError, match="regex"):
        Sessions.from_lines(lines, group_by="(")


def test_from_lines_windows_and_bytes():
    s = Sessions.from_lines([b"a\xff", "b", "c", "d", "e"], window=2)
    assert [len(x) for x in s.lines] == [2, 2, 1]
    assert s.lines[0][0] == "a\ufffd"


def test_from_jsonl_with_templates(tmp_path):
    path = tmp_path / "sessions.jsonl"
    rows = [{"id": "x", "label": 0, "events": [1, 2]}, {"id": "y", "label": 1, "events": [3]}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "templates.csv").write_text("id,template\n1,open <*>\n2,close <*>\n3,boom\n")
    s = Sessions.from_jsonl(path, tmp_path / "templates.csv")
    assert s.ids == ["x", "y"] and s.events == [["1", "2"], ["3"]]
    assert s.templates["3"] == "boom" and s.labels.tolist() == [0, 1]
    path.write_text('{"id": 1, "events": [1]}\nnot json\n')
    with pytest.raises(InputError, match="line 2"):
        Sessions.from_jsonl(path)


def test_from_frame_by_session_column_and_labels():
    frame = pd.DataFrame(
        {
            "EventId": ["E1", "E2", "E1", "E3"],
            "EventTemplate": ["a <*>", "b", "a <*>", "c"],
            "blk": ["b1", "b2", "b1", "b2"],
            "Label": ["-", "-", "-", "FATAL"],
        }
    )
    s = Sessions.from_frame(frame, session="blk", label="Label")
    assert s.ids == ["b1", "b2"]
    assert s.events == [["E1", "E1"], ["E2", "E3"]]
    assert s.labels.tolist() == [0, 1] and s.templates["E3"] == "c"
    with pytest.raises(InputError, match="not in the frame"):
        Sessions.from_frame(frame, session="nope")


def test_from_frame_time_windows_slide():
    stamps = pd.date_range("2024-01-01", periods=6, freq="10min")
    frame = pd.DataFrame({"EventId": list("abcdef"), "t": stamps})
    s = Sessions.from_frame(frame, time="t", window="20min", step="10min")
    assert s.events[0] == ["a", "b"] and s.events[1] == ["b", "c"]
    assert len(s) == 6
    frame["t"] = ((stamps - pd.Timestamp(0)) // pd.Timedelta("1s")).to_numpy()  # unix s
    assert Sessions.from_frame(frame, time="t", window="30min").events[0] == ["a", "b", "c"]


def test_subset_and_invalid_construction():
    s = Sessions.from_lists([[1, 2], [3], []], labels=[0, 1, 0])
    sub = s.subset(np.array([False, True, True]))
    assert sub.events == [["3"], []] and sub.labels.tolist() == [1, 0]
    with pytest.raises(InputError):
        Sessions(ids=["a"], events=[["1"], ["2"]])
    with pytest.raises(InputError):
        Sessions(ids=["a"], events=[["1"]], lines=[["x"]])
    with pytest.raises(InputError, match="str or an int"):
        Sessions.from_lists([[1.5]])
