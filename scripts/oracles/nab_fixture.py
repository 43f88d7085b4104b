"""Extract NAB's published scores of one detector, and the inputs that produced them, as fixtures.

Reads a checkout of github.com/numenta/NAB (the repository itself is not copied): the
detector's per-row results (results/<det>/<group>/<det>_<file>.csv, column anomaly_score), the
anomaly windows (labels/combined_windows.json), the profile thresholds
(config/thresholds.json), NAB's per-file raw scores (results/<det>/<det>_<profile>_scores.csv)
and the normalised corpus scores (results/final_results.json)::

    .venv/bin/python scripts/oracles/nab_fixture.py --nab /path/to/NAB --detector numenta

Writes tests/metrics/fixtures/nab_<detector>.json (per file: length, window index ranges,
indices of the rows detected at each profile's threshold, NAB's raw score per profile) and
tests/metrics/fixtures/nab_<detector>_scores.npz (the full anomaly_score column of a few files,
to test scoring from continuous scores plus a threshold). Nothing is computed here: every
number is NAB's.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import subprocess
from datetime import datetime
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
FULL_SCORE_FILES = (
    "artificialWithAnomaly/art_daily_jumpsdown.csv",
    "realKnownCause/nyc_taxi.csv",
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv",
)


def git_show(nab: Path, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(nab), "show", f"HEAD:{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.strip())


def runs(flags: list[int]) -> list[list[int]]:
    out, start = [], None
    for i, f in enumerate([*flags, 0]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append([start, i - 1])
            start = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nab", type=Path, required=True, help="a git checkout of numenta/NAB")
    ap.add_argument("--detector", default="numenta")
    args = ap.parse_args()
    det = args.detector
    commit = subprocess.run(
        ["git", "-C", str(args.nab), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    windows = json.loads(git_show(args.nab, "labels/combined_windows.json"))
    thresholds = json.loads(git_show(args.nab, "config/thresholds.json"))[det]
    final = json.loads(git_show(args.nab, "results/final_results.json"))[det]
    raw: dict[str, dict[str, float]] = {}
    totals = {}
    for profile in PROFILES:
        rows = csv.DictReader(
            io.StringIO(git_show(args.nab, f"results/{det}/{det}_{profile}_scores.csv"))
        )
        for row in rows:
            if row["Detector"] == "Totals":
                totals[profile] = float(row["Score"])
            else:
                raw.setdefault(row["File"], {})[profile] = float(row["Score"])
    files = {}
    full_scores = {}
    for rel in sorted(windows):
        group, name = rel.split("/")
        text = git_show(args.nab, f"results/{det}/{group}/{det}_{name}")
        rows = list(csv.DictReader(io.StringIO(text)))
        times = [parse_time(r["timestamp"]) for r in rows]
        index = {t: i for i, t in enumerate(times)}
        spans = [[index[parse_time(a)], index[parse_time(b)]] for a, b in windows[rel]]
        label_runs = runs([int(r["label"]) for r in rows])
        assert label_runs == spans, (rel, label_runs, spans)
        scores = np.array([float(r["anomaly_score"]) for r in rows])
        detections = {
            p: np.flatnonzero(scores >= thresholds[p]["threshold"]).tolist() for p in PROFILES
        }
        files[rel] = {
            "n": len(rows),
            "windows": spans,
            "detections": detections,
            "nab_raw_score": raw[rel],
        }
        if rel in FULL_SCORE_FILES:
            full_scores[rel] = scores
    meta = {
        "produced_by": "scripts/oracles/nab_fixture.py",
        "command": f".venv/bin/python scripts/oracles/nab_fixture.py --nab <NAB checkout> --detector {det}",
        "source": f"github.com/numenta/NAB @ {commit}",
        "detector": det,
    }
    out = {
        "meta": meta,
        "thresholds": {p: thresholds[p]["threshold"] for p in PROFILES},
        "nab_totals": totals,
        "nab_final_results": final,
        "n_windows": sum(len(v) for v in windows.values()),
        "files": files,
    }
    fixtures = REPO / "tests" / "metrics" / "fixtures"
    (fixtures / f"nab_{det}.json").write_text(json.dumps(out, separators=(",", ":")) + "\n")
    np.savez_compressed(
        fixtures / f"nab_{det}_scores.npz",
        **{k.replace("/", "__"): v for k, v in full_scores.items()},
    )
    print("files", len(files), "windows", out["n_windows"], "totals", totals, "final", final)


if __name__ == "__main__":
    main()
