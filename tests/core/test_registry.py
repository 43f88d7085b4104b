"""The registry: metadata, creation by name, clear errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import normalcy as nc
from normalcy.core.modality import modality_names

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
        assert info.modality in modality_names()
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


def _toy_tabular_class():
    from normalcy.core.state_spec import ArraySpec, StateSpec
    from normalcy.tabular.base import TabularDetector

    class MeanDistance(TabularDetector):
        """Distance to the training mean (a toy)."""

        def __init__(self, seed: int = 0):
            self.seed = seed

        def _fit(self, X):
            self.mean_ = X.mean(axis=0)

        def _score(self, X):
            return np.linalg.norm(X - self.mean_, axis=1)

        def _get_state(self):
            return {"mean": self.mean_}, {}

        def _set_state(self, arrays, meta):
            self.mean_ = arrays["mean"]

        def _state_spec(self):
            return StateSpec(
                arrays={"mean": ArraySpec(("d",), "float64")}, dims={"d": self.n_features_in_}
            )

    return MeanDistance


def test_aliases_resolve_in_create_load_and_list(tmp_path):
    from typer.testing import CliRunner

    from normalcy.cli import app
    from normalcy.core.registry import register, unregister

    X = np.random.default_rng(0).normal(size=(40, 3))
    old = register("toy_old_test", modality="tabular", paper="p", year=2020)(_toy_tabular_class())
    try:
        path = nc.create("toy_old_test").fit(X).save(tmp_path / "m.normalcy")
    finally:
        unregister("toy_old_test")
    # the detector is renamed; its old name stays as an alias
    renamed = register(
        "toy_new_test", modality="tabular", paper="p", year=2020, aliases=("toy_old_test",)
    )(_toy_tabular_class())
    try:
        det = nc.create("toy_old_test")
        assert isinstance(det, renamed) and det.name == "toy_new_test"
        assert det.info.aliases == ("toy_old_test",)
        loaded = nc.load(path)  # a file written under the old name still loads
        assert loaded.name == "toy_new_test"
        assert np.allclose(loaded.score(X).scores, np.linalg.norm(X - X.mean(0), axis=1))
        out = CliRunner().invoke(app, ["list", "-m", "tabular"], terminal_width=250)
        assert out.exit_code == 0 and "toy_old_test" in out.output
        with pytest.raises(ValueError, match="already registered"):
            register("other_test", modality="tabular", paper="p", year=2020, aliases=("ecod",))(
                type("Other2", (old,), {})
            )
    finally:
        unregister("toy_new_test")
    with pytest.raises(nc.UnknownDetectorError):
        nc.create("toy_old_test")


def test_detector_index_is_current():
    """``normalcy/detector_index.json`` matches the registry (regenerate: normalcy docs)."""
    from normalcy.core.index import render_index
    from normalcy.core.registry import index_path

    assert index_path().read_text(encoding="utf-8") == render_index(), (
        "the detector index is stale; run `normalcy docs --out docs/detectors.md`"
    )


def test_create_tabular_imports_neither_torch_nor_other_families():
    code = (
        "import sys, normalcy as nc\n"
        "nc.create('iforest')\n"
        "heavy = [m for m in ('torch', 'normalcy.image.patchcore', 'normalcy.series.rola')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_list_imports_no_detector_module():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from normalcy.cli import app\n"
        "r = CliRunner().invoke(app, ['list'])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('LOADED', sorted(m for m in sys.modules if m == 'torch' or "
        "m.startswith('normalcy.tabular.pyod')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "LOADED []" in out.stdout, out.stdout + out.stderr
