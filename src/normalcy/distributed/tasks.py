"""Embarrassingly parallel work on Ray tasks: ``fit_many`` (one model per series or entity)
and ``map_tasks`` (any picklable function over work items, e.g. benchmark runs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..core.errors import InputError, NormalcyError
from .cluster import connected, driver_errors, worker_error
from .model import load_bytes

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def map_tasks(
    fn: Callable[[Any], Any],
    items: list[Any],
    *,
    address: str | None = None,
    num_workers: int | None = None,
    cpus_per_task: float = 1,
    keep_cluster: bool = False,
) -> list[Any]:
    """``[fn(item) for item in items]``, each call a Ray task; results in input order.

    ``fn`` must be importable by the workers (a module-level function); ``num_workers`` is
    the CPUs of a local cluster this starts (default: all). A ``NormalcyError`` raised by a
    task is raised here as itself.
    """
    items = list(items)
    if not items:
        return []
    with connected(address, num_cpus=num_workers, keep_cluster=keep_cluster) as ray:
        remote = ray.remote(num_cpus=cpus_per_task)(fn)
        refs = [remote.remote(item) for item in items]
        with driver_errors():
            return ray.get(refs)


def _fit_one(job: tuple[str, dict[str, Any], Any, bool]) -> bytes:
    """Fit one detector on a worker and return its model file's bytes."""
    import tempfile

    from ..core.modality import get_modality
    from ..core.registry import create

    name, params, data, from_file = job
    try:
        det = create(name, **params)
        if from_file:
            data = get_modality(det.modality).resolve("reader")(Path(data))
        det.fit(data)
        with tempfile.TemporaryDirectory(prefix="normalcy-ray-") as tmp:
            return det.save(Path(tmp) / "model.normalcy").read_bytes()
    except NormalcyError as exc:
        raise worker_error(exc) from None


def fit_many(
    name: str,
    datasets: Mapping[Any, Any] | list[Any],
    params: dict[str, Any] | None = None,
    *,
    out_dir: str | Path | None = None,
    address: str | None = None,
    num_workers: int | None = None,
    keep_cluster: bool = False,
) -> Any:
    """Fit one ``name`` detector per data set, each on a Ray task.

    ``datasets``: a list or dict of training data (arrays, frames, or file paths read by
    the detector's data type's reader). Each worker returns the model file's bytes (no
    pickled detector); they are loaded here with ``nc.load``, verified. Returns a list (or
    dict with the same keys) of fitted detectors or, with ``out_dir``, of the model files
    written there (``<key>.normalcy``; ``model_00000.normalcy``, ... for a list).
    """
    from ..core.registry import create

    params = dict(params or {})
    create(name, **params)  # unknown name or bad parameters: fail before any task starts
    keys = list(datasets.keys()) if isinstance(datasets, Mapping) else None
    items = list(datasets.values()) if isinstance(datasets, Mapping) else list(datasets)
    if not items:
        raise InputError("fit_many needs at least one data set; got none")
    names = _file_names(keys, len(items)) if out_dir is not None else None
    jobs = [(name, params, _as_job_data(x), isinstance(x, (str, Path))) for x in items]
    blobs = map_tasks(
        _fit_one, jobs, address=address, num_workers=num_workers, keep_cluster=keep_cluster
    )
    if out_dir is not None:
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        results: list[Any] = []
        for file_name, blob in zip(names, blobs, strict=True):
            path = folder / file_name
            path.write_bytes(blob)
            results.append(path)
    else:
        results = [load_bytes(blob) for blob in blobs]
    return dict(zip(keys, results, strict=True)) if keys is not None else results


def _as_job_data(x: Any) -> Any:
    return str(Path(x).resolve()) if isinstance(x, (str, Path)) else x


def _file_names(keys: list[Any] | None, n: int) -> list[str]:
    if keys is None:
        return [f"model_{i:05d}.normalcy" for i in range(n)]
    names = [(_SAFE.sub("_", str(k)).strip("._") or "model") + ".normalcy" for k in keys]
    if len(set(names)) != len(names):
        raise InputError(
            "fit_many: keys give clashing file names once made safe for a file system "
            f"({sorted(n for n in names if names.count(n) > 1)[:3]}); use distinct simple keys"
        )
    return names
