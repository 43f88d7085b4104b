"""The SMD/ASD loader (interpretation labels read against test_label) and `normalcy bench
mts` end to end on a tiny synthetic entity folder; a real-data check when the shared data
is present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from conftest import shared_dataset
from normalcy.bench import mts_suite
from normalcy.datasets.mts import entities, load_entity, parse_interpretation


def _entity(folder: Path, seed: int, inclusive: bool) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(1500)
    base = np.sin(2 * np.pi * t[:, None] / np.array([20.0, 30.0, 45.0, 60.0]))
    x = (base @ rng.normal(size=(4, 6))) + 0.05 * rng.normal(size=(1500, 6))
    train, test = x[:900], x[900:].copy()
    labels = np.zeros(600, dtype=np.int8)
    labels[300:330] = 1
    test[300:330, 2] += 3.0
    test[300:330, 5] -= 3.0
    folder.mkdir(parents=True)
    np.save(folder / "train.npy", train.astype(np.float32))
    np.save(folder / "test.npy", test.astype(np.float32))
    np.save(folder / "test_label.npy", labels)
    end = 329 if inclusive else 330
    (folder / "interpretation_label.txt").write_text(f"300-{end}:3,6\n")


@pytest.fixture
def root(tmp_path):
    _entity(tmp_path / "asd" / "omi-1", 0, inclusive=True)
    _entity(tmp_path / "asd" / "omi-2", 1, inclusive=False)
    return tmp_path


def test_loader_reads_both_end_conventions(root):
    a, b = list(entities(root / "asd"))
    for ent in (a, b):
        assert ent.train.shape == (900, 6) and ent.labels.sum() == 30
        assert [(s.start, s.end, s.channels) for s in ent.segments] == [(300, 329, (2, 5))]


def test_interpretation_errors():
    labels = np.zeros(10, dtype=bool)
    with pytest.raises(nc.InputError, match="expected 'start-end"):
        parse_interpretation("3to5:1", labels, 4)
    with pytest.raises(nc.InputError, match="outside 1..4"):
        parse_interpretation("3-5:7", labels, 4)


def test_loader_missing_files(tmp_path):
    with pytest.raises(nc.InputError, match="lacks"):
        load_entity(tmp_path)


def test_bench_mts_end_to_end(root, tmp_path):
    out = tmp_path / "out"
    path = mts_suite.run(
        dataset="asd", root=root, out_dir=out, detectors=["channel_pca", "rola"], quick=True
    )
    summary = pd.read_csv(path)
    assert list(summary["detector"]) == ["channel_pca", "rola"]
    assert (summary["entities"] == 2).all() and (summary["errors"] == 0).all()
    for col in mts_suite.METRICS:
        assert summary[col].between(0, 1).all(), col
    pca = summary.set_index("detector").loc["channel_pca"]
    assert pca["hit@3"] == 1.0 and pca["vus_pr"] > 0.5
    assert np.isfinite(summary.set_index("detector").loc["rola", "stream_points_per_s"])
    per_entity = pd.read_csv(out / "mts_asd_per_entity.csv")
    assert len(per_entity) == 4
    html = (out / "mts_asd.html").read_text()
    assert "Channel heat maps" in html and "data:image/png;base64" in html
    assert (out / "mts_asd.md").read_text().startswith("| detector")


def test_bench_mts_rejects_unknown_dataset(root, tmp_path):
    with pytest.raises(nc.InputError, match="smd"):
        mts_suite.run(dataset="swat", root=root, out_dir=tmp_path, detectors=["channel_pca"])


@pytest.mark.slow
def test_real_smd_entity_loads():
    root = shared_dataset("mts/smd")
    ent = next(entities(root))
    assert ent.n_channels == 38 and ent.labels.any() and ent.segments
    for seg in ent.segments:
        assert ent.labels[seg.start : seg.end + 1].all()
