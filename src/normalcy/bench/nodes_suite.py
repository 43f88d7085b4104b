"""``normalcy bench nodes [--dataset inj_cora|books|disney] [--detectors a,b] [--quick]
[--root DATASETS] [--limit N]``: the node-level benchmark alone (see ``graph_nodes`` for the
protocol). ``limit`` runs that many seeds (default 5); ``quick`` one seed and each
detector's ``quick_params`` (a smoke test, not a measurement).

``--dataset scale`` measures instead fit + score seconds and peak memory on one synthetic
graph of ``--limit`` nodes (default 100,000; ``graph_nodes.run_scale``), written to
``nodes_scale.csv``/``.md``.

Writes ``nodes[_<dataset>].csv`` and ``.md`` (ROC-AUC mean ± std over seeds, AP, seconds)
in ``out_dir``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.errors import InputError
from ..datasets.node_sets import NODE_SETS
from .graph_nodes import SCALE_NODES, SEEDS, run_nodes, run_scale

COLUMNS = [
    "dataset",
    "detector",
    "n_nodes",
    "n_outliers",
    "seeds",
    "roc_auc",
    "roc_auc_std",
    "ap",
    "fit_s",
    "score_s",
    "fit_cpu_s",
    "score_cpu_s",
    "error",
]


def markdown(frame: pd.DataFrame, command: str) -> str:
    """The results as a markdown table (ROC-AUC mean ± std over seeds)."""
    lines = [
        "# Node-level outlier detection (BOND protocol)",
        "",
        f"Command: `{command}`. Fit and score the whole graph without labels; default "
        "parameters; one CPU thread; mean ± std over seeds; seconds are means, wall-clock "
        "and CPU time (the machine may be shared: CPU time is the cost on an unshared core).",
        "",
        "| data set | detector | ROC-AUC | AP | fit s | fit CPU s | score s | seeds | error |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in frame.itertuples(index=False):
        auc = "—" if pd.isna(r.roc_auc) else f"{r.roc_auc:.3f} ± {r.roc_auc_std:.3f}"
        ap = "—" if pd.isna(r.ap) else f"{r.ap:.3f}"
        fit = "— | —" if pd.isna(r.fit_s) else f"{r.fit_s:.1f} | {r.fit_cpu_s:.1f}"
        score = "—" if pd.isna(r.score_s) else f"{r.score_s:.2f}"
        lines.append(
            f"| {r.dataset} | {r.detector} | {auc} | {ap} | {fit} | {score} | {r.seeds} | "
            f"{'' if pd.isna(r.error) else r.error} |"
        )
    return "\n".join(lines) + "\n"


def run(
    dataset: str | None = None,
    root: str | Path | None = None,
    out_dir: str | Path = "benchmarks/results",
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    params: dict | None = None,
) -> Path:
    """Run the node benchmark and write its CSV and markdown; returns the CSV path.
    ``params`` (``--param``) only for the scale run; the benchmark runs defaults."""
    if dataset == "scale":
        return _run_scale(out_dir, detectors, limit, params)
    if params:
        raise InputError(
            "the nodes benchmark runs default parameters; --param is for --dataset scale"
        )
    if dataset is not None and dataset not in NODE_SETS:
        raise InputError(f"unknown node set {dataset!r}; known: {', '.join(NODE_SETS)}")
    if limit is not None and limit < 1:
        raise InputError(f"limit must be at least 1 seed, got {limit}")
    seeds = SEEDS[:limit] if limit else SEEDS
    sets = (dataset,) if dataset else NODE_SETS
    rows = run_nodes(root, out_dir, detectors, quick=quick, seeds=seeds, datasets=sets)
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = "nodes" + (f"_{dataset}" if dataset else "")
    csv = out / f"{stem}.csv"
    frame.to_csv(csv, index=False)
    command = "normalcy bench nodes" + (f" --dataset {dataset}" if dataset else "")
    if detectors:
        command += " --detectors " + ",".join(detectors)
    if limit:
        command += f" --limit {limit}"
    if quick:
        command += " --quick"
    (out / f"{stem}.md").write_text(markdown(frame, command))
    return csv


def _run_scale(
    out_dir: str | Path, detectors: list[str] | None, limit: int | None, params: dict | None
) -> Path:
    n_nodes = limit or SCALE_NODES
    if n_nodes < 100:
        raise InputError(f"the scale run needs at least 100 nodes, got {n_nodes}")
    frame = pd.DataFrame(run_scale(n_nodes, detectors, overrides=params))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv = out / "nodes_scale.csv"
    frame.to_csv(csv, index=False)
    lines = [
        f"# Node-level scale: one synthetic graph of {n_nodes} nodes",
        "",
        f"Command: `normalcy bench nodes --dataset scale --limit {n_nodes}"
        + "".join(f" --param {k}={v}" for k, v in (params or {}).items())
        + "`. Default parameters unless listed, one CPU thread, each detector in its own "
        "process; no dense adjacency. Seconds: wall-clock and CPU time of the process.",
        "",
        "| detector | params | edges | fit s | fit CPU s | score s | score CPU s | peak RSS MB "
        "| growth MB | ROC-AUC | error |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in frame.to_dict("records"):
        cells = [
            f"{r.get(k):.1f}" if isinstance(r.get(k), float) and not pd.isna(r.get(k)) else "—"
            for k in (
                "fit_s",
                "fit_cpu_s",
                "score_s",
                "score_cpu_s",
                "peak_rss_mb",
                "extra_rss_mb",
            )
        ]
        auc = r.get("roc_auc")
        auc = f"{auc:.3f}" if isinstance(auc, float) and not pd.isna(auc) else "—"
        lines.append(
            f"| {r['detector']} | {r.get('params') or ''} | {r['n_edges']} | "
            f"{' | '.join(cells)} | {auc} | "
            f"{'' if pd.isna(r.get('error')) else r.get('error') or ''} |"
        )
    (out / "nodes_scale.md").write_text("\n".join(lines) + "\n")
    return csv
