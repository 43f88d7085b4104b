"""Record VUS-ROC / VUS-PR from the authors' ``vus`` package (``RangeAUC_volume_opt``).

normalcy's default VUS follows the paper's Range-AUC formulas (checked by brute force in the
tests); ``variant="vus_package"`` reproduces this optimised code, which TSB-UAD uses. The
package pulls heavy dependencies (tensorflow, ...) that the metric code never imports, so it is
installed without them in its own environment::

    /tmp/pate-venv/bin/pip install --no-deps vus==0.0.6 tqdm
    /tmp/pate-venv/bin/python scripts/oracles/vus_oracle.py

Writes tests/metrics/fixtures/vus_reference.json (per case of tests/metrics/oracle_cases.py and
window size: VUS-ROC and VUS-PR with 250 thresholds).
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "metrics"))

import numpy as np  # noqa: E402
from oracle_cases import VUS_WINDOWS, digest, pate_cases  # noqa: E402
from vus.utils.metrics import metricor  # noqa: E402


def main() -> None:
    out = []
    for case in pate_cases():
        y, s = case["y_true"], case["y_score"]
        if y.all() or not y.any():
            continue
        for window in VUS_WINDOWS:
            res = metricor().RangeAUC_volume_opt(
                labels_original=y, score=s, windowSize=window, thre=250
            )
            out.append(
                {
                    "name": case["name"],
                    "window": window,
                    "sha256": digest(y, s),
                    "vus_roc": float(res[4]),
                    "vus_pr": float(res[5]),
                }
            )
            print(case["name"], window, res[4], res[5])
    meta = {
        "produced_by": "scripts/oracles/vus_oracle.py",
        "command": "/tmp/pate-venv/bin/python scripts/oracles/vus_oracle.py",
        "reference": f"vus=={version('vus')} (PyPI), metricor().RangeAUC_volume_opt(thre=250)",
        "numpy": np.__version__,
    }
    path = REPO / "tests" / "metrics" / "fixtures" / "vus_reference.json"
    path.write_text(json.dumps({"meta": meta, "cases": out}, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    main()
