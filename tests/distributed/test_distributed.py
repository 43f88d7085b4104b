"""nc.distributed on a local two-CPU Ray cluster: results equal the single-process ones
exactly (Parquet rows, a folder of images, many series), and errors are clear."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import normalcy as nc
from normalcy.cli import app
from normalcy.core.registry import get_class
from normalcy.distributed.cluster import ClusterError, check_reachable, require_ray
from normalcy.table_io import read_table

SUB_KNN = dict(get_class("sub_knn").quick_params or {})


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="ray is not installed (normalcy[distributed])")
    ray.init(
        num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """A calibrated iforest and its data split over three Parquet files."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(2400, 4)), columns=["a", "b", "c", "d"])
    frame.iloc[5] = 8.0
    det = nc.create("iforest", seed=0).fit(frame.iloc[:800])
    det.calibrate(frame.iloc[800:1200], fpr=0.05)
    folder = tmp_path_factory.mktemp("rows")
    for i in range(3):
        frame.iloc[i * 800 : (i + 1) * 800].to_parquet(folder / f"part{i}.parquet")
    return det, frame, folder


def _series(n: int = 3, length: int = 400) -> dict[str, pd.Series]:
    rng = np.random.default_rng(3)
    out = {}
    for i in range(n):
        values = np.sin(np.arange(length) / (6.0 + i)) + 0.05 * rng.normal(size=length)
        values[300:305] += 3.0
        index = pd.date_range("2024-01-01", periods=length, freq="min", name="time")
        out[f"machine-{i}"] = pd.Series(values, index=index)
    return out


def test_importing_normalcy_does_not_import_ray():
    code = (
        "import sys, normalcy as nc; d = nc.distributed; "
        "assert callable(d.score) and callable(d.fit_many); assert 'ray' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(nc.NormalcyError, match=r"normalcy\[distributed\]"):
        require_ray()


def test_unreachable_or_malformed_address_is_refused_quickly():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ClusterError, match="ray start --head"):
        check_reachable(f"127.0.0.1:{port}", timeout=2)
    with pytest.raises(nc.InputError, match="HOST:PORT"):
        check_reachable("no-port-here")


def test_unknown_dataset_forms_are_refused(table, tmp_path):
    det = table[0]
    with pytest.raises(nc.InputError, match="Parquet"):
        nc.distributed.score(det, 42)
    with pytest.raises(nc.InputError, match="num_workers"):
        nc.distributed.score(det, tmp_path, num_workers=0)
    with pytest.raises(nc.InputError, match="Parquet"):
        nc.distributed.score(det, tmp_path)  # an empty folder
    series_det = nc.create("sub_knn", **SUB_KNN).fit(next(iter(_series(1).values())))
    with pytest.raises(nc.InputError, match="list or dict"):
        nc.distributed.score(series_det, np.zeros(10))


def test_parquet_rows_equal_local_scores(ray_cluster, table):
    det, frame, folder = table
    local = det.score(frame)
    res = nc.distributed.score(det, folder, batch_size=500, num_workers=2)
    assert isinstance(res, nc.Scores) and len(res) == len(frame)
    np.testing.assert_array_equal(res.scores, local.scores)
    np.testing.assert_array_equal(res.labels, local.labels)
    assert res.scores[5] == res.scores.max()
    assert ray_cluster.is_initialized()  # a cluster the caller started is left running


def test_worker_input_errors_arrive_as_themselves(ray_cluster, table, tmp_path):
    det, frame, _ = table
    frame.rename(columns={"a": "x"}).iloc[:50].to_parquet(tmp_path / "wrong.parquet")
    with pytest.raises(nc.InputError, match="x"):
        nc.distributed.score(det, tmp_path / "wrong.parquet")


def test_cli_score_on_ray_writes_the_local_table(ray_cluster, table, tmp_path):
    det, _, folder = table
    model = det.save(tmp_path / "rows.normalcy")
    files = sorted(folder.glob("*.parquet"))
    runner = CliRunner()
    out = runner.invoke(
        app, ["score", str(model), str(files[0]), "-o", str(tmp_path / "ray.csv"), "--ray", "local"]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(app, ["score", str(model), str(files[0]), "-o", str(tmp_path / "one.csv")])
    assert out.exit_code == 0, out.output
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "ray.csv"), pd.read_csv(tmp_path / "one.csv")
    )


def test_image_folder_equals_local_scores(ray_cluster, tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "images"
    folder.mkdir()
    for i in range(7):  # two sizes: the folder is scored at the first image's size
        size = (48, 48) if i % 3 else (40, 56)
        pixels = (rng.random(size) * 60 + 90).astype(np.uint8)
        if i == 4:
            pixels[10:20, 10:20] = 255
        Image.fromarray(pixels).save(folder / f"img_{i}.png")
    train = (rng.random((10, 48, 48)) * 60 + 90).astype(np.uint8)
    det = nc.create("patchcore", **get_class("patchcore").quick_params, batch_size=2,
                    num_threads=1, verbose=False, seed=0).fit(train)  # fmt: skip
    det.calibrate(train, fpr=0.2)
    local = det.score(folder)
    res = nc.distributed.score(det, folder, batch_size=3, num_workers=2)
    np.testing.assert_array_equal(res.scores, local.scores)
    np.testing.assert_array_equal(res.labels, local.labels)
    assert res.index == local.index and res.maps is None
    assert int(np.argmax(res.scores)) == 4


def test_fit_many_and_score_many_series_equal_local(ray_cluster, tmp_path):
    series = _series()
    models = nc.distributed.fit_many("sub_knn", series, SUB_KNN)
    assert list(models) == list(series)
    with pytest.raises(nc.InputError):  # raised on a worker, arrives as itself
        nc.distributed.fit_many("sub_knn", [np.zeros(3)], SUB_KNN)
    for key, s in series.items():
        alone = nc.create("sub_knn", **SUB_KNN).fit(s)
        np.testing.assert_array_equal(models[key].score(s).scores, alone.score(s).scores)
    paths = nc.distributed.fit_many("sub_knn", list(series.values()), SUB_KNN, out_dir=tmp_path)
    assert [p.name for p in paths] == [f"model_{i:05d}.normalcy" for i in range(3)]
    det = nc.load(paths[0])
    det.calibrate(series["machine-0"], fpr=0.05)
    results = nc.distributed.score(det, series)
    for key, s in series.items():
        local = det.score(s)
        np.testing.assert_array_equal(results[key].scores, local.scores)
        np.testing.assert_array_equal(results[key].labels, local.labels)
        assert results[key].index.equals(local.index)
    files = []
    for key, s in series.items():  # one series per CSV file, read as `normalcy score` reads it
        s.rename("value").to_frame().to_csv(tmp_path / f"{key}.csv")
        files.append(tmp_path / f"{key}.csv")
    from_files = nc.distributed.score(det, files)
    for path, res in zip(files, from_files, strict=True):
        local = det.score(read_table(path))
        np.testing.assert_array_equal(res.scores, local.scores)
        assert res.index.equals(local.index)


def test_image_units_are_whole_detector_batches(tmp_path):
    from normalcy.distributed.model import ModelInfo
    from normalcy.distributed.sources import plan

    for i in range(5):
        Image.fromarray(np.full((16, 16), 100, np.uint8)).save(tmp_path / f"{i}.png")
    info = ModelInfo("patchcore", "image", {"batch_size": 4})
    work = plan(tmp_path, info, batch_size=6)
    assert work.unit == 4 and [len(u["paths"]) for u in work.units()] == [4, 1]
    assert plan(tmp_path, info, batch_size=1).unit == 4
    assert work.names == [f"{i}.png" for i in range(5)]
    with pytest.raises(nc.InputError, match="folder of images"):
        plan(42, info)
