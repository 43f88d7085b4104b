"""A new data type is one package plus one ``Modality`` description.

This module plays the package: it defines a toy modality ("wordbag": each sample is a
sentence, read from a text file with one sentence per line), its base class, reader, demo
and one detector, registers the description, and drives fit / score / save / load, the
command line, the metrics and the demo through it, with nothing else edited.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

import normalcy as nc
from normalcy.cli import app
from normalcy.core.base import Detector
from normalcy.core.constraints import Interval, ListOf, Real
from normalcy.core.modality import Modality, get_modality, register_modality, unregister_modality
from normalcy.core.registry import register, unregister
from normalcy.core.state_spec import ArraySpec, StateSpec
from normalcy.demo import ModalityDemo


# -- the toy package: input validation, base class, reader, demo --------------------------
def as_sentences(X: Any, name: str = "sentences") -> list[list[str]]:
    if isinstance(X, str) or not isinstance(X, (list, tuple)):
        raise nc.InputError(f"{name}: expected a list of sentences, got {type(X).__name__}")
    if not X or not all(isinstance(s, str) for s in X):
        raise nc.InputError(f"{name}: expected a non-empty list of strings")
    return [s.lower().split() for s in X]


class WordBagDetector(Detector):
    modality = "wordbag"

    def _check_fit_input(self, X: Any) -> list[list[str]]:
        return as_sentences(X, "training sentences")

    def _check_score_input(self, X: Any) -> list[list[str]]:
        return as_sentences(X)


def read_sentences(path: Path) -> list[str]:
    path = Path(path)
    if not path.is_file():
        raise nc.InputError(f"text file {path} does not exist")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


NORMAL = ["the cat sat on the mat", "the dog sat on the rug", "a cat and a dog", "the mat"]
ODD = ["quantum flux capacitor overload", "zebra xylophone"]


class WordBagDemo(ModalityDemo):
    modality = "wordbag"
    title = "sentences"

    def __init__(self, quick: bool):
        self.fit_data = NORMAL * 5
        self.holdout = NORMAL * 4
        self.test = NORMAL + ODD
        self.labels = np.array([0] * len(NORMAL) + [1] * len(ODD))

    def describe(self) -> str:
        return "toy sentences"

    def pictures(self, report: Any, runs: list) -> None:
        pass


TOY = Modality(
    name="wordbag",
    package=__name__,
    base_class=WordBagDetector,  # real packages write "normalcy.<name>.base:Class"
    reader=read_sentences,
    reader_help="a text file, one sentence per line",
    demo=WordBagDemo,
    evaluation_kind="ranking",
    index_label="sentence",
    title="Sentences",
)


# -- one detector of the toy modality -----------------------------------------------------
class WordFrequency(WordBagDetector):
    """Mean surprisal of a sentence's words under the training word frequencies."""

    _parameter_constraints = {"smoothing": [Interval(Real, 0, None, closed="neither")]}

    def __init__(self, smoothing: float = 1.0, seed: int = 0):
        self.smoothing = smoothing
        self.seed = seed

    def _fit(self, data: list[list[str]]) -> None:
        counts = Counter(w for s in data for w in s)
        self.vocabulary_ = sorted(counts)
        self.counts_ = np.array([counts[w] for w in self.vocabulary_], dtype=np.float64)

    def _score(self, data: list[list[str]]) -> np.ndarray:
        total = self.counts_.sum() + self.smoothing * (len(self.vocabulary_) + 1)
        index = {w: i for i, w in enumerate(self.vocabulary_)}
        out = []
        for words in data:
            c = [self.counts_[index[w]] if w in index else 0.0 for w in words] or [0.0]
            out.append(float(np.mean([-math.log((x + self.smoothing) / total) for x in c])))
        return np.array(out)

    def _get_state(self):
        return {"counts": self.counts_}, {"vocabulary": self.vocabulary_}

    def _set_state(self, arrays, meta):
        self.counts_ = arrays["counts"]
        self.vocabulary_ = list(meta["vocabulary"])

    def _state_spec(self) -> StateSpec:
        return StateSpec(
            arrays={"counts": ArraySpec(("v",), "float64", value_range=(0, None))},
            meta={"vocabulary": [ListOf(str)]},
        )


@pytest.fixture()
def toy():
    register_modality(TOY, replace=True)
    cls = register("wordfreq_test", modality="wordbag", paper="toy", year=2024)(WordFrequency)
    yield cls
    unregister("wordfreq_test")
    unregister_modality("wordbag")


def test_register_refuses_an_unknown_modality_until_it_is_described():
    with pytest.raises(ValueError, match="unknown modality"):
        register("x_test", modality="wordbag", paper="p", year=2020)


def test_fit_score_save_load_through_the_toy_modality(toy, tmp_path):
    assert get_modality("wordbag") is TOY
    assert "wordbag" in [m.name for m in nc.modalities()]
    assert nc.core.WordBagDetector is WordBagDetector  # base classes resolve by name
    det = nc.create("wordfreq_test", smoothing=0.5).fit(NORMAL * 3)
    res = det.score(NORMAL + ODD)
    assert res.scores[-2:].min() > res.scores[:-2].max()
    det.calibrate(NORMAL * 3, fpr=0.25)
    loaded = nc.load(det.save(tmp_path / "toy.normalcy"))
    assert loaded.vocabulary_ == det.vocabulary_
    assert np.array_equal(loaded.score(ODD).scores, det.score(ODD).scores)
    assert loaded.threshold.value == det.threshold.value
    assert [d.name for d in nc.detectors("wordbag")] == ["wordfreq_test"]
    with pytest.raises(nc.InputError, match="smoothing"):
        nc.create("wordfreq_test", smoothing=-1)
    row = nc.metrics.evaluate([0] * 4 + [1] * 2, res.scores, kind="wordbag")
    assert row["auroc"] == 1.0


def test_command_line_reads_and_writes_through_the_toy_modality(toy, tmp_path):
    (tmp_path / "train.txt").write_text("\n".join(NORMAL * 3), encoding="utf-8")
    (tmp_path / "test.txt").write_text("\n".join(NORMAL + ODD), encoding="utf-8")
    runner = CliRunner()
    model, out = tmp_path / "m.normalcy", tmp_path / "s.csv"
    r = runner.invoke(app, ["fit", "wordfreq_test", str(tmp_path / "train.txt"), "-o", str(model)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["calibrate", str(model), str(tmp_path / "train.txt"), "--fpr", "0.2"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["score", str(model), str(tmp_path / "test.txt"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    import pandas as pd

    frame = pd.read_csv(out)
    assert frame.columns[0] == "sentence" and len(frame) == 6
    assert frame["anomaly"].tolist()[-2:] == [True, True]
    r = runner.invoke(
        app, ["score", str(model), str(tmp_path / "nope.txt"), "-o", str(tmp_path / "t.csv")]
    )
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output


def test_the_demo_runs_the_toy_modality(toy, tmp_path):
    from normalcy.demo import run_demo

    frame = run_demo(tmp_path / "report", detectors=["wordfreq_test"])
    assert frame["modality"].tolist() == ["wordbag"] and frame["auroc"].iloc[0] == 1.0
    assert (tmp_path / "report" / "index.html").is_file()


def test_core_names_no_data_type():
    """Outside docstrings and comments, ``normalcy/core`` never names a modality."""
    import ast
    import re

    import normalcy.core

    pattern = re.compile(r"\b(tabular|image|images|series)\b", re.IGNORECASE)
    offenders = []
    for path in sorted(Path(normalcy.core.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in ast.walk(tree):
            texts = []
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) not in docstrings:
                    texts.append(node.value)
            elif isinstance(node, ast.Name):
                texts.append(node.id)
            elif isinstance(node, ast.Attribute):
                texts.append(node.attr)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                texts += [getattr(node, "module", None) or ""] + [a.name for a in node.names]
            offenders += [f"{path.name}:{node.lineno}: {t!r}" for t in texts if pattern.search(t)]
    assert not offenders, offenders
