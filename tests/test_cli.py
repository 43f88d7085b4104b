"""The command line: every command through typer's CliRunner, on tiny files."""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import normalcy as nc
from normalcy import cli
from normalcy.cli import app, parse_params, read_table

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture()
def tables(tmp_path):
    rng = np.random.default_rng(0)
    cols = ["a", "b", "c"]
    train = pd.DataFrame(rng.normal(size=(120, 3)), columns=cols)
    holdout = pd.DataFrame(rng.normal(size=(60, 3)), columns=cols)
    test = pd.DataFrame(np.vstack([rng.normal(size=(30, 3)), np.full((3, 3), 8.0)]), columns=cols)
    paths = {}
    for name, frame in (("train", train), ("holdout", holdout), ("test", test)):
        paths[name] = tmp_path / f"{name}.csv"
        frame.to_csv(paths[name], index=False)
    return paths, train, holdout, test


def test_list_shows_registered_detectors():
    result = invoke("list", "--modality", "tabular")
    assert result.exit_code == 0, result.output
    for info in nc.detectors("tabular"):
        assert info.name in result.output
    assert "localises" in result.output


def test_list_unknown_modality_is_a_clean_error():
    result = invoke("list", "--modality", "sound")
    assert result.exit_code == 2
    assert "unknown modality 'sound'" in result.output
    assert "Traceback" not in result.output


def test_fit_calibrate_score_round_trip(tables, tmp_path):
    paths, train, holdout, test = tables
    model = tmp_path / "ecod.normalcy"
    result = invoke("fit", "ecod", paths["train"], "--out", model)
    assert result.exit_code == 0, result.output
    assert model.is_file()

    result = invoke("calibrate", model, paths["holdout"], "--fpr", "0.05")
    assert result.exit_code == 0, result.output
    expected = nc.create("ecod").fit(train)
    threshold = expected.calibrate(holdout, fpr=0.05)
    assert f"{threshold.value:.6g}" in result.output
    assert nc.load(model).threshold == threshold

    out = tmp_path / "scores.csv"
    result = invoke("score", model, paths["test"], "--out", out)
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out, index_col=0)
    assert list(scores.columns) == ["score", "anomaly"]
    assert scores.index.name == "row" and len(scores) == len(test)
    np.testing.assert_allclose(scores["score"], expected.score(test).scores, rtol=1e-12)
    assert scores["anomaly"].iloc[-3:].all()  # the three far points are flagged
    assert "flagged as anomalous" in result.output


def test_fit_with_params_and_calibration_and_parquet_output(tables, tmp_path):
    paths, train, holdout, test = tables
    model = tmp_path / "knn.normalcy"
    result = invoke(
        "fit", "knn", paths["train"], "--out", model, "--param", "n_neighbors=7",
        "-p", "method=mean", "--calibrate", paths["holdout"], "--fpr", "0.1",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    loaded = nc.load(model)
    assert loaded.n_neighbors == 7 and isinstance(loaded.n_neighbors, int)
    assert loaded.method == "mean"
    assert loaded.threshold is not None and loaded.threshold.rate == 0.1
    out = tmp_path / "scores.parquet"
    assert invoke("score", model, paths["test"], "--out", out).exit_code == 0
    assert len(pd.read_parquet(out)) == len(test)


def test_calibrate_with_contamination_writes_to_other_file(tables, tmp_path):
    paths, train, _, test = tables
    model = tmp_path / "m.normalcy"
    assert invoke("fit", "iforest", paths["train"], "--out", model).exit_code == 0
    other = tmp_path / "calibrated.normalcy"
    result = invoke("calibrate", model, paths["test"], "--contamination", "0.1", "--out", other)
    assert result.exit_code == 0, result.output
    assert nc.load(model).threshold is None
    assert nc.load(other).threshold.method == "contamination"


def test_parse_params_reads_json_values_else_strings():
    params = parse_params(["k=5", "rate=0.1", "flag=true", "name=abc", "sizes=[1, 2]", "x=null"])
    assert params == {"k": 5, "rate": 0.1, "flag": True, "name": "abc", "sizes": [1, 2], "x": None}
    assert isinstance(params["k"], int)
    with pytest.raises(nc.InputError, match="key=value"):
        parse_params(["novalue"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fit", "no_such_detector", "{train}", "--out", "{tmp}/m.normalcy"), "no detector named"),
        (("fit", "ecod", "{tmp}/missing.csv", "--out", "{tmp}/m.normalcy"), "does not exist"),
        (("fit", "ecod", "{nan}", "--out", "{tmp}/m.normalcy"), "NaN or infinite values"),
        (("fit", "ecod", "{train}", "--out", "{tmp}/m.normalcy", "-p", "bogus=1"), "no parameter"),
        (("fit", "ecod", "{tmp}", "--out", "{tmp}/m.normalcy"), "is a folder"),
        (("fit", "ecod", "{train}", "--out", "{tmp}/m.normalcy", "--fpr", "0.1"), "needs --calib"),
        (("score", "{tmp}/missing.normalcy", "{train}", "--out", "{tmp}/s.csv"), "does not exist"),
        (("score", "{model}", "{train}", "--out", "{tmp}/s.txt"), ".csv or .parquet"),
        (("score", "{model}", "{narrow}", "--out", "{tmp}/s.csv"), "fitted on 3"),
        (("score", "{model}", "{train}", "--out", "{tmp}/s.csv", "--maps-dir", "{tmp}/m"), "maps"),
        (("calibrate", "{model}", "{train}", "--fpr", "2"), "fpr must be strictly between"),
    ],
)
def test_bad_input_gives_one_clean_line_and_exit_code_2(tables, tmp_path, args, message):
    paths, train, *_ = tables
    frame = train.copy()
    frame.loc[3, "b"] = np.nan
    frame.to_csv(tmp_path / "nan.csv", index=False)
    train.iloc[:, :2].to_csv(tmp_path / "narrow.csv", index=False)
    model = nc.create("ecod").fit(train).save(tmp_path / "model.normalcy")
    fields = {
        "train": paths["train"],
        "tmp": tmp_path,
        "nan": tmp_path / "nan.csv",
        "narrow": tmp_path / "narrow.csv",
        "model": model,
    }
    result = invoke(*[a.format(**fields) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.output.startswith("error:")
    assert result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_read_table_parses_a_timestamp_column(tmp_path):
    stamps = pd.date_range("2024-01-01", periods=5, freq="h")
    frame = pd.DataFrame({"Timestamp": stamps.astype(str), "x": np.arange(5.0)})
    frame.to_csv(tmp_path / "s.csv", index=False)
    read = read_table(tmp_path / "s.csv")
    assert isinstance(read.index, pd.DatetimeIndex) and list(read.columns) == ["x"]
    assert (read.index == stamps).all()
    frame["Timestamp"] = ["not a date"] * 5
    frame.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(nc.InputError, match="could not be parsed as timestamps"):
        read_table(tmp_path / "bad.csv")


def test_write_overlays_one_png_per_image(tmp_path):
    from PIL import Image

    from normalcy.datasets.synthetic import make_images

    data = make_images(n_train=1, n_test=3, size=32, seed=0)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i, img in enumerate(data.test):
        Image.fromarray(img).save(folder / f"part_{i}.png")
    res = nc.Scores(scores=np.arange(3.0), maps=data.masks.astype(np.float32))
    assert cli.write_overlays(str(folder), res, tmp_path / "maps") == 3
    written = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert written == ["part_0.png", "part_1.png", "part_2.png"]
    assert np.asarray(Image.open(tmp_path / "maps" / "part_0.png")).shape == (32, 32, 3)


def test_bench_unknown_suite_lists_available_ones(monkeypatch):
    monkeypatch.setattr(cli, "available_suites", lambda: ["alpha", "beta"])
    result = invoke("bench", "nope")
    assert result.exit_code == 2
    assert "unknown benchmark suite 'nope'" in result.output
    assert "alpha, beta" in result.output


def test_bench_dispatches_to_the_suite_module(monkeypatch, tmp_path):
    calls = {}

    def run(**kwargs):
        calls.update(kwargs)
        path = kwargs["out_dir"] / "fake.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"detector": ["x"], "auroc": [0.75]}).to_csv(path, index=False)
        return path

    monkeypatch.setitem(sys.modules, "normalcy.bench.fake_suite", types.SimpleNamespace(run=run))
    monkeypatch.setattr(cli, "available_suites", lambda: ["fake"])
    result = invoke(
        "bench", "fake", "--dataset", "d1", "--out", tmp_path, "--detectors", "a, b",
        "--limit", "3", "--quick",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert calls == {
        "dataset": "d1",
        "root": None,
        "out_dir": tmp_path,
        "detectors": ["a", "b"],
        "limit": 3,
        "quick": True,
    }
    assert "0.7500" in result.output


def test_bench_param_goes_to_suites_that_take_it(monkeypatch, tmp_path):
    calls = {}

    def run(*, out_dir, params=None, **kwargs):
        calls["params"] = params
        path = out_dir / "fake.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"detector": ["x"]}).to_csv(path, index=False)
        return path

    def run_defaults_only(*, out_dir, **kwargs):
        raise AssertionError("must not run")

    monkeypatch.setattr(cli, "available_suites", lambda: ["fake", "plain"])
    monkeypatch.setitem(sys.modules, "normalcy.bench.fake_suite", types.SimpleNamespace(run=run))
    monkeypatch.setitem(
        sys.modules, "normalcy.bench.plain_suite", types.SimpleNamespace(run=run_defaults_only)
    )
    result = invoke("bench", "fake", "--out", tmp_path, "-p", "sigma=2", "-p", "layers=[1, 2]")
    assert result.exit_code == 0, result.output
    assert calls["params"] == {"sigma": 2, "layers": [1, 2]}
    result = invoke("bench", "plain", "--out", tmp_path, "--param", "sigma=2")
    assert result.exit_code == 2
    assert "runs default parameters only" in result.output


def test_available_suites_are_bench_modules_named_suite():
    import pkgutil

    from normalcy import bench

    modules = {m.name for m in pkgutil.iter_modules(bench.__path__)}
    assert cli.available_suites() == sorted(
        m[: -len("_suite")] for m in modules if m.endswith("_suite")
    )


def test_docs_writes_every_detector(tmp_path):
    out = tmp_path / "docs" / "detectors.md"
    (tmp_path / "docs" / "detectors").mkdir(parents=True)
    (tmp_path / "docs" / "detectors" / "knn.md").write_text("# kNN\n")
    result = invoke("docs", "--out", out)
    assert result.exit_code == 0, result.output
    text = out.read_text()
    infos = nc.detectors()
    assert f"registers {len(infos)} detectors" in text
    for info in infos:
        assert f"### {info.name}\n" in text
    assert "| `n_neighbors` | `5` |" in text  # knn's default, from the registry
    assert "[detectors/knn.md](detectors/knn.md)" in text  # hand-written page linked
    assert text.count("- **Details:**") == 1


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and nc.__version__ in result.output
