"""Pictures people would rather look at than tables: heat maps, timelines, ROC curves, reports."""

from .html import HtmlReport
from .plots import colorbar_strip, heatmap_overlay, roc_figure, score_histogram, series_timeline

__all__ = [
    "HtmlReport",
    "colorbar_strip",
    "heatmap_overlay",
    "roc_figure",
    "score_histogram",
    "series_timeline",
]
