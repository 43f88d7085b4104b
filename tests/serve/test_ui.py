"""The UI's routes: the page and its assets (public, served from the package, strict CSP)
and ``GET /models/{name}/calibration`` (guarded; 404/409 with clear messages)."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from fastapi.testclient import TestClient  # noqa: E402

import normalcy as nc  # noqa: E402
from normalcy.serve.app import create_app  # noqa: E402
from normalcy.serve.ui import ASSETS, UI_PATHS  # noqa: E402

TOKEN = "ui-token"


def _strip_sketch(src, dst):
    """A copy of a model file as saved before thresholds kept their sketch."""
    with zipfile.ZipFile(src) as zin:
        entries = {i.filename: zin.read(i.filename) for i in zin.infolist()}
    manifest = json.loads(entries["manifest.json"])
    manifest["threshold"].pop("quantiles")
    manifest["threshold"].pop("quantile_levels")
    entries["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    import hashlib

    entries["manifest.sha256"] = hashlib.sha256(entries["manifest.json"]).hexdigest().encode()
    with zipfile.ZipFile(dst, "w") as zout:
        for name, data in entries.items():
            zout.writestr(name, data)
    return dst


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui-models")
    rng = np.random.default_rng(0)
    det = nc.create("fedpca").fit(rng.normal(size=(200, 3)))
    det.save(folder / "raw.normalcy")
    det.calibrate(rng.normal(size=(400, 3)), fpr=0.05)
    det.save(folder / "cal.normalcy")
    _strip_sketch(folder / "cal.normalcy", folder / "old.normalcy")
    return folder, det


@pytest.fixture()
def client(folder):
    with TestClient(create_app(folder[0], token=TOKEN)) as c:
        yield c


AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_page_and_assets_are_public_and_self_contained(client):
    page = client.get("/ui")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    html = page.text
    assert "/ui/app.js" in html and "/ui/app.css" in html
    assert "http://" not in html and "https://" not in html  # nothing from elsewhere
    for name in ASSETS:
        asset = client.get(f"/ui/{name}")
        assert asset.status_code == 200 and asset.content
        assert "https://" not in asset.text and "http://" not in asset.text
    assert client.get("/ui/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/ui/../app.py", headers=AUTH).status_code == 404
    assert client.get("/ui/nope.js", headers=AUTH).status_code == 404
    assert client.get("/ui/nope.js").status_code == 401  # only the named assets are public
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/ui"
    assert set(UI_PATHS) == {"/", "/ui", "/ui/app.js", "/ui/app.css"}


def test_the_api_behind_the_page_still_needs_the_token(client):
    assert client.get("/models").status_code == 401
    assert client.get("/models/cal/calibration").status_code == 401
    assert client.get("/models", headers=AUTH).status_code == 200


def test_calibration_endpoint_gives_the_threshold_and_sketch(client, folder):
    det = folder[1]
    body = client.get("/models/cal/calibration", headers=AUTH).json()
    t = det.threshold
    assert body["threshold"] == t.value and body["fpr"] == pytest.approx(0.05)
    assert body["n_calibration"] == 400 and body["method"] == "fpr"
    q, lv = np.array(body["quantiles"]), np.array(body["quantile_levels"])
    assert len(q) == len(lv) <= 1001 and np.all(np.diff(q) > 0) and lv[-1] == 1.0
    # the FPR the page computes from the sketch at the threshold is the realised rate
    i = np.searchsorted(q, t.value, side="right")
    assert 1 - lv[i - 1] == pytest.approx(body["implied_fpr"]) and body["implied_fpr"] <= 0.05


def test_calibration_endpoint_errors_say_what_is_missing(client):
    unknown = client.get("/models/nope/calibration", headers=AUTH)
    assert unknown.status_code == 404 and "nope" in unknown.json()["detail"]
    raw = client.get("/models/raw/calibration", headers=AUTH)
    assert raw.status_code == 409 and "not calibrated" in raw.json()["detail"]
    old = client.get("/models/old/calibration", headers=AUTH)
    assert old.status_code == 409 and "recalibrate" in old.json()["detail"]
    listed = {m["name"]: m for m in client.get("/models", headers=AUTH).json()}
    assert listed["old"]["threshold"]["value"] == listed["cal"]["threshold"]["value"]


def test_static_files_are_package_data():
    from importlib.resources import files

    static = files("normalcy.serve") / "static"
    assert {"index.html", *ASSETS} <= {p.name for p in static.iterdir()}
