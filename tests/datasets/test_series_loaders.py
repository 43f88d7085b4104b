"""UCR archive and NAB loaders: file formats, index conventions, real-data checks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import normalcy as nc
from conftest import shared_dataset
from normalcy.datasets import nab, ucr


def test_ucr_name_parsing_is_zero_based():
    assert ucr.parse_name("004_UCR_Anomaly_DISTORTEDBIDMC1_2500_5400_5600.txt") == (
        4,
        "DISTORTEDBIDMC1",
        2500,
        5399,
        5599,
    )
    with pytest.raises(nc.InputError, match="not a UCR archive file name"):
        ucr.parse_name("series.txt")
    with pytest.raises(nc.InputError, match="before its begin"):
        ucr.parse_name("001_UCR_Anomaly_X_10_30_20.txt")


def test_ucr_reads_one_or_many_values_per_line(tmp_path):
    values = np.round(np.sin(np.arange(40) / 3.0), 4)
    one = tmp_path / "001_UCR_Anomaly_A_20_25_27.txt"
    one.write_text("\n".join(map(str, values)) + "\n")
    many = tmp_path / "002_UCR_Anomaly_B_20_25_27.txt"
    many.write_text("  " + "   ".join(map(str, values)) + "\n")
    a, b = ucr.load(tmp_path)
    np.testing.assert_array_equal(a.values, values)
    np.testing.assert_array_equal(b.values, values)
    assert a.id == "001_A" and a.train_end == 20 and a.anomaly == (24, 26)
    assert a.labels.sum() == 3 and a.labels[24] and not a.labels[23]
    assert a.train.shape == (20,) and a.test.shape == (20,)
    (tmp_path / "003_UCR_Anomaly_C_20_39_45.txt").write_text("1\n" * 40)
    with pytest.raises(nc.InputError, match="outside the series"):
        ucr.load(tmp_path)
    assert len(ucr.load(tmp_path, limit=2)) == 2


def test_ucr_errors(tmp_path):
    with pytest.raises(nc.InputError, match="does not exist"):
        ucr.list_files(tmp_path / "missing")
    with pytest.raises(nc.InputError, match="no UCR archive files"):
        ucr.list_files(tmp_path)
    bad = tmp_path / "001_UCR_Anomaly_A_2_3_3.txt"
    bad.write_text("1\nx\n3\n")
    with pytest.raises(nc.InputError, match="as numbers"):
        ucr.load_series(bad)


def _nab_tree(tmp_path):
    (tmp_path / "data" / "grp").mkdir(parents=True)
    (tmp_path / "labels").mkdir()
    stamps = pd.date_range("2024-01-01", periods=100, freq="5min")
    pd.DataFrame(
        {"timestamp": stamps.strftime("%Y-%m-%d %H:%M:%S"), "value": np.arange(100.0)}
    ).to_csv(tmp_path / "data" / "grp" / "s.csv", index=False)
    windows = {
        "grp/s.csv": [
            ["2024-01-01 01:00:00.000000", "2024-01-01 01:20:00.000000"],
            ["2024-01-01 02:02:00.000000", "2024-01-01 02:13:00.000000"],
        ]
    }
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    (tmp_path / "labels" / "combined_labels.json").write_text(
        json.dumps({"grp/s.csv": ["2024-01-01 01:10:00"]})
    )
    return stamps


def test_nab_windows_become_inclusive_index_ranges(tmp_path):
    stamps = _nab_tree(tmp_path)
    (s,) = nab.load(tmp_path)
    assert s.key == "grp/s.csv" and s.group == "grp" and s.name == "s"
    assert s.timestamps.equals(stamps)
    # 01:00 is row 12, 01:20 row 16; 02:02 falls between rows: first row at/after is 25 (02:05),
    # last row at/before 02:13 is 26 (02:10)
    assert s.windows == [(12, 16), (25, 26)]
    assert s.points == [14]
    assert s.labels.sum() == 7
    assert s.probationary == 15
    series = s.to_series()
    assert isinstance(series.index, pd.DatetimeIndex) and series.iloc[3] == 3.0


def test_nab_errors(tmp_path):
    with pytest.raises(nc.InputError, match="no data/ folder"):
        nab.list_keys(tmp_path)
    _nab_tree(tmp_path)
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(tmp_path / "data" / "grp" / "bad.csv", index=False)
    with pytest.raises(nc.InputError, match="expected timestamp,value"):
        nab.load(tmp_path)


def test_probationary_length_follows_nab():
    assert nab.probationary_length(4032) == 604
    assert nab.probationary_length(22695) == 750  # 0.15 * 5000 cap


def test_real_ucr_folder():
    root = shared_dataset("ucr")
    files = ucr.list_files(root)
    assert len(files) == 125
    first = ucr.load_series(files[0])
    assert first.number == 1 and first.train_end == 35000 and first.anomaly == (51999, 52619)
    assert first.values.size > first.anomaly[1] and np.all(np.isfinite(first.values))


def test_real_nab_folder():
    root = shared_dataset("nab")
    series = nab.load(root)
    assert len(series) == 35
    taxi = next(s for s in series if s.key == "realKnownCause/nyc_taxi.csv")
    assert len(taxi.windows) == 5 and taxi.values.size == 10320 and taxi.probationary == 750
    assert sum(len(s.windows) for s in series) == 55
    for s in series:
        for a, b in s.windows:
            assert 0 <= a <= b < s.values.size
    # real-world timestamps: daylight-saving repeats and one backward jump (rows stay in order)
    broken = sorted(s.name for s in series if not s.timestamps_increasing)
    assert broken == [
        "ec2_disk_write_bytes_1ef3de",
        "ec2_network_in_5abac7",
        "ec2_request_latency_system_failure",
        "machine_temperature_system_failure",
    ]
    temp = next(s for s in series if s.name == "machine_temperature_system_failure")
    assert temp.windows == [(2126, 2692), (3703, 4269), (16057, 16623), (19232, 19798)]
    det = nc.create("sub_pca", window=50).fit(temp.values[:2000])
    with pytest.raises(nc.InputError, match="strictly increasing"):
        det.score(temp.to_series())
    assert det.score(temp.values).scores.shape == (temp.values.size,)
