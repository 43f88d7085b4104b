"""Record the outputs of the reference PATE implementation (PyPI package ``PATE``) as fixtures.

The package pins numpy 1.24 / scikit-learn 1.3, so it runs in its own virtual environment,
never in the project's::

    python3 -m venv /tmp/pate-venv
    /tmp/pate-venv/bin/pip install PATE==0.1.1
    /tmp/pate-venv/bin/python scripts/oracles/pate_oracle.py

It writes tests/metrics/fixtures/pate_reference.json: for every case of
tests/metrics/oracle_cases.py (inputs rebuilt bit-identically, checked by a SHA-256), the
value of ``pate.PATE_metric.PATE`` with the matching arguments.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "metrics"))

import numpy as np  # noqa: E402
from oracle_cases import digest, pate_cases  # noqa: E402
from pate.PATE_metric import PATE  # noqa: E402


def reference_kwargs(kw: dict) -> dict:
    n_thr = kw.get("n_thresholds", 250)
    return {
        "e_buffer": kw.get("early_buffer", 100),
        "d_buffer": kw.get("delay_buffer", 100),
        "Big_Data": n_thr is not None,
        "num_desired_thresholds": 250 if n_thr is None else n_thr,
        "num_splits_MaxBuffer": kw.get("n_buffer_splits", 1),
        "include_zero": kw.get("include_zero", True),
        "binary_scores": kw.get("binary", False),
        "n_jobs": 1,
    }


def main() -> None:
    out = []
    for case in pate_cases():
        ref_kw = reference_kwargs(case["kwargs"])
        t0 = time.perf_counter()
        value = float(PATE(case["y_true"], case["y_score"], **ref_kw))
        out.append(
            {
                "name": case["name"],
                "kwargs": case["kwargs"],
                "reference_kwargs": ref_kw,
                "sha256": digest(case["y_true"], case["y_score"]),
                "pate": value,
                "reference_seconds": round(time.perf_counter() - t0, 3),
            }
        )
        print(f"{case['name']:32s} {value:.12f}")
    meta = {
        "produced_by": "scripts/oracles/pate_oracle.py",
        "command": "/tmp/pate-venv/bin/python scripts/oracles/pate_oracle.py",
        "reference": f"PATE=={version('PATE')} (PyPI)",
        "numpy": np.__version__,
        "scikit-learn": version("scikit-learn"),
        "python": platform.python_version(),
    }
    path = REPO / "tests" / "metrics" / "fixtures" / "pate_reference.json"
    path.write_text(json.dumps({"meta": meta, "cases": out}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
