"""``normalcy export`` on the command line, and the ``bench export`` suite (real data)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import normalcy as nc
from conftest import shared_dataset
from normalcy.cli import app
from normalcy.export.runtime import OnnxDetector

runner = CliRunner()


def test_export_command(tmp_path):
    X = np.random.default_rng(0).normal(size=(200, 3))
    det = nc.create("pca").fit(X)
    det.calibrate(X[:100], fpr=0.05)
    model = det.save(tmp_path / "pca.normalcy")
    out = tmp_path / "pca.onnx"
    result = runner.invoke(app, ["export", str(model), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "threshold" in result.output
    onx = OnnxDetector(out)
    assert onx.threshold == det.threshold
    np.testing.assert_allclose(onx.score(X).scores, det.score(X).scores, rtol=1e-10)
    again = runner.invoke(app, ["export", str(model), "--out", str(out)])
    assert again.exit_code != 0 and "already exists" in again.output
    forced = runner.invoke(app, ["export", str(model), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output


def test_export_command_errors(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 3))
    model = nc.create("ecod").fit(X).save(tmp_path / "ecod.normalcy")
    result = runner.invoke(app, ["export", str(model), "--out", str(tmp_path / "e.onnx")])
    assert result.exit_code != 0 and "cannot be exported" in result.output
    pca = nc.create("pca").fit(X).save(tmp_path / "pca.normalcy")
    bad = runner.invoke(
        app, ["export", str(pca), "--out", str(tmp_path / "p.onnx"), "--format", "tflite"]
    )
    assert bad.exit_code != 0 and "format" in bad.output


@pytest.mark.slow
def test_bench_export_suite(tmp_path):
    root = shared_dataset("adbench").parent
    from normalcy.bench import export_suite

    csv = export_suite.run(
        root=root, out_dir=tmp_path, detectors=["mcd", "fedpca"], limit=300, quick=True
    )
    frame = pd.read_csv(csv)
    assert list(frame.detector) == ["mcd", "fedpca"]
    assert (frame.max_rel_err <= 1e-4).all() and (frame.flag_mismatches == 0).all()
    assert frame.threshold_kept.all()
    assert (tmp_path / "export_quick.md").read_text().startswith("# ONNX export")
