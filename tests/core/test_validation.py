"""Every input-validation case raises a specific, readable InputError."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from normalcy.image.input import as_images
from normalcy.series.input import as_series
from normalcy.tabular.input import as_tabular

RNG = np.random.default_rng(0)
GOOD = RNG.normal(size=(50, 3))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (np.empty((0, 3)), "empty"),
        (np.empty((5, 0)), "empty"),
        (np.arange(10.0), "must be 2-D"),
        (np.zeros((2, 3, 4)), "must be 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), "dtype"),
        (
            pd.DataFrame({"a": [1.0, 2.0], "colour": ["red", "blue"]}),
            "non-numeric column(s) ['colour']",
        ),
        (pd.DataFrame({"a": [1.0, np.nan], "b": [1.0, 2.0]}), "column(s) ['a']"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "column(s) [1]"),
        ([[1, 2], [3]], "could not be read"),
    ],
)
def test_tabular_rejects(data, message):
    with pytest.raises(nc.InputError) as err:
        as_tabular(data)
    assert message in str(err.value)


def test_tabular_feature_count_mismatch_between_fit_and_score():
    det = nc.create("hbos").fit(GOOD)
    with pytest.raises(nc.InputError, match="has 2 features but the detector was fitted on 3"):
        det.score(GOOD[:, :2])


def test_tabular_accepts_frames_and_lists():
    frame = pd.DataFrame(GOOD, columns=["x", "y", "z"])
    assert as_tabular(frame).shape == (50, 3)
    assert as_tabular(GOOD.tolist()).dtype == np.float64
    assert as_tabular(np.ones((4, 2), dtype=bool)).dtype == np.float64


@pytest.mark.parametrize(
    ("data", "kwargs", "message"),
    [
        (np.array([]), {}, "empty"),
        (np.zeros((3, 2, 2)), {}, "must be 1-D"),
        (np.arange(5.0), {"min_length": 10}, "needs at least 10"),
        (np.array([1.0, np.nan, 3.0]), {}, "first at time step 1"),
        (np.array(["a", "b"]), {}, "dtype"),
        (
            pd.Series(
                [1.0, 2.0, 3.0], index=pd.to_datetime(["2024-01-02", "2024-01-01", "2024-01-03"])
            ),
            {},
            "strictly increasing",
        ),
        (
            pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-01"])),
            {},
            "strictly increasing",
        ),
        (np.zeros((10, 2)), {"n_channels": 3}, "has 2 channel(s)"),
    ],
)
def test_series_rejects(data, kwargs, message):
    with pytest.raises(nc.InputError) as err:
        as_series(data, **kwargs)
    assert message in str(err.value)


def test_series_interpolation_policy_fills_gaps_linearly():
    data = as_series(np.array([1.0, np.nan, 3.0, np.nan]), nan_policy="interpolate")
    np.testing.assert_allclose(data.values[:, 0], [1.0, 2.0, 3.0, 3.0])


def test_series_keeps_datetime_index():
    idx = pd.date_range("2024-01-01", periods=5, freq="h")
    data = as_series(pd.DataFrame({"a": np.arange(5.0), "b": np.ones(5)}, index=idx))
    assert data.values.shape == (5, 2)
    assert (data.index == idx).all()
    assert data.columns == ["a", "b"]


def _write(path, content: bytes):
    path.write_bytes(content)
    return path


def test_image_rejects_corrupt_file(tmp_path):
    bad = _write(tmp_path / "bad.png", b"\x89PNG not really")
    with pytest.raises(nc.InputError, match="cannot read image file"):
        as_images([bad])


def test_image_rejects_missing_file(tmp_path):
    with pytest.raises(nc.InputError, match="does not exist"):
        as_images([tmp_path / "nope.png"])


def test_image_rejects_empty_folder(tmp_path):
    with pytest.raises(nc.InputError, match="holds no image files"):
        as_images(tmp_path)


def test_image_rejects_tiny_image(tmp_path):
    from PIL import Image

    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    with pytest.raises(nc.InputError, match="at least 8x8"):
        as_images(tmp_path)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 16, 16, 3), dtype=np.int64), "dtype int64"),
        (np.full((2, 16, 16), 3.0), "expected floats in [0, 1]"),
        (np.full((2, 16, 16), np.nan, dtype=np.float32), "NaN"),
        (np.zeros((16, 16), dtype=np.uint8), "expected (N, H, W)"),
        (np.zeros((2, 16, 16, 2), dtype=np.uint8), "(H, W, 3)"),
        (np.zeros((0, 16, 16), dtype=np.uint8), "empty"),
    ],
)
def test_image_array_rejects(array, message):
    with pytest.raises(nc.InputError) as err:
        as_images(array)
    assert message in str(err.value)


def test_image_mixed_sizes_policy():
    imgs = [np.zeros((16, 16), np.uint8), np.zeros((20, 24, 3), np.uint8)]
    source = as_images(imgs)
    assert source.output_size("resize") == (16, 16)
    assert source.load_all((16, 16)).shape == (2, 16, 16, 3)
    with pytest.raises(nc.InputError, match="different sizes"):
        source.output_size("error")


def test_image_part_of_a_larger_collection_takes_its_size():
    """A unit of a folder scored in pieces comes out at the folder's (first image's) size."""
    unit = as_images([np.zeros((20, 24, 3), np.uint8)] * 2).part_of((16, 16))
    assert len(unit) == 2 and unit.output_size("resize") == (16, 16)
    with pytest.raises(nc.InputError, match="different sizes"):
        unit.output_size("error")
    same = as_images([np.zeros((16, 16), np.uint8)]).part_of((16, 16))
    assert same.output_size("error") == (16, 16)


def test_image_grayscale_and_uint16_become_rgb_floats(tmp_path):
    from PIL import Image

    Image.fromarray(np.full((12, 12), 255, np.uint8)).save(tmp_path / "g.png")
    source = as_images(tmp_path)
    img = source[0]
    assert img.shape == (12, 12, 3) and img.dtype == np.float32 and img.max() == 1.0
    arr16 = as_images(np.full((1, 10, 10), 65535, np.uint16))[0]
    assert arr16.max() == 1.0


# -- the finiteness guard on every public output ------------------------------------------
def _constant_output_detector(values, maps=None):
    from normalcy.tabular.base import TabularDetector

    class Fixed(TabularDetector):
        def __init__(self, seed: int = 0):
            self.seed = seed

        def _fit(self, X):
            pass

        def _score(self, X):
            if maps is None:
                return np.asarray(values, dtype=np.float64)
            return nc.Scores(scores=np.zeros(len(X)), maps=np.asarray(maps))

    return Fixed().fit(GOOD)


def test_nan_scores_raise_naming_the_samples():
    det = _constant_output_detector([0.1, np.nan, 0.3, np.nan])
    with pytest.raises(nc.NonFiniteScoreError, match=r"2 sample\(s\) \(index 1, 3\)"):
        det.score(GOOD[:4])
    assert issubclass(nc.NonFiniteScoreError, nc.NormalcyError)


def test_infinite_scores_are_clipped_preserving_order():
    det = _constant_output_detector([np.inf, 1.0, -np.inf, 2.0])
    scores = det.score(GOOD[:4]).scores
    big = np.finfo(np.float64).max
    assert scores.tolist() == [big, 1.0, -big, 2.0]
    assert np.all(np.isfinite(scores)) and list(np.argsort(scores)) == [2, 1, 3, 0]


def test_maps_are_guarded_too():
    maps = np.zeros((3, 4, 4), dtype=np.float32)
    maps[1, 2, 2] = np.inf
    res = _constant_output_detector(None, maps).score(GOOD[:3])
    assert res.maps[1, 2, 2] == np.finfo(np.float32).max
    maps[2, 0, 0] = np.nan
    with pytest.raises(nc.NonFiniteScoreError, match=r"anomaly maps for 1 sample\(s\) \(index 2\)"):
        _constant_output_detector(None, maps).score(GOOD[:3])


def test_score_one_is_guarded():
    from normalcy.series.base import SeriesDetector

    class Stream(SeriesDetector):
        def __init__(self, value: float = 0.0):
            self.value = value

        def score_one(self, x):
            return self.value

    assert Stream(np.inf).score_one(1.0) == np.finfo(np.float64).max
    with pytest.raises(nc.NonFiniteScoreError):
        Stream(np.nan).score_one(1.0)


# -- input specs read from model files are validated ---------------------------------------
@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"n_features": "3"},
        {"n_features": 0},
        {"n_features": 10**7},
        {"n_features": True},
        {"n_features": 2.0},
        {"n_features": 2, "feature_names": ["a"]},
        {"n_features": 2, "feature_names": ["a", 3]},
        {"n_features": 2, "feature_names": "ab"},
        [1, 2],
    ],
)
def test_tabular_input_spec_from_a_file_is_checked(spec):
    from normalcy.tabular.base import TabularDetector

    with pytest.raises(nc.ModelFileError, match="input_spec"):
        TabularDetector()._set_input_spec(spec)


def test_valid_input_specs_are_restored():
    from normalcy.series.base import SeriesDetector
    from normalcy.tabular.base import TabularDetector

    det = TabularDetector()
    det._set_input_spec({"n_features": 2, "feature_names": ["a", "b"]})
    assert det.n_features_in_ == 2 and det.feature_names_in_ == ["a", "b"]
    series = SeriesDetector()
    series._set_input_spec({"n_channels": None})
    series._set_input_spec({"n_channels": 3})
    assert series.n_channels_ == 3
    for bad in ({"n_channels": -1}, {"n_channels": "3"}, {"n_channels": 10**9}):
        with pytest.raises(nc.ModelFileError, match="n_channels"):
            SeriesDetector()._set_input_spec(bad)
