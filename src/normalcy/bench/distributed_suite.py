"""Distributed benchmark: scoring a large Parquet dataset through Ray against one process.

``normalcy bench distributed [--dataset magic.gamma] [--detectors iforest,pca]
[--limit ROWS] [--quick]``; ``normalcy bench distributed --dataset mtd [--limit IMAGES]``
for images; from Python ``run(...)``.

Protocol
    A tabular detector (default parameters, ``seed=0``) is fitted on one ADBench set (all
    its rows, without labels) and calibrated on it at FPR 1 %. The set's rows are resampled
    with replacement (``numpy.random.default_rng(0)``) to ``rows`` rows (default
    1,000,000; ``--limit`` sets it, ``--quick`` uses 20,000) and written as 8 Parquet files.
    *Local*: read the files with pandas and ``det.score`` them in this process. *Ray*:
    ``nc.distributed.score(model_file, folder)`` on a local Ray cluster using every CPU of
    the machine (started once before the timings; its start-up is reported separately).
    The scores and flags of both must be identical.

Images (``--dataset mtd``): PatchCore (default parameters, one thread, ``seed=0``) fitted
on the first 40 ``train_good`` images of MTD and calibrated on the next 40 scores the
test images (``test_good`` then every defect class; ``--limit`` of them, default 200, at
most all 392 of the split) as a list of files, locally and through Ray.

Columns of ``distributed.csv``: dataset, detector, rows, workers, local_s, ray_s,
overhead (ray_s / local_s; below 1 means Ray was faster), ray_start_s, identical,
max_abs_diff, flags_equal. Wall-clock seconds on a shared machine: compare the ratio, not
the seconds, across machines.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from .tables import markdown_table

DEFAULT_DATASET = "magic.gamma"
DEFAULT_DETECTORS = ("iforest", "pca")
DEFAULT_ROWS = 1_000_000
QUICK_ROWS = 20_000
N_FILES = 8


def _write_parquet(frame: pd.DataFrame, folder: Path) -> None:
    for i, part in enumerate(np.array_split(np.arange(len(frame)), N_FILES)):
        frame.iloc[part].to_parquet(folder / f"part{i:02d}.parquet", index=False)


def _one(name: str, X: np.ndarray, big: pd.DataFrame, folder: Path, tmp: Path) -> dict:
    import normalcy as nc

    cls = get_class(name)
    if cls.info.modality != "tabular":
        raise InputError(f"detector {name!r} is a {cls.info.modality} detector, not tabular")
    params: dict[str, Any] = {"seed": 0} if "seed" in cls.info.params else {}
    frame = pd.DataFrame(X, columns=list(big.columns))
    det = create(name, **params).fit(frame)
    det.calibrate(frame, fpr=0.01)
    model = det.save(tmp / f"{name}.normalcy")
    t = time.perf_counter()
    local = det.score(pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))]))
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    res = nc.distributed.score(model, folder)
    ray_s = time.perf_counter() - t
    diff = float(np.max(np.abs(res.scores - local.scores)))
    return {
        "detector": name,
        "local_s": local_s,
        "ray_s": ray_s,
        "overhead": ray_s / local_s,
        "identical": bool(np.array_equal(res.scores, local.scores)),
        "max_abs_diff": diff,
        "flags_equal": bool(np.array_equal(res.labels, local.labels)),
    }


def _mtd(root: Path | None, limit: int | None, quick: bool, tmp: Path) -> dict:
    """PatchCore on MTD images, one process against Ray (see the module doc)."""
    import json
    import os as _os

    import normalcy as nc

    shared = Path(_os.environ.get("NORMALCY_SHARED", Path("..") / "shared"))
    root = Path(root) if root else shared / "datasets" / "mtd"
    if not (root / "split.json").is_file():
        raise InputError(f"MTD not found at {root} (expected split.json); pass --root")
    split = json.loads((root / "split.json").read_text())

    def path(name: str, cls: str = "MT_Free") -> Path:
        return root / cls / "Imgs" / f"{name}.jpg"

    train = [path(n) for n in split["train_good"][:80]]
    test = [path(n) for n in split["test_good"]]
    for cls, names in split["test_defect"].items():
        test += [path(n, cls) for n in names]
    test = test[: int(limit) if limit else (16 if quick else 200)]
    params = dict(get_class("patchcore").quick_params) if quick else {}
    det = create("patchcore", seed=0, num_threads=1, verbose=False, **params).fit(train[:40])
    det.calibrate(train[40:], fpr=0.05)
    model = det.save(tmp / "patchcore.normalcy")
    t = time.perf_counter()
    local = det.score(test)
    local_s = time.perf_counter() - t
    t = time.perf_counter()
    res = nc.distributed.score(model, test)
    ray_s = time.perf_counter() - t
    return {
        "dataset": "mtd",
        "detector": "patchcore",
        "rows": len(test),
        "local_s": local_s,
        "ray_s": ray_s,
        "overhead": ray_s / local_s,
        "identical": bool(np.array_equal(res.scores, local.scores)),
        "max_abs_diff": float(np.max(np.abs(res.scores - local.scores))),
        "flags_equal": bool(np.array_equal(res.labels, local.labels)),
    }


def run(
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Time local and Ray scoring of ``limit`` (default 1,000,000) resampled rows; write
    ``distributed.csv`` and ``distributed.md`` to ``out_dir``."""
    import logging

    from ..datasets import adbench
    from ..distributed.cluster import require_ray

    ray = require_ray()
    images = (dataset or "").lower() == "mtd"
    rows = int(limit) if limit else (QUICK_ROWS if quick else DEFAULT_ROWS)
    if rows < 1:
        raise InputError(f"--limit must be a positive number, got {rows}")
    cpus = os.cpu_count() or 1
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="normalcy-bench-ray-") as tmp_name:
        tmp = Path(tmp_name)
        if not images:
            data = adbench.load(dataset or DEFAULT_DATASET, root)
            X = data.X
            columns = [f"x{j}" for j in range(X.shape[1])]
            draw = np.random.default_rng(0).integers(0, len(X), rows)
            big = pd.DataFrame(X[draw], columns=columns)
            folder = tmp / "rows"
            folder.mkdir()
            _write_parquet(big, folder)
        t = time.perf_counter()
        ray.init(
            num_cpus=cpus,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        start_s = time.perf_counter() - t
        try:
            if images:
                results.append({**_mtd(root, limit, quick, tmp), "workers": cpus,
                                "ray_start_s": start_s})  # fmt: skip
            for name in [] if images else detectors or DEFAULT_DETECTORS:
                row = _one(name, X, big, folder, tmp)
                results.append({"dataset": data.name, "rows": rows, "workers": cpus, **row,
                                "ray_start_s": start_s})  # fmt: skip
        finally:
            ray.shutdown()
    order = ["dataset", "detector", "rows", "workers", "local_s", "ray_s", "overhead",
             "ray_start_s", "identical", "max_abs_diff", "flags_equal"]  # fmt: skip
    frame = pd.DataFrame(results)[order]
    stem = "distributed_mtd" if images else "distributed"
    path = out_dir / f"{stem}.csv"
    frame.to_csv(path, index=False)
    (out_dir / f"{stem}.md").write_text(
        "# Distributed scoring: Ray vs one process\n\n"
        f"`normalcy bench distributed{' --dataset mtd' if images else ''}"
        f"{' --quick' if quick else ''}{f' --limit {limit}' if limit else ''}`; {cpus} CPUs.\n\n"
        + markdown_table(frame)
    )
    return path
