"""Record reference AUPIMO and AUPRO values as fixtures, computed outside the project.

AUPIMO: the reference implementation of Bertoldo et al., github.com/jpcbertoldo/aupimo
(``aupimo.pimo_numpy.aupimo_scores``, numba algorithm). AUPRO: that repository has no AUPRO of
its own (its scripts/eval.py calls anomalib's), so the reference is the MVTec evaluation code
of Bergmann et al. (``compute_pro`` in pro_curve_util.py, ``trapezoid`` in generic_util.py),
taken unmodified from a public copy (github.com/Simoary/vqgan-ledgm-segAD). Both need
numpy < 2 and run in their own environment; no code of theirs enters the project::

    python3 -m venv /tmp/aupimo-venv
    /tmp/aupimo-venv/bin/pip install "numpy<2" numba scipy
    # sources, unpacked outside the project (commits recorded in the fixture):
    #   git -C <aupimo mirror> archive 188ec86b src | tar -x -C /tmp/aupimo-src
    #   git -C <vqgan-ledgm-segAD mirror> show cd960d7c:pro_curve_util.py > /tmp/mvtec-eval/pro_curve_util.py
    #   git -C <vqgan-ledgm-segAD mirror> show cd960d7c:generic_util.py > /tmp/mvtec-eval/generic_util.py
    /tmp/aupimo-venv/bin/python scripts/oracles/pixel_oracle.py \
        --aupimo-src /tmp/aupimo-src/src --mvtec-eval /tmp/mvtec-eval

The aupimo package's __init__ imports torch for its torchmetrics wrappers; the numpy modules
need only numpy, so they are loaded as submodules of a bare ``aupimo`` package.

Writes tests/metrics/fixtures/pixel_reference.json (per case: input SHA-256, per-image AUPIMO,
number of integration points, AUPRO at several FPR limits).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import sys
import time
import types
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "metrics"))

import numpy as np  # noqa: E402
from oracle_cases import AUPRO_LIMITS, digest, pixel_cases  # noqa: E402


def load_references(aupimo_src: Path, mvtec_eval: Path):
    pkg = types.ModuleType("aupimo")
    pkg.__path__ = [str(aupimo_src / "aupimo")]
    sys.modules["aupimo"] = pkg
    from aupimo.pimo_numpy import aupimo_scores  # type: ignore[import-not-found]

    sys.path.insert(0, str(mvtec_eval))
    from generic_util import trapezoid  # type: ignore[import-not-found]
    from pro_curve_util import compute_pro  # type: ignore[import-not-found]

    return aupimo_scores, compute_pro, trapezoid


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aupimo-src", type=Path, default=Path("/tmp/aupimo-src/src"))
    ap.add_argument("--mvtec-eval", type=Path, default=Path("/tmp/mvtec-eval"))
    args = ap.parse_args()
    aupimo_scores, compute_pro, trapezoid = load_references(args.aupimo_src, args.mvtec_eval)
    out = []
    for case in pixel_cases():
        masks, maps = case["masks"], case["maps"]
        kw = case["aupimo"]
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = aupimo_scores(
                maps,
                masks,
                num_threshs=kw.get("n_thresholds", 300_000),
                fpr_bounds=tuple(kw.get("fpr_bounds", (1e-5, 1e-4))),
            )
        t_aupimo = time.perf_counter() - t0
        aucs, n_points = res[4], res[5]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            fprs, pros = compute_pro(list(maps), list(masks.astype(np.uint8)))
        aupro = {str(lim): float(trapezoid(fprs, pros, x_max=lim) / lim) for lim in AUPRO_LIMITS}
        t_aupro = time.perf_counter() - t0
        out.append(
            {
                "name": case["name"],
                "aupimo_kwargs": {k: list(v) if isinstance(v, tuple) else v for k, v in kw.items()},
                "sha256": digest(masks, maps),
                "aupimo_scores": [None if np.isnan(v) else float(v) for v in aucs],
                "aupimo_n_points": int(n_points),
                "aupimo_warnings": sorted({str(w.message)[:80] for w in caught}),
                "aupro": aupro,
                "reference_seconds": {"aupimo": round(t_aupimo, 3), "aupro": round(t_aupro, 3)},
            }
        )
        print(case["name"], np.nanmean(aucs), n_points, aupro)
    meta = {
        "produced_by": "scripts/oracles/pixel_oracle.py",
        "command": "/tmp/aupimo-venv/bin/python scripts/oracles/pixel_oracle.py "
        "--aupimo-src /tmp/aupimo-src/src --mvtec-eval /tmp/mvtec-eval",
        "aupimo_reference": "github.com/jpcbertoldo/aupimo @ 188ec86b5b7d6badad9aa1ae2bc25f94e98a92ca",
        "aupro_reference": "MVTec evaluation code (compute_pro, trapezoid) via "
        "github.com/Simoary/vqgan-ledgm-segAD @ cd960d7cfaa3ebb180fb01e2fb917bb05a0dbe1f",
        "numpy": np.__version__,
        "python": platform.python_version(),
    }
    path = REPO / "tests" / "metrics" / "fixtures" / "pixel_reference.json"
    path.write_text(json.dumps({"meta": meta, "cases": out}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
