"""Markdown tables of benchmark results, shared by the suites."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd


def cell(value: Any, digits: int = 4, missing: str = "–") -> str:
    """One table cell: floats to ``digits`` significant digits, NaN/inf as ``missing``."""
    if isinstance(value, float):
        return missing if not math.isfinite(value) else f"{value:.{digits}g}"
    return str(value).replace("|", "/")


def markdown_table(
    frame: pd.DataFrame, columns: Sequence[str] | None = None, missing: str = "–"
) -> str:
    """A GitHub markdown table of ``frame`` (optionally only ``columns``), newline-ended."""
    cols = list(columns) if columns is not None else list(frame.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in frame[cols].itertuples(index=False):
        lines.append("| " + " | ".join(cell(v, missing=missing) for v in row) + " |")
    return "\n".join(lines) + "\n"
