"""The generated detector list in docs/ must match the registry (run `normalcy docs`)."""

from __future__ import annotations

from pathlib import Path

from normalcy.docs_gen import detectors_markdown


def test_detector_page_matches_the_registry():
    root = Path(__file__).resolve().parents[1]
    page = root / "docs" / "detectors.md"
    expected = detectors_markdown(root / "docs" / "detectors")
    assert page.read_text(encoding="utf-8") == expected, (
        "docs/detectors.md is out of date with the registered detectors' parameters; "
        "regenerate it with `normalcy docs`"
    )
