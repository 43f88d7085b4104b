"""The video baselines on synthetic moving squares: planted objects peak and are localised;
streaming, short clips, save/load and resumable training."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.metrics.ranking import auroc
from normalcy.video.synthetic import make_clips

SIZE = (32, 48)
BIG = (48, 64)
FAST = {"input_height": 96, "flow_height": 48, "max_bank": 512, "verbose": False}


@pytest.fixture(scope="module")
def train():
    return make_clips(n_clips=3, n_frames=16, size=SIZE, seed=0).clips


@pytest.fixture(scope="module")
def baseline():
    return nc.create("video_patchcore", **FAST).fit(
        make_clips(n_clips=3, n_frames=16, size=BIG, seed=0).clips
    )


@pytest.mark.parametrize("kind", ["too_fast", "appearance"])
def test_baseline_peaks_on_the_planted_object_and_localises_it(baseline, kind):
    planted = make_clips(n_clips=1, n_frames=16, size=BIG, anomaly=kind, start=8, seed=1)
    res = baseline.score(planted.clips)
    labels = planted.labels.ravel()
    assert labels[int(np.argmax(res.scores))] == 1
    assert auroc(labels, res.scores) > 0.9
    for t in range(9, 16):  # the peak lies on the object or the path it just took
        peak = np.array(np.unravel_index(res.maps[t].argmax(), BIG))
        centre = np.argwhere(planted.masks[0, t]).mean(axis=0)
        assert np.abs(peak - centre).max() <= 12, (t, peak, centre)
    assert res.index.names == ["clip", "frame"] and len(res.index) == 16


def test_baseline_stream_matches_batch_scores_without_smoothing(train):
    det = nc.create("video_patchcore", **{**FAST, "temporal_sigma": 0.0}).fit(train)
    clip = make_clips(n_clips=1, n_frames=6, size=SIZE, anomaly="too_fast", seed=2).clips[0]
    batch = det.score(clip).scores
    stream = det.stream()
    online = [stream.push(frame)[0] for frame in clip]
    np.testing.assert_allclose(online, batch, rtol=1e-4, atol=1e-5)


def test_single_frame_clips_are_padded_or_refused(baseline):
    one = make_clips(n_clips=2, n_frames=1, size=SIZE, seed=3).clips
    assert baseline.score(one).scores.shape == (2,)
    pred = nc.create("frame_prediction", **nc.core.get_class("frame_prediction").quick_params)
    pred.verbose = False
    pred.fit(make_clips(n_clips=1, n_frames=6, size=SIZE, seed=4).clips)
    assert pred.score(one).scores.shape == (2,)
    pred.on_short_clip = "error"
    with pytest.raises(nc.InputError, match="needs at least 5"):
        pred.score(one)


def test_frame_prediction_flags_the_wrong_way_object(train):
    det = nc.create(
        "frame_prediction",
        input_height=16,
        width=8,
        n_steps=150,
        normalise="none",
        num_threads=1,
        verbose=False,
    ).fit(train)
    planted = make_clips(n_clips=1, n_frames=16, size=SIZE, anomaly="wrong_way", start=8, seed=1)
    res = det.score(planted.clips)
    labels = planted.labels.ravel()
    # frames with a full history; normal frames where a square wraps around are hard too
    assert auroc(labels[4:], res.scores[4:]) > 0.7
    inside = np.mean([res.maps[t][planted.masks[0, t]].mean() for t in range(9, 16)])
    outside = np.mean([res.maps[t][~planted.masks[0, t]].mean() for t in range(9, 16)])
    assert inside > 2 * outside


def test_frame_prediction_training_resumes_from_its_checkpoint(train, tmp_path):
    ck = tmp_path / "unet.safetensors"
    common = {"input_height": 16, "width": 4, "checkpoint_every": 5, "verbose": False}
    nc.create("frame_prediction", n_steps=10, checkpoint=str(ck), **common).fit(train)
    resumed = nc.create("frame_prediction", n_steps=20, checkpoint=str(ck), **common).fit(train)
    straight = nc.create("frame_prediction", n_steps=20, **common).fit(train)
    clip = train[:1]
    np.testing.assert_array_equal(resumed.score(clip).scores, straight.score(clip).scores)
    other = nc.create("frame_prediction", n_steps=20, checkpoint=str(ck), **{**common, "width": 8})
    with pytest.raises(nc.InputError, match="other parameters"):
        other.fit(train)
