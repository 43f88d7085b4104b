"""End to end: the browser UI in a real headless Chromium (Playwright) against a live
``normalcy serve`` app on loopback, with a PatchCore model fitted on a few MTD tiles, a
tabular model and a series model.

Uploads MTD images (heat maps drawn over each image at its own size), a CSV (flags shown)
and a series (timeline drawn), and drags the threshold (the FPR shown changes). Screenshots
go to ``$NORMALCY_TEST_ARTIFACTS`` if set, else a pytest tmp dir; the folder is printed.
Skips with a message without playwright, the system Chromium or the MTD data.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import DATASETS

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
)

CHROMIUM = os.environ.get("NORMALCY_CHROMIUM", "/usr/bin/chromium")
TOKEN = "ui-e2e-token"
PLANTED = (5, 17, 31)  # rows of the uploaded CSV that are anomalies


def _chromium() -> str:
    path = shutil.which(CHROMIUM) or (CHROMIUM if Path(CHROMIUM).is_file() else None)
    if path is None:
        pytest.skip(
            f"no Chromium at {CHROMIUM} (apt-get install chromium, or set NORMALCY_CHROMIUM)"
        )
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mtd_images() -> tuple[list[Path], list[Path], list[Path]] | None:
    """Fit, calibration and test images (two good, two defective) from MTD; None without it."""
    root = DATASETS / "mtd"
    if not (root / "split.json").is_file():
        return None
    split = json.loads((root / "split.json").read_text())
    good = [root / "MT_Free" / "Imgs" / f"{n}.jpg" for n in split["train_good"][:16]]
    test_good = [root / "MT_Free" / "Imgs" / f"{n}.jpg" for n in split["test_good"][:2]]
    defects = [
        root / cls / "Imgs" / f"{split['test_defect'][cls][0]}.jpg"
        for cls in ("MT_Crack", "MT_Blowhole")
    ]
    return good[:6], good[6:], test_good + defects


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory, pytestconfig) -> Path:
    where = os.environ.get("NORMALCY_TEST_ARTIFACTS")
    folder = Path(where) / "ui" if where else tmp_path_factory.mktemp("ui-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"\nUI screenshots go to {folder}")
    return folder


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A live service over calibrated models (tabular, series and, with MTD, PatchCore):
    its base url, the files to upload, the Chromium to drive and the fitted models."""
    import normalcy as nc
    from normalcy.serve.app import create_app

    chromium = _chromium()
    mtd = _mtd_images()
    folder = tmp_path_factory.mktemp("ui-e2e")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small hold-outs: CalibrationWarning
        pc = None
        if mtd is not None:  # else only the image test skips
            import torch

            torch.set_num_threads(1)
            pc = nc.create("patchcore", image_size=128, max_bank=2000, num_threads=1)
            pc.set_params(verbose=False).fit(mtd[0]).calibrate(mtd[1], fpr=0.1)
            pc.save(folder / "pc.normalcy")

        rng = np.random.default_rng(0)
        cols = [f"x{i}" for i in range(6)]
        mixing = rng.normal(size=(2, 6))

        def rows_near_a_plane(n: int) -> pd.DataFrame:
            noise = 0.1 * rng.normal(size=(n, 6))
            return pd.DataFrame(rng.normal(size=(n, 2)) @ mixing + noise, columns=cols)

        tab = nc.create("fedpca").fit(rows_near_a_plane(300))  # numpy only: starts fast
        tab.calibrate(rows_near_a_plane(500), fpr=0.05)
        tab.save(folder / "tab.normalcy")
        rows = rows_near_a_plane(40)
        rows.iloc[list(PLANTED)] += 3.0 * rng.normal(size=(len(PLANTED), 6))  # off the plane
        rows.to_csv(folder / "rows.csv", index=False)

        t = np.arange(1200)
        wave = np.sin(t / 6.0) + 0.05 * rng.standard_normal(t.size)
        ser = nc.create("sub_pca", window=16).fit(wave[:600])
        ser.calibrate(wave[600:], fpr=0.05)
        ser.save(folder / "ser.normalcy")
        segment = np.sin(np.arange(300) / 6.0) + 0.05 * rng.standard_normal(300)
        segment[150:165] += 3.0
        pd.DataFrame({"value": segment}).to_csv(folder / "series.csv", index=False)

    app = create_app(folder, token=TOKEN)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    files = {
        "images": mtd[2] if mtd else None,
        "csv": folder / "rows.csv",
        "series": folder / "series.csv",
    }
    yield SimpleNamespace(
        base=f"http://127.0.0.1:{port}", files=files, chromium=chromium, tab=tab, pc=pc
    )
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(served, artifacts):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=served.chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(served.base + "/ui")
        page.wait_for_selector("#status.bad")  # no token yet: the page says it needs one
        page.fill("#token", TOKEN)
        page.click("#connect")
        n_models = 3 if served.pc is not None else 2
        page.wait_for_function(
            "n => document.querySelectorAll('#model option').length === n", arg=n_models
        )
        page.errors = errors
        yield page
        browser.close()


def _pick(page, name: str) -> None:
    page.select_option("#model", name)
    page.wait_for_function("name => document.body.dataset.model === name", arg=name)


def _score(page, files) -> str:
    page.set_input_files("#files", [str(f) for f in files])
    page.click("#score")
    page.wait_for_function(
        "() => ['done', 'error'].includes(document.querySelector('#results').dataset.state)"
    )
    return page.get_attribute("#results", "data-state")


def _drag_threshold(page, start: float, end: float) -> None:
    """A real mouse drag along the slider's track, from fraction ``start`` to ``end``."""
    box = page.locator("#thr").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.click(box["x"] + box["width"] * start, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end, y, steps=8)
    page.mouse.up()


def test_csv_upload_shows_flags_and_the_threshold_moves_the_fpr(page, served, artifacts):
    files = served.files
    _pick(page, "tab")
    threshold = served.tab.threshold
    implied = threshold.implied_rate(threshold.value)
    assert f"(≈ {round(implied * 500)} of 500)" in page.inner_text("#fpr")  # as Python says
    assert _score(page, [files["csv"]]) == "done", page.inner_text("#error")
    assert page.locator("#table tbody tr").count() == 40
    flagged = page.eval_on_selector_all(
        "#table tbody tr.flagged", "rows => rows.map(r => Number(r.cells[0].textContent))"
    )
    assert set(PLANTED) <= set(flagged), flagged
    assert page.inner_text("#table tbody tr:nth-child(6) td.flag") == "anomaly"
    page.screenshot(path=str(artifacts / "ui-tabular.png"), full_page=True)

    before = page.inner_text("#fpr")
    n_before = int(page.get_attribute("#summary", "data-flagged"))
    _drag_threshold(page, 0.6, 0.05)  # far down: more of the calibration data is flagged
    after = page.inner_text("#fpr")
    assert after != before, (before, after)
    assert int(page.get_attribute("#summary", "data-flagged")) > n_before
    assert page.locator("#table tbody tr.flagged").count() > n_before
    page.screenshot(path=str(artifacts / "ui-tabular-threshold.png"), full_page=True)
    page.click("#thr-reset")
    assert page.inner_text("#fpr") == before


def test_series_upload_draws_the_timeline(page, served, artifacts):
    files = served.files
    _pick(page, "ser")
    assert _score(page, [files["series"]]) == "done", page.inner_text("#error")
    assert page.get_attribute("#timeline", "data-drawn") == "timeline"
    assert _distinct_colours(page, "#timeline") > 3
    assert int(page.get_attribute("#summary", "data-flagged")) > 0
    page.screenshot(path=str(artifacts / "ui-series.png"), full_page=True)


@pytest.mark.slow
def test_mtd_images_get_heat_maps_over_each_image(page, served, artifacts):
    files = served.files
    if served.pc is None:
        pytest.skip(f"real data set 'mtd' not found at {DATASETS / 'mtd'} (../shared is absent)")
    _pick(page, "pc")
    state = _score(page, files["images"])
    if state == "error" and "415" in page.inner_text("#error"):
        pytest.skip("this service cannot score images yet (POST /models/{name}/score gives 415)")
    assert state == "done", page.inner_text("#error")
    canvases = page.locator("#images canvas")
    assert canvases.count() == len(files["images"])
    from PIL import Image

    for i, path in enumerate(files["images"]):
        canvas = canvases.nth(i)
        assert canvas.get_attribute("data-drawn") == "map"
        size = page.evaluate("c => [c.width, c.height]", canvas.element_handle())
        assert tuple(size) == Image.open(path).size  # the image's own size and aspect ratio
        assert _distinct_colours(page, canvas) > 20  # drawn: image and heat map, not blank
    assert _distinct_colours(page, "#colorbar") > 20
    assert page.inner_text("#cb-min") and page.inner_text("#cb-max")
    page.screenshot(path=str(artifacts / "ui-images.png"), full_page=True)
    assert not page.errors, page.errors


def _distinct_colours(page, target) -> int:
    handle = (
        page.locator(target).element_handle()
        if isinstance(target, str)
        else target.element_handle()
    )
    return page.evaluate(
        """c => {
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            const seen = new Set();
            for (let i = 0; i < d.length && seen.size < 1000; i += 4 * 7)
                seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
            return seen.size;
        }""",
        handle,
    )
