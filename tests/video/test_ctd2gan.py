"""CT-D2GAN: planted motion anomalies peak and are localised, model files round-trip, and
training resumes from a checkpoint exactly where it stopped."""

from __future__ import annotations

import numpy as np
import pytest

import normalcy as nc
from normalcy.core.errors import InputError, ModelFileError
from normalcy.video.synthetic import make_clips

pytest.importorskip("torch")

SMALL = {
    "n_past": 2,
    "height": 32,
    "width": 32,
    "channels": [8, 16],
    "disc_channels": [8, 16],
    "heads": 2,
    "batch_size": 4,
    "threads": 1,
}


@pytest.fixture(scope="module")
def fitted():
    train = make_clips(n_clips=4, n_frames=16, size=(32, 32), seed=1)
    det = nc.create("ctd2gan", iterations=60, lr_g=1e-3, **SMALL).fit(train.clips)
    return det


@pytest.mark.parametrize("kind", ["wrong_way", "too_fast"])
def test_planted_object_peaks_and_is_localised(fitted, kind):
    test = make_clips(n_clips=1, n_frames=16, size=(32, 32), anomaly=kind, start=8, seed=2)
    res = fitted.score(test.clips)
    s = res.scores
    assert s.shape == (16,) and res.maps.shape == (16, 32, 32)
    planted, normal = s[8:], s[fitted.n_past : 8]  # the first frames have padded history
    assert planted.mean() > normal.max()
    assert np.argmax(s[fitted.n_past :]) + fitted.n_past >= 8
    # the planted square's pixels carry larger errors than the rest of the frame
    ratio = [
        res.maps[t][test.masks[0, t]].mean() / res.maps[t][~test.masks[0, t]].mean()
        for t in range(8, 16)
    ]
    assert min(ratio) > 1 and np.median(ratio) > 3


def test_clip_normalisation_ranks_within_each_clip(fitted):
    test = make_clips(n_clips=2, n_frames=10, size=(32, 32), anomaly="too_fast", start=5, seed=3)
    det = nc.create("ctd2gan", **{**fitted.get_params(), "normalise": "clip"})
    det.__dict__.update({k: v for k, v in fitted.__dict__.items() if k.endswith("_")})
    s = det.score(test.clips).scores.reshape(2, 10)
    assert np.allclose(s.min(axis=1), 0) and np.allclose(s.max(axis=1), 1)
    raw = fitted.score(test.clips).scores.reshape(2, 10)
    assert (np.argsort(s, axis=1) == np.argsort(raw, axis=1)).all()


def test_save_load_gives_identical_scores_and_maps(fitted, tmp_path):
    test = make_clips(n_clips=1, n_frames=6, size=(32, 32), anomaly="wrong_way", seed=4)
    path = fitted.save(tmp_path / "m.normalcy")
    again = nc.load(path)
    a, b = fitted.score(test.clips), again.score(test.clips)
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.maps, b.maps)


def test_stream_matches_batch_scores(fitted):
    clip = make_clips(n_clips=1, n_frames=6, size=(32, 32), seed=5).clips[0]
    batch = fitted.score([clip]).scores
    stream = fitted.stream()
    pushed = np.array([stream.push(frame)[0] for frame in clip])
    np.testing.assert_allclose(pushed, batch, rtol=1e-5, atol=1e-4)


def test_bad_sizes_are_input_errors():
    clips = make_clips(n_clips=1, n_frames=6, size=(32, 32), seed=1).clips
    with pytest.raises(InputError, match="multiples of 4"):
        nc.create("ctd2gan", **{**SMALL, "channels": [4, 8, 8], "height": 30}).fit(clips)
    with pytest.raises(InputError, match="heads"):
        nc.create("ctd2gan", **{**SMALL, "heads": 3}).fit(clips)


# -- resumable training -------------------------------------------------------------------
def _trainer(clips, iterations):
    import torch

    from normalcy.video import ctd2gan_nets as nets
    from normalcy.video.ctd2gan_train import TrainConfig, Trainer

    torch.manual_seed(0)
    cfg = TrainConfig(2, iterations, 2, 2e-4, 2e-5, 1.0, 1.0, 0.05, 0.05, seed=0)
    g = nets.build_generator(1, (4, 8), 2, 1)
    return Trainer(
        g,
        nets.build_image_discriminator(1, (4, 8)),
        nets.build_video_discriminator(1, (4, 8)),
        clips,
        cfg,
        torch.device("cpu"),
        {"test": 1},
    )


def _frames(seed=1):
    clips = make_clips(n_clips=2, n_frames=8, size=(16, 16), seed=seed).clips
    return [c[:, None].astype(np.float32) / 127.5 - 1 for c in clips]


def test_interrupted_training_resumes_exactly(tmp_path):
    from normalcy.torch_helpers import module_arrays, torch_session

    with torch_session(threads=1):
        _check_resume(tmp_path, module_arrays)


def _check_resume(tmp_path, module_arrays):
    ckpt = tmp_path / "run.ckpt"
    straight = _trainer(_frames(), 6)
    straight.run()
    first = _trainer(_frames(), 6)
    first.run(ckpt, checkpoint_every=2, stop_after=3)  # interrupted after 3 iterations
    assert first.iteration == 3 and ckpt.exists()
    resumed = _trainer(_frames(), 6)  # a new process: fresh networks, same settings
    resumed.run(ckpt, checkpoint_every=2)
    assert resumed.iteration == 6
    assert resumed.losses == pytest.approx(straight.losses, rel=1e-5)
    a, b = module_arrays(straight.g, ""), module_arrays(resumed.g, "")
    for key in a:
        np.testing.assert_allclose(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_detector_continues_training_from_its_checkpoint(tmp_path):
    clips = make_clips(n_clips=2, n_frames=8, size=(16, 16), seed=1).clips
    ckpt = str(tmp_path / "ctd2gan.ckpt")
    params = {**nc.create("ctd2gan").quick_params, "checkpoint": ckpt, "checkpoint_every": 2}
    first = nc.create("ctd2gan", **{**params, "iterations": 3}).fit(clips)
    more = nc.create("ctd2gan", **{**params, "iterations": 5}).fit(clips)
    assert first.n_iter_ == 3 and more.n_iter_ == 5
    assert more.loss_curve_[:3] == first.loss_curve_  # continued, not restarted
    with pytest.raises(InputError, match="other settings or data"):
        nc.create("ctd2gan", **{**params, "iterations": 6, "lambda_gd": 2.0}).fit(clips)
    with pytest.raises(InputError, match="beyond iterations"):
        nc.create("ctd2gan", **{**params, "iterations": 2}).fit(clips)


def test_corrupt_checkpoint_is_a_model_file_error(tmp_path):
    from normalcy.torch_helpers import torch_session

    ckpt = tmp_path / "bad.ckpt"
    ckpt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with torch_session(threads=1), pytest.raises(ModelFileError):
        _trainer(_frames(), 2).run(ckpt)
