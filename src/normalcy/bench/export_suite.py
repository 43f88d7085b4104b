"""Export benchmark: parity and scoring speed of every ONNX-exported detector on real data.

``normalcy bench export [--root ../shared/datasets] [--dataset NAME] [--detectors a,b]
[--limit N] [--quick]``; from Python ``run(root=..., ...)``.

Protocol
    Tabular (ADBench, default ``22_magic.gamma``; ``--dataset`` names another): each
    detector (default parameters, seed 0) is fitted on 2,000 normal rows, calibrated at
    fpr = 0.01 on 2,000 other normal rows, exported, and both normalcy and ``OnnxDetector``
    score the same rows, drawn from the rows used for neither (at most 10,000, or
    ``--limit``; anomalies included). Image (MTD): PaDiM and
    PatchCore (default parameters; PatchCore with ``search="exact"``, which the export
    computes) are fitted on 64 ``train_good`` images (16 with ``--quick``, at 128 pixels),
    calibrated at fpr = 0.05 on 40 others, and score 40 test images (20 good, 20 defective)
    preloaded as arrays at their own sizes.

Measured per detector
    ``max_rel_err``: max |normalcy - ONNX| / max(1, |normalcy|) over the scored items (the
    target is <= 1e-4); ``flag_mismatches``: items flagged differently at the exported
    threshold; ``threshold_kept``: the exported threshold equals the detector's;
    ``normalcy_per_s`` and ``onnx_per_s``: rows or images scored per second, best of
    ``REPEATS`` runs, one thread for both (torch, BLAS and onnxruntime); ``speedup``;
    ``export_s`` and ``file_mb``.

Outputs in ``out_dir``: ``export[_<dataset>].csv`` and ``.md``.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create
from .tables import markdown_table

TABULAR = ("fedpca", "pca", "mcd", "ocsvm", "knn", "hbos", "iforest", "lof")
IMAGE = ("padim", "patchcore")
DEFAULT_TABULAR = "22_magic.gamma"
N_FIT = 2000
N_CALIBRATE = 2000
MAX_ROWS = 10_000
REPEATS = 3
COLUMNS = [
    "detector",
    "modality",
    "dataset",
    "n_scored",
    "max_rel_err",
    "flag_mismatches",
    "threshold_kept",
    "normalcy_per_s",
    "onnx_per_s",
    "speedup",
    "export_s",
    "file_mb",
]


def _datasets_root(root: str | Path | None) -> Path:
    if root is not None:
        return Path(root)
    repo = Path(__file__).resolve().parents[3]
    return Path(os.environ.get("NORMALCY_SHARED", repo.parent / "shared")) / "datasets"


def _best_time(fn: Any, repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def _compare(det: Any, items: Any, n: int, folder: Path, repeats: int) -> dict[str, Any]:
    """Export ``det``, score ``items`` both ways, and measure parity and speed."""
    from ..export import export
    from ..export.runtime import OnnxDetector

    path = folder / f"{det.name}.onnx"
    t0 = time.perf_counter()
    export(det, path)
    export_s = time.perf_counter() - t0
    onx = OnnxDetector(path, num_threads=1)
    t_ours, ours = _best_time(lambda: det.score(items), repeats)
    t_onnx, theirs = _best_time(lambda: onx.score(items), repeats)
    err = np.abs(ours.scores - theirs.scores) / np.maximum(1.0, np.abs(ours.scores))
    mismatches = (
        int(np.count_nonzero(ours.labels != theirs.labels)) if ours.labels is not None else -1
    )
    return {
        "n_scored": n,
        "max_rel_err": float(err.max()),
        "flag_mismatches": mismatches,
        "threshold_kept": bool(onx.threshold == det.threshold),
        "normalcy_per_s": n / t_ours,
        "onnx_per_s": n / t_onnx,
        "speedup": t_ours / t_onnx,
        "export_s": export_s,
        "file_mb": path.stat().st_size / 2**20,
    }


def _tabular_rows(names, dataset, root, limit, quick, folder) -> list[dict[str, Any]]:
    from ..datasets import adbench

    ds = adbench.load(dataset or DEFAULT_TABULAR, root=root / "adbench")
    X, y = np.asarray(ds.X, dtype=np.float64), np.asarray(ds.y)
    rng = np.random.default_rng(0)
    normal = rng.permutation(np.flatnonzero(y == 0))
    n_fit = min(N_FIT, len(normal) // 2)
    fit, hold = X[normal[:n_fit]], X[normal[n_fit : n_fit + N_CALIBRATE]]
    unused = np.setdiff1d(np.arange(len(X)), normal[: n_fit + N_CALIBRATE])
    n_score = min(len(unused), limit or (2000 if quick else MAX_ROWS))
    test = X[np.sort(rng.choice(unused, n_score, replace=False))]
    rows = []
    for name in names:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = create(name, seed=0).fit(fit)
            det.calibrate(hold, fpr=0.01)
            row = _compare(det, test, n_score, folder, 1 if quick else REPEATS)
        rows.append({"detector": name, "modality": "tabular", "dataset": ds.name, **row})
    return rows


def _read_images(paths: list[Path]) -> list[np.ndarray]:
    from PIL import Image

    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(np.asarray(im.convert("L")))
    return out


def _image_rows(names, root, limit, quick, folder) -> list[dict[str, Any]]:
    from ..datasets import mtd

    ds = mtd.load(root / "mtd")
    n_fit = 16 if quick else 64
    train = _read_images(ds.train_paths[:n_fit])
    hold = _read_images(ds.train_paths[n_fit : n_fit + 40])
    labels = np.asarray(ds.test_labels)
    n_each = (limit or 40) // 2
    good = [ds.test_paths[i] for i in np.flatnonzero(labels == 0)[:n_each]]
    bad = [ds.test_paths[i] for i in np.flatnonzero(labels == 1)[:n_each]]
    test = _read_images(good + bad)
    rows = []
    for name in names:
        params: dict[str, Any] = {"verbose": False, "num_threads": 1, "cache_features": False}
        if name == "patchcore":
            params["search"] = "exact"
        if quick:
            params["image_size"] = 128
        det = create(name, **params).fit(train)
        det.calibrate(hold, fpr=0.05)
        row = _compare(det, test, len(test), folder, 1 if quick else 2)
        rows.append({"detector": name, "modality": "image", "dataset": "mtd", **row})
    return rows


def run(
    dataset: str | None = None,
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Run the export benchmark; returns the CSV path."""
    import tempfile

    import torch
    from threadpoolctl import threadpool_limits

    names = list(detectors) if detectors else [*TABULAR, *IMAGE]
    unknown = [n for n in names if n not in TABULAR + IMAGE]
    if unknown:
        raise InputError(f"the export suite covers {TABULAR + IMAGE}, not {unknown}")
    root = _datasets_root(root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(limits=1):
        folder = Path(tmp)
        tab = [n for n in names if n in TABULAR]
        img = [n for n in names if n in IMAGE]
        if tab:
            rows += _tabular_rows(tab, dataset, root, limit, quick, folder)
        if img:
            rows += _image_rows(img, root, limit, quick, folder)
    frame = pd.DataFrame(rows, columns=COLUMNS)
    stem = "export" + (f"_{dataset}" if dataset else "") + ("_quick" if quick else "")
    csv = out / f"{stem}.csv"
    frame.to_csv(csv, index=False)
    settings = {"quick": quick, "limit": limit, "dataset": dataset or DEFAULT_TABULAR}
    text = (
        f"# ONNX export: parity and scoring speed\n\nSettings: `{json.dumps(settings)}`. "
        "One thread for both paths; speeds are best of repeated runs.\n\n" + markdown_table(frame)
    )
    (out / f"{stem}.md").write_text(text)
    return csv
