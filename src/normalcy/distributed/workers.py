"""The callable class Ray Data runs in its actor pool: it loads the model once per worker
(verified by ``nc.load``) and scores one batch per call.

Batches in and out:
- images: rows ``{start, paths}`` (one unit of whole detector batches per row) in, one row
  per image ``{pos, score[, label]}`` out;
- rows: a pandas batch of table rows in, ``{score[, label]}`` out, in the same order;
- series: rows ``{pos, item}`` (a series, or the path of a file holding one) in, one row per
  series ``{pos, scores, labels, index}`` out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.errors import InputError, NormalcyError
from ..table_io import TIME_COLUMNS
from .cluster import worker_error
from .model import load_bytes
from .sources import from_transport

PANDAS_INDEX_PREFIX = "__index_level_"


class ScoreWorker:
    """One Ray Data actor: a loaded detector and the scoring of one kind of batch."""

    def __init__(
        self,
        model_ref: tuple[Any, ...],
        kind: str,
        options: dict[str, Any],
        key: str | bytes | None = None,
        allow_download: bool = False,
    ) -> None:
        import ray

        # the model's bytes come from the object store, wrapped so Ray passes the reference
        try:
            self.detector = load_bytes(
                ray.get(model_ref[0]), key=key, allow_download=allow_download
            )
        except NormalcyError as exc:
            raise worker_error(exc) from None
        self.kind = kind
        self.options = options

    def __call__(self, batch: Any) -> Any:
        step = {"images": self._images, "rows": self._rows, "series": self._series}[self.kind]
        try:
            return step(batch)
        except NormalcyError as exc:
            raise worker_error(exc) from None

    # -- images ---------------------------------------------------------------------------
    def _images(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        pos, scores, labels = [], [], []
        for start, paths in zip(batch["start"], batch["paths"], strict=True):
            res = self.detector.score(self._image_input([str(p) for p in paths]))
            pos.append(np.arange(int(start), int(start) + len(res), dtype=np.int64))
            scores.append(res.scores)
            if res.labels is not None:
                labels.append(res.labels)
        out = {"pos": np.concatenate(pos), "score": np.concatenate(scores)}
        if labels:
            out["label"] = np.concatenate(labels)
        return out

    def _image_input(self, paths: list[str]) -> Any:
        """The images of one unit, with maps (and scores) at the size the whole folder is
        scored at in one process: the first image's size (the detector's ``on_mixed_sizes``
        policy judges the unit's sizes against it)."""
        from ..image.input import as_images

        return as_images(paths).part_of(tuple(self.options["size"]))

    # -- table rows -----------------------------------------------------------------------
    def _rows(self, frame: Any) -> Any:
        import pandas as pd

        res = self.detector.score(table_features(frame))
        out = {"score": res.scores}
        if res.labels is not None:
            out["label"] = res.labels
        return pd.DataFrame(out)

    # -- series ---------------------------------------------------------------------------
    def _series(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["pos"])
        scores, labels, stamps = (np.empty(n, dtype=object) for _ in range(3))
        names = np.empty(n, dtype=object)
        for i, item in enumerate(batch["item"]):
            data = (
                self._read_series(item) if self.options.get("from_files") else from_transport(item)
            )
            res = self.detector.score(data)
            scores[i] = res.scores
            labels[i] = res.labels if res.labels is not None else np.zeros(0, dtype=bool)
            # the index travels as int64 nanoseconds (pandas objects do not survive Ray
            # Data's columns); an empty array means no index
            stamps[i], names[i] = _index_as_ns(res.index)
        return {"pos": np.asarray(batch["pos"], dtype=np.int64), "scores": scores,
                "labels": labels, "stamps": stamps, "index_name": names}  # fmt: skip

    def _read_series(self, path: Any) -> Any:
        from pathlib import Path

        from ..core.modality import get_modality

        return get_modality(self.detector.modality).resolve("reader")(Path(str(path)))


def _index_as_ns(index: Any) -> tuple[np.ndarray, str]:
    """A series' DatetimeIndex as (int64 nanoseconds, name); (empty, "") for no index."""
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex) and index.tz is None:
        return index.values.astype("datetime64[ns]").view(np.int64), str(index.name or "")
    if index is not None:
        raise InputError(
            "distributed scoring returns series indexed by time-zone-naive timestamps or by "
            f"position; this series has a {type(index).__name__} index (reset it, or score it "
            "with det.score)"
        )
    return np.zeros(0, dtype=np.int64), ""


def table_features(frame: Any) -> Any:
    """A batch read from Parquet as ``normalcy score`` reads a table: a pandas index stored
    in the file is not a feature, and a first column named timestamp/time/date/datetime is
    the index, not a feature."""
    drop = [c for c in frame.columns if str(c).startswith(PANDAS_INDEX_PREFIX)]
    frame = frame.drop(columns=drop) if drop else frame
    if len(frame.columns) and str(frame.columns[0]).strip().lower() in TIME_COLUMNS:
        frame = frame.drop(columns=[frame.columns[0]])
    return frame.reset_index(drop=True)
