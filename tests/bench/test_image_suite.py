"""Image benchmark suite on a tiny MVTec-layout folder built from synthetic images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from normalcy.bench import image_suite
from normalcy.core.errors import InputError
from normalcy.datasets.synthetic import make_images


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """category/train/good, test/good, test/defect, ground_truth/defect/*_mask.png."""
    root = tmp_path_factory.mktemp("mvtec") / "tiles"
    split = make_images(n_train=6, n_test=12, size=64, anomaly_ratio=0.5, seed=5)
    for sub in ("train/good", "test/good", "test/defect", "ground_truth/defect"):
        (root / sub).mkdir(parents=True)
    for i, img in enumerate(split.train):
        Image.fromarray(img).save(root / "train/good" / f"{i:03d}.png")
    for i, (img, y, m) in enumerate(zip(split.test, split.labels, split.masks, strict=True)):
        kind = "defect" if y else "good"
        Image.fromarray(img).save(root / "test" / kind / f"{i:03d}.png")
        if y:
            Image.fromarray(m.astype(np.uint8) * 255).save(
                root / "ground_truth/defect" / f"{i:03d}_mask.png"
            )
    return root


@pytest.fixture(scope="module")
def result(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    csv = image_suite.run(
        root=folder, out_dir=out, detectors=["musc", "gaussian"], quick=True, isolate=False
    )
    return csv, out


def test_writes_csv_markdown_html_and_per_image_aupimo(result):
    csv, out = result
    assert csv == out / "image_tiles.csv"
    frame = pd.read_csv(csv)
    assert list(frame.columns) == image_suite.COLUMNS
    assert list(frame["detector"]) == ["musc", "gaussian"]
    assert (frame["n_test"] == 12).all() and (frame["n_defective"] == 6).all()
    assert (frame["n_train"] == 6).all()
    for col in ("image_auroc", "pixel_auroc", "aupro"):
        assert frame[col].between(0, 1).all(), col
    # AUPIMO needs normal maps that reach FPR 1e-5: NaN (undefined) is allowed on 6 images
    assert (frame["aupimo"].between(0, 1) | frame["aupimo"].isna()).all()
    assert frame.set_index("detector").loc["musc", "image_auroc"] >= 0.8
    # musc is zero-shot: never fitted; gaussian is
    assert np.isnan(frame.set_index("detector").loc["musc", "fit_s"])
    assert frame.set_index("detector").loc["gaussian", "fit_s"] > 0
    for col in ("images_per_s", "backbone_images_per_s", "pipeline_over_backbone", "peak_rss_mb"):
        assert (frame[col] > 0).all(), col
    pimo = pd.read_csv(out / "image_tiles_aupimo.csv")
    assert len(pimo) == 2 * 6 and set(pimo["defect_type"]) == {"defect"}
    finite = frame.set_index("detector")["aupimo"].notna()
    for det, ok in finite.items():
        values = pimo.loc[pimo["detector"] == det, "aupimo"]
        assert values.between(0, 1).all() if ok else values.isna().all()
    md = (out / "image_tiles.md").read_text()
    assert md.startswith("| dataset | detector |") and md.count("\n") == 4
    html = (out / "image_tiles.html").read_text()
    assert "tiles: musc" in html and "false alarms" in html and html.count("<img") == 2 * 9


def test_limit_keeps_both_classes(folder):
    ds = image_suite._load(None, folder)[0]
    data = image_suite._prepare(ds, 5)
    assert len(data.train) == 5 and len(data.test) == 5
    assert 0 < data.labels.sum() < 5
    assert data.test.shape == (5, image_suite.SIZE, image_suite.SIZE, 3)
    assert data.masks.shape == (5, image_suite.SIZE, image_suite.SIZE)
    assert data.masks[data.labels == 1].any() and not data.masks[data.labels == 0].any()


def test_bad_arguments(folder, tmp_path):
    with pytest.raises(InputError, match="not image detectors"):
        image_suite.run(root=folder, out_dir=tmp_path, detectors=["iforest"])
    with pytest.raises(InputError, match="unknown image data set"):
        image_suite.run(dataset="visa", root=folder, out_dir=tmp_path)
    with pytest.raises(InputError, match="neither an MVTec-layout"):
        image_suite.run(root=tmp_path, out_dir=tmp_path)


def test_a_later_run_keeps_earlier_rows_of_other_detectors(tmp_path):
    row = {c: 0.5 for c in image_suite.COLUMNS}
    rows = [
        {**row, "dataset": "mtd", "detector": "musc", "params": "{}"},
        {**row, "dataset": "mtd", "detector": "gaussian", "params": "{}"},
    ]
    pd.DataFrame(rows, columns=image_suite.COLUMNS).to_csv(tmp_path / "image_mtd.csv", index=False)
    pd.DataFrame(
        [
            {"dataset": "mtd", "detector": d, "image": "a.png", "aupimo": 0.1}
            for d in ("musc", "gaussian")
        ]
    ).to_csv(tmp_path / "image_mtd_aupimo.csv", index=False)
    kept, pimo = image_suite._earlier_rows(tmp_path, "image_mtd", ["gaussian"], quick=False)
    assert [r["detector"] for r in kept] == ["musc"]
    assert [r["detector"] for r in pimo] == ["musc"]
    assert image_suite._earlier_rows(tmp_path, "image_mtd", ["gaussian"], quick=True) == ([], [])


def test_params_override_every_detector_and_are_recorded(folder, tmp_path):
    csv = image_suite.run(
        root=folder,
        out_dir=tmp_path,
        detectors=["gaussian"],
        quick=True,
        isolate=False,
        params={"sigma": 2.0},
    )
    ran_with = json.loads(pd.read_csv(csv).set_index("detector").loc["gaussian", "params"])
    assert ran_with["sigma"] == 2.0
    with pytest.raises(InputError, match="gaussian has no parameter bogus"):
        image_suite.run(root=folder, out_dir=tmp_path, detectors=["gaussian"], params={"bogus": 1})
