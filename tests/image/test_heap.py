"""image.heap: returning free heap pages to the system between feature batches."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from normalcy.image import heap


def test_release_free_heap_returns_a_bool_and_never_raises():
    chunks = [np.ones(50_000) for _ in range(50)]  # 400 kB each, freed below
    del chunks
    assert isinstance(heap.release_free_heap(), bool)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_glibc_malloc_trim_is_found_on_linux():
    assert heap._malloc_trim() is not None


def test_feature_detectors_trim_during_long_loops(monkeypatch):
    import normalcy as nc
    from normalcy.datasets.synthetic import make_images
    from normalcy.image import feature_detector

    calls = []
    monkeypatch.setattr(feature_detector, "release_free_heap", lambda: calls.append(1))
    monkeypatch.setattr(feature_detector, "TRIM_EVERY", 2)
    images = make_images(n_train=10, n_test=1, size=32, seed=0).train
    nc.create("padim", image_size=64, batch_size=2, verbose=False).fit(images)
    assert len(calls) == 2  # 5 batches: trimmed before the third and the fifth
