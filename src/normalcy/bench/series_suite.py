"""Series benchmark: the UCR anomaly archive and NAB, each under its own protocol.

``normalcy bench series --dataset ucr|nab [--root PATH]``; from Python
``run(dataset="ucr", root=..., nab_results=...)``.

UCR protocol
    Each detector is fitted on the normal part ``[0, TRAINEND)`` of every series and scores
    the rest. UCR score: the fraction of series whose top-scoring point of the scored part
    lies within the anomaly span widened by 100 points on each side
    (``normalcy.metrics.ucr_score``).

NAB protocol (online, no separate training set)
    A detector first sees the first half of the file's probationary period (NAB's first
    15 %, at most 750 rows). A streaming detector (registered ``streaming=True``) is fitted
    on it and then scores and learns every later row one at a time (``score_one`` then
    ``learn_one``); per-row latency is measured there. A batch detector is refitted on all
    rows seen so far every 10 % of the file and scores the next stretch; its windows end at
    the scored row (causal settings: ``spread="last"``, and ``self_join=False`` for the
    matrix profile; a class may declare its own ``causal_params``). Raw scores then become
    alarm scores with the past only (``normalcy.series.normalise.causal_margin``): how far a
    score rises above the highest score of the previous probationary-length stretch, in units
    of the spread of all earlier scores. This makes one threshold fit the whole corpus and
    raises one alarm per excursion instead of one per step (NAB charges every step flagged
    outside a window). A detector class with ``alarm_scores = True`` (e.g. ``conformal_knn``)
    already streams online alarm scores, used as they are. As in NAB, that threshold is chosen per detector and per profile to
    maximise the corpus score (``normalcy.metrics.nab_raw_score`` summed over
    files, ``nab_normalize``), searched over quantiles of the detector's pooled scores.
    With ``nab_results`` (a checkout or export of github.com/numenta/NAB, or its
    ``results`` folder) the per-file results of NAB's own detectors are read as data and
    re-scored the same way on the same files.

Both protocols also report VUS-PR, PATE (early and delay buffers of 100 points) and range-F1
(the best over 25 thresholds at score quantiles 0.5 to 0.999, alpha 0, flat bias) of every
series with an anomaly, and seconds per series (fit and score). Every registered series
detector with ``streaming=True`` gets a streaming measurement: points per second and
p50/p99 latency per point of ``score_one`` + ``learn_one`` on one core.

Outputs in ``out_dir``: ``series_<dataset>.csv`` (one row per detector), ``.md`` (the same
table), ``series_<dataset>_per_series.csv`` and ``series_<dataset>.html`` (tables and a score
timeline of every series with its labelled anomaly windows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.errors import InputError
from ..core.registry import create  # noqa: F401  (kept importable here)
from .overrides import checked_overrides
from .series_common import (  # noqa: F401  (the suite's public names)
    detector_names,
    make_detector,
    resolve_root,
    series_metrics,
    stream_latency,
)
from .series_nab import NAB_PROFILES, nab_online_scores, nab_threshold_search, run_nab  # noqa: F401
from .series_report import timeline_figure  # noqa: F401
from .series_ucr import run_ucr

DATASETS = ("ucr", "nab")
DEFAULT_DATASET = "ucr"
QUICK_LIMIT = 3


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    nab_results: Path | None = None,
    params: dict[str, Any] | None = None,
) -> Path:
    """Run the series benchmark on ``dataset`` ("ucr", the default, or "nab"); returns the
    summary CSV.

    ``root`` is the data set's folder (default ``../shared/datasets/<dataset>``; a folder
    holding ``<dataset>/`` works too). ``quick`` uses the detectors' ``quick_params`` and at
    most 3 series (for NAB, the first 3 with labelled anomalies: a limited NAB run always takes
    files with labelled windows). ``nab_results`` (or the environment variable ``NORMALCY_NAB_RESULTS``)
    points at numenta/NAB's results to re-score its detectors on the same files.
    ``params`` overrides parameters of every detector of the run (each must accept them).
    """
    dataset = DEFAULT_DATASET if dataset is None else dataset
    if dataset not in DATASETS:
        raise InputError(f"dataset must be one of {DATASETS} for the series suite, got {dataset!r}")
    names = detector_names(detectors)
    if not names:
        raise InputError("no series detector is registered")
    overrides = checked_overrides(names, params)
    if quick and limit is None:
        limit = QUICK_LIMIT
    data_root = resolve_root(dataset, root)
    out_dir = Path(out_dir)
    if dataset == "ucr":
        return run_ucr(data_root, out_dir, names, limit, quick, overrides)
    return run_nab(data_root, out_dir, names, limit, quick, nab_results, overrides)
