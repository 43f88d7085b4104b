"""Every tabular detector keeps its promises under hostile input: awkward but valid tables
give finite scores, invalid ones raise InputError naming the problem (never a numpy,
scikit-learn or torch error), and score-time columns are checked as scikit-learn does."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import normalcy as nc
from normalcy.tabular.input import MAX_ABS, as_tabular

NAMES = sorted(info.name for info in nc.detectors("tabular"))


def _quick(name: str, **extra):
    cls = nc.create(name).__class__
    return nc.create(name, **{**cls.quick_params, **extra})


def _awkward() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(24, 4))
    return {
        "constant columns": np.c_[base[:, :2], np.full(24, 3.0), np.zeros(24)],
        "one row repeated": np.tile(base[:1], (12, 1)),
        "1e150 scale": base * 1e150,
        "1e150 offset": 1e150 + base * 1e140,
        "1e-300 scale": base * 1e-300,
        "subnormal": base * 1e-310,
        "mixed scales": base * np.array([1e-300, 1.0, 1e150, 1e-5]),
        "two rows": base[:2],
        "many columns": rng.normal(size=(10, 40)),  # (MCD takes a minute at 10 x 150)
    }


@pytest.mark.parametrize("name", NAMES)
def test_awkward_tables_give_finite_scores(name):
    for case, X in _awkward().items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = _quick(name).fit(X)
            far = np.full((2, X.shape[1]), 1.0) + X.mean(axis=0)
            scores = np.r_[det.score(X).scores, det.score(far).scores]
        assert scores.dtype == np.float64, case
        assert np.isfinite(scores).all(), case


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"])
    out = {}
    for name in NAMES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = _quick(name).fit(frame)
    return frame, out


BAD_SCORE_INPUTS = {
    "wrong width": (np.zeros((3, 2)), "features"),
    "1-D": (np.zeros(3), "2-D"),
    "3-D": (np.zeros((2, 3, 1)), "2-D"),
    "empty": (np.zeros((0, 3)), "empty"),
    "NaN": (np.array([[0.0, np.nan, 0.0]]), "column(s) [1]"),
    "inf": (np.array([[0.0, 0.0, -np.inf]]), "column(s) [2]"),
    "huge": (np.array([[0.0, 1e200, 0.0]]), "column(s) [1]"),
    "ragged": ([[1.0, 2.0, 3.0], [1.0]], "could not be read"),
    "strings": (np.array([["x", "y", "z"]]), "non-numeric"),
    "complex": (np.array([[1.0, 1 + 2j, 0.0]]), "complex column(s) [1]"),
    "datetimes": (np.array([["2024-01-01"] * 3], dtype="datetime64[D]"), "date/time"),
    "objects": (np.array([[1.0, "x", 2.0]], dtype=object), "non-numeric column(s) [1]"),
}


@pytest.mark.parametrize("name", NAMES)
def test_invalid_score_input_raises_input_error_naming_the_problem(name, fitted):
    frame, detectors = fitted
    det = detectors[name]
    for case, (data, message) in BAD_SCORE_INPUTS.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(nc.InputError) as err:
                det.score(data)
        assert message in str(err.value), (case, str(err.value))
    frame_nan = frame.head(3).copy()
    frame_nan.loc[1, "b"] = np.nan
    with pytest.raises(nc.InputError, match=r"column\(s\) \['b'\]"):
        det.score(frame_nan)


@pytest.mark.parametrize("name", NAMES)
def test_columns_are_checked_as_scikit_learn_does(name, fitted):
    frame, detectors = fitted
    det = detectors[name]
    with pytest.raises(nc.InputError, match="different order"):
        det.score(frame[["b", "a", "c"]])
    with pytest.raises(nc.InputError, match=r"unseen at fit time: \['z'\]"):
        det.score(frame.rename(columns={"c": "z"}))
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        by_position = det.score(frame.to_numpy()).scores
    np.testing.assert_array_equal(by_position, det.score(frame).scores)


def test_names_after_an_array_fit_warn_and_are_taken_by_position():
    X = np.random.default_rng(2).normal(size=(30, 3))
    det = nc.create("hbos").fit(X)
    with pytest.warns(UserWarning, match="fitted without feature names"):
        named = det.score(pd.DataFrame(X, columns=["a", "b", "c"])).scores
    np.testing.assert_array_equal(named, det.score(X).scores)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # integer column labels are not feature names
        det.score(pd.DataFrame(X))


def test_feature_names_survive_a_model_file(tmp_path):
    frame = pd.DataFrame(np.random.default_rng(3).normal(size=(30, 2)), columns=["x", "y"])
    loaded = nc.load(nc.create("auto").fit(frame).save(tmp_path / "m.normalcy"))
    with pytest.raises(nc.InputError, match="different order"):
        loaded.score(frame[["y", "x"]])


def test_type_policy_of_frames():
    good = pd.DataFrame(
        {
            "flag": [True, False, True],  # booleans are 0/1
            "n": pd.array([1, 2, 3], dtype="Int64"),
            "boxed": np.array([1, 2.5, 3], dtype=object),  # object column of numbers
        }
    )
    np.testing.assert_array_equal(as_tabular(good)[:, 0], [1.0, 0.0, 1.0])
    cases = {
        "complex column(s) ['z']": pd.DataFrame({"a": [1.0, 2.0], "z": [1 + 1j, 2.0]}),
        "date/time column(s) ['t']": pd.DataFrame(
            {"a": [1.0, 2.0], "t": pd.to_datetime(["2024-01-01", "2024-01-02"])}
        ),
        "non-numeric column(s) ['c']": pd.DataFrame(
            {"a": [1.0, 2.0], "c": pd.Categorical(["x", "y"])}
        ),
        "column(s) ['n']": pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}),
        "mixed types": pd.DataFrame([[1.0, 2.0]], columns=["a", 0]),
        "duplicate column names": pd.DataFrame([[1.0, 2.0]], columns=["a", "a"]),
        "beyond": pd.DataFrame({"big": [1.0, -2 * MAX_ABS]}),
    }
    for message, frame in cases.items():
        with pytest.raises(nc.InputError) as err:
            as_tabular(frame)
        assert message in str(err.value), (message, str(err.value))


def test_sparse_input_is_refused_with_a_hint():
    from scipy import sparse

    with pytest.raises(nc.InputError, match="toarray"):
        as_tabular(sparse.csr_matrix(np.eye(3)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arrays(
        dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128]),
        shape=st.tuples(st.integers(0, 6), st.integers(0, 4)),
    )
)
def test_as_tabular_returns_finite_float64_or_raises_input_error(X):
    try:
        out = as_tabular(X)
    except nc.InputError:
        return
    assert out.dtype == np.float64 and out.shape == X.shape
    assert np.isfinite(out).all() and np.abs(out).max() <= MAX_ABS


@settings(max_examples=20, deadline=None)
@given(
    arrays(
        dtype=np.float64,
        shape=st.tuples(st.integers(2, 12), st.integers(1, 4)),
        elements=st.floats(-MAX_ABS, MAX_ABS, allow_nan=False, allow_subnormal=True),
    )
)
def test_the_default_detector_scores_any_valid_table_finitely(X):
    scores = nc.create("auto").fit(X).score(X).scores
    assert np.isfinite(scores).all()


BAD_FIT_INPUTS = {
    "one row": (np.zeros((1, 3)), "at least 2"),
    "1-D": (np.zeros(5), "2-D"),
    "empty": (np.zeros((0, 3)), "empty"),
    "NaN": (np.array([[0.0, 1.0], [np.nan, 2.0]]), "column(s) [0]"),
    "ragged": ([[1.0, 2.0], [1.0]], "could not be read"),
    "strings": ([["a", "b"], ["c", "d"]], "non-numeric"),
    "complex": (np.array([[1.0, 2j], [3.0, 4.0]]), "complex column(s) [1]"),
    "huge": (np.array([[1.0, 2.0], [1e155, 4.0]]), "column(s) [0]"),
}


@pytest.mark.parametrize("name", NAMES)
def test_invalid_training_input_raises_input_error(name):
    for case, (data, message) in BAD_FIT_INPUTS.items():
        with pytest.raises(nc.InputError) as err:
            _quick(name).fit(data)
        assert message in str(err.value), (case, str(err.value))
