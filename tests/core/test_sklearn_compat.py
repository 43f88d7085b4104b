"""scikit-learn compatibility: get/set_params, fit(X, y), clone, Pipeline, and the
outlier-detector names score_samples / decision_function / predict."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(300, 4)) * [1.0, 10.0, 100.0, 0.1]
X_OUT = np.vstack([RNG.normal(size=(20, 4)) * [1.0, 10.0, 100.0, 0.1], [[8, 80, 800, 0.8]]])


def test_get_params_and_set_params_follow_the_estimator_contract():
    det = nc.create("iforest", n_estimators=25, seed=3)
    params = det.get_params(deep=True)
    assert params["n_estimators"] == 25 and params["seed"] == 3
    assert det.get_params(deep=False) == params  # no nested estimators
    assert det.set_params(n_estimators=40) is det and det.n_estimators == 40
    with pytest.raises(nc.InputError, match="no parameter"):
        det.set_params(n_trees=3)


def test_set_params_checks_declared_constraints():
    from normalcy.core.constraints import Integral, Interval
    from normalcy.tabular.base import TabularDetector

    class Toy(TabularDetector):
        _parameter_constraints = {"k": [Interval(Integral, 1, None)], "seed": [int]}

        def __init__(self, k: int = 3, seed: int = 0):
            self.k = k
            self.seed = seed

    det = Toy()
    with pytest.raises(nc.InputError, match="'k' must be an int in"):
        det.set_params(k=0)
    assert det.k == 3  # nothing changed
    assert det.set_params(k=5).k == 5
    assert clone(det).get_params() == {"k": 5, "seed": 0}


def test_clone_gives_an_unfitted_copy_with_equal_params():
    det = nc.create("iforest", n_estimators=30, seed=7).fit(X)
    copy = clone(det)
    assert type(copy) is type(det) and copy is not det
    assert copy.get_params() == det.get_params()
    assert not copy.is_fitted and copy.threshold is None


def test_fit_accepts_and_ignores_labels():
    y = np.zeros(len(X))
    a = nc.create("iforest", n_estimators=30, seed=1).fit(X, y).score(X_OUT).scores
    b = nc.create("iforest", n_estimators=30, seed=1).fit(X).score(X_OUT).scores
    assert np.array_equal(a, b)
    assert nc.create("iforest").info.uses_labels is False


def test_pipeline_of_scaler_and_detector():
    pipe = Pipeline([("scale", StandardScaler()), ("det", nc.create("knn"))])
    assert pipe.fit(X) is pipe
    det = pipe.named_steps["det"]
    assert det.is_fitted and det.n_features_in_ == 4
    scaled = StandardScaler().fit(X).transform(X_OUT)
    expected = det.score(scaled).scores
    assert np.allclose(pipe.score_samples(X_OUT), -expected)  # sklearn: higher = more normal
    assert np.argmin(pipe.score_samples(X_OUT)) == len(X_OUT) - 1
    with pytest.raises(nc.NotFittedError, match="calibrate"):
        pipe.predict(X_OUT)
    det.calibrate(StandardScaler().fit(X).transform(X[:200]), fpr=0.05)
    pred = pipe.predict(X_OUT)
    assert set(np.unique(pred)) <= {-1, 1} and pred[-1] == -1
    decision = pipe.decision_function(X_OUT)
    assert np.allclose(decision, det.threshold.value - expected)
    assert np.array_equal(decision < 0, pred == -1)
    refit = clone(pipe).fit(X)
    assert np.allclose(refit.score_samples(X_OUT), pipe.score_samples(X_OUT))
    pipe.set_params(det__n_neighbors=7)
    assert pipe.named_steps["det"].n_neighbors == 7


def test_sklearn_sees_fitted_state():
    from sklearn.exceptions import NotFittedError as SkNotFitted
    from sklearn.utils.validation import check_is_fitted

    det = nc.create("iforest", n_estimators=20)
    with pytest.raises(SkNotFitted):
        check_is_fitted(det)
    check_is_fitted(det.fit(X))
