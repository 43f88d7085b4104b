"""RBDC/TBDC: a map that lights the anomalous object scores near 1, a wrong place near 0."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.video.region_metrics import region_track_curves


def _clip(n=12, size=32, start=5):
    masks = np.zeros((n, size, size), bool)
    for t in range(start, n):  # one object moving right: one track
        masks[t, 10:16, t : t + 6] = True
    return masks


def test_perfect_map_scores_one_and_wrong_place_scores_zero():
    masks = _clip()
    rng = np.random.default_rng(0)
    noise = rng.random(masks.shape) * 0.1
    good = region_track_curves([masks], [noise + masks])
    assert good.n_regions == 7 and good.n_tracks == 1
    assert good.rbdc > 0.9 and good.tbdc > 0.9
    elsewhere = np.roll(masks, 14, axis=1)
    bad = region_track_curves([masks], [noise + elsewhere])
    assert bad.rbdc < 0.1 and bad.tbdc < 0.1


def test_tracks_link_overlapping_regions_and_split_separate_objects():
    masks = _clip()
    masks[2:4, 25:30, 25:30] = True  # a second, separate object
    curves = region_track_curves([masks], [masks.astype(float)])
    assert curves.n_tracks == 2 and curves.n_regions == 9


def test_mismatched_or_nan_maps_are_refused():
    masks = _clip()
    with pytest.raises(nc.InputError, match="differ"):
        region_track_curves([masks], [masks[:, :16].astype(float)])
    bad = masks.astype(float)
    bad[0, 0, 0] = np.nan
    with pytest.raises(nc.InputError, match="NaN"):
        region_track_curves([masks], [bad])
