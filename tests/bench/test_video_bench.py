"""The video benchmark on a few Ped2 frames: both frame AUCs, pixel AUROC, RBDC/TBDC."""

from __future__ import annotations

import pandas as pd
import pytest
from tests.conftest import shared_dataset

from normalcy.bench import video_suite


@pytest.mark.slow
def test_video_bench_reports_region_and_track_criteria(tmp_path):
    root = shared_dataset("video/ped2")
    csv = video_suite.run("ped2", root, tmp_path, ["video_patchcore"], limit=12, quick=True)
    row = pd.read_csv(csv).iloc[0]
    for column in ("frame_auroc_micro", "pixel_auroc", "rbdc", "tbdc"):
        assert 0.0 <= row[column] <= 1.0, column
    assert "rbdc" in (tmp_path / "video_ped2.md").read_text()
