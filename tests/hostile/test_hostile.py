"""Hostile input, a representative subset: zero violations of the promise allowed.

Every case must succeed with finite outputs or raise a ``nc.NormalcyError``; never a raw
library exception, a NaN/inf output or a silently wrong result. The full cross product of
detectors × cases runs in ``scripts/probe_hostile.py``; the cases live in
``hostile_cases.py``.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hostile_cases import (
    HOSTILE_VALUES,
    Case,
    Context,
    attempt,
    calibrate_cases,
    cli_cases,
    data_cases,
    image_file_variants,
    image_variants,
    is_heavy,
    lifecycle_cases,
    registry_cases,
    streaming_cases,
    unix_seconds_csv,
    width_cases,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import normalcy as nc

PROBE = Path(__file__).resolve().parents[2] / "scripts" / "probe_hostile.py"


def _violations(cases, ctx) -> list[str]:
    outcomes = [attempt(case, ctx) for case in cases if not is_heavy(case)]
    assert outcomes, "no cases ran"
    return [f"{o.case}: {o.cause}: {o.message}" for o in outcomes if o.status == "violation"]


def _assert_none(violations: list[str]) -> None:
    assert not violations, f"{len(violations)} violation(s):\n" + "\n".join(violations)


@pytest.fixture
def ctx_of(tmp_path):
    return lambda name: Context(name=name, tmp=tmp_path)


# ---------------------------------------------------------------------------------------
# the catalogue on a few cheap detectors
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["ecod", "knn"])
def test_tabular_data_calibrate_and_lifecycle(name, ctx_of):
    ctx = ctx_of(name)
    cases = [
        *data_cases(ctx),
        *width_cases(ctx),
        *calibrate_cases(),
        *lifecycle_cases(),
    ]
    _assert_none(_violations(cases, ctx))


@pytest.mark.parametrize("name", ["sub_knn", "conformal_knn"])
def test_series_data_calibrate_streaming_and_lifecycle(name, ctx_of):
    ctx = ctx_of(name)
    cases = [
        *data_cases(ctx),
        *width_cases(ctx),
        *calibrate_cases(),
        *lifecycle_cases(),
        *streaming_cases(ctx),
    ]
    _assert_none(_violations(cases, ctx))


@pytest.mark.parametrize("name", ["log_pca", "invariants"])
def test_log_data_calibrate_and_lifecycle(name, ctx_of):
    ctx = ctx_of(name)
    cases = [*data_cases(ctx), *calibrate_cases(), *lifecycle_cases()]
    _assert_none(_violations(cases, ctx))


def _probe(tmp_path, detectors: str, cases: str, timeout: float = 600) -> list[dict]:
    """Run ``scripts/probe_hostile.py`` on some cases in a child limited to 3 GiB of address
    space (cases that may allocate without bound never run in pytest's own process)."""
    out = tmp_path / "probe.json"
    cmd = [sys.executable, str(PROBE), "--detectors", detectors, "--no-cli", "--no-registry"]
    cmd += ["--cases", cases, "--mem-gb", "3", "--case-timeout", "120", "--json", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=timeout)
    return json.loads(out.read_text())


def _probe_violations(outcomes: list[dict]) -> list[str]:
    return [
        f"{o['batch']}: {o['case']}: {o['cause']}: {o['message']}"
        for o in outcomes
        if o["status"] == "violation"
    ]


def test_hostile_parameter_values(tmp_path):
    """create(param=hostile) for every parameter of a few cheap detectors; accepted values
    must still fit and score finitely (run in a memory-limited child: a huge accepted
    value could otherwise allocate without bound)."""
    names = ["iforest", "hbos", "sub_knn", "conformal_knn"]
    outcomes = _probe(tmp_path, ",".join(names), "^create:param")
    assert {o["batch"] for o in outcomes} == set(names)
    _assert_none(_probe_violations(outcomes))


def test_image_arrays_and_files_at_score_and_calibrate(tmp_path):
    ctx = Context(name="padim", tmp=tmp_path, copy_fitted=False)
    cases = [*data_cases(ctx, entries=("score", "calibrate")), *calibrate_cases()]
    _assert_none(_violations(cases, ctx))


def test_image_files_at_fit(ctx_of):
    ctx = ctx_of("padim")
    wanted = ("bomb", "corrupt", "zero-size", "16-bit", "LA", "palette", "1x1", "NaN float")
    all_variants = {**image_variants(ctx.train), **image_file_variants(ctx)}
    picked = {k: v for k, v in all_variants.items() if any(w in k for w in wanted)}
    cases = [
        Case("fit:data", label, lambda c, f=f: c.new().fit(f()).score(c.test))
        for label, f in picked.items()
    ]
    _assert_none(_violations(cases, ctx))


def test_memory_heavy_images_in_a_limited_child_process(tmp_path):
    """Decompression bombs and huge arrays: refused before they exhaust memory."""
    outcomes = _probe(tmp_path, "padim", "huge-dims|bomb")
    assert len(outcomes) >= 6
    _assert_none(_probe_violations(outcomes))


def test_registry_and_model_file_misuse(ctx_of):
    _assert_none(_violations(list(registry_cases()), ctx_of("ecod")))


def test_command_line(ctx_of):
    _assert_none(_violations(list(cli_cases()), ctx_of("ecod")))


# ---------------------------------------------------------------------------------------
# silently wrong results, tested explicitly
# ---------------------------------------------------------------------------------------
def _frame(X: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(X, columns=names)


@pytest.mark.parametrize("change", ["reordered", "renamed"])
def test_dataframe_scored_with_other_columns_is_refused(change):
    rng = np.random.default_rng(0)
    names = ["a", "b", "c"]
    det = nc.create("ecod").fit(_frame(rng.normal(size=(40, 3)), names))
    test = _frame(rng.normal(size=(5, 3)), names)
    other = test[names[::-1]] if change == "reordered" else test.set_axis(["x", "y", "z"], axis=1)
    with pytest.raises(nc.InputError):
        det.score(other)
    assert np.isfinite(det.score(test).scores).all()  # the right columns still score


def test_unix_seconds_timestamp_column_is_read_as_seconds(tmp_path):
    from normalcy.cli import read_table

    frame = read_table(unix_seconds_csv(tmp_path / "unix.csv"))
    assert frame.index[0] == pd.Timestamp(1_700_000_000, unit="s")
    assert frame.index[1] - frame.index[0] == pd.Timedelta(minutes=1)


def test_refit_leaves_no_stale_threshold():
    rng = np.random.default_rng(1)
    det = nc.create("ecod").fit(rng.normal(size=(50, 2)))
    det.calibrate(rng.normal(size=(50, 2)), fpr=0.1)
    det.fit(rng.normal(size=(50, 2)) * 100)
    assert det.threshold is None
    assert det.score(rng.normal(size=(5, 2))).labels is None


# ---------------------------------------------------------------------------------------
# hypothesis: arbitrary arrays and parameter values
# ---------------------------------------------------------------------------------------
FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.int64, np.uint8, np.bool_]),
    shape=hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=12),
    elements=None,
)
_FITTED: dict[str, nc.Detector] = {}


def _fitted(name: str) -> nc.Detector:
    if name not in _FITTED:
        _FITTED[name] = nc.create(name).fit(np.random.default_rng(0).normal(size=(40, 3)))
    return _FITTED[name]


def _finite_or_refused(call) -> None:
    try:
        out = call()
    except nc.NormalcyError:
        return
    scores = out.scores if isinstance(out, nc.Scores) else np.asarray([out.value])
    assert np.isfinite(scores).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(X=ARRAYS)
@pytest.mark.parametrize("name", ["ecod", "iforest"])
def test_arbitrary_arrays_score_finite_or_input_error(name, X):
    _finite_or_refused(lambda: _fitted(name).score(X))


@settings(max_examples=40, deadline=None)
@given(X=hnp.arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(1, 4)), elements=FLOATS))
def test_arbitrary_floats_fit_finite_or_input_error(X):
    _finite_or_refused(lambda: nc.create("ecod").fit(X).score(X))


PARAM_VALUES = st.one_of(
    st.text(max_size=5),
    FLOATS,
    st.integers(min_value=-5, max_value=300),  # huge valid sizes would only be slow
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=3),
    st.sampled_from(list(HOSTILE_VALUES.values())),
)


@settings(max_examples=60, deadline=None)
@given(value=PARAM_VALUES, key=st.sampled_from(["n_estimators", "max_samples", "max_features"]))
def test_arbitrary_iforest_parameters_are_refused_or_work(key, value):
    X = np.random.default_rng(0).normal(size=(30, 2))
    _finite_or_refused(lambda: nc.create("iforest", **{key: value}).fit(X).score(X))


@settings(max_examples=40, deadline=None)
@given(fpr=st.one_of(FLOATS, st.text(max_size=3), st.none(), st.integers(-5, 5)))
def test_arbitrary_fpr_is_refused_or_gives_a_finite_threshold(fpr):
    det = nc.create("ecod").fit(np.random.default_rng(0).normal(size=(40, 2)))
    try:
        threshold = det.calibrate(np.random.default_rng(1).normal(size=(40, 2)), fpr=fpr)
    except nc.NormalcyError:
        return
    assert math.isfinite(threshold.value)
    accepted_number = isinstance(fpr, (int, float)) and not isinstance(fpr, bool)
    assert fpr is None or (accepted_number and 0 <= fpr <= 1), f"fpr={fpr!r} was accepted"
