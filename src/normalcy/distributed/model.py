"""Shipping a model to Ray workers: the driver sends the model file's bytes (never a pickled
detector); each worker writes them to a private temporary file and loads them with
``nc.load``, which verifies the file before building anything, once per worker."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.base import Detector
from ..core.errors import InputError, ModelFileError


@dataclass(frozen=True)
class ModelInfo:
    """What the driver needs to know of a model without building it."""

    name: str
    modality: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def batch_size(self) -> int | None:
        """The detector's own batch size, when it has one (work is cut at its multiples)."""
        value = self.params.get("batch_size")
        return int(value) if isinstance(value, int) and value > 0 else None


def model_bytes(model: Any, *, key: str | bytes | None = None) -> tuple[bytes, ModelInfo]:
    """The bytes of ``model`` (a model file path or a fitted detector) and what it is.

    A path is verified (checksum, format, signature with ``key``) before it is shipped; a
    detector is saved to a temporary file first.
    """
    if isinstance(model, Detector):
        info = ModelInfo(model.name, model.modality, dict(model.get_params()))
        with tempfile.TemporaryDirectory(prefix="normalcy-ray-") as tmp:
            path = model.save(Path(tmp) / "model.normalcy", key=key)
            return path.read_bytes(), info
    if not isinstance(model, (str, os.PathLike)):
        raise InputError(
            f"model of type {type(model).__name__} is not accepted; expected a model file path "
            "or a fitted normalcy detector"
        )
    from ..core.persistence import describe_model_file

    path = Path(model)
    if not path.is_file():
        raise ModelFileError(f"model file {path} does not exist")
    described = describe_model_file(path, key=key)
    info = ModelInfo(described["detector"], described["modality"], dict(described["params"]))
    return path.read_bytes(), info


def load_bytes(
    data: bytes, *, key: str | bytes | None = None, allow_download: bool = False
) -> Detector:
    """A detector from model-file bytes, verified by ``nc.load`` (on a worker)."""
    from ..core.persistence import load_model

    fd, name = tempfile.mkstemp(prefix="normalcy-ray-", suffix=".normalcy")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return load_model(name, key=key, allow_download=allow_download)
    finally:
        os.unlink(name)
