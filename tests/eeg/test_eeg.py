"""EEG segments: a spiky segment outscores normal ones for both detectors, EEGFormer's
codebook usage and per-patch maps, input policies, save/load identity, and Bonn (slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import normalcy as nc
from conftest import shared_dataset
from normalcy.metrics.ranking import auroc

QUICK_EEGFORMER = {"epochs": 15, "dim": 16, "heads": 2, "patch_len": 16, "codebook_size": 16}


def _segments(n: int, seed: int, length: int = 256) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(length)
    freq = rng.uniform(8, 12, (n, 1))  # alpha-like rhythm
    return np.sin(2 * np.pi * freq * t / 128 + rng.uniform(0, 6, (n, 1))) + 0.3 * rng.normal(
        size=(n, length)
    )


def _spiky(n: int, seed: int) -> np.ndarray:
    X = _segments(n, seed)
    X[:, 40::50] += 5.0  # spike-and-wave-like discharges
    return X


@pytest.mark.parametrize(
    "name, params",
    [("line_length", {"sampling_rate": 128.0}), ("eegformer", QUICK_EEGFORMER)],
)
def test_spiky_segments_outscore_normal_ones(name, params):
    det = nc.create(name, **params).fit(_segments(60, 0))
    normal, spiky = det.score(_segments(20, 1)).scores, det.score(_spiky(5, 2)).scores
    y = np.r_[np.zeros(20), np.ones(5)]
    assert auroc(y, np.r_[normal, spiky]) > 0.95


def test_eegformer_maps_codes_and_round_trip(tmp_path):
    det = nc.create("eegformer", **{**QUICK_EEGFORMER, "epochs": 2}).fit(_segments(20, 0))
    X = _spiky(3, 2)
    res = det.score(X)
    assert res.maps.shape == (3, 256 // 16)
    usage = res.extras["code_usage"]
    assert usage.shape == (3, 16) and (usage.sum(axis=1) == 256 // 16).all()
    again = nc.load(det.save(tmp_path / "e.normalcy")).score(X)
    np.testing.assert_array_equal(res.scores, again.scores)
    np.testing.assert_array_equal(res.maps, again.maps)


def test_segment_input_policies():
    det = nc.create("line_length", features="line_length").fit(_segments(10, 0))
    with pytest.raises(nc.InputError, match="256"):
        det.score(_segments(3, 1, length=200))
    bad = _segments(3, 1)
    bad[1, 7] = np.nan
    with pytest.raises(nc.InputError, match="segment 1 at sample 7"):
        det.score(bad)
    with pytest.raises(nc.InputError, match="channels"):
        det.score(np.stack([bad, bad], axis=-1))
    # N x T x C input is accepted and scored per segment
    multi = nc.create("line_length").fit(np.stack([_segments(10, 0)] * 2, axis=-1))
    assert multi.score(np.stack([_segments(4, 1)] * 2, axis=-1)).scores.shape == (4,)


@pytest.mark.parametrize("name", ["line_length"])
def test_hostile_segments_are_refused_or_scored_finite(name, tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))
    from hostile_cases import Context, attempt, data_cases

    ctx = Context(name=name, tmp=tmp_path)
    outcomes = [attempt(case, ctx) for case in data_cases(ctx)]
    bad = [f"{o.case}: {o.cause}: {o.message}" for o in outcomes if o.status == "violation"]
    assert not bad, "\n".join(bad)


@pytest.mark.slow
def test_line_length_separates_bonn_seizures():
    from normalcy.datasets.bonn import split

    data = split(shared_dataset("eeg/bonn"), fold=0)
    det = nc.create("line_length").fit(data.train)
    assert auroc(data.labels, det.score(data.test).scores) > 0.98
