"""The multivariate benchmark's HTML report: summary and per-entity tables, and channel heat
maps of each detector's top-scored stretches of the test series."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def channel_heatmap(
    lo: int, hi: int, maps: np.ndarray, labels: np.ndarray, channels: list[int], title: str
):
    """Channels (rows) over time (columns) coloured by each channel's share of the step's
    score (what the hit rate ranks); labelled anomalous steps in a strip above, labelled
    channels marked on the left."""
    from ..viz.plots import _pyplot

    plt = _pyplot()
    share = maps / np.maximum(maps.sum(axis=1, keepdims=True), 1e-12)
    fig, (top, ax) = plt.subplots(
        2, 1, figsize=(6, 3.2), sharex=True, gridspec_kw={"height_ratios": [1, 8]}
    )
    extent = (lo - 0.5, hi + 0.5, maps.shape[1] - 0.5, -0.5)
    top.imshow(labels[None, :].astype(float), aspect="auto", cmap="Reds", vmin=0, vmax=1,
               extent=(lo - 0.5, hi + 0.5, 0, 1))  # fmt: skip
    top.set_yticks([])
    top.set_title(title, fontsize=8)
    ax.imshow(share.T, aspect="auto", cmap="viridis", extent=extent, interpolation="nearest")
    for c in channels:
        ax.plot([lo - 0.5], [c], marker=">", color="red", markersize=4, clip_on=False)
    ax.set_xlabel("test step")
    ax.set_ylabel("channel")
    fig.tight_layout()
    return fig


def write_report(
    path: Path, dataset: str, summary: pd.DataFrame, per_entity: pd.DataFrame, figures: list
) -> Path:
    from ..viz import HtmlReport

    report = HtmlReport(f"Multivariate series benchmark: {dataset.upper()}")
    report.text(
        "Fit on the first 80 % of each entity's normal history, calibrate at FPR 0.01 on the "
        "last 20 %, score the test part. f1: best point-wise F1 without point adjustment; "
        "f1_pa: best F1 with point adjustment (inflated, shown for comparison with published "
        "figures); *_cal: at the calibrated threshold; hit@k: share of the top-k channels that "
        "are labelled ones, over every labelled step.",
        note=True,
    )
    report.heading("Mean over entities")
    report.table(summary)
    report.heading("Per entity")
    report.table(per_entity)
    if figures:
        report.heading("Channel heat maps of the top-scored stretches")
        report.text(
            "Colour: each channel's share of the step's score; red strip: labelled anomalous "
            "steps; red marks: channels labelled in interpretation_label.txt.",
            note=True,
        )
        for caption, segments in figures:
            items: list[tuple[Any, str]] = [
                (channel_heatmap(lo, hi, m, lab, ch, f"{caption} [{lo}, {hi}]"), "")
                for lo, hi, m, lab, ch in segments
            ]
            if items:
                report.heading(caption, level=3)
                report.gallery(items, width=520)
    return report.write(path)
