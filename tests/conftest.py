"""Shared fixtures: where the real data sets live, and skipping cleanly without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("NORMALCY_SHARED", REPO.parent / "shared")).resolve()
DATASETS = SHARED / "datasets"


def shared_dataset(name: str) -> Path:
    """Path of ../shared/datasets/NAME, or skip the test with a clear message."""
    path = DATASETS / name
    if not path.is_dir():
        pytest.skip(f"real data set {name!r} not found at {path} (../shared is absent)")
    return path


@pytest.fixture(autouse=True)
def _quiet_matplotlib(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
