"""Streaming through the service: WebSocket and HTTP points give the scores of
``score_stream`` on a copy of the model, state per stream id, bounded, with auth."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402
from starlette.websockets import WebSocketDisconnect  # noqa: E402

import normalcy as nc  # noqa: E402
from normalcy.core.errors import InputError  # noqa: E402
from normalcy.serve.app import create_app  # noqa: E402
from normalcy.serve.streaming import StreamRegistry, StreamsFull  # noqa: E402

TOKEN = "stream-token"


def _wave(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n) / 8) + 0.05 * rng.normal(size=n)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stream-models")
    det = nc.create("sub_pca").fit(_wave(600, 0))
    det.calibrate(_wave(300, 1), fpr=0.05)
    det.save(folder / "wave.normalcy")
    nc.create("ecod").fit(np.random.default_rng(0).normal(size=(50, 2))).save(
        folder / "tab.normalcy"
    )
    return folder


def _expected(folder, points: np.ndarray, learn: bool = False) -> np.ndarray:
    det = nc.load(folder / "wave.normalcy")
    return det.score_stream(points, learn=learn).scores


def test_websocket_scores_equal_score_stream(folder):
    points = _wave(120, 2)
    points[90] += 4.0
    expected = _expected(folder, points)
    with TestClient(create_app(folder)) as c:
        got: list[float] = []
        labels: list[bool] = []
        with c.websocket_connect("/models/wave/streams/s1") as ws:
            ws.send_json({"points": points[:50].tolist()})
            first = ws.receive_json()
            assert first["n_seen"] == 50
            got += first["scores"]
            labels += first["labels"]
            for p in points[50:]:  # one point a message
                ws.send_json({"point": float(p)})
                out = ws.receive_json()
                got += out["scores"]
                labels += out["labels"]
            assert out["n_seen"] == 120
        np.testing.assert_allclose(got, expected, rtol=1e-9)
        assert int(np.argmax(got)) == 90
        assert labels[90] is True
        # the served model itself is unchanged: a fresh stream starts from it again
        with c.websocket_connect("/models/wave/streams/s2") as ws:
            ws.send_json({"points": points.tolist()})
            np.testing.assert_allclose(ws.receive_json()["scores"], expected, rtol=1e-9)


def test_http_points_keep_state_per_stream(folder):
    points = _wave(80, 3)
    expected = _expected(folder, points, learn=True)
    with TestClient(create_app(folder)) as c:
        got = []
        for chunk in np.array_split(points, 4):
            r = c.post("/models/wave/streams/a/points?learn=true", json={"points": chunk.tolist()})
            assert r.status_code == 200, r.text
            got += r.json()["scores"]
            # a second stream interleaved does not disturb the first
            c.post("/models/wave/streams/b/points", json={"points": [5.0, -5.0]})
        np.testing.assert_allclose(got, expected, rtol=1e-9)
        assert len(c.app.state.streams) == 2
        assert c.delete("/models/wave/streams/a").status_code == 200
        assert c.delete("/models/wave/streams/a").status_code == 404
        r = c.post("/models/wave/streams/a/points", json={"points": [0.0]})
        assert r.json()["n_seen"] == 1  # a fresh stream
        assert "normalcy_streams 2" in c.get("/metrics").text


def test_bad_messages_keep_the_socket_open(folder):
    with TestClient(create_app(folder)) as c:
        with c.websocket_connect("/models/wave/streams/s") as ws:
            for bad in ("not json", '{"points": ["x"]}', '{"points": [1.0, NaN]}', '{"x": 1}'):
                ws.send_text(bad)
                out = ws.receive_json()
                assert out["status"] == 422 and out["error"]
            ws.send_bytes(b"\x00\x01")
            assert ws.receive_json()["status"] == 422
            ws.send_json(0.5)
            assert len(ws.receive_json()["scores"]) == 1
        r = c.post("/models/wave/streams/s/points", json={"points": [[1.0, 2.0]]})
        assert r.status_code == 422  # two channels, the model has one
        assert "channel" in r.json()["detail"]


def test_refusals(folder):
    with TestClient(create_app(folder)) as c:
        with pytest.raises(WebSocketDisconnect) as exc:
            with c.websocket_connect("/models/nope/streams/s") as ws:
                ws.receive_json()
        assert exc.value.code == 4404
        with pytest.raises(WebSocketDisconnect) as exc:
            with c.websocket_connect("/models/tab/streams/s") as ws:
                ws.receive_json()
        assert exc.value.code == 4409
        r = c.post("/models/tab/streams/s/points", json={"points": [1.0]})
        assert r.status_code == 409
        assert "not a streaming detector" in r.json()["detail"]
        r = c.post("/models/wave/streams/bad id!/points", json={"points": [1.0]})
        assert r.status_code == 422
        r = c.post("/models/wave/streams/fresh/points", json={"points": ["x"]})
        assert r.status_code == 422
        assert len(c.app.state.streams) == 0  # bad points open no stream


def test_websocket_auth(folder):
    with TestClient(create_app(folder, token=TOKEN)) as c:
        with pytest.raises(WebSocketDisconnect) as exc:
            with c.websocket_connect("/models/wave/streams/s") as ws:
                ws.receive_json()
        assert exc.value.code == 1008
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with c.websocket_connect("/models/wave/streams/s", headers=headers) as ws:
            ws.send_json({"point": 0.1})
            assert len(ws.receive_json()["scores"]) == 1
        with c.websocket_connect(f"/models/wave/streams/s?access_token={TOKEN}") as ws:
            ws.send_json({"point": 0.1})
            assert ws.receive_json()["n_seen"] == 2
        assert c.post("/models/wave/streams/s/points", json={"points": [1.0]}).status_code == 401


def test_too_many_attached_streams(folder):
    with TestClient(create_app(folder, max_streams=1)) as c:
        with c.websocket_connect("/models/wave/streams/one") as ws:
            ws.send_json({"point": 0.0})
            ws.receive_json()
            with pytest.raises(WebSocketDisconnect) as exc:
                with c.websocket_connect("/models/wave/streams/two") as ws2:
                    ws2.receive_json()
            assert exc.value.code == 1013
            r = c.post("/models/wave/streams/three/points", json={"points": [1.0]})
            assert r.status_code == 429
        # detached now: a new stream evicts it
        r = c.post("/models/wave/streams/three/points", json={"points": [1.0]})
        assert r.status_code == 200


def test_registry_lru_and_expiry():
    now = [0.0]
    reg = StreamRegistry(max_streams=2, idle_seconds=10, clock=lambda: now[0])
    det = object()
    a = reg.acquire("m", "a", det)
    reg.acquire("m", "b", det)
    now[0] = 1.0
    assert reg.acquire("m", "a", det) is a  # a is now the most recently used
    reg.acquire("m", "c", det)  # evicts b, the least recently used
    assert reg.evicted == 1
    assert reg.acquire("m", "a", det) is a
    now[0] = 30.0
    assert reg.acquire("m", "a", det) is not a  # expired after 10 idle seconds
    assert reg.expired == 2 and len(reg) == 1
    held = reg.acquire("m", "x", det, attach=True)
    reg.acquire("m", "y", det, attach=True)
    with pytest.raises(StreamsFull):
        reg.acquire("m", "z", det)
    reg.release(held)
    reg.acquire("m", "z", det)
    with pytest.raises(InputError):
        reg.acquire("m", "", det)
