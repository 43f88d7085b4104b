"""Node-level benchmark: every registered ``nodes`` detector on the shared node sets.

Protocol (BOND's unsupervised one, Liu et al. NeurIPS 2022): each detector, with its
default parameters (nothing tuned per data set), is fitted on the whole graph without
labels and scores the same graph's nodes; ROC-AUC and average precision (AP) against the
outlier labels. Each (detector, data set) runs once per seed; the row reports the mean and
standard deviation over seeds and the mean fit and score seconds (one CPU thread).

``run_nodes`` is what the graph bench (``normalcy bench graph``) calls; ``nodes_suite``
runs it alone (``normalcy bench nodes``).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..core.errors import InputError, NormalcyError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from ..datasets.node_sets import NODE_SETS, load_node_set

SEEDS = (0, 1, 2, 3, 4)
QUICK_SEEDS = (0,)


def default_root() -> Path:
    """``$NORMALCY_SHARED/datasets``, else ``../shared/datasets`` next to the repository."""
    repo = Path(__file__).resolve().parents[3]
    return Path(os.environ.get("NORMALCY_SHARED", repo.parent / "shared")) / "datasets"


def detector_names(detectors: list[str] | None = None) -> list[str]:
    """The requested node detectors (all registered ones by default)."""
    if detectors:
        for name in detectors:
            info = get_class(name).info
            if info.modality != "nodes":
                raise InputError(f"detector {name!r} is a {info.modality} detector, not nodes")
        return list(dict.fromkeys(detectors))
    return [info.name for info in registered("nodes")]


def make_detector(name: str, quick: bool, seed: int, overrides: dict[str, Any] | None = None):
    """``name`` with default parameters (``quick_params`` with ``quick``), ``seed``, CPU,
    and those of ``overrides`` that the detector has."""
    cls = get_class(name)
    params: dict[str, Any] = dict(cls.quick_params or {}) if quick else {}
    params.update({k: v for k, v in (overrides or {}).items() if k in cls.info.params})
    if "seed" in cls.info.params:
        params["seed"] = seed
    if "device" in cls.info.params:
        params.setdefault("device", "cpu")
    return create(name, **params)


def evaluate(
    name: str,
    graph: Any,
    labels: np.ndarray,
    quick: bool,
    seed: int,
    overrides: dict[str, Any] | None = None,
) -> dict:
    """Fit and score one detector on one graph with one seed (one CPU thread). Seconds are
    wall-clock (``fit_s``, ``score_s``) and CPU time of this process (``fit_cpu_s``,
    ``score_cpu_s``: what the run costs on an unshared core)."""
    from threadpoolctl import threadpool_limits

    from ..metrics import auroc, average_precision

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            det = make_detector(name, quick, seed, overrides).fit(graph)
            t1, c1 = time.perf_counter(), time.process_time()
            scores = det.score(graph).scores
        t2, c2 = time.perf_counter(), time.process_time()
    except (NormalcyError, ValueError, RuntimeError, MemoryError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "roc_auc": float(auroc(labels, scores)),
        "ap": float(average_precision(labels, scores)),
        "fit_s": t1 - t0,
        "score_s": t2 - t1,
        "fit_cpu_s": c1 - c0,
        "score_cpu_s": c2 - c1,
        "error": "",
    }


def run_nodes(
    root: str | Path | None,
    out_dir: str | Path | None = None,
    detectors: list[str] | None = None,
    quick: bool = False,
    seeds: tuple[int, ...] = SEEDS,
    datasets: tuple[str, ...] = NODE_SETS,
) -> list[dict]:
    """One row per (data set, detector): ROC-AUC mean and std over ``seeds``, AP mean,
    mean fit/score seconds (wall-clock and CPU), the seeds run and any error.

    ``root``: the shared ``datasets`` folder (holding ``nodes/NAME.npz``) or that
    ``nodes`` folder itself; ``None``: ``default_root()``. ``out_dir`` is accepted for the
    graph bench's signature; this function writes nothing (``nodes_suite`` does)."""
    root = Path(root) if root is not None else default_root()
    if root.name == "nodes" and not (root / "nodes").is_dir():
        root = root.parent  # the nodes folder itself was given
    names = detector_names(detectors)
    if quick:
        seeds = tuple(seeds[:1]) or QUICK_SEEDS
    rows: list[dict] = []
    for dataset in datasets:
        data = load_node_set(root, dataset)
        for name in names:
            runs = [evaluate(name, data.graph, data.labels, quick, s) for s in seeds]
            ok = [r for r in runs if not r["error"]]
            row: dict[str, Any] = {
                "dataset": dataset,
                "detector": name,
                "n_nodes": data.graph.n_nodes,
                "n_outliers": int(data.labels.sum()),
                "seeds": len(seeds),
            }
            if ok:
                auc = np.array([r["roc_auc"] for r in ok])
                row.update(
                    roc_auc=float(auc.mean()),
                    roc_auc_std=float(auc.std()),
                    ap=float(np.mean([r["ap"] for r in ok])),
                    fit_s=float(np.mean([r["fit_s"] for r in ok])),
                    score_s=float(np.mean([r["score_s"] for r in ok])),
                    fit_cpu_s=float(np.mean([r["fit_cpu_s"] for r in ok])),
                    score_cpu_s=float(np.mean([r["score_cpu_s"] for r in ok])),
                )
            else:
                row.update(roc_auc=np.nan, roc_auc_std=np.nan, ap=np.nan, fit_s=np.nan)
                row["score_s"] = np.nan
            errors = sorted({r["error"] for r in runs if r["error"]})
            row["error"] = "; ".join(errors)
            rows.append(row)
    return rows


SCALE_NODES = 100_000


def _scale_child(
    conn, name: str, graph: Any, labels: np.ndarray, seed: int, overrides: dict | None
) -> None:
    import resource

    try:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        row = evaluate(name, graph, labels, False, seed, overrides)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        row["peak_rss_mb"] = peak / 1024.0
        row["extra_rss_mb"] = (peak - base) / 1024.0
        conn.send(row)
    except BaseException as exc:  # report anything, never hang the parent
        conn.send({"error": f"{type(exc).__name__}: {exc}"[:300]})
    finally:
        conn.close()


def run_scale(
    n_nodes: int = SCALE_NODES,
    detectors: list[str] | None = None,
    seed: int = 0,
    timeout: float = 3600.0,
    overrides: dict[str, Any] | None = None,
) -> list[dict]:
    """Fit + score seconds and peak memory of each detector on one synthetic graph of
    ``n_nodes`` nodes (``make_node_graph``: 16 features, ~3 edges per node, injected
    outliers), each detector in a forked child so that its peak resident memory is its own
    (``extra_rss_mb``: the growth over the child's start, which holds the graph).
    ``overrides``: parameters set on the detectors that have them (e.g. fewer ``epochs``
    on a shared machine: the peak memory of an epoch does not depend on their number, and
    the time is linear in it); recorded in the ``params`` column."""
    import multiprocessing as mp

    from ..datasets.synthetic_graphs import make_node_graph

    data = make_node_graph(
        n_nodes=n_nodes,
        n_communities=20,
        n_contextual=max(1, n_nodes // 100),
        n_cliques=max(1, n_nodes // 1000),
        clique_size=15,
        seed=seed,
    )
    rows = []
    ctx = mp.get_context("fork")
    for name in detector_names(detectors):
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(
            target=_scale_child,
            args=(send, name, data.graph, data.labels, seed, overrides),
            daemon=True,
        )
        proc.start()
        send.close()
        row = receive.recv() if receive.poll(timeout) else {"error": f"timeout {timeout:g} s"}
        proc.join(5)
        if proc.is_alive():
            proc.kill()
        row.update(dataset=f"synthetic_{n_nodes}", detector=name, n_nodes=n_nodes)
        row["n_edges"] = data.graph.n_edges
        cls = get_class(name)
        row["params"] = ", ".join(
            f"{k}={v}" for k, v in (overrides or {}).items() if k in cls.info.params
        )
        rows.append(row)
    return rows
