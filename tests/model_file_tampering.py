"""Read a model file's manifest and arrays without verifying them, and write edited ones back
with every checksum recomputed, so that only the state checks of ``nc.load`` can refuse them
(the crafted files of the state-spec tests)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_arrays

from normalcy.core import persistence


def read_model(path: Path) -> tuple[dict, dict[str, np.ndarray]]:
    """The manifest and arrays of a model file, unverified."""
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read(persistence.MANIFEST))
        arrays = load_arrays(zf.read(persistence.ARRAYS))
    return manifest, dict(arrays)


def write_model(path: Path, manifest: dict, arrays: dict[str, np.ndarray]) -> Path:
    """A model file holding this manifest and these arrays, with valid checksums."""
    blob = persistence._encode_arrays(arrays)
    manifest = {**manifest, "arrays_sha256": persistence._sha256(blob)}
    body = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(persistence.MANIFEST, body)
        zf.writestr(persistence.MANIFEST_HASH, persistence._sha256(body))
        zf.writestr(persistence.ARRAYS, blob)
    return path
