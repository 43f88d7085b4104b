"""``normalcy bench serve``: the summary of a load run, and one short real run."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from normalcy.bench import serve_suite  # noqa: E402
from normalcy.core.errors import InputError  # noqa: E402


def test_load_summary():
    load = serve_suite.Load(
        latencies=[0.001] * 98 + [0.1, 0.2],
        statuses={200: 90, 429: 10},
        errors=1,
        wall=2.0,
        server_cpu=0.09,
    )
    row = load.row()
    assert row["requests"] == 101 and row["ok"] == 90 and row["rejected_429"] == 10
    assert row["errors"] == 1
    assert row["throughput_rps"] == 45.0
    assert row["p50_ms"] == 1.0 and row["p99_ms"] > 100
    assert row["server_cpu_ms"] == 1.0 and row["server_capacity_rps"] == 1000.0


def test_unknown_scenario():
    with pytest.raises(InputError, match="tabular_1"):
        serve_suite.run(dataset="nope")


@pytest.mark.slow
def test_short_run_writes_the_table(tmp_path):
    csv = serve_suite.run(dataset="tabular_1", out_dir=tmp_path, limit=1)
    frame = pd.read_csv(csv)
    assert list(frame["client"]) == ["raw", "httpx"]
    for _, row in frame.iterrows():
        assert row["scenario"] == "tabular_1" and row["detector"] == "fedpca"
        assert row["ok"] > 0 and row["lost"] == 0 and row["errors"] == 0
    assert "| tabular_1 | fedpca | raw |" in (tmp_path / "serve_tabular_1.md").read_text()
