"""Image scoring through the service: multipart ``files`` and base64 JSON give the scores of
``det.score`` on the same pixels, ``?maps=true`` adds the maps, bad images get 4xx."""

from __future__ import annotations

import base64
import io
import struct
import zlib

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

import normalcy as nc  # noqa: E402
from normalcy.serve import inputs  # noqa: E402
from normalcy.serve.app import create_app  # noqa: E402


def _png(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    im = Image.fromarray(arr)
    if mode is not None:
        im = im.convert(mode)
    im.save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(2)
    train = (rng.random((10, 64, 64)) * 80 + 80).astype(np.uint8)
    test = (rng.random((2, 64, 64)) * 80 + 80).astype(np.uint8)
    test[1, 20:32, 20:32] = 255  # the planted defect
    det = nc.create("patchcore", image_size=64, max_bank=500).fit(train)
    det.calibrate(np.concatenate([train, train[:2]]), fpr=0.2)
    folder = tmp_path_factory.mktemp("image-models")
    det.save(folder / "tiles.normalcy")
    app = create_app(folder)
    with TestClient(app) as client:
        yield client, det, test


def test_multipart_files_equal_score_with_maps(served):
    client, det, test = served
    expected = det.score(test)
    files = [("files", (f"t{i}.png", _png(img), "image/png")) for i, img in enumerate(test)]
    r = client.post("/models/tiles/score", files=files)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scores"] == pytest.approx(expected.scores.tolist(), rel=1e-6)
    assert body["labels"] == expected.labels.tolist()
    assert body["threshold"]["value"] == pytest.approx(det.threshold.value)
    assert "maps" not in body
    assert body["scores"][1] > body["scores"][0]

    r = client.post("/models/tiles/score", params={"maps": "true"}, files=files)
    assert r.status_code == 200, r.text
    maps = r.json()["maps"]
    assert len(maps) == 2
    for entry, m in zip(maps, expected.maps, strict=True):
        assert entry["shape"] == [64, 64]
        values = np.asarray(entry["values"]).reshape(entry["shape"])
        np.testing.assert_allclose(values, m, rtol=1e-4, atol=1e-6 * float(np.abs(m).max()))
    hot = np.asarray(maps[1]["values"]).reshape(64, 64)
    assert hot[20:32, 20:32].mean() > hot.mean()  # the map points at the defect


def test_base64_json_and_data_url(served):
    client, det, test = served
    expected = det.score(test).scores.tolist()
    encoded = [base64.b64encode(_png(img)).decode() for img in test]
    r = client.post("/models/tiles/score", json={"images": encoded})
    assert r.status_code == 200, r.text
    assert r.json()["scores"] == pytest.approx(expected, rel=1e-6)
    urls = [f"data:image/png;base64,{e}" for e in encoded]
    r = client.post("/models/tiles/score?maps=true", json={"images": urls})
    assert r.status_code == 200, r.text
    assert r.json()["scores"] == pytest.approx(expected, rel=1e-6)
    assert [m["shape"] for m in r.json()["maps"]] == [[64, 64], [64, 64]]


def test_other_modes_accepted(served):
    client, _, test = served
    files = [
        ("files", ("rgba.png", _png(test[0], "RGBA"), "image/png")),
        ("files", ("la.png", _png(test[0], "LA"), "image/png")),
        ("files", ("p.png", _png(test[0], "P"), "image/png")),
    ]
    r = client.post("/models/tiles/score", files=files)
    assert r.status_code == 200, r.text
    assert len(r.json()["scores"]) == 3


def _huge_png_header() -> bytes:
    """A valid small PNG whose header claims 30000 x 30000 pixels (a decompression bomb)."""
    data = bytearray(_png(np.zeros((8, 8), dtype=np.uint8)))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4 : ihdr + 12] = struct.pack(">II", 30000, 30000)
    crc = zlib.crc32(bytes(data[ihdr : ihdr + 17]))
    data[ihdr + 17 : ihdr + 21] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(
    ("files", "status", "fragment"),
    [
        ([("files", ("bad.png", b"\x89PNG\r\n\x1a\nnot really", "image/png"))], 422, "bad.png"),
        ([("files", ("empty.png", b"", "image/png"))], 422, "empty"),
        ([("files", ("tiny.png", None, "image/png"))], 422, "at least"),
        ([("files", ("bomb.png", _huge_png_header(), "image/png"))], 413, "pixels"),
        ([("file", ("rows.csv", b"a,b\n1,2\n", "text/csv"))], 422, "cannot decode"),
        ([("other", ("x.png", b"x", "image/png"))], 422, "files"),
    ],
)
def test_bad_uploads_are_4xx(served, files, status, fragment):
    client, _, test = served
    if files[0][1][1] is None:  # the tiny image
        files = [("files", ("tiny.png", _png(np.zeros((4, 4), dtype=np.uint8)), "image/png"))]
    r = client.post("/models/tiles/score", files=files)
    assert r.status_code == status, r.text
    assert fragment in r.json()["detail"]


def test_truncated_image_is_422(served):
    client, _, test = served
    whole = _png(test[0])
    r = client.post("/models/tiles/score", files=[("files", ("cut.png", whole[:-40], "image/png"))])
    assert r.status_code == 422, r.text
    assert "cut.png" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"images": ["%%% not base64"]}, "base64"),
        ({"images": []}, "non-empty"),
        ({"images": [3]}, "base64 string"),
        ({"data": [[1, 2]]}, '"images"'),
        ({"images": ["data:image/png,abc"]}, "base64"),
    ],
)
def test_bad_json_is_422(served, body, fragment):
    client, _, _ = served
    r = client.post("/models/tiles/score", json=body)
    assert r.status_code == 422, r.text
    assert fragment in r.json()["detail"]


def test_too_many_images_413(served, monkeypatch):
    client, _, test = served
    monkeypatch.setattr(inputs, "MAX_IMAGES", 2)
    encoded = [base64.b64encode(_png(test[0])).decode()] * 3
    r = client.post("/models/tiles/score", json={"images": encoded})
    assert r.status_code == 413
    assert "at most 2" in r.json()["detail"]


def test_mixed_sizes_follow_the_policy(served):
    client, _, test = served
    det = client.app.state.models["tiles"].detector
    small = np.asarray(Image.fromarray(test[0]).resize((48, 40)))
    files = [
        ("files", ("a.png", _png(test[0]), "image/png")),
        ("files", ("b.png", _png(small), "image/png")),
    ]
    r = client.post("/models/tiles/score?maps=true", files=files)
    assert r.status_code == 200, r.text  # default policy: each image's map at its own size
    assert [m["shape"] for m in r.json()["maps"]] == [[64, 64], [40, 48]]
    det.on_mixed_sizes = "resize"  # the earlier policy: resized to the first image's size
    try:
        r = client.post("/models/tiles/score?maps=true", files=files)
    finally:
        del det.on_mixed_sizes
    assert [m["shape"] for m in r.json()["maps"]] == [[64, 64], [64, 64]]
    det.on_mixed_sizes = "error"
    try:
        r = client.post("/models/tiles/score", files=files)
    finally:
        del det.on_mixed_sizes
    assert r.status_code == 422
    assert "different sizes" in r.json()["detail"]


def test_round_sig():
    values = np.array([0.123456789, 123456.789, -1.0000049, 0.0, 1e-12 * 3.14159265])
    assert inputs.round_sig(values) == [0.12346, 123460.0, -1.0, 0.0, 3.1416e-12]


def test_large_maps_are_averaged_down(monkeypatch):
    monkeypatch.setattr(inputs, "MAX_MAP_VALUES", 100)
    m = np.arange(40 * 20, dtype=np.float32).reshape(40, 20)
    entry = inputs.map_entry(m)
    h, w = entry["shape"]
    assert h * w <= 100 and h == 2 * w  # the aspect ratio is kept
    assert len(entry["values"]) == h * w
    assert inputs.map_entry(m[:5, :5])["shape"] == [5, 5]  # small maps unchanged
