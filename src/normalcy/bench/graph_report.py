"""HTML report of the graph benchmark: tables, and the most anomalous test graphs drawn.

For every data set and detector (seed 0), the ``TOP_GRAPHS`` test graphs with the highest
scores are drawn with networkx (spring layout, seeded); node colour is the detector's
per-node score when it localises (``Scores.maps``), and the ``TOP_NODES`` highest-scoring
nodes of each graph are circled in red. The caption gives the score, whether the graph is
truly anomalous, and whether it crossed the calibrated threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

TOP_GRAPHS = 4
TOP_NODES = 3


def draw_graph(graph: Any, node_scores: np.ndarray | None, title: str = ""):
    """A matplotlib figure of ``graph`` (a normalcy ``Graph``) with node scores as colours
    and the ``TOP_NODES`` highest-scoring nodes circled."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import networkx as nx

    G = nx.Graph()
    G.add_nodes_from(range(graph.n_nodes))
    G.add_edges_from(map(tuple, graph.edge_index.T.tolist()))
    pos = nx.spring_layout(G, seed=0)
    fig, ax = plt.subplots(figsize=(3.0, 3.0))
    ax.axis("off")
    nx.draw_networkx_edges(G, pos, ax=ax, width=0.8, edge_color="0.6")
    colours = node_scores if node_scores is not None else "tab:blue"
    nx.draw_networkx_nodes(G, pos, ax=ax, node_size=40, node_color=colours, cmap="viridis")
    if node_scores is not None and len(node_scores):
        top = np.argsort(-node_scores, kind="stable")[:TOP_NODES].tolist()
        nx.draw_networkx_nodes(
            G,
            pos,
            nodelist=top,
            ax=ax,
            node_size=120,
            node_color="none",
            edgecolors="red",
            linewidths=1.8,
        )
    if title:
        ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig


def _gallery(test: list, res: Any, y: np.ndarray) -> list[tuple[Any, str]]:
    order = np.argsort(-res.scores, kind="stable")[:TOP_GRAPHS]
    sizes = res.extras.get("sizes") if res.extras else None
    items = []
    for rank, i in enumerate(order, 1):
        nodes = None
        if res.maps is not None and sizes is not None:
            nodes = np.asarray(res.maps[i, : int(sizes[i])], dtype=np.float64)
        flagged = "" if res.labels is None else (" flagged" if res.labels[i] else " not flagged")
        truth = "anomalous" if y[i] else "normal"
        caption = f"#{rank}: score {res.scores[i]:.3g}, truly {truth},{flagged}"
        items.append((draw_graph(test[i], nodes), caption))
    return items


def write_report(
    path: Path,
    runs: pd.DataFrame,
    summary: pd.DataFrame,
    nodes: pd.DataFrame | None,
    shown: dict[tuple[str, str], tuple[list, Any, np.ndarray]],
    settings: dict[str, Any],
) -> Path:
    from ..viz.html import HtmlReport
    from .graph_suite import overall, per_set_table, protocol_note

    report = HtmlReport("Graph benchmark (TU sets, one-class graph-level)")
    report.text(protocol_note(settings), note=True)
    report.heading("Mean over data sets")
    report.table(overall(summary))
    report.heading("ROC-AUC per data set (mean ± std over seeds)")
    report.table(per_set_table(summary, "roc_auc"))
    report.heading("Macro-F1 at the calibrated threshold")
    report.table(per_set_table(summary, "macro_f1"))
    report.heading("Seconds per fit and per score")
    report.table(summary[["dataset", "detector", "fit_s", "score_s"]], float_format="{:.2f}")
    errors = runs[runs["error"].fillna("") != ""]
    if len(errors):
        report.heading("Failures")
        report.table(errors[["dataset", "detector", "seed", "error"]])
    if nodes is not None:
        report.heading("Node level")
        report.table(nodes)
    report.heading("Most anomalous test graphs (seed 0)")
    report.text(
        "Node colour: the detector's score of each node (brighter = more anomalous); red "
        f"circles: the {TOP_NODES} most anomalous nodes of each graph.",
        note=True,
    )
    for (set_name, name), (test, res, y) in shown.items():
        report.heading(f"{set_name}: {name}", level=3)
        report.gallery(_gallery(test, res, y), width=220)
    return report.write(path)
