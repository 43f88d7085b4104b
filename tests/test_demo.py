"""The built-in demo: runs with no data of its own, writes a report, and fails loudly.

The CLI test runs every registered tabular detector. Image and series detectors are many
and slow to run in a unit test, so each modality's demo machinery (data, metrics, pictures)
is exercised with a tiny unregistered detector defined here; `make demo` runs them all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

import normalcy as nc
from normalcy.cli import app
from normalcy.core.registry import DetectorInfo, get_class
from normalcy.demo import DEMOS, build_report, evaluate, results_frame
from normalcy.demo import select_detectors as select
from normalcy.image.base import ImageDetector
from normalcy.image.demo import ImageDemo
from normalcy.series.base import SeriesDetector
from normalcy.series.demo import SeriesDemo

runner = CliRunner()


def test_quick_demo_writes_report_with_pictures_and_good_tabular_scores(tmp_path):
    out = tmp_path / "report"
    result = runner.invoke(app, ["demo", "--out", str(out), "--quick", "--modality", "tabular"])
    assert result.exit_code == 0, result.output
    html = (out / "index.html").read_text()
    results = pd.read_csv(out / "results.csv")
    tabular = nc.detectors("tabular")
    assert html.count("<img") == 1 + len(tabular)  # ROC curves + one histogram each
    assert sorted(results["detector"]) == sorted(i.name for i in tabular)
    assert (results["auroc"] > 0.8).all(), results[["detector", "auroc"]]
    assert (results["ap"] > 0.5).all(), results[["detector", "ap"]]
    # The threshold was calibrated at 5 % FPR on held-out normal data.
    assert (results["fpr_at_threshold"] < 0.15).all()
    assert "AUROC" in result.output


def test_demo_selects_every_registered_detector_of_each_demo_modality():
    chosen = select()
    for modality in DEMOS:
        expected = [i.name for i in nc.detectors(modality)]
        assert [i.name for i in chosen.get(modality, [])] == expected


def test_demo_detector_selection_and_unknown_modality(tmp_path):
    result = runner.invoke(
        app, ["demo", "--out", str(tmp_path), "--quick", "--detectors", "ecod,knn"]
    )
    assert result.exit_code == 0, result.output
    assert list(pd.read_csv(tmp_path / "results.csv")["detector"]) == ["ecod", "knn"]
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--modality", "sound"])
    assert result.exit_code == 2 and "no data for modality" in result.output


def test_demo_fails_loudly_when_a_detector_fails(tmp_path, monkeypatch):
    def broken(self, X):
        raise RuntimeError("boom")

    monkeypatch.setattr(get_class("ecod"), "_score", broken)
    result = runner.invoke(app, ["demo", "--out", str(tmp_path), "--quick", "--detectors", "ecod"])
    assert result.exit_code == 1  # not a user error: a short message and the bug hint
    output = " ".join(result.output.split())
    assert "detector 'ecod' (tabular) failed in the demo" in output
    assert "this is a bug" in output and "Traceback" not in result.output
    assert not (tmp_path / "index.html").exists()


# -- tiny detectors, not registered, to drive the image and series demos ------------------
class MeanImageDiff(ImageDetector):
    """Distance of each pixel to the training images' mean colour, averaged over 5x5
    neighbourhoods (a test helper; blind to missing texture, sees spots, stains, scratches)."""

    info = DetectorInfo(name="mean_image_diff", modality="image", paper="-", year=2024)
    name = "mean_image_diff"

    def __init__(self, seed: int = 0):
        self.seed = seed

    def _fit(self, data):
        imgs = data.load_all(data.output_size())
        self.colour_ = imgs.reshape(-1, 3).mean(axis=0)
        self.spread_ = imgs.reshape(-1, 3).std(axis=0) + 1e-6

    def _score(self, data):
        imgs = data.load_all(data.output_size())
        from scipy.ndimage import uniform_filter

        maps = uniform_filter((np.abs(imgs - self.colour_) / self.spread_).max(axis=-1), (1, 5, 5))
        return nc.Scores(scores=maps.reshape(len(maps), -1).max(axis=1), maps=maps)


class SeasonalDifference(SeriesDetector):
    """Distance of each step to the step one period earlier (later for the first period),
    in units of the training data's typical difference (a test helper)."""

    info = DetectorInfo(name="seasonal_difference", modality="series", paper="-", year=2024)
    name = "seasonal_difference"

    def __init__(self, period: int = 100, seed: int = 0):
        self.period = period
        self.seed = seed

    def _difference(self, v):
        p = self.period
        return np.abs(np.concatenate([v[:p] - v[p : 2 * p], v[p:] - v[:-p]]))

    def _fit(self, data):
        self.scale_ = self._difference(data.values).mean(axis=0)

    def _score(self, data):
        return (self._difference(data.values) / self.scale_).max(axis=1)


def test_image_demo_data_metrics_and_pictures():
    from normalcy.viz import HtmlReport

    demo = ImageDemo(quick=True)
    run = evaluate(MeanImageDiff(), demo)
    assert run.metrics["auroc"] > 0.7
    assert run.metrics["pixel_auroc"] > 0.9
    assert 0.0 <= run.metrics["aupro"] <= 1.0
    assert run.scores.maps.shape == demo.masks.shape
    frame = results_frame([run])
    assert {"pixel_auroc", "aupro"} <= set(frame.columns) and "vus_pr" not in frame.columns
    report = HtmlReport("t")
    demo.pictures(report, [run])
    html = report.render()
    n_examples = len(demo._examples())
    assert n_examples >= 5  # four defect kinds and normal images
    assert html.count("<img") == 2 + 2 * n_examples  # ROC, histogram, test images, overlays


def test_series_demo_data_metrics_and_pictures():
    demo = SeriesDemo(quick=True)
    run = evaluate(SeasonalDifference(), demo)
    assert run.metrics["auroc"] > 0.8
    assert 0.0 < run.metrics["vus_pr"] <= 1.0
    assert 0.0 <= run.metrics["event_f1"] <= 1.0
    assert run.metrics["fpr_at_threshold"] < 0.2
    report = build_report({"series": demo}, {"series": [run]}, results_frame([run]))
    html = report.render()
    assert html.count("<img") == 2  # ROC and the timeline
    assert "seasonal_difference" in html and "level_shift" in html


def test_demo_params_hook_and_quick_fallback(monkeypatch):
    from normalcy.demo import demo_params

    cls = get_class("knn")
    info = cls.info
    assert demo_params(info) == dict(cls.quick_params)
    monkeypatch.setattr(cls, "demo_params", {"n_neighbors": 3}, raising=False)
    assert demo_params(info) == {"n_neighbors": 3}
    assert demo_params(info, quick=True) == dict(cls.quick_params)


def test_quick_demo_of_segments_and_spectral_cubes_finds_the_planted_anomalies(tmp_path):
    args = ["demo", "--out", str(tmp_path), "--quick", "--modality", "segments"]
    result = runner.invoke(app, [*args, "--modality", "spectral"])
    assert result.exit_code == 0, result.output
    results = pd.read_csv(tmp_path / "results.csv")
    expected = {i.name for m in ("segments", "spectral") for i in nc.detectors(m)}
    assert set(results["detector"]) == expected
    assert (results["auroc"] > 0.8).all(), results[["detector", "auroc"]]
