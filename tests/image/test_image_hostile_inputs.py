"""Hostile and awkward image input: odd file modes are read properly, broken files and bad
arrays are ``InputError`` naming what was wrong, and every image detector gives finite
scores and maps on constant, black, white and minimum-size images."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

import normalcy as nc
from normalcy.image import input as image_input
from normalcy.image.input import MIN_IMAGE_SIDE, as_images

RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(20, 24, 3), dtype=np.uint8)


def _read(path) -> np.ndarray:
    img = as_images(path)[0]
    assert img.shape == (20, 24, 3) and img.dtype == np.float32
    assert np.isfinite(img).all() and img.min() >= 0.0 and img.max() <= 1.0
    return img


# -- file modes ------------------------------------------------------------------------------


def test_grayscale_with_alpha_accepted(tmp_path):
    Image.fromarray(RGB).convert("LA").save(tmp_path / "la.png")
    img = _read(tmp_path / "la.png")
    expected = np.asarray(Image.fromarray(RGB).convert("L"), dtype=np.float32) / 255.0
    np.testing.assert_allclose(img[:, :, 0], expected, atol=1e-6)


def test_palette_with_transparency_accepted(tmp_path):
    pal = Image.fromarray(RGB).convert("P")
    pal.save(tmp_path / "p.png", transparency=0)
    img = _read(tmp_path / "p.png")
    expected = np.asarray(pal.convert("RGB"), dtype=np.float32) / 255.0
    np.testing.assert_allclose(img, expected, atol=1e-6)


def test_16_bit_png_scaled(tmp_path):
    deep = np.linspace(0, 65535, 20 * 24).reshape(20, 24).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    img = _read(tmp_path / "deep.png")
    np.testing.assert_allclose(img[:, :, 0], deep / 65535.0, atol=1e-6)
    assert img.max() == pytest.approx(1.0)


def test_cmyk_jpeg_converted(tmp_path):
    Image.fromarray(RGB).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    img = _read(tmp_path / "cmyk.jpg")
    assert abs(float(img.mean()) - RGB.mean() / 255.0) < 0.05


def test_pil_modes_accepted():
    base = Image.fromarray(RGB)
    for mode in ("1", "L", "LA", "P", "RGBA", "CMYK", "I", "F", "YCbCr"):
        im = base.convert(mode)
        if mode == "F":
            im = Image.fromarray(np.asarray(im) / 255.0)
        if mode == "I":
            im = Image.fromarray(np.asarray(base.convert("L")).astype(np.int32) * 257)
        img = as_images([im])[0]
        assert img.shape == (20, 24, 3) and np.isfinite(img).all(), mode
        assert 0.0 <= img.min() <= img.max() <= 1.0, mode


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_file_names_the_file(tmp_path, cut):
    Image.fromarray(RGB).save(tmp_path / "ok.png")
    data = (tmp_path / "ok.png").read_bytes()
    bad = tmp_path / "cut.png"
    bad.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(nc.InputError, match="cut.png"):
        as_images(bad)[0]


def test_corrupted_file_names_the_file(tmp_path):
    bad = tmp_path / "junk.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not an image" * 20)
    with pytest.raises(nc.InputError, match="junk.png"):
        as_images([bad])[0]
    text = tmp_path / "text.jpg"
    text.write_text("hello")
    with pytest.raises(nc.InputError, match="text.jpg"):
        as_images(text)


def test_decompression_bomb_is_input_error(tmp_path, monkeypatch):
    Image.fromarray(RGB).save(tmp_path / "big.png")
    monkeypatch.setattr(image_input, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(nc.InputError, match="big.png"):
        as_images(tmp_path / "big.png")
    monkeypatch.setattr(image_input, "MAX_IMAGE_PIXELS", 10**9)
    for limit in (300, 100):  # PIL's own guard: its warning, then its error
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(nc.InputError, match="big.png"):
            as_images(tmp_path / "big.png")
        with pytest.raises(nc.InputError, match="big.png"):
            image_input._read_file(tmp_path / "big.png")


# -- arrays ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arr, message",
    [
        (np.full((2, 16, 16), np.nan), "NaN"),
        (np.full((2, 16, 16), np.inf, dtype=np.float32), "NaN or infinite"),
        (np.full((2, 16, 16), 300, dtype=np.int64), r"\[0, 255\]"),
        (np.full((2, 16, 16), -1, dtype=np.int64), r"\[0, 255\]"),
        (np.full((2, 16, 16), 2.0), r"\[0, 1\]"),
        (np.zeros((2, 16, 16), dtype=object), "dtype object"),
        (np.zeros((2, 16, 16), dtype=np.complex64), "dtype complex64"),
        (np.zeros((2, 1, 1)), f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"),
        (np.zeros((2, 4, 40, 3)), f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"),
        (np.zeros((2, 16, 16, 2)), "expected"),
        (np.zeros((0, 16, 16)), "empty"),
    ],
)
def test_bad_arrays_are_input_errors(arr, message):
    with pytest.raises(nc.InputError, match=message):
        as_images(arr)
    with pytest.raises(nc.InputError, match=message):
        as_images(list(arr) if len(arr) else arr)


def test_integer_arrays_say_how_to_convert():
    with pytest.raises(nc.InputError, match=r"astype\(np.uint8\)"):
        as_images(np.full((1, 16, 16), 51, dtype=np.int64))


def test_one_pixel_pil_image_rejected_with_minimum():
    with pytest.raises(nc.InputError, match=f"at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"):
        as_images([Image.new("RGB", (1, 1))])


# -- detectors on awkward data -------------------------------------------------------------------

FEATURE = {"image_size": 64, "num_threads": 1, "verbose": False}
TRAINED = {"max_minutes": None, "verbose": False, "num_threads": 1, "max_steps": 2}
PARAMS = {
    "patchcore": {**FEATURE, "max_bank": 50},
    "padim": {**FEATURE, "n_features": 20},
    "gaussian": {**FEATURE, "layers": ["stage4", "stage6"]},
    "musc": FEATURE,
    "simplenet": {**FEATURE, **TRAINED, "eval_every": 1, "hidden": 8},
    "reverse_distillation": {**FEATURE, **TRAINED, "eval_every": 1, "embed": 16, "blocks": 1},
    "draem": {"image_size": 64, "recon_width": 2, "disc_width": 2, "batch_size": 2, **TRAINED},
    "efficientad": {
        **nc.create("efficientad").quick_params,
        **TRAINED,
        "teacher_steps": 2,
        "teacher_images": 4,
        "teacher_crop": None,
    },
}
# A covariance needs two training images; reverse distillation's bottleneck is 1x1 at
# image_size 64, and its batch norms need two values.
NEEDS_TWO = {"padim", "gaussian", "reverse_distillation"}
S = MIN_IMAGE_SIDE
BLACK = np.zeros((S, S, 3), dtype=np.uint8)
WHITE = np.full((S, S, 3), 255, dtype=np.uint8)
GREY = np.full((S, S, 3), 128, dtype=np.uint8)
NOISE = np.random.default_rng(1).integers(0, 256, size=(S, S, 3), dtype=np.uint8)


def _assert_finite(res, n: int) -> None:
    assert res.scores.shape == (n,) and np.isfinite(res.scores).all()
    if res.maps is not None:
        assert res.maps.shape == (n, S, S) and np.isfinite(res.maps).all()


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_constant_minimum_size_images_give_finite_scores(name):
    det = nc.create(name, **PARAMS[name]).fit(np.stack([GREY, GREY, GREY]))
    _assert_finite(det.score(np.stack([BLACK, WHITE, GREY, NOISE])), 4)
    det = nc.create(name, **PARAMS[name]).fit(np.stack([BLACK, BLACK]))
    _assert_finite(det.score(np.stack([WHITE, BLACK])), 2)


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_single_training_image(name):
    det = nc.create(name, **PARAMS[name])
    if name in NEEDS_TWO:
        with pytest.raises(nc.InputError, match="at least 2"):
            det.fit(WHITE[None])
        return
    det.fit(NOISE[None])
    _assert_finite(det.score(np.stack([WHITE, NOISE])), 2)


# -- any array: a valid image or an InputError, nothing else ------------------------------------

DTYPES = st.sampled_from(
    ["uint8", "uint16", "int8", "int32", "int64", "float16", "float32", "float64", "bool"]
)


@settings(max_examples=60, deadline=None)
@given(
    hnp.arrays(
        dtype=DTYPES,
        shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=12),
    )
)
def test_any_array_is_an_image_or_an_input_error(arr):
    try:
        source = as_images(arr)
        images = [source[i] for i in range(len(source))]
    except nc.InputError:
        return
    for img in images:
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
        assert np.isfinite(img).all() and 0.0 <= img.min() <= img.max() <= 1.0
