"""How the command line reads events: a CSV or Parquet file, one event per row."""

from __future__ import annotations

from pathlib import Path

from ..table_io import read_table


def read(path: Path):
    """The events at ``path`` as a pandas DataFrame (no column becomes an index)."""
    return read_table(Path(path), time_index=False)
