"""Video input: clips as arrays, frame folders and video files, and the documented policies."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import normalcy as nc
from normalcy.video.base import history
from normalcy.video.input import as_clips
from normalcy.video.synthetic import make_clips


@pytest.fixture(scope="module")
def clips():
    return make_clips(n_clips=2, n_frames=5, size=(24, 32), seed=0).clips


def test_arrays_batches_and_single_clips(clips):
    batch = as_clips(clips)
    assert batch.names == ["0000", "0001"] and batch.lengths == [5, 5]
    assert batch.size == (24, 32) and batch.channels == 1
    one = as_clips(clips[0])
    assert len(one) == 1 and one.n_frames == 5
    rgb = as_clips(np.repeat(clips[..., None], 3, axis=-1))
    assert rgb.channels == 3 and rgb.frames(1).shape == (5, 24, 32, 3)
    f = as_clips(clips.astype(np.float32) / 255).frames(0)
    np.testing.assert_allclose(f[..., 0], clips[0] / 255, atol=1e-6)


def test_frame_folders_and_folder_of_clips(clips, tmp_path):
    for c, clip in enumerate(clips):
        (tmp_path / f"{c:02d}").mkdir()
        for t, frame in enumerate(clip):
            Image.fromarray(frame).save(tmp_path / f"{c:02d}" / f"{t:03d}.png")
    batch = as_clips(tmp_path)
    assert batch.names == ["00", "01"]
    np.testing.assert_allclose(batch.frames(1)[..., 0], clips[1] / 255, atol=1e-6)
    assert as_clips(tmp_path / "01").n_frames == 5


def test_video_file_round_trip(clips, tmp_path):
    av = pytest.importorskip("av")
    path = tmp_path / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
        for frame in clips[0]:
            rgb = np.repeat(frame[..., None], 3, axis=-1)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    source = as_clips(path)
    assert source.names == ["clip"] and source.n_frames == 5 and source.channels == 3
    assert np.abs(source.frames(0)[..., 0] - clips[0] / 255).mean() < 0.05
    (tmp_path / "bad.mp4").write_bytes(b"garbage" * 20)
    with pytest.raises(nc.InputError, match="bad.mp4"):
        as_clips(tmp_path / "bad.mp4")


def test_size_changes_resize_or_refuse(clips):
    bigger = np.pad(clips[1], ((0, 0), (0, 8), (0, 8)))
    source = as_clips([clips[0], bigger])
    assert source.frames(1).shape == (5, 24, 32, 1)  # resized to the first frame's size
    with pytest.raises(nc.InputError, match="on_mixed_sizes"):
        as_clips([clips[0], bigger], on_mixed_sizes="error")


def test_corrupt_frames_refused_or_repeated(clips, tmp_path):
    for t, frame in enumerate(clips[0]):
        Image.fromarray(frame).save(tmp_path / f"{t:03d}.png")
    (tmp_path / "002.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(nc.InputError, match="002.png"):
        as_clips(tmp_path)
    source = as_clips(tmp_path, on_corrupt_frame="repeat")
    frames = source.frames(0)
    assert len(frames) == 5
    np.testing.assert_array_equal(frames[2], frames[1])  # the previous good frame


def test_channel_mismatch_converts_or_refuses(clips):
    rgb = np.repeat(clips[1][..., None], 3, axis=-1)
    source = as_clips([clips[0], rgb])
    assert source.channels == 1 and source.frames(1).shape[-1] == 1
    with pytest.raises(nc.InputError, match="channel"):
        as_clips([clips[0], rgb], on_channel_mismatch="error")


@pytest.mark.parametrize(
    "bad",
    [None, 3, "no/such/file.mp4", [], np.zeros((0, 4, 16, 16), np.uint8), np.zeros(5)],
)
def test_bad_input_is_an_input_error(bad):
    with pytest.raises(nc.InputError):
        as_clips(bad)


def test_history_pads_with_the_first_frame():
    np.testing.assert_array_equal(history(3, 3), [[0, 0, 0], [0, 0, 1], [0, 1, 2]])
