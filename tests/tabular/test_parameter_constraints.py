"""Every parameter of every tabular detector has a real declared constraint: defaults and
quick settings satisfy it, and values of the wrong type or out of range are refused by
``create`` with an InputError naming the parameter."""

from __future__ import annotations

import inspect

import pytest

import normalcy as nc
from normalcy.core.constraints import check_value
from normalcy.tabular.pyod_detectors import PYOD_DETECTORS

NAMES = sorted(info.name for info in nc.detectors("tabular"))

# Values each detector must refuse (beyond the generic ones below).
OUT_OF_RANGE = {
    "iforest": {"n_estimators": 0, "max_samples": 1.5, "max_features": 0.0},
    "hbos": {"n_bins": 1, "alpha": -0.1, "tol": 2.0},
    "knn": {"n_neighbors": 0, "method": "max", "metric": "precomputed", "p": 0.5},
    "lof": {"novelty": False, "algorithm": "faiss", "leaf_size": 0},
    "pca": {"n_components": 1.0, "svd_solver": "magic", "tol": -1.0},
    "ocsvm": {"kernel": "precomputed", "nu": 0.0, "gamma": -1.0, "max_iter": -2},
    "mcd": {"support_fraction": 0.0},
    "loda": {"n_bins": 0, "n_random_cuts": 0},
    "cblof": {"n_clusters": 1, "alpha": 0.4, "beta": 1.0, "clustering_estimator": "kmeans"},
    "auto": {"families": ["knn", "knn"], "trim": 0.5, "min_agreement": 1.5},
    "fedpca": {"n_components": 1.0, "variant": "riemann", "client_fraction": 0.0, "rho": 0},
    "autoencoder": {"hidden_neuron_list": [], "dropout_rate": 1.0, "lr": 0.0},
    "deepsvdd": {"hidden_neurons": [0], "epochs": -1, "batch_size": 0},
    "dif": {"hidden_activation": "gelu", "n_ensemble": 0, "representation_dim": 0},
    "apre": {"hidden_neurons": [8, -1], "alpha": -1.0, "n_neighbors": 0},
    "mss": {"base": "iforest", "base_params": ["epoch_num"], "n_iter": -1},
}


def _params(name: str) -> dict:
    return next(i for i in nc.detectors("tabular") if i.name == name).params


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_is_declared_and_defaults_satisfy_it(name):
    cls = nc.create(name).__class__
    declared = cls._parameter_constraints
    assert set(declared) == set(_params(name)), name
    for key, value in {**_params(name), **cls.quick_params}.items():
        assert check_value(declared[key], value), (key, value)
    for key, forms in declared.items():
        assert object not in forms, key  # "anything" is not a constraint


@pytest.mark.parametrize("name", NAMES)
def test_values_of_the_wrong_type_are_refused_naming_the_parameter(name):
    for key in _params(name):
        for bad in (object(), float("nan"), "not-a-valid-value"):
            with pytest.raises(nc.InputError, match=repr(key)):
                nc.create(name, **{key: bad})


@pytest.mark.parametrize("name", sorted(OUT_OF_RANGE))
def test_values_out_of_range_are_refused(name):
    for key, bad in OUT_OF_RANGE[name].items():
        with pytest.raises(nc.InputError, match=repr(key)):
            nc.create(name, **{key: bad})


def test_the_pyod_table_declares_exactly_pyods_parameters():
    for name, path, _, _, constraints in PYOD_DETECTORS:
        assert set(constraints) | {"seed"} == set(_params(name)), name
        module, cls = path.split(":")
        assert inspect.isclass(getattr(__import__(module, fromlist=[cls]), cls))


def test_seed_must_be_a_non_negative_int():
    for bad in (-1, 1.5, True, None):
        with pytest.raises(nc.InputError, match="'seed'"):
            nc.create("iforest", seed=bad)
