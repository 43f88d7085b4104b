"""Video benchmark: video detectors on UCSD Ped2 (the shared copy).

``normalcy bench video --dataset ped2 [--root DIR] [--detectors a,b] [--limit N] [--quick]``;
from Python ``run(...)``.

Protocol
    Each detector (default parameters; ``quick_params`` with ``--quick``) is fitted on the
    training clips and scores the test clips. Reported: frame-level ROC-AUC micro (all test
    frames concatenated) and macro (mean over clips holding both classes; Ped2's clips 09
    and 11 are anomalous throughout and are left out of it), pixel AUROC of the maps against
    the masks (maps area-averaged and masks nearest-resized to 60 x 90), the region- and
    track-based detection criteria RBDC/TBDC (Ramachandra & Jones 2020; ``video.region_metrics``)
    at that size, fit time, scoring
    throughput (frames per second, wall clock, decoding included) and, for detectors that
    stream, per-frame latency p50/p99 of ``stream().push`` over the first test clip. One CPU
    thread for torch unless the detector sets its own. ``limit`` keeps the first ``limit``
    frames of every clip (a smoke test, not a measurement).

Outputs in ``out_dir``: ``video_<dataset>.csv``, ``.md`` (the table) and ``.html`` (the
table, score timelines against the labels, and the peak-score frame of every test clip with
its map overlaid and the mask outlined).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from ..video.evaluation import (
    downsample_maps,
    frame_auroc_macro,
    frame_auroc_micro,
    pixel_auroc,
    split_by_clip,
)
from ..video.region_metrics import region_track_curves

DATASETS = ("ped2",)
PIXEL_SIZE = (60, 90)
OWN = ("video_patchcore", "frame_prediction")


def detector_names(detectors: list[str] | None) -> list[str]:
    if detectors:
        for name in detectors:
            if get_class(name).info.modality != "video":
                raise InputError(f"detector {name!r} is not a video detector")
        return list(dict.fromkeys(detectors))
    names = [i.name for i in registered("video")]
    return [n for n in OWN if n in names] + [n for n in names if n not in OWN]


def _clips(paths: list[Path], limit: int | None) -> Any:
    from ..video.input import as_clips

    source = as_clips(paths)
    if limit:
        for clip in source.clips:
            n = min(clip.n_frames, int(limit))
            clip.n_frames = n
            clip.sizes = clip.sizes[:n]
            if clip._files is not None:
                clip._files = clip._files[:n]
    return source


def _latency(det: Any, source: Any, n: int = 60) -> tuple[float, float]:
    stream = det.stream()
    times = []
    for t in range(min(n, source.clips[0].n_frames)):
        frame = source.frame(0, t)
        start = time.perf_counter()
        stream.push(frame)
        times.append(time.perf_counter() - start)
    ms = np.array(times[1:] or times) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99))


def run_one(name: str, data: Any, limit: int | None, quick: bool) -> tuple[dict, Any]:
    cls = get_class(name)
    params = dict(cls.quick_params) if quick else {}
    if "verbose" in cls.info.params:
        params["verbose"] = False
    det = create(name, **params)
    train = _clips(data.train_clips, limit)
    test = _clips(data.test_clips, limit)
    start = time.perf_counter()
    det.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    res = det.score(test)
    score_s = time.perf_counter() - start
    lengths = test.lengths
    labels = [lab[:n] for lab, n in zip(data.test_labels, lengths, strict=True)]
    scores = split_by_clip(res.scores, lengths)
    macro, n_macro = frame_auroc_macro(labels, scores)
    row: dict[str, Any] = {
        "detector": name,
        "frame_auroc_micro": frame_auroc_micro(labels, scores),
        "frame_auroc_macro": macro,
        "macro_clips": n_macro,
        "pixel_auroc": float("nan"),
        "rbdc": float("nan"),
        "tbdc": float("nan"),
        "fit_s": fit_s,
        "score_fps": test.n_frames / score_s,
        "latency_p50_ms": float("nan"),
        "latency_p99_ms": float("nan"),
        "n_train_frames": train.n_frames,
        "n_test_frames": test.n_frames,
        "quick": quick,
    }
    if res.maps is not None:
        masks = np.concatenate([data.masks(i, PIXEL_SIZE)[:n] for i, n in enumerate(lengths)])
        small = downsample_maps(res.maps, PIXEL_SIZE)
        row["pixel_auroc"] = pixel_auroc(masks, small)
        curves = region_track_curves(split_by_clip(masks, lengths), split_by_clip(small, lengths))
        row["rbdc"], row["tbdc"] = curves.rbdc, curves.tbdc
    if getattr(det, "can_stream", False):
        row["latency_p50_ms"], row["latency_p99_ms"] = _latency(det, test)
    return row, (res, test, labels)


def run(
    dataset: str | None = None,
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    from ..datasets import ped2

    dataset = dataset or "ped2"
    if dataset not in DATASETS:
        raise InputError(f"unknown video data set {dataset!r}; known: {DATASETS}")
    data = ped2.load(root)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows, runs = [], {}
    for name in detector_names(detectors):
        row, run_data = run_one(name, data, limit, quick)
        rows.append(row)
        runs[name] = run_data
    frame = pd.DataFrame(rows)
    stem = out / f"video_{dataset}"
    frame.to_csv(stem.with_suffix(".csv"), index=False)
    stem.with_suffix(".md").write_text(_markdown(frame, dataset, limit, quick))
    _html(frame, runs, data, stem.with_suffix(".html"), dataset)
    return stem.with_suffix(".csv")


def _markdown(frame: pd.DataFrame, dataset: str, limit: int | None, quick: bool) -> str:
    cols = [
        "detector",
        "frame_auroc_micro",
        "frame_auroc_macro",
        "pixel_auroc",
        "rbdc",
        "tbdc",
        "fit_s",
        "score_fps",
        "latency_p50_ms",
        "latency_p99_ms",
    ]
    lines = [
        f"Video, {dataset}: fit on the training clips, score the test clips"
        + (f" (first {limit} frames per clip)" if limit else "")
        + (" (quick settings)" if quick else ""),
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "---|" * len(cols),
    ]
    for _, r in frame.iterrows():
        cells = [str(r[c]) if c == "detector" else f"{r[c]:.4g}" for c in cols]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _timeline(scores: np.ndarray, labels: np.ndarray, title: str):
    from ..viz.plots import _pyplot

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 1.8))
    t = np.arange(len(scores))
    ax.plot(t, scores, color="tab:purple", linewidth=0.9)
    lo, hi = float(np.min(scores)), float(np.max(scores))
    ax.fill_between(t, lo, hi, where=labels > 0, color="tab:red", alpha=0.15, step="mid")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("frame", fontsize=8)
    fig.tight_layout()
    return fig


def _html(frame: pd.DataFrame, runs: dict, data: Any, path: Path, dataset: str) -> None:
    from ..viz import HtmlReport, heatmap_overlay

    report = HtmlReport(f"normalcy video benchmark: {dataset}")
    report.text(
        "Frame-level ROC-AUC micro (all test frames) and macro (mean over clips with both "
        "classes); red bands in the timelines are the labelled anomalous frames."
    )
    report.table(frame)
    for name, (res, test, labels) in runs.items():
        report.heading(name)
        scores = split_by_clip(res.scores, test.lengths)
        items = [
            (_timeline(s, y, f"clip {n}"), f"clip {n}")
            for s, y, n in zip(scores, labels, test.names, strict=True)
        ]
        report.gallery(items, width=420)
        if res.maps is None:
            continue
        maps = split_by_clip(res.maps, test.lengths)
        vmin = float(np.min(res.maps))
        vmax = float(np.quantile(res.maps, 0.999))
        peaks = []
        for i, (s, m) in enumerate(zip(scores, maps, strict=True)):
            t = int(np.argmax(s))
            mask = data.masks(i, test.size)[t] if data.mask_dirs[i] is not None else None
            picture = heatmap_overlay(test.frame(i, t), m[t], mask=mask, vmin=vmin, vmax=vmax)
            peaks.append((picture, f"clip {test.names[i]}, frame {t} (peak)"))
        report.gallery(peaks, width=360)
    report.write(path)
