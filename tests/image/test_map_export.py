"""Raw map export (.npy / .tiff), binary masks at the pixel threshold, overlays with a colour
bar, and the command line end to end (``normalcy fit --calibrate``, ``normalcy score
--maps-out --map-format --masks --maps-dir --recursive --glob``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from image_toys import noise_images, plant
from PIL import Image
from typer.testing import CliRunner

import normalcy as nc
from normalcy.cli import app
from normalcy.image.input import as_images
from normalcy.image.reader import read_map, write_maps

runner = CliRunner()


def _save(folder, name, img):
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((img * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture()
def mixed(tmp_path):
    folder = tmp_path / "imgs"
    _save(folder, "a.png", noise_images(1, 40, 56, seed=1)[0])
    _save(folder, "sub/b.png", noise_images(1, 32, 32, seed=2)[0])
    maps = [np.linspace(0, 1, 40 * 56, dtype=np.float32).reshape(40, 56),
            np.full((32, 32), 0.25, np.float32)]  # fmt: skip
    source = as_images(folder, recursive=True)
    return source, nc.Scores(scores=np.zeros(2), maps=maps), tmp_path


@pytest.mark.parametrize("fmt", ["npy", "tiff"])
def test_raw_maps_round_trip_exactly(mixed, fmt):
    source, res, tmp = mixed
    assert write_maps(source, res, tmp / "raw", kind="raw", map_format=fmt) == 2
    for name, m in zip(["a", "sub/b"], res.maps, strict=True):
        back = read_map(tmp / "raw" / f"{name}.{fmt}")
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, m)
    if fmt == "npy":  # plain arrays, loadable without pickle
        assert np.load(tmp / "raw" / "a.npy", allow_pickle=False).shape == (40, 56)


def test_masks_are_the_maps_above_the_pixel_threshold(mixed):
    source, res, tmp = mixed
    write_maps(source, res, tmp / "m", kind="mask", pixel_threshold=0.5)
    a = np.asarray(Image.open(tmp / "m" / "a_mask.png"))
    assert a.dtype == np.uint8 and set(np.unique(a)) <= {0, 255}
    np.testing.assert_array_equal(a == 255, res.maps[0] > 0.5)
    assert not np.asarray(Image.open(tmp / "m" / "sub" / "b_mask.png")).any()
    with pytest.raises(nc.InputError, match="pixel threshold"):
        write_maps(source, res, tmp / "m", kind="mask")


def test_overlays_keep_each_image_size_and_add_a_colour_bar(mixed):
    source, res, tmp = mixed
    write_maps(source, res, tmp / "o", pixel_threshold=0.5)
    a = np.asarray(Image.open(tmp / "o" / "a.png"))
    b = np.asarray(Image.open(tmp / "o" / "sub" / "b.png"))
    assert a.shape[0] == 40 and a.shape[1] > 56
    assert b.shape[0] == 32 and b.shape[1] > 32


def test_names_never_leave_the_output_folder(tmp_path):
    res = nc.Scores(scores=np.zeros(1), maps=np.zeros((1, 16, 16), np.float32))
    source = as_images(noise_images(1, 16, 16))
    source.names = ["../../escape.png"]
    write_maps(source, res, tmp_path / "out", kind="raw")
    assert (tmp_path / "out" / "escape.npy").exists()
    assert not (tmp_path / "escape.npy").exists()


def test_cli_end_to_end_mixed_sizes_recursive_glob_raw_maps_and_masks(tmp_path):
    train, hold, test = tmp_path / "train", tmp_path / "hold", tmp_path / "test"
    for i, img in enumerate(noise_images(6, 48, 48, seed=3)):
        _save(train, f"t{i}.png", img)
    for i, img in enumerate(noise_images(10, 48, 48, seed=4)):
        _save(hold, f"part{i % 2}/h{i}.png", img)
    _save(test, "ok/n.png", noise_images(1, 40, 64, seed=5)[0])
    _save(test, "bad/d.png", plant(noise_images(1, 40, 64, seed=6)[0], (10, 40, 20, 52)))
    _save(test, "bad/skip.jpg", noise_images(1, 48, 48, seed=7)[0])
    (test / "notes.txt").write_text("not an image")
    model = tmp_path / "m.normalcy"
    params = ["-p", "image_size=64", "-p", "num_threads=1", "-p", "verbose=false"]
    r = runner.invoke(app, ["fit", "padim", str(train), "-o", str(model), *params,
                            "--calibrate", str(hold), "--recursive", "--fpr", "0.1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert nc.load(model).threshold.pixel_value is not None
    out, raw, over = tmp_path / "s.csv", tmp_path / "raw", tmp_path / "over"
    r = runner.invoke(app, ["score", str(model), str(test), "-o", str(out), "--recursive",
                            "--glob", "**/*.png", "--maps-out", str(raw), "--map-format", "tiff",
                            "--masks", "--maps-dir", str(over)])  # fmt: skip
    assert r.exit_code == 0, r.output
    frame = pd.read_csv(out, index_col=0)
    assert list(frame.index) == ["bad/d.png", "ok/n.png"]  # sorted relative names
    assert frame.loc["bad/d.png", "score"] > frame.loc["ok/n.png", "score"]
    m = read_map(raw / "bad" / "d.tiff")
    assert m.shape == (40, 64)
    y, x = np.unravel_index(int(np.argmax(m)), m.shape)
    assert 7 <= y < 23 and 37 <= x < 55
    mask = np.asarray(Image.open(raw / "bad" / "d_mask.png")) > 0
    assert mask.shape == (40, 64) and mask[10:20, 40:52].mean() > 0.5
    assert np.asarray(Image.open(over / "ok" / "n.png")).shape[0] == 40


def test_cli_masks_need_a_pixel_threshold(tmp_path):
    folder = tmp_path / "imgs"
    for i, img in enumerate(noise_images(4, 40, 40)):
        _save(folder, f"{i}.png", img)
    model = tmp_path / "m.normalcy"
    params = ["-p", "image_size=64", "-p", "num_threads=1", "-p", "verbose=false"]
    assert (
        runner.invoke(app, ["fit", "padim", str(folder), "-o", str(model), *params]).exit_code == 0
    )
    r = runner.invoke(app, ["score", str(model), str(folder), "-o", str(tmp_path / "s.csv"),
                            "--maps-out", str(tmp_path / "raw"), "--masks"])  # fmt: skip
    assert r.exit_code != 0 and "pixel threshold" in r.output
    r = runner.invoke(app, ["score", str(model), str(folder), "-o", str(tmp_path / "s.csv"),
                            "--maps-out", str(tmp_path / "raw"), "--map-format", "png"])  # fmt: skip
    assert r.exit_code != 0 and "npy or tiff" in r.output
