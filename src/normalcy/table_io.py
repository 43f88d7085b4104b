"""Reading and writing tables (CSV, Parquet) for the command line; every failure to read or
write is an ``InputError`` that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .core.errors import InputError

TIME_COLUMNS = ("timestamp", "time", "date", "datetime")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def _parse_errors() -> tuple[type[BaseException], ...]:
    """Exceptions pandas / pyarrow raise on a file that is not what its suffix says."""
    import pandas as pd

    errors: list[type[BaseException]] = [
        pd.errors.ParserError,
        pd.errors.EmptyDataError,
        UnicodeDecodeError,
        ValueError,
        OSError,
    ]
    try:
        import pyarrow

        errors.append(pyarrow.ArrowException)
    except ImportError:
        pass
    return tuple(errors)


def read_table(path: Path, *, time_index: bool = True):
    """A CSV or Parquet file as a pandas DataFrame.

    With ``time_index``, a first column named timestamp/time/date/datetime is parsed into
    a DatetimeIndex (and removed from the columns).
    """
    import pandas as pd

    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path} is a folder; expected a .csv or .parquet file")
    if not path.is_file():
        raise InputError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"cannot read {path}: expected a .csv or .parquet file")
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except ImportError as exc:
        raise InputError(
            f"reading {path} needs pyarrow ({exc}); install it with pip install 'normalcy[parquet]'"
        ) from None
    except _parse_errors() as exc:
        kind = "CSV" if suffix == ".csv" else "Parquet"
        detail = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise InputError(f"cannot read {path} as {kind}: {detail}") from None
    if frame.shape[1] == 0:
        raise InputError(f"{path} has no columns")
    if frame.shape[0] == 0:
        raise InputError(f"{path} has a header but no rows")
    first = str(frame.columns[0])
    if time_index and first.strip().lower() in TIME_COLUMNS:
        from .series.input import parse_timestamps  # epoch numbers: unit from magnitude

        try:
            stamps = parse_timestamps(frame[first], name=first)
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        frame = frame.drop(columns=[first])
        frame.index = pd.DatetimeIndex(stamps, name=first)
    return frame


def write_table(frame: Any, out: Path) -> Path:
    """Write a DataFrame as CSV or Parquet, chosen by the file suffix."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"--out {out}: expected a file name ending in .csv or .parquet")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            frame.to_csv(out)
        else:
            frame.to_parquet(out)
    except ImportError as exc:
        raise InputError(
            f"writing Parquet needs pyarrow ({exc}); pip install 'normalcy[parquet]' or use .csv"
        ) from None
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out
