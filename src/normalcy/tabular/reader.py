"""How the command line reads tabular data: a CSV or Parquet file (a first column named
timestamp/time/date/datetime becomes the index)."""

from __future__ import annotations

from pathlib import Path

from ..table_io import read_table


def read(path: Path):
    """The table at ``path`` as a pandas DataFrame."""
    return read_table(Path(path))
