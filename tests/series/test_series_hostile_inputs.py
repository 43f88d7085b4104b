"""Series detectors under hostile input: awkward scales and shapes give finite scores; bad
values, indexes, timestamps and stream points give ``InputError`` (never a raw exception)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import normalcy as nc
from normalcy.series.input import MAX_ABS, as_series, parse_timestamps

# small, fast settings per detector (the neural ones train one or two epochs)
FAST = {
    "channel_pca": {},
    "cnn_forecast": {"window": 8, "epochs": 1, "filters": 4, "hidden": 8},
    "conformal_knn": {"window": 8, "memory": 64, "calibration": 64, "horizon": 16,
                      "refractory": 8, "warmup": 16},
    "hpc_autoencoder": {"window": 8, "epochs": 1, "max_hidden": 16},
    "hypad": {"window": 8, "epochs": 1, "hidden": 4, "latent": 4, "max_windows": 64},
    "mp_discord": {"window": 8},
    "rola": {"threshold_window": 32, "correlation_window": 16, "warmup": 16},
    "sub_iforest": {"window": 8, "n_estimators": 10},
    "sub_knn": {"window": 8, "n_neighbors": 3},
    "sub_pca": {"window": 8, "refresh": 16, "warmup": 32},
    "usad": {"window": 4, "epochs": 1, "latent": 4},
}  # fmt: skip
NAMES = sorted(FAST)
STREAMING = ("conformal_knn", "rola", "sub_pca")


def _base(n: int = 240, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return np.sin(2 * np.pi * t / 24) + 0.1 * rng.standard_normal(n)


def _awkward() -> dict[str, np.ndarray]:
    base = _base()
    spike = base.copy()
    spike[120] = 50.0
    flat = base.copy()
    flat[40:200] = 0.0
    return {
        "constant": np.full(240, 3.0),
        "tiny": 1e-300 * base,
        "huge": 1e150 * base,
        "spike": spike,
        "flat": flat,
        "zeros": np.zeros(240),
    }


def test_registry_lists_exactly_these_series_detectors():
    assert sorted(i.name for i in nc.detectors("series")) == NAMES


@pytest.mark.parametrize("case", sorted(_awkward()))
@pytest.mark.parametrize("name", NAMES)
def test_awkward_series_give_finite_scores(name, case):
    X = _awkward()[case]
    det = nc.create(name, **FAST[name]).fit(X)
    for Y in (X, _base(120, seed=1) * (np.abs(X).max() or 1.0)):
        scores = det.score(Y).scores
        assert scores.shape == (Y.shape[0],)
        assert np.isfinite(scores).all(), (name, case)
    short = X[: det.min_length()]
    assert np.isfinite(det.score(short).scores).all()


@pytest.mark.parametrize("name", NAMES)
def test_scale_changes_nothing_for_scale_free_detectors(name):
    if name in ("hpc_autoencoder", "hypad"):
        pytest.skip("neural training is not bit-for-bit scale invariant")
    X = _base()
    ref = nc.create(name, **FAST[name]).fit(X).score(X).scores
    for factor in (1e-300, 1e150):
        got = nc.create(name, **FAST[name]).fit(X * factor).score(X * factor).scores
        np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6 * max(np.abs(ref).max(), 1.0))


def test_values_whose_squares_overflow_are_refused_with_the_channel():
    X = np.stack([_base(), _base()], axis=1)
    X[17, 1] = 1e300
    with pytest.raises(nc.InputError, match=r"channel 1 .* time step 17"):
        as_series(X)
    frame = pd.DataFrame({"cpu": _base(), "mem": _base()})
    frame.loc[5, "mem"] = -1e200
    with pytest.raises(nc.InputError, match="'mem'"):
        nc.create("sub_pca", window=8).fit(frame)
    assert as_series(np.full(10, MAX_ABS * 0.5)).length == 10


# -- streaming --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", STREAMING)
@pytest.mark.parametrize(
    "bad", [10**400, -(10**400), float("inf"), float("nan"), "1.5", None, True, [1.0, 2.0], 1e300]
)
def test_stream_points_are_validated(name, bad):
    det = nc.create(name, **FAST[name]).fit(_base())
    with pytest.raises(nc.InputError):
        det.learn_one(bad)
    with pytest.raises(nc.InputError):
        det.score_one(bad)


@pytest.mark.parametrize("name", STREAMING)
def test_score_one_is_finite_for_extreme_but_valid_points(name):
    det = nc.create(name, **FAST[name]).fit(1e-300 * _base())
    for x in (1e150, -1e150, 0.0, 1e-300, 5e-324, MAX_ABS * 0.9, 3):
        value = det.score_one(x)
        assert isinstance(value, float) and np.isfinite(value)
        det.learn_one(x)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=8))
def test_any_finite_float_stream_scores_finite_or_is_refused(points):
    det = nc.create("conformal_knn", **FAST["conformal_knn"]).fit(_base())
    for x in points:
        if abs(x) > MAX_ABS:
            with pytest.raises(nc.InputError):
                det.score_one(x)
            continue
        assert np.isfinite(det.score_one(x))
        det.learn_one(x)


# -- index ------------------------------------------------------------------------------------
def test_nat_in_the_index_is_refused():
    idx = pd.DatetimeIndex(
        ["2024-01-01", None, "2024-01-03"] + [f"2024-01-{d:02d}" for d in range(4, 30)]
    )
    with pytest.raises(nc.InputError, match="NaT"):
        as_series(pd.Series(np.arange(29.0), index=idx))


def test_mixed_index_types_are_refused():
    s = pd.Series(np.arange(4.0), index=pd.Index([1, "b", 3.0, pd.Timestamp("2024-01-01")]))
    with pytest.raises(nc.InputError, match="index holds mixed"):
        as_series(s)
    s = pd.Series(np.arange(3.0), index=pd.Index(["a", "b", "c"]))
    with pytest.raises(nc.InputError, match="index holds string"):
        as_series(s)


@pytest.mark.parametrize("stamps", [["2024-01-02", "2024-01-01"], ["2024-01-01", "2024-01-01"]])
def test_out_of_order_or_duplicate_timestamps_are_refused(stamps):
    s = pd.Series([1.0, 2.0], index=pd.DatetimeIndex(stamps))
    with pytest.raises(nc.InputError, match="strictly increasing"):
        as_series(s)


def test_timezone_aware_and_numeric_indexes_are_kept():
    idx = pd.date_range("2024-01-01", periods=5, freq="h", tz="Europe/Paris")
    assert as_series(pd.Series(np.arange(5.0), index=idx)).index.equals(idx)
    num = pd.Index([0.5, 1.0, 2.5])
    assert as_series(pd.Series([1.0, 2.0, 3.0], index=num)).index.equals(num)


@pytest.mark.parametrize(
    ("values", "unit"),
    [
        ([1_700_000_000, 1_700_000_060], "s"),
        ([1_700_000_000_000, 1_700_000_060_000], "ms"),
        ([1_700_000_000_000_000, 1_700_000_060_000_000], "us"),
        ([1_700_000_000_000_000_000, 1_700_000_060_000_000_000], "ns"),
    ],
)
def test_epoch_timestamp_units_are_inferred(values, unit):
    index = parse_timestamps(pd.Series(values))
    assert index[0] == pd.Timestamp(values[0], unit=unit)
    assert index[0].year == 2023


@pytest.mark.parametrize("values", [[1, 2, 3], [5e10, 6e10], [True, False]])
def test_ambiguous_numeric_timestamps_are_refused(values):
    with pytest.raises(nc.InputError, match="timestamp"):
        parse_timestamps(pd.Series(values))


def test_unparseable_or_missing_timestamps_are_refused():
    with pytest.raises(nc.InputError, match="could not be parsed"):
        parse_timestamps(pd.Series(["2024-01-01", "not a date"]))
    with pytest.raises(nc.InputError, match="missing"):
        parse_timestamps(pd.Series(["2024-01-01", None]))


def test_cli_reads_unix_seconds_as_seconds(tmp_path):
    from normalcy.cli import read_table

    path = tmp_path / "s.csv"
    pd.DataFrame({"timestamp": [1_700_000_000, 1_700_000_060], "value": [1.0, 2.0]}).to_csv(
        path, index=False
    )
    frame = read_table(path)
    assert frame.index[1] - frame.index[0] == pd.Timedelta(seconds=60)
    assert frame.index[0].year == 2023


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["sub_pca", "mp_discord", "rola"]),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=40, max_size=80),
)
def test_any_float_series_scores_finite_or_is_refused(name, values):
    X = np.asarray(values)
    try:
        det = nc.create(name, **FAST[name]).fit(X)
        scores = det.score(X[::-1].copy()).scores
    except nc.InputError:
        assert np.abs(X).max() > MAX_ABS
        return
    assert np.isfinite(scores).all()
