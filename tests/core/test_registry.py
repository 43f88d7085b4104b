"""The registry: metadata, creation by name, clear errors."""

from __future__ import annotations

import pytest

import normalcy as nc
from normalcy.core.registry import MODALITIES

REQUIRED_TABULAR = {
    "iforest",
    "ecod",
    "copod",
    "hbos",
    "knn",
    "lof",
    "pca",
    "ocsvm",
    "mcd",
    "loda",
    "cblof",
}


def test_pyod_detectors_are_registered_with_metadata():
    names = {d.name for d in nc.detectors("tabular")}
    assert REQUIRED_TABULAR <= names
    for info in nc.detectors():
        assert info.modality in MODALITIES
        assert info.paper and info.year > 1900
        assert "seed" in info.params, f"{info.name} takes no seed"


def test_create_passes_parameters_and_rejects_unknown_ones():
    det = nc.create("iforest", n_estimators=17, seed=3)
    assert det.n_estimators == 17 and det.seed == 3
    with pytest.raises(nc.InputError, match="no parameter"):
        nc.create("iforest", n_trees=5)


def test_unknown_detector_and_modality_name_the_choices():
    with pytest.raises(nc.UnknownDetectorError, match="registered detectors are"):
        nc.create("no-such-detector")
    with pytest.raises(nc.UnknownDetectorError, match="unknown modality"):
        nc.detectors("sound")


def test_register_rejects_bad_modality_and_duplicates():
    from normalcy.core.registry import register

    with pytest.raises(ValueError, match="unknown modality"):
        register("x", modality="sound", paper="p", year=2020)
    cls = nc.core.get_class("ecod")
    with pytest.raises(ValueError, match="already registered"):
        register("ecod", modality="tabular", paper="p", year=2020)(type("Other", (cls,), {}))


def test_scoring_before_fit_is_a_clear_error():
    with pytest.raises(nc.NotFittedError, match="call fit"):
        nc.create("ecod").score([[1.0, 2.0]])
