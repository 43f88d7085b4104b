"""Image benchmark: image detectors on MTD or any MVTec-layout folder, accuracy and speed.

``normalcy bench image --dataset mtd --root ../shared/datasets/mtd [--detectors a,b]
[--limit N] [--quick]``; ``--dataset mvtec --root FOLDER`` (or no ``--dataset``) runs an
MVTec-layout category folder, or every category of a collection folder. From Python:
``run(dataset="mtd", root=..., ...)``.

Protocol
    Every image (train and test) is resized once to ``SIZE`` x ``SIZE`` (256, bilinear) and
    every mask to the same size (nearest neighbour), so maps, masks and throughput are all
    at 256 x 256. Each detector runs with its default parameters (``quick``: its
    ``quick_params``), is fitted on the normal training images (detectors that need no fit,
    such as ``musc``, are not fitted: they see no training image) and scores the whole test
    split in one call.

Metrics (``normalcy.metrics``)
    image AUROC of the image scores; pixel AUROC, AUPRO (FPR <= 0.3) and AUPIMO (mean over
    the defective images, FPR in [1e-5, 1e-4]) of the maps against the masks. Per-image
    AUPIMO values go to ``image_<set>_aupimo.csv``.

Speed and memory
    ``fit_s``: wall-clock seconds of ``fit``. ``images_per_s``: test images / wall-clock
    seconds of ``score`` (preprocessing, backbone, scoring, maps). ``backbone_images_per_s``:
    the same images through the detector's backbone alone (already normalised tensors,
    same batch size and threads), and ``pipeline_over_backbone`` the ratio of the two times.
    ``peak_rss_mb``: peak resident memory (``resource.getrusage``'s ``ru_maxrss``) of the
    process that fitted and scored the detector; with ``isolate`` (default) every detector
    runs in its own fresh process, so the number is its own (Python, torch and the data
    included) and no feature cache is shared between detectors.

Outputs in ``out_dir``: ``image_<set>.csv`` (one row per detector), ``.md`` (table) and
``.html`` (table, and heat-map overlays of each detector's best and worst cases: the
defective images it scores highest and lowest, and its highest-scored normal images).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import resource
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .overrides import checked_overrides
from .progress import progress_bar
from .tables import markdown_table

SIZE = 256
DEFAULT_DETECTORS = ("patchcore", "padim", "gaussian", "musc")
QUICK_LIMIT = 24
N_CASES = 3
COLUMNS = [
    "dataset",
    "detector",
    "n_train",
    "n_test",
    "n_defective",
    "image_auroc",
    "pixel_auroc",
    "aupro",
    "aupimo",
    "fit_s",
    "score_s",
    "images_per_s",
    "backbone_images_per_s",
    "pipeline_over_backbone",
    "peak_rss_mb",
    "params",
]


@dataclass
class _Data:
    """One benchmark set, resized: uint8 (n, SIZE, SIZE, 3) images and bool masks."""

    name: str
    train: np.ndarray
    test: np.ndarray
    labels: np.ndarray
    masks: np.ndarray
    names: list[str]
    types: list[str]


def _load(dataset: str | None, root: Path | None) -> list[Any]:
    from ..datasets import mtd, mvtec

    if dataset is not None and dataset not in ("mtd", "mvtec"):
        raise InputError(f"unknown image data set {dataset!r}; expected 'mtd' or 'mvtec'")
    if root is None:
        if dataset == "mtd":
            root = Path("../shared/datasets/mtd")
        else:
            raise InputError("give --root: the MVTec-layout category or collection folder")
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"data folder {root} does not exist")
    if dataset == "mtd":
        return [mtd.load(root)]
    if (root / "train" / "good").is_dir():
        return [mvtec.load(root)]
    cats = mvtec.categories(root)
    if not cats:
        raise InputError(
            f"{root} is neither an MVTec-layout category folder (train/good, test/<type>, "
            "ground_truth/<type>) nor a folder of such categories"
        )
    return [mvtec.load(root, c) for c in cats]


def _spread(n: int, k: int | None) -> np.ndarray:
    """``k`` indices spread evenly over ``range(n)`` (all when ``k`` is None or >= n)."""
    if k is None or k >= n:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, k).round().astype(int))


def _read(paths: list[Path]) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(paths), SIZE, SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(paths):
        with Image.open(p) as im:
            out[i] = np.asarray(im.convert("RGB").resize((SIZE, SIZE), Image.BILINEAR))
    return out


def _prepare(ds: Any, limit: int | None) -> _Data:
    """Images and masks at SIZE x SIZE; ``limit`` keeps that many train and test images
    (test: normal and defective images each spread evenly, in proportion)."""
    train_idx = _spread(len(ds.train_paths), limit)
    labels = np.asarray(ds.test_labels)
    if limit is None or limit >= len(labels):
        test_idx = np.arange(len(labels))
    else:
        normal, bad = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
        k_bad = min(len(bad), max(1, round(limit * len(bad) / len(labels))))
        k_normal = min(len(normal), max(1, limit - k_bad))
        test_idx = np.sort(
            np.r_[normal[_spread(len(normal), k_normal)], bad[_spread(len(bad), k_bad)]]
        )
    return _Data(
        name=ds.name,
        train=_read([ds.train_paths[i] for i in train_idx]),
        test=_read([ds.test_paths[i] for i in test_idx]),
        labels=labels[test_idx].astype(np.int64),
        masks=ds.load_masks((SIZE, SIZE), [int(i) for i in test_idx]),
        names=[Path(ds.test_paths[i]).name for i in test_idx],
        types=[ds.test_defect_types[i] for i in test_idx],
    )


# -- one detector: fit, score, time (run in a fresh process when isolated) -----------------


def _backbone_time(det: Any, images: np.ndarray) -> float:
    """Seconds of the detector's backbone forward pass alone over ``images``."""
    import torch

    from ..image.feature_detector import backbone_slices

    if not hasattr(det, "_extractor"):
        return float("nan")
    ext = det._extractor()
    prep = det._preprocess()
    device = next(ext.parameters()).device
    bs = int(getattr(det, "batch_size", 8))
    inputs = []
    for start in range(0, len(images), bs):
        views = []
        for img in images[start : start + bs]:
            views += prep.views(img.astype(np.float32) / 255.0)[0]
        inputs.append(prep.normalise(np.stack(views), device))
    # The same images per forward call as the pipeline uses (feature_detector.backbone_slices):
    # whole batches of 8 at 256 px run slower on CPU, which would flatter the ratio.
    with det._runtime(), torch.inference_mode():
        t0 = time.perf_counter()
        for x in inputs:
            for part in backbone_slices(x, prep.input_size):
                ext(part)
        return time.perf_counter() - t0


TIMING_REPEATS = 3  # score() calls timed per detector when they are short
REPEAT_BELOW_S = 30.0  # no repeat once this many seconds of scoring were spent


def _run_one(name: str, params: dict[str, Any], arrays: str, out: str) -> dict[str, Any]:
    """Fit (when needed) and score one detector; results to ``out`` (npz), timings returned."""
    data = np.load(arrays)
    train, test = data["train"], data["test"]
    det = create(name, **params)
    info = get_class(name).info
    fit_s = float("nan")
    if info.needs_fit:
        t0 = time.perf_counter()
        det.fit(train)
        fit_s = time.perf_counter() - t0
    try:
        from ..image.backbones import FEATURE_CACHE

        FEATURE_CACHE.clear()  # scoring must not reuse features computed before it
    except ImportError:
        pass
    t0 = time.perf_counter()
    res = det.score(test)
    score_times = [time.perf_counter() - t0]
    backbone_times = [_backbone_time(det, test)]
    # Short scorings are timed again and the medians reported: one run on a shared 2-core CPU
    # moves by +-10 %, which is the size of the differences the ratio is meant to show.
    while len(score_times) < TIMING_REPEATS and sum(score_times) < REPEAT_BELOW_S:
        t0 = time.perf_counter()
        det.score(test)
        score_times.append(time.perf_counter() - t0)
        backbone_times.append(_backbone_time(det, test))
    score_s = float(np.median(score_times))
    backbone_s = float(np.median(backbone_times))
    maps = res.maps if res.maps is not None else np.zeros((len(test), 1, 1), np.float32)
    np.savez(out, scores=res.scores, maps=maps, has_maps=res.maps is not None)
    return {
        "fit_s": fit_s,
        "score_s": score_s,
        "backbone_s": backbone_s,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
    }


def _run_isolated(name: str, params: dict[str, Any], arrays: str, out: str) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_run_one, (name, params, arrays, out))


# -- metrics and report ---------------------------------------------------------------------


def _metrics(data: _Data, scores: np.ndarray, maps: np.ndarray | None) -> dict[str, Any]:
    from ..metrics import aupimo, aupro, auroc, pixel_auroc

    row: dict[str, Any] = {"image_auroc": auroc(data.labels, scores)}
    per_image = np.full(len(scores), np.nan)
    if maps is not None and data.masks.any():
        row["pixel_auroc"] = pixel_auroc(data.masks, maps)
        row["aupro"] = aupro(data.masks, maps)
        res = aupimo(data.masks, maps)
        row["aupimo"] = float(res.mean)
        per_image = np.asarray(res.scores, dtype=np.float64)
    else:
        row.update(pixel_auroc=float("nan"), aupro=float("nan"), aupimo=float("nan"))
    return {"row": row, "aupimo": per_image}


def _cases(data: _Data, scores: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(title, indices): best and worst cases of one detector."""
    bad = np.flatnonzero(data.labels == 1)
    good = np.flatnonzero(data.labels == 0)
    out = []
    if len(bad):
        order = bad[np.argsort(-scores[bad], kind="stable")]
        out.append(("best: highest-scored defective images", order[:N_CASES]))
        out.append(("worst: lowest-scored defective images (misses)", order[::-1][:N_CASES]))
    if len(good):
        order = good[np.argsort(-scores[good], kind="stable")]
        out.append(("worst: highest-scored normal images (false alarms)", order[:N_CASES]))
    return out


def _gallery(data: _Data, scores: np.ndarray, maps: np.ndarray) -> list[tuple[str, list]]:
    """Heat-map overlays (one colour scale per detector) of its best and worst cases."""
    from ..viz import heatmap_overlay

    lo, hi = (float(v) for v in np.percentile(maps, [1.0, 99.9]))
    out = []
    for title, idx in _cases(data, scores):
        items = []
        for i in idx:
            img = data.test[i].astype(np.float32) / 255.0
            pic = heatmap_overlay(img, maps[i], data.masks[i], vmin=lo, vmax=hi)
            items.append((pic, f"{data.names[i]} ({data.types[i]}) score {scores[i]:.4g}"))
        out.append((title, items))
    return out


def _markdown(frame: pd.DataFrame) -> str:
    return markdown_table(frame, [c for c in COLUMNS if c != "params"])


def _detector_list(detectors: list[str] | None) -> list[str]:
    image = {i.name for i in registered("image")}
    if detectors is None:
        names = [d for d in DEFAULT_DETECTORS if d in image]
        if not names:
            raise InputError("no image detector is registered (is the image extra installed?)")
        return names
    unknown = [d for d in detectors if d not in image]
    if unknown:
        raise InputError(
            f"not image detectors: {unknown}; registered image detectors: {sorted(image)}"
        )
    return list(detectors)


def _earlier_rows(
    out_dir: Path, tag: str, names: list[str], quick: bool
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows of an earlier full run in ``out_dir`` for detectors this run does not redo, so
    that benchmarking one detector keeps the others' results (their heat-map galleries are
    not kept). A quick run starts afresh."""
    csv, pimo = out_dir / f"{tag}.csv", out_dir / f"{tag}_aupimo.csv"
    if quick or not csv.exists():
        return [], []
    frame = pd.read_csv(csv)
    if list(frame.columns) != COLUMNS:
        return [], []
    keep = frame[~frame["detector"].isin(names)]
    rows = keep.astype(object).where(keep.notna(), math.nan).to_dict("records")
    pimo_rows: list[dict[str, Any]] = []
    if pimo.exists():
        per_image = pd.read_csv(pimo)
        if "detector" in per_image.columns:
            pimo_rows = per_image[~per_image["detector"].isin(names)].to_dict("records")
    return rows, pimo_rows


def _write(
    out_dir: Path,
    tag: str,
    note: str,
    rows: list[dict[str, Any]],
    pimo_rows: list[dict[str, Any]],
    galleries: list[tuple[str, list]],
) -> Path:
    """Write the CSV, the per-image AUPIMO CSV, the markdown table and the HTML report."""
    from ..viz import HtmlReport

    frame = pd.DataFrame(rows, columns=COLUMNS)
    csv = out_dir / f"{tag}.csv"
    frame.to_csv(csv, index=False)
    pd.DataFrame(pimo_rows).to_csv(out_dir / f"{tag}_aupimo.csv", index=False)
    (out_dir / f"{tag}.md").write_text(_markdown(frame), encoding="utf-8")
    report = HtmlReport(f"normalcy image benchmark: {tag.removeprefix('image_')}")
    report.text(note, note=True).table(frame.drop(columns=["params"]))
    for heading, sections in galleries:
        report.heading(heading, level=3)
        for title, items in sections:
            report.text(title).gallery(items, width=200)
    report.write(out_dir / f"{tag}.html")
    return csv


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    isolate: bool = True,
    params: dict[str, Any] | None = None,
) -> Path:
    """Run the image benchmark (see the module docstring) and return the CSV path.

    ``detectors`` defaults to the feature-based detectors and MuSc
    (``DEFAULT_DETECTORS``); any registered image detector can be named. ``limit`` keeps at
    most that many train and test images; ``quick`` uses each detector's ``quick_params``
    and at most ``QUICK_LIMIT`` images. ``isolate`` runs each detector in a fresh process.
    ``params`` overrides parameters of every detector of the run (each must accept them);
    the CSV's ``params`` column records what each detector ran with.
    """
    names = _detector_list(detectors)
    overrides = checked_overrides(names, params)
    if quick and limit is None:
        limit = QUICK_LIMIT
    if limit is not None and int(limit) < 2:
        raise InputError(f"limit must be at least 2 images, got {limit}")
    sets = _load(dataset, root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = "image_" + ("mtd" if dataset == "mtd" else sets[0].name if len(sets) == 1 else "mvtec")
    note = (
        f"Images and masks at {SIZE}x{SIZE}; default parameters"
        + (" (quick_params)" if quick else "")
        + (f" with {json.dumps(overrides)}" if overrides else "")
        + "; throughput = test images per second of score(); peak RSS = ru_maxrss of the "
        "process that ran the detector"
        + (" (one fresh process per detector)." if isolate else " (shared process).")
    )
    rows, pimo_rows = _earlier_rows(out_dir, tag, names, quick)
    galleries: list[tuple[str, list]] = []
    progress, task = progress_bar(len(sets) * len(names), "image benchmark")
    with tempfile.TemporaryDirectory(prefix="normalcy_bench_") as tmp, progress:
        for ds in sets:
            data = _prepare(ds, limit)
            arrays = str(Path(tmp) / f"{data.name}.npz")
            np.savez(arrays, train=data.train, test=data.test)
            for name in names:
                progress.update(task, description=f"{data.name}: {name}")
                run_params = dict(get_class(name).quick_params) if quick else {}
                run_params.update(overrides)
                if "verbose" in get_class(name).info.params:
                    run_params["verbose"] = False
                out = str(Path(tmp) / f"{data.name}_{name}.npz")
                runner = _run_isolated if isolate else _run_one
                timing = runner(name, run_params, arrays, out)
                res = np.load(out)
                scores = res["scores"]
                maps = res["maps"] if bool(res["has_maps"]) else None
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = _metrics(data, scores, maps)
                n = len(scores)
                bb = timing["backbone_s"]
                rows.append(
                    {
                        "dataset": data.name,
                        "detector": name,
                        "n_train": len(data.train),
                        "n_test": n,
                        "n_defective": int(data.labels.sum()),
                        **m["row"],
                        "fit_s": timing["fit_s"],
                        "score_s": timing["score_s"],
                        "images_per_s": n / timing["score_s"],
                        "backbone_images_per_s": n / bb if bb and not math.isnan(bb) else math.nan,
                        "pipeline_over_backbone": timing["score_s"] / bb
                        if bb and not math.isnan(bb)
                        else math.nan,
                        "peak_rss_mb": timing["peak_rss_mb"],
                        "params": json.dumps(create(name, **run_params).get_params(), default=str),
                    }
                )
                for i in np.flatnonzero(data.labels == 1):
                    pimo_rows.append(
                        {
                            "dataset": data.name,
                            "detector": name,
                            "image": data.names[i],
                            "defect_type": data.types[i],
                            "aupimo": m["aupimo"][i],
                        }
                    )
                if maps is not None:
                    galleries.append((f"{data.name}: {name}", _gallery(data, scores, maps)))
                del res, maps
                progress.advance(task)
                # written after every detector: a long run cut short keeps its results
                csv = _write(out_dir, tag, note, rows, pimo_rows, galleries)
    return csv


if __name__ == "__main__":  # pragma: no cover - ``python -m normalcy.bench.image_suite``
    print(run(dataset=sys.argv[1] if len(sys.argv) > 1 else "mtd"))
