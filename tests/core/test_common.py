"""The detector contract, checked for every registered detector.

Modelled on scikit-learn's ``check_estimator`` and river's ``yield_checks``: each check is
one test parametrised over ``nc.detectors()``, so a new detector is held to the whole
contract without editing this file. Detectors are built with their ``quick_params`` and fed
small synthetic data; the ones that train a network are marked ``slow``.
"""

from __future__ import annotations

import json
import math
from functools import cache
from numbers import Integral, Real
from typing import Any

import numpy as np
import pytest

import normalcy as nc
from modality_data import DATA
from normalcy.core import get_class
from normalcy.core.constraints import Interval, check_value
from normalcy.core.state_spec import verify_state

INFOS = nc.detectors()
# Detectors that train a network (or many models) on fit: a few seconds each even when quick.
SLOW = {
    "draem",
    "efficientad",
    "reverse_distillation",
    "simplenet",
    "hpc_autoencoder",
    "hypad",
    "apre",
    "autoencoder",
    "deepsvdd",
    "dif",
    "mss",
    "frame_prediction",
}


def _params(infos=INFOS):
    return [
        pytest.param(i, id=i.name, marks=[pytest.mark.slow] if i.name in SLOW else [])
        for i in infos
    ]


def _quick(name: str) -> dict[str, Any]:
    return dict(get_class(name).quick_params)


def make(name: str, **extra: Any):
    return nc.create(name, **{**_quick(name), **extra})


# ---------------------------------------------------------------------------------------
# data per modality: (train, test, holdout)
# ---------------------------------------------------------------------------------------
def data(info) -> tuple[Any, Any, Any]:
    if info.modality not in DATA:
        pytest.fail(f"no conformance data for modality {info.modality!r}; add it to DATA")
    return DATA[info.modality]()


def n_items(info, X: Any) -> int:
    """How many scores ``X`` must get: one per row, per image, per time step, per log
    session (raw lines are cut into windows), per graph or per node."""
    if info.modality == "logs":
        from normalcy.logs.input import as_sessions

        return len(as_sessions(X))
    if info.modality == "nodes":
        from normalcy.graph.graphs import as_graph

        return as_graph(X).n_nodes
    if info.modality == "video":
        from normalcy.video.input import as_clips

        return as_clips(X).n_frames
    return len(X)


@cache
def fitted(name: str):
    """One detector per name fitted on the standard data, and its scores on the test part
    (shared by the checks that do not change the detector)."""
    info = get_class(name).info
    train, test, _ = data(info)
    det = make(name).fit(train)
    return det, det.score(test)


def assert_scores_ok(info, res, X) -> None:
    assert isinstance(res, nc.Scores)
    s = res.scores
    assert isinstance(s, np.ndarray) and s.dtype == np.float64, f"scores dtype {s.dtype}"
    assert s.shape == (n_items(info, X),), f"scores shape {s.shape} for {n_items(info, X)} items"
    assert np.isfinite(s).all(), "scores hold NaN or inf"
    if res.maps is not None:
        assert np.isfinite(np.asarray(res.maps)).all(), "maps hold NaN or inf"


def assert_state_equal(a, b) -> None:
    (arr_a, meta_a), (arr_b, meta_b) = a, b
    assert sorted(arr_a) == sorted(arr_b)
    for key in arr_a:
        x, y = np.asarray(arr_a[key]), np.asarray(arr_b[key])
        assert x.dtype == y.dtype and x.shape == y.shape, key
        np.testing.assert_array_equal(x, y, err_msg=f"state array {key!r} changed")
    assert json.dumps(meta_a, sort_keys=True, default=str) == json.dumps(
        meta_b, sort_keys=True, default=str
    )


# ---------------------------------------------------------------------------------------
# fit / refit / determinism
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("info", _params())
def test_fit_returns_self_and_scores_are_float64_one_per_item(info):
    train, test, _ = data(info)
    det = make(info.name)
    assert det.fit(train) is det
    assert det.is_fitted
    assert_scores_ok(info, det.score(test), test)


@pytest.mark.parametrize("info", _params())
def test_refit_is_idempotent_clears_threshold_and_same_seed_gives_same_scores(info):
    train, test, holdout = data(info)
    det = make(info.name).fit(train)
    first = det.score(test).scores
    det.calibrate(holdout, fpr=0.1)
    assert det.threshold is not None
    assert det.fit(train) is det
    assert det.threshold is None, "a refitted detector kept its old threshold"
    assert det.score(test).labels is None
    np.testing.assert_allclose(det.score(test).scores, first, rtol=1e-6, atol=1e-9)
    # an independent instance with the same seed and data
    other, other_res = fitted(info.name)
    np.testing.assert_allclose(other_res.scores, first, rtol=1e-6, atol=1e-9)


def _state_snapshot(det) -> tuple[dict[str, np.ndarray], Any]:
    arrays, meta = det._get_state()
    arrays = {k: np.array(v, copy=True) for k, v in arrays.items()}
    return arrays, json.loads(json.dumps(meta, default=str))


@pytest.mark.parametrize("info", _params())
def test_score_leaves_the_fitted_state_unchanged(info):
    train, test, _ = data(info)
    det = make(info.name).fit(train)
    before = _state_snapshot(det)
    try:
        assert_state_equal(before, _state_snapshot(det))
    except AssertionError as exc:
        pytest.fail(
            f"_get_state() is not reproducible (two calls differ), so it cannot be "
            f"checked: {str(exc).splitlines()[0]}"
        )
    det.score(test)
    assert_state_equal(before, _state_snapshot(det))


# ---------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("info", _params())
def test_get_params_round_trips_through_create(info):
    det = make(info.name)
    params = det.get_params()
    assert set(params) == set(info.params)
    again = nc.create(info.name, **params)
    assert again.get_params() == params
    assert json.loads(json.dumps(params)) is not None  # JSON-serialisable for model files


@pytest.mark.parametrize("info", _params())
def test_sklearn_get_params_set_params_and_clone(info):
    from sklearn.base import clone

    det = make(info.name)
    deep = det.get_params(deep=True)
    assert deep == det.get_params(deep=False) == det.get_params()
    assert det.set_params(**deep) is det
    assert det.get_params() == deep
    copy = clone(det)
    assert type(copy) is type(det) and copy is not det
    assert copy.get_params() == deep
    assert not copy.is_fitted


@pytest.mark.parametrize("info", _params())
def test_set_params_checks_constraints(info):
    det = make(info.name)
    with pytest.raises(nc.InputError):
        det.set_params(seed="not a seed")
    with pytest.raises(nc.InputError):
        det.set_params(no_such_parameter=1)


@pytest.mark.parametrize("info", _params())
def test_every_parameter_has_a_declared_constraint_met_by_its_default(info):
    cls = get_class(info.name)
    declared = dict(cls._parameter_constraints)
    missing = sorted(set(info.params) - set(declared))
    assert not missing, f"parameters without a declared constraint: {missing}"
    extra = sorted(set(declared) - set(info.params))
    assert not extra, f"constraints for parameters the constructor lacks: {extra}"
    for key, default in info.params.items():
        assert check_value(declared[key], default), (
            f"default {key}={default!r} breaks its constraint"
        )
    for key, value in cls.quick_params.items():
        assert check_value(declared[key], value), f"quick {key}={value!r} breaks its constraint"


def _out_of_range(forms: list[Any]) -> list[Any]:
    """Numbers just outside the declared intervals (and NaN) that no other form accepts."""
    bad: list[Any] = [float("nan")]
    for form in forms:
        if not isinstance(form, Interval):
            continue
        if form.kind is Integral:
            step, cast = 1, int
        else:
            scale = max(1.0, abs(form.left or 0.0), abs(form.right or 0.0))
            step, cast = 1e-3 * scale, float
        if form.left is not None:
            bad.append(cast(form.left) - step)
            if form.closed in ("right", "neither"):
                bad.append(cast(form.left))
        if form.right is not None:
            bad.append(cast(form.right) + step)
            if form.closed in ("left", "neither"):
                bad.append(cast(form.right))
    return [v for v in bad if not check_value(forms, v)]


def _numeric_params(info) -> list[str]:
    cls = get_class(info.name)
    keys = []
    for key, default in info.params.items():
        forms = cls._parameter_constraints.get(key, [])
        numeric_default = isinstance(default, (Integral, Real)) and not isinstance(default, bool)
        if numeric_default or any(isinstance(f, Interval) for f in forms):
            keys.append(key)
    return keys


@pytest.mark.parametrize("info", _params())
def test_out_of_range_numeric_parameters_are_input_errors_at_create(info):
    cls = get_class(info.name)
    for key in _numeric_params(info):
        forms = list(cls._parameter_constraints.get(key, []))
        assert any(isinstance(f, Interval) for f in forms), (
            f"numeric parameter {key!r} declares no range (Interval)"
        )
        for value in _out_of_range(forms):
            with pytest.raises(nc.InputError, match=key):
                make(info.name, **{key: value})


# ---------------------------------------------------------------------------------------
# streaming, localisation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("info", _params())
def test_streaming_flag_matches_the_streaming_api(info):
    det = make(info.name)
    has_api = all(
        callable(getattr(det, m, None)) for m in ("learn_one", "score_one", "partial_fit")
    )
    assert has_api == info.streaming, f"streaming={info.streaming} but API present: {has_api}"
    if not info.streaming:
        return
    train, test, _ = data(info)
    det.fit(train)
    point = test[0]
    value = det.score_one(point)
    assert isinstance(value, float) and math.isfinite(value)
    assert det.learn_one(point) is det
    assert det.partial_fit(test[:50]) is det
    value = det.score_one(test[60])
    assert isinstance(value, float) and math.isfinite(value)


@pytest.mark.parametrize("info", _params())
def test_localising_detectors_return_maps(info):
    _, test, _ = data(info)
    det, res = fitted(info.name)
    if not info.can_localise:
        return
    assert res.maps is not None, "can_localise is set but score() returned no maps"
    maps = np.asarray(res.maps)
    if info.modality == "image":
        assert maps.dtype == np.float32
        assert maps.shape == test.shape[:3], f"maps {maps.shape} for images {test.shape[:3]}"
    elif info.modality == "series":
        assert maps.shape[0] == len(test)
    elif info.modality == "video":
        assert maps.dtype == np.float32
        assert maps.shape == (test.shape[0] * test.shape[1], *test.shape[2:4])
    assert np.isfinite(maps).all()


# ---------------------------------------------------------------------------------------
# model files and state specs
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("info", _params())
def test_state_spec_is_declared_and_the_own_state_passes_it(info):
    det, _ = fitted(info.name)
    try:
        spec = det._state_spec()
    except NotImplementedError:
        pytest.fail(f"{info.name} declares no _state_spec()")
    arrays, meta = det._get_state()
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    verify_state(spec, arrays, json.loads(json.dumps(meta)))


@pytest.mark.parametrize("info", _params())
def test_save_load_gives_identical_scores(info, tmp_path):
    det, res = fitted(info.name)
    _, test, _ = data(info)
    loaded = nc.load(det.save(tmp_path / "m.normalcy"))
    assert type(loaded) is type(det)
    again = loaded.score(test)
    np.testing.assert_array_equal(again.scores, res.scores)
    if res.maps is not None:
        np.testing.assert_array_equal(again.maps, res.maps)


# ---------------------------------------------------------------------------------------
# bad and awkward input
# ---------------------------------------------------------------------------------------
def _bad_inputs(info, train) -> dict[str, Any]:
    if info.modality == "events":
        nested = train.copy()
        nested["user"] = nested["user"].astype(object)
        nested.at[nested.index[1], "user"] = ["a", "b"]
        return {
            "empty": train.iloc[:0],
            "no columns": train.iloc[:, :0],
            "array": train.to_numpy(),
            "list of ints": [1, 2, 3],
            "nested cell": nested,
        }
    if info.modality == "graph":
        from normalcy.graph.graphs import Graph

        ring = np.array([[0, 1, 2], [1, 2, 0]])
        return {
            "empty": [],
            "one graph, not a list": train[0],
            "strings": ["a", "b"],
            "graph without nodes": [Graph(0, np.zeros((2, 0), np.int64))],
            "NaN features": [(ring, np.full((3, 2), np.nan))],
        }
    if info.modality == "tabular":
        nan = train.copy()
        nan[3, 1] = np.nan
        return {
            "1-D": train[:, 0],
            "3-D": train[:, :, None],
            "NaN": nan,
            "inf": np.where(nan != nan, np.inf, train),
            "empty": np.empty((0, train.shape[1])),
            "strings": np.full(train.shape, "a"),
            # numbers in an object array are accepted (docs/usage.md); anything else is not
            "object with a string": np.where(np.arange(train.shape[1]) == 1, "x", train).astype(
                object
            ),
            "list of strings": [["a", "b"], ["c", "d"]],
        }
    if info.modality == "series":
        nan = train.copy()
        nan[5, 0] = np.nan
        return {
            "3-D": train[:, :, None],
            "NaN": nan,
            "empty": np.empty((0, train.shape[1])),
            "strings": np.full(train.shape, "a"),
            "list of strings": ["a", "b", "c"],
        }
    if info.modality == "logs":
        return {
            "no sessions": [],
            "a string": "one log line",
            "None keys": [["1", None]],
            "float keys": [[1.5, 2.5]],
            "records without events": [{"id": 1}],
            "a number": 7,
        }
    if info.modality == "nodes":
        n = train.n_nodes
        return {
            "no nodes": (np.zeros((2, 0), np.int64), None, 0),
            "NaN features": (train.edge_index, np.full((n, train.x.shape[1]), np.nan)),
            "edge to a missing node": (np.array([[0], [n + 3]]), train.x),
            "a list of graphs": [train, train],
            "a string": "graph",
        }
    if info.modality == "video":
        nan = train.astype(np.float32) / 255
        nan[0, 1, 2, 3] = np.nan
        return {
            "1-D": train.reshape(-1)[:64],
            "2-D": train[0, 0],
            "6-D": train[..., None, None],
            "NaN": nan,
            "5 channels": np.repeat(train[..., None], 5, axis=-1),
            "no clips": train[:0],
            "no frames": [train[0, :0]],
            "strings": np.full((1, 2, 16, 16), "a"),
            "int64": train.astype(np.int64),
            "tiny frames": train[:, :, :4, :4],
            "missing path": "no/such/clip.mp4",
            "a number": 7,
        }
    nan = train.astype(np.float32) / 255
    nan[0, 0, 0] = np.nan
    return {
        "1-D": train.reshape(-1)[:64],
        "5-D": train[:, :, :, None, None],
        "NaN": nan,
        "5 channels": np.repeat(train[..., None], 5, axis=-1),
        "empty": np.empty((0, 64, 64), np.uint8),
        "strings": np.full((2, 64, 64), "a"),
        "missing paths": ["no/such/image.png"],
    }


def _mismatched(info, test) -> Any:
    """Input whose width differs from the fit data (features, channels)."""
    if info.modality == "events":
        return test.drop(columns=test.columns[0])
    if info.modality == "graph":  # node features where the fitted graphs had node labels
        return [(np.array([[0, 1], [1, 0]]), np.ones((2, 3)))]
    if info.modality == "tabular":
        return np.hstack([test, test[:, :1]])
    if info.modality == "series":
        return np.hstack([test, test[:, :1]])
    if info.modality == "nodes":
        return (test.edge_index, np.hstack([test.x, test.x[:, :1]]))
    if info.modality == "video":  # frames of 5 channels where the fit had grey ones
        return np.repeat(test[..., None], 5, axis=-1)
    return None


@pytest.mark.parametrize("info", _params())
def test_bad_input_to_fit_is_an_input_error(info):
    train, _, _ = data(info)
    for label, bad in _bad_inputs(info, train).items():
        with pytest.raises(nc.InputError):
            make(info.name).fit(bad)
            pytest.fail(f"fit accepted {label} input")


@pytest.mark.parametrize("info", _params())
def test_bad_input_to_score_is_an_input_error(info):
    det, _ = fitted(info.name)
    _, test, _ = data(info)
    cases = _bad_inputs(info, test)
    mismatch = _mismatched(info, test)
    if mismatch is not None:
        cases["wrong width"] = mismatch
    for label, bad in cases.items():
        with pytest.raises(nc.InputError):
            det.score(bad)
            pytest.fail(f"score accepted {label} input")


def _awkward(info, train) -> dict[str, Any]:
    rng = np.random.default_rng(5)
    if info.modality == "events":
        missing = train.copy()
        missing["host"] = None
        return {
            "constant": train.iloc[[0] * len(train)].reset_index(drop=True),
            "all missing column": missing,
            "huge numbers": train.assign(bytes=train["bytes"] * 1e300),
        }
    if info.modality == "graph":
        from normalcy.graph.graphs import Graph

        bare = [Graph(g.n_nodes, np.zeros((2, 0), np.int64), None, g.node_labels) for g in train]
        single = [Graph(1, np.zeros((2, 0), np.int64), None, np.zeros(1, np.int64))] * 20
        return {"identical graphs": [train[0]] * len(train), "edgeless": bare, "one node": single}
    if info.modality == "tabular":
        return {
            "constant": np.ones_like(train),
            "constant column": np.hstack([train[:, :3], np.full((len(train), 1), 7.0)]),
            "duplicated rows": np.vstack([np.repeat(train[:3], 15, axis=0), train[:15]]),
            "huge": train * 1e6,
            "tiny": train * 1e-6,
        }
    if info.modality == "series":
        return {
            "constant": np.ones_like(train),
            "constant channel": np.hstack([train[:, :1], np.full((len(train), 1), 7.0)]),
            "repeated": np.tile(train[:50], (len(train) // 50, 1)),
            "huge": train * 1e6,
            "tiny": train * 1e-6,
        }
    if info.modality == "logs":
        from normalcy.logs.sessions import Sessions

        lines = [line for s in train.lines for line in s]
        return {
            "one repeated session": Sessions(ids=["a", "b"], lines=[lines[:9], lines[:9]]),
            "empty sessions too": [[], *[["1", "2", "3"]] * 5],
            "one event type": [["x"] * 8] * 6,
            "non-UTF-8 lines": [b"\xff" + x.encode() for x in lines],
        }
    if info.modality == "nodes":
        n = train.n_nodes
        return {
            "constant features": (train.edge_index, np.ones((n, train.x.shape[1]))),
            "no edges": (np.zeros((2, 0), np.int64), train.x),
            "huge features": (train.edge_index, train.x * 1e6),
        }
    if info.modality == "video":
        return {
            "black": np.zeros_like(train),
            "white": np.full_like(train, 255),
            "frozen": np.repeat(train[:, :1], train.shape[1], axis=1),
            "single-frame clips": train[:, :1],
            "faint": (0.5 + 1e-4 * rng.random(train.shape)).astype(np.float32),
        }
    return {
        "black": np.zeros_like(train),
        "white": np.full_like(train, 255),
        "duplicated": np.repeat(train[:1], len(train), axis=0),
        "faint": (0.5 + 1e-4 * rng.random(train.shape)).astype(np.float32),
    }


@pytest.mark.parametrize("info", _params())
def test_awkward_data_gives_finite_scores_or_an_input_error(info):
    train, test, _ = data(info)
    for label, X in _awkward(info, train).items():
        try:
            det = make(info.name).fit(X)
        except nc.InputError:
            continue  # refusing degenerate data with a clear message is allowed
        for what, Y in ((label, X), ("test", test)):
            res = det.score(Y)
            assert np.isfinite(res.scores).all(), f"non-finite scores on {what} after {label} fit"
            assert_scores_ok(info, res, Y)
