"""Count-vector log detectors: PCA (Xu et al. 2009), invariant mining (Lou et al. 2010) and
event counts through tabular ``auto``, on synthetic block logs with planted anomalies.

A count model sees which events a session holds and how often, never their order: it must
catch unseen events and missing steps (``unseen``, ``missing``), and cannot see ``order``
(same counts) nor ``relation`` (same templates, different field values)."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.datasets.synthetic_logs import make_logs
from normalcy.logs.invariants import InvariantsMiner
from normalcy.logs.log_pca import q_statistic

COUNT_DETECTORS = ("log_pca", "invariants", "event_counts")


@pytest.fixture(scope="module")
def logs():
    return make_logs(n_train=240, n_test=120, contamination=0.2, seed=4)


@pytest.fixture(scope="module")
def fitted(logs):
    out = {}
    for name in COUNT_DETECTORS:
        params = dict(nc.create(name).quick_params)
        det = nc.create(name, **params).fit(logs.train)
        out[name] = (det, det.score(logs.test))
    return out


@pytest.mark.parametrize("name", COUNT_DETECTORS)
@pytest.mark.parametrize("kind", ["unseen", "missing"])
def test_unseen_and_missing_sessions_outrank_every_normal_one(fitted, logs, name, kind):
    _, res = fitted[name]
    kinds = np.asarray(logs.kinds)
    normal = res.scores[logs.labels == 0]
    planted = res.scores[kinds == kind]
    assert planted.min() > normal.max(), f"{name}: a {kind} session ranks below a normal one"


@pytest.mark.parametrize("name", COUNT_DETECTORS)
def test_reordered_sessions_look_normal_to_a_count_model(fitted, logs, name):
    _, res = fitted[name]
    kinds = np.asarray(logs.kinds)
    normal = res.scores[logs.labels == 0]
    # same counts as a normal session: never above the normal range
    assert res.scores[kinds == "order"].max() <= normal.max()


@pytest.mark.parametrize("name", COUNT_DETECTORS)
def test_localisation_marks_the_unseen_event(fitted, logs, name):
    _, res = fitted[name]
    lengths = res.extras["lengths"]
    for i in np.flatnonzero(np.asarray(logs.kinds) == "unseen"):
        events = res.maps[i, : lengths[i]]
        assert int(np.argmax(events)) == logs.event[i]
        assert events[logs.event[i]] > np.delete(events, logs.event[i]).max()


def test_invariants_mine_the_workflow_and_localise_a_missing_step(fitted, logs):
    det, res = fitted["invariants"]
    mined = det.invariants_
    assert (["<unseen>"], [1]) in mined
    # every replication step's receiving / received / stored counts are tied together
    tied = {k for keys, _ in mined for k in keys if len(keys) > 1}
    assert any(k.startswith("Received block") for k in tied)
    assert any(k.startswith("Receiving block") for k in tied)
    lengths = res.extras["lengths"]
    received_code = 1 + det.vocabulary_.keys.index(
        next(k for k in det.vocabulary_.keys if k.startswith("Received block"))
    )
    enc = det._check_score_input(logs.test)
    for i in np.flatnonzero(np.asarray(logs.kinds) == "missing"):
        events = res.maps[i, : lengths[i]]
        # the remaining events of the broken step's type are marked
        assert events[enc.codes[i] == received_code].min() >= 1
        assert res.scores[i] >= 1


def test_invariant_scores_count_violations():
    # a - b = 0 on every session; c varies freely
    train = [["a", "b"] * k + ["c"] * j for k in (1, 2, 3) for j in (0, 1, 2, 3)] * 3
    det = nc.create("invariants").fit(train)
    assert (["a", "b"], [1, -1]) in det.invariants_ or (["a", "b"], [-1, 1]) in det.invariants_
    res = det.score([["a", "b", "c"], ["a", "a", "b"], ["a", "a", "a", "b"]])
    assert res.scores[0] == 0
    assert 1 <= res.scores[1] < 2 and 1 <= res.scores[2] < 2
    assert res.scores[2] > res.scores[1]  # larger violation, same count: tie-break


def test_pca_spe_is_zero_inside_the_normal_subspace_and_q_statistic_is_finite():
    rng = np.random.default_rng(0)
    train = [
        ["a"] * int(k) + ["b"] * int(2 * k) + ["c"] * int(m) for k, m in rng.integers(1, 5, (80, 2))
    ]
    det = nc.create("log_pca", n_components=0.999, term_weighting="none").fit(train)
    inside = det.score([["a", "b", "b", "c"]]).scores[0]
    outside = det.score([["a"] * 3 + ["b"] + ["c"]]).scores[0]
    assert inside < 1e-9 < outside
    assert np.isfinite(det.q_threshold_) and det.q_threshold_ >= 0
    assert q_statistic(np.array([])) == 0.0
    assert q_statistic(np.array([2.0, 1.0])) > 0


def test_pca_tfidf_ignores_events_of_every_session_as_loglizer_does():
    train = [["a", "b"] * 2 + ["c"] * int(k) for k in range(1, 6)] * 4
    det = nc.create("log_pca", term_weighting="tfidf").fit(train)
    assert det.idf_[0] == 0 and det.idf_[1] == 0  # a, b in every session
    assert det.score([["a", "c"]]).scores[0] == pytest.approx(
        det.score([["a", "a", "b", "b", "c"]]).scores[0]
    )


@pytest.mark.parametrize("name", COUNT_DETECTORS)
def test_empty_sessions_and_unseen_keys_give_finite_scores(fitted, logs, name):
    det, _ = fitted[name]
    res = det.score([[], ["never seen before"], ["never seen before", "twice"]])
    assert np.isfinite(res.scores).all()
    assert res.maps.shape == (3, 2)
    normal = fitted[name][1].scores[logs.labels == 0]
    assert min(res.scores[1:]) > normal.max()  # unseen events are always anomalous


@pytest.mark.parametrize("name", COUNT_DETECTORS)
def test_save_load_identical_scores_with_the_parser(fitted, logs, name, tmp_path):
    det, res = fitted[name]
    again = nc.load(det.save(tmp_path / f"{name}.normalcy")).score(logs.test)
    np.testing.assert_array_equal(again.scores, res.scores)
    np.testing.assert_array_equal(again.maps, res.maps)


def test_event_counts_refuses_a_crafted_nested_state(fitted, tmp_path):
    from normalcy.core.errors import ModelFileError

    det, _ = fitted["event_counts"]
    arrays, meta = det._get_state()
    key = next(k for k in arrays if k.startswith("auto.") and arrays[k].ndim == 1)
    arrays[key] = np.zeros(arrays[key].shape[0] + 1, dtype=arrays[key].dtype)
    fresh = nc.create("event_counts", **det.get_params(deep=False))
    fresh._set_input_spec(det._input_spec())
    with pytest.raises(ModelFileError):
        from normalcy.core.state_spec import verify_state

        verify_state(fresh._state_spec(), arrays, meta)
        fresh._set_state(arrays, meta)


def test_invariants_state_refuses_an_empty_invariant(fitted):
    from normalcy.core.errors import ModelFileError

    det, _ = fitted["invariants"]
    arrays, meta = det._get_state()
    theta = arrays["theta"].copy()
    theta[0] = 0
    with pytest.raises(ModelFileError, match="without coefficients"):
        InvariantsMiner()._set_state({"theta": theta}, meta)


@pytest.mark.parametrize("name", COUNT_DETECTORS)
def test_same_seed_same_scores(logs, name):
    params = dict(nc.create(name).quick_params)
    a = nc.create(name, **params).fit(logs.train).score(logs.test).scores
    b = nc.create(name, **params).fit(logs.train).score(logs.test).scores
    np.testing.assert_array_equal(a, b)
