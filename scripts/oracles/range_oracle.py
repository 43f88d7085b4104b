"""Record range-based precision and recall (Tatbul et al., NeurIPS 2018) from the ``prts`` package.

``prts`` (PyPI, a Python implementation of the paper's definitions) runs in its own
environment, e.g. the one made for the PATE oracle::

    /tmp/pate-venv/bin/pip install prts==1.0.0.3
    /tmp/pate-venv/bin/python scripts/oracles/range_oracle.py

Writes tests/metrics/fixtures/range_reference.json: for each case of
tests/metrics/oracle_cases.py and each setting (alpha, cardinality, bias), ``ts_precision``
(alpha 0, as the paper prescribes for precision) and ``ts_recall``.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "metrics"))

import numpy as np  # noqa: E402
from oracle_cases import RANGE_SETTINGS, digest, range_cases  # noqa: E402
from prts import ts_precision, ts_recall  # noqa: E402


def main() -> None:
    out = []
    for case in range_cases():
        y, pred = case["y_true"], case["y_pred"]
        results = []
        for st in RANGE_SETTINGS:
            p = ts_precision(y, pred, alpha=0.0, cardinality=st["cardinality"], bias=st["bias"])
            r = ts_recall(
                y, pred, alpha=st["alpha"], cardinality=st["cardinality"], bias=st["bias"]
            )
            results.append({**st, "precision": float(p), "recall": float(r)})
        out.append({"name": case["name"], "sha256": digest(y, pred), "results": results})
        print(case["name"], results[0])
    meta = {
        "produced_by": "scripts/oracles/range_oracle.py",
        "command": "/tmp/pate-venv/bin/python scripts/oracles/range_oracle.py",
        "reference": f"prts=={version('prts')} (PyPI)",
        "numpy": np.__version__,
    }
    path = REPO / "tests" / "metrics" / "fixtures" / "range_reference.json"
    path.write_text(json.dumps({"meta": meta, "cases": out}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
