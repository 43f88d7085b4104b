"""The REST service: endpoints, scoring parity with ``det.score``, auth, limits, metrics."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

import normalcy as nc  # noqa: E402
from normalcy.core.errors import InputError, ModelFileError  # noqa: E402
from normalcy.serve.app import create_app  # noqa: E402

TOKEN = "s3cret-token"


def _tabular(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    train = pd.DataFrame(rng.normal(size=(200, 3)), columns=["a", "b", "c"])
    test = pd.DataFrame(rng.normal(size=(20, 3)), columns=["a", "b", "c"])
    test.iloc[7] = [9.0, -9.0, 9.0]  # the planted outlier
    return train, test


def _sessions(rng: np.random.Generator, n: int) -> list[list[str]]:
    return [["open", "read", *["read"] * int(rng.integers(1, 4)), "close"] for _ in range(n)]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    train, test = _tabular()
    det = nc.create("ecod").fit(train)
    det.calibrate(
        pd.DataFrame(np.random.default_rng(1).normal(size=(100, 3)), columns=list("abc")), fpr=0.05
    )
    det.save(folder / "tab.normalcy")
    rng = np.random.default_rng(2)
    logs = nc.create("log_pca").fit(_sessions(rng, 100))
    logs.save(folder / "logs.normalcy")
    return folder, det, logs, test


@pytest.fixture()
def client(models):
    folder = models[0]
    with TestClient(create_app(folder)) as c:
        yield c


def test_health_and_list(client):
    assert client.get("/health").json() == {"status": "ok", "models": 2}
    listed = {m["name"]: m for m in client.get("/models").json()}
    assert set(listed) == {"tab", "logs"}
    assert listed["tab"]["detector"] == "ecod"
    assert listed["tab"]["modality"] == "tabular"
    assert listed["tab"]["paper"]
    assert listed["tab"]["can_localise"] is False and listed["tab"]["streaming"] is False
    assert listed["tab"]["threshold"]["rate"] == pytest.approx(0.05)
    assert listed["logs"]["threshold"] is None


def test_model_metadata(client):
    info = client.get("/models/tab").json()
    assert info["detector"] == "ecod"
    assert "params" in info and "input_spec" in info
    assert "path" not in info
    assert client.get("/models/nope").status_code == 404


def test_json_scoring_equals_score(client, models):
    _, det, _, test = models
    expected = det.score(test)
    # rows as lists
    r = client.post("/models/tab/score", json={"data": test.to_numpy().tolist()})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["scores"] == expected.scores.tolist()
    assert body["labels"] == expected.labels.tolist()
    assert body["threshold"]["value"] == pytest.approx(det.threshold.value)
    assert int(np.argmax(body["scores"])) == 7
    # rows as objects
    r = client.post("/models/tab/score", json={"data": test.to_dict("records")})
    assert r.json()["scores"] == expected.scores.tolist()


def test_csv_upload_equals_score(client, models, tmp_path):
    _, det, _, test = models
    path = tmp_path / "rows.csv"
    test.to_csv(path, index=False)
    expected = det.score(pd.read_csv(path))
    with path.open("rb") as fh:
        r = client.post("/models/tab/score", files={"file": ("rows.csv", fh, "text/csv")})
    assert r.status_code == 200, r.text
    assert r.json()["scores"] == expected.scores.tolist()


def test_log_sessions(client, models):
    _, _, logs, _ = models
    sessions = _sessions(np.random.default_rng(3), 5) + [["open", "write", "crash", "crash"]]
    r = client.post("/models/logs/score", json={"data": sessions})
    assert r.status_code == 200, r.text
    scores = r.json()["scores"]
    assert scores == logs.score(sessions).scores.tolist()
    assert int(np.argmax(scores)) == 5
    assert r.json()["labels"] is None


@pytest.mark.parametrize(
    "content",
    [
        json.dumps({"data": [[1.0, 2.0]]}),  # wrong width
        '{"data": [[1.0, NaN, 2.0]]}',  # NaN
        json.dumps({"data": [["x", "y", "z"]]}),  # strings
        json.dumps({"rows": []}),  # no data field
        "not json",
    ],
)
def test_bad_input_is_422_with_message(client, content):
    r = client.post(
        "/models/tab/score", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_unknown_model_404(client):
    assert client.post("/models/nope/score", json={"data": [[1, 2, 3]]}).status_code == 404


def test_token(models):
    with TestClient(create_app(models[0], token=TOKEN)) as c:
        assert c.get("/health").status_code == 200
        assert c.get("/models").status_code == 401
        bad = {"Authorization": "Bearer wrong"}
        assert c.get("/models", headers=bad).status_code == 401
        assert c.post("/models/tab/score", json={"data": []}, headers=bad).status_code == 401
        assert c.get("/metrics", headers=bad).status_code == 401
        good = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/models", headers=good).status_code == 200


def test_oversized_body_413(models):
    with TestClient(create_app(models[0], max_request_bytes=1000)) as c:
        big = {"data": [[1.0, 2.0, 3.0]] * 200}
        r = c.post("/models/tab/score", json=big)
        assert r.status_code == 413
        assert "1000 bytes" in r.json()["detail"]

        def chunks():  # no Content-Length: the streaming cap
            for _ in range(10):
                yield b"x" * 500

        r = c.post(
            "/models/tab/score", content=chunks(), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413


def test_busy_429(models):
    folder, _, _, test = models
    app = create_app(folder, max_concurrency=1)
    det = app.state.models["tab"].detector
    started, release = threading.Event(), threading.Event()
    original = det.score

    def slow(X):
        started.set()
        release.wait(10)
        return original(X)

    det.score = slow
    rows = {"data": test.to_numpy().tolist()}
    results: dict[str, int] = {}
    with TestClient(app) as c:
        first = threading.Thread(
            target=lambda: results.setdefault(
                "first", c.post("/models/tab/score", json=rows).status_code
            )
        )
        first.start()
        assert started.wait(10)
        try:
            r = c.post("/models/tab/score", json=rows)
            assert r.status_code == 429
            assert c.get("/health").status_code == 200  # the loop stays responsive
        finally:
            release.set()
            first.join(10)
        assert results["first"] == 200
        assert c.post("/models/tab/score", json=rows).status_code == 200


def test_metrics(client, models):
    client.post("/models/tab/score", json={"data": models[3].to_numpy().tolist()})
    client.get("/models/nope")
    text = client.get("/metrics").text
    assert (
        'normalcy_requests_total{endpoint="/models/{name}/score",method="POST",status="200"}'
        in text
    )
    assert 'status="404"' in text
    assert "normalcy_request_seconds_bucket" in text
    assert 'normalcy_scored_total{model="tab"} 20' in text
    assert 'normalcy_flagged_total{model="tab"}' in text


def test_corrupted_model_refused(models, tmp_path):
    folder = models[0]
    for p in folder.glob("*.normalcy"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    bad = tmp_path / "broken.normalcy"
    data = bytearray((folder / "tab.normalcy").read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="broken"):
        create_app(tmp_path)


def test_empty_folder_refused(tmp_path):
    with pytest.raises(InputError, match="no .*normalcy"):
        create_app(tmp_path)


def test_cli_refuses_public_host_without_token(models):
    from typer.testing import CliRunner

    from normalcy.cli import app

    runner = CliRunner()
    r = runner.invoke(
        app, ["serve", str(models[0]), "--host", "0.0.0.0"], env={"NORMALCY_SERVE_TOKEN": ""}
    )
    assert r.exit_code == 2
    assert "without a token" in " ".join(r.output.split())


def test_series_json_and_csv(tmp_path):
    rng = np.random.default_rng(4)
    t = np.arange(600)
    train = np.sin(t / 10) + 0.05 * rng.normal(size=600)
    test = np.sin(t[:200] / 10) + 0.05 * rng.normal(size=200)
    test[120] += 5.0
    det = nc.create("sub_pca").fit(train)
    det.save(tmp_path / "wave.normalcy")
    expected = det.score(test).scores.tolist()
    with TestClient(create_app(tmp_path / "wave.normalcy")) as c:
        r = c.post("/models/wave/score", json={"data": test.tolist()})
        assert r.status_code == 200, r.text
        assert r.json()["scores"] == expected
        csv = pd.DataFrame({"value": test}).to_csv(index=False).encode()
        r = c.post("/models/wave/score", files={"file": ("wave.csv", csv, "text/csv")})
        assert r.status_code == 200, r.text
        assert r.json()["scores"] == pytest.approx(expected, rel=1e-12)
        r = c.post("/models/wave/score", files={"file": ("wave.txt", csv, "text/plain")})
        assert r.status_code == 422
        assert ".csv" in r.json()["detail"]


def test_unservable_modality_gets_415(models):
    class FakeGraph:
        modality = "graph"

    app = create_app(models[0])
    app.state.models["tab"].detector = FakeGraph()
    with TestClient(app) as c:
        r = c.post("/models/tab/score", json={"data": []})
        assert r.status_code == 415
        assert "graph" in r.json()["detail"]


def test_small_requests_to_a_fast_model_skip_the_thread(tmp_path, monkeypatch):
    import normalcy.serve.app as app_module

    rng = np.random.default_rng(5)
    det = nc.create("fedpca").fit(rng.normal(size=(200, 4)))
    det.save(tmp_path / "fast.normalcy")
    handed: list[int] = []
    original = app_module.run_in_threadpool

    async def counting(*args, **kwargs):
        handed.append(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(app_module, "run_in_threadpool", counting)
    monkeypatch.setattr(app_module, "INLINE_MAX_SECONDS", 60.0)
    rows = rng.normal(size=(6, 4))
    with TestClient(create_app(tmp_path)) as c:
        for row in rows:
            r = c.post("/models/fast/score", json={"data": [row.tolist()]})
            assert r.json()["scores"] == det.score(row[None]).scores.tolist()
        assert len(handed) == 1  # the first, to measure; then on the event loop
        monkeypatch.setattr(app_module, "INLINE_MAX_SECONDS", 0.0)  # "slow": threads again
        c.post("/models/fast/score", json={"data": [rows[0].tolist()]})
        assert len(handed) == 2
        big = rng.normal(size=(300, 4))  # a large body always goes to a thread
        r = c.post("/models/fast/score", json={"data": big.tolist()})
        assert r.json()["scores"] == det.score(big).scores.tolist()
        assert len(handed) == 3
