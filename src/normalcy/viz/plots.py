"""Matplotlib figures and overlays used by the demo, the benchmarks and the CLI."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def score_histogram(
    normal_scores: np.ndarray,
    anomalous_scores: np.ndarray | None = None,
    threshold: float | None = None,
    title: str = "",
):
    """Overlaid histograms of normal and anomalous scores, with the threshold if given."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    all_scores = np.concatenate(
        [normal_scores, anomalous_scores if anomalous_scores is not None else []]
    )
    bins = np.histogram_bin_edges(all_scores, bins=40)
    ax.hist(normal_scores, bins=bins, alpha=0.6, label="normal", color="tab:blue")
    if anomalous_scores is not None and len(anomalous_scores):
        ax.hist(anomalous_scores, bins=bins, alpha=0.6, label="anomalous", color="tab:red")
    if threshold is not None:
        ax.axvline(threshold, color="k", linestyle="--", label="threshold")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("count")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def roc_figure(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], title: str = "ROC"):
    """ROC curves, one per (label, y_true, y_score); the legend shows each AUROC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4))
    for label, y_true, y_score in curves:
        y_true = np.asarray(y_true).astype(bool)
        if y_true.all() or not y_true.any():
            continue
        fpr, tpr, _ = roc_curve(y_true, y_score)
        ax.plot(fpr, tpr, label=f"{label} ({roc_auc_score(y_true, y_score):.3f})")
    ax.plot([0, 1], [0, 1], color="0.7", linestyle=":")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def heatmap_overlay(
    image: np.ndarray,
    anomaly_map: np.ndarray,
    mask: np.ndarray | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    alpha: float = 0.5,
    colorbar: bool = True,
    threshold: float | None = None,
) -> np.ndarray:
    """An (H, W', 3) uint8 picture: the image, the anomaly map in a jet colour map on top,
    the ground-truth mask outline in green when given, and (``colorbar``, the default) a
    colour bar on the right with the score scale and the ``threshold`` marked (W' = W plus
    the bar's width; W' = W without it)."""
    import matplotlib

    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.max() > 1.0:
        img = img / 255.0
    amap = np.asarray(anomaly_map, dtype=np.float32)
    lo = float(amap.min()) if vmin is None else vmin
    hi = float(amap.max()) if vmax is None else vmax
    norm = np.clip((amap - lo) / (hi - lo + 1e-12), 0, 1)
    heat = matplotlib.colormaps["jet"](norm)[:, :, :3]
    out = (1 - alpha) * img + alpha * heat
    if mask is not None:
        m = np.asarray(mask).astype(bool)
        edge = m & ~(np.roll(m, 1, 0) & np.roll(m, -1, 0) & np.roll(m, 1, 1) & np.roll(m, -1, 1))
        out[edge] = (0.0, 1.0, 0.0)
    picture = (np.clip(out, 0, 1) * 255).astype(np.uint8)
    if not colorbar:
        return picture
    return np.concatenate([picture, colorbar_strip(picture.shape[0], lo, hi, threshold)], axis=1)


def _label(value: float) -> str:
    return f"{value:.3g}"


def colorbar_strip(
    height: int, vmin: float, vmax: float, threshold: float | None = None
) -> np.ndarray:
    """An (height, w, 3) uint8 colour bar for ``heatmap_overlay``: the jet scale from
    ``vmin`` (bottom) to ``vmax`` (top) with both values written beside it, and the
    ``threshold`` (when given) as a white-and-black line across the bar labelled "thr"
    (an arrow at the top or bottom edge when it lies outside the scale)."""
    import matplotlib
    from PIL import Image, ImageDraw

    height = int(height)
    bar_w, pad = 10, 3
    labels = [_label(vmax), _label(vmin)]
    if threshold is not None:
        labels.append("thr " + _label(threshold))
    text_w = 6 * max(len(t) for t in labels) + 2  # PIL's default bitmap font: 6 px a char
    width = pad + bar_w + pad + text_w
    strip = np.full((height, width, 3), 255, dtype=np.uint8)
    levels = np.linspace(1.0, 0.0, height)[:, None]  # top = vmax
    colours = (matplotlib.colormaps["jet"](levels)[:, 0, :3] * 255).astype(np.uint8)
    strip[:, pad : pad + bar_w] = colours[:, None, :]
    im = Image.fromarray(strip)
    draw = ImageDraw.Draw(im)
    x_text = pad + bar_w + pad
    draw.text((x_text, 0), labels[0], fill=(0, 0, 0))
    draw.text((x_text, max(0, height - 11)), labels[1], fill=(0, 0, 0))
    if threshold is not None:
        frac = (float(threshold) - vmin) / (vmax - vmin + 1e-12)
        y = int(round((1.0 - np.clip(frac, 0.0, 1.0)) * (height - 1)))
        draw.line([(0, y), (pad + bar_w + 1, y)], fill=(0, 0, 0), width=1)
        if y + 1 < height:
            draw.line([(pad, y + 1), (pad + bar_w - 1, y + 1)], fill=(255, 255, 255), width=1)
        if height >= 40:  # room for a third label
            y_text = int(np.clip(y - 5, 11, max(11, height - 22)))
            draw.text((x_text, y_text), labels[2], fill=(0, 0, 0))
    return np.asarray(im)


def series_timeline(
    values: np.ndarray,
    scores: np.ndarray,
    windows: Sequence[tuple[int, int]] = (),
    threshold: float | None = None,
    title: str = "",
    x: np.ndarray | None = None,
):
    """Two stacked panels: the series (all channels) and its anomaly score, with labelled
    anomaly windows (inclusive index ranges) shaded red on both."""
    plt = _pyplot()
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[:, None]
    t = np.arange(values.shape[0]) if x is None else np.asarray(x)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 4), sharex=True)
    for c in range(min(values.shape[1], 8)):
        ax1.plot(t, values[:, c], linewidth=0.7)
    ax2.plot(t, scores, color="tab:purple", linewidth=0.8)
    if threshold is not None:
        ax2.axhline(threshold, color="k", linestyle="--", linewidth=0.8)
    for start, end in windows:
        for ax in (ax1, ax2):
            ax.axvspan(t[max(start, 0)], t[min(end, len(t) - 1)], color="tab:red", alpha=0.2)
    ax1.set_ylabel("value")
    ax2.set_ylabel("score")
    ax1.set_title(title)
    fig.tight_layout()
    return fig
