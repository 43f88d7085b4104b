"""Multivariate series benchmark: SMD and ASD server metrics, detection and localisation.

``normalcy bench mts --dataset smd|asd [--root PATH]``; from Python
``run(dataset="smd", root=...)``. Without ``--dataset`` both sets run.

Protocol (per entity, default parameters, the same for every entity)
    Every detector is fitted on the first 80 % of the entity's normal ``train.npy`` and
    calibrated (``calibrate(fpr=0.01)``) on the last 20 %, then scores ``test.npy``. Metrics on
    the test part, against ``test_label.npy``:

    * ``vus_pr``: VUS-PR (``normalcy.metrics.vus_pr``, default buffer);
    * ``f1``: best point-wise F1 over all thresholds, no point adjustment (``f1_max``);
    * ``f1_pa``: best F1 with point adjustment (``point_adjusted_f1_max``), the figure
      OmniAnomaly / InterFusion publish, shown to make its inflation visible;
    * ``f1_cal`` / ``f1_pa_cal``: the same two F1s at the calibrated threshold (no peeking
      at the labels);
    * ``aff_f1_cal``: affiliation F1 (Huet et al. 2022) at the calibrated threshold;
      ``range_f1``: range-based F1 (Tatbul et al.) at the best of 25 score quantiles;
    * ``hit@3``, ``hit@100%``, ``hit@150%``: interpretation hit rates of ``Scores.maps``
      against ``interpretation_label.txt`` (``normalcy.metrics.multivariate.hit_rate``: over
      every labelled step, not only the detected ones);
    * ``fit_s``, ``score_s`` and ``points_per_s`` (test steps scored per second, batch).
      Streaming detectors also get ``stream_points_per_s``: ``score_one`` + ``learn_one``
      on one core over the first 20,000 test steps.

Outputs in ``out_dir``: ``mts_<dataset>.csv`` (mean over entities, one row per detector),
``mts_<dataset>.md``, ``mts_<dataset>_per_entity.csv`` and ``mts_<dataset>.html`` (tables and
channel heat maps of every detector's top-scored segments). ``quick`` uses ``quick_params``
and cuts each entity to its first 3,000 training and 4,000 test steps.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError
from ..core.registry import detectors as registered
from ..core.registry import get_class
from ..core.threshold import CalibrationWarning
from .progress import progress_bar
from .series_common import best_range_f1, make_detector, resolve_root, stream_latency
from .tables import markdown_table

DATASETS = ("smd", "asd")
HOLDOUT = 0.2
FPR = 0.01
STREAM_POINTS = 20_000
QUICK_TRAIN, QUICK_TEST = 3_000, 4_000
METRICS = (
    "vus_pr", "f1", "f1_pa", "f1_cal", "f1_pa_cal", "aff_f1_cal", "range_f1",
    "hit@3", "hit@100%", "hit@150%",
)  # fmt: skip
TIMES = ("fit_s", "score_s", "points_per_s", "stream_points_per_s")


def default_detectors() -> list[str]:
    """Series detectors that localise (per-channel ``Scores.maps``) and are not matrix-profile
    based (the multichannel matrix profile of 20,000+ steps costs minutes per entity)."""
    return [
        info.name
        for info in registered("series")
        if info.can_localise and info.name not in {"mp_discord"}
    ]


def detection_metrics(
    labels: np.ndarray, scores: np.ndarray, flags: np.ndarray | None
) -> dict[str, float]:
    """The detection columns of one entity (see the module docstring)."""
    from ..metrics import f1_max, point_adjusted_f1, vus_pr
    from ..metrics.multivariate import affiliation_f1, point_adjusted_f1_max, point_f1

    out = {k: np.nan for k in METRICS if not k.startswith("hit")}
    if not labels.any() or labels.all():
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["vus_pr"] = float(vus_pr(labels, scores))
        out["f1"] = float(f1_max(labels, scores).f1)
        out["f1_pa"] = float(point_adjusted_f1_max(labels, scores).f1)
        out["range_f1"] = float(best_range_f1(labels, scores))
        if flags is not None:
            decisions = flags.astype(np.float64)
            out["f1_cal"] = float(point_f1(labels, decisions))
            out["f1_pa_cal"] = float(point_adjusted_f1(labels, decisions))
            out["aff_f1_cal"] = float(affiliation_f1(labels, decisions))
    return out


def localisation_metrics(maps: np.ndarray | None, segments: list[Any]) -> dict[str, float]:
    from ..metrics.multivariate import hit_rate

    out = {"hit@3": np.nan, "hit@100%": np.nan, "hit@150%": np.nan}
    if maps is None or maps.ndim != 2 or not segments:
        return out
    segs = [(s.start, s.end, s.channels) for s in segments]
    out["hit@3"] = hit_rate(maps, segs, k=3)
    out["hit@100%"] = hit_rate(maps, segs, p=1.0)
    out["hit@150%"] = hit_rate(maps, segs, p=1.5)
    return out


def evaluate_entity(name: str, entity: Any, quick: bool) -> tuple[dict[str, Any], Any]:
    """Fit, calibrate and score one detector on one entity; (row, Scores)."""
    split = int(round(entity.train.shape[0] * (1 - HOLDOUT)))
    det = make_detector(name, quick=quick)
    t0 = time.perf_counter()
    det.fit(entity.train[:split])
    fit_s = time.perf_counter() - t0
    with warnings.catch_warnings():  # a short hold-out is expected in quick runs
        warnings.simplefilter("ignore", CalibrationWarning)
        det.calibrate(entity.train[split:], fpr=FPR)
    t0 = time.perf_counter()
    res = det.score(entity.test)
    score_s = time.perf_counter() - t0
    row: dict[str, Any] = {"fit_s": fit_s, "score_s": score_s}
    row["points_per_s"] = entity.test.shape[0] / score_s if score_s > 0 else np.inf
    row.update(detection_metrics(entity.labels, res.scores, res.labels))
    row.update(localisation_metrics(res.maps, entity.segments))
    row["stream_points_per_s"] = np.nan
    if get_class(name).info.streaming:
        stream = make_detector(name, quick=quick).fit(entity.train[:split])
        for x in entity.train[split : split + 10]:  # compile / warm up outside the clock
            stream.score_one(x)
            stream.learn_one(x)
        row["stream_points_per_s"] = stream_latency(stream, entity.test[:STREAM_POINTS])[
            "points_per_s"
        ]
    return row, res


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
) -> Path:
    """Run the multivariate benchmark on ``dataset`` ("smd", "asd"; both when None) and return
    the summary CSV of the last one. ``root``: the data set's folder (default
    ``$NORMALCY_SHARED/datasets/mts/<dataset>``). ``limit``: at most this many entities."""
    from ..datasets.mts import entity_folders, load_entity

    wanted = DATASETS if dataset is None else (dataset,)
    for ds in wanted:
        if ds not in DATASETS:
            raise InputError(f"dataset must be one of {DATASETS} for the mts suite, got {ds!r}")
    names = list(detectors) if detectors else default_detectors()
    for name in names:
        info = get_class(name).info
        if info.modality != "series":
            raise InputError(f"detector {name!r} is a {info.modality} detector, not series")
    out_dir = Path(out_dir)
    path = out_dir
    for ds in wanted:
        data_root = _root(ds, root if dataset is not None else None)
        rows: list[dict[str, Any]] = []
        figures: list[tuple[str, Any]] = []
        folders = entity_folders(data_root, limit)
        partial = out_dir / f"mts_{ds}_per_entity.partial.csv"
        out_dir.mkdir(parents=True, exist_ok=True)
        progress, task = progress_bar(len(folders) * len(names), ds.upper())
        with progress:
            for folder in folders:
                entity = load_entity(folder)
                if quick:
                    entity = _shortened(entity)
                for name in names:
                    progress.update(task, description=f"{ds.upper()} {entity.name} {name}")
                    row: dict[str, Any] = {"dataset": ds, "entity": entity.name, "detector": name}
                    try:
                        values, res = evaluate_entity(name, entity, quick)
                        row.update(values, error=None)
                        figures.append((f"{entity.name} · {name}", _top_segments(entity, res)))
                    except Exception as exc:  # a failing detector is reported, never fatal
                        row["error"] = f"{type(exc).__name__}: {exc}"
                    rows.append(row)
                    pd.DataFrame(rows).to_csv(partial, index=False, float_format="%.6g")
                    progress.advance(task)
        path = _write(ds, pd.DataFrame(rows), names, figures, out_dir)
        partial.unlink(missing_ok=True)
    return path


def _root(ds: str, root: Path | None) -> Path:
    if root is None:
        return resolve_root(f"mts/{ds}", None)
    root = Path(root)
    for candidate in (root, root / ds, root / "mts" / ds):
        if candidate.is_dir() and any(candidate.glob("*/train.npy")):
            return candidate
    raise InputError(f"{ds.upper()} entities (folders with train.npy) not found under {root}")


def _shortened(entity: Any) -> Any:
    from ..datasets.mts import MTSEntity, Segment

    n = QUICK_TEST
    segs = [Segment(s.start, min(s.end, n - 1), s.channels) for s in entity.segments if s.start < n]
    return MTSEntity(
        entity.name, entity.train[:QUICK_TRAIN], entity.test[:n], entity.labels[:n], segs
    )


def summarise(per_entity: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """Mean over the entities every detector finished (shared entities), one row each."""
    ok = per_entity[per_entity["error"].isna()] if "error" in per_entity else per_entity
    shared = None
    for name in names:
        done = set(ok.loc[ok["detector"] == name, "entity"])
        shared = done if shared is None else shared & done
    shared = shared or set()
    out = []
    for name in names:
        part = ok[(ok["detector"] == name) & ok["entity"].isin(shared)]
        row: dict[str, Any] = {"detector": name, "entities": len(part)}
        for col in (*METRICS, *TIMES):
            row[col] = float(part[col].mean()) if col in part and len(part) else np.nan
        row["errors"] = int((per_entity["detector"] == name).sum() - len(part))
        out.append(row)
    return pd.DataFrame(out)


def _write(ds: str, per_entity: pd.DataFrame, names: list[str], figures, out_dir: Path) -> Path:
    from .mts_report import write_report

    out_dir.mkdir(parents=True, exist_ok=True)
    summary = summarise(per_entity, names)
    csv_path = out_dir / f"mts_{ds}.csv"
    summary.to_csv(csv_path, index=False, float_format="%.6g")
    per_entity.to_csv(out_dir / f"mts_{ds}_per_entity.csv", index=False, float_format="%.6g")
    (out_dir / f"mts_{ds}.md").write_text(markdown_table(summary))
    write_report(out_dir / f"mts_{ds}.html", ds, summary, per_entity, figures)
    return csv_path


def _top_segments(entity: Any, res: Any, n_segments: int = 2, pad: int = 60):
    """The ``n_segments`` highest-scoring stretches of the test part: (start, end, maps slice,
    labels slice, labelled channels) for the report's heat maps."""
    scores = res.scores
    if res.maps is None:
        return []
    thr = np.quantile(scores, 0.99)
    flagged = scores >= thr
    from ..metrics._validation import runs

    a, b = runs(flagged)
    if a.size == 0:
        return []
    peak = np.array([scores[i : j + 1].max() for i, j in zip(a, b, strict=True)])
    out = []
    for k in np.argsort(-peak)[:n_segments]:
        lo = max(int(a[k]) - pad, 0)
        hi = min(int(b[k]) + pad, scores.size - 1)
        chans = sorted(
            {c for s in entity.segments if s.start <= hi and s.end >= lo for c in s.channels}
        )
        out.append((lo, hi, res.maps[lo : hi + 1].copy(), entity.labels[lo : hi + 1].copy(), chans))
    return out
