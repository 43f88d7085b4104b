"""Drain3 parsing: typed masks, fields, unseen lines, a JSON state that rebuilds the same
parser, and crafted states refused."""

from __future__ import annotations

import json

import pytest

from normalcy import InputError, ModelFileError
from normalcy.datasets.synthetic_logs import make_logs
from normalcy.logs.parsing import MAX_LINE_CHARS, LogParser, as_text


@pytest.fixture(scope="module")
def data():
    return make_logs(n_train=150, n_test=60, contamination=0.2, seed=1)


@pytest.fixture(scope="module")
def parser(data):
    p = LogParser()
    p.learn(line for s in data.train.lines for line in s)
    return p


def test_learns_the_workflow_templates_with_typed_masks(parser):
    templates = parser.templates
    assert "Receiving block <BLK> src: /<IP> dest: /<IP>" in templates
    assert "Received block <BLK> of size <NUM> from /<IP>" in templates
    assert len(templates) == 6  # allocate, receiving, received, stored, verify, delete


def test_fields_are_typed_values_of_the_line(parser):
    parsed = parser.parse("Received block blk_-42 of size 3544 from /10.250.20.7:50010")
    assert parsed.template == "Received block <BLK> of size <NUM> from /<IP>"
    assert parsed.params == (("BLK", "blk_-42"), ("NUM", "3544"), ("IP", "10.250.20.7:50010"))


def test_an_unseen_line_keeps_its_own_masked_text(parser):
    parsed = parser.parse("PacketResponder blk_7 Exception java.io.IOException: reset")
    assert parsed.template not in parser.templates
    assert parsed.template.startswith("PacketResponder <BLK> Exception")


def test_state_is_json_and_rebuilds_a_parser_that_matches_identically(parser, data):
    state = json.loads(json.dumps(parser.state()))
    again = LogParser.from_state(state)
    assert again.templates == parser.templates
    lines = [line for s in data.test.lines for line in s]
    assert again.parse_many(lines) == parser.parse_many(lines)


def test_parsing_is_deterministic_across_instances(data):
    lines = [line for s in data.train.lines for line in s]
    a, b = LogParser(), LogParser()
    a.learn(lines)
    b.learn(lines)
    assert a.state() == b.state()


def test_text_policy_bytes_nul_and_long_lines():
    assert as_text(b"ok \xff\xfe end") == "ok \ufffd\ufffd end"
    assert as_text("a\x00b") == "a\ufffdb"
    assert len(as_text("x" * (MAX_LINE_CHARS + 50))) == MAX_LINE_CHARS
    with pytest.raises(InputError, match="str or bytes"):
        as_text(3.5)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: s.pop("clusters"),
        lambda s: s.update(similarity=2.0),
        lambda s: s.update(depth=True),
        lambda s: s.update(masks=[["lower", "x"]]),
        lambda s: s.update(masks=[["BAD", "("]]),
        lambda s: s["clusters"].append([1, ["dup"], 1]),
        lambda s: s["clusters"].append([10**12, ["x"], 1]),
        lambda s: s["clusters"].append([99, [], 1]),
        lambda s: s["clusters"].append([98, [{"a": 1}], 1]),
        lambda s: s["clusters"].append([97, ["x"], -1]),
        lambda s: s.update(clusters="not a list"),
        lambda s: s.update(extra=1),
    ],
)
def test_crafted_states_are_refused(parser, mutate):
    state = json.loads(json.dumps(parser.state()))
    mutate(state)
    with pytest.raises(ModelFileError):
        LogParser.from_state(state)
