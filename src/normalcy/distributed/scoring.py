"""``distributed.score``: score a folder of images, a Parquet dataset or many series with Ray
Data ``map_batches``, the model loaded once per worker, and return what one process returns.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..core.errors import InputError, NormalcyError
from ..core.scores import Scores
from .cluster import connected, driver_errors
from .model import ModelInfo, model_bytes
from .sources import ImageWork, RowWork, SeriesWork, plan
from .workers import ScoreWorker

# CPUs a scoring actor asks for while Ray Data reads Parquet: half of one, so read tasks
# find CPUs to run on (actors holding every CPU starve the reads and the job never ends)
READING_ACTOR_CPUS = 0.5


def score(
    model: Any,
    dataset: Any,
    *,
    address: str | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    key: str | bytes | None = None,
    allow_download: bool = False,
    keep_cluster: bool = False,
) -> Any:
    """Score ``dataset`` with ``model`` on a Ray cluster; the result equals one process's.

    Parameters
    ----------
    model:
        A model file path, or a fitted detector (saved to a temporary file). Either way the
        file's bytes go through Ray's object store and every worker loads them with
        ``nc.load`` (verified; no pickled detector) once.
    dataset:
        Image model: a folder of images or a list of image paths (the same files on every
        node). Tabular / events model: a Parquet file, a folder of Parquet files, a list of
        them, or a pandas DataFrame. Series model: a list or dict of series (arrays or
        pandas objects), or of CSV/Parquet files, or a folder of such files (one series each).
    address:
        None or ``"local"``: the Ray already initialised in this process, else a new local
        cluster. ``"auto"``, ``HOST:PORT`` or ``ray://HOST:PORT``: that cluster.
    batch_size:
        Images per work unit (rounded to whole multiples of the detector's own batch size,
        so every image is scored in the batch it would be scored in locally; default 32) or
        table rows per batch (default 65,536). Series are scored one per call.
    num_workers:
        Size of the actor pool (each worker holds one model); default: the cluster's CPUs.
    key, allow_download:
        As for ``nc.load`` (signed model files; pretrained weights the file names).
    keep_cluster:
        Leave a cluster this call started running (default: shut it down).

    Returns
    -------
    ``Scores`` (images: ``index`` holds the file names, in input order; rows: in file order)
    or, for many series, a list (or dict with the same keys) of ``Scores``. No anomaly maps
    (score locally, or ``det.score`` on a subset, to get maps).
    """
    for what, value in (("num_workers", num_workers), ("batch_size", batch_size)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise InputError(f"{what} must be a positive integer or None, got {value!r}")
    data, info = model_bytes(model, key=key)
    work = plan(dataset, info, batch_size)
    with connected(address, num_cpus=num_workers, keep_cluster=keep_cluster) as ray:
        workers = _pool_size(ray, num_workers, work)
        ref = ray.put(data)
        args = dict(key=key, allow_download=allow_download)
        with driver_errors(), warnings.catch_warnings():
            # Ray Data warns when a pool has more actors than a small input has blocks
            warnings.filterwarnings("ignore", message="The minimum number of concurrent actors")
            if isinstance(work, ImageWork):
                return _score_images(ray, ref, work, workers, args)
            if isinstance(work, RowWork):
                return _score_rows(ray, ref, work, workers, args)
            return _score_series(ray, ref, work, workers, args, info)


def _pool_size(ray: Any, wanted: int | None, work: Any) -> int:
    """Workers in the pool: as asked (at most one per CPU of the cluster, or Ray would wait
    for CPUs that never come), never more than there are work units."""
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    n = min(wanted or cpus, cpus)
    if isinstance(work, ImageWork):
        n = min(n, -(-len(work.paths) // work.unit))
    elif isinstance(work, SeriesWork):
        n = min(n, len(work.items))
    return max(1, n)


def _map(
    ds: Any,
    ref: Any,
    kind: str,
    options: dict,
    workers: int,
    args: dict,
    cpus: float = 1,
    **kw: Any,
):
    import ray.data

    return ds.map_batches(
        ScoreWorker,
        fn_constructor_args=((ref,), kind, options),
        fn_constructor_kwargs=args,
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus,
        **kw,
    )


def _score_images(ray: Any, ref: Any, work: ImageWork, workers: int, args: dict) -> Scores:
    units = work.units()
    ds = ray.data.from_items(units, override_num_blocks=len(units))
    out = _map(ds, ref, "images", {"size": list(work.size)}, workers, args, batch_size=1)
    pos, scores, labels = _collect(out, len(work.paths))
    return Scores(scores=scores, labels=labels, index=list(work.names))


def _collect(out: Any, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    parts = list(out.iter_batches(batch_size=None, batch_format="numpy"))
    pos = np.concatenate([p["pos"] for p in parts])
    order = np.argsort(pos, kind="stable")
    if not np.array_equal(pos[order], np.arange(n)):
        raise NormalcyError(f"distributed scoring returned {len(pos)} results for {n} items")
    scores = np.concatenate([p["score"] for p in parts])[order]
    has_labels = bool(parts) and "label" in parts[0]
    labels = np.concatenate([p["label"] for p in parts])[order] if has_labels else None
    return pos, scores, labels


def _score_rows(ray: Any, ref: Any, work: RowWork, workers: int, args: dict) -> Scores:
    with _ordered(ray):
        if work.files is not None:
            ds, cpus = ray.data.read_parquet(work.files), READING_ACTOR_CPUS
        else:
            ds, cpus = ray.data.from_pandas(work.frame), 1
        out = _map(ds, ref, "rows", {}, workers, args, cpus, batch_size=work.batch_size,
                   batch_format="pandas")  # fmt: skip
        parts = list(out.iter_batches(batch_size=None, batch_format="numpy"))
    if not parts:
        raise InputError("the Parquet dataset holds no rows")
    scores = np.concatenate([p["score"] for p in parts])
    labels = np.concatenate([p["label"] for p in parts]) if "label" in parts[0] else None
    return Scores(scores=scores, labels=labels)


@contextlib.contextmanager
def _ordered(ray: Any) -> Iterator[None]:
    """Ray Data keeps the rows in input order inside the block (restored after)."""
    ctx = ray.data.DataContext.get_current()
    before = ctx.execution_options.preserve_order
    ctx.execution_options.preserve_order = True
    try:
        yield
    finally:
        ctx.execution_options.preserve_order = before


def _score_series(
    ray: Any, ref: Any, work: SeriesWork, workers: int, args: dict, info: ModelInfo
) -> Any:
    import pandas as pd

    items = [{"pos": i, "item": item} for i, item in enumerate(work.items)]
    ds = ray.data.from_items(items, override_num_blocks=len(items))
    out = _map(ds, ref, "series", {"from_files": work.from_files}, workers, args, batch_size=1)
    rows: dict[int, Scores] = {}
    for part in out.iter_batches(batch_size=None, batch_format="numpy"):
        fields = ("pos", "scores", "labels", "stamps", "index_name")
        for p, s, lab, ns, name in zip(*(part[f] for f in fields), strict=True):
            index = pd.DatetimeIndex(np.asarray(ns, dtype="datetime64[ns]"), name=name or None)
            rows[int(p)] = Scores(
                scores=np.asarray(s, dtype=np.float64),
                labels=np.asarray(lab, dtype=bool) if len(lab) else None,
                index=index if len(ns) else None,
            )
    if sorted(rows) != list(range(len(items))):
        raise NormalcyError(f"distributed scoring returned {len(rows)} results for {len(items)}")
    results = [rows[i] for i in range(len(items))]
    return dict(zip(work.keys, results, strict=True)) if work.keys is not None else results
