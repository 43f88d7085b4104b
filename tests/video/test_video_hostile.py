"""Hostile video input (arrays, frame folders, broken files) at fit, score and calibrate:
every case scores finitely or raises a ``nc.NormalcyError`` (see tests/hostile)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "hostile"))

from hostile_cases import (  # noqa: E402
    Case,
    Context,
    attempt,
    calibrate_cases,
    data_cases,
    is_heavy,
    video_file_variants,
    video_variants,
)


def _violations(cases, ctx) -> list[str]:
    outcomes = [attempt(case, ctx) for case in cases if not is_heavy(case)]
    assert outcomes, "no cases ran"
    return [f"{o.case}: {o.cause}: {o.message}" for o in outcomes if o.status == "violation"]


def test_video_input_at_score_and_calibrate(tmp_path):
    ctx = Context(name="video_patchcore", tmp=tmp_path, copy_fitted=False)
    cases = [*data_cases(ctx, entries=("score", "calibrate")), *calibrate_cases()]
    violations = _violations(cases, ctx)
    assert not violations, "\n".join(violations)


def test_video_files_at_fit(tmp_path):
    ctx = Context(name="video_patchcore", tmp=tmp_path)
    wanted = ("corrupt", "truncated", "garbage", "empty", "NaN", "1x1", "two sizes", "single")
    variants = {**video_variants(ctx.train), **video_file_variants(ctx)}
    picked = {k: v for k, v in variants.items() if any(w in k for w in wanted)}
    cases = [
        Case("fit:data", label, lambda c, f=f: c.new().fit(f()).score(c.test))
        for label, f in picked.items()
    ]
    violations = _violations(cases, ctx)
    assert not violations, "\n".join(violations)


def test_huge_views_are_refused_before_allocating(tmp_path):
    import numpy as np
    import pytest

    import normalcy as nc
    from normalcy.video.input import as_clips

    view = np.broadcast_to(np.zeros((1, 1, 1, 1), np.uint8), (1, 2, 20000, 20000))
    with pytest.raises(nc.InputError, match="limit"):
        as_clips(view)
