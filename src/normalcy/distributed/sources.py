"""What ``distributed.score`` accepts, turned into work: a folder (or list) of images, a
Parquet dataset (one file, a folder of files or a list of files; or a pandas DataFrame), or
many series (a list or dict of arrays / pandas objects, or of CSV/Parquet files, one series
each). Which form is meant follows from the model's data type."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import InputError
from .model import ModelInfo

# data types scored row by row from tables (a row's score depends on that row alone)
ROW_MODALITIES = ("tabular", "events")
PARQUET_SUFFIXES = (".parquet", ".pq")
SERIES_FILE_SUFFIXES = (".csv", ".parquet", ".pq")
DEFAULT_IMAGE_UNIT = 32
DEFAULT_ROW_BATCH = 65_536


@dataclass
class ImageWork:
    """Images cut into units of whole detector batches, so each image is scored in the same
    batch as in one process (a convolution's rounding depends on its batch)."""

    paths: list[str]
    names: list[str]
    size: tuple[int, int]  # every image (and map) is brought to this size, as locally
    unit: int

    def units(self) -> list[dict[str, Any]]:
        return [
            {"start": s, "paths": self.paths[s : s + self.unit]}
            for s in range(0, len(self.paths), self.unit)
        ]


@dataclass
class RowWork:
    """A Parquet dataset (in file order) or an in-memory DataFrame, scored in row batches."""

    files: list[str] | None
    frame: Any = None
    batch_size: int = DEFAULT_ROW_BATCH


@dataclass
class SeriesWork:
    """Many series, each scored whole by one worker; ``keys`` are a dict's keys (else None)."""

    items: list[Any]
    keys: list[Any] | None
    from_files: bool


def _is_pathlike(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def plan(dataset: Any, info: ModelInfo, batch_size: int | None = None) -> Any:
    """The work of scoring ``dataset`` with a model described by ``info``."""
    if info.modality == "image":
        return _images(dataset, info, batch_size)
    if info.modality in ROW_MODALITIES:
        return _rows(dataset, info, batch_size)
    if info.modality == "series":
        return _series(dataset)
    raise InputError(
        f"distributed scoring takes image, tabular, events or series models; {info.name!r} is a "
        f"{info.modality} detector (score it with det.score in one process)"
    )


def _images(dataset: Any, info: ModelInfo, batch_size: int | None) -> ImageWork:
    from ..image.input import IMAGE_SUFFIXES, as_images, list_image_files

    if _is_pathlike(dataset) and Path(dataset).is_dir():
        files = list_image_files(Path(dataset))
        if not files:
            raise InputError(
                f"folder {dataset} holds no images; expected files ending in "
                f"{', '.join(IMAGE_SUFFIXES)}"
            )
    elif _is_pathlike(dataset) and Path(dataset).is_file():
        files = [Path(dataset)]
    elif isinstance(dataset, (list, tuple)) and dataset and all(map(_is_pathlike, dataset)):
        files = [Path(p) for p in dataset]
    else:
        raise InputError(
            f"{info.name!r} is an image detector; distributed scoring takes a folder of images "
            f"or a list of image file paths, got {_describe(dataset)}"
        )
    size = as_images(files[:1]).sizes[0]  # the local rule: the first image's size
    step = info.batch_size or 1
    wanted = batch_size or max(DEFAULT_IMAGE_UNIT, step)
    unit = max(step, (wanted // step) * step)
    paths = [str(Path(p).resolve()) for p in files]
    return ImageWork(paths=paths, names=[Path(p).name for p in files], size=size, unit=unit)


def parquet_files(dataset: Any) -> list[str] | None:
    """The Parquet files of ``dataset`` in scoring order, or None when it is not Parquet."""
    if _is_pathlike(dataset):
        path = Path(dataset)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES)
            if not files:
                raise InputError(f"folder {path} holds no Parquet files (*.parquet, *.pq)")
            return [str(p.resolve()) for p in files]
        if path.suffix.lower() in PARQUET_SUFFIXES:
            if not path.is_file():
                raise InputError(f"Parquet file {path} does not exist")
            return [str(path.resolve())]
        return None
    if isinstance(dataset, (list, tuple)) and dataset and all(map(_is_pathlike, dataset)):
        out = []
        for p in map(Path, dataset):
            if p.suffix.lower() not in PARQUET_SUFFIXES:
                return None
            if not p.is_file():
                raise InputError(f"Parquet file {p} does not exist")
            out.append(str(p.resolve()))
        return out
    return None


def _rows(dataset: Any, info: ModelInfo, batch_size: int | None) -> RowWork:
    rows = batch_size or DEFAULT_ROW_BATCH
    files = parquet_files(dataset)
    if files is not None:
        return RowWork(files=files, batch_size=rows)
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pd = None
    if pd is not None and isinstance(dataset, pd.DataFrame):
        return RowWork(files=None, frame=dataset, batch_size=rows)
    raise InputError(
        f"{info.name!r} is a {info.modality} detector; distributed scoring takes a Parquet "
        f"dataset (a .parquet file, a folder of them or a list of them) or a pandas DataFrame, "
        f"got {_describe(dataset)}"
    )


def _series(dataset: Any) -> SeriesWork:
    keys: list[Any] | None = None
    if isinstance(dataset, Mapping):
        keys, items = list(dataset.keys()), list(dataset.values())
    elif _is_pathlike(dataset) and Path(dataset).is_dir():
        items = sorted(
            str(p.resolve())
            for p in Path(dataset).iterdir()
            if p.is_file() and p.suffix.lower() in SERIES_FILE_SUFFIXES
        )
        if not items:
            raise InputError(f"folder {dataset} holds no series files (*.csv, *.parquet)")
    elif isinstance(dataset, (list, tuple)):
        items = list(dataset)
    else:
        raise InputError(
            "series detectors score many series given as a list or dict of arrays / pandas "
            f"objects, or of CSV/Parquet files (one series each), got {_describe(dataset)}"
        )
    if not items:
        raise InputError("no series to score: the list (or dict) is empty")
    paths = [_is_pathlike(x) for x in items]
    if any(paths) and not all(paths):
        raise InputError("give series either all as files or all as in-memory data, not mixed")
    if all(paths):
        items = [str(Path(p).resolve()) for p in items]
        for p in items:
            if not Path(p).is_file():
                raise InputError(f"series file {p} does not exist")
    else:
        items = [to_transport(x, i) for i, x in enumerate(items)]
    return SeriesWork(items=items, keys=keys, from_files=all(paths))


def to_transport(series: Any, i: int) -> dict[str, Any]:
    """A series as plain arrays for Ray Data's columns (which keep no pandas index):
    values, the time index as int64 nanoseconds (empty: none) and the column names."""
    import numpy as np
    import pandas as pd

    stamps, columns, name = np.zeros(0, dtype=np.int64), [], ""
    if isinstance(series, (pd.Series, pd.DataFrame)):
        frame = series.to_frame() if isinstance(series, pd.Series) else series
        index = frame.index
        if isinstance(index, pd.DatetimeIndex) and index.tz is None:
            stamps, name = (
                index.values.astype("datetime64[ns]").view(np.int64),
                str(index.name or ""),
            )
        elif not isinstance(index, pd.RangeIndex):
            raise InputError(
                f"series {i} has a {type(index).__name__} index; distributed scoring takes "
                "time-zone-naive timestamps or a plain position index (reset_index)"
            )
        columns = [str(c) for c in frame.columns]
        series = frame
    try:
        values = np.asarray(series, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"series {i} is not numeric; expected numbers") from None
    return {"values": values, "stamps": stamps, "columns": columns, "index_name": name}


def from_transport(item: Any) -> Any:
    """The series ``to_transport`` packed: a DataFrame when it was a pandas object."""
    import numpy as np
    import pandas as pd

    values = np.asarray(item["values"], dtype=np.float64)
    columns = [str(c) for c in item["columns"]]
    if not columns:
        return values
    stamps = np.asarray(item["stamps"], dtype=np.int64)
    index = (
        pd.DatetimeIndex(stamps.astype("datetime64[ns]"), name=item["index_name"] or None)
        if len(stamps)
        else None
    )
    return pd.DataFrame(values.reshape(len(values), -1), index=index, columns=columns)


def _describe(x: Any) -> str:
    if _is_pathlike(x):
        path = Path(x)
        what = "folder" if path.is_dir() else "file" if path.exists() else "missing path"
        return f"{what} {path}"
    return f"a {type(x).__name__}"
