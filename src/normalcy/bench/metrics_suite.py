"""Metrics speed benchmark: ``normalcy bench metrics [--quick] [--limit N_IMAGES]``.

Workloads (synthetic, seeded; no data set is read):

- ``aupro`` and ``aupimo``: 1,000 anomaly maps of 256 x 256 (float32), half of the images with
  one or two rectangular defects; target under 2 s each.
- ``vus_pr`` (buffer window 100, every distinct score a threshold) and ``pate`` (buffers of
  100 points, 250 thresholds): one series of 100,000 points with 40 anomaly events; target
  under 1 s each.

Each is timed on normalcy's implementation (after a warm-up call, so numba compilation is not
counted) and, in the same run, on the reference implementation in its own Python environment
(a subprocess): AUPIMO from github.com/jpcbertoldo/aupimo, AUPRO from the MVTec evaluation
code (``compute_pro``), PATE from the ``PATE`` package and VUS-PR from the authors' ``vus``
package (``RangeAUC_volume_opt``, 250 thresholds). A reference too slow or too large for the
full workload runs on a subset (``reference_size``); normalcy is then timed on that same subset
too and ``speedup`` is reference seconds / normalcy seconds at equal size. Without the reference
environment the row says "reference not available" and the benchmark still runs.

Reference environments (see scripts/oracles/*.py for how they are built):
``NORMALCY_AUPIMO_PYTHON`` (default /tmp/aupimo-venv/bin/python: numpy<2, numba, scipy),
``NORMALCY_AUPIMO_SRC`` (default /tmp/aupimo-src/src: the aupimo repository's src folder),
``NORMALCY_MVTEC_EVAL`` (default /tmp/mvtec-eval: pro_curve_util.py and generic_util.py),
``NORMALCY_PATE_PYTHON`` (default /tmp/pate-venv/bin/python: packages PATE and vus).

Wall-clock and CPU seconds are both reported, with the load average: on a shared 2-core machine
the wall clock also measures the neighbours. Writes ``out_dir/metrics.csv`` and ``metrics.md``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .tables import markdown_table

N_IMAGES = 1000
IMAGE_SIZE = 256
SERIES_LENGTH = 100_000
N_EVENTS = 40
TARGETS = {"aupro": 2.0, "aupimo": 2.0, "vus_pr": 1.0, "pate": 1.0}
_NOTES = {
    "aupro": "reference: MVTec compute_pro (all thresholds, float32 FPR)",
    "aupimo": "reference: aupimo_scores (numba), 300,000 thresholds",
    "vus_pr": "reference: vus RangeAUC_volume_opt; normalcy's value column is the paper's "
    "definition (all thresholds), the reference-size columns use variant='vus_package' "
    "(equal values)",
    "pate": "reference: PATE package (same definition, values equal)",
}

_REFERENCE_RUNNER = r"""
import json, sys, time, types, warnings, contextlib, io
import numpy as np
task, folder = sys.argv[1], sys.argv[2]
args = json.loads(sys.argv[3])
warnings.simplefilter("ignore")
def clock(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0
if task in ("aupimo", "aupro"):
    masks = np.load(folder + "/masks.npy")
    maps = np.load(folder + "/maps.npy")
if task == "aupimo":
    pkg = types.ModuleType("aupimo"); pkg.__path__ = [args["src"] + "/aupimo"]
    sys.modules["aupimo"] = pkg
    from aupimo.pimo_numpy import aupimo_scores
    small = np.zeros((4, 64, 64), bool); small[2:, 5:9, 5:9] = True
    rng = np.random.default_rng(0)
    aupimo_scores(rng.random((4, 64, 64), dtype=np.float32), small, num_threshs=1000,
                  fpr_bounds=(1e-2, 1e-1), force=True)  # numba warm-up
    res, wall, cpu = clock(lambda: aupimo_scores(maps, masks))
    value = float(np.nanmean(res[4]))
elif task == "aupro":
    sys.path.insert(0, args["mvtec"])
    from pro_curve_util import compute_pro
    from generic_util import trapezoid
    def run():
        with contextlib.redirect_stdout(io.StringIO()):
            f, p = compute_pro(list(maps), list(masks.astype(np.uint8)))
        return trapezoid(f, p, x_max=0.3) / 0.3
    value, wall, cpu = clock(run)
    value = float(value)
else:
    y = np.load(folder + "/y.npy"); s = np.load(folder + "/s.npy")
    if task == "pate":
        from pate.PATE_metric import PATE
        value, wall, cpu = clock(lambda: PATE(y, s, e_buffer=100, d_buffer=100, n_jobs=1))
    else:
        from vus.utils.metrics import metricor
        out, wall, cpu = clock(lambda: metricor().RangeAUC_volume_opt(
            labels_original=y, score=s, windowSize=100, thre=250))
        value = out[5]
    value = float(value)
print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "value": value}))
"""


def make_maps(
    n_images: int, size: int = IMAGE_SIZE, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic masks and float32 maps: noise, with raised defect rectangles on even images."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n_images, size, size), bool)
    for i in range(0, n_images, 2):
        for _ in range(int(rng.integers(1, 3))):
            y, x = rng.integers(0, size - size // 8, 2)
            h, w = rng.integers(2, size // 8, 2)
            masks[i, y : y + h, x : x + w] = True
    maps = rng.standard_normal((n_images, size, size), dtype=np.float32)
    maps += masks * np.float32(2.5)
    return masks, maps


def make_series(
    length: int, n_events: int | None = None, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Labels with events of 5-150 points (40 per 100,000 points by default) and noisy scores
    that rise near them."""
    rng = np.random.default_rng(seed)
    if n_events is None:
        n_events = max(3, round(N_EVENTS * length / SERIES_LENGTH))
    y = np.zeros(length, np.int64)
    slots = np.arange(200, length - 200, 250)
    starts = np.sort(rng.choice(slots, min(n_events, slots.size), replace=False))
    for a in starts:
        y[a : a + int(rng.integers(5, 150))] = 1
    signal = np.convolve(y, np.ones(20) / 20, mode="same")
    return y, rng.random(length) + 0.8 * signal


def _clock(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _reference_env(task: str) -> tuple[str | None, dict[str, str], str]:
    """(python, args, reason) for a task's reference; python None when unavailable."""
    if task in ("aupimo", "aupro"):
        py = os.environ.get("NORMALCY_AUPIMO_PYTHON", "/tmp/aupimo-venv/bin/python")
        src = os.environ.get("NORMALCY_AUPIMO_SRC", "/tmp/aupimo-src/src")
        mvtec = os.environ.get("NORMALCY_MVTEC_EVAL", "/tmp/mvtec-eval")
        needed = (
            Path(src, "aupimo", "pimo_numpy.py")
            if task == "aupimo"
            else Path(mvtec, "pro_curve_util.py")
        )
        if not Path(py).is_file() or not needed.is_file():
            return None, {}, f"reference not available ({py} or {needed} missing)"
        return py, {"src": src, "mvtec": mvtec}, ""
    py = os.environ.get("NORMALCY_PATE_PYTHON", "/tmp/pate-venv/bin/python")
    if not Path(py).is_file():
        return None, {}, f"reference not available ({py} missing)"
    return py, {}, ""


def _run_reference(task: str, arrays: dict[str, np.ndarray], timeout: float) -> dict[str, Any]:
    py, args, reason = _reference_env(task)
    if py is None:
        return {"note": reason}
    with tempfile.TemporaryDirectory(prefix="normalcy-bench-") as folder:
        for name, arr in arrays.items():
            np.save(Path(folder, f"{name}.npy"), arr)
        try:
            proc = subprocess.run(
                [py, "-c", _REFERENCE_RUNNER, task, folder, json.dumps(args)],
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return {"note": f"reference timed out after {timeout:.0f} s", "timed_out": timeout}
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["?"]
        return {"note": f"reference failed: {tail[0][:160]}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _ours(
    task: str, arrays: dict[str, np.ndarray], like_reference: bool = False
) -> tuple[float, float, float]:
    """(value, wall s, CPU s) of normalcy's metric; ``like_reference`` runs VUS-PR as the
    ``vus`` package defines it (``variant="vus_package"``, 250 thresholds) for a like-for-like
    ratio and value check."""
    from .. import metrics as M

    variant = "vus_package" if like_reference else "paper"

    if task == "aupro":
        fn = lambda: M.aupro(arrays["masks"], arrays["maps"])  # noqa: E731
    elif task == "aupimo":
        fn = lambda: M.aupimo(arrays["masks"], arrays["maps"]).mean  # noqa: E731
    elif task == "vus_pr":
        fn = lambda: M.vus_pr(arrays["y"], arrays["s"], window=100, variant=variant)  # noqa: E731
    else:
        fn = lambda: M.pate(arrays["y"], arrays["s"], early_buffer=100, delay_buffer=100)  # noqa: E731
    value, wall, cpu = _clock(fn)
    return float(value), wall, cpu


def _warm_up() -> None:
    """Compile (or load from numba's cache) every kernel before timing."""
    from .. import metrics as M

    masks, maps = make_maps(4, 64)
    y, s = make_series(2000, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        M.aupro(masks, maps)
        M.aupimo(masks, maps, fpr_bounds=(1e-3, 1e-2))
        M.vus_pr(y, s, window=10)
        M.pate(y, s)


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Time the metrics on full-size workloads, and their references, and write the table.

    ``limit`` sets the number of images (default 1,000); ``quick`` uses 100 images and a
    10,000-point series. ``dataset``, ``root`` and ``detectors`` do not apply (synthetic data).
    """
    from rich.progress import Progress

    n_images = int(limit) if limit else (100 if quick else N_IMAGES)
    length = 10_000 if quick else SERIES_LENGTH
    timeout = 120.0 if quick else 600.0
    # reference sizes: the MVTec AUPRO code sorts every pixel (fits in memory at full size);
    # the aupimo reference holds an (images x 300,000 x 2 x 2) int64 array, and the PATE
    # package loops in Python over points and thresholds, so they run on subsets
    ref_sizes = {
        "aupro": n_images if not quick else min(n_images, 50),
        "aupimo": min(n_images, 20 if quick else 100),
        "vus_pr": length,
        "pate": min(length, 2_000 if quick else 5_000),
    }
    masks, maps = make_maps(n_images)
    y, s = make_series(length)
    rows = []
    with Progress(transient=True, disable=not sys.stdout.isatty()) as progress:
        bar = progress.add_task("metrics benchmark", total=9)
        _warm_up()
        progress.advance(bar)
        for task in ("aupro", "aupimo", "vus_pr", "pate"):
            pixel = task in ("aupro", "aupimo")
            full = {"masks": masks, "maps": maps} if pixel else {"y": y, "s": s}
            size = n_images if pixel else length
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value, wall, cpu = _ours(task, full)
            progress.advance(bar)
            k = ref_sizes[task]
            if pixel:
                sub = {"masks": masks[:k], "maps": maps[:k]}
            else:
                ys, ss = make_series(k)
                sub = {"y": ys, "s": ss}
            if k == size and task != "vus_pr":
                ours_at_ref = (value, wall, cpu)
            else:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ours_at_ref = _ours(task, sub, like_reference=True)
            ref = _run_reference(task, sub, timeout)
            progress.advance(bar)
            unit = "images of 256x256" if pixel else "points"
            ref_seconds = ref.get("seconds", np.nan)
            rows.append(
                {
                    "metric": task,
                    "size": size,
                    "unit": unit,
                    "seconds": round(wall, 4),
                    "cpu_seconds": round(cpu, 4),
                    "target_seconds": TARGETS[task],
                    "meets_target": bool(wall < TARGETS[task]),
                    "meets_target_cpu": bool(cpu < TARGETS[task]),
                    "value": value,
                    "reference_size": k,
                    "seconds_at_reference_size": round(ours_at_ref[1], 4),
                    "reference_seconds": ref_seconds,
                    "reference_cpu_seconds": ref.get("cpu_seconds", np.nan),
                    "speedup": ref_seconds / ours_at_ref[1]
                    if ref_seconds == ref_seconds
                    else np.nan,
                    "value_at_reference_size": ours_at_ref[0],
                    "reference_value": ref.get("value", np.nan),
                    "note": ref.get("note", "") or _NOTES.get(task, ""),
                    "load_average": round(os.getloadavg()[0], 2),
                }
            )
    frame = pd.DataFrame(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir / "metrics.csv"
    frame.to_csv(csv_path, index=False)
    md = [
        "# Metrics speed",
        "",
        f"`normalcy bench metrics{' --quick' if quick else ''}`; {os.cpu_count()} CPU cores; "
        "seconds are wall clock (CPU seconds beside them); speedup = reference seconds / "
        "normalcy seconds on the same subset.",
        "",
        _markdown(frame),
        "",
    ]
    (out_dir / "metrics.md").write_text("\n".join(md))
    return csv_path


def _markdown(frame: pd.DataFrame) -> str:
    """A GitHub markdown table (floats to 4 significant digits)."""
    return markdown_table(frame, missing="").rstrip("\n")
