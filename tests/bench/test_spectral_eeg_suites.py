"""The spectral and EEG suites run end to end on tiny stand-in data folders."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from normalcy.bench import eeg_suite, spectral_suite
from normalcy.spectral.synthetic import planted


def test_spectral_suite_writes_tables_and_html(tmp_path, monkeypatch):
    root = tmp_path / "abu"
    root.mkdir()
    scene = planted(height=16, width=16, bands=24, n_anomalies=4, seed=2)
    np.savez(root / "toy.npz", cube=scene.cube.astype(np.float32), mask=scene.mask)
    (root / "scenes.json").write_text(json.dumps({"toy": {"global_rx_auroc": 0.9}}))
    monkeypatch.setattr(spectral_suite, "SHIFT_PIXELS", 5)
    csv = spectral_suite.run(root=root, out_dir=tmp_path / "out", detectors=["rx"], quick=True)
    frame = pd.read_csv(csv)
    assert list(frame.detector) == ["rx"] and frame.roc_auc.iloc[0] > 0.9
    shift = pd.read_csv(tmp_path / "out" / "spectral_quick_shift.csv")
    assert sorted(shift.shift_bands) == [1.0, 2.0, 4.0]
    assert (tmp_path / "out" / "spectral_quick.html").stat().st_size > 1000


def test_eeg_suite_writes_tables_and_html(tmp_path):
    root = tmp_path / "bonn"
    root.mkdir()
    rng = np.random.default_rng(0)
    for name in "ABCD":
        np.save(root / f"{name}.npy", rng.normal(size=(8, 128)).astype(np.float32))
    np.save(root / "E.npy", (4 * rng.normal(size=(8, 128))).astype(np.float32))
    csv = eeg_suite.run(root=root, out_dir=tmp_path / "out", detectors=["line_length"], quick=True)
    frame = pd.read_csv(csv)
    assert set(frame.detector) == {"line_length", "raw line length (reference, no fit)"}
    assert (frame.roc_auc > 0.9).all()
    assert (tmp_path / "out" / "eeg_quick.md").is_file()
