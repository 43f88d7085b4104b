"""Graph benchmark: every graph-level detector on the TU sets, GLocalKD's protocol.

``normalcy bench graph [--root ../shared/datasets/graphs] [--dataset NAME]
[--detectors a,b] [--limit N] [--quick]``; from Python ``run(root=..., ...)``.

Protocol (one-class graph-level detection, after GLocalKD, Ma et al. WSDM 2022)
    Class convention: the class whose value appears first in ``NAME_graph_labels.txt`` is
    the anomalous class and every other class is normal, as GLocalKD's code does (AIDS 0,
    BZR -1, COX2 -1, ENZYMES 6, NCI1 0; see ``graphs/README.md`` in the shared data).
    Split, per seed ``s`` in 0..``n_seeds``-1 (``numpy.random.default_rng(s)``): a
    stratified 80/20 split of all graphs into training and test graphs (GLocalKD uses a
    stratified 5-fold split; a seeded 80/20 split keeps one fit per seed). One-class
    detectors are fitted on the normal training graphs except a held-out 20 % of them
    (seeded), which calibrates the threshold; detectors registered with
    ``uses_labels=True`` are fitted on the same normal graphs *and* the anomalous training
    graphs, with their labels (1 = anomalous). Test graphs of both classes are scored:
    ROC-AUC and average precision, and macro-F1 of the decisions at the threshold
    calibrated on the held-out normal graphs (``calibrate(holdout, fpr=FPR)``; no
    threshold is ever picked with test labels). Means ± standard deviations over seeds;
    fit and score seconds (one CPU thread). Every detector runs with its default
    parameters (``quick``: its ``quick_params``, one seed); nothing is tuned per set.

``limit``: at most ``limit`` graphs per data set (a seeded, class-stratified sample).

Node level: when ``normalcy.bench.graph_nodes`` exists (node-level detectors on the node
sets), its ``run_nodes`` rows are added (``graph_nodes.csv`` and a table).

Outputs in ``out_dir``: ``graph.csv`` (data set x detector, means and spreads),
``graph_runs.csv`` (one row per seed), ``graph.md`` and ``graph.html`` (tables, and the
most anomalous test graphs of each set drawn with their most anomalous nodes highlighted;
``bench.graph_report``).
"""

from __future__ import annotations

import importlib
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..core.errors import InputError, NormalcyError
from ..core.registry import create, get_class
from ..core.registry import detectors as registered
from .progress import progress_bar
from .tables import markdown_table

N_SEEDS = 5
TEST_SHARE = 0.2
HOLDOUT_SHARE = 0.2
FPR = 0.05
QUICK_LIMIT = 300
DEFAULT = "graph_stats"  # normalcy's default graph-level detector (chosen a priori)

# GLocalKD's Table 2 (ROC-AUC) for these sets. Left empty: the figures could not be
# checked against the paper from this machine, and unchecked numbers are not quoted.
PUBLISHED_GLOCALKD: dict[str, tuple[float, float]] = {}


def resolve_root(root: Path | None) -> Path:
    if root is None:
        shared = Path(os.environ.get("NORMALCY_SHARED", Path("..") / "shared"))
        root = shared / "datasets" / "graphs"
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"graph data not found at {root}; pass --root PATH to the graphs folder")
    return root


def dataset_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if (p / f"{p.name}_A.txt").is_file())


def detector_names(detectors: list[str] | None) -> tuple[list[str], list[str]]:
    """(graph-level, node-level) detector names: the requested ones, or every registered
    graph-level detector (normalcy's default first) and no node-level filter."""
    if detectors:
        graph, nodes = [], []
        for name in detectors:
            modality = get_class(name).info.modality
            if modality == "graph":
                graph.append(name)
            elif modality == "nodes":
                nodes.append(name)
            else:
                raise InputError(f"detector {name!r} is a {modality} detector, not graph/nodes")
        return list(dict.fromkeys(graph)), list(dict.fromkeys(nodes))
    names = [i.name for i in registered("graph")]
    return ([DEFAULT] if DEFAULT in names else []) + [n for n in names if n != DEFAULT], []


def make_detector(name: str, quick: bool, seed: int, overrides: dict[str, Any] | None = None):
    cls = get_class(name)
    params: dict[str, Any] = dict(cls.quick_params or {}) if quick else {}
    params.update(overrides or {})
    if "seed" in cls.info.params:
        params["seed"] = seed
    if "device" in cls.info.params:
        params.setdefault("device", "cpu")
    return create(name, **params)


def anomalous_class(labels: np.ndarray) -> int:
    """GLocalKD's convention: the class value that appears first in the labels file."""
    return int(labels[0])


def split(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Indices of the fit (normal), hold-out (normal), anomalous-training and test graphs."""
    rng = np.random.default_rng(seed)
    y = (labels == anomalous_class(labels)).astype(np.int64)
    train, test = [], []
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == cls))
        n_test = max(1, int(round(TEST_SHARE * len(idx))))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    normal = train[0]
    n_hold = max(1, int(round(HOLDOUT_SHARE * len(normal))))
    return {
        "fit": np.sort(normal[n_hold:]),
        "holdout": np.sort(normal[:n_hold]),
        "train_anomalous": np.sort(train[1]),
        "test": np.sort(np.concatenate(test)),
        "y": y,
    }


def subsample(labels: np.ndarray, limit: int, seed: int) -> np.ndarray:
    """At most ``limit`` indices, stratified by class, in file order."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    keep = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        k = max(1, int(round(limit * len(idx) / len(labels))))
        keep.append(rng.choice(idx, size=min(k, len(idx)), replace=False))
    return np.sort(np.concatenate(keep))


def macro_f1(y: np.ndarray, flagged: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, flagged.astype(np.int64), average="macro", zero_division=0))


def evaluate(
    name: str,
    graphs: list,
    parts: dict[str, np.ndarray],
    quick: bool,
    seed: int,
    overrides: dict[str, Any] | None = None,
):
    """Fit, calibrate and score one detector on one split: (metrics row, test Scores)."""
    from ..metrics import auroc, average_precision

    y = parts["y"]
    pick = lambda idx: [graphs[i] for i in idx]  # noqa: E731
    labelled = get_class(name).info.uses_labels
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            det = make_detector(name, quick, seed, overrides)
            if labelled:
                idx = np.concatenate([parts["fit"], parts["train_anomalous"]])
                det.fit(pick(idx), y[idx])
            else:
                det.fit(pick(parts["fit"]))
            t1 = time.perf_counter()
            try:
                det.calibrate(pick(parts["holdout"]), fpr=FPR)
            except InputError:  # too few held-out graphs: no threshold, no macro-F1
                det.threshold = None
            t2 = time.perf_counter()
            res = det.score(pick(parts["test"]))
            t3 = time.perf_counter()
    except (NormalcyError, ValueError, RuntimeError, MemoryError, np.linalg.LinAlgError) as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:300]}, None
    y_test = y[parts["test"]]
    row = {
        "roc_auc": float(auroc(y_test, res.scores)),
        "ap": float(average_precision(y_test, res.scores)),
        "macro_f1": np.nan if res.labels is None else macro_f1(y_test, res.labels),
        "fit_s": t1 - t0,
        "score_s": t3 - t2,
        "n_fit": len(parts["fit"]) + (len(parts["train_anomalous"]) if labelled else 0),
        "n_test": len(parts["test"]),
        "uses_labels": bool(labelled),
        "error": "",
    }
    return row, res


def warm_up(names: list[str], quick: bool) -> None:
    """Fit every detector once on tiny synthetic graphs, so that one-off costs (imports,
    compilation) are not charged to the first data set."""
    from ..datasets.synthetic_graphs import make_graphs

    data = make_graphs(n_train=24, n_test=4, seed=0)
    for name in names:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                det = make_detector(name, True, 0)
                if get_class(name).info.uses_labels:
                    det.fit(data.train + data.test, np.r_[np.zeros(24), data.labels])
                else:
                    det.fit(data.train)
                det.score(data.test)
        except Exception:  # the real run reports the error
            pass


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """Data set x detector: mean and std over seeds of every metric, summed seconds."""
    ok = runs[runs["error"].fillna("") == ""]
    g = ok.groupby(["dataset", "detector"], sort=False)
    out = g.agg(
        roc_auc=("roc_auc", "mean"),
        roc_auc_std=("roc_auc", "std"),
        ap=("ap", "mean"),
        macro_f1=("macro_f1", "mean"),
        macro_f1_std=("macro_f1", "std"),
        fit_s=("fit_s", "mean"),
        score_s=("score_s", "mean"),
        seeds=("seed", "count"),
    ).reset_index()
    out["published_glocalkd"] = out["dataset"].map(
        lambda d: PUBLISHED_GLOCALKD.get(d, (np.nan, np.nan))[0]
    )
    return out


def overall(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per detector: mean over data sets of the per-set means."""
    g = summary.groupby("detector", sort=False)
    out = g.agg(
        roc_auc=("roc_auc", "mean"),
        macro_f1=("macro_f1", "mean"),
        fit_s=("fit_s", "sum"),
        score_s=("score_s", "sum"),
        datasets=("dataset", "count"),
    ).reset_index()
    return out.sort_values("roc_auc", ascending=False).reset_index(drop=True)


def _node_rows(nodes: list[str], out_dir: Path, quick: bool) -> pd.DataFrame | None:
    try:
        module = importlib.import_module("normalcy.bench.graph_nodes")
    except ImportError:
        return None
    shared = Path(os.environ.get("NORMALCY_SHARED", Path("..") / "shared"))
    try:
        rows = module.run_nodes(shared / "datasets" / "nodes", out_dir, nodes or None, quick)
    except (NormalcyError, OSError, ValueError, RuntimeError) as exc:  # keep the graph results
        return pd.DataFrame([{"error": f"node-level run failed: {type(exc).__name__}: {exc}"}])
    return pd.DataFrame(rows) if rows else None


def run(
    *,
    dataset: str | None = None,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detectors: list[str] | None = None,
    limit: int | None = None,
    quick: bool = False,
    n_seeds: int = N_SEEDS,
    nodes: bool = True,
) -> Path:
    """Run the benchmark (see the module docstring); returns the summary CSV path."""
    from threadpoolctl import threadpool_limits

    from ..datasets.tu import read_tu
    from .graph_report import write_report

    root = resolve_root(root)
    sets = [dataset] if dataset else dataset_names(root)
    if dataset and not (root / dataset).is_dir():
        raise InputError(f"no data set {dataset!r} in {root}; found {dataset_names(root)}")
    names, node_names = detector_names(detectors)
    if quick:
        n_seeds, limit = 1, min(limit or QUICK_LIMIT, QUICK_LIMIT)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"graph_{dataset}" if dataset else "graph"
    runs: list[dict[str, Any]] = []
    shown: dict[tuple[str, str], tuple[list, Any, np.ndarray]] = {}
    progress, task = progress_bar(len(sets) * len(names) * n_seeds, "graph")
    with threadpool_limits(1), progress:
        warm_up(names, quick)
        for set_name in sets:
            data = read_tu(root / set_name)
            if data.labels is None:
                raise InputError(f"{set_name} has no graph labels; the protocol needs them")
            keep = subsample(data.labels, limit, 0) if limit else np.arange(len(data))
            graphs = [data.graphs[i] for i in keep]
            labels = data.labels[keep]
            for seed in range(n_seeds):
                parts = split(labels, seed)
                for name in names:
                    progress.update(task, description=f"{set_name} {name} seed {seed}")
                    row, res = evaluate(name, graphs, parts, quick, seed)
                    runs.append(
                        {
                            "dataset": set_name,
                            "detector": name,
                            "seed": seed,
                            "anomalous_class": anomalous_class(labels),
                            **row,
                        }
                    )
                    if seed == 0 and res is not None:
                        test = [graphs[i] for i in parts["test"]]
                        shown[(set_name, name)] = (test, res, parts["y"][parts["test"]])
                    progress.advance(task)
                pd.DataFrame(runs).to_csv(out_dir / f"{stem}_runs.csv", index=False)
    frame = pd.DataFrame(runs)
    if "error" not in frame:
        frame["error"] = ""
    frame.to_csv(out_dir / f"{stem}_runs.csv", index=False)
    summary = summarise(frame)
    csv = out_dir / f"{stem}.csv"
    summary.to_csv(csv, index=False)
    # node-level rows: every node detector by default; with --detectors, only those named
    run_nodes = nodes and not dataset and (not detectors or bool(node_names))
    node_frame = _node_rows(node_names, out_dir, quick) if run_nodes else None
    if node_frame is not None:
        node_frame.to_csv(out_dir / f"{stem}_nodes.csv", index=False)
    settings = {"n_seeds": n_seeds, "limit": limit, "quick": quick}
    (out_dir / f"{stem}.md").write_text(markdown(frame, summary, node_frame, settings))
    write_report(out_dir / f"{stem}.html", frame, summary, node_frame, shown, settings)
    return csv


def protocol_note(settings: dict[str, Any]) -> str:
    limit = settings.get("limit")
    return (
        "GLocalKD protocol: the class appearing first in graph_labels.txt is anomalous, the "
        f"others normal; per seed a stratified {1 - TEST_SHARE:.0%}/{TEST_SHARE:.0%} "
        f"train/test split; one-class detectors fit on the normal training graphs less a "
        f"{HOLDOUT_SHARE:.0%} hold-out that calibrates the threshold (fpr={FPR}); labelled "
        "detectors also get the anomalous training graphs with labels; ROC-AUC on the test "
        f"graphs, mean ± std over {settings['n_seeds']} seed(s); macro-F1 at the calibrated "
        "threshold; default parameters, one CPU thread"
        + (f"; at most {limit} graphs per set (stratified sample)" if limit else "")
        + ("; quick settings (a smoke test, not a measurement)" if settings.get("quick") else "")
        + "."
    )


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "–"
    return f"{mean:.3f} ± {std:.3f}" if np.isfinite(std) else f"{mean:.3f}"


def per_set_table(summary: pd.DataFrame, metric: str = "roc_auc") -> pd.DataFrame:
    """Rows = data sets, columns = detectors, cells 'mean ± std'."""
    cells = summary.assign(
        cell=[_pm(m, s) for m, s in zip(summary[metric], summary[f"{metric}_std"], strict=True)]
    )
    table = cells.pivot(index="dataset", columns="detector", values="cell")
    order = list(dict.fromkeys(summary["detector"]))
    table = table[[c for c in order if c in table.columns]]
    published = summary.drop_duplicates("dataset").set_index("dataset")["published_glocalkd"]
    if metric == "roc_auc":
        table["GLocalKD (published)"] = published.reindex(table.index).map(
            lambda v: "–" if not np.isfinite(v) else f"{v:.3f}"
        )
    return table.reset_index()


def markdown(
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    nodes: pd.DataFrame | None,
    settings: dict[str, Any],
) -> str:
    parts = [
        "# Graph benchmark (TU sets, one-class graph-level)\n",
        protocol_note(settings) + "\n",
        "## Mean over data sets\n",
        markdown_table(overall(summary)),
        "## ROC-AUC per data set (mean ± std over seeds)\n",
        markdown_table(per_set_table(summary, "roc_auc")),
        "## Macro-F1 at the calibrated threshold\n",
        markdown_table(per_set_table(summary, "macro_f1")),
        "## Seconds per fit and per score (mean over seeds)\n",
        markdown_table(summary[["dataset", "detector", "fit_s", "score_s"]]),
    ]
    if not PUBLISHED_GLOCALKD:
        parts.append(
            "GLocalKD's published per-set ROC-AUC (its Table 2) is not quoted: it could not "
            "be checked against the paper when this table was made.\n"
        )
    errors = runs[runs["error"].fillna("") != ""]
    if len(errors):
        parts += ["## Failures\n", markdown_table(errors[["dataset", "detector", "seed", "error"]])]
    if nodes is not None:
        parts += ["## Node level\n", markdown_table(nodes)]
    return "\n".join(parts)


# ----------------------------------------------------------------------------------------------
# choosing a default without per-set tuning: leave one data set out


def leave_one_dataset_out(
    *,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    detector: str = DEFAULT,
    variants: dict[str, dict[str, Any]] | None = None,
    n_seeds: int = N_SEEDS,
) -> Path:
    """Run ``detector`` under each variant (parameter overrides) on every set; for each
    held-out set, pick the variant with the best mean ROC-AUC on the *other* sets and report
    its ROC-AUC on the held-out one. Writes ``graph_lodo.csv`` and ``graph_lodo.md``."""
    from threadpoolctl import threadpool_limits

    from ..datasets.tu import read_tu

    variants = variants or {"log_count": {}, "share": {"wl_scale": "share"}}
    root = resolve_root(root)
    rows = []
    with threadpool_limits(1):
        for set_name in dataset_names(root):
            data = read_tu(root / set_name)
            for seed in range(n_seeds):
                parts = split(data.labels, seed)
                for variant, params in variants.items():
                    row, _ = evaluate(detector, data.graphs, parts, False, seed, params)
                    rows.append({"dataset": set_name, "variant": variant, "seed": seed, **row})
    frame = pd.DataFrame(rows)
    means = frame.groupby(["dataset", "variant"])["roc_auc"].mean().unstack("variant")
    picks = []
    for held in means.index:
        others = means.drop(index=held).mean(axis=0)
        chosen = str(others.idxmax())
        picks.append(
            {
                "held_out": held,
                "chosen_on_others": chosen,
                "roc_auc_held_out": float(means.loc[held, chosen]),
                **{f"roc_auc_{v}": float(means.loc[held, v]) for v in means.columns},
            }
        )
    table = pd.DataFrame(picks)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "graph_lodo.csv"
    table.to_csv(csv, index=False)
    note = (
        f"Leave-one-dataset-out choice among {detector} variants {variants} "
        f"({n_seeds} seed(s), the protocol of graph.md): for each held-out set the variant "
        "with the best mean ROC-AUC on the other sets, and its ROC-AUC on the held-out set.\n"
    )
    (out_dir / "graph_lodo.md").write_text(
        "# graph_stats default by leave-one-dataset-out\n\n" + note + "\n" + markdown_table(table)
    )
    return csv


def scale_check(
    *,
    root: Path | None = None,
    out_dir: Path = Path("benchmarks/results"),
    dataset: str = "NCI1",
    detectors: list[str] | None = None,
) -> Path:
    """Seconds to fit every graph-level detector on *all* graphs of ``dataset`` and score
    them all (default parameters, one CPU thread): the scale target (NCI1, 4,110 graphs,
    under 5 minutes). Writes ``graph_scale.csv``."""
    from threadpoolctl import threadpool_limits

    from ..datasets.tu import read_tu

    graphs = read_tu(resolve_root(root) / dataset).graphs
    names, _ = detector_names(detectors)
    rows = []
    with threadpool_limits(1):
        warm_up(names, False)
        for name in names:
            det = make_detector(name, False, 0)
            t0 = time.perf_counter()
            if get_class(name).info.uses_labels:
                rows.append({"dataset": dataset, "detector": name, "error": "needs labels"})
                continue
            det.fit(graphs)
            t1 = time.perf_counter()
            det.score(graphs)
            t2 = time.perf_counter()
            rows.append(
                {
                    "dataset": dataset,
                    "graphs": len(graphs),
                    "detector": name,
                    "fit_s": t1 - t0,
                    "score_s": t2 - t1,
                    "total_s": t2 - t0,
                    "error": "",
                }
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "graph_scale.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    return csv
