"""Robustness of a real server (uvicorn on loopback, in a subprocess): overload, graceful
shutdown and malformed uploads. Asserts behaviour (status codes, exact scores), not times."""

from __future__ import annotations

import io
import json
import re
import select
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from live_server import LiveServer  # noqa: E402

import normalcy as nc  # noqa: E402

COLUMNS = ["a", "b", "c"]
MAX_CONCURRENCY = 2
CAP_MB = 1
BUSY = r'normalcy_rejected_total\{reason="busy"\}'
SCORED = r'normalcy_scored_total\{model="tab"\}'


def _rows(seed: int, n: int = 3) -> list[list[float]]:
    return np.random.default_rng(seed).normal(size=(n, 3)).round(6).tolist()


@pytest.fixture(scope="module")
def tab_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("live-tab")
    train = pd.DataFrame(np.random.default_rng(0).normal(size=(300, 3)), columns=COLUMNS)
    det = nc.create("fedpca").fit(train)
    det.calibrate(train.iloc[:100], fpr=0.05)
    det.save(folder / "tab.normalcy")
    nc.create("sub_pca").fit(np.sin(np.arange(400) / 8)).save(folder / "wave.normalcy")
    return folder


@pytest.fixture(scope="module")
def mixed_folder(tab_folder, tmp_path_factory):
    import shutil

    import torch

    torch.set_num_threads(1)
    folder = tmp_path_factory.mktemp("live-mixed")
    shutil.copy(tab_folder / "tab.normalcy", folder / "tab.normalcy")
    train = (np.random.default_rng(2).random((8, 64, 64)) * 80 + 80).astype(np.uint8)
    nc.create("patchcore", image_size=64, max_bank=200).fit(train).save(folder / "img.normalcy")
    return folder


@pytest.fixture(scope="module")
def server(mixed_folder):
    """One real server for the overload and malformed-upload tests: scoring slowed by
    0.15 s, 2 scoring requests at once, bodies up to 1 MB."""
    with LiveServer(
        mixed_folder, delay=0.15, max_concurrency=MAX_CONCURRENCY, max_request_mb=CAP_MB
    ) as live:
        yield live


def _counter(metrics: str, pattern: str) -> int:
    found = re.search(pattern + r" (\d+)", metrics)
    return int(found.group(1)) if found else 0


def _expected(folder, rows: list[list[float]]) -> list[float]:
    det = nc.load(folder / "tab.normalcy")
    return det.score(pd.DataFrame(rows, columns=COLUMNS)).scores.tolist()


def test_overload_sheds_with_429_and_loses_nothing(server, tab_folder):
    """4 x max_concurrency clients at once against slow scoring: /health keeps answering,
    the excess gets 429, every accepted request gets exactly its own scores."""
    n_clients, rounds = 4 * MAX_CONCURRENCY, 4
    before = httpx.get(f"{server.url}/metrics").text
    stop = threading.Event()
    health: list[int] = []

    def poll_health() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                health.append(c.get("/health").status_code)
                time.sleep(0.02)

    def client(k: int) -> list[tuple[int, int, dict]]:
        out = []
        with httpx.Client(base_url=server.url, timeout=60) as c:
            for r in range(rounds):
                seed = 100 * k + r
                resp = c.post("/models/tab/score", json={"data": _rows(seed)})
                out.append((seed, resp.status_code, resp.json()))
        return out

    watcher = threading.Thread(target=poll_health)
    watcher.start()
    try:
        with ThreadPoolExecutor(n_clients) as pool:
            results = [x for part in pool.map(client, range(n_clients)) for x in part]
    finally:
        stop.set()
        watcher.join(30)
    metrics = httpx.get(f"{server.url}/metrics").text

    statuses = [status for _, status, _ in results]
    assert set(statuses) <= {200, 429}, statuses
    assert statuses.count(429) > 0 and statuses.count(200) > 0
    for seed, status, body in results:
        if status == 200:
            assert body["scores"] == _expected(tab_folder, _rows(seed))
        else:
            assert "busy" in body["detail"]
    assert health and set(health) == {200}
    busy = _counter(metrics, BUSY) - _counter(before, BUSY)
    assert busy == statuses.count(429)
    scored = _counter(metrics, SCORED) - _counter(before, SCORED)
    assert scored == 3 * statuses.count(200)


def test_sigterm_lets_the_running_request_finish(tab_folder, tmp_path):
    """SIGTERM while a request is scored: it finishes with its scores, open WebSockets are
    closed with 1012, the process exits and the port stops answering."""
    ws_client = pytest.importorskip("websockets.sync.client")
    from websockets.exceptions import ConnectionClosed

    started = tmp_path / "started"
    rows = _rows(7)
    server = LiveServer(tab_folder, delay=2.0, started_file=started)
    with server, ws_client.connect(f"ws://127.0.0.1:{server.port}/models/wave/streams/s") as ws:
        ws.send(json.dumps({"points": [0.1, 0.2]}))
        assert json.loads(ws.recv(timeout=30))["n_seen"] == 2
        result: dict[str, httpx.Response] = {}

        def call() -> None:
            result["r"] = httpx.post(
                f"{server.url}/models/tab/score", json={"data": rows}, timeout=60
            )

        caller = threading.Thread(target=call)
        caller.start()
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert started.exists(), "the request never reached the model"
        server.terminate()  # SIGTERM while the request is being scored
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=60)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        caller.join(60)
        # uvicorn finishes its shutdown, then re-raises the signal it caught
        assert server.proc.wait(60) in (0, -signal.SIGTERM)
    assert result["r"].status_code == 200
    assert result["r"].json()["scores"] == _expected(tab_folder, rows)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.url}/health", timeout=2)


def _huge_upload(
    url: str, path: str, total: int, chunked: bool, chunk: int = 1 << 16
) -> tuple[bytes, int]:
    """Send a body of ``total`` bytes (chunked, or announced by Content-Length) one block at
    a time over a raw socket, stopping as soon as the server answers; returns (answer,
    bytes sent). Never holds more than one block."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"{framing}\r\n\r\n".encode()
        )
        block = b" " * chunk
        if chunked:
            block = f"{chunk:x}\r\n".encode() + block + b"\r\n"
        answer = b""
        try:
            while sent < total:
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered
                sock.sendall(block)
                sent += chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
        sock.settimeout(30)
        try:
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                if not data:
                    break
                answer += data
        except (ConnectionResetError, TimeoutError):
            pass
    return answer, sent


def test_malformed_uploads_are_4xx(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        # a corrupt image
        r = c.post(
            "/models/img/score",
            files=[("files", ("broken.jpg", b"\xff\xd8\xff\xe0garbage" * 50, "image/jpeg"))],
        )
        assert r.status_code == 422, r.text
        assert "broken.jpg" in r.json()["detail"]
        # a CSV with the wrong columns
        csv = pd.DataFrame(_rows(1), columns=["x", "y", "z"]).to_csv(index=False)
        r = c.post("/models/tab/score", files={"file": ("rows.csv", io.BytesIO(csv.encode()))})
        assert r.status_code == 422, r.text
        assert "column names" in r.json()["detail"]
    # 1 GB bodies, announced by Content-Length (refused before reading) or streamed
    # chunked without a length (refused once the cap is crossed)
    for chunked in (False, True):
        answer, sent = _huge_upload(server.url, "/models/tab/score", 2**30, chunked)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), answer[:200]
        assert "limit" in json.loads(body)["detail"]
        assert sent < 64 * CAP_MB * 2**20  # stopped near the cap, far from 1 GB
    assert httpx.get(f"{server.url}/health").status_code == 200
