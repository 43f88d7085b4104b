"""Pixel metrics: hand-computed curves, the AUPIMO and MVTec AUPRO references, edge cases."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from oracle_cases import AUPRO_LIMITS, digest, pixel_cases
from sklearn.metrics import roc_auc_score

import normalcy.metrics as M
from normalcy.core.errors import InputError

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def reference():
    data = json.loads((FIXTURES / "pixel_reference.json").read_text())
    return {c["name"]: c for c in data["cases"]}


@pytest.fixture(scope="module")
def cases(reference):
    out = {}
    for case in pixel_cases():
        assert digest(case["masks"], case["maps"]) == reference[case["name"]]["sha256"]
        out[case["name"]] = case
    return out


# ---------------------------------------------------------------------------- pixel AUROC


def test_pixel_auroc_matches_scikit_learn():
    rng = np.random.default_rng(3)
    masks = rng.random((4, 16, 16)) < 0.1
    maps = np.round(rng.random((4, 16, 16)) + masks * 0.3, 2).astype(np.float32)
    expected = roc_auc_score(masks.ravel(), maps.ravel())
    assert M.pixel_auroc(masks, maps) == pytest.approx(expected, abs=1e-12)


def test_pixel_auroc_empty_masks_is_nan():
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.pixel_auroc(np.zeros((2, 4, 4)), np.ones((2, 4, 4))))


# ---------------------------------------------------------------------------- AUPRO by hand


def test_aupro_single_region_by_hand():
    # region {0.9, 0.5}, normal {0.7, 0.3, 0.2, 0.1}; curve: (0, .5) (.25, .5) (.25, 1) ... (1, 1)
    masks = np.array([[[1, 1, 0], [0, 0, 0]]])
    maps = np.array([[[0.9, 0.5, 0.7], [0.1, 0.2, 0.3]]])
    assert M.aupro(masks, maps, fpr_limit=0.25) == pytest.approx(0.5)
    assert M.aupro(masks, maps, fpr_limit=0.3) == pytest.approx((0.125 + 0.05) / 0.3)
    assert M.aupro(masks, maps, fpr_limit=1.0) == pytest.approx(0.875)


def test_aupro_averages_regions_not_pixels():
    # image A: a one-pixel region at 0.9; image B: a three-pixel region {0.4, 0.4, 0.05}
    masks = np.array([[[1, 0], [0, 0]], [[1, 1], [1, 0]]])
    maps = np.array([[[0.9, 0.1], [0.2, 0.3]], [[0.4, 0.4], [0.05, 0.6]]])
    # PRO: 0.5 after 0.9, 0.5 + 2/6 after 0.4; FPR steps of 1/4 at 0.6, 0.3, 0.2, 0.1
    assert M.aupro(masks, maps, fpr_limit=1.0) == pytest.approx(0.25 * 0.5 + 0.75 * (5 / 6))


def test_aupro_regions_are_8_connected():
    # the three defect pixels touch diagonally: one region (weights 1/3), not two (1/2, 1/4, 1/4)
    masks = np.array([[[1, 0, 0], [0, 1, 1]]])
    maps = np.array([[[0.9, 0.5, 0.5], [0.1, 0.2, 0.2]]])
    assert M.aupro(masks, maps, fpr_limit=1.0) == pytest.approx(2 / 3 * 1 / 3 + 1 / 3)


def test_aupro_constant_maps_and_single_pixel_defect():
    masks = np.zeros((3, 8, 8))
    masks[1, 4, 4] = 1
    assert M.aupro(masks, np.ones((3, 8, 8))) == pytest.approx(0.15)  # diagonal (0,0)-(1,1)
    maps = np.zeros((3, 8, 8))
    maps[1, 4, 4] = 1.0
    assert M.aupro(masks, maps) == pytest.approx(1.0)
    maps[1, 4, 4] = -1.0
    assert M.aupro(masks, maps) == pytest.approx(0.0)


def test_aupro_undefined_cases():
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.aupro(np.zeros((2, 4, 4)), np.ones((2, 4, 4))))
    with pytest.warns(M.UndefinedMetricWarning):
        assert np.isnan(M.aupro(np.ones((2, 4, 4)), np.ones((2, 4, 4))))


def test_aupro_single_image_2d_and_validation():
    masks = np.array([[1, 1, 0], [0, 0, 0]])
    maps = np.array([[0.9, 0.5, 0.7], [0.1, 0.2, 0.3]])
    assert M.aupro(masks, maps, fpr_limit=1.0) == pytest.approx(0.875)
    png_style = (masks * 255).astype(np.uint8)  # masks read from 0/255 images
    assert M.aupro(png_style, maps, fpr_limit=1.0) == pytest.approx(0.875)
    with pytest.raises(InputError, match="expected only 0"):
        M.aupro(masks * 2, maps)
    with pytest.raises(InputError, match="NaN"):
        M.aupro(masks, np.where(masks, np.nan, maps))
    with pytest.raises(InputError, match="shape"):
        M.aupro(masks, maps[:, :2])
    with pytest.raises(InputError, match="fpr_limit"):
        M.aupro(masks, maps, fpr_limit=0.0)


# ---------------------------------------------------------------------------- AUPRO vs MVTec


@pytest.mark.parametrize("name", [c["name"] for c in pixel_cases()])
def test_aupro_matches_mvtec_reference(name, cases, reference):
    case, ref = cases[name], reference[name]
    for limit in AUPRO_LIMITS:
        expected = ref["aupro"][str(limit)]
        got = M.aupro(case["masks"], case["maps"], fpr_limit=limit)
        assert got == pytest.approx(expected, abs=1e-5), limit


def test_aupro_converges_to_the_reference_with_more_bins(cases, reference):
    case, ref = cases["default_bounds"], reference["default_bounds"]
    got = M.aupro(case["masks"], case["maps"], fpr_limit=0.3, n_thresholds=3_000_000)
    # the MVTec code accumulates its FPR in float32: agreement to ~1e-7 is all it allows
    assert got == pytest.approx(ref["aupro"]["0.3"], abs=1e-7)


# ---------------------------------------------------------------------------- AUPIMO


@pytest.mark.parametrize("name", [c["name"] for c in pixel_cases()])
def test_aupimo_matches_reference_per_image(name, cases, reference):
    case, ref = cases[name], reference[name]
    kw = dict(case["aupimo"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = M.aupimo(case["masks"], case["maps"], **kw)
    # both implementations warn when a bound is missed by more than 1%
    ours = any("only reached" in str(w.message) for w in caught)
    assert ours == any("not exactly achieved" in w for w in ref["aupimo_warnings"])
    expected = np.array([np.nan if v is None else v for v in ref["aupimo_scores"]])
    assert res.n_points == ref["aupimo_n_points"]
    np.testing.assert_array_equal(np.isnan(res.scores), np.isnan(expected))
    np.testing.assert_allclose(res.scores, expected, atol=1e-9, equal_nan=True)
    assert res.mean == pytest.approx(np.nanmean(expected), abs=1e-9)
    np.testing.assert_array_equal(res.anomalous, ~np.isnan(expected))


def _aupimo_layout(defect_scores):
    """10 normal 10x10 images scored 0..999 and one anomalous image with a 10-pixel defect."""
    normal = np.arange(1000, dtype=np.float64).reshape(10, 10, 10)
    anomalous = np.full((1, 10, 10), 500.0)
    masks = np.zeros((11, 10, 10), bool)
    masks[10, 0] = True
    anomalous[0, 0] = defect_scores
    return masks, np.concatenate([normal, anomalous])


@pytest.mark.filterwarnings("ignore:AUPIMO may be inaccurate")
def test_aupimo_by_hand():
    # thresholds 0, 1, ..., 999 (n_thresholds=1000): FPR at threshold k is (1000 - k) / 1000,
    # so the bounds 1e-2 and 1e-1 are met exactly at k = 990 and k = 900
    kw = {"fpr_bounds": (1e-2, 1e-1), "n_thresholds": 1000}
    masks, maps = _aupimo_layout([2000.0] * 10)
    res = M.aupimo(masks, maps, **kw)
    assert res.scores[10] == pytest.approx(1.0) and np.isnan(res.scores[:10]).all()
    assert float(res) == pytest.approx(1.0) and res.n_points == 91
    masks, maps = _aupimo_layout([2000.0] * 5 + [-1.0] * 5)
    assert M.aupimo(masks, maps, **kw).mean == pytest.approx(0.5)
    masks, maps = _aupimo_layout([-1.0] * 10)
    assert M.aupimo(masks, maps, **kw).mean == pytest.approx(0.0)
    # half the defect always found, the other half once FPR >= 0.051 (threshold <= 949)
    masks, maps = _aupimo_layout([2000.0] * 5 + [949.5] * 5)
    log = math.log
    expected = (
        0.5 * (log(0.050) - log(0.01)) + 0.75 * (log(0.051) - log(0.050)) + (log(0.1) - log(0.051))
    ) / log(10)
    assert M.aupimo(masks, maps, **kw).mean == pytest.approx(expected, abs=1e-12)


def test_aupimo_undefined_cases():
    masks, maps = _aupimo_layout([2000.0] * 10)
    with pytest.warns(M.UndefinedMetricWarning, match="no normal image"):
        res = M.aupimo(masks[10:], maps[10:])
    assert np.isnan(res.mean) and res.scores.shape == (1,)
    with pytest.warns(M.UndefinedMetricWarning, match="no image has a defect"):
        assert np.isnan(M.aupimo(masks[:10], maps[:10]).mean)
    with pytest.warns(M.UndefinedMetricWarning, match="constant"):
        assert np.isnan(M.aupimo(masks, np.ones_like(maps)).mean)
    # 1,000 normal pixels cannot reach an FPR of 1e-5
    with pytest.warns(M.UndefinedMetricWarning, match="normal pixels"):
        assert np.isnan(M.aupimo(masks, maps).mean)
    with pytest.raises(ValueError, match="fpr_bounds"):
        M.aupimo(masks, maps, fpr_bounds=(1e-2, 1e-3))
