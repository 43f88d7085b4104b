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
    picture = np.asarray(Image.open(tmp_path / "maps" / "part_0.png"))
    assert picture.shape[0] == 32 and picture.shape[1] > 32  # the image, then a colour bar


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
    result = invoke("docs", "--out", out, "--index", tmp_path / "index.json")
    assert result.exit_code == 0, result.output
    from normalcy.core.registry import index_path

    assert (tmp_path / "index.json").read_text() == index_path().read_text()
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


# -- every expected failure: one red line, exit code 2, never a traceback -------------------
@pytest.fixture()
def toy_model(tmp_path):
    """A registered toy detector with declared constraints and a state spec, fitted and saved."""
    from normalcy.core.constraints import Integral, Interval, Options
    from normalcy.core.registry import register, unregister
    from normalcy.core.state_spec import ArraySpec, StateSpec
    from normalcy.tabular.base import TabularDetector

    class Toy(TabularDetector):
        """Distance to the training mean, raised to a power (a toy)."""

        _parameter_constraints = {
            "power": [Interval(Integral, 1, 8)],
            "norm": [Options(str, {"l1", "l2"})],
            "seed": [Interval(Integral, 0, None)],
        }

        def __init__(self, power: int = 1, norm: str = "l2", seed: int = 0):
            self.power, self.norm, self.seed = power, norm, seed

        def _fit(self, X):
            self.mean_ = X.mean(axis=0)

        def _score(self, X):
            d = np.abs(X - self.mean_)
            return (d.sum(1) if self.norm == "l1" else np.sqrt((d**2).sum(1))) ** self.power

        def _get_state(self):
            return {"mean": self.mean_}, {}

        def _set_state(self, arrays, meta):
            self.mean_ = arrays["mean"]

        def _state_spec(self):
            return StateSpec(
                arrays={"mean": ArraySpec(("d",), "float64")}, dims={"d": self.n_features_in_}
            )

    register("toy_cli_test", modality="tabular", paper="p", year=2024)(Toy)
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    train.to_csv(tmp_path / "train.csv", index=False)
    model = nc.create("toy_cli_test").fit(train).save(tmp_path / "model.normalcy")
    yield model
    unregister("toy_cli_test")


BAD_PARAMS = [
    "power=0", "power=9", "power=1.5", "power=abc", "power=true", "power=null", "power=[1]",
    "power={}", "power=1e999", "power=-1", 'power="2"', "norm=l3", "norm=1", "norm=[",
    "seed=-3", "seed=NaN",
]  # fmt: skip


@pytest.mark.parametrize("param", BAD_PARAMS)
def test_every_bad_param_value_is_one_clean_line(toy_model, tmp_path, param):
    result = invoke(
        "fit", "toy_cli_test", tmp_path / "train.csv", "-o", tmp_path / "x", "-p", param
    )
    _assert_clean(result, param.partition("=")[0])


def _assert_clean(result, message: str = "") -> None:
    """Exit code 2, and the output ends with exactly one line "error: ..." (a command may
    have reported progress before it failed)."""
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert lines and lines[-1].startswith("error:"), result.output
    assert sum(line.startswith("error:") for line in lines) == 1, result.output
    assert "Traceback" not in result.output
    assert message in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("fit", "toy_cli_test", "{train}", "-o", "{train}/m.normalcy"), "train.csv"),
        (("fit", "toy_cli_test", "{train}", "-o", "{tmp}"), "it is a folder"),
        (("fit", "toy_cli_test", "{train}", "-o", "/proc/m.normalcy"), ""),
        (("fit", "toy_cli_test", "{train}", "-o", "{tmp}/m.normalcy", "-p", "=1"), "key=value"),
        (("fit", "toy_cli_test", "{train}", "-o", "{tmp}/m", "-p", "power=1", "-p", "power=2"), "twice"),
        (("fit", "toy_cli_test", "{notparquet}", "-o", "{tmp}/m.normalcy"), "as Parquet"),
        (("fit", "toy_cli_test", "{empty}", "-o", "{tmp}/m.normalcy"), "as CSV"),
        (("fit", "toy_cli_test", "{header}", "-o", "{tmp}/m.normalcy"), "no rows"),
        (("fit", "toy_cli_test", "{garbled}", "-o", "{tmp}/m.normalcy"), "cannot read"),
        (("fit", "toy_cli_test", "{ragged}", "-o", "{tmp}/m.normalcy"), "as CSV"),
        (("fit", "toy_cli_test", "{text}", "-o", "{tmp}/m.normalcy"), "non-numeric"),
        (("fit", "toy_cli_test", "{tmp}/none.csv", "-o", "{tmp}/m.normalcy"), "does not exist"),
        (("fit", "toy_cli_test", "{tmp}/data.xlsx", "-o", "{tmp}/m.normalcy"), ".csv or .parquet"),
        (("score", "{model}", "{train}", "-o", "{train}/s.csv"), "cannot write"),
        (("score", "{model}", "{train}", "-o", "/proc/s.csv"), "cannot write"),
        (("score", "{notparquet}", "{train}", "-o", "{tmp}/s.csv"), "not a normalcy model"),
        (("score", "{model}", "{empty}", "-o", "{tmp}/s.csv"), "as CSV"),
        (("calibrate", "{model}", "{train}", "-o", "{train}/m.normalcy"), "train.csv"),
        (("calibrate", "{model}", "{train}", "-o", "/proc/m.normalcy"), ""),
        (("calibrate", "{model}", "{header}"), "no rows"),
        (("list", "-m", "tabular", "--bogus"), "No such option"),
    ],
)  # fmt: skip
def test_bad_invocations_exit_2_without_traceback(toy_model, tmp_path, args, message):
    (tmp_path / "not.parquet").write_text("a,b\n1,2\n")
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "header.csv").write_text("a,b,c\n")
    (tmp_path / "garbled.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "ragged.csv").write_text('a,b,c\n1,2,3\n4,"5\n')
    (tmp_path / "text.csv").write_text("a,b,c\nx,y,z\nu,v,w\n")
    (tmp_path / "data.xlsx").write_bytes(b"PK")
    fields = {
        "train": tmp_path / "train.csv",
        "tmp": tmp_path,
        "model": toy_model,
        "notparquet": tmp_path / "not.parquet",
        "empty": tmp_path / "empty.csv",
        "header": tmp_path / "header.csv",
        "garbled": tmp_path / "garbled.csv",
        "ragged": tmp_path / "ragged.csv",
        "text": tmp_path / "text.csv",
    }
    result = invoke(*[a.format(**fields) for a in args])
    if args[-1] == "--bogus":  # typer's own usage errors keep their format, and exit 2
        assert result.exit_code == 2 and "Traceback" not in result.output
        return
    _assert_clean(result, message)


def test_a_folder_without_images_is_a_clean_error(tmp_path):
    from normalcy.cli import read_data

    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(nc.InputError, match="holds no images"):
        read_data(tmp_path, "image")
    with pytest.raises(nc.InputError, match="is a table"):
        read_data(tmp_path / "x.csv", "image") if (tmp_path / "x.csv").write_text("a\n1\n") else 0


def test_unexpected_errors_are_short_with_a_bug_hint_and_traceback_on_debug(
    toy_model, tmp_path, monkeypatch
):
    def broken(self, X):
        raise ZeroDivisionError("kaboom")

    monkeypatch.setattr(nc.core.get_class("toy_cli_test"), "_score", broken)
    args = ("score", toy_model, tmp_path / "train.csv", "-o", tmp_path / "s.csv")
    result = invoke(*args)
    assert result.exit_code == 1
    assert "unexpected ZeroDivisionError: kaboom" in result.output
    assert "this is a bug" in " ".join(result.output.split())
    assert "Traceback" not in result.output
    result = invoke("--debug", *args)
    assert isinstance(result.exception, ZeroDivisionError)
    monkeypatch.setenv("NORMALCY_DEBUG", "1")
    assert isinstance(invoke(*args).exception, ZeroDivisionError)
