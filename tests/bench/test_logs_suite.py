"""The log benchmark (``normalcy bench logs``) on small fake data sets in the shared layout."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from normalcy.bench import logs_suite
from normalcy.datasets.synthetic_logs import make_logs

FAST = ["invariants", "log_pca"]


def _write_sessions(folder, n_train: int, n_test: int, seed: int = 0) -> None:
    """Workflow sessions a-b-c(-d) as template ids; anomalies add an unknown event 9."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    with open(folder / "sessions.jsonl", "w") as handle:
        for i in range(n_train + n_test):
            split = "train" if i < n_train else "test"
            events = [1, 2, 3] + ([4] if rng.random() < 0.5 else [])
            label = int(split == "test" and i % 10 == 0)
            if label:
                events.insert(1, 9)
            record = {"id": f"s{i}", "split": split, "label": label, "events": events}
            handle.write(json.dumps(record) + "\n")
    pd.DataFrame(
        {"id": [1, 2, 3, 4, 9], "template": ["open", "read", "close", "sync", "oops"]}
    ).to_csv(folder / "templates.csv", index=False)


def _write_loghub(folder, n_lines: int) -> None:
    lines = [x for s in make_logs(n_train=n_lines // 9 + 1, n_test=1).train.lines for x in s]
    lines = lines[:n_lines]
    labels = ["-"] * n_lines
    for j in range(n_lines // 2, n_lines, 97):  # alerts in the second half
        lines[j] = "PacketResponder exception java.io.IOException: Connection reset by peer"
        labels[j] = "KERNDTLB"
    folder.mkdir(parents=True)
    pd.DataFrame({"Label": labels, "Content": lines}).to_csv(
        folder / f"{folder.name}_2k.log_structured.csv", index=False
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("shared")
    _write_sessions(base / "logs" / "hdfs", n_train=150, n_test=100)
    _write_sessions(base / "logs" / "openstack", n_train=19, n_test=120, seed=1)
    _write_loghub(base / "loghub" / "BGL", 1200)
    return base


def test_calibration_comes_from_train_when_it_has_enough_normal_sessions(root):
    data = logs_suite.split("hdfs", root, seed=0)
    assert data.cal_from == "train"
    assert len(data.cal) == 30 and len(data.fit) == 120  # a seeded 20 % of 150
    assert not set(data.cal.ids) & set(data.fit.ids)
    assert len(data.test) == 100 and data.labels.sum() == 10


def test_few_train_sessions_calibrate_on_test_normals_left_out_of_the_evaluation(root):
    data = logs_suite.split("openstack", root, seed=0)
    assert data.cal_from.startswith("test")
    assert len(data.fit) == 19
    assert not set(data.cal.ids) & set(data.test.ids)
    assert len(data.cal) + len(data.test) == 120
    assert any("left out of the evaluation" in n for n in data.notes)


def test_diagnostics_count_anomalies_indistinguishable_from_normal_sessions(root):
    data = logs_suite.split("hdfs", root, seed=0)
    note = next(n for n in data.notes if "exactly the event sequence" in n)
    assert note.startswith("0 of 10")


def test_run_writes_tables_and_a_report_with_timelines(root, tmp_path):
    csv = logs_suite.run(
        dataset="hdfs",
        root=root,
        out_dir=tmp_path,
        detectors=FAST,
        quick=True,
        throughput_lines=400,
    )
    frame = pd.read_csv(csv)
    assert csv.name == "logs_hdfs.csv"
    assert list(frame["detector"]) == FAST
    assert (frame["error"].isna() | (frame["error"] == "")).all()
    for col in ("f1", "precision", "recall", "roc_auc", "ap", "best_f1", "lines_per_s"):
        assert frame[col].notna().all(), col
    # the unknown event 9 flags every anomaly and no normal session
    assert (frame["roc_auc"] == 1.0).all() and (frame["f1"] == 1.0).all()
    speed = pd.read_csv(tmp_path / "logs_throughput.csv")
    assert (speed["lines_per_s"] > 0).all()
    md = (tmp_path / "logs_hdfs.md").read_text()
    assert "| detector | f1 |" in md and "Throughput" in md
    page = (tmp_path / "logs_hdfs.html").read_text()
    assert page.count('class="tl"') == 2 * logs_suite.TOP_SESSIONS
    assert 'class="loc"' in page and "oops" in page and "anomalous" in page


def test_every_set_in_one_run_and_raw_line_windows(root, tmp_path):
    csv = logs_suite.run(
        root=root,
        out_dir=tmp_path,
        detectors=["invariants"],
        quick=True,
        throughput_lines=0,
    )
    frame = pd.read_csv(csv)
    assert csv.name == "logs.csv"
    assert list(frame["dataset"]) == ["hdfs", "openstack", "BGL"]  # Thunderbird is absent
    assert (frame["error"].isna() | (frame["error"] == "")).all()
    assert frame["roc_auc"].notna().all()
    assert (tmp_path / "logs_BGL.csv").is_file()


def test_missing_sets_and_wrong_detectors_are_input_errors(root, tmp_path):
    from normalcy.core.errors import InputError

    with pytest.raises(InputError, match="dataset must be one of"):
        logs_suite.run(dataset="nope", root=root, out_dir=tmp_path, detectors=FAST)
    with pytest.raises(InputError, match="not logs"):
        logs_suite.run(dataset="hdfs", root=root, out_dir=tmp_path, detectors=["iforest"])
    with pytest.raises(InputError, match="no log data sets"):
        logs_suite.run(dataset="hdfs", root=tmp_path / "empty", out_dir=tmp_path)


def test_registered_log_detectors_are_all_picked_up():
    import normalcy as nc

    names = logs_suite.detector_names()
    assert set(names) == {i.name for i in nc.detectors(modality="logs")}
    assert {"deeplog", "log_pca", "invariants", "event_counts"} <= set(names)
